"""Approving a period in a real browser (Debian's chromium via Playwright), in Vietnamese: the steward of a
district approves the district's quarter of the 2024 list on /admin/approvals/ (confirming that the commune
without a report will not be in the official figures); the province's steward then approves the province, follows
the link to the periodic report and downloads it as an Excel workbook. Pages must load without console errors."""
import io

import pytest
from openpyxl import load_workbook

from service.accounts.operations import create_user
from service.extensions import db
from service.forms.registry import get_form
from service.submissions.operations import submit
from service.units.models import AdminUnit
from service.units.operations import unit_values
from tests.browser import live_server, log_in
from tests.conftest import PASSWORD, make_app, migrate

pytestmark = pytest.mark.live_server

PERIOD = "2025Q2"  # the last quarter of the 2024 (three-level) list
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VALUES = {
    "addicts_with_record": 40, "users_with_record": 60, "treated_total": 20, "treated_compulsory": 8,
    "treated_voluntary_facility": 4, "treated_community": 5, "treated_substitution": 3, "counselled_screened": 30,
    "completed": 10, "post_rehab_managed": 9, "vocational_supported": 5, "employed_after_rehab": 3, "relapsed": 1,
    "prevention_reached": 50, "key_commune_class": "II", "drug_free": False, "community_model": True,
}


class Seeded:
    pass


def _seed(app):
    """Đắk Lắk (66, 2024 list) with one district, Buôn Ma Thuột (643), of two wards; one ward has reported the
    quarter. A steward of the district and one of the province."""
    seeded = Seeded()
    with app.app_context():
        province = AdminUnit(**unit_values(2024, "66", "Tỉnh Đắk Lắk", "province", ""))
        db.session.add(province)
        db.session.flush()
        district = AdminUnit(**unit_values(2024, "643", "Thành phố Buôn Ma Thuột", "district", ""),
                             parent_id=province.id, province_id=province.id)
        db.session.add(district)
        db.session.flush()
        wards = [AdminUnit(**unit_values(2024, code, name, "commune", ""), parent_id=district.id,
                           province_id=province.id, district_id=district.id)
                 for code, name in (("24121", "Phường Tân Lập"), ("24124", "Phường Tân Hòa"))]
        db.session.add_all(wards)
        db.session.flush()
        district_steward = create_user("qlhuyen", "data_steward", PASSWORD, scope_unit=district,
                                       full_name="Nguyễn Thị Huyện")
        create_user("qltinh", "data_steward", PASSWORD, scope_unit=province, full_name="Phạm Văn Tỉnh")
        form = get_form("commune_rehab")
        submit(district_steward, form, form.parse_period(PERIOD), wards[0], VALUES, "web")
        db.session.commit()
        seeded.province_id, seeded.district_id = province.id, district.id
    return seeded


@pytest.fixture(scope="module")
def server(databases):
    app = make_app(databases.new_url("live_approval"))
    migrate(app)
    seeded = _seed(app)
    with live_server(app) as base:
        yield base, seeded


def new_page(browser):
    page = browser.new_context(locale="vi-VN", accept_downloads=True).new_page()
    page.errors = []
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def test_a_district_then_the_province_approve_and_the_official_report_downloads(server, browser):
    base, seeded = server

    # the district's steward: the page opens on the latest quarter with reports
    page = new_page(browser)
    log_in(page, base, "qlhuyen")
    page.goto(base + "/admin/approvals/")
    assert page.locator("h1").inner_text() == "Duyệt số liệu kỳ báo cáo"
    assert page.locator("#period-select").input_value() == PERIOD
    row = page.locator(f"#unit-{seeded.district_id}")
    assert "chưa duyệt" in row.locator(".status").inner_text()
    assert (row.locator(".communes-total").inner_text(), row.locator(".communes-reported").inner_text(),
            row.locator(".missing").inner_text()) == ("2", "1", "1")
    assert page.locator(f"#unit-{seeded.province_id}").count() == 0  # the province is not theirs
    row.get_by_placeholder("Ghi chú (không bắt buộc)").fill("Phường Tân Hòa không nộp báo cáo")
    confirm = row.get_by_label("Tôi hiểu rằng 0 báo cáo bị giữ lại và 1 xã chưa nộp báo cáo", exact=False)
    confirm.check()
    row.get_by_role("button", name="Duyệt").click()
    page.wait_for_load_state()
    assert "Đã duyệt Thành phố Buôn Ma Thuột" in page.locator(".alert-success").inner_text()
    row = page.locator(f"#unit-{seeded.district_id}")
    assert "đã duyệt" in row.locator(".status").inner_text()
    assert "Nguyễn Thị Huyện" in row.locator(".approved-by").inner_text()
    assert row.get_by_role("button", name="Mở lại").count() == 0  # a district does not reopen itself
    assert "Phường Tân Hòa không nộp báo cáo" in page.locator("#approval-history").inner_text()
    assert page.errors == [], page.errors
    page.context.close()

    # the province's steward approves the province
    page = new_page(browser)
    log_in(page, base, "qltinh")
    page.goto(base + "/admin/approvals/")
    province_row = page.locator(f"#unit-{seeded.province_id}")
    assert "chưa duyệt" in province_row.locator(".status").inner_text()
    assert page.locator(f"#unit-{seeded.district_id}").get_by_role("button", name="Mở lại").count() == 1
    province_row.locator("input[name=confirm]").check()
    province_row.get_by_role("button", name="Duyệt").click()
    page.wait_for_load_state()
    assert "Đã duyệt Tỉnh Đắk Lắk" in page.locator(".alert-success").inner_text()
    province_row = page.locator(f"#unit-{seeded.province_id}")
    assert "Phạm Văn Tỉnh" in province_row.locator(".approved-by").inner_text()
    # now the district can only be reopened after the province: no reopen button on it
    district_row = page.locator(f"#unit-{seeded.district_id}")
    assert district_row.get_by_role("button", name="Mở lại").count() == 0
    assert "cần mở lại cấp tỉnh trước" in district_row.locator(".refusal").inner_text()
    assert page.errors == [], page.errors

    # the link to the periodic report of the province, and its Excel workbook
    province_row.locator("a.period-report-link").click()
    page.wait_for_url(f"**/admin/period-report/?form=commune_rehab&period={PERIOD}&unit=*")
    assert page.locator("h1").count() == 1 and "404" not in page.title()
    link = page.locator("a[href*='/admin/period-report/report.xlsx']").first
    assert link.count() == 1
    response = page.request.get(link.get_attribute("href") if link.get_attribute("href").startswith("http")
                                else base + link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"].startswith(XLSX)
    with page.expect_download() as download:
        link.click()
    workbook = load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
    cells = " ".join(str(cell.value) for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row
                     if cell.value is not None)
    assert "Đắk Lắk" in cells
    assert page.errors == [], page.errors
    page.context.close()
