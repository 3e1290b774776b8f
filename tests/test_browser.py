"""The admin shell in a real browser (Debian's chromium via Playwright): each role logs in, in Vietnamese,
and sees only what the role may see; the administrator browses the units of both editions and switches to
English. Pages must load without console errors (a CSP-blocked script would show up here)."""

import pytest

from service.accounts.operations import create_user
from service.demo.operations import build_synthetic_units, load_official_units
from service.extensions import db
from service.facilities.models import Facility
from service.units.models import AdminUnit
from tests.browser import live_server, log_in
from tests.conftest import PASSWORD, SHARED_DATA, make_app, migrate

pytestmark = pytest.mark.live_server


def _seed_flags(user, commune):
    """Two inconsistent reports of the reporter's commune: C01 in 2025Q4, C02 in 2025Q3 (flagged at entry)."""
    from service.forms.registry import get_form
    from service.submissions.operations import submit
    from tests.test_submissions import good_values

    form = get_form("commune_rehab")
    submit(user, form, form.parse_period("2025Q4"), commune, good_values(treated_total=45, treated_community=30),
           "api")
    submit(user, form, form.parse_period("2025Q3"), commune, good_values(treated_community=6), "api")


def _seed(app):
    with app.app_context():
        if (SHARED_DATA / "vn_units_2025.csv").exists():
            load_official_units(SHARED_DATA)
        else:
            build_synthetic_units()
        province = db.session.query(AdminUnit).filter_by(edition=2025, code="66").one()
        commune = db.session.query(AdminUnit).filter_by(edition=2025, level="commune",
                                                        province_id=province.id).order_by(AdminUnit.code).first()
        facility = Facility(code="CS-BROWSER", name="Cơ sở thử trình duyệt", org_unit=commune)
        db.session.add(facility)
        db.session.flush()
        create_user("qt", "admin", PASSWORD)
        create_user("dp", "training_coordinator", PASSWORD, scope_unit=province)
        create_user("gs", "data_steward", PASSWORD, scope_unit=province)
        create_user("cs", "facility_manager", PASSWORD, facility=facility)
        create_user("bc", "commune_reporter", PASSWORD, scope_unit=commune)
        _seed_flags(create_user("qt2", "admin", PASSWORD), commune)
        db.session.commit()
        return province.name, commune.name


@pytest.fixture(scope="module")
def server(databases):
    app = make_app(databases.new_url("live"))
    migrate(app)
    names = _seed(app)
    with live_server(app) as base:
        yield base, names


def open_menu(page, name):
    """Open a navbar dropdown once the page's scripts have loaded (the toggle does nothing before)."""
    page.wait_for_load_state("load")
    page.get_by_role("link", name=name).click()
    return page.locator(".dropdown-menu.show")


def menu_text(page):
    return page.locator("#admin-navbar-collapse").inner_text()


# role → (menu entries it must see, menu entries it must not see)
MENUS = {
    "qt": (["Danh mục", "Hệ thống"], []),
    "dp": (["Danh mục"], ["Hệ thống"]),
    "gs": (["Danh mục"], ["Hệ thống"]),
    "cs": (["Danh mục"], ["Hệ thống"]),
    "bc": (["Danh mục"], ["Hệ thống"]),
}


@pytest.mark.parametrize("username", list(MENUS))
def test_each_role_logs_in_in_vietnamese_and_sees_only_its_menus(server, page, username):
    base, (province_name, commune_name) = server
    log_in(page, base, username)
    shown, hidden = MENUS[username]
    text = menu_text(page)
    for entry in shown:
        assert entry in text
    for entry in hidden:
        assert entry not in text
    assert ("Cơ sở" in text) == (username != "bc")  # the facilities menu
    submenu = open_menu(page, "Danh mục").inner_text()
    assert "Cây đơn vị hành chính" in submenu
    if username in ("dp", "gs"):
        assert province_name in page.locator("#who").inner_text()
    if username == "bc":
        assert commune_name in page.locator("#who").inner_text()
    assert page.errors == [], page.errors
    # a page the role may not open is refused, with a page in Vietnamese
    response = page.goto(base + "/admin/users/")
    assert response.status == (200 if username == "qt" else 403)
    if username != "qt":
        assert "không có quyền" in page.locator("body").inner_text()


def test_admin_browses_both_editions_and_switches_to_english(server, page):
    base, _names = server
    log_in(page, base, "qt")
    page.goto(base + "/admin/unit_browser/")
    assert page.locator("#edition-switch .active").inner_text().startswith("Danh mục 2025")
    page.get_by_role("link", name="Tỉnh Đắk Lắk").click()
    assert "Tỉnh Đắk Lắk" in page.locator(".breadcrumb").inner_text()
    assert page.locator("#units tbody tr").count() > 1
    page.get_by_role("link", name="Danh mục 2024 (tỉnh → huyện → xã)").click()
    page.locator("input[name=q]").fill("buon ma thuot")
    page.get_by_role("button", name="Tìm").click()
    assert "Thành phố Buôn Ma Thuột" in page.locator("#units").inner_text()
    page.get_by_role("link", name="Thành phố Buôn Ma Thuột").click()
    assert "Quận/huyện" not in page.locator("#units tbody").inner_text()
    assert page.locator("#units tbody tr").count() >= 2
    open_menu(page, "Ngôn ngữ").get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert "Log out" in page.content() and "Administrative units" in page.locator("h1").inner_text()
    assert page.errors == [], page.errors


