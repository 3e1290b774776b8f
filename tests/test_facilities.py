"""Facilities: capacity history, census entries and corrections, the capacity checks as flags, and concurrent
writers of one facility (no lost update)."""
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from service.facilities.checks import refresh_facility_flags
from service.facilities.models import CapacityChange, Census, StaffingCondition
from service.facilities.operations import FacilityConflict, FacilityError, record_census, set_capacity
from service.facilities.queries import capacity_on, latest_census
from service.flags.models import Flag
from service.flags.operations import accept_flag, explain_flag
from service.training.models import QualificationType, RoleCategory
from service.training.operations import create_staff, leave, record_qualification

TODAY = date(2026, 11, 20)


@pytest.fixture
def place(make_unit, make_facility, make_user):
    class P:
        pass

    p = P()
    p.province = make_unit("province")
    p.commune = make_unit("commune", p.province)
    # a commune working group has no staffing conditions: the checks seen are the capacity ones only
    p.facility = make_facility(p.commune, facility_type="commune_group")
    p.manager = make_user("facility_manager", scope=p.commune, facility=p.facility)
    return p


def _flags(facility, status=("open", "explained")):
    from service.extensions import db

    return {flag.rule: flag for flag in db.session.scalars(select(Flag).where(
        Flag.subject == "facility", Flag.facility_id == facility.id, Flag.status.in_(status)))}


def _census(place, day, **counts):
    return record_census(place.manager, place.facility, day,
                         {modality: {"current_count": count} for modality, count in counts.items()}, today=TODAY)


def test_capacity_changes_keep_their_history_and_apply_from_their_date(place, db):
    set_capacity(place.manager, place.facility, {"compulsory": 100, "detox": 10}, date(2026, 1, 1), today=TODAY)
    set_capacity(place.manager, place.facility, {"compulsory": 120, "detox": 10}, date(2026, 7, 1), note="Khu mới",
                 today=TODAY)
    assert capacity_on(place.facility, date(2026, 6, 30)) == {"compulsory": 100, "detox": 10}
    assert capacity_on(place.facility, date(2026, 7, 1)) == {"compulsory": 120, "detox": 10}
    assert capacity_on(place.facility, date(2025, 12, 31)) == {}
    rows = db.session.scalars(select(CapacityChange).where(CapacityChange.facility_id == place.facility.id)).all()
    # the unchanged detox figure was not written again
    assert sorted((row.modality, row.places) for row in rows) == [("compulsory", 100), ("compulsory", 120),
                                                                  ("detox", 10)]


def test_census_over_capacity_opens_an_error_flag_and_a_later_census_within_capacity_resolves_it(place, db):
    set_capacity(place.manager, place.facility, {"compulsory": 50, "detox": 5}, date(2026, 1, 1), today=TODAY)
    _census(place, TODAY - timedelta(days=2), compulsory=53, detox=7)
    flags = _flags(place.facility)
    assert set(flags) == {"F01-compulsory", "F02"}
    assert flags["F01-compulsory"].severity == "error"
    assert flags["F01-compulsory"].observed == {"modality": "compulsory", "census_date": "2026-11-18",
                                                "capacity": 50, "current_count": 53}
    assert "53" in flags["F01-compulsory"].message_vi and "50" in flags["F01-compulsory"].message_vi
    assert "giường" in flags["F02"].message_vi
    _census(place, TODAY, compulsory=50, detox=5)
    assert _flags(place.facility) == {}
    # (F03 "never entered a census" was open between the capacity and the first census)
    assert set(_flags(place.facility, status=("resolved",))) == {"F01-compulsory", "F02", "F03"}


def test_a_raised_capacity_resolves_the_flag_of_a_census_taken_after_it_took_effect(place):
    set_capacity(place.manager, place.facility, {"voluntary": 20}, date(2026, 1, 1), today=TODAY)
    _census(place, TODAY, voluntary=25)
    assert set(_flags(place.facility)) == {"F01-voluntary"}
    set_capacity(place.manager, place.facility, {"voluntary": 30}, TODAY, today=TODAY)
    assert _flags(place.facility) == {}


