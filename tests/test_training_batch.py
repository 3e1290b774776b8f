"""Training attainment counted in one statement (`queries.measure` / `attainments` / `projections`): the same
numbers as the per-person definition (`meets`, `in_unit`), hand-computed across units of several levels and a
facility, whether the records are read for the people counted only (a few provinces) or for the whole country."""
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import exists, func, or_, select

from service.training import operations, queries
from service.training.models import (
    Attendance,
    Course,
    QualificationType,
    RoleCategory,
    StaffMember,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)

DAY = date(2026, 6, 30)


def reference(target, unit, on_date):
    """(numerator, denominator) by the definition, one person at a time (the implementation before batching)."""
    from service.extensions import db

    base = select(func.count(StaffMember.id)).where(
        StaffMember.role_category_id == target.role_category_id, queries.active_on(on_date), queries.in_unit(unit))
    return (db.session.scalar(base.where(queries.meets(target.metric, target.topic, on_date))),
            db.session.scalar(base))


def reference_projection(target, unit, today):
    from service.extensions import db

    if target.deadline < today:
        return None
    day = target.deadline
    base = select(func.count(StaffMember.id)).where(
        StaffMember.role_category_id == target.role_category_id, queries.active_on(today), queries.in_unit(unit))
    meeting = queries.meets(target.metric, target.topic, day)
    if target.metric in ("trained", "certified"):
        scheduled = select(Attendance.id).join(TrainingClass, TrainingClass.id == Attendance.class_id).join(
            Course, Course.id == TrainingClass.course_id).where(
            Attendance.staff_id == StaffMember.id, Attendance.status.in_(("registered", "attended")),
            TrainingClass.ends_on >= today, TrainingClass.ends_on <= day)
        if target.topic:
            scheduled = scheduled.where(Course.topic == target.topic)
        if target.metric == "certified":
            scheduled = scheduled.where(Course.certifies.is_(True))
        meeting = or_(meeting, exists(scheduled.correlate(StaffMember)))
    return db.session.scalar(base.where(meeting)), db.session.scalar(base)


