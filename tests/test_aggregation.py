"""Aggregation commune → district → province on hand-computed reports: the gate (held-back reports), completeness,
current versions, booleans and choices, the edition boundary, a 2024-list period on the 2025 units through the
succession (full and partial), approved periods, scope, indicators and their targets; the demo targets and the
targets' admin view."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from service.accounts.scope import Scope
from service.aggregation.indicators import all_indicators, get_indicator
from service.aggregation.models import IndicatorTarget
from service.aggregation.queries import AggregationError, aggregate, aggregate_unit, target_trend
from service.approval.operations import lock_period
from service.extensions import db as _db
from service.flags import operations
from service.flags.models import Flag
from service.forms.periods import Period
from service.forms.registry import get_form
from service.submissions.operations import submit
from service.training.models import TrainingPlan
from tests.conftest import csrf_token_from

FORM = "commune_rehab"
OLD = "2025Q2"  # the last quarter of the 2024 list
NEW = "2025Q3"  # the first quarter of the 2025 list


def report(addicts, treated, completed=0, key="none", community=False, prevention=0):
    """Consistent values (no error-level rule fails) derived from a few numbers, so that sums are easy by hand:
    users = 2 × addicts, compulsory = treated // 2, voluntary = treated // 4, community = the rest, counselled =
    addicts, managed = completed, vocational = employed = completed // 2, relapsed = 0."""
    compulsory, voluntary = treated // 2, treated // 4
    return {
        "addicts_with_record": addicts, "users_with_record": 2 * addicts, "treated_total": treated,
        "treated_compulsory": compulsory, "treated_voluntary_facility": voluntary,
        "treated_community": treated - compulsory - voluntary, "treated_substitution": 0,
        "counselled_screened": addicts, "completed": completed, "post_rehab_managed": completed,
        "vocational_supported": completed // 2, "employed_after_rehab": completed // 2, "relapsed": 0,
        "prevention_reached": prevention, "key_commune_class": key, "drug_free": False, "community_model": community,
    }


INCONSISTENT = {**report(40, 20), "treated_total": 45, "treated_community": 30}  # C01: treated > addicts


class World:
    pass


@pytest.fixture
def world(make_unit, make_user, make_succession):
    """2024 list: province P (districts DA: a1, a2; DB: b1, b2) and province Q (district DQ: q1).
    2025 list: province N (n1, n2) and province M (m1). Succession: a1, a2 → n1 (full, merged), b1 → n1 and n2
    (partial, split), b2 → n2 (full), q1 → m1 (full).
    Reports of 2025Q2 (2024 list): a1, a2, b1 and q1 (b2 missing); of 2025Q3 (2025 list): n1, n2, m1."""
    w = World()
    w.p = make_unit("province", edition=2024, name="Tỉnh Phước")
    w.da = make_unit("district", w.p, name="Huyện A")
    w.db = make_unit("district", w.p, name="Huyện B")
    w.a1, w.a2 = make_unit("commune", w.da, name="Xã A1"), make_unit("commune", w.da, name="Xã A2")
    w.b1, w.b2 = make_unit("commune", w.db, name="Xã B1"), make_unit("commune", w.db, name="Xã B2")
    w.q = make_unit("province", edition=2024, name="Tỉnh Quảng")
    w.dq = make_unit("district", w.q, name="Huyện Q")
    w.q1 = make_unit("commune", w.dq, name="Xã Q1")
    w.n = make_unit("province", edition=2025, name="Tỉnh Nam")
    w.n1, w.n2 = make_unit("commune", w.n, name="Xã N1"), make_unit("commune", w.n, name="Xã N2")
    w.m = make_unit("province", edition=2025, name="Tỉnh Minh")
    w.m1 = make_unit("commune", w.m, name="Xã M1")
    make_succession(w.a1, w.n1)
    make_succession(w.a2, w.n1)
    make_succession(w.b1, w.n1, "partial")
    make_succession(w.b1, w.n2, "partial")
    make_succession(w.b2, w.n2)
    make_succession(w.q1, w.m1)
    w.admin = make_user("admin")
    w.form = get_form(FORM)
    w.old, w.new = Period.parse(OLD), Period.parse(NEW)
    w.reports = {
        OLD: {w.a1: report(10, 4, 2, key="I", community=True, prevention=5), w.a2: report(20, 10, 4),
              w.b1: report(30, 12, 6, key="II", community=True), w.q1: report(7, 3, 0, key="III", prevention=2)},
        NEW: {w.n1: report(50, 40, 10, key="I", prevention=9), w.n2: report(50, 45, 0, community=True),
              w.m1: report(8, 0)},
    }
    for code, reports in w.reports.items():
        for unit, values in reports.items():
            submit(w.admin, w.form, Period.parse(code), unit, values, "web")
    return w