def test_a_correction_replaces_the_counted_census_and_stays_in_the_history(place, db):
    set_capacity(place.manager, place.facility, {"compulsory": 50}, date(2026, 1, 1), today=TODAY)
    wrong = _census(place, TODAY, compulsory=500)
    assert "F01-compulsory" in _flags(place.facility)
    with pytest.raises(FacilityError):
        record_census(place.manager, place.facility, TODAY, {"compulsory": {"current_count": 48}}, corrects=wrong,
                      reason="", today=TODAY)
    fixed = record_census(place.manager, place.facility, TODAY, {"compulsory": {"current_count": 48}},
                          corrects=wrong, reason="Gõ thừa một số 0", today=TODAY)
    assert latest_census(place.facility).id == fixed.id
    assert db.session.scalar(select(func.count()).select_from(Census).where(
        Census.facility_id == place.facility.id)) == 2
    assert _flags(place.facility) == {}
    with pytest.raises(FacilityConflict):
        record_census(place.manager, place.facility, TODAY, {"compulsory": {"current_count": 47}}, corrects=wrong,
                      reason="again", today=TODAY)


def test_bad_census_input_is_refused_in_vietnamese_and_writes_nothing(place, db):
    before = db.session.scalar(select(func.count()).select_from(Census))
    cases = [
        ({"compulsory": {"current_count": -1}}, TODAY, "số nguyên"),
        ({"compulsory": {"current_count": "mười"}}, TODAY, "số nguyên"),
        ({"compulsory": {"admissions": 3}}, TODAY, "số người hiện có"),
        ({}, TODAY, "ít nhất một"),
        ({"compulsory": {"current_count": 1}}, TODAY + timedelta(days=1), "tương lai"),
        ({"beds": {"current_count": 1}}, TODAY, "beds"),
    ]
    for lines, day, words in cases:
        with pytest.raises(FacilityError) as error:
            record_census(place.manager, place.facility, day, lines, today=TODAY)
        assert words in str(error.value)
    assert db.session.scalar(select(func.count()).select_from(Census)) == before


def test_a_form_read_at_an_older_revision_is_a_conflict_and_writes_nothing(place, db):
    revision = place.facility.revision
    _census(place, TODAY, compulsory=1)
    with pytest.raises(FacilityConflict) as error:
        record_census(place.manager, place.facility, TODAY, {"compulsory": {"current_count": 2}},
                      expected_revision=revision, today=TODAY)
    assert "Người khác" in str(error.value)
    with pytest.raises(FacilityConflict):
        set_capacity(place.manager, place.facility, {"compulsory": 9}, TODAY, expected_revision=revision, today=TODAY)
    assert latest_census(place.facility).line("compulsory").current_count == 1
    assert capacity_on(place.facility, TODAY) == {}
    record_census(place.manager, place.facility, TODAY, {"compulsory": {"current_count": 2}},
                  expected_revision=place.facility.revision, today=TODAY)


def test_a_stale_or_missing_census_is_a_warning_for_a_facility_with_capacity(place, app):
    refresh_facility_flags([place.facility.id], today=TODAY)
    assert _flags(place.facility) == {}  # no capacity: no census expected
    set_capacity(place.manager, place.facility, {"detox": 10}, date(2026, 1, 1), today=TODAY)
    assert _flags(place.facility)["F03"].severity == "warning"
    _census(place, TODAY - timedelta(days=20), detox=3)
    flag = _flags(place.facility)["F03"]
    assert "20 ngày" in flag.message_vi and "quá 14" in flag.message_vi
    app.config["FACILITY_CENSUS_MAX_AGE_DAYS"] = 30
    try:
        refresh_facility_flags([place.facility.id], today=TODAY)
        assert "F03" not in _flags(place.facility)
    finally:
        app.config["FACILITY_CENSUS_MAX_AGE_DAYS"] = 14


def test_licence_expiring_is_a_warning_and_expired_an_error(place):
    place.facility.licence_number, place.facility.licence_expires_on = "12/GP-SLĐTBXH", TODAY + timedelta(days=30)
    refresh_facility_flags([place.facility.id], today=TODAY)
    flag = _flags(place.facility)["F05"]
    assert (flag.severity, "còn 30 ngày" in flag.message_vi) == ("warning", True)
    refresh_facility_flags([place.facility.id], today=TODAY + timedelta(days=31))
    flag = _flags(place.facility)["F05"]
    assert (flag.severity, "đã hết hạn" in flag.message_vi) == ("error", True)