@pytest.fixture
def w(make_unit, make_facility, db):
    """Province P (2024 list) with districts A and B, communes a (in A) and b (in B), a facility in a; staff on
    every level; a second province Q."""

    class W:
        pass

    w = W()
    w.province = make_unit("province", edition=2024)
    w.district_a = make_unit("district", w.province)
    w.district_b = make_unit("district", w.province)
    w.commune_a = make_unit("commune", w.district_a)
    w.commune_b = make_unit("commune", w.district_b)
    w.facility = make_facility(w.commune_a)
    w.other = make_unit("province", edition=2024)
    w.other_commune = make_unit("commune", make_unit("district", w.other))
    roles = {role.code: role for role in db.session.scalars(select(RoleCategory))}
    w.counselling, w.medical = roles["counselling"], roles["medical"]
    w.types = {q.code: q for q in db.session.scalars(select(QualificationType))}
    w.certifying = Course(code="TV", title="Tư vấn", topic="counselling", hours=40, certifies=True,
                          validity_months=24)
    w.plain = Course(code="TV0", title="Tư vấn cơ bản", topic="counselling", hours=8, certifies=False)
    w.basic = Course(code="CB", title="Cơ bản", topic="basic_treatment", hours=24, certifies=False)
    db.session.add_all([w.certifying, w.plain, w.basic])
    w.plan = TrainingPlan(code="PB", name="Kế hoạch thử", number="2/KH")
    db.session.add(w.plan)
    db.session.flush()
    n = iter(range(1, 1000))

    def person(role, unit, **kwargs):
        return operations.create_staff(f"B{next(n):03d}", f"Người Thử {next(n)}", role, unit, "F",
                                       start_date=date(2020, 1, 1), **kwargs)

    def held_class(course, ends_on, people, status):
        item = TrainingClass(course=course, org_unit=w.province, organiser="Sở", starts_on=ends_on,
                             ends_on=ends_on, capacity=40)
        db.session.add(item)
        db.session.flush()
        operations.add_attendees(item, people)
        if status != "registered":
            for attendance in item.attendances:
                operations.set_attendance(attendance, status)
        return item

    # counselling staff
    w.p1 = person(w.counselling, w.commune_a)  # a valid certificate: trained and certified
    operations.issue_certificate(w.p1, w.certifying, "Sở Y tế", date(2025, 1, 10))  # until 2027-01-10
    w.p2 = person(w.counselling, w.district_a)  # completed a non-certifying class: trained only
    held_class(w.plain, date(2026, 4, 3), [w.p2], "completed")
    w.p3 = person(w.counselling, w.province)  # on the province itself, nothing
    w.p4 = person(w.counselling, w.commune_b)  # left before the day, with a certificate: not counted
    operations.issue_certificate(w.p4, w.certifying, "Sở Y tế", date(2025, 2, 1))
    operations.leave(w.p4, date(2026, 5, 1))
    w.p5 = person(w.counselling, w.commune_a, facility=w.facility)  # revoked: neither trained nor certified
    operations.revoke_certificate(operations.issue_certificate(w.p5, w.certifying, "Sở Y tế", date(2025, 3, 1)),
                                  "nhầm")
    w.p6 = person(w.counselling, w.commune_b)  # expired certificate: still trained, no longer certified
    operations.issue_certificate(w.p6, w.certifying, "Sở Y tế", date(2024, 1, 1))
    w.p8 = person(w.counselling, w.commune_b)  # failed a class, registered in a certifying one to come
    held_class(w.plain, date(2026, 2, 1), [w.p8], "failed")
    held_class(w.certifying, date(2026, 9, 5), [w.p8], "registered")
    w.p9 = person(w.counselling, w.commune_a)  # trained in another topic only
    held_class(w.basic, date(2026, 1, 10), [w.p9], "completed")
    w.q1 = person(w.counselling, w.other_commune)  # the other province
    operations.issue_certificate(w.q1, w.certifying, "Sở Y tế", date(2026, 1, 1))
    # medical staff: the role requires three qualifications
    w.m1 = person(w.medical, w.commune_a, facility=w.facility)
    w.m2 = person(w.medical, w.district_b)
    for staff, licence in ((w.m1, date(2030, 1, 1)), (w.m2, date(2026, 3, 1))):
        operations.record_qualification(staff, w.types["medical_degree"], date(2010, 1, 1))
        operations.record_qualification(staff, w.types["practising_licence"], date(2021, 1, 1), licence)
        operations.record_qualification(staff, w.types["addiction_treatment_cert"], date(2022, 1, 1))
    operations.issue_certificate(w.m1, w.certifying, "Sở Y tế", date(2026, 1, 1))  # another role's numerator only

    def target(role, metric, topic=None, unit=None, deadline=date(2026, 12, 31)):
        item = TrainingTarget(plan=w.plan, scope_unit=unit or w.province, role_category=role, metric=metric,
                              topic=topic, percent=80, deadline=deadline)
        db.session.add(item)
        db.session.flush()
        return item

    w.trained = target(w.counselling, "trained", "counselling")
    w.certified = target(w.counselling, "certified", "counselling")
    w.any_topic = target(w.counselling, "trained")
    w.any_certificate = target(w.counselling, "certified")
    w.qualified = target(w.medical, "fully_qualified")
    w.nothing_required = target(w.counselling, "fully_qualified")
    w.past = target(w.counselling, "certified", "counselling", deadline=date(2026, 1, 1))
    w.elsewhere = target(w.counselling, "certified", "counselling", unit=w.other)
    w.targets = [w.trained, w.certified, w.any_topic, w.any_certificate, w.qualified, w.nothing_required, w.past,
                 w.elsewhere]
    w.units = [w.province, w.district_a, w.district_b, w.commune_a, w.commune_b, w.facility]
    return w


def counts(results):
    return [None if r is None else (r.numerator, r.denominator) for r in results]


def test_hand_computed_across_levels_and_a_facility(w, db):
    units = w.units
    got = {name: counts(queries.attainments([(target, unit) for unit in units], DAY)) for name, target in (
        ("trained", w.trained), ("certified", w.certified), ("any_topic", w.any_topic),
        ("qualified", w.qualified), ("nothing_required", w.nothing_required))}
    #                  province  district A district B commune a commune b facility
    assert got["trained"] == [(3, 7), (2, 4), (1, 2), (1, 3), (1, 2), (0, 1)]  # p1 cert, p2 class, p6 expired
    assert got["certified"] == [(1, 7), (1, 4), (0, 2), (1, 3), (0, 2), (0, 1)]  # p1 only
    assert got["any_topic"] == [(4, 7), (3, 4), (1, 2), (2, 3), (1, 2), (0, 1)]  # and p9 (basic treatment)
    assert got["qualified"] == [(1, 2), (1, 1), (0, 1), (1, 1), (0, 0), (1, 1)]  # m2's licence lapsed
    assert got["nothing_required"] == [(7, 7), (4, 4), (2, 2), (3, 3), (2, 2), (1, 1)]
    # the other province's staff never count in this one, and the reverse
    assert counts([queries.attainment(w.elsewhere, DAY)]) == [(1, 1)]