def flag_of(unit, rule):
    return _db.session.execute(select(Flag).where(Flag.org_unit_id == unit.id, Flag.rule == rule)).scalar_one()


def by_unit(aggregates):
    return {item.unit.id: item for item in aggregates}


def counts(item):
    return (item.communes_total, item.communes_reported, item.held_back)


# --- sums at each level ----------------------------------------------------------------------------------------

def test_a_2024_period_adds_up_at_commune_district_and_province_level(world):
    w = world
    communes = by_unit(aggregate(w.form, w.old, "commune"))
    assert set(communes) == {w.a1.id, w.a2.id, w.b1.id, w.b2.id, w.q1.id}
    assert counts(communes[w.b2.id]) == (1, 0, 0) and communes[w.b2.id].values == {}  # b2 reported nothing
    assert communes[w.a1.id].values["addicts_with_record"] == 10 and counts(communes[w.a1.id]) == (1, 1, 0)
    assert communes[w.a1.id].values["treated_compulsory"] == 2

    districts = by_unit(aggregate(w.form, w.old, "district"))
    assert set(districts) == {w.da.id, w.db.id, w.dq.id}
    da, db_ = districts[w.da.id], districts[w.db.id]
    assert (da.values["addicts_with_record"], da.values["treated_total"], da.values["completed"]) == (30, 14, 6)
    assert counts(da) == (2, 2, 0) and da.completeness == 100.0
    assert (db_.values["addicts_with_record"], db_.values["treated_total"]) == (30, 12)
    assert counts(db_) == (2, 1, 0) and db_.completeness == 50.0

    provinces = by_unit(aggregate(w.form, w.old, "province"))
    assert set(provinces) == {w.p.id, w.q.id}
    p = provinces[w.p.id]
    assert counts(p) == (4, 3, 0) and p.communes_aggregated == 3 and p.completeness == 75.0
    assert p.values["addicts_with_record"] == 60 and p.values["users_with_record"] == 120
    assert p.values["treated_total"] == 26 and p.values["treated_compulsory"] == 2 + 5 + 6
    assert p.values["treated_voluntary_facility"] == 1 + 2 + 3 and p.values["vocational_supported"] == 1 + 2 + 3
    assert provinces[w.q.id].values["addicts_with_record"] == 7 and counts(provinces[w.q.id]) == (1, 1, 0)
    assert p.edition == 2024 and p.period == OLD and p.not_attributable == 0


def test_a_2025_period_has_two_levels(world):
    w = world
    provinces = by_unit(aggregate(w.form, w.new, "province"))
    assert set(provinces) == {w.n.id, w.m.id}
    n = provinces[w.n.id]
    assert counts(n) == (2, 2, 0)
    assert (n.values["addicts_with_record"], n.values["treated_total"], n.values["completed"]) == (100, 85, 10)
    communes = by_unit(aggregate(w.form, w.new, "commune"))
    assert set(communes) == {w.n1.id, w.n2.id, w.m1.id}
    assert communes[w.m1.id].values["treated_total"] == 0
    with pytest.raises(AggregationError):
        aggregate(w.form, w.new, "district")
    with pytest.raises(AggregationError):
        aggregate(w.form, w.new, "province", edition=2024)  # a 2025-list period on the 2024 units
    with pytest.raises(AggregationError):
        aggregate(w.form, w.new, "ward")