def test_staffing_conditions_name_the_missing_role_and_qualification(place, make_facility, db):
    rehab = make_facility(place.commune, facility_type="public_rehab")
    roles = {role.code: role for role in db.session.scalars(select(RoleCategory))}
    types = {item.code: item for item in db.session.scalars(select(QualificationType))}
    refresh_facility_flags([rehab.id], today=TODAY)
    conditions = {(c.role_category.code, c.qualification_type.code if c.qualification_type else None): c
                  for c in db.session.scalars(select(StaffingCondition).where(
                      StaffingCondition.facility_type == "public_rehab"))}
    licence_rule = f"F04-{conditions['medical', 'practising_licence'].id}"
    security_rule = f"F04-{conditions['security', None].id}"
    flags = _flags(rehab)
    assert {licence_rule, security_rule} <= set(flags)
    assert "Thiếu 2 cán bộ y tế" in flags[licence_rule].message_vi
    assert "chứng chỉ hành nghề" in flags[licence_rule].message_vi

    doctors = [create_staff(f"BS{n}", f"Bác sĩ {n}", roles["medical"], place.commune, "F", facility=rehab)
               for n in range(2)]
    record_qualification(doctors[0], types["practising_licence"], date(2020, 1, 1))
    # an expired licence does not count
    record_qualification(doctors[1], types["practising_licence"], date(2015, 1, 1),
                         expires_on=TODAY - timedelta(days=1))
    for n in range(2):
        create_staff(f"BV{n}", f"Bảo vệ {n}", roles["security"], place.commune, "M", facility=rehab)
    refresh_facility_flags([rehab.id], today=TODAY)
    flags = _flags(rehab)
    assert security_rule not in flags
    assert "Thiếu 1 cán bộ y tế" in flags[licence_rule].message_vi
    assert flags[licence_rule].observed["present"] == 1
    record_qualification(doctors[1], types["practising_licence"], TODAY - timedelta(days=1))
    refresh_facility_flags([rehab.id], today=TODAY)
    assert licence_rule not in _flags(rehab)
    leave(doctors[0], TODAY - timedelta(days=1))  # someone who left no longer counts
    refresh_facility_flags([rehab.id], today=TODAY)
    assert licence_rule in _flags(rehab)


def test_an_accepted_facility_flag_stays_accepted_until_its_values_change(place, make_user):
    steward = make_user("data_steward", scope=place.province)
    set_capacity(place.manager, place.facility, {"compulsory": 10}, date(2026, 1, 1), today=TODAY)
    _census(place, TODAY, compulsory=11)
    flag = _flags(place.facility)["F01-compulsory"]
    explain_flag(place.manager, flag, "Tiếp nhận khẩn cấp theo quyết định của tòa án")
    accept_flag(steward, flag, "Tạm thời, đã có kế hoạch mở rộng")
    refresh_facility_flags([place.facility.id], today=TODAY)
    assert flag.status == "accepted"
    _census(place, TODAY, compulsory=12)
    assert flag.status == "open"


def test_a_closed_facility_has_no_checks_and_takes_no_census(place):
    set_capacity(place.manager, place.facility, {"compulsory": 1}, date(2026, 1, 1), today=TODAY)
    _census(place, TODAY, compulsory=5)
    assert _flags(place.facility)
    place.facility.status, place.facility.closed_on = "closed", TODAY
    refresh_facility_flags([place.facility.id], today=TODAY)
    assert _flags(place.facility) == {}
    with pytest.raises(FacilityError):
        _census(place, TODAY, compulsory=0)


def test_facility_managers_see_only_their_facilitys_flags(place, make_facility, make_user, db):
    from service.accounts.scope import Scope

    other = make_facility(place.commune)
    other_manager = make_user("facility_manager", scope=place.commune, facility=other)
    set_capacity(place.manager, place.facility, {"compulsory": 1}, date(2026, 1, 1), today=TODAY)
    _census(place, TODAY, compulsory=5)
    flag = _flags(place.facility)["F01-compulsory"]
    visible = db.session.scalars(select(Flag.id).where(Scope(other_manager).flag_clause(Flag))).all()
    assert flag.id not in visible
    assert flag.id in db.session.scalars(select(Flag.id).where(Scope(place.manager).flag_clause(Flag))).all()
    from service.flags.operations import FlagError

    with pytest.raises(FlagError):
        explain_flag(other_manager, flag, "không phải cơ sở của tôi")


# --- concurrency (several connections, committed data) -----------------------------------------------------

