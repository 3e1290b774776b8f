"""Training records in a real browser (Debian's chromium via Playwright): a training coordinator logs in, in
Vietnamese, opens a class, registers people found with the roster filter, marks them completed, sees the
certificates issued, and sees the numerator of the plan's target move on the attainment page. Pages must load
without console errors (a CSP-blocked script would show up here)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.accounts.operations import create_user
from service.common.time import local_today
from service.extensions import db
from service.training import operations
from service.training.models import Course, RoleCategory, TrainingClass, TrainingPlan, TrainingTarget
from service.units.models import AdminUnit
from service.units.operations import unit_values
from tests.browser import live_server, log_in
from tests.conftest import PASSWORD, make_app, migrate

pytestmark = pytest.mark.live_server


class Seeded:
    pass


def _seed(app):
    """Đắk Lắk (66) with two communes, a coordinator, five people, a certifying course, a class that ended last
    week and a target: 80 % of the counselling staff of the province certified in counselling."""
    seeded = Seeded()
    with app.app_context():
        province = AdminUnit(**unit_values(2025, "66", "Tỉnh Đắk Lắk", "province", ""))
        db.session.add(province)
        db.session.flush()
        communes = []
        for code, name in (("24001", "Xã Thử Một"), ("24002", "Xã Thử Hai")):
            commune = AdminUnit(**unit_values(2025, code, name, "commune", ""), parent_id=province.id,
                                province_id=province.id)
            db.session.add(commune)
            communes.append(commune)
        db.session.flush()
        create_user("dp", "training_coordinator", PASSWORD, scope_unit=province)
        roles = {item.code: item for item in db.session.scalars(select(RoleCategory))}
        people = [
            ("NV-01", "Nguyễn Thị Lan", communes[0], "counselling"),
            ("NV-02", "Trần Văn Bình", communes[0], "counselling"),
            ("NV-03", "Lê Thị Hoa", communes[0], "counselling"),
            ("NV-04", "Phạm Văn Cường", communes[1], "counselling"),
            ("NV-05", "Đỗ Thị Mai", communes[0], "medical"),
        ]
        seeded.staff = {}
        for code, name, unit, role in people:
            person = operations.create_staff(code, name, roles[role], unit, "F")
            seeded.staff[code] = person.id
        course = Course(code="TV-01", title="Tư vấn điều trị nghiện ma túy", topic="counselling", hours=24,
                        certifies=True, validity_months=24, target_roles="counselling")
        db.session.add(course)
        ends = local_today() - timedelta(days=6)
        training_class = TrainingClass(course=course, org_unit=province, organiser="Sở Y tế Đắk Lắk",
                                       place="Buôn Ma Thuột", starts_on=ends - timedelta(days=4), ends_on=ends,
                                       capacity=30)
        db.session.add(training_class)
        plan = TrainingPlan(code="KH-DL", name="Kế hoạch đào tạo Đắk Lắk", number="01/KH-UBND")
        target = TrainingTarget(plan=plan, scope_unit=province, role_category=roles["counselling"],
                                metric="certified", topic="counselling", percent=80,
                                deadline=local_today() + timedelta(days=365))
        db.session.add_all([plan, target])
        db.session.commit()
        seeded.class_id, seeded.target_id = training_class.id, target.id
    return seeded


@pytest.fixture(scope="module")
def server(databases):
    app = make_app(databases.new_url("live_training"))
    migrate(app)
    seeded = _seed(app)
    with live_server(app) as base:
        yield base, seeded


def target_counts(page, target_id):
    row = page.locator(f"#target-{target_id}")
    return (int(row.locator(".numerator").inner_text()), int(row.locator(".denominator").inner_text()),
            int(row.locator(".gap").get_attribute("data-gap")))


def test_a_coordinator_registers_completes_and_sees_certificates_and_attainment(server, page):
    base, seeded = server
    log_in(page, base, "dp")
    # the home page leads to the attainment of the targets: nobody is certified yet
    page.locator("#attention a[href$='/admin/attainment/']").click()
    page.wait_for_url("**/admin/attainment/")
    assert target_counts(page, seeded.target_id) == (0, 4, 4)  # 80 % of 4 people → 4 still needed
    assert page.locator(f"#target-{seeded.target_id} .not-met").count() == 1

    # the class list → the class's attendance page
    page.goto(base + "/admin/classes/")
    page.locator(f"a[href$='/admin/classes/attendance/{seeded.class_id}']").first.click()
    page.wait_for_url(f"**/admin/classes/attendance/{seeded.class_id}**")
    assert page.locator("#no-attendees").count() == 1

    # find the untrained counselling staff of commune 24001 in the roster and register them all
    page.locator("#filter-role").select_option("counselling")
    page.locator("#filter-unit").fill("24001")
    assert page.locator("#filter-untrained").is_checked()
    page.locator("#find-button").click()
    page.wait_for_load_state("load")
    codes = sorted(page.locator("#candidates tr.candidate").evaluate_all(
        "rows => rows.map(row => row.dataset.staffCode)"))
    assert codes == ["NV-01", "NV-02", "NV-03"]  # not the medical worker, not the other commune
    page.locator("#pick-all").check()
    assert page.locator("#candidates input[name=staff]:checked").count() == 3
    page.locator("#add-button").click()
    page.wait_for_load_state("load")
    assert page.locator(".alert-success").count() == 1
    assert page.locator("#attendees tr.attendee").count() == 3
    assert page.locator("#attendee-count").inner_text().startswith("3 / 30")

    # two complete the course, one fails; scores with a decimal comma
    for code, status, score in (("NV-01", "completed", "8,5"), ("NV-02", "completed", "9"), ("NV-03", "failed", "4")):
        row = page.locator(f"#attendee-{seeded.staff[code]}")
        row.locator("select.status").select_option(status)
        row.locator("input[name^=post-]").fill(score)
    page.locator("#save-attendance").click()
    page.wait_for_load_state("load")
    assert page.locator(".alert-success").count() >= 1
    issued = {code: page.locator(f"#attendee-{seeded.staff[code]} .certificate-number").all_inner_texts()
              for code in ("NV-01", "NV-02", "NV-03")}
    assert len(issued["NV-01"]) == 1 and len(issued["NV-02"]) == 1 and issued["NV-03"] == []
    numbers = issued["NV-01"] + issued["NV-02"]
    year = (local_today() - timedelta(days=6)).year
    assert all(number.startswith(f"{year}/") for number in numbers)
    assert page.locator(f"#attendee-{seeded.staff['NV-01']} select.status").input_value() == "completed"

    # the certificates are in the certificate list
    page.goto(base + "/admin/certificates/")
    listing = page.locator("table.model-list").inner_text()
    assert all(number in listing for number in numbers)

    # the attainment page counts them: 2 of 4, 2 more needed
    page.goto(base + "/admin/attainment/")
    assert target_counts(page, seeded.target_id) == (2, 4, 2)
    assert page.locator(f"#target-{seeded.target_id} .percent").inner_text() == "50,0 %"  # Vietnamese decimal comma
    page.locator(f"#target-{seeded.target_id} a[href*='/admin/attainment/target/']").click()
    page.wait_for_load_state("load")
    assert page.locator("#breakdown #unit-24001 .numerator").inner_text() == "2"
    assert page.locator("#breakdown #unit-24002 .numerator").inner_text() == "0"
    assert page.errors == [], page.errors


def test_the_printable_roster_and_transcript_open_without_errors(server, page):
    base, seeded = server
    log_in(page, base, "dp")
    page.goto(base + f"/admin/classes/roster/{seeded.class_id}")
    assert page.locator("#print-button").is_visible()
    page.goto(base + f"/admin/staff/transcript/{seeded.staff['NV-01']}")
    assert "NV-01" in page.locator("#staff-summary").inner_text()
    page.goto(base + "/admin/staff/duplicates/")
    assert page.locator("#no-duplicates").count() == 1
    assert page.errors == [], page.errors


def test_a_coordinator_imports_an_attendance_sheet_after_fixing_it(server, page, tmp_path):
    base, seeded = server
    log_in(page, base, "dp")
    page.goto(base + "/admin/training_import/")
    sheet = tmp_path / "diem-danh.csv"
    sheet.write_text("staff_code,status,pre_score,post_score\nNV-04,hoàn thành,50,120\n", encoding="utf-8")
    form = page.locator("#upload-attendance")
    form.locator("select[name=class_id]").select_option(str(seeded.class_id))
    form.locator("input[type=file]").set_input_files(str(sheet))
    form.locator("button[type=submit]").click()
    errors = page.locator("#import-errors").inner_text()
    assert "post_score" in errors and "Không có dữ liệu nào được lưu" in errors
    sheet.write_text("staff_code,status,pre_score,post_score\nNV-04,hoàn thành,50,90\n", encoding="utf-8")
    form = page.locator("#upload-attendance")
    form.locator("select[name=class_id]").select_option(str(seeded.class_id))
    form.locator("input[type=file]").set_input_files(str(sheet))
    form.locator("button[type=submit]").click()
    assert "cấp 1 chứng chỉ" in page.locator(".alert-success").inner_text()
    page.goto(base + "/admin/attainment/")
    numerator, denominator, _gap = target_counts(page, seeded.target_id)
    assert (numerator, denominator) == (3, 4)
    assert page.errors == [], page.errors
