"""External consistency of the commune reports with the facility census (rules X01, X02): the province rows by
hand, the suite and its tolerance, the scheduled run with Great Expectations, the province flags' lifecycle, and
the aggregation gate that province flags never touch."""
from datetime import date

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from service.extensions import db as _db
from service.facilities.models import Census
from service.facilities.operations import record_census
from service.flags.models import Flag
from service.forms.registry import get_form
from service.rules.suites import rules_for, suites_for
from service.submissions.operations import submit
from service.submissions.queries import clean_current_submissions
from service.validation import consistency
from service.validation.models import RunRuleResult
from tests.test_submissions import FORM, Place, good_values

TODAY = date(2026, 11, 22)


def census(facility, day, corrects=None, **lines):
    """census(facility, day, compulsory=(admissions, current_count), voluntary=(...))"""
    figures = {modality: {"admissions": admissions, "discharges": 0, "current_count": count}
               for modality, (admissions, count) in lines.items()}
    return record_census(None, facility, day, figures, corrects=corrects,
                         reason="sửa số liệu" if corrects else None, today=TODAY)


@pytest.fixture
def land(make_unit, make_user, make_facility):
    """Đắk Lắk (two communes, four facilities with censuses) and another province with one facility.

    Period 2026Q3 (1 July – 30 September 2026), people in rehab at Đắk Lắk's facilities:
    compulsory = 6 (centre's census of 24/06) + 2 + 1 (its censuses in the period, the 05/08 one as corrected)
                 + 3 (clinic: no census before the start, admissions only) + 3 (late: census on the first day,
                 its opening count only) = 15; the closed facility and the census after the end do not count.
    voluntary  = 5 (centre, 24/06) + 2 (clinic) = 7."""
    p = Place()
    p.province = make_unit("province", edition=2025, code="66", name="Tỉnh Đắk Lắk")
    p.commune_a = make_unit("commune", p.province, code="24001")
    p.commune_b = make_unit("commune", p.province, code="24002")
    p.other_province = make_unit("province", edition=2025, code="86")
    p.other_commune = make_unit("commune", p.other_province, code="29001")
    p.user = make_user("admin")
    p.form = get_form(FORM)
    p.period = p.form.parse_period("2026Q3")

    p.centre = make_facility(p.province)  # on the province itself
    census(p.centre, date(2026, 5, 1), compulsory=(0, 99))  # not the latest before the start
    census(p.centre, date(2026, 6, 24), compulsory=(1, 6), voluntary=(1, 5))  # opening counts 6 and 5
    census(p.centre, date(2026, 7, 8), compulsory=(2, 8))  # + 2
    wrong = census(p.centre, date(2026, 8, 5), compulsory=(9, 15))  # corrected below: does not count
    census(p.centre, date(2026, 8, 5), corrects=wrong, compulsory=(1, 7))  # + 1
    census(p.centre, date(2026, 10, 7), compulsory=(50, 40))  # after the end
    p.clinic = make_facility(p.commune_a)  # on a commune of the province
    census(p.clinic, date(2026, 7, 15), compulsory=(3, 3), voluntary=(2, 2))  # + 3, + 2
    p.late = make_facility(p.commune_b)
    census(p.late, date(2026, 7, 1), compulsory=(4, 3))  # on the first day: opening 3, its admissions came before
    p.closed = make_facility(p.province)
    census(p.closed, date(2026, 1, 10), compulsory=(0, 40))
    p.closed.status, p.closed.closed_on = "closed", date(2026, 3, 31)
    p.other = make_facility(p.other_province)  # another province: its own row
    census(p.other, date(2026, 6, 30), compulsory=(0, 50))
    _db.session.flush()
    return p


def report(land, commune, **changes):
    submission = submit(land.user, land.form, land.period, commune, good_values(**changes), "api")
    assert [v.rule for v in submission.verdicts if v.severity == "error"] == []
    return submission


def both_report(land):
    """16 compulsory and 8 voluntary reported (good_values: 8 and 4 per commune)."""
    report(land, land.commune_a)
    report(land, land.commune_b)


def run(land):
    from service.validation.runner import run_validation

    return run_validation(land.form, [land.period], "manual", data_docs=False)


def province_flag(unit, rule):
    return _db.session.execute(select(Flag).where(Flag.subject == "province", Flag.org_unit_id == unit.id,
                                                  Flag.rule == rule)).scalar_one_or_none()


# --- the rows --------------------------------------------------------------------------------------------