@pytest.mark.live_server
def test_concurrent_census_and_capacity_writers_never_lose_an_update(databases):
    """Eight writers at once on one facility: four enter a census read at the same revision, four change the
    capacity read at that revision. Exactly one of each kind of form read at that revision can win; every other
    gets a conflict; with no expected revision (API, import) all are kept, one after the other, and the revision
    counts every write."""
    from service.extensions import db as _db
    from service.facilities.models import Facility
    from tests.conftest import live_app_with_commune

    app, user_id, commune_id = live_app_with_commune(databases, "facility_race", "quanly", "admin")
    with app.app_context():
        facility = Facility(code="CS-RACE", name="Cơ sở thử", org_unit_id=commune_id, facility_type="commune_group")
        _db.session.add(facility)
        _db.session.commit()
        facility_id, revision = facility.id, facility.revision

    results, barrier = [], threading.Barrier(8)

    def writer(number, expected, offset=0):
        from service.accounts.models import User

        with app.app_context():
            barrier.wait(timeout=60)  # (before the first query: SQLite takes its write lock at BEGIN)
            try:
                user = _db.session.get(User, user_id)
                target = _db.session.get(Facility, facility_id)
                if number % 2:
                    set_capacity(user, target, {"compulsory": 10 + number + offset}, TODAY, expected_revision=expected,
                                 today=TODAY)
                else:
                    record_census(user, target, TODAY, {"compulsory": {"current_count": number}},
                                  expected_revision=expected, today=TODAY)
                _db.session.commit()
                results.append("ok")
            except FacilityConflict:
                _db.session.rollback()
                results.append("conflict")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=writer, args=(n, revision)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["conflict"] * 7 + ["ok"]

    results.clear()
    barrier = threading.Barrier(8)
    threads = [threading.Thread(target=writer, args=(n, None, 100)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["ok"] * 8
    with app.app_context():
        censuses = _db.session.scalar(select(func.count()).select_from(Census).where(Census.facility_id == facility_id))
        changes = _db.session.scalar(select(func.count()).select_from(CapacityChange).where(
            CapacityChange.facility_id == facility_id))
        final = _db.session.get(Facility, facility_id)
        assert censuses + changes == 9  # the winner of the first round and all eight of the second
        assert final.revision == revision + 9
        # the flags reflect the last committed state: the latest census against the capacity in force
        census = latest_census(final)
        capacity = capacity_on(final, TODAY)["compulsory"]
        over = census.line("compulsory").current_count > capacity
        open_rules = set(_db.session.scalars(select(Flag.rule).where(
            Flag.facility_id == facility_id, Flag.status == "open")))
        assert ("F01-compulsory" in open_rules) == over


def test_a_census_of_some_modalities_keeps_the_last_figure_of_the_others(place):
    """A detox ward counting daily and a compulsory wing weekly: each modality is checked on its own last
    figure, so entering today's detox beds does not hide last week's compulsory overcrowding."""
    set_capacity(place.manager, place.facility, {"compulsory": 10, "detox": 5}, date(2026, 1, 1), today=TODAY)
    _census(place, TODAY - timedelta(days=6), compulsory=12, detox=3)
    _census(place, TODAY, detox=6)
    flags = _flags(place.facility)
    assert set(flags) == {"F01-compulsory", "F02"}
    assert flags["F01-compulsory"].observed["census_date"] == (TODAY - timedelta(days=6)).isoformat()
    assert flags["F02"].observed["census_date"] == TODAY.isoformat()


def test_the_registry_rules_are_the_operations_and_a_new_facility_is_checked_at_once(place, db):
    from service.facilities.operations import create_facility, update_facility

    with pytest.raises(FacilityError, match="ngày đóng cửa|date it closed"):
        create_facility("CS-NEW", name="Cơ sở mới", facility_type="commune_group", org_unit=place.commune,
                        status="closed")
    with pytest.raises(FacilityError):
        create_facility("CS-NEW", name="Cơ sở mới", facility_type="commune_group", org_unit=place.commune,
                        licence_date=date(2024, 1, 1), licence_expires_on=date(2023, 1, 1))
    facility = create_facility("CS-NEW", name="Cơ sở mới", facility_type="commune_group", org_unit=place.commune)
    assert facility.id is not None and facility.status == "active"
    assert update_facility(facility, name="Cơ sở mới") is False
    assert update_facility(facility, address="1 Đường Thử") is True
    with pytest.raises(FacilityError):
        update_facility(facility, status="closed")