def test_booleans_and_choices_are_counted_per_commune(world):
    w = world
    p = aggregate_unit(w.form, w.old, w.p)
    assert p.values["community_model"] == 2 and p.values["drug_free"] == 0
    assert p.values["key_commune_class=I"] == 1 and p.values["key_commune_class=II"] == 1
    assert p.values["key_commune_class=none"] == 1 and "key_commune_class=III" not in p.values
    assert p.values["communes_reporting"] == 3 and p.values["key_communes"] == 2
    assert p.values["key_communes_with_prevention"] == 1  # a1 (class I, 5 reached); b1 (class II) reached nobody
    q = aggregate_unit(w.form, w.old, w.q)
    assert q.values["key_commune_class=III"] == 1 and q.values["key_communes_with_prevention"] == 1


def test_the_edition_boundary_falls_between_2025q2_and_2025q3(world):
    w = world
    assert (Period.parse("2025Q2").edition, Period.parse("2025Q3").edition) == (2024, 2025)
    assert (Period.parse("2025S1").edition, Period.parse("2025").edition) == (2024, 2025)
    assert {item.unit.edition for item in aggregate(w.form, w.old, "commune")} == {2024}
    assert {item.unit.edition for item in aggregate(w.form, w.new, "commune")} == {2025}
    # nothing of 2025Q3 lies on the 2024 units, nothing of 2025Q2 on the 2025 units (without the succession)
    assert aggregate_unit(w.form, w.old, w.p).values["addicts_with_record"] == 60
    assert aggregate_unit(w.form, w.new, w.n).values["addicts_with_record"] == 100


# --- the gate, completeness, versions ------------------------------------------------------------------------

def test_a_report_with_an_open_error_flag_is_held_back_until_the_flag_is_accepted(world, make_user):
    w = world
    submit(w.admin, w.form, w.old, w.b2, INCONSISTENT, "web")
    flag = flag_of(w.b2, "C01")
    assert (flag.severity, flag.status) == ("error", "open")
    db_ = aggregate_unit(w.form, w.old, w.db)
    assert counts(db_) == (2, 2, 1) and db_.communes_aggregated == 1
    assert db_.values["addicts_with_record"] == 30 and db_.values["treated_total"] == 12  # b1 only
    p = aggregate_unit(w.form, w.old, w.p)
    assert counts(p) == (4, 4, 1) and p.values["addicts_with_record"] == 60
    assert p.values["communes_reporting"] == 3

    steward = make_user("data_steward", scope=w.p)
    operations.explain_flag(steward, flag, "Xã đang kiểm tra lại.")
    assert counts(aggregate_unit(w.form, w.old, w.db)) == (2, 2, 1)  # explained is still open
    operations.accept_flag(steward, flag, "Đã xác minh: có người điều trị từ nơi khác chuyển đến.")
    db_ = aggregate_unit(w.form, w.old, w.db)
    assert counts(db_) == (2, 2, 0)
    assert db_.values["addicts_with_record"] == 70 and db_.values["treated_total"] == 57


def test_a_held_back_report_counts_again_once_a_passing_version_resolves_its_flag(world):
    w = world
    submit(w.admin, w.form, w.old, w.b2, INCONSISTENT, "web")
    assert counts(aggregate_unit(w.form, w.old, w.db)) == (2, 2, 1)
    submit(w.admin, w.form, w.old, w.b2, report(40, 20), "web")
    flag = flag_of(w.b2, "C01")
    assert flag.status == "resolved"
    db_ = aggregate_unit(w.form, w.old, w.db)
    assert counts(db_) == (2, 2, 0) and db_.values["treated_total"] == 32


def test_a_warning_does_not_hold_a_report_back(world):
    w = world
    submit(w.admin, w.form, w.old, w.b2, {**report(5, 0), "vocational_supported": 3, "post_rehab_managed": 1,
                                         "completed": 1, "employed_after_rehab": 0}, "web")  # C06, a warning
    assert flag_of(w.b2, "C06").status == "open"
    assert counts(aggregate_unit(w.form, w.old, w.db)) == (2, 2, 0)