def test_gap_is_relative_to_the_larger_figure_and_empty_when_both_are_zero():
    assert consistency.gap_pct(16, 15) == 6.25
    assert consistency.gap_pct(15, 16) == 6.25
    assert consistency.gap_pct(0, 50) == 100.0
    assert consistency.gap_pct(2, 3) == 33.33
    assert consistency.gap_pct(0, 0) is None


def test_province_rows_by_hand(land, db):
    both_report(land)
    rows = {row["province_id"]: row for row in consistency.province_rows(FORM, land.period)}
    assert rows == {
        land.province.id: {"province_id": land.province.id, "communes_reported": 2,
                           "reported_compulsory": 16, "census_compulsory": 15, "compulsory_gap_pct": 6.25,
                           "reported_voluntary": 8, "census_voluntary": 7, "voluntary_gap_pct": 12.5},
        land.other_province.id: {"province_id": land.other_province.id, "communes_reported": 0,
                                 "reported_compulsory": 0, "census_compulsory": 50, "compulsory_gap_pct": 100.0,
                                 "reported_voluntary": 0, "census_voluntary": 0, "voluntary_gap_pct": None},
    }


def test_only_current_versions_count_and_a_province_without_census_has_a_row(land, db, make_unit):
    report(land, land.commune_a, treated_compulsory=0, treated_total=12)
    report(land, land.commune_a)  # the current version: 8
    bare = make_unit("province", edition=2025)
    report(land, make_unit("commune", bare), treated_compulsory=3, treated_total=15)
    rows = {row["province_id"]: row for row in consistency.province_rows(FORM, land.period)}
    assert rows[land.province.id]["reported_compulsory"] == 8
    assert rows[bare.id] == {"province_id": bare.id, "communes_reported": 1, "reported_compulsory": 3,
                             "census_compulsory": 0, "compulsory_gap_pct": 100.0, "reported_voluntary": 4,
                             "census_voluntary": 0, "voluntary_gap_pct": 100.0}


def test_periods_of_the_other_unit_list_have_no_rows(land, db):
    assert consistency.province_rows(FORM, land.form.parse_period("2025Q1")) == []


def test_the_rows_take_the_same_number_of_queries_whatever_the_number_of_facilities(land, db, make_facility):
    def statements():
        seen = []

        def count(*args):
            seen.append(1)

        event.listen(_db.engine, "before_cursor_execute", count)
        try:
            consistency.province_rows(FORM, land.period)
        finally:
            event.remove(_db.engine, "before_cursor_execute", count)
        return len(seen)

    both_report(land)
    _db.session.flush()
    before = statements()
    days = [date(2026, 6, 10), date(2026, 6, 17), date(2026, 6, 24), date(2026, 7, 2), date(2026, 7, 9)]
    for number in range(12):
        facility = make_facility(land.commune_a if number % 2 else land.other_province)
        for day in days:
            census(facility, day, compulsory=(1, 2), voluntary=(1, 1))
    _db.session.flush()
    assert statements() == before == 3  # the reports, the opening counts, the admissions


# --- the suite -------------------------------------------------------------------------------------------

def test_the_suite_is_its_own_form_with_warning_rules_that_do_not_clash(app):
    suites = suites_for(consistency.SUITE_FORM)
    assert [(suite.name, suite.form, suite.kind) for suite in suites] == [
        ("facility_census.external", "facility_census", "external")]
    rules = rules_for(consistency.SUITE_FORM)
    assert [(rule.rule, rule.severity) for rule in rules] == [("X01", "warning"), ("X02", "warning")]
    assert all(rule.message_vi and rule.message_en and len(rule.columns) == 3 for rule in rules)
    assert not {rule.rule for rule in rules} & {rule.rule for rule in rules_for(FORM)}  # one run counts both


def test_the_suite_loads_in_great_expectations(app):
    import great_expectations as gx

    for suite in suites_for(consistency.SUITE_FORM):
        loaded = gx.ExpectationSuite(**{k: suite.document[k] for k in ("name", "expectations", "meta")})
        assert [e.meta["rule"] for e in loaded.expectations] == ["X01", "X02"]


def test_the_tolerance_setting_replaces_the_suites_max_value(app, monkeypatch):
    monkeypatch.delenv(consistency.TOLERANCE_SETTING, raising=False)
    with app.app_context():
        monkeypatch.delitem(app.config, consistency.TOLERANCE_SETTING, raising=False)
        assert {rule.kwargs["max_value"] for rule in consistency.rules()} == {25}
        monkeypatch.setenv(consistency.TOLERANCE_SETTING, "12.5")
        assert {rule.kwargs["max_value"] for rule in consistency.rules()} == {12.5}
        monkeypatch.setitem(app.config, consistency.TOLERANCE_SETTING, 40)  # the configuration comes first
        assert {item["kwargs"]["max_value"] for item in consistency.expectations()} == {40}
        monkeypatch.setitem(app.config, consistency.TOLERANCE_SETTING, "beaucoup")
        with pytest.raises(ValueError, match=consistency.TOLERANCE_SETTING):
            consistency.rules()


