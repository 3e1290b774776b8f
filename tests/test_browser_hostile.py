"""Stored script in a real browser (Debian's chromium via Playwright): a province whose every free-text field
holds `<script>alert(1)</script>` and `"><img src=x onerror=alert(1)>` (tests/hostile.py) is browsed by its
administrator; no page may open a dialog or run the stored script, and the text is shown as text."""
import pytest

from service.extensions import db
from service.units.models import AdminUnit
from service.units.operations import unit_values
from tests.browser import live_server, log_in
from tests.conftest import make_app, migrate
from tests.hostile import SCRIPT, build_side

pytestmark = pytest.mark.live_server


def _factories():
    from service.accounts.operations import create_user
    from service.facilities.models import Facility
    from tests.conftest import PASSWORD

    def make_unit(level, parent=None, edition=2025, code=None, name=None):
        unit = AdminUnit(**unit_values(edition, code, name, level, ""))
        if parent is not None:
            unit.parent_id, unit.province_id = parent.id, parent.province_id or parent.id
        db.session.add(unit)
        db.session.flush()
        return unit

    def make_facility(unit, code=None, name=None, **columns):
        facility = Facility(code=code, name=name, org_unit=unit, **columns)
        db.session.add(facility)
        db.session.flush()
        return facility

    def make_user(role, scope=None, facility=None, username=None, **kwargs):
        return create_user(username, role, PASSWORD, scope_unit=scope, facility=facility, **kwargs)

    return make_unit, make_facility, make_user


@pytest.fixture(scope="module")
def server(databases):
    app = make_app(databases.new_url("live_hostile"))
    migrate(app)
    with app.app_context():
        side = build_side(db, *_factories(), "A", True)
        db.session.commit()
        ids = {"admin": side.users["admin"].username, "facility": side.facility.id, "staff": side.staff.id,
               "flag": side.flag.id, "class": side.training_class.id, "commune": side.commune.id}
    with live_server(app) as base:
        yield base, ids


def test_no_page_with_stored_script_opens_a_dialog(server, page):
    base, ids = server
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, base, ids["admin"])
    for path in ("/admin/", "/admin/facilities/", f"/admin/facilities/page/{ids['facility']}",
                 f"/admin/facilities/details/?id={ids['facility']}", f"/admin/facilities/edit/?id={ids['facility']}",
                 "/admin/staff/", f"/admin/staff/details/?id={ids['staff']}", f"/admin/staff/transcript/{ids['staff']}",
                 "/admin/flags/", f"/admin/flags/details/?id={ids['flag']}", "/admin/classes/",
                 f"/admin/classes/attendance/{ids['class']}", "/admin/courses/", "/admin/certificates/",
                 "/admin/uploads/", "/admin/users/", "/admin/units/", "/admin/qualifications/",
                 "/admin/training_plans/", "/admin/indicator_targets/", "/admin/dashboard/", "/admin/capacity/",
                 "/admin/attainment/", "/admin/period-report/", "/admin/completeness/", "/admin/unit_browser/"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        assert dialogs == [], path
        assert page.locator("img[src='x']").count() == 0, path  # the attribute break-out made no element
    page.goto(base + "/admin/facilities/")
    assert SCRIPT in page.locator("body").inner_text()  # shown as text
