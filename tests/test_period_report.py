"""The periodic report of a province (and of a district): figures, draft mark and approval, indicators against
targets, training, completeness, flags; the page, the print page, the XLSX workbook, the CSV table and scope."""
import csv
import io
from datetime import UTC, date, datetime

import pytest

from service.aggregation.models import IndicatorTarget
from service.aggregation.reports import period_report
from service.approval.models import ApprovalEvent, PeriodLock
from service.flags.models import Flag
from service.forms.periods import Period
from service.forms.registry import get_form
from service.submissions.models import Submission
from service.training.models import Certificate, Course, RoleCategory, StaffMember, TrainingPlan, TrainingTarget
from tests.test_submissions import FORM, good_values

PERIOD = "2025Q1"  # reported on the 2024 unit list (districts exist)
QUERY = {"form": FORM, "period": PERIOD}


class World:
    pass


def report_of(db, user, unit, values, period=PERIOD, on_time=True):
    """A current report stored as such (the entry checks are not what this file tests)."""
    submission = Submission(form_code=FORM, form_version=1, period=period, period_type="quarter", org_unit=unit,
                            version=1, is_current=True, values=values, submitted_by=user, channel="web",
                            due_date=date(2025, 3, 14), on_time=on_time,
                            submitted_at=datetime(2025, 3, 10, 3, 0, tzinfo=UTC))
    db.session.add(submission)
    db.session.flush()
    return submission


def flag_on(db, submission, rule, severity, status="open", **columns):
    flag = Flag(subject="report", submission_id=submission.id, org_unit_id=submission.org_unit_id, form_code=FORM,
                period=submission.period, rule=rule, severity=severity, status=status,
                message_vi=f"Thông điệp {rule}", message_en=f"Message {rule}", observed={}, values_hash="h",
                **columns)
    db.session.add(flag)
    db.session.flush()
    return flag


@pytest.fixture
def world(db, make_unit, make_user):
    """Province An (2024 list): district A (communes a1, a2 – one named like a formula), district B (b1, b2);
    a1, a2 and b1 reported, b1 held back by an open error, a2 with a warning accepted with a justification; one
    treatment-rate target on the province; one training target; and another province with its own steward."""
    w = World()
    w.form = get_form(FORM)
    w.period = Period.parse(PERIOD)
    w.province = make_unit("province", edition=2024, code="P91", name="Tỉnh An Thử")
    w.district_a = make_unit("district", w.province, code="D911", name="Huyện A")
    w.district_b = make_unit("district", w.province, code="D912", name="Huyện B")
    w.a1 = make_unit("commune", w.district_a, code="C9111", name="=1+2 Xã Một")
    w.a2 = make_unit("commune", w.district_a, code="C9112", name="Xã Hai")
    w.b1 = make_unit("commune", w.district_b, code="C9121", name="Xã Ba")
    w.b2 = make_unit("commune", w.district_b, code="C9122", name="Xã Bốn")
    w.other = make_unit("province", edition=2024, code="P92", name="Tỉnh Bình Thử")
    w.other_district = make_unit("district", w.other, code="D921")
    w.other_commune = make_unit("commune", w.other_district, code="C9211")
    w.steward = make_user("data_steward", scope=w.province, full_name="Nguyễn Văn Duyệt")
    w.other_steward = make_user("data_steward", scope=w.other)
    w.admin = make_user("admin")
    w.reporter = make_user("commune_reporter", scope=w.a1)
    w.s_a1 = report_of(db, w.steward, w.a1, good_values(addicts_with_record=40, treated_total=20))
    w.s_a2 = report_of(db, w.steward, w.a2, good_values(addicts_with_record=60, treated_total=40), on_time=False)
    w.s_b1 = report_of(db, w.steward, w.b1, good_values(addicts_with_record=500, treated_total=1))
    report_of(db, w.steward, w.other_commune, good_values(addicts_with_record=7, treated_total=7))
    w.held = flag_on(db, w.s_b1, "C01", "error")
    w.accepted = flag_on(db, w.s_a2, "T01", "warning", status="accepted",
                         accepted_reason="Xã có đợt truy quét lớn trong quý", accepted_by_id=w.steward.id,
                         accepted_at=datetime(2025, 4, 2, 2, 30, tzinfo=UTC))
    plan = TrainingPlan(code="KH-AN", name="Kế hoạch thử")
    db.session.add(plan)
    db.session.flush()
    w.target = IndicatorTarget(plan_id=plan.id, scope_unit_id=w.province.id, indicator_code="treatment_rate",
                               direction="at_least", value=50, baseline=24.97, deadline=date(2025, 12, 31))
    role = RoleCategory(code="tu_van_an", name_vi="Cán bộ tư vấn", name_en="Counselling staff")
    course = Course(code="TV-AN", title="Tư vấn", topic="counselling", certifies=True)
    db.session.add_all([w.target, role, course])
    db.session.flush()
    db.session.add(TrainingTarget(plan_id=plan.id, scope_unit_id=w.province.id, role_category_id=role.id,
                                  metric="certified", percent=80, deadline=date(2025, 12, 31)))
    staff = [StaffMember(staff_code=f"NV-AN-{i}", full_name=f"Cán bộ {i}", sex="F", role_category_id=role.id,
                         org_unit_id=w.a1.id, start_date=date(2020, 1, 1)) for i in range(2)]
    db.session.add_all(staff)
    db.session.flush()
    db.session.add(Certificate(staff_id=staff[0].id, course_id=course.id, number="CC-1", issuer="Sở",
                               issued_on=date(2025, 2, 1)))
    db.session.flush()
    return w