@pytest.mark.parametrize("tolerance", [None, 0, 6.25, 10, 50, 100])
def test_great_expectations_and_the_evaluator_give_the_same_verdicts(app, monkeypatch, tolerance):
    from service.validation.runner import validate_province_rows

    monkeypatch.delenv(consistency.TOLERANCE_SETTING, raising=False)
    figures = [(0, 0), (16, 15), (15, 16), (0, 50), (50, 0), (8, 9), (10, 12), (1, 4), (30, 40), (100, 75)]
    rows = []
    for index, ((reported_c, census_c), (reported_v, census_v)) in enumerate(zip(figures, reversed(figures),
                                                                                   strict=True)):
        rows.append({"province_id": index + 1, "communes_reported": 1,
                     "reported_compulsory": reported_c, "census_compulsory": census_c,
                     "compulsory_gap_pct": consistency.gap_pct(reported_c, census_c),
                     "reported_voluntary": reported_v, "census_voluntary": census_v,
                     "voluntary_gap_pct": consistency.gap_pct(reported_v, census_v)})
    with app.app_context():
        monkeypatch.setitem(app.config, consistency.TOLERANCE_SETTING, tolerance)
        by_evaluator = {(pid, v.rule, tuple(v.observed.items())) for pid, verdicts in
                        consistency.evaluate_rows(rows).items() for v in verdicts}
        failures, counts, _result = validate_province_rows(rows)
        by_gx = {(pid, v.rule, tuple(v.observed.items())) for pid, verdicts in failures.items() for v in verdicts}
        assert by_evaluator == by_gx
        assert counts["X01"] == (len(rows), len({pid for pid, rule, _o in by_gx if rule == "X01"}))


# --- the scheduled run and the flags ---------------------------------------------------------------------

def test_a_gap_within_the_tolerance_raises_nothing_and_one_beyond_a_warning_on_the_province(land, db):
    both_report(land)
    validation = run(land)
    assert validation.status == "completed"
    assert province_flag(land.province, "X01") is None and province_flag(land.province, "X02") is None
    flag = province_flag(land.other_province, "X01")
    assert (flag.severity, flag.status, flag.form_code, flag.period) == ("warning", "open", FORM, "2026Q3")
    assert flag.submission_id is None and flag.facility_id is None
    assert flag.first_run_id == flag.last_run_id == validation.id
    assert flag.observed == {"reported_compulsory": 0, "census_compulsory": 50, "compulsory_gap_pct": 100.0}
    assert "cai nghiện bắt buộc" in flag.message_vi and "census" in flag.message_en
    assert province_flag(land.other_province, "X02") is None  # nothing to compare: both 0
    results = {r.rule: (r.severity, r.evaluated, r.failed) for r in _db.session.scalars(
        select(RunRuleResult).where(RunRuleResult.run_id == validation.id))}
    assert results["X01"] == ("warning", 2, 1) and results["X02"] == ("warning", 2, 0)
    assert "C01" in results  # the reports' own rules in the same run
    assert validation.flags_opened == 1
    assert "facility_census.external" in validation.suite_hashes and "commune_rehab.external" in validation.suite_hashes


def test_fixing_the_data_resolves_the_flag_on_the_next_run_and_new_figures_reopen_it(land, db):
    report(land, land.commune_a)
    report(land, land.commune_b, treated_compulsory=0, treated_total=12)  # 8 reported against 15: 46.67 %
    run(land)
    flag = province_flag(land.province, "X01")
    assert flag.status == "open"
    assert flag.observed == {"reported_compulsory": 8, "census_compulsory": 15, "compulsory_gap_pct": 46.67}
    report(land, land.commune_b)  # the commune corrects its report: 16 against 15
    fixed = run(land)
    assert flag.status == "resolved" and flag.resolved_at is not None and flag.last_run_id == fixed.id
    assert fixed.flags_closed >= 1
    report(land, land.commune_b, treated_compulsory=1, treated_total=13)  # 9 against 15: 40 %
    again = run(land)
    assert flag.status == "open" and flag.observed["compulsory_gap_pct"] == 40.0 and again.flags_opened >= 1


