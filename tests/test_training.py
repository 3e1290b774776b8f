"""Training records: attainment of the plans' targets on hand-computed cases, certificates, merging, and the API."""
from datetime import date

import pytest
from sqlalchemy import select

from service.accounts.operations import issue_token
from service.training import operations
from service.training.models import Course, QualificationType, RoleCategory, TrainingClass, TrainingPlan, TrainingTarget
from service.training.queries import attainment, breakdown

DAY = date(2026, 6, 30)


@pytest.fixture
def t(make_unit, make_facility, db):
    """A province with two districts (2024 list) and a facility in district A; courses; role categories."""

    class T:
        pass

    t = T()
    t.province = make_unit("province", edition=2024)
    t.district_a = make_unit("district", t.province)
    t.district_b = make_unit("district", t.province)
    t.commune_a = make_unit("commune", t.district_a)
    t.commune_b = make_unit("commune", t.district_b)
    t.facility = make_facility(t.commune_a)
    roles = {role.code: role for role in db.session.scalars(select(RoleCategory))}
    t.counselling, t.medical, t.direct = roles["counselling"], roles["medical"], roles["rehab_direct"]
    t.types = {q.code: q for q in db.session.scalars(select(QualificationType))}
    t.course = Course(code="TV", title="Tư vấn", topic="counselling", hours=40, certifies=True, validity_months=24)
    t.basic = Course(code="CB", title="Cơ bản", topic="basic_treatment", hours=24, certifies=False)
    db.session.add_all([t.course, t.basic])
    t.plan = TrainingPlan(code="P1", name="Kế hoạch thử", number="1/KH")
    db.session.add(t.plan)
    db.session.flush()
    t.n = 0

    def person(role, unit, **kwargs):
        t.n += 1
        return operations.create_staff(f"S{t.n:03d}", f"Người Thử {t.n}", role, unit, "F",
                                       start_date=kwargs.pop("start_date", date(2020, 1, 1)), **kwargs)

    t.person = person

    def target(role, metric, percent, topic=None, unit=None):
        item = TrainingTarget(plan=t.plan, scope_unit=unit or t.province, role_category=role, metric=metric,
                              topic=topic, percent=percent, deadline=date(2026, 12, 31))
        db.session.add(item)
        db.session.flush()
        return item

    t.target = target
    return t


def test_certified_counts_valid_certificates_of_active_staff_only(t, db):
    people = [t.person(t.counselling, t.commune_a) for _ in range(5)]
    operations.issue_certificate(people[0], t.course, "Sở Y tế", date(2025, 1, 10))  # valid until 2027-01-10
    operations.issue_certificate(people[1], t.course, "Sở Y tế", date(2024, 1, 10))  # expired 2026-01-10
    revoked = operations.issue_certificate(people[2], t.course, "Sở Y tế", date(2025, 5, 1))
    operations.revoke_certificate(revoked, "Cấp nhầm người")
    operations.issue_certificate(people[3], t.course, "Sở Y tế", date(2025, 3, 1))
    operations.leave(people[3], date(2026, 3, 1))  # left: out of the denominator, certificate no longer counts
    target = t.target(t.counselling, "certified", 50, topic="counselling")
    result = attainment(target, DAY)
    assert (result.numerator, result.denominator) == (1, 4)
    assert result.percent == 25.0 and result.gap_persons == 1  # 50 % of 4 = 2 people; 1 more needed
    # the date argument: before the person left and before the second certificate expired (a revoked
    # certificate never counts: revoking says it should not have been relied on)
    earlier = attainment(target, date(2025, 12, 1))
    assert (earlier.numerator, earlier.denominator) == (3, 5)


def test_trained_counts_completed_classes_that_ended_by_the_date(t, db):
    people = [t.person(t.direct, t.commune_b) for _ in range(4)]
    training_class = TrainingClass(course=t.basic, org_unit=t.province, organiser="Sở", starts_on=date(2026, 3, 1),
                                   ends_on=date(2026, 3, 5), capacity=10)
    db.session.add(training_class)
    db.session.flush()
    operations.add_attendees(training_class, people[:3])
    statuses = ["completed", "completed", "failed"]
    for attendance, status in zip(sorted(training_class.attendances, key=lambda a: a.staff_id), statuses, strict=True):
        assert operations.set_attendance(attendance, status) is None  # this course issues no certificate
    target = t.target(t.direct, "trained", 100, topic="basic_treatment")
    assert (attainment(target, DAY).numerator, attainment(target, DAY).denominator) == (2, 4)
    assert attainment(target, date(2026, 3, 4)).numerator == 0  # the class had not ended yet
    assert attainment(target, DAY).gap_persons == 2


