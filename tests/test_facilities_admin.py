"""Facilities in the admin: the facility page (capacity, census, flags, history) and its forms (census,
correction, capacity) with their conflicts and rights; the registry views (manager's restricted edit, closing);
facility flags in the flag list; the home page items; the staffing conditions."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from service.common.time import local_today
from service.facilities import operations
from service.facilities import queries as facility_queries
from service.facilities.models import CapacityChange, Census, StaffingCondition
from service.flags.models import Flag
from service.training.models import RoleCategory
from tests.conftest import csrf_token_from, row_version_from

TODAY = local_today()


@pytest.fixture
def world(db, make_unit, make_facility, make_user):
    class W:
        pass

    w = W()
    # the seeded staffing conditions of Decree 116 would flag every facility without staff: these tests are about
    # capacity and census (the last one adds a condition of its own)
    db.session.execute(delete(StaffingCondition))
    w.province = make_unit("province", name="Tỉnh Cơ Sở")
    w.commune = make_unit("commune", w.province, name="Xã Cơ Sở")
    w.other_province = make_unit("province", name="Tỉnh Khác")
    w.other_commune = make_unit("commune", w.other_province)
    w.facility = make_facility(w.commune, code="CS-A", name="Cơ sở cai nghiện A")
    w.neighbour = make_facility(w.commune, code="CS-B", name="Cơ sở cai nghiện B")
    w.far = make_facility(w.other_commune, code="CS-XA", name="Cơ sở ở xa")
    w.admin = make_user("admin")
    w.manager = make_user("facility_manager", facility=w.facility, scope=w.commune)
    w.manager_b = make_user("facility_manager", facility=w.neighbour, scope=w.commune)
    w.steward = make_user("data_steward", scope=w.province)
    w.coordinator = make_user("training_coordinator", scope=w.province)
    operations.set_capacity(w.admin, w.facility, {"compulsory": 10, "detox": 4}, TODAY - timedelta(days=30),
                            "Quyết định 12/QĐ")
    db.session.commit()
    return w


def page_url(facility):
    return f"/admin/facilities/page/{facility.id}"


def revision_from(html, form="census"):
    match = re.search(rf'id="{form}-revision"[^>]*value="(\d+)"|value="(\d+)"[^>]*id="{form}-revision"', html)
    assert match, f"no revision in the {form} form"
    return match.group(1) or match.group(2)


def census_data(html, counts, census_date=None, **extra):
    data = {"csrf_token": csrf_token_from(html), "revision": revision_from(html),
            "census_date": (census_date or TODAY).isoformat()}
    for modality, count in counts.items():
        data[f"count_{modality}"] = str(count)
    data.update(extra)
    return data


def open_facility_flags(db, facility):
    return {flag.rule: flag for flag in db.session.scalars(select(Flag).where(
        Flag.facility_id == facility.id, Flag.status.in_(("open", "explained"))))}


def censuses(db, facility):
    return db.session.scalar(select(func.count()).select_from(Census).where(Census.facility_id == facility.id))


# --- the facility page and its forms -----------------------------------------------------------------------

def test_a_manager_enters_a_census_over_capacity_and_the_flag_appears_on_the_page(client, login, world, db):
    login(world.manager)
    page = client.get(page_url(world.facility))
    assert page.status_code == 200
    assert 'id="census-form"' in page.text and 'id="capacity-form"' in page.text
    assert 'id="places-compulsory"' in page.text and 'value="10"' in page.text  # prefilled with today's capacity
    assert "F03" in page.text  # capacity but no census yet: the staleness check says so
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(page.text, {"compulsory": 12, "detox": 2}, admissions_compulsory="3"))
    assert response.status_code == 302 and response.location.endswith(page_url(world.facility))
    flags = open_facility_flags(db, world.facility)
    assert set(flags) == {"F01-compulsory"}
    after = client.get(page_url(world.facility)).text
    assert "Đã lưu số liệu điều tra ngày" in after and "Số cảnh báo đang mở của cơ sở: 1" in after
    flag = flags["F01-compulsory"]
    assert f'id="flag-{flag.id}"' in after
    assert f'/admin/flags/details/?id={flag.id}' in after
    assert "vượt công suất (10)" in after
    assert "120,0 %" in after  # 12 of 10 places
    assert "50,0 %" in after  # detox 2 of 4 beds
    census = facility_queries.latest_census(world.facility)
    assert (census.line("compulsory").current_count, census.line("compulsory").admissions) == (12, 3)
    assert census.recorded_by_id == world.manager.id


def test_a_stale_revision_is_a_conflict_and_writes_nothing(client, login, world, db):
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 5}})
    db.session.commit()
    before = censuses(db, world.facility)
    response = client.post(f"{page_url(world.facility)}/census", data=census_data(page, {"compulsory": 9}))
    assert response.status_code == 409
    assert "Người khác đã thay đổi công suất hoặc số liệu điều tra" in response.text
    assert 'id="count-compulsory"' in response.text and 'value="9"' in response.text  # what the user typed
    assert censuses(db, world.facility) == before
    assert facility_queries.latest_census(world.facility).line("compulsory").current_count == 5
    # the page now carries the latest revision: sending again is a deliberate choice and goes through
    response = client.post(f"{page_url(world.facility)}/census", data=census_data(response.text, {"compulsory": 9}))
    assert response.status_code == 302
    assert censuses(db, world.facility) == before + 1


def test_a_stale_capacity_form_is_a_conflict_too(client, login, world, db):
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    operations.set_capacity(world.admin, world.facility, {"compulsory": 20}, TODAY)
    db.session.commit()
    rows = db.session.scalar(select(func.count()).select_from(CapacityChange))
    response = client.post(f"{page_url(world.facility)}/capacity", data={
        "csrf_token": csrf_token_from(page), "revision": revision_from(page, "capacity"),
        "effective_from": TODAY.isoformat(), "places_compulsory": "15"})
    assert response.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(CapacityChange)) == rows
    assert 'value="15"' in response.text


def test_a_manager_changes_the_capacity_and_the_checks_react(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    db.session.commit()
    assert "F01-compulsory" in open_facility_flags(db, world.facility)
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    response = client.post(f"{page_url(world.facility)}/capacity", data={
        "csrf_token": csrf_token_from(page), "revision": revision_from(page, "capacity"),
        "effective_from": (TODAY - timedelta(days=1)).isoformat(), "places_compulsory": "15", "places_detox": "4",
        "note": "Quyết định 99/QĐ-UBND"}, follow_redirects=True)
    assert "Đã lưu công suất từ ngày" in response.text and "Số cảnh báo đang mở của cơ sở: 0" in response.text
    assert open_facility_flags(db, world.facility) == {}
    assert facility_queries.capacity_on(world.facility, TODAY) == {"compulsory": 15, "detox": 4}
    history = response.text[response.text.index('id="capacity-history"'):]
    assert history.index("Quyết định 99/QĐ-UBND") < history.index("Quyết định 12/QĐ")  # newest first
    # the same figures again change nothing
    page = response.text
    response = client.post(f"{page_url(world.facility)}/capacity", data={
        "csrf_token": csrf_token_from(page), "revision": revision_from(page, "capacity"),
        "effective_from": TODAY.isoformat(), "places_compulsory": "15", "places_detox": "4"}, follow_redirects=True)
    assert "không có gì thay đổi" in response.text


def test_bad_figures_are_refused_in_vietnamese_and_kept_in_the_form(client, login, world, db):
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(page, {"compulsory": "mười"}))
    assert response.status_code == 422
    assert "Cai nghiện bắt buộc" in response.text and 'value="mười"' in response.text
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(page, {"compulsory": 3}, census_date=TODAY + timedelta(days=1)))
    assert response.status_code == 422
    response = client.post(f"{page_url(world.facility)}/census", data=census_data(page, {}, census_date=None) | {
        "census_date": "hôm qua", "count_compulsory": "3"})
    assert response.status_code == 422 and "nhập ngày" in response.text
    assert censuses(db, world.facility) == 0


def test_a_correction_needs_a_reason_and_replaces_the_counted_census(client, login, world, db):
    first = operations.record_census(world.manager, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    db.session.commit()
    assert "F01-compulsory" in open_facility_flags(db, world.facility)
    login(world.manager)
    page = client.get(page_url(world.facility) + f"?correct={first.id}")
    assert page.status_code == 200
    assert 'id="census-reason"' in page.text and 'value="12"' in page.text  # a prefilled copy
    assert f'id="census-corrects" name="corrects" type="hidden" value="{first.id}"' in page.text
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(page.text, {"compulsory": 8}, corrects=str(first.id), reason=" "))
    assert response.status_code == 422
    assert "Ghi rõ lý do và nội dung sửa." in response.text and 'value="8"' in response.text
    assert censuses(db, world.facility) == 1
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(page.text, {"compulsory": 8}, corrects=str(first.id),
                                            reason="Nhập nhầm 12 thay vì 8"), follow_redirects=True)
    assert "Đã sửa số liệu điều tra ngày" in response.text
    latest = facility_queries.latest_census(world.facility)
    assert latest.id != first.id and latest.corrects_id == first.id
    assert latest.line("compulsory").current_count == 8
    assert open_facility_flags(db, world.facility) == {}
    row = re.search(rf'<tr id="census-{first.id}".*?</tr>', response.text, re.S).group(0)
    assert "corrected" in row and "<s>" in row and f"đã được sửa bởi bản #{latest.id}" in row
    assert f'id="correct-{first.id}"' not in row  # a corrected census is not corrected again
    row = re.search(rf'<tr id="census-{latest.id}".*?</tr>', response.text, re.S).group(0)
    assert f"sửa bản #{first.id}" in row and "Nhập nhầm 12 thay vì 8" in row
    # correcting the old entry again is a conflict
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(response.text, {"compulsory": 7}, corrects=str(first.id), reason="lại"))
    assert response.status_code == 409
    assert censuses(db, world.facility) == 2


def test_a_correction_of_another_facilitys_census_is_not_found(client, login, world, db):
    other = operations.record_census(world.admin, world.neighbour, TODAY, {"compulsory": {"current_count": 1}})
    db.session.commit()
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    assert client.get(page_url(world.facility) + f"?correct={other.id}").status_code == 404
    response = client.post(f"{page_url(world.facility)}/census",
                           data=census_data(page, {"compulsory": 1}, corrects=str(other.id), reason="x"))
    assert response.status_code == 404
    assert censuses(db, world.facility) == 0


def test_a_manager_cannot_reach_another_facility(client, login, world, db):
    login(world.manager)
    own = client.get(page_url(world.facility)).text
    token = csrf_token_from(own)
    for path in (page_url(world.neighbour), f"/admin/facilities/details/?id={world.neighbour.id}",
                 f"/admin/facilities/edit/?id={world.neighbour.id}", page_url(world.far)):
        assert client.get(path).status_code == 404, path
    data = {"csrf_token": token, "revision": str(world.neighbour.revision), "census_date": TODAY.isoformat(),
            "count_compulsory": "3", "effective_from": TODAY.isoformat(), "places_compulsory": "50"}
    for path in (f"{page_url(world.neighbour)}/census", f"{page_url(world.neighbour)}/capacity",
                 f"/admin/facilities/edit/?id={world.neighbour.id}"):
        assert client.post(path, data=data).status_code == 404, path
    assert censuses(db, world.neighbour) == 0
    assert facility_queries.capacity_on(world.neighbour, TODAY) == {}
    listing = client.get("/admin/facilities/").text
    assert "CS-A" in listing and "CS-B" not in listing


def test_a_steward_reads_the_page_but_cannot_write(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 3}})
    db.session.commit()
    for user in (world.steward, world.coordinator):
        client.post("/admin/logout/", data={"csrf_token": csrf_token_from(client.get("/admin/login/").text)})
        login(user)
        page = client.get(page_url(world.facility))
        assert page.status_code == 200
        assert "Lịch sử số liệu điều tra" in page.text
        assert 'id="census-form"' not in page.text and 'id="capacity-form"' not in page.text
        assert "correct-link" not in page.text
        token = csrf_token_from(page.text)
        data = {"csrf_token": token, "revision": str(world.facility.revision), "census_date": TODAY.isoformat(),
                "count_compulsory": "4", "effective_from": TODAY.isoformat(), "places_compulsory": "50"}
        assert client.post(f"{page_url(world.facility)}/census", data=data).status_code == 403
        assert client.post(f"{page_url(world.facility)}/capacity", data=data).status_code == 403
        assert client.get(page_url(world.far)).status_code == 404
    assert censuses(db, world.facility) == 1


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(client, login, world, db):
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    data = census_data(page, {"compulsory": 4})
    del data["csrf_token"]
    assert client.post(f"{page_url(world.facility)}/census", data=data).status_code == 400
    assert client.post(f"{page_url(world.facility)}/census", data=data | {"csrf_token": "forged"}).status_code == 400
    assert client.post(f"{page_url(world.facility)}/capacity", data={
        "revision": revision_from(page, "capacity"), "effective_from": TODAY.isoformat(),
        "places_compulsory": "99"}).status_code == 400
    assert censuses(db, world.facility) == 0
    assert facility_queries.capacity_on(world.facility, TODAY)["compulsory"] == 10


def test_html_in_a_facility_name_is_escaped(client, login, world, db):
    world.facility.name = "<script>alert('cs')</script><b>Đậm</b>"
    world.facility.address = "<img src=x onerror=alert(1)>"
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 11}})
    db.session.commit()
    login(world.admin)
    flag = open_facility_flags(db, world.facility)["F01-compulsory"]
    for path in (page_url(world.facility), "/admin/facilities/", f"/admin/facilities/details/?id={world.facility.id}",
                 "/admin/flags/", f"/admin/flags/details/?id={flag.id}"):
        text = client.get(path).text
        assert "<script>alert('cs')" not in text and "<b>Đậm</b>" not in text, path
        assert "<img src=x" not in text, path
    assert "&lt;script&gt;" in client.get(page_url(world.facility)).text


def test_a_closed_facility_shows_no_forms(client, login, world, db):
    world.facility.status, world.facility.closed_on = "closed", TODAY
    db.session.commit()
    login(world.manager)
    page = client.get(page_url(world.facility)).text
    assert 'id="census-form"' not in page and 'id="closed-note"' in page


# --- the registry --------------------------------------------------------------------------------------------

def test_a_manager_edits_only_the_address_and_the_licence(client, login, world, db):
    login(world.manager)
    page = client.get(f"/admin/facilities/edit/?id={world.facility.id}").text
    assert 'name="licence_number"' in page and 'name="address"' in page
    assert 'name="code"' not in page and 'name="org_unit"' not in page and 'name="facility_type"' not in page
    assert 'name="revision"' not in page
    expires = TODAY + timedelta(days=20)
    response = client.post(f"/admin/facilities/edit/?id={world.facility.id}", data={
        "csrf_token": csrf_token_from(page), "address": "12 Đường Thử", "licence_number": "GP-01/2020",
        "licence_date": "2020-01-02", "licence_issuer": "Sở LĐTBXH", "licence_expires_on": expires.isoformat(),
        "code": "HACKED", "facility_type": "private_rehab", "org_unit": str(world.other_commune.id),
        "status": "closed", **row_version_from(page)})
    assert response.status_code == 302
    db.session.refresh(world.facility)
    assert (world.facility.code, world.facility.facility_type, world.facility.org_unit_id, world.facility.status) == (
        "CS-A", "public_rehab", world.commune.id, "active")
    assert (world.facility.address, world.facility.licence_number) == ("12 Đường Thử", "GP-01/2020")
    flags = open_facility_flags(db, world.facility)
    assert flags["F05"].severity == "warning"  # the licence expires within the warning window: re-checked at once


def test_the_admin_registry_form_and_closing_a_facility(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    db.session.commit()
    login(world.admin)
    page = client.get(f"/admin/facilities/edit/?id={world.facility.id}").text
    assert "Trạm y tế xã" in page  # facility types by their Vietnamese names
    assert 'name="revision"' not in page
    data = {"csrf_token": csrf_token_from(page), "code": "CS-A", "name": "Cơ sở cai nghiện A",
            "facility_type": "public_rehab", "org_unit": str(world.commune.id), "address": "", "status": "closed",
            "closed_on": "", **row_version_from(page)}
    response = client.post(f"/admin/facilities/edit/?id={world.facility.id}", data=data)
    assert response.status_code == 200
    assert "Cơ sở đã đóng cửa cần có ngày đóng cửa." in response.text
    db.session.refresh(world.facility)
    assert world.facility.status == "active"
    response = client.post(f"/admin/facilities/edit/?id={world.facility.id}",
                           data=data | {"closed_on": TODAY.isoformat()})
    assert response.status_code == 302
    db.session.refresh(world.facility)
    assert (world.facility.status, world.facility.closed_on) == ("closed", TODAY)
    assert open_facility_flags(db, world.facility) == {}  # a closed facility has no checks


def test_the_registry_list_details_and_export_show_the_new_columns(client, login, world, db):
    world.facility.facility_type, world.facility.licence_number = "commune_health", "GP-77"
    world.facility.licence_expires_on = TODAY + timedelta(days=400)
    db.session.commit()
    login(world.steward)
    listing = client.get("/admin/facilities/").text
    assert "Trạm y tế xã" in listing and "GP-77" in listing and "CS-XA" not in listing
    assert f"/admin/facilities/page/{world.facility.id}" in listing
    details = client.get(f"/admin/facilities/details/?id={world.facility.id}").text
    assert "Số giấy phép" in details and (TODAY + timedelta(days=400)).strftime("%d/%m/%Y") in details
    assert f"/admin/facilities/page/{world.facility.id}" in details
    export = client.get("/admin/facilities/export/csv/").text
    header = export.splitlines()[0]
    assert "Loại hình cơ sở" in header and "Số giấy phép" in header
    assert "commune_health" in export and "CS-XA" not in export


# --- flags, home page, staffing conditions -------------------------------------------------------------------

def test_a_manager_sees_and_explains_the_flags_of_their_facility_only(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    operations.set_capacity(world.admin, world.neighbour, {"voluntary": 1}, TODAY)
    operations.record_census(world.admin, world.neighbour, TODAY, {"voluntary": {"current_count": 2}})
    db.session.commit()
    own = open_facility_flags(db, world.facility)["F01-compulsory"]
    other = open_facility_flags(db, world.neighbour)["F01-voluntary"]
    login(world.manager)
    listing = client.get("/admin/flags/").text
    assert "F01-compulsory" in listing and "F01-voluntary" not in listing
    assert "CS-A" in listing  # the facility column
    details = client.get(f"/admin/flags/details/?id={own.id}")
    assert details.status_code == 200
    text = details.text
    assert "Loại hình: <strong>Cai nghiện bắt buộc</strong>" in text
    assert "Số chỗ: <strong>10</strong>" in text and "Số người đang điều trị: <strong>12</strong>" in text
    assert f"Ngày điều tra: <strong>{TODAY:%d/%m/%Y}</strong>" in text
    assert client.get(f"/admin/flags/details/?id={other.id}").status_code == 404
    assert client.get("/admin/flags/export/csv/").status_code == 403
    response = client.post(f"/admin/flags/explain/{own.id}", data={
        "csrf_token": csrf_token_from(text), "explanation": "Tiếp nhận theo quyết định của toà án, đang chuyển đi"})
    assert response.status_code == 302
    db.session.refresh(own)
    assert own.status == "explained" and own.explained_by_id == world.manager.id
    assert client.post(f"/admin/flags/explain/{other.id}", data={
        "csrf_token": csrf_token_from(text), "explanation": "x"}).status_code == 404
    assert client.post(f"/admin/flags/accept/{own.id}", data={
        "csrf_token": csrf_token_from(text), "reason": "x"}).status_code == 302
    db.session.refresh(own)
    assert own.status == "explained"  # a manager cannot accept


def test_a_steward_sees_facility_flags_in_scope_with_their_facility(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    operations.set_capacity(world.admin, world.far, {"compulsory": 1}, TODAY)
    operations.record_census(world.admin, world.far, TODAY, {"compulsory": {"current_count": 2}})
    db.session.commit()
    login(world.steward)
    listing = client.get("/admin/flags/").text
    assert "CS-A" in listing and "CS-XA" not in listing
    export = client.get("/admin/flags/export/csv/").text
    assert "CS-A" in export and "CS-XA" not in export


def test_the_home_page_leads_a_manager_to_their_facility_and_its_flags(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    db.session.commit()
    flag = open_facility_flags(db, world.facility)["F01-compulsory"]
    login(world.manager)
    home = client.get("/admin/").text
    attention = home[home.index('id="attention"'):]
    assert page_url(world.facility) in attention and "Cơ sở cai nghiện A" in attention
    assert f"/admin/flags/details/?id={flag.id}" in attention and "F01-compulsory" in attention


def test_the_home_page_counts_facility_flags_for_stewards_and_admins(client, login, world, db):
    operations.record_census(world.admin, world.facility, TODAY, {"compulsory": {"current_count": 12}})
    operations.set_capacity(world.admin, world.far, {"compulsory": 1}, TODAY)
    operations.record_census(world.admin, world.far, TODAY, {"compulsory": {"current_count": 2}})
    db.session.commit()
    login(world.steward)
    home = client.get("/admin/").text
    item = re.search(r'<li[^>]*><a href="([^"]+)">Cảnh báo của cơ sở</a>\s*<span[^>]*>(\d+)</span>', home)
    assert item, home[home.index('id="attention"'):]
    assert item.group(2) == "1"  # not the facility of the other province
    listing = client.get(item.group(1).replace("&amp;", "&")).text
    assert "F01-compulsory" in listing and "CS-XA" not in listing
    assert "/admin/capacity/" in home


def test_an_admin_keeps_the_staffing_conditions_and_the_checks_follow(client, login, world, db):
    login(world.admin)
    role = db.session.scalars(select(RoleCategory).order_by(RoleCategory.id)).first()
    page = client.get("/admin/staffing_conditions/new/").text
    assert "Cơ sở cai nghiện công lập" in page or "Trung tâm" in page
    response = client.post("/admin/staffing_conditions/new/", data={
        "csrf_token": csrf_token_from(page), "facility_type": "public_rehab", "role_category": str(role.id),
        "qualification_type": "__None", "minimum": "2", "severity": "error", "basis": "Nghị định 116/2021/NĐ-CP"})
    assert response.status_code == 302, response.text
    condition = db.session.scalars(select(StaffingCondition).where(StaffingCondition.role_category_id == role.id,
                                                                   StaffingCondition.minimum == 2)).one()
    flag = open_facility_flags(db, world.facility)[f"F04-{condition.id}"]
    details = client.get(f"/admin/flags/details/?id={flag.id}").text
    assert f"Nhóm cán bộ: <strong>{role.name_vi}</strong>" in details
    assert "Cần có (người): <strong>2</strong>" in details
    listing = client.get("/admin/staffing_conditions/").text
    assert role.name_vi in listing
    client.post("/admin/logout/", data={"csrf_token": csrf_token_from(listing)})
    login(world.manager)
    assert client.get("/admin/staffing_conditions/").status_code == 200
    assert client.get("/admin/staffing_conditions/new/").status_code == 403
    client.post("/admin/logout/", data={"csrf_token": csrf_token_from(client.get("/admin/login/").text)})
    login(world.admin)
    token = csrf_token_from(client.get("/admin/staffing_conditions/").text)
    response = client.post("/admin/staffing_conditions/delete/", data={"id": condition.id, "csrf_token": token})
    assert response.status_code == 302
    assert f"F04-{condition.id}" not in open_facility_flags(db, world.facility)