def test_a_flag_accepted_for_these_figures_stays_accepted(land, db, make_user):
    from service.flags import operations

    report(land, land.commune_a)
    report(land, land.commune_b, treated_compulsory=0, treated_total=12)
    run(land)
    flag = province_flag(land.province, "X01")
    steward = make_user("data_steward", scope=land.province)
    operations.accept_flag(steward, flag, "Một số người cai nghiện bắt buộc đến từ tỉnh khác.")
    run(land)
    assert flag.status == "accepted"


def test_the_census_correction_is_seen_by_the_next_run(land, db):
    both_report(land)
    run(land)
    flag = province_flag(land.other_province, "X01")
    assert flag.status == "open"
    latest = _db.session.scalars(select(Census).where(Census.facility_id == land.other.id)).one()
    census(land.other, date(2026, 6, 30), corrects=latest, compulsory=(0, 0))  # the census was entered wrongly
    run(land)
    assert flag.status == "resolved"


def test_the_tolerance_setting_changes_the_verdict(land, db, app, monkeypatch):
    monkeypatch.delenv(consistency.TOLERANCE_SETTING, raising=False)
    both_report(land)  # gaps 6.25 % (compulsory) and 12.5 % (voluntary)
    monkeypatch.setitem(app.config, consistency.TOLERANCE_SETTING, 10)
    run(land)
    assert province_flag(land.province, "X01") is None
    assert province_flag(land.province, "X02").observed == {"reported_voluntary": 8, "census_voluntary": 7,
                                                            "voluntary_gap_pct": 12.5}
    monkeypatch.setitem(app.config, consistency.TOLERANCE_SETTING, 5)
    run(land)
    assert province_flag(land.province, "X01").status == "open"
    monkeypatch.setitem(app.config, consistency.TOLERANCE_SETTING, 100)
    run(land)
    assert {flag.status for flag in _db.session.scalars(select(Flag).where(Flag.subject == "province"))} == {
        "resolved"}


def test_a_province_flag_never_holds_a_commune_report_back(land, db):
    report(land, land.commune_a)
    report(land, land.commune_b, treated_compulsory=0, treated_total=12)
    run(land)
    flag = province_flag(land.province, "X01")
    assert flag.status == "open"
    clean = {s.org_unit_id for s in _db.session.scalars(clean_current_submissions(FORM, "2026Q3"))}
    assert clean == {land.commune_a.id, land.commune_b.id}
    flag.severity = "error"  # even an error on a province is not a report's flag
    _db.session.flush()
    clean = {s.org_unit_id for s in _db.session.scalars(clean_current_submissions(FORM, "2026Q3"))}
    assert clean == {land.commune_a.id, land.commune_b.id}


def test_one_flag_per_province_rule_and_period(land, db):
    def flag(period="2026Q3"):
        return Flag(subject="province", org_unit_id=land.province.id, form_code=FORM, period=period, rule="X01",
                    severity="warning", status="open", message_vi="x", message_en="x", observed={},
                    values_hash="0" * 64)

    _db.session.add(flag())
    _db.session.add(flag("2026Q2"))
    _db.session.flush()
    savepoint = _db.session.begin_nested()
    _db.session.add(flag())
    with pytest.raises(IntegrityError):
        _db.session.flush()
    savepoint.rollback()


def test_the_data_docs_of_a_run_carry_the_province_page(land, db):
    from service.validation.docs import unpack
    from service.validation.runner import run_validation

    both_report(land)
    validation = run_validation(land.form, [land.period], "manual", data_docs=True)
    pages = unpack(validation.data_docs)
    assert set(pages) == {"2026Q3", "2026Q3:facility_census"}
    assert "facility_census.all" in pages["2026Q3:facility_census"]


def test_the_run_page_counts_province_rules_apart_from_the_reports(land, db, client, login):
    """#16 item 14: "2 reports checked, 0 failing" beside X01 failing read as a contradiction: the census rules
    are counted in provinces, in their own table, and said so in the summary."""
    both_report(land)
    validation = run(land)
    assert validation.reports_failing == 0
    login(land.user)
    html = client.get(f"/admin/validation_runs/report/{validation.id}").text
    reports_table = html[html.index('id="rules"'):html.index("</table>", html.index('id="rules"'))]
    province_table = html[html.index('id="province-rules"'):html.index("</table>", html.index('id="province-rules"'))]
    assert "<code>C01</code>" in reports_table and "<code>X01</code>" not in reports_table
    assert "<code>X01</code>" in province_table and "<code>X02</code>" in province_table
    assert "Số tỉnh không đạt" in province_table
    assert "kiểm tra cấp tỉnh: 1 không đạt" in html