def test_completing_a_certifying_class_issues_one_certificate_with_its_expiry(t, db):
    person = t.person(t.counselling, t.commune_a)
    training_class = TrainingClass(course=t.course, org_unit=t.province, organiser="Sở Y tế", place="Hội trường",
                                   starts_on=date(2026, 2, 23), ends_on=date(2026, 2, 28), capacity=2)
    db.session.add(training_class)
    db.session.flush()
    operations.add_attendees(training_class, [person])
    attendance = training_class.attendances[0]
    certificate = operations.set_attendance(attendance, "completed", 55, 88)
    assert certificate.issued_on == date(2026, 2, 28) and certificate.expires_on == date(2028, 2, 28)
    again = operations.set_attendance(attendance, "completed", 55, 90)
    assert again.id == certificate.id
    others = [t.person(t.counselling, t.commune_a) for _ in range(2)]
    with pytest.raises(operations.TrainingError):
        operations.add_attendees(training_class, others)  # capacity 2


def test_certificate_numbers_are_unique_per_issuer(t, db):
    person = t.person(t.counselling, t.commune_a)
    operations.issue_certificate(person, t.course, "Sở Y tế", date(2025, 1, 1), number="TV-1")
    with pytest.raises(operations.TrainingError):
        operations.issue_certificate(person, t.course, "Sở Y tế", date(2025, 2, 1), number="TV-1")
    other = operations.issue_certificate(person, t.course, "Sở LĐTBXH", date(2025, 2, 1), number="TV-1")
    assert other.id
    with pytest.raises(operations.TrainingError):
        operations.issue_certificate(person, t.basic, "Sở Y tế", date(2025, 2, 1))  # not a certifying course


def test_fully_qualified_needs_every_required_qualification_valid_on_the_date(t, db):
    complete = t.person(t.medical, t.commune_a, facility=t.facility)
    lapsed = t.person(t.medical, t.commune_a, facility=t.facility)
    missing = t.person(t.medical, t.commune_b)
    for person, licence_expiry in ((complete, date(2030, 1, 1)), (lapsed, date(2026, 1, 1)), (missing, None)):
        operations.record_qualification(person, t.types["medical_degree"], date(2010, 6, 1))
        if licence_expiry:
            operations.record_qualification(person, t.types["practising_licence"], date(2021, 1, 1), licence_expiry)
        operations.record_qualification(person, t.types["addiction_treatment_cert"], date(2022, 1, 1))
    target = t.target(t.medical, "fully_qualified", 100)
    result = attainment(target, DAY)
    assert (result.numerator, result.denominator, result.gap_persons) == (1, 3, 2)
    assert attainment(target, date(2025, 12, 1)).numerator == 2  # before the licence lapsed
    # a facility inside a district: only its staff
    at_facility = attainment(target, DAY, t.facility)
    assert (at_facility.numerator, at_facility.denominator) == (1, 2)
    by_district = {row.unit.id: (row.numerator, row.denominator) for row in breakdown(target, DAY)}
    assert by_district == {t.district_a.id: (1, 2), t.district_b.id: (0, 1)}


def test_merging_duplicates_keeps_history_and_counts_the_person_once(t, db):
    keep = operations.create_staff("A1", "Trần Thị Hoa", t.counselling, t.commune_a, "F", date(1990, 5, 1),
                                   start_date=date(2020, 1, 1))
    duplicate = operations.create_staff("A2", "Tran Thi  Hoa", t.counselling, t.commune_a, "F", date(1990, 5, 1),
                                        start_date=date(2020, 1, 1))
    operations.issue_certificate(duplicate, t.course, "Sở Y tế", date(2025, 6, 1))
    from service.training.models import StaffMember

    groups = operations.likely_duplicates(select(StaffMember))
    assert [[person.id for person in group] for group in groups] == [[keep.id, duplicate.id]]
    target = t.target(t.counselling, "certified", 100, topic="counselling")
    assert attainment(target, DAY).denominator == 2
    operations.merge_staff(keep, duplicate)
    result = attainment(target, DAY)
    assert (result.numerator, result.denominator) == (1, 1)
    assert [c.staff_id for c in keep.certificates] == [keep.id]
    assert operations.likely_duplicates(select(StaffMember)) == []