def test_only_the_current_version_counts(world):
    w = world
    submit(w.admin, w.form, w.old, w.a1, report(11, 5), "web")
    submit(w.admin, w.form, w.old, w.a1, report(12, 6), "web")
    a1 = aggregate_unit(w.form, w.old, w.a1)
    assert a1.values["addicts_with_record"] == 12 and counts(a1) == (1, 1, 0)
    assert aggregate_unit(w.form, w.old, w.da).values["addicts_with_record"] == 32


def test_missing_communes_count_in_the_total_only(world):
    w = world
    db_ = aggregate_unit(w.form, w.old, w.db)
    assert (db_.communes_total, db_.communes_reported) == (2, 1)
    p = aggregate_unit(w.form, w.old, w.p)
    assert (p.communes_total, p.communes_reported) == (4, 3)


# --- across the reform ---------------------------------------------------------------------------------------

def test_a_2024_period_on_the_2025_units_adds_merged_communes_and_keeps_split_ones_apart(world):
    w = world
    communes = by_unit(aggregate(w.form, w.old, "commune", edition=2025))
    n1, n2, m1 = communes[w.n1.id], communes[w.n2.id], communes[w.m1.id]
    assert n1.edition == 2025 and n1.period == OLD
    # n1 = a1 + a2 (full); b1 (split between n1 and n2) is not attributable
    assert counts(n1) == (2, 2, 0) and n1.values["addicts_with_record"] == 30 and n1.values["treated_total"] == 14
    assert n1.not_attributable == 1 and n1.not_attributable_values["addicts_with_record"] == 30
    # n2 = b2 (full, not reported) + b1 (partial)
    assert counts(n2) == (1, 0, 0) and n2.values == {}
    assert n2.not_attributable == 1 and n2.not_attributable_values["treated_total"] == 12
    assert counts(m1) == (1, 1, 0) and m1.values["addicts_with_record"] == 7

    provinces = by_unit(aggregate(w.form, w.old, "province", edition=2025))
    assert set(provinces) == {w.n.id, w.m.id}
    n = provinces[w.n.id]
    # at province level the split commune b1 lies wholly in n: it is added there, not kept apart
    assert counts(n) == (4, 3, 0) and n.values["addicts_with_record"] == 60
    assert n.not_attributable == 0 and n.not_attributable_values == {}
    assert n.values["community_model"] == 2
    assert aggregate_unit(w.form, w.old, w.n).values == n.values
    with pytest.raises(AggregationError):
        aggregate(w.form, w.old, "district", edition=2025)


def test_a_held_back_split_commune_adds_nothing_anywhere(world):
    w = world
    submit(w.admin, w.form, w.old, w.b1, INCONSISTENT, "web")
    communes = by_unit(aggregate(w.form, w.old, "commune", edition=2025))
    assert all(communes[unit.id].not_attributable_values == {} for unit in (w.n1, w.n2))
    n = aggregate_unit(w.form, w.old, w.n)
    assert (n.held_back, n.values["addicts_with_record"]) == (1, 30)


def figures(item):
    return (item.unit.id, item.values, item.communes_total, item.communes_reported, item.held_back,
            item.not_attributable, item.not_attributable_values)


@pytest.mark.parametrize("period_code,level,edition", [
    (OLD, "commune", None), (OLD, "district", None), (OLD, "province", None), (NEW, "commune", None),
    (NEW, "province", None), (OLD, "commune", 2025), (OLD, "province", 2025),
])
def test_a_parent_only_narrows_the_result_never_a_figure(world, period_code, level, edition):
    """The communes read for a parent are limited in SQL; every aggregate under it is the national one."""
    w = world
    submit(w.admin, w.form, w.old, w.b2, INCONSISTENT, "web")  # a held-back report among them
    period = Period.parse(period_code)
    everything = [figures(item) for item in aggregate(w.form, period, level, edition=edition)]
    for parent in (w.p, w.da, w.db, w.a1, w.q, w.n, w.n1, w.n2, w.m):
        under = [figures(item) for item in aggregate(w.form, period, level, parent=parent, edition=edition)]
        expected = [row for row in everything if parent.id in (row[0], *_parents_of(row[0]))]
        assert under == expected, parent.name


