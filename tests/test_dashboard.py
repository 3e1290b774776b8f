"""The dashboard: each role's sections within its scope, nothing of another province, the ranking of districts by
gap to the target on a hand-made case, the gate (held-back reports) and completeness beside each figure, a zero
denominator shown as a dash, charts drawn by the service (inline SVG, nothing external), a bounded number of
queries whatever the number of communes, and commune reporters refused."""
import re
from datetime import date

import pytest
from sqlalchemy import event

from service.accounts.scope import Scope
from service.aggregation import dashboard
from service.aggregation.models import IndicatorTarget
from service.common.time import local_today
from service.facilities.operations import record_census, set_capacity
from service.flags.models import Flag
from service.forms.periods import Period
from service.forms.registry import get_form
from service.submissions.models import Submission
from service.training.models import RoleCategory, StaffMember, TrainingPlan, TrainingTarget

PERIOD = "2024Q2"
SECTIONS = ("indicators", "ranking", "completeness", "flags", "training", "occupancy")


def report_values(addicts, treated, **changes):
    values = {
        "addicts_with_record": addicts, "users_with_record": 50, "treated_total": treated,
        "treated_compulsory": treated, "treated_voluntary_facility": 0, "treated_community": 0,
        "treated_substitution": 0, "counselled_screened": treated, "completed": 0, "post_rehab_managed": 0,
        "vocational_supported": 0, "employed_after_rehab": 0, "relapsed": 0, "prevention_reached": 10,
        "key_commune_class": "none", "drug_free": False, "community_model": True,
    }
    values.update(changes)
    return values


@pytest.fixture
def world(db, make_unit, make_user, make_facility):
    """Province A (2024 list): district Một (30 of 100 addicts treated in its clean report; a second report, all
    treated, is held back by an open error flag), district Hai (70 of 100, late); a target of 80 % treated for
    the province. Province B: 90 of 100, its own flag rule. A facility in each province, a training target."""

    class W:
        pass

    w = W()
    w.province_a = make_unit("province", edition=2024, name="Tỉnh An Bảng")
    w.district_1 = make_unit("district", w.province_a, name="Huyện Một Bảng")
    w.district_2 = make_unit("district", w.province_a, name="Huyện Hai Bảng")
    w.commune_1x = make_unit("commune", w.district_1, name="Xã Một X Bảng")
    w.commune_1y = make_unit("commune", w.district_1, name="Xã Một Y Bảng")
    w.commune_2x = make_unit("commune", w.district_2, name="Xã Hai X Bảng")
    w.commune_2y = make_unit("commune", w.district_2, name="Xã Hai Y Bảng")  # has not reported
    w.province_b = make_unit("province", edition=2024, name="Tỉnh Bình Bảng")
    w.district_b = make_unit("district", w.province_b, name="Huyện Bình Bảng")
    w.commune_b = make_unit("commune", w.district_b, name="Xã Bình Bảng")
    w.admin = make_user("admin")
    w.form = get_form("commune_rehab")
    w.period = Period.parse(PERIOD)

    def submit(unit, values, on_time=True):
        row = Submission(form_code=w.form.code, form_version=1, period=PERIOD, period_type="quarter",
                         org_unit_id=unit.id, version=1, is_current=True, values=values, submitted_by_id=w.admin.id,
                         channel="web", due_date=date(2024, 7, 15), on_time=on_time)
        db.session.add(row)
        db.session.flush()
        return row

    submit(w.commune_1x, report_values(100, 30))
    held = submit(w.commune_1y, report_values(100, 100))
    submit(w.commune_2x, report_values(100, 70), on_time=False)
    b_report = submit(w.commune_b, report_values(100, 90))

    def flag(submission, unit, rule, severity="error"):
        db.session.add(Flag(subject="report", submission_id=submission.id, org_unit_id=unit.id, form_code=w.form.code,
                            period=PERIOD, rule=rule, severity=severity, status="open", message_vi="Lỗi thử",
                            message_en="Test error", observed={}, values_hash="x"))

    flag(held, w.commune_1y, "C01")
    flag(b_report, w.commune_b, "ZB99", "warning")

    w.plan = TrainingPlan(code="KH-BANG", name="Kế hoạch thử bảng")
    db.session.add(w.plan)
    db.session.flush()
    db.session.add(IndicatorTarget(plan_id=w.plan.id, scope_unit_id=w.province_a.id, indicator_code="treatment_rate",
                                   direction="at_least", value=80, deadline=date(2025, 12, 31)))
    role = RoleCategory(code="tu_van_bang", name_vi="Cán bộ tư vấn thử", name_en="Test counsellors")
    db.session.add(role)
    db.session.flush()
    db.session.add(TrainingTarget(plan_id=w.plan.id, scope_unit_id=w.province_a.id, role_category_id=role.id,
                                  metric="certified", percent=80, deadline=date(2030, 12, 31)))

    today = local_today()
    kind = {"facility_type": "commune_group"}
    w.facility = make_facility(w.commune_1x, code="CS-BANG-A", name="Cơ sở An Bảng", **kind)
    w.facility_b = make_facility(w.commune_b, code="CS-BANG-B", name="Cơ sở Bình Bảng", **kind)
    for facility, current in ((w.facility, 30), (w.facility_b, 10)):
        set_capacity(w.admin, facility, {"compulsory": 40}, date(2024, 1, 1), today=today)
        record_census(w.admin, facility, today, {"compulsory": {"current_count": current}}, today=today)
    for number in range(2):
        db.session.add(StaffMember(staff_code=f"NV-BANG-{number}", full_name=f"Cán bộ {number}", sex="F",
                                   role_category_id=role.id, org_unit_id=w.commune_1x.id, facility_id=w.facility.id))
    db.session.flush()

    w.steward = make_user("data_steward", scope=w.province_a)
    w.coordinator = make_user("training_coordinator", scope=w.province_a)
    w.manager = make_user("facility_manager", scope=w.commune_1x, facility=w.facility)
    w.reporter = make_user("commune_reporter", scope=w.commune_1x)
    return w