def test_api_attainment_staff_and_certificates_are_scoped(client, t, db, make_user, make_unit):
    people = [t.person(t.counselling, t.commune_a) for _ in range(3)]
    operations.issue_certificate(people[0], t.course, "Sở Y tế", date(2026, 1, 5))
    target = t.target(t.counselling, "certified", 80, topic="counselling")
    coordinator = make_user("training_coordinator", scope=t.province)
    headers = {"Authorization": f"Bearer {issue_token(coordinator)}"}
    body = client.get(f"/api/v1/training/attainment?date={DAY.isoformat()}", headers=headers).json
    item = body["items"][0]
    assert {"target_id", "unit", "role", "metric", "target_percent", "numerator", "denominator", "percent",
            "gap_persons"} <= set(item)
    assert (item["target_id"], item["numerator"], item["denominator"], item["gap_persons"]) == (target.id, 1, 3, 2)
    district = client.get(f"/api/v1/training/attainment?unit={t.district_b.code}&date=2026-06-30",
                          headers=headers).json
    assert district["items"][0]["denominator"] == 0
    assert client.get("/api/v1/staff", headers=headers).json["total"] == 3
    assert client.get("/api/v1/certificates", headers=headers).json["total"] == 1
    elsewhere = make_unit("province", edition=2024)
    outsider = make_user("training_coordinator", scope=elsewhere)
    other = {"Authorization": f"Bearer {issue_token(outsider)}"}
    assert client.get("/api/v1/training/attainment", headers=other).json["total"] == 0
    assert client.get("/api/v1/staff", headers=other).json["total"] == 0
    assert client.get(f"/api/v1/training/attainment?unit={t.province.code}", headers=other).status_code == 404
    reporter = make_user("commune_reporter", scope=t.commune_a)
    assert client.get("/api/v1/staff", headers={"Authorization": f"Bearer {issue_token(reporter)}"}).status_code == 403
    assert client.get("/api/v1/training/attainment?date=30/06/2026", headers=headers).status_code == 400


def test_demo_training_reproduces_the_plans_with_gaps(app, db, make_unit):
    from service.demo.training import load_demo_training

    for code in ("96", "86", "82"):
        province = make_unit("province", edition=2025, code=code)
        for _ in range(3):
            make_unit("commune", province)
    load_demo_training(date(2026, 11, 22))
    plans = {plan.code: plan for plan in db.session.scalars(select(TrainingPlan))}
    assert set(plans) == {"CM-31-2014", "VL-303-2024", "DT-210-2021"}
    results = [attainment(target, date(2026, 11, 22)) for plan in plans.values() for target in plan.targets]
    assert len(results) == 10 and all(result.denominator > 0 for result in results)
    assert any(result.gap_persons > 0 for result in results)


def test_expiry_alerts_follow_certificates_and_licences(t, db):
    from service.flags.models import Flag
    from service.training.jobs import refresh_expiry_alerts

    soon = t.person(t.counselling, t.commune_a)
    later = t.person(t.counselling, t.commune_a)
    doctor = t.person(t.medical, t.commune_a, facility=t.facility)
    operations.issue_certificate(soon, t.course, "Sở Y tế", date(2024, 7, 5))  # expires 2026-07-05
    operations.issue_certificate(later, t.course, "Sở Y tế", date(2025, 1, 1))  # expires 2027-01-01
    operations.record_qualification(doctor, t.types["practising_licence"], date(2021, 1, 1), date(2026, 7, 20))
    refresh_expiry_alerts(DAY)
    flags = {(f.staff_id, f.severity): f for f in db.session.scalars(select(Flag).where(Flag.subject == "staff"))}
    assert set(flags) == {(soon.id, "error"), (doctor.id, "warning")}  # 5 days left; 20 days left
    assert flags[(doctor.id, "warning")].org_unit_id == t.commune_a.id
    operations.issue_certificate(soon, t.course, "Sở Y tế", date(2026, 7, 1))  # renewed
    result = refresh_expiry_alerts(DAY)
    assert result["closed"] == 1 and flags[(soon.id, "error")].status == "resolved"


def _csv(*lines, encoding="utf-8"):
    return ("\n".join(lines) + "\n").encode(encoding)