@pytest.mark.parametrize("period_code,level,edition", [
    (OLD, "commune", None), (OLD, "province", None), (NEW, "province", None), (OLD, "province", 2025),
    (OLD, "commune", 2025),
])
def test_keys_only_leave_the_other_values_out(world, period_code, level, edition):
    """`keys` (what a trend reads) gives the same figures as the full aggregate, restricted to those keys, for
    fields, a choice value and commune counts, a held-back report and split communes included."""
    w = world
    submit(w.admin, w.form, w.old, w.b2, INCONSISTENT, "web")
    period = Period.parse(period_code)
    every_indicator = {key for item in all_indicators() for key in (*item.numerator, *item.denominator)}
    for keys in (("treated_total", "addicts_with_record"), ("key_communes_with_prevention", "key_communes"),
                 ("community_model", "communes_reporting", "key_commune_class=I", "no_such_key"),
                 tuple(every_indicator)):
        full = aggregate(w.form, period, level, edition=edition)
        only = aggregate(w.form, period, level, edition=edition, keys=keys)
        assert [item.unit.id for item in only] == [item.unit.id for item in full]
        for a, b in zip(full, only, strict=True):
            assert b.values == {key: value for key, value in a.values.items() if key in keys}
            assert b.not_attributable_values == {key: value for key, value in a.not_attributable_values.items()
                                                 if key in keys}
            assert (counts(a), a.not_attributable) == (counts(b), b.not_attributable)


def _parents_of(unit_id):
    from service.units.models import AdminUnit

    unit = _db.session.get(AdminUnit, unit_id)
    return unit.province_id, unit.district_id


# --- approval and scope --------------------------------------------------------------------------------------

def test_approved_only_counts_the_communes_under_an_approved_unit(world):
    w = world
    assert aggregate(w.form, w.old, "province", approved_only=True) == []
    lock_period(w.admin, FORM, OLD, w.da)
    provinces = by_unit(aggregate(w.form, w.old, "province", approved_only=True))
    assert set(provinces) == {w.p.id}
    assert counts(provinces[w.p.id]) == (2, 2, 0) and provinces[w.p.id].values["addicts_with_record"] == 30
    assert set(by_unit(aggregate(w.form, w.old, "district", approved_only=True))) == {w.da.id}
    lock_period(w.admin, FORM, OLD, w.q)
    assert set(by_unit(aggregate(w.form, w.old, "province", approved_only=True))) == {w.p.id, w.q.id}
    lock_period(w.admin, FORM, NEW, w.m)
    assert set(by_unit(aggregate(w.form, w.new, "province", approved_only=True))) == {w.m.id}
    assert aggregate(w.form, w.new, "commune", approved_only=True)[0].unit.id == w.m1.id
    # a lock of another period or form approves nothing here
    lock_period(w.admin, "other_form", NEW, w.n)
    lock_period(w.admin, FORM, "2025Q4", w.n)
    assert set(by_unit(aggregate(w.form, w.new, "province", approved_only=True))) == {w.m.id}


def test_a_province_stewards_scope_leaves_the_other_province_out(world, make_user):
    w = world
    steward_p = Scope(make_user("data_steward", scope=w.p))
    assert set(by_unit(aggregate(w.form, w.old, "province", scope=steward_p))) == {w.p.id}
    assert set(by_unit(aggregate(w.form, w.old, "commune", scope=steward_p))) == {w.a1.id, w.a2.id, w.b1.id,
                                                                                   w.b2.id}
    district_steward = Scope(make_user("data_steward", scope=w.db))
    assert set(by_unit(aggregate(w.form, w.old, "district", scope=district_steward))) == {w.db.id}
    steward_n = Scope(make_user("data_steward", scope=w.n))
    assert set(by_unit(aggregate(w.form, w.new, "province", scope=steward_n))) == {w.n.id}
    # N lies wholly in the old province P (every predecessor of n1 and n2 is P's): P's steward reads it, not M
    assert set(by_unit(aggregate(w.form, w.new, "province", scope=steward_p))) == {w.n.id}
    # across the reform: the 2024 communes wholly in N (a1, a2, b2 and the split b1) are N's, q1 is not
    across = by_unit(aggregate(w.form, w.old, "province", scope=steward_n, edition=2025))
    assert set(across) == {w.n.id} and across[w.n.id].values["addicts_with_record"] == 60
    steward_m = Scope(make_user("data_steward", scope=w.m))
    assert set(by_unit(aggregate(w.form, w.old, "commune", scope=steward_m, edition=2025))) == {w.m1.id}
    assert aggregate_unit(w.form, w.new, w.n, scope=steward_m) is None