def page(client, login, user, **args):
    login(user)
    response = client.get("/admin/dashboard/", query_string=args)
    return response


def section_ids(html):
    return re.findall(r'<section[^>]*id="section-([a-z]+)"', html)


def ranking_codes(html):
    table = html.split('id="ranking"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr id="rank-\d+" data-code="([^"]+)"', table)


def row_html(html, row_id):
    match = re.search(rf'<tr id="{re.escape(row_id)}".*?</tr>', html, re.S)
    assert match, row_id
    return match.group(0)


# --- the figures ---------------------------------------------------------------------------------------------


def test_districts_are_ranked_by_gap_to_the_province_target_with_completeness_beside(world):
    result = dashboard.programme(world.form, world.period, Scope(world.steward), "treatment_rate")
    assert result.level == "district"
    assert [row.unit.name for row in result.ranking] == ["Huyện Một Bảng", "Huyện Hai Bảng"]
    one, two = result.ranking
    # the held-back report (all treated) is not counted: 30 / 100, 50 points from 80 %
    assert (one.measure.value, one.measure.distance, one.measure.target_value) == (30.0, 50.0, 80.0)
    assert (one.aggregate.communes_total, one.aggregate.communes_reported, one.aggregate.held_back) == (2, 2, 1)
    assert (two.measure.value, two.measure.distance) == (70.0, 10.0)
    assert (two.aggregate.communes_reported, two.missing, two.on_time, two.late) == (1, 1, 0, 1)
    # the province: 100 / 200 from the same clean reports, against the same target
    treatment = next(item for item in result.measures if item.indicator.code == "treatment_rate")
    assert (treatment.value, treatment.numerator, treatment.denominator, treatment.met) == (50.0, 100, 200, False)
    assert (result.total.communes_total, result.total.communes_reported, result.total.held_back) == (4, 3, 1)
    # nobody completed rehab: no value, no error
    post_rehab = next(item for item in result.measures if item.indicator.code == "post_rehab_management_rate")
    assert post_rehab.value is None and post_rehab.denominator == 0
    # the trend: the period and the three quarters before it, oldest first
    assert [point.period.code for point in result.trend] == ["2023Q3", "2023Q4", "2024Q1", "2024Q2"]
    assert [point.measure.value for point in result.trend] == [None, None, None, 50.0]


def test_without_a_target_units_are_ranked_by_value_lowest_first(world):
    result = dashboard.programme(world.form, world.period, Scope(world.steward), "counselling_rate")
    assert [row.measure.target for row in result.ranking] == [None, None]
    assert [row.unit.name for row in result.ranking] == ["Huyện Một Bảng", "Huyện Hai Bảng"]
    national = dashboard.programme(world.form, world.period, Scope(world.admin), "treatment_rate")
    assert national.level == "province"
    # province A is 30 points from its target; B has none and comes after it
    assert [row.unit.name for row in national.ranking] == ["Tỉnh An Bảng", "Tỉnh Bình Bảng"]


def test_the_latest_period_with_reports_is_the_default(world):
    assert dashboard.latest_reported_period(world.form, Scope(world.steward), local_today()) == world.period