def test_roster_import_is_all_or_nothing_with_errors_by_row_and_column(t, db, make_user, make_unit):
    from service.accounts.scope import Scope
    from service.training.imports import TrainingImportError, import_staff
    from service.training.models import StaffMember

    coordinator = make_user("training_coordinator", scope=t.province)
    elsewhere = make_unit("commune", make_unit("district", make_unit("province", edition=2024)))
    header = "staff_code,full_name,date_of_birth,sex,role,unit_code,facility_code,position,start_date,end_date"
    bad = _csv(header,
               f"K1,Lê Thị Lan,01/02/1990,nữ,counselling,{t.commune_a.code},,Cán bộ,01/01/2020,",
               f"K2,Phạm Văn Nam,1988-13-40,nam,counselling,{t.commune_b.code},,,,",
               f"K3,Võ Minh Tâm,,X,nurse,{elsewhere.code},,,,",
               f"K1,Trùng Mã,,nữ,counselling,{t.commune_a.code},,,,")
    with pytest.raises(TrainingImportError) as error:
        import_staff(Scope(coordinator), bad)
    cells = {(e["row"], e["column"]) for e in error.value.errors}
    assert {(3, "date_of_birth"), (4, "sex"), (4, "role"), (4, "unit_code"), (5, "staff_code")} <= cells
    assert db.session.scalar(select(StaffMember.id).where(StaffMember.staff_code == "K1")) is None
    good = _csv(header, f"K1,Lê Thị Lan,01/02/1990,nữ,counselling,{t.commune_a.code},,Cán bộ,01/01/2020,",
                f"K2,Phạm Văn Nam,1988-12-30,nam,counselling,{t.commune_b.code},,,,01/05/2026",
                encoding="utf-16")
    assert import_staff(Scope(coordinator), good) == {"created": 2, "updated": 0}
    left = db.session.scalar(select(StaffMember).where(StaffMember.staff_code == "K2"))
    assert left.employment_status == "left" and left.end_date == date(2026, 5, 1)
    unknown = _csv("staff_code,full_name,salary", "K9,X,1")
    with pytest.raises(TrainingImportError) as error:
        import_staff(Scope(coordinator), unknown)
    assert {e["column"] for e in error.value.errors} >= {"salary", "sex", "role", "unit_code"}


def test_the_roster_import_writes_through_the_staff_operations(t, db, make_user):
    """An end date before the start date (the row's, or the one on record) is a row error like the others; an
    update tidies the name and its search form as a creation does."""
    from service.accounts.scope import Scope
    from service.training.imports import TrainingImportError, import_staff
    from service.training.models import StaffMember

    coordinator = make_user("training_coordinator", scope=t.province)
    on_record = t.person(t.counselling, t.commune_a, start_date=date(2021, 3, 1))
    header = "staff_code,full_name,date_of_birth,sex,role,unit_code,facility_code,position,start_date,end_date"
    bad = _csv(header, f"K1,Lê Thị Lan,,nữ,counselling,{t.commune_a.code},,,01/01/2020,31/12/2019",
               f"{on_record.staff_code},Người  Thử   Mới,,nữ,counselling,{t.commune_a.code},,,,01/01/2021")
    with pytest.raises(TrainingImportError) as error:
        import_staff(Scope(coordinator), bad)
    assert {(e["row"], e["column"]) for e in error.value.errors} == {(2, "end_date"), (3, "end_date")}
    assert db.session.scalar(select(StaffMember.id).where(StaffMember.staff_code == "K1")) is None
    good = _csv(header, f"{on_record.staff_code},Người  Thử   Mới,,nữ,counselling,{t.commune_a.code},,,,01/01/2026")
    assert import_staff(Scope(coordinator), good) == {"created": 0, "updated": 1}
    assert (on_record.full_name, on_record.search_name) == ("Người Thử Mới", "nguoi thu moi")
    assert (on_record.start_date, on_record.end_date, on_record.employment_status) == (
        date(2021, 3, 1), date(2026, 1, 1), "left")