# --- indicators and targets ----------------------------------------------------------------------------------

def test_indicators_on_hand_computed_aggregates(world):
    w = world
    p = aggregate_unit(w.form, w.old, w.p).values
    rate = {item.code: item.value(p) for item in all_indicators()}
    assert rate["treatment_rate"] == round(100 * 26 / 60, 2) == 43.33
    assert rate["voluntary_share"] == round(100 * 6 / 26, 2)
    assert rate["compulsory_share"] == 50.0  # 13 / 26
    assert rate["post_rehab_management_rate"] == 100.0 and rate["employment_rate"] == round(100 * 6 / 12, 2)
    assert rate["counselling_rate"] == 100.0 and rate["prevention_reach"] == round(100 * 5 / 120, 2)
    assert rate["key_communes_prevention"] == 50.0  # 1 of 2 key communes
    assert rate["community_model_share"] == round(100 * 2 / 3, 2)
    assert get_indicator("treatment_rate").parts(p) == (26, 60)


def test_indicators_with_a_zero_denominator_are_none(world):
    w = world
    q = aggregate_unit(w.form, w.old, w.q).values  # completed 0
    for code in ("post_rehab_management_rate", "reintegration_support_rate", "employment_rate", "relapse_rate"):
        assert get_indicator(code).value(q) is None
    m = aggregate_unit(w.form, w.new, w.m).values  # treated 0, no key commune
    assert get_indicator("voluntary_share").value(m) is None
    assert get_indicator("key_communes_prevention").value(m) is None
    assert get_indicator("treatment_rate").value(m) == 0.0
    for item in all_indicators():
        assert item.value({}) is None


@pytest.fixture
def plan(db):
    row = TrainingPlan(code="KH-TEST", name="Kế hoạch thử", number="1/KH-UBND", issued_on=date(2025, 1, 2))
    db.session.add(row)
    db.session.flush()
    return row


def test_target_trend_measures_met_and_distance_per_period(world, plan, db):
    w = world
    target = IndicatorTarget(plan=plan, scope_unit=w.n, indicator_code="treatment_rate", direction="at_least",
                             value=Decimal("80"), deadline=date(2025, 12, 31))
    at_most = IndicatorTarget(plan=plan, scope_unit=w.n, indicator_code="compulsory_share", direction="at_most",
                              value=Decimal("45"), deadline=date(2025, 12, 31))
    db.session.add_all([target, at_most])
    db.session.flush()
    points = target_trend(w.form, target, [w.old, w.new])
    # 2025Q2 on N through the succession: a1 + a2 (full) + b1 (split, but wholly inside N) = 26 treated / 60
    # addicts; b2 missing
    first, second = points
    assert (first.period, first.numerator, first.denominator, first.value) == (OLD, 26, 60, 43.33)
    assert (first.met, first.distance) == (False, 36.67)
    assert first.aggregate.communes_total == 4 and first.aggregate.not_attributable == 0
    # 2025Q3: n1 + n2 = 85 / 100
    assert (second.period, second.numerator, second.denominator, second.value) == (NEW, 85, 100, 85.0)
    assert (second.met, second.distance) == (True, 0.0)
    # compulsory: 2025Q2 (2 + 5) / 14 = 50 % (over 45: 5 points to go), 2025Q3 (20 + 22) / 85 = 49.41 %
    old, new = target_trend(w.form, at_most, [w.old, w.new])
    assert (old.value, old.met, old.distance) == (50.0, False, 5.0)
    assert (new.value, new.met, new.distance) == (49.41, False, 4.41)
    assert (at_most.met(45.0), at_most.distance(30.0)) == (True, 0.0)