def approve(db, unit, user, comment="Đã kiểm tra đủ"):
    db.session.add(PeriodLock(form_code=FORM, period=PERIOD, org_unit_id=unit.id, locked_by_id=user.id))
    db.session.add(ApprovalEvent(form_code=FORM, period=PERIOD, org_unit_id=unit.id, action="approve",
                                 comment=comment, user_id=user.id, at=datetime(2025, 4, 20, 1, 15, tzinfo=UTC)))
    db.session.flush()


def indicator(report, code):
    return next(row for row in report.indicators if row.indicator.code == code)


# --- the report as data ------------------------------------------------------------------------------------

def test_the_draft_report_of_a_province_counts_clean_reports_and_marks_itself_provisional(app, world):
    with app.test_request_context():
        report = period_report(world.form, world.period, world.province, None, date(2025, 5, 1))
        assert report.provisional and report.status_text == "CHƯA DUYỆT – số liệu tạm thời"
    figures = report.figures
    assert (figures.communes_total, figures.communes_reported, figures.held_back, figures.communes_aggregated) == (
        4, 3, 1, 2)
    assert figures.values["addicts_with_record"] == 100 and figures.values["treated_total"] == 60
    assert report.official.communes_total == 0
    rate = indicator(report, "treatment_rate")
    assert (rate.numerator, rate.denominator, rate.value) == (60, 100, 60.0)
    [target] = rate.targets
    assert target.target.id == world.target.id and target.met is True and target.distance == 0.0
    assert indicator(report, "counselling_rate").targets == []
    assert [point.period.code for point in report.trend] == ["2024Q2", "2024Q3", "2024Q4", "2025Q1"]
    assert rate.trend == [None, None, None, 60.0]


def test_the_sub_units_completeness_training_and_flags_of_the_province(app, world):
    with app.test_request_context():
        report = period_report(world.form, world.period, world.province, None, date(2025, 5, 1))
    assert report.sub_level == "district"
    rows = {row.unit.code: row for row in report.sub_units}
    assert set(rows) == {"D911", "D912"}
    a, b = rows["D911"], rows["D912"]
    assert (a.aggregate.communes_reported, a.aggregate.held_back, a.on_time, a.late, a.missing) == (2, 0, 1, 1, 0)
    assert (b.aggregate.communes_reported, b.aggregate.held_back, b.on_time, b.late, b.missing) == (1, 1, 1, 0, 1)
    assert (report.completeness.count("on_time"), report.completeness.count("late"),
            report.completeness.count("missing")) == (2, 1, 1)
    [training] = report.training
    assert (training.numerator, training.denominator, training.percent, training.on_date) == (
        1, 2, 50.0, date(2025, 3, 31))
    assert [flag.id for flag in report.open_flags] == [world.held.id]
    [accepted] = report.accepted_flags
    assert accepted.accepted_reason == "Xã có đợt truy quét lớn trong quý" and accepted.accepted_by == world.steward