def test_one_statement_gives_the_per_person_definition(w, db):
    pairs = [(target, unit) for target in w.targets for unit in w.units + [w.other]]
    for day in (DAY, date(2025, 6, 1), date(2026, 4, 3), date(2027, 2, 1)):
        batch = queries.measure(pairs, day)
        assert len(batch) == len(pairs)
        for (target, unit), (now, later) in zip(pairs, batch, strict=True):
            assert (now.target, now.unit, now.on_date) == (target, unit, day)
            assert (now.numerator, now.denominator) == reference(target, unit, day), (target, unit, day)
            expected = reference_projection(target, unit, day)
            if expected is None:
                assert later is None
            else:
                assert later.on_date == target.deadline
                assert (later.numerator, later.denominator) == (expected if expected[1] else (0, 0))
        # one at a time: the same
        single = [queries.attainment(target, day, unit) for target, unit in pairs[:12]]
        assert counts(single) == [(now.numerator, now.denominator) for now, _later in batch[:12]]


def test_the_projection_counts_a_registered_person_and_drops_an_expiring_certificate(w, db):
    expected, = queries.projections([(w.certified, None)], DAY)
    # p1's certificate is valid on the deadline, p8 is registered in a certifying class ending before it
    assert (expected.numerator, expected.denominator, expected.on_date) == (2, 7, date(2026, 12, 31))
    assert queries.projections([(w.past, None)], DAY) == [None]  # past its deadline
    assert queries.projection(w.certified, DAY, w.district_a).numerator == 1


def test_the_whole_country_path_gives_the_same_numbers(w, db, monkeypatch):
    """Over many provinces the records are read for everyone (and on PostgreSQL with more memory): the same."""
    pairs = [(target, unit) for target in w.targets for unit in w.units + [w.other]]
    narrow = queries.measure(pairs, DAY)
    monkeypatch.setattr(queries, "WIDE_PROVINCES", 0)
    wide = queries.measure(pairs, DAY)
    assert [(counts([a]), counts([b])) for a, b in narrow] == [(counts([a]), counts([b])) for a, b in wide]
    assert counts(queries.attainments([(w.trained, w.province)], DAY)) == [(3, 7)]


def test_merged_people_and_the_breakdown(w, db):
    twin = operations.create_staff("B900", "Người Thử 1", w.counselling, w.commune_a, "F",
                                   start_date=date(2020, 1, 1))
    operations.issue_certificate(twin, w.certifying, "Sở Y tế", date(2026, 2, 1))
    assert queries.attainment(w.certified, DAY).denominator == 8
    operations.merge_staff(w.p3, twin)  # the certificate moves to p3, on the province itself
    assert counts([queries.attainment(w.certified, DAY)]) == [(2, 7)]
    rows = {row.unit.id: (row.numerator, row.denominator) for row in queries.breakdown(w.certified, DAY)}
    # p3 is on the province itself: the province's own row, and the rows add up to the total (#16 item 12)
    assert rows == {w.province.id: (1, 1), w.district_a.id: (1, 4), w.district_b.id: (0, 2)}
    assert tuple(map(sum, zip(*rows.values(), strict=True))) == (2, 7)


def test_empty_batches(w, db):
    assert queries.measure([], DAY) == []
    assert queries.attainments([], DAY) == []


@pytest.mark.parametrize("seed", range(5))
def test_the_breakdown_adds_up_to_the_total_on_generated_staff(w, db, seed):
    """#16 item 12: whatever the mix of staff on the province itself, its districts and its communes (and
    whoever is certified), the breakdown's rows sum to the target's total."""
    rng = random.Random(seed)
    units = [w.province, w.district_a, w.district_b, w.commune_a, w.commune_b]
    for number in range(rng.randint(5, 25)):
        person = operations.create_staff(f"G{seed}-{number:03d}", f"Người Sinh {number}", w.counselling,
                                         rng.choice(units), "M", start_date=date(2020, 1, 1))
        if rng.random() < 0.5:
            operations.issue_certificate(person, w.certifying, "Sở Y tế", date(2026, 1, 1) - timedelta(days=number))
    for target in (w.certified, w.trained):
        total = queries.attainment(target, DAY)
        rows = queries.breakdown(target, DAY)
        assert (sum(row.numerator for row in rows), sum(row.denominator for row in rows)) == \
            (total.numerator, total.denominator), (seed, target.metric)
