"""GET /api/v1/aggregates: the list shape, the item shape of DESIGN.md, scope, approved_only, errors in
Vietnamese, and the OpenAPI document."""
import pytest

from service.approval.models import PeriodLock
from tests.test_period_report import FORM, PERIOD, flag_on, report_of
from tests.test_submissions import api, good_values


@pytest.fixture
def world(db, make_unit, make_user):
    """Two 2024 provinces: A with two districts (a1, a2 reported, b1 held back), B with one commune."""

    class W:
        pass

    w = W()
    w.province_a = make_unit("province", edition=2024, code="P81", name="Tỉnh A")
    w.district_1 = make_unit("district", w.province_a, code="D811")
    w.district_2 = make_unit("district", w.province_a, code="D812")
    w.a1 = make_unit("commune", w.district_1, code="C8111")
    w.a2 = make_unit("commune", w.district_1, code="C8112")
    w.b1 = make_unit("commune", w.district_2, code="C8121")
    w.province_b = make_unit("province", edition=2024, code="P82", name="Tỉnh B")
    w.district_b = make_unit("district", w.province_b, code="D821")
    w.c1 = make_unit("commune", w.district_b, code="C8211")
    w.steward_a = make_user("data_steward", scope=w.province_a)
    w.steward_b = make_user("data_steward", scope=w.province_b)
    w.district_steward = make_user("data_steward", scope=w.district_1)
    w.admin = make_user("admin")
    report_of(db, w.admin, w.a1, good_values(addicts_with_record=40, treated_total=10, completed=0,
                                             post_rehab_managed=0, vocational_supported=0, employed_after_rehab=0,
                                             relapsed=0))
    report_of(db, w.admin, w.a2, good_values(addicts_with_record=60, treated_total=30, completed=0,
                                             post_rehab_managed=0, vocational_supported=0, employed_after_rehab=0,
                                             relapsed=0))
    flag_on(db, report_of(db, w.admin, w.b1, good_values(addicts_with_record=900)), "C01", "error")
    report_of(db, w.admin, w.c1, good_values(addicts_with_record=5, treated_total=5))
    return w


def get(client, user, **params):
    return api(client, user, "get", "/api/v1/aggregates", query_string={"form": FORM, "period": PERIOD, **params})


def test_the_list_shape_and_the_item_shape(client, world):
    response = get(client, world.steward_a, level="province")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"items", "total", "page", "per_page"} and body["total"] == 1 and body["page"] == 1
    [item] = body["items"]
    assert {"org_unit", "period", "values", "communes_total", "communes_reported", "held_back", "edition", "name",
            "not_attributable", "indicators"} <= set(item)
    assert (item["org_unit"], item["period"], item["edition"], item["name"]) == ("P81", PERIOD, 2024, "Tỉnh A")
    assert (item["communes_total"], item["communes_reported"], item["held_back"]) == (3, 3, 1)
    assert item["values"]["addicts_with_record"] == 100 and item["values"]["treated_total"] == 40
    assert all(isinstance(value, int) for value in item["values"].values())
    assert item["indicators"]["treatment_rate"] == 40.0


def test_an_indicator_with_a_zero_denominator_is_null(client, world):
    [item] = get(client, world.steward_a, level="district", org_unit="D811").get_json()["items"]
    assert item["values"]["completed"] == 0
    assert item["indicators"]["post_rehab_management_rate"] is None
    assert item["indicators"]["treatment_rate"] == 40.0


def test_levels_and_parents(client, world):
    districts = get(client, world.admin, level="district", org_unit="P81").get_json()
    assert [item["org_unit"] for item in districts["items"]] == ["D811", "D812"]
    communes = get(client, world.admin, level="commune", org_unit="D812").get_json()["items"]
    assert [(item["org_unit"], item["held_back"], item["values"]) for item in communes] == [("C8121", 1, {})]
    everything = get(client, world.admin, level="province").get_json()
    assert {item["org_unit"] for item in everything["items"]} == {"P81", "P82"}
    page = get(client, world.admin, level="commune", per_page=2, page=2).get_json()
    assert page["total"] == 4 and page["per_page"] == 2 and len(page["items"]) == 2


def test_each_steward_sees_only_their_own_units(client, world):
    for level in ("province", "district", "commune"):
        items = get(client, world.steward_a, level=level).get_json()["items"]
        assert items and not any(item["org_unit"] in ("P82", "D821", "C8211") for item in items)
        items = get(client, world.steward_b, level=level).get_json()["items"]
        assert {item["org_unit"] for item in items} <= {"P82", "D821", "C8211"}
    response = get(client, world.steward_a, level="district", org_unit="P82")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    # a district steward does not get the province's figures made of their district only
    assert get(client, world.district_steward, level="province").get_json()["items"] == []
    [district] = get(client, world.district_steward, level="district").get_json()["items"]
    assert district["org_unit"] == "D811" and district["communes_total"] == 2


def test_approved_only_counts_the_communes_under_an_approved_unit(client, db, world):
    db.session.add(PeriodLock(form_code=FORM, period=PERIOD, org_unit_id=world.district_1.id))
    db.session.flush()
    [item] = get(client, world.steward_a, level="province", approved_only="true").get_json()["items"]
    assert (item["communes_total"], item["communes_reported"], item["values"]["treated_total"]) == (2, 2, 40)
    [item] = get(client, world.steward_a, level="province", approved_only="false").get_json()["items"]
    assert item["communes_total"] == 3


@pytest.mark.parametrize("params,parameter", [
    ({"form": "no_such_form"}, "form"),
    ({"period": "2025Q5"}, "period"),
    ({"period": ""}, "period"),
    ({"period": "2025W01"}, "period"),
    ({"level": "village"}, "level"),
    ({"edition": "2023"}, "edition"),
    ({"period": "2026Q1", "edition": "2024"}, "edition"),
    ({"period": "2026Q1", "level": "district"}, "level"),
    ({"approved_only": "maybe"}, "approved_only"),
])
def test_bad_input_is_a_400_with_a_vietnamese_message_and_details(client, world, params, parameter):
    response = get(client, world.steward_a, **{"level": "province", **params})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["message"]
    assert error["details"][0]["parameter"] == parameter
    assert any(ord(char) > 127 for char in error["message"])  # Vietnamese, with its diacritics


def test_the_route_needs_a_token_and_is_in_the_openapi_document(client, world):
    assert client.get("/api/v1/aggregates", query_string={"period": PERIOD}).status_code == 401
    document = api(client, world.admin, "get", "/api/v1/openapi.json").get_json()
    spec = document["paths"]["/aggregates"]["get"]
    assert {"form", "period", "level", "org_unit", "edition", "approved_only"} <= {
        parameter["name"] for parameter in spec["parameters"]}