def test_the_operations_keep_the_date_rules_and_the_history(t, db):
    person = t.person(t.counselling, t.commune_a, start_date=date(2020, 1, 1))
    with pytest.raises(operations.TrainingError):
        operations.update_staff(person, employment_status="left", end_date=date(2019, 1, 1))
    with pytest.raises(operations.TrainingError):
        operations.update_staff(person, employment_status="left", end_date=None)
    with pytest.raises(operations.TrainingError):
        operations.create_class(course=t.course, org_unit=t.province, starts_on=DAY, ends_on=date(2026, 6, 1))
    training_class = operations.create_class(course=t.course, org_unit=t.province, starts_on=date(2026, 6, 1),
                                             ends_on=DAY, capacity=10)
    operations.add_attendees(training_class, [person])
    with pytest.raises(operations.TrainingError):
        operations.delete_class(training_class)
    with pytest.raises(operations.TrainingError):
        operations.record_qualification(person, t.types["medical_degree"], DAY, DAY)
    course = operations.create_course(code="QL", title="Quản lý", topic="management", hours=8,
                                      target_roles="counselling; medical;counselling")
    assert course.target_roles == "counselling,medical"
    with pytest.raises(operations.TrainingError):
        operations.update_course(course, target_roles="khong_co")


def test_attendance_sheet_marks_people_and_issues_certificates(t, db, make_user):
    from service.accounts.scope import Scope
    from service.training.imports import TrainingImportError, import_attendance

    coordinator = make_user("training_coordinator", scope=t.province)
    people = [t.person(t.counselling, t.commune_a) for _ in range(2)]
    training_class = TrainingClass(course=t.course, org_unit=t.province, organiser="Sở Y tế",
                                   starts_on=date(2026, 5, 4), ends_on=date(2026, 5, 8), capacity=10)
    db.session.add(training_class)
    db.session.flush()
    bad = _csv("staff_code,status,pre_score,post_score", f"{people[0].staff_code},hoàn thành,50,120",
               "NOBODY,completed,,")
    with pytest.raises(TrainingImportError) as error:
        import_attendance(Scope(coordinator), training_class, bad)
    assert {(e["row"], e["column"]) for e in error.value.errors} == {(2, "post_score"), (3, "staff_code")}
    assert training_class.attendances == []
    good = _csv("staff_code;status;pre_score;post_score", f"{people[0].staff_code};hoàn thành;50;90",
                f"{people[1].staff_code};không đạt;40;45")
    assert import_attendance(Scope(coordinator), training_class, good) == {"rows": 2, "certificates": 1}
    assert [c.expires_on for c in people[0].certificates] == [date(2028, 5, 8)]


def test_certificate_import_refuses_a_number_already_issued(t, db, make_user):
    from service.accounts.scope import Scope
    from service.training.imports import TrainingImportError, import_certificates
    from service.training.models import Certificate

    coordinator = make_user("training_coordinator", scope=t.province)
    person = t.person(t.counselling, t.commune_a)
    operations.issue_certificate(person, t.course, "Sở Y tế", date(2025, 1, 1), number="A-1")
    data = _csv("staff_code,course_code,number,issuer,issued_on", f"{person.staff_code},TV,A-2,Sở Y tế,02/03/2025",
                f"{person.staff_code},TV,A-1,Sở Y tế,02/03/2025")
    with pytest.raises(TrainingImportError) as error:
        import_certificates(Scope(coordinator), data)
    assert error.value.errors[0]["row"] == 3 and error.value.errors[0]["column"] == "number"
    assert db.session.scalar(select(Certificate.id).where(Certificate.number == "A-2")) is None


def test_projection_counts_scheduled_classes_and_expiries_before_the_deadline(t, db):
    from service.training.queries import projection

    people = [t.person(t.counselling, t.commune_a) for _ in range(4)]
    operations.issue_certificate(people[0], t.course, "Sở Y tế", date(2025, 1, 1))  # expires 2027-01-01: counts
    operations.issue_certificate(people[1], t.course, "Sở Y tế", date(2024, 9, 1))  # expires 2026-09-01: lapses
    upcoming = TrainingClass(course=t.course, org_unit=t.province, organiser="Sở Y tế", starts_on=date(2026, 9, 1),
                             ends_on=date(2026, 9, 5), capacity=10)
    db.session.add(upcoming)
    db.session.flush()
    operations.add_attendees(upcoming, [people[2]])
    target = t.target(t.counselling, "certified", 100, topic="counselling")  # deadline 2026-12-31
    now = attainment(target, DAY)
    assert (now.numerator, now.denominator) == (2, 4)
    expected = projection(target, DAY)
    assert (expected.numerator, expected.denominator) == (2, 4)  # people[0] and the registered people[2]
    assert projection(target, date(2027, 1, 2)) is None  # past the deadline
