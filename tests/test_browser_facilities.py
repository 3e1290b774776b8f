"""A facility manager in a real browser (Debian's chromium via Playwright), tried as a new user would: logs in, in
Vietnamese, follows the home page to their facility, enters a census above the capacity and sees the capacity
check react on the same page; corrects it and sees the flag go; a manager of another facility cannot open it.
Pages must load without console errors (a CSP-blocked script would show up here)."""
from datetime import timedelta

import pytest
from sqlalchemy import delete

from service.accounts.operations import create_user
from service.common.time import local_today
from service.extensions import db
from service.facilities import operations
from service.facilities.models import Facility, StaffingCondition
from service.units.models import AdminUnit
from service.units.operations import unit_values
from tests.browser import live_server, log_in
from tests.conftest import PASSWORD, make_app, migrate

pytestmark = pytest.mark.live_server


class Seeded:
    pass


def _seed(app):
    """Đắk Lắk (66), one commune, two rehab facilities (the first with 10 compulsory places and 4 detox beds), a
    manager for each. The staffing conditions are left out: this is about capacity and census."""
    seeded = Seeded()
    with app.app_context():
        db.session.execute(delete(StaffingCondition))
        province = AdminUnit(**unit_values(2025, "66", "Tỉnh Đắk Lắk", "province", ""))
        db.session.add(province)
        db.session.flush()
        commune = AdminUnit(**unit_values(2025, "24001", "Xã Thử", "commune", ""), parent_id=province.id,
                            province_id=province.id)
        db.session.add(commune)
        db.session.flush()
        facility = Facility(code="CS-DL-01", name="Cơ sở cai nghiện ma túy tỉnh Đắk Lắk", org_unit=commune)
        other = Facility(code="CS-DL-02", name="Cơ sở cai nghiện tư nhân Hòa Bình", org_unit=commune,
                         facility_type="private_rehab")
        db.session.add_all([facility, other])
        db.session.flush()
        operations.set_capacity(None, facility, {"compulsory": 10, "detox": 4}, local_today() - timedelta(days=60),
                                "Quyết định 15/QĐ-UBND")
        create_user("qlcs", "facility_manager", PASSWORD, scope_unit=commune, facility=facility,
                    full_name="Nguyễn Văn Quản")
        create_user("qlcs2", "facility_manager", PASSWORD, scope_unit=commune, facility=other)
        db.session.commit()
        seeded.facility_id, seeded.other_id = facility.id, other.id
    return seeded


@pytest.fixture(scope="module")
def server(databases):
    app = make_app(databases.new_url("live_facilities"))
    migrate(app)
    seeded = _seed(app)
    with live_server(app) as base:
        yield base, seeded


def test_a_manager_enters_a_census_over_capacity_and_sees_the_check_react(server, page):
    base, seeded = server
    log_in(page, base, "qlcs")
    # the home page leads to the facility's page
    page.locator(f"#attention a[href$='/admin/facilities/page/{seeded.facility_id}']").click()
    page.wait_for_url(f"**/admin/facilities/page/{seeded.facility_id}")
    assert page.locator("#facility-name").inner_text() == "Cơ sở cai nghiện ma túy tỉnh Đắk Lắk"
    assert page.locator("#capacity-compulsory .capacity-today").inner_text().startswith("10")
    assert page.locator("#facility-flags li[data-rule^='F01']").count() == 0
    assert page.locator("#places-compulsory").input_value() == "10"  # the capacity form starts from today's figures

    # a census: 14 people in compulsory rehab for 10 places, 3 in detox for 4 beds
    form = page.locator("#census-form")
    assert form.locator("#census-date").input_value() == local_today().isoformat()
    form.get_by_label("Cai nghiện bắt buộc", exact=True).fill("14")
    form.locator("#admissions-compulsory").fill("2")
    form.locator("#count-detox").fill("3")
    form.get_by_role("button", name="Lưu số liệu điều tra").click()
    page.wait_for_load_state("load")
    assert "Số cảnh báo đang mở của cơ sở: 1" in page.locator(".alert-warning").inner_text()
    flag = page.locator("#facility-flags li[data-rule='F01-compulsory']")
    assert flag.count() == 1
    assert "vượt công suất (10)" in flag.inner_text()
    assert page.locator("#capacity-compulsory .occupancy-rate").inner_text().startswith("140,0 %")
    assert page.locator("#capacity-detox .occupancy-rate").inner_text() == "75,0 %"
    assert page.locator("#census-history tr.census").count() == 1

    # the flag's own page: the values by name, and a form to explain them
    flag.locator("a.flag-link").click()
    page.wait_for_load_state("load")
    assert "Loại hình: Cai nghiện bắt buộc" in page.locator("table").first.inner_text()
    assert page.locator("#explain-form").count() == 1
    page.go_back()
    page.wait_for_load_state("load")

    # the census was wrong: correct it from the history, with a reason
    page.locator("#census-history a.correct-link").first.click()
    page.wait_for_load_state("load")
    assert page.locator("#count-compulsory").input_value() == "14"  # a prefilled copy
    page.locator("#count-compulsory").fill("9")
    page.locator("#census-reason").fill("Nhập nhầm: 14 là số tiếp nhận cả năm")
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_load_state("load")
    assert "Đã sửa số liệu điều tra" in page.locator(".alert-success").inner_text()
    assert page.locator("#facility-flags li[data-rule='F01-compulsory']").count() == 0
    assert page.locator("#census-history tr.census.corrected").count() == 1
    assert "Nhập nhầm" in page.locator("#census-history .correction-reason").inner_text()
    assert page.errors == [], page.errors


def test_another_manager_cannot_open_the_facility(server, page):
    base, seeded = server
    log_in(page, base, "qlcs2")
    for path in (f"/admin/facilities/page/{seeded.facility_id}", f"/admin/facilities/details/?id={seeded.facility_id}"):
        response = page.goto(base + path)
        assert response.status == 404
        assert "ngoài phạm vi của bạn" in page.locator("body").inner_text()
        assert "Cơ sở cai nghiện ma túy tỉnh Đắk Lắk" not in page.content()
    # the browser reports each refused page as a failed load, and nothing else
    assert len(page.errors) == 2 and all("404" in error for error in page.errors), page.errors
    page.errors.clear()
    response = page.goto(base + f"/admin/facilities/page/{seeded.other_id}")
    assert response.status == 200
    assert page.locator("#facility-name").inner_text() == "Cơ sở cai nghiện tư nhân Hòa Bình"
    assert page.errors == [], page.errors
