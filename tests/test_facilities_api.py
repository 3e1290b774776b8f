"""The facilities API: lists and details scoped to the caller, census entries with their checks, conflicts and
errors in the shapes clients rely on, and the routes in the OpenAPI document."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service.accounts.operations import issue_token
from service.common.time import local_today
from service.facilities.models import Census, Facility
from service.facilities.operations import record_census, set_capacity


def call(client, user, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    return getattr(client, method)(path, headers=headers, **kwargs)


@pytest.fixture
def place(make_unit, make_facility, make_user, db):
    class P:
        pass

    p = P()
    p.today = local_today()
    p.province = make_unit("province", edition=2025)
    p.commune = make_unit("commune", p.province)
    p.other_province = make_unit("province", edition=2025)
    p.other_commune = make_unit("commune", p.other_province)
    p.a = make_facility(p.commune, code="API-A")
    p.b = make_facility(p.commune, code="API-B")
    p.b.facility_type = "commune_health"
    p.far = make_facility(p.other_commune, code="API-FAR")
    p.admin = make_user("admin")
    set_capacity(p.admin, p.a, {"compulsory": 10, "detox": 2}, p.today - timedelta(days=30))
    record_census(p.admin, p.a, p.today - timedelta(days=1), {"compulsory": {"current_count": 8, "admissions": 1}})
    p.manager_a = make_user("facility_manager", facility=p.a)
    p.steward = make_user("data_steward", scope=p.province)
    p.outsider = make_user("data_steward", scope=p.other_province)
    db.session.commit()  # a savepoint here: a request that rolls back keeps the fixtures
    return p


def test_list_and_details_show_capacity_and_latest_census_in_scope(client, place):
    body = call(client, place.steward, "get", "/api/v1/facilities").json
    assert set(body) == {"items", "total", "page", "per_page"}
    assert [item["code"] for item in body["items"]] == ["API-A", "API-B"]
    a = body["items"][0]
    assert (a["type"], a["org_unit"], a["status"]) == ("public_rehab", place.commune.code, "active")
    assert a["capacity"] == {"compulsory": 10, "detox": 2}
    assert a["latest_census"]["census_date"] == (place.today - timedelta(days=1)).isoformat()
    assert a["latest_census"]["lines"] == {"compulsory": {"admissions": 1, "discharges": 0, "current_count": 8}}
    assert body["items"][1]["latest_census"] is None and body["items"][1]["capacity"] == {}

    admin = call(client, place.admin, "get", "/api/v1/facilities?per_page=1").json
    assert (admin["total"], admin["per_page"], len(admin["items"])) == (3, 1, 1)
    by_province = call(client, place.admin, "get", f"/api/v1/facilities?province={place.other_province.code}").json
    assert [item["code"] for item in by_province["items"]] == ["API-FAR"]
    assert call(client, place.admin, "get", f"/api/v1/facilities?province={place.province.code}&edition=2024"
                ).json["total"] == 0
    by_type = call(client, place.admin, "get", "/api/v1/facilities?type=commune_health").json
    assert [item["code"] for item in by_type["items"]] == ["API-B"]
    assert call(client, place.admin, "get", "/api/v1/facilities?status=closed").json["total"] == 0
    bad = call(client, place.admin, "get", "/api/v1/facilities?type=hospital")
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["parameter"] == "type"

    detail = call(client, place.steward, "get", "/api/v1/facilities/API-A").json
    assert detail["revision"] == place.a.revision and detail["capacity"] == {"compulsory": 10, "detox": 2}
    assert {"address", "licence_number", "licence_expires_on", "open_flags"} <= set(detail)


def test_scope_a_manager_sees_only_their_facility_and_an_outsider_nothing(client, place):
    manager = call(client, place.manager_a, "get", "/api/v1/facilities").json
    assert [item["code"] for item in manager["items"]] == ["API-A"]
    assert call(client, place.manager_a, "get", "/api/v1/facilities/API-A").status_code == 200
    hidden = call(client, place.manager_a, "get", "/api/v1/facilities/API-B")
    missing = call(client, place.manager_a, "get", "/api/v1/facilities/NO-SUCH")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == missing.json
    assert hidden.json["error"]["code"] == "not_found" and "phạm vi" in hidden.json["error"]["message"]

    outsider = call(client, place.outsider, "get", "/api/v1/facilities").json
    assert [item["code"] for item in outsider["items"]] == ["API-FAR"]
    assert call(client, place.outsider, "get", "/api/v1/facilities/API-A").status_code == 404
    assert call(client, place.outsider, "get", f"/api/v1/facilities?province={place.province.code}").json[
        "total"] == 0
    assert client.get("/api/v1/facilities").status_code == 401


def test_a_census_over_capacity_is_recorded_and_opens_a_flag(client, place, db):
    payload = {"date": place.today.isoformat(), "expected_revision": place.a.revision,
               "lines": {"compulsory": {"admissions": 5, "discharges": 1, "current_count": 12},
                         "detox": {"current_count": 1}}}
    response = call(client, place.manager_a, "post", "/api/v1/facilities/API-A/census", json=payload)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["census_date"] == place.today.isoformat() and body["revision"] == payload["expected_revision"] + 1
    assert body["lines"]["compulsory"] == {"admissions": 5, "discharges": 1, "current_count": 12}
    flag = next(flag for flag in body["flags"] if flag["rule"] == "F01-compulsory")
    assert (flag["severity"], flag["status"], flag["facility_id"]) == ("error", "open", place.a.id)
    assert "vượt công suất" in flag["message"]
    census = db.session.get(Census, body["id"])
    assert census.channel == "api" and census.recorded_by_id == place.manager_a.id
    listed = call(client, place.steward, "get", "/api/v1/facilities/API-A").json
    assert listed["latest_census"]["id"] == body["id"]
    assert "F01-compulsory" in [flag["rule"] for flag in listed["open_flags"]]

    # a correction names the census it replaces; the flag closes when the occupancy is back within capacity
    correction = call(client, place.admin, "post", "/api/v1/facilities/API-A/census", json={
        "date": place.today.isoformat(), "lines": {"compulsory": {"current_count": 9}}, "corrects": body["id"],
        "reason": "Nhập nhầm"})
    assert correction.status_code == 201, correction.json
    assert correction.json["corrects"] == body["id"]
    assert "F01-compulsory" not in [flag["rule"] for flag in correction.json["flags"]]


def test_a_stale_revision_is_a_conflict_and_nothing_is_written(client, place, db):
    before = db.session.scalar(select(func.count()).select_from(Census))
    response = call(client, place.manager_a, "post", "/api/v1/facilities/API-A/census", json={
        "date": place.today.isoformat(), "expected_revision": place.a.revision - 1,
        "lines": {"compulsory": {"current_count": 3}}})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict" and "người khác" in response.json["error"]["message"].lower()
    assert db.session.scalar(select(func.count()).select_from(Census)) == before


def test_bad_census_bodies_are_400_with_details(client, place, db):
    before = db.session.scalar(select(func.count()).select_from(Census))
    url = "/api/v1/facilities/API-A/census"
    negative = call(client, place.manager_a, "post", url, json={
        "date": place.today.isoformat(), "lines": {"compulsory": {"current_count": -2, "admissions": -1}}})
    assert negative.status_code == 400
    error = negative.json["error"]
    assert error["code"] == "invalid_request" and error["message"]
    assert {(d["field"], d["message"]) for d in error["details"]} == {
        ("lines.compulsory.current_count", "Nhập số nguyên từ 0 trở lên."),
        ("lines.compulsory.admissions", "Nhập số nguyên từ 0 trở lên.")}
    shapeless = call(client, place.manager_a, "post", url, json={"date": "20/11/2026", "lines": {"beds": {}}})
    assert shapeless.status_code == 400
    assert {"date", "lines.beds"} <= {d["field"] for d in shapeless.json["error"]["details"]}
    future = call(client, place.manager_a, "post", url, json={
        "date": (place.today + timedelta(days=2)).isoformat(), "lines": {"compulsory": {"current_count": 1}}})
    assert future.status_code == 400 and future.json["error"]["code"] == "invalid_census"
    assert future.json["error"]["details"] and "tương lai" in future.json["error"]["message"]
    unknown = call(client, place.admin, "post", url, json={
        "date": place.today.isoformat(), "lines": {"compulsory": {"current_count": 1}}, "corrects": 999999,
        "reason": "x"})
    assert unknown.status_code == 400 and unknown.json["error"]["details"] == [{"field": "corrects"}]
    assert db.session.scalar(select(func.count()).select_from(Census)) == before


def test_only_managers_of_the_facility_and_administrators_may_post(client, place, db):
    body = {"date": place.today.isoformat(), "lines": {"compulsory": {"current_count": 1}}}
    assert call(client, place.steward, "post", "/api/v1/facilities/API-A/census", json=body).status_code == 403
    assert call(client, place.manager_a, "post", "/api/v1/facilities/API-B/census", json=body).status_code == 404
    assert call(client, place.manager_a, "post", "/api/v1/facilities/API-FAR/census", json=body).status_code == 404
    assert call(client, place.admin, "post", "/api/v1/facilities/API-B/census", json=body).status_code == 201
    place.b.status = "closed"
    db.session.flush()
    closed = call(client, place.admin, "post", "/api/v1/facilities/API-B/census", json=body)
    assert closed.status_code == 400 and "đóng cửa" in closed.json["error"]["message"]
    assert db.session.scalar(select(Facility.revision).where(Facility.code == "API-FAR")) == 0


def test_the_openapi_document_lists_the_facility_routes(client, place):
    spec = call(client, place.steward, "get", "/api/v1/openapi.json").json
    assert {"get"} <= set(spec["paths"]["/facilities"])
    assert [p["name"] for p in spec["paths"]["/facilities"]["get"]["parameters"]][:4] == [
        "province", "edition", "type", "status"]
    assert "get" in spec["paths"]["/facilities/{code}"]
    assert "post" in spec["paths"]["/facilities/{code}/census"]
