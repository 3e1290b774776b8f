"""Org-unit scope on every view type: list, details, edit, delete, mass action, export, ajax lookup, relation
choice, the unit browser, the API, and across the 2025 reform."""
from datetime import date

import pytest
from sqlalchemy import select

from service.accounts.operations import issue_token
from service.accounts.scope import Scope
from service.facilities.models import Facility
from service.units.models import AdminUnit
from tests.conftest import csrf_token_from


@pytest.fixture
def world(hierarchy, make_facility, make_user):
    h = hierarchy
    h.inside = make_facility(h.commune_a1, code="CS-TRONG")
    h.outside = make_facility(h.commune_b1, code="CS-NGOAI")
    h.steward = make_user("data_steward", scope=h.district_a)
    h.district_admin = make_user("admin", scope=h.district_a)
    h.manager = make_user("facility_manager", facility=h.inside)
    return h


def test_list_and_export_show_only_rows_in_scope(client, login, world):
    login(world.steward)
    listing = client.get("/admin/facilities/")
    assert "CS-TRONG" in listing.text and "CS-NGOAI" not in listing.text
    export = client.get("/admin/facilities/export/csv/")
    assert export.status_code == 200
    assert "CS-TRONG" in export.text and "CS-NGOAI" not in export.text


@pytest.mark.parametrize("path", ["/admin/facilities/details/?id={id}", "/admin/facilities/edit/?id={id}"])
def test_an_out_of_scope_id_in_the_url_is_not_found(client, login, world, path):
    login(world.district_admin)
    assert client.get(path.format(id=world.inside.id)).status_code == 200
    assert client.get(path.format(id=world.outside.id)).status_code == 404
    assert client.get(path.format(id="not-a-number")).status_code == 404


def test_a_right_the_role_lacks_is_forbidden(client, login, world):
    login(world.steward)
    assert client.get(f"/admin/facilities/details/?id={world.inside.id}").status_code == 200
    assert client.get(f"/admin/facilities/edit/?id={world.inside.id}").status_code == 403
    assert client.get("/admin/facilities/new/").status_code == 403
    assert client.get("/admin/users/").status_code == 403
    assert client.get("/admin/audit/").status_code == 403


def test_facility_manager_reaches_only_their_own_facility(client, login, world, make_facility):
    neighbour = make_facility(world.commune_a1, code="CS-HANGXOM")
    login(world.manager)
    listing = client.get("/admin/facilities/")
    assert "CS-TRONG" in listing.text and "CS-HANGXOM" not in listing.text
    assert client.get(f"/admin/facilities/edit/?id={world.inside.id}").status_code == 200
    assert client.get(f"/admin/facilities/edit/?id={neighbour.id}").status_code == 404


def test_delete_and_mass_delete_of_out_of_scope_rows_change_nothing(client, login, world, db, make_facility):
    spare = make_facility(world.commune_a2, code="CS-THUA")
    spare_too = make_facility(world.commune_a2, code="CS-THUA-2")
    login(world.district_admin)
    token = csrf_token_from(client.get("/admin/facilities/").text)
    response = client.post("/admin/facilities/delete/", data={"id": world.outside.id, "csrf_token": token})
    assert response.status_code == 404
    client.post("/admin/facilities/action/", data={"action": "delete", "csrf_token": token,
                                                   "rowid": [str(world.outside.id), str(spare_too.id)]})
    assert db.session.get(Facility, world.outside.id) is not None
    assert db.session.execute(select(Facility).where(Facility.code == "CS-THUA-2")).first() is None
    response = client.post("/admin/facilities/delete/", data={"id": spare.id, "csrf_token": token})
    assert response.status_code == 302
    assert db.session.execute(select(Facility).where(Facility.code == "CS-THUA")).first() is None


def test_ajax_lookup_offers_only_units_in_scope(client, login, world):
    login(world.district_admin)
    response = client.get("/admin/facilities/ajax/lookup/?name=org_unit&query=thu")
    codes = {label.split(" ")[0] for _id, label in response.json}
    assert world.commune_a1.code in codes and world.district_a.code in codes
    assert world.commune_b1.code not in codes and world.other_commune.code not in codes