def _add_report(world, db, unit, period_code, values):
    period = Period.parse(period_code)
    row = Submission(form_code=world.form.code, form_version=1, period=period_code, period_type=period.kind,
                     org_unit_id=unit.id, version=1, is_current=True, values=values, submitted_by_id=world.admin.id,
                     channel="web", due_date=period.end, on_time=True)
    db.session.add(row)
    db.session.flush()
    return row


@pytest.mark.parametrize("role", ["steward", "admin"])
def test_the_fast_latest_period_is_the_one_of_the_whole_table(world, db, role):
    """latest_reported_period reads the last two years' codes first: the same answer as the query over every
    period, whether the latest report is older than that, inside it, or after `today`."""
    from service.submissions.queries import _latest_period as every_period
    from service.submissions.queries import latest_reported_period

    scope = Scope(getattr(world, role))
    for today in (date(2024, 8, 1), date(2025, 1, 10), date(2026, 3, 1)):
        assert latest_reported_period(world.form, scope, today) == every_period(world.form, scope, today)
    _add_report(world, db, world.commune_1x, "2025Q1", report_values(10, 5))
    _add_report(world, db, world.commune_1x, "2026Q4", report_values(10, 5))
    for today in (date(2024, 8, 1), date(2025, 6, 1), date(2026, 3, 1), date(2027, 2, 1), None):
        assert latest_reported_period(world.form, scope, today) == every_period(world.form, scope, today)
    assert latest_reported_period(world.form, scope, date(2026, 3, 1)) == Period.parse("2025Q1")
    assert latest_reported_period(world.form, scope) == Period.parse("2026Q4")


def test_the_trend_adds_up_the_same_figures_as_the_full_aggregate(world, db):
    """An earlier period of the trend adds up only the indicator's parts: the same value, completeness and held-back
    count as the full aggregate of that period, and nothing of another scope."""
    from service.aggregation.queries import aggregate

    _add_report(world, db, world.commune_1x, "2024Q1", report_values(40, 10))
    held = _add_report(world, db, world.commune_1y, "2024Q1", report_values(40, 40, key_commune_class="I"))
    db.session.add(Flag(subject="report", submission_id=held.id, org_unit_id=world.commune_1y.id,
                        form_code=world.form.code, period="2024Q1", rule="C01", severity="error", status="open",
                        message_vi="Lỗi thử", message_en="Test error", observed={}, values_hash="y"))
    _add_report(world, db, world.commune_2x, "2024Q1", report_values(60, 30, key_commune_class="II"))
    _add_report(world, db, world.commune_b, "2023Q4", report_values(20, 15))
    db.session.flush()
    for user in (world.steward, world.admin):
        scope = Scope(user)
        for code in ("treatment_rate", "key_communes_prevention", "community_model_share"):
            result = dashboard.programme(world.form, world.period, scope, code)
            for point in result.trend:
                full = dashboard.total_of(aggregate(world.form, point.period, "province", scope=scope), point.period)
                expected = dashboard.measure(result.indicator, full.values)
                assert (point.measure.value, point.measure.numerator, point.measure.denominator) == (
                    expected.value, expected.numerator, expected.denominator)
                assert (point.total.communes_total, point.total.communes_reported, point.total.held_back) == (
                    full.communes_total, full.communes_reported, full.held_back)
    values = [point.measure.value for point in dashboard.programme(world.form, world.period, Scope(world.steward),
                                                                   "treatment_rate").trend]
    assert values[2] == 40.0  # 2024Q1: 10 + 30 of 40 + 60, the held-back report left out


def test_the_programme_sections_run_the_same_queries_whatever_the_number_of_communes(world, db, make_unit):
    def count_queries():
        statements = []

        def listener(*args):
            statements.append(args[2])

        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            dashboard.programme(world.form, world.period, Scope(world.steward), "treatment_rate")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    before = count_queries()
    for number in range(6):
        unit = make_unit("commune", world.district_2, name=f"Xã Thêm {number}")
        db.session.add(Submission(form_code=world.form.code, form_version=1, period=PERIOD, period_type="quarter",
                                  org_unit_id=unit.id, version=1, is_current=True, values=report_values(10, 5),
                                  submitted_by_id=world.admin.id, channel="web", due_date=date(2024, 7, 15),
                                  on_time=True))
    db.session.flush()
    assert count_queries() == before


# --- the page ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role, expected", [
    ("admin", SECTIONS),
    ("steward", SECTIONS),
    ("coordinator", ("training", "indicators", "ranking", "completeness", "flags", "occupancy")),
    ("manager", ("training", "occupancy", "flags")),
])
def test_each_role_sees_its_sections(world, client, login, role, expected):
    response = page(client, login, getattr(world, role))
    assert response.status_code == 200
    assert tuple(section_ids(response.text)) == expected