def test_only_approved_communes_make_the_official_figures(app, db, world):
    approve(db, world.district_a, world.steward)
    with app.test_request_context():
        district = period_report(world.form, world.period, world.district_a, None, date(2025, 5, 1))
        province = period_report(world.form, world.period, world.province, None, date(2025, 5, 1))
        assert district.status_text == "ĐÃ DUYỆT bởi Nguyễn Văn Duyệt lúc 20/04/2025 08:15"
    assert district.approval.approved and district.approval.comment == "Đã kiểm tra đủ"
    assert district.figures.communes_total == 2 and district.figures.values["treated_total"] == 60
    # the province is not approved yet: provisional figures, of which district A's two communes are official
    assert province.provisional and province.official.communes_total == 2
    assert province.official.values["treated_total"] == 60 and province.figures.communes_total == 4
    assert {row.unit.code: row.approved for row in province.sub_units} == {"D911": True, "D912": False}

    approve(db, world.province, world.steward, comment="Duyệt toàn tỉnh")
    with app.test_request_context():
        province = period_report(world.form, world.period, world.province, None, date(2025, 5, 1))
    assert not province.provisional and province.approval.by == world.steward
    assert province.approval.comment == "Duyệt toàn tỉnh"
    assert province.figures is province.official and province.figures.communes_aggregated == 2
    assert all(row.approved for row in province.sub_units)


def test_a_district_under_an_approved_province_is_approved_with_it(app, db, world):
    approve(db, world.province, world.steward)
    with app.test_request_context():
        report = period_report(world.form, world.period, world.district_b, None, date(2025, 5, 1))
    assert report.approval.approved and report.approval.approving_unit.id == world.province.id
    assert report.sub_level == "commune"
    assert {row.unit.code for row in report.sub_units} == {"C9121", "C9122"}
    assert [flag.id for flag in report.open_flags] == [world.held.id] and report.accepted_flags == []


# --- the page and the print page ---------------------------------------------------------------------------

def test_the_page_shows_the_draft_mark_figures_targets_and_flags(client, login, world):
    login(world.steward)
    response = client.get("/admin/period-report/", query_string=QUERY)
    assert response.status_code == 200
    html = response.text
    assert "CHƯA DUYỆT – số liệu tạm thời" in html and 'class="draft-mark"' in html
    assert 'id="held-back">1<' in html and 'id="communes-reported">3<' in html
    assert "60,0 %" in html and "Xã có đợt truy quét lớn trong quý" in html and "Nguyễn Văn Duyệt" in html
    assert 'id="unit-D911"' in html and 'id="unit-D912"' in html
    assert "/admin/period-report/report.css" in html and "bar-chart" in html
    assert "Tỉnh Bình Thử" not in html  # the picker offers the units of the scope only
    css = client.get("/admin/period-report/report.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and "@media print" in css.text


def test_the_page_defaults_to_the_users_unit_and_latest_reported_period(client, login, world):
    login(world.steward)
    html = client.get("/admin/period-report/").text
    assert f'value="{world.province.id}" selected' in html and 'value="2025Q1" selected' in html


def test_the_print_page_has_no_navigation_and_no_script(client, login, db, world):
    approve(db, world.province, world.steward)
    login(world.steward)
    response = client.get("/admin/period-report/print", query_string={**QUERY, "unit": world.province.id})
    assert response.status_code == 200
    html = response.text
    assert "<nav" not in html and "<script" not in html and "cdn" not in html.lower()
    assert "ĐÃ DUYỆT bởi Nguyễn Văn Duyệt" in html and "CHƯA DUYỆT" not in html
    assert "/admin/period-report/report.css" in html


def test_a_district_steward_reads_their_district_and_not_the_province(client, login, make_user, world):
    login(make_user("data_steward", scope=world.district_a))
    assert client.get("/admin/period-report/", query_string={**QUERY, "unit": world.district_a.id}).status_code == 200
    assert client.get("/admin/period-report/", query_string={**QUERY, "unit": world.province.id}).status_code == 404


@pytest.mark.parametrize("path", ["/admin/period-report/", "/admin/period-report/print",
                                  "/admin/period-report/report.xlsx", "/admin/period-report/aggregates.csv"])
def test_another_provinces_steward_gets_404_everywhere(client, login, world, path):
    login(world.other_steward)
    assert client.get(path, query_string={**QUERY, "unit": world.province.id}).status_code == 404
    assert client.get(path, query_string={**QUERY, "unit": world.other.id}).status_code == 200


def test_a_commune_reporter_cannot_open_the_report(client, login, world):
    login(world.reporter)
    assert client.get("/admin/period-report/", query_string=QUERY).status_code == 403


# --- the exports -------------------------------------------------------------------------------------------

def read_xlsx(response):
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(response.data))