def test_a_form_cannot_point_a_row_at_an_out_of_scope_unit(client, login, world, db):
    login(world.district_admin)
    page = client.get("/admin/facilities/new/")
    response = client.post("/admin/facilities/new/", data={
        "code": "CS-LAU", "name": "Cơ sở lậu", "org_unit": str(world.commune_b1.id), "address": "",
        "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 200  # the form again, with the error
    assert db.session.execute(select(Facility).where(Facility.code == "CS-LAU")).first() is None
    page = client.get(f"/admin/facilities/edit/?id={world.inside.id}")
    client.post(f"/admin/facilities/edit/?id={world.inside.id}", data={
        "code": "CS-TRONG", "name": "Đã chuyển", "org_unit": str(world.other_commune.id), "address": "",
        "csrf_token": csrf_token_from(page.text)})
    db.session.expire_all()
    assert db.session.get(Facility, world.inside.id).org_unit_id == world.commune_a1.id


def test_unit_views_and_browser_are_scoped(client, login, world):
    login(world.steward)
    assert client.get(f"/admin/units/details/?id={world.commune_a1.id}").status_code == 200
    assert client.get(f"/admin/units/details/?id={world.commune_b1.id}").status_code == 404
    assert client.get(f"/admin/unit_browser/?edition=2024&parent={world.district_a.id}").status_code == 200
    assert client.get(f"/admin/unit_browser/?edition=2024&parent={world.district_b.id}").status_code == 404
    browser = client.get("/admin/unit_browser/?edition=2024")
    assert world.district_a.name in browser.text and world.province.name not in browser.text


def test_a_scoped_administrator_manages_only_users_of_their_scope(client, login, world, make_user):
    stranger = make_user("data_steward", scope=world.district_b)
    login(world.district_admin)
    assert client.get(f"/admin/users/details/?id={world.steward.id}").status_code == 200
    assert client.get(f"/admin/users/details/?id={stranger.id}").status_code == 404
    assert stranger.username not in client.get("/admin/users/").text


def test_api_lists_only_units_in_the_callers_scope(client, world, db):
    token = issue_token(world.steward)
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/units?edition=2024", headers=headers).json
    codes = {item["code"] for item in body["items"]}
    assert codes == {world.district_a.code, world.commune_a1.code, world.commune_a2.code}
    assert body["total"] == 3 and body["page"] == 1
    outside = client.get(f"/api/v1/units?edition=2024&parent={world.district_b.code}", headers=headers).json
    assert outside["items"] == [] and outside["total"] == 0
    assert client.get("/api/v1/units").status_code == 401
    error = client.get("/api/v1/units?edition=1999", headers=headers)
    assert error.status_code == 400 and error.json["error"]["code"] == "bad_request"
    assert "2024" in error.json["error"]["message"]


def test_across_the_reform_only_wholly_contained_units_are_in_scope(hierarchy, make_user, make_succession, db):
    h = hierarchy
    make_succession(h.commune_a1, h.new_commune_1, "full")
    make_succession(h.commune_a2, h.new_commune_1, "partial")
    make_succession(h.commune_a2, h.new_commune_2, "partial")
    make_succession(h.commune_b1, h.new_commune_2, "full")

    def visible(user, edition):
        scope = Scope(user)
        return set(db.session.scalars(select(AdminUnit.code).where(AdminUnit.id.in_(scope.unit_ids(edition)))))

    commune_reporter = make_user("commune_reporter", scope=h.new_commune_1)
    assert visible(commune_reporter, 2024) == {h.commune_a1.code}  # the split commune a2 is not shared
    province_steward = make_user("data_steward", scope=h.new_province)
    # every 2024 commune of the old province lands in the new one, so its districts and itself are in scope;
    # the other old province, none of whose communes lands there, is not
    assert visible(province_steward, 2024) == {h.commune_a1.code, h.commune_a2.code, h.commune_b1.code,
                                               h.district_a.code, h.district_b.code, h.province.code}
    district_steward = make_user("data_steward", scope=h.district_a)
    # new commune 1 comes only from district a; new commune 2 also from district b
    assert visible(district_steward, 2025) == {h.new_commune_1.code}


def test_a_user_without_scope_sees_nothing(world, db):
    world.steward.scope_unit = None
    assert db.session.scalars(select(AdminUnit.id).where(AdminUnit.id.in_(Scope(world.steward).unit_ids()))).all() == []


def test_report_pages_are_scoped(client, login, world, db):
    from service.forms.registry import get_form
    from service.submissions.models import Submission

    form = get_form("commune_rehab")
    outside = Submission(form_code=form.code, form_version=1, period="2024Q4", period_type="quarter",
                         org_unit_id=world.other_commune.id, version=1, is_current=True, values={"relapsed": 1},
                         submitted_by_id=world.steward.id, channel="api", due_date=date(2025, 1, 10), on_time=True)
    inside = Submission(form_code=form.code, form_version=1, period="2024Q4", period_type="quarter",
                        org_unit_id=world.commune_a1.id, version=1, is_current=True, values={"relapsed": 2},
                        submitted_by_id=world.steward.id, channel="api", due_date=date(2025, 1, 10), on_time=True)
    db.session.add_all([outside, inside])
    db.session.flush()
    login(world.steward)
    assert client.get(f"/admin/submissions/details/?id={inside.id}").status_code == 200
    assert client.get(f"/admin/submissions/details/?id={outside.id}").status_code == 404
    export = client.get("/admin/submissions/export/csv/").text
    assert world.commune_a1.code in export and world.other_commune.code not in export
    assert client.get(f"/admin/completeness/?period=2024Q4&unit={world.other_district.code}").status_code == 404
    assert client.get(f"/admin/report/history/?period=2024Q4&commune={world.other_commune.code}").status_code == 404


# --- a facility's flags are not the commune reporter's -------------------------------------------------------

def _flag(db, **columns):
    from service.flags.models import Flag

    values = {"severity": "warning", "status": "open", "message_en": "Warning", "observed": {}, "values_hash": "h"}
    flag = Flag(**{**values, **columns})
    db.session.add(flag)
    db.session.flush()
    return flag


def test_a_commune_reporter_sees_and_answers_only_the_flags_of_the_communes_reports(client, login, world, db,
                                                                                   make_user):
    """A facility registered in the reporter's commune: its capacity flags belong to its manager and the
    stewards; the reporter's home page, flag list, flag page, answer routes and the API show report flags only."""
    reporter = make_user("commune_reporter", scope=world.commune_a1)
    report_flag = _flag(db, subject="report", org_unit_id=world.commune_a1.id, form_code="commune_rehab",
                        period="2025Q3", rule="C01", message_vi="Cảnh báo của báo cáo xã")
    facility_flag = _flag(db, subject="facility", facility_id=world.inside.id, org_unit_id=world.commune_a1.id,
                          rule="F01", message_vi="Cảnh báo công suất của cơ sở")
    steward_scope, reporter_scope = Scope(world.steward), Scope(reporter)
    assert steward_scope.contains_flag(facility_flag) and reporter_scope.contains_flag(report_flag)
    assert not reporter_scope.contains_flag(facility_flag)

    login(reporter)
    home = client.get("/admin/").text
    assert "Cảnh báo của báo cáo xã" in home and "Cảnh báo công suất của cơ sở" not in home
    listing = client.get("/admin/flags/").text
    assert f"id={report_flag.id}&" in listing and f"id={facility_flag.id}&" not in listing
    assert client.get(f"/admin/flags/details/?id={facility_flag.id}").status_code == 404
    token = csrf_token_from(client.get(f"/admin/flags/details/?id={report_flag.id}").text)
    response = client.post(f"/admin/flags/explain/{facility_flag.id}", data={"explanation": "Không phải của xã",
                                                                              "csrf_token": token})
    assert response.status_code == 404
    db.session.refresh(facility_flag)
    assert facility_flag.status == "open" and facility_flag.explanation in (None, "")

    api = client.get("/api/v1/flags", headers={"Authorization": f"Bearer {issue_token(reporter)}"}).get_json()
    assert {item["id"] for item in api["items"]} == {report_flag.id}
    steward_api = client.get("/api/v1/flags", headers={"Authorization": f"Bearer {issue_token(world.steward)}"})
    assert {report_flag.id, facility_flag.id} <= {item["id"] for item in steward_api.get_json()["items"]}