def test_the_reporter_sees_only_their_commune_in_the_unit_list(server, page):
    base, (province_name, commune_name) = server
    log_in(page, base, "bc")
    page.goto(base + "/admin/units/?flt0_0=2025")
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 1 and commune_name in rows.first.inner_text()
    assert page.errors == [], page.errors


def _fill_report(page, form, overrides=None):
    from tests.test_submissions import good_values

    for code, value in good_values(**(overrides or {})).items():
        item = form.field(code)
        if item.type == "integer":
            page.locator(f"#f-{code}").fill(str(value))
        elif item.type == "boolean":
            page.locator(f"#f-{code}-{'yes' if value else 'no'}").check()
        else:
            page.locator(f"#f-{code}").select_option(value)


def test_a_commune_reporter_fills_the_form_and_sees_the_new_version(server, page):
    from service.forms.registry import get_form

    base, (_province, commune_name) = server
    log_in(page, base, "bc")
    assert "chưa nộp" in page.locator("#attention").inner_text()
    page.goto(base + "/admin/report/?period=2026Q3")
    assert commune_name in page.locator("#report-status").inner_text()
    assert "Số người nghiện ma túy có hồ sơ quản lý" in page.locator("#report-form").inner_text()
    form = get_form("commune_rehab")
    _fill_report(page, form)
    page.locator("#f-completed").fill("")
    page.get_by_role("button", name="Gửi báo cáo").click()
    assert "bắt buộc" in page.locator("#report-form").inner_text()  # required field enforced, nothing stored
    page.locator("#f-completed").fill("10")
    page.get_by_role("button", name="Gửi báo cáo").click()
    page.wait_for_url("**/admin/report/history/**")
    assert "Đã nhận báo cáo" in page.locator(".alert-success").inner_text()
    assert "v1" in page.locator("#versions").inner_text()
    assert page.errors == [], page.errors


def test_a_file_with_errors_is_rejected_with_its_rows_and_a_fixed_file_is_accepted(server, page, tmp_path):
    from tests.test_submissions import good_values

    base, _names = server
    log_in(page, base, "gs")
    page.goto(base + "/admin/report/?period=2026Q2")
    page.wait_for_load_state("load")
    page.get_by_role("tab", name="Gửi tệp Excel hoặc CSV").click()
    with page.expect_download() as download:
        page.locator("#template-link").click()
    template = tmp_path / "mau.xlsx"
    download.value.save_as(template)
    from openpyxl import load_workbook

    book = load_workbook(template)
    sheet = book.worksheets[0]
    codes = [cell.value for cell in sheet[2]]
    for row_number, bad in ((3, {"treated_total": "12,5"}), (4, {"relapsed": -2})):
        values = good_values(**bad)
        for column, code in enumerate(codes, start=1):
            if code in values:
                value = values[code]
                sheet.cell(row=row_number, column=column, value=("có" if value else "không") if isinstance(value, bool)
                           else value)
    book.save(template)
    page.locator("input[name=file]").set_input_files(str(template))
    page.locator("#upload-button").click()
    errors = page.locator("#upload-errors").inner_text()
    assert "Không có dữ liệu nào được lưu" in errors
    assert "3" in errors and "treated_total" in errors and "relapsed" in errors
    # fix both cells and send again
    sheet.cell(row=3, column=codes.index("treated_total") + 1, value=12)
    sheet.cell(row=4, column=codes.index("relapsed") + 1, value=2)
    book.save(template)
    assert page.locator("#by-file").is_visible()  # the file tab stays open after a rejected file
    page.locator("input[name=file]").set_input_files(str(template))
    page.locator("#upload-button").click()
    assert "Đã nhận tệp: lưu 2 báo cáo" in page.locator(".alert-success").inner_text()
    assert page.errors == [], page.errors


def test_a_reporter_explains_a_flag_and_a_steward_accepts_another(server, page, browser):
    base, _names = server
    log_in(page, base, "bc")
    attention = page.locator("#attention")
    assert "C01" in attention.inner_text() and "C02" in attention.inner_text()
    attention.locator("a", has_text="C01").click()
    page.locator("#explanation").fill("Số người điều trị gồm cả người từ xã khác chuyển đến; xã sẽ rà soát.")
    page.get_by_role("button", name="Gửi giải trình").click()
    assert "đã giải trình" in page.locator(".alert-success").inner_text()
    assert page.errors == [], page.errors

    steward = browser.new_context(locale="vi-VN").new_page()
    steward.errors = []
    steward.on("console", lambda message: message.type == "error" and steward.errors.append(message.text))
    log_in(steward, base, "gs")
    steward.locator("#attention a", has_text="Lỗi chưa xử lý").click()
    rows = steward.locator("table.model-list tbody tr")
    texts = rows.all_inner_texts()
    assert not any("2025Q4" in text and "C01" in text for text in texts)  # explained, so no longer "open"
    target = rows.filter(has_text="2025Q3").filter(has_text="C02")
    assert target.count() == 1, texts
    target.locator("a[title]").first.click()
    assert "C02" in steward.locator("table").first.inner_text()
    steward.locator("#reason").fill("Đã gọi điện xác minh với xã: số liệu đúng, biểu mẫu thiếu một hình thức.")
    steward.get_by_role("button", name="Chấp nhận").click()
    assert "đã chấp nhận" in steward.locator(".alert-success").inner_text()
    steward.goto(base + "/admin/validation_runs/")
    assert steward.errors == [], steward.errors