def test_target_trend_gives_no_value_where_nothing_can_be_measured(world, plan, db, make_unit):
    w = world
    on_old = IndicatorTarget(plan=plan, scope_unit=w.p, indicator_code="post_rehab_management_rate",
                             direction="at_least", value=Decimal("100"), deadline=date(2025, 12, 31))
    db.session.add(on_old)
    db.session.flush()
    old, new = target_trend(w.form, on_old, [w.old, w.new])
    assert (old.value, old.met, old.distance) == (100.0, True, 0.0)  # 12 managed / 12 completed
    assert (new.value, new.met, new.distance, new.aggregate) == (None, None, None, None)  # a 2024 unit in 2025
    empty = make_unit("province", edition=2025)
    nothing = IndicatorTarget(plan=plan, scope_unit=empty, indicator_code="treatment_rate", direction="at_least",
                              value=Decimal("80"), deadline=date(2025, 12, 31))
    db.session.add(nothing)
    db.session.flush()
    point = target_trend(w.form, nothing, [w.new])[0]
    assert (point.value, point.met, point.distance, point.numerator, point.denominator) == (None, None, None, 0, 0)


# --- the demo targets ----------------------------------------------------------------------------------------

def test_the_demo_targets_hold_every_programme_target_of_the_plans(db, make_unit):
    from service.demo.indicators import load_demo_indicator_targets

    for code, name in (("96", "Tỉnh Cà Mau"), ("66", "Tỉnh Đắk Lắk"), ("86", "Tỉnh Vĩnh Long"),
                       ("82", "Tỉnh Đồng Tháp")):
        make_unit("province", edition=2025, code=code, name=name)
    db.session.add(TrainingPlan(code="CM-31-2014", name="Kế hoạch đã có", number="31/KH-UBND"))
    db.session.flush()
    assert load_demo_indicator_targets() == 15
    assert load_demo_indicator_targets() == 0
    targets = db.session.scalars(select(IndicatorTarget)).all()
    assert len(targets) == 15 and {target.indicator_code for target in targets} <= {i.code for i in all_indicators()}
    plans = {target.plan.code for target in targets}
    assert plans == {"CM-31-2014", "BMT-53-2022", "VL-303-2024", "DT-210-2021"}
    assert db.session.scalar(select(func.count()).select_from(TrainingPlan)) == 4  # the existing plan reused
    bmt = db.session.execute(select(TrainingPlan).where(TrainingPlan.code == "BMT-53-2022")).scalar_one()
    assert (bmt.number, bmt.issued_on) == ("53/KH-UBND", date(2022, 3, 31))
    by_key = {(t.scope_unit.code, t.indicator_code, t.deadline.year): t for t in targets}
    first = by_key[("96", "treatment_rate", 2015)]
    assert (float(first.value), float(first.baseline), first.baseline_note) == (50.0, 24.97, "234/937")
    assert float(by_key[("96", "treatment_rate", 2020)].value) == 80.0
    assert float(by_key[("96", "voluntary_share", 2020)].baseline) == 1.71
    assert by_key[("96", "compulsory_share", 2020)].direction == "at_most"
    assert by_key[("82", "compulsory_share", 2021)].direction == "at_least"
    assert float(by_key[("66", "post_rehab_management_rate", 2022)].value) == 100.0
    assert {key[1] for key in by_key if key[0] == "86"} == {"counselling_rate", "prevention_reach",
                                                              "key_communes_prevention"}
    assert float(by_key[("82", "community_model_share", 2021)].value) == 40.0