def test_a_steward_sees_nothing_of_another_province(world, client, login):
    html = page(client, login, world.steward, period=PERIOD).text
    for name in ("Tỉnh An Bảng", "Huyện Một Bảng", "Huyện Hai Bảng", "Cơ sở An Bảng", "C01"):
        assert name in html
    for name in ("Tỉnh Bình Bảng", "Huyện Bình Bảng", "Xã Bình Bảng", "Cơ sở Bình Bảng", "ZB99"):
        assert name not in html
    admin_html = page(client, login, world.admin, period=PERIOD).text
    assert "Tỉnh Bình Bảng" in admin_html and "ZB99" in admin_html


def test_a_facility_manager_sees_their_facility_and_no_commune_data(world, client, login):
    html = page(client, login, world.manager).text
    assert "Cơ sở An Bảng" in html and "Cán bộ tư vấn thử" in html
    assert 'id="training-' in html
    for name in ("Cơ sở Bình Bảng", "Xã Một X Bảng", "Huyện Một Bảng", "Tỉnh Bình Bảng", "C01", 'id="ranking"'):
        assert name not in html
    assert "75,0 %" in row_html(html, "occupancy-compulsory")  # 30 of 40 places


def test_the_page_ranks_districts_worst_first_and_shows_completeness(world, client, login):
    html = page(client, login, world.steward, period=PERIOD, indicator="treatment_rate").text
    assert ranking_codes(html) == [world.district_1.code, world.district_2.code]
    first = row_html(html, f"rank-{world.district_1.id}")
    assert "30,0 %" in first and '<td class="text-right gap">50,0</td>' in first
    assert re.search(r'class="small text-danger held-back">1\b', first)
    assert re.search(r'class="reported">2</span>/<span class="total">2<', first)
    assert re.search(r'class="reported">1</span>/<span class="total">2<', row_html(html, f"rank-{world.district_2.id}"))
    assert "C01" in row_html(html, "flag-rule-C01-error")
    assert "flt" in row_html(html, "flag-rule-C01-error")  # a link to the flag list filtered by rule


def test_a_zero_denominator_shows_a_dash(world, client, login):
    html = page(client, login, world.steward, period=PERIOD).text
    row = row_html(html, "indicator-post_rehab_management_rate")
    assert '<span class="value">—</span>' in row
    assert "0 / 0" in row


def test_charts_are_inline_svg_and_nothing_is_loaded_from_elsewhere(world, client, login):
    html = page(client, login, world.admin, period=PERIOD).text
    assert html.count("<svg") >= 6
    assert 'class="target-mark"' in html
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html, re.I):
        assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', tag, re.I), tag


def test_a_bad_period_is_said_and_the_latest_shown(world, client, login):
    response = page(client, login, world.steward, period="2024X9")
    assert response.status_code == 200
    assert 'value="2024Q2" selected' in response.text


def test_commune_reporters_are_refused(world, client, login):
    assert page(client, login, world.reporter).status_code == 403


def test_the_home_page_links_to_the_dashboard(world, client, login):
    for user in (world.steward, world.coordinator, world.manager, world.admin):
        login(user)
        assert "/admin/dashboard/" in client.get("/admin/").text


def test_a_2025_province_is_broken_down_into_communes(db, make_unit, make_user, client, login):
    province = make_unit("province", edition=2025, name="Tỉnh Mới Bảng")
    low = make_unit("commune", province, name="Xã Mới Thấp")
    high = make_unit("commune", province, name="Xã Mới Cao")
    admin = make_user("admin")
    for unit, treated in ((high, 9), (low, 1)):
        db.session.add(Submission(form_code="commune_rehab", form_version=1, period="2025Q4", period_type="quarter",
                                  org_unit_id=unit.id, version=1, is_current=True, values=report_values(10, treated),
                                  submitted_by_id=admin.id, channel="web", due_date=date(2026, 1, 15), on_time=True))
    db.session.flush()
    steward = make_user("data_steward", scope=province)
    result = dashboard.programme(get_form("commune_rehab"), Period.parse("2025Q4"), Scope(steward), None)
    assert result.level == "commune"
    assert [row.unit.name for row in result.ranking] == ["Xã Mới Thấp", "Xã Mới Cao"]
    html = page(client, login, steward, period="2025Q4").text
    assert ranking_codes(html) == [low.code, high.code]
    # the trend reaches back over the reform into the 2024 list: measured, not refused
    assert 'id="trend-2025Q1"' in html