def rows_of(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_workbook_has_the_five_sheets_with_figures_as_numbers(client, login, world):
    login(world.steward)
    response = client.get("/admin/period-report/report.xlsx", query_string={**QUERY, "unit": world.province.id})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    book = read_xlsx(response)
    assert book.sheetnames == ["Tổng hợp", "Đơn vị", "Đào tạo", "Tính đầy đủ", "Cảnh báo"]
    summary = rows_of(book["Tổng hợp"])
    labels = {row[0]: row[1] for row in summary if row and row[0]}
    assert labels["Trạng thái"] == "CHƯA DUYỆT – số liệu tạm thời"
    assert labels["Số xã bị giữ lại (còn lỗi)"] == 1 and labels["Số xã đã báo cáo"] == 3
    header_index = next(i for i, row in enumerate(summary) if row[0] == "Mã chỉ số")
    header = summary[header_index]
    rate = dict(zip(header, next(row for row in summary if row[0] == "treatment_rate"), strict=True))
    assert rate["Tử số"] == 60 and rate["Mẫu số"] == 100 and rate["Giá trị (%)"] == 60.0
    assert rate["Chỉ tiêu (%)"] == 50.0 and rate["Mức cơ sở (%)"] == 24.97 and rate["Đạt chỉ tiêu"] == "có"
    units = rows_of(book["Đơn vị"])
    by_code = {row[0]: dict(zip(units[0], row, strict=True)) for row in units[1:]}
    assert by_code["D912"]["Số xã bị giữ lại (còn lỗi)"] == 1 and by_code["P91"]["Số xã đã báo cáo"] == 3
    assert by_code["D911"]["Số người nghiện ma túy có hồ sơ quản lý"] == 100
    training = rows_of(book["Đào tạo"])
    assert training[1][8:11] == [1, 2, 50.0]
    flags = rows_of(book["Cảnh báo"])
    assert {row[2] for row in flags[1:]} == {"C01", "T01"}
    accepted = next(row for row in flags[1:] if row[2] == "T01")
    assert "Xã có đợt truy quét lớn trong quý" in accepted and "Nguyễn Văn Duyệt" in accepted
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    formula = [cell for cell in cells if isinstance(cell.value, str) and cell.value.startswith("'=1+2")]
    assert formula and all(cell.data_type == "s" for cell in formula)
    assert not any(isinstance(cell.value, str) and "Bình" in cell.value for cell in cells)


def read_csv(response):
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_the_aggregate_table_as_csv_neutralises_text_and_holds_every_column(client, login, world):
    login(world.steward)
    response = client.get("/admin/period-report/aggregates.csv", query_string={**QUERY, "unit": world.province.id,
                                                                               "level": "commune"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = read_csv(response)
    header = rows[0]
    assert header[:4] == ["Mã đơn vị", "Đơn vị", "Cấp", "Kỳ báo cáo"]
    assert "Số xã bị giữ lại (còn lỗi)" in header and "Tỷ lệ báo cáo (%)" in header
    by_code = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_code) == {"C9111", "C9112", "C9121", "C9122"}
    assert by_code["C9111"]["Đơn vị"] == "'=1+2 Xã Một"
    assert by_code["C9112"]["Số người nghiện ma túy có hồ sơ quản lý"] == "60"
    assert by_code["C9121"]["Số xã bị giữ lại (còn lỗi)"] == "1"
    assert by_code["C9121"]["Số người nghiện ma túy có hồ sơ quản lý"] == ""  # held back: no figure, not a 0
    assert by_code["C9122"]["Số xã đã báo cáo"] == "0"
    districts = read_csv(client.get("/admin/period-report/aggregates.csv",
                                    query_string={**QUERY, "unit": world.province.id}))
    assert [row[0] for row in districts[1:]] == ["D911", "D912"]
    assert client.get("/admin/period-report/aggregates.csv",
                      query_string={**QUERY, "unit": world.district_a.id, "level": "province"}).status_code == 400