def test_demo_load_creates_the_targets_once(app, runner, db, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UNITS_DIR", None)
    result = runner.invoke(args=["demo", "load", "--logins-file", str(tmp_path / "logins.txt")])
    assert result.exit_code == 0, result.output
    assert "Chỉ tiêu chương trình" in result.output and "15 chỉ tiêu" in result.output
    again = runner.invoke(args=["demo", "load", "--logins-file", str(tmp_path / "logins.txt")])
    assert again.exit_code == 0 and "Chỉ tiêu chương trình" not in again.output
    assert db.session.scalar(select(func.count()).select_from(IndicatorTarget)) == 15


# --- the admin view ------------------------------------------------------------------------------------------

@pytest.fixture
def targets_world(make_unit, make_user, make_facility, db, plan):
    w = World()
    w.province_a = make_unit("province", edition=2025, code="66", name="Tỉnh Đắk Lắk")
    w.commune_a = make_unit("commune", w.province_a, name="Xã Ea Tu")
    w.province_b = make_unit("province", edition=2025, code="86", name="Tỉnh Vĩnh Long")
    w.plan = plan
    w.target_a = IndicatorTarget(plan=plan, scope_unit=w.province_a, indicator_code="post_rehab_management_rate",
                                 direction="at_least", value=Decimal("100"), deadline=date(2022, 12, 31))
    w.target_b = IndicatorTarget(plan=plan, scope_unit=w.province_b, indicator_code="key_communes_prevention",
                                 direction="at_least", value=Decimal("100"), deadline=date(2025, 12, 31))
    db.session.add_all([w.target_a, w.target_b])
    db.session.flush()
    w.admin = make_user("admin")
    w.steward = make_user("data_steward", scope=w.province_a)
    w.coordinator = make_user("training_coordinator", scope=w.province_a)
    w.manager = make_user("facility_manager", facility=make_facility(w.commune_a))
    w.reporter = make_user("commune_reporter", scope=w.commune_a)
    return w


@pytest.mark.parametrize("role,listing,creating", [
    ("admin", 200, 200), ("steward", 200, 403), ("coordinator", 200, 403), ("manager", 403, 403),
    ("reporter", 403, 403),
])
def test_the_targets_view_opens_for_its_roles(client, login, targets_world, role, listing, creating):
    login(getattr(targets_world, role))
    assert client.get("/admin/indicator_targets/").status_code == listing
    assert client.get("/admin/indicator_targets/new/").status_code == creating


def test_the_targets_view_is_scoped_and_names_the_indicator(client, login, targets_world):
    w = targets_world
    login(w.steward)
    page = client.get("/admin/indicator_targets/").text
    assert "Tỷ lệ người hoàn thành cai nghiện được quản lý sau cai nghiện" in page
    assert "Tỷ lệ xã trọng điểm có hoạt động phòng ngừa" not in page
    assert "tối thiểu" in page and "31/12/2022" in page
    assert client.get(f"/admin/indicator_targets/details/?id={w.target_b.id}").status_code == 404
    assert client.get(f"/admin/indicator_targets/details/?id={w.target_a.id}").status_code == 200
    assert client.get(f"/admin/indicator_targets/edit/?id={w.target_a.id}").status_code == 403
    export = client.get("/admin/indicator_targets/export/csv/").text
    assert "post_rehab_management_rate" in export and "key_communes_prevention" not in export
    login(w.admin)
    page = client.get("/admin/indicator_targets/").text
    assert "Tỷ lệ xã trọng điểm có hoạt động phòng ngừa" in page


def test_an_admin_creates_a_target_with_an_indicator_from_the_list(client, login, targets_world, db):
    w = targets_world
    login(w.admin)
    page = client.get("/admin/indicator_targets/new/")
    assert 'value="community_model_share"' in page.text and "Tỷ lệ xã thực hiện mô hình cai nghiện" in page.text
    data = {"csrf_token": csrf_token_from(page.text), "plan": str(w.plan.id), "scope_unit": str(w.province_b.id),
            "indicator_code": "no_such_indicator", "direction": "at_least", "value": "40", "baseline": "",
            "baseline_note": " ", "deadline": "2026-12-31"}
    assert client.post("/admin/indicator_targets/new/", data=data).status_code == 200
    assert client.post("/admin/indicator_targets/new/", data={**data, "indicator_code": "community_model_share",
                                                              "value": "140"}).status_code == 200
    response = client.post("/admin/indicator_targets/new/", data={**data, "indicator_code": "community_model_share"})
    assert response.status_code == 302
    created = db.session.execute(select(IndicatorTarget).where(
        IndicatorTarget.indicator_code == "community_model_share")).scalar_one()
    assert (created.scope_unit_id, float(created.value), created.baseline, created.baseline_note) == (
        w.province_b.id, 40.0, None, "")
    lookup = client.get("/admin/indicator_targets/ajax/lookup/?name=scope_unit&query=vinh long").json
    assert [label.split(" ")[0] for _id, label in lookup] == ["86"]
