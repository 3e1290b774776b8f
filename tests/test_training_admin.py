"""Training records in the admin: who may open what, scope on every view (lists, exports, details, custom pages,
ajax lookups), the roster (creation, duplicates, transcript), attendance (register from the roster, complete →
certificate), certificates (by hand, revoke), the attainment of the targets, and the home page's expiry items."""
import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from service.common.time import local_today
from service.training import operations
from service.training.models import (
    Certificate,
    Course,
    QualificationType,
    RoleCategory,
    StaffMember,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)
from tests.conftest import csrf_token_from, row_version_from

ENDS = date(2026, 3, 10)


def role(db, code):
    return db.session.execute(select(RoleCategory).where(RoleCategory.code == code)).scalar_one()


def staff_member(db, code, name, unit, role_code="counselling", facility=None, birth=date(1985, 5, 1), **extra):
    person = operations.create_staff(code, name, role(db, role_code), unit, "F", date_of_birth=birth,
                                     facility=facility, **extra)
    return person


def training_class(db, course, unit, ends=ENDS, capacity=30, organiser="Sở Y tế"):
    item = TrainingClass(course=course, org_unit=unit, organiser=organiser, place="Hội trường",
                         starts_on=ends - timedelta(days=4), ends_on=ends, capacity=capacity)
    db.session.add(item)
    db.session.flush()
    return item


@pytest.fixture
def world(db, make_unit, make_facility, make_user):
    class W:
        pass

    w = W()
    w.province_a = make_unit("province", name="Tỉnh An Thử")
    w.commune_a = make_unit("commune", w.province_a, name="Xã An Một")
    w.commune_a2 = make_unit("commune", w.province_a, name="Xã An Hai")
    w.province_b = make_unit("province", name="Tỉnh Bình Thử")
    w.commune_b = make_unit("commune", w.province_b, name="Xã Bình Một")
    w.facility_a = make_facility(w.commune_a, code="CS-A")
    w.admin = make_user("admin")
    w.coordinator = make_user("training_coordinator", scope=w.province_a)
    w.coordinator_b = make_user("training_coordinator", scope=w.province_b)
    w.steward = make_user("data_steward", scope=w.province_a)
    w.manager = make_user("facility_manager", facility=w.facility_a)
    w.reporter = make_user("commune_reporter", scope=w.commune_a)
    w.a1 = staff_member(db, "NV-A1", "Nguyễn Thị Lan", w.commune_a, facility=w.facility_a)
    w.a2 = staff_member(db, "NV-A2", "Trần Văn Bình", w.commune_a2)
    w.a3 = staff_member(db, "NV-A3", "Lê Thị Hoa", w.commune_a2, role_code="medical")
    w.b1 = staff_member(db, "NV-B1", "Phạm Văn Cường", w.commune_b)
    w.course = Course(code="TV-01", title="Tư vấn điều trị nghiện", topic="counselling", hours=24, certifies=True,
                      validity_months=24, target_roles="counselling")
    w.plain_course = Course(code="PL-01", title="Pháp luật về cai nghiện", topic="legal", hours=8, certifies=False)
    db.session.add_all([w.course, w.plain_course])
    db.session.flush()
    w.class_a = training_class(db, w.course, w.province_a)
    w.class_b = training_class(db, w.course, w.province_b)
    w.cert_b = operations.issue_certificate(w.b1, w.course, "Sở Y tế B", ENDS, training_class=w.class_b)
    return w


# --- who may open what -------------------------------------------------------------------------------------

OK, NO = 200, 403
# path → status per role: admin, coordinator, steward, facility manager, commune reporter
PAGES = {
    "/admin/staff/": (OK, OK, OK, OK, NO),
    "/admin/staff/new/": (OK, OK, NO, NO, NO),
    "/admin/staff/duplicates/": (OK, OK, NO, NO, NO),
    "/admin/staff/export/csv/": (OK, OK, NO, OK, NO),  # personal data: not exported by data stewards
    "/admin/qualifications/": (OK, OK, OK, OK, NO),
    "/admin/qualifications/new/": (OK, OK, NO, OK, NO),
    "/admin/courses/": (OK, OK, OK, OK, NO),
    "/admin/courses/new/": (OK, OK, NO, NO, NO),
    "/admin/classes/": (OK, OK, OK, NO, NO),
    "/admin/classes/new/": (OK, OK, NO, NO, NO),
    "/admin/certificates/": (OK, OK, OK, OK, NO),
    "/admin/certificates/new/": (OK, OK, NO, NO, NO),
    "/admin/training_plans/": (OK, OK, NO, NO, NO),
    "/admin/training_plans/new/": (OK, OK, NO, NO, NO),
    "/admin/training_targets/": (OK, OK, NO, NO, NO),
    "/admin/training_targets/new/": (OK, OK, NO, NO, NO),
    "/admin/attainment/": (OK, OK, OK, OK, NO),
    "/admin/attainment/export.csv": (OK, OK, OK, OK, NO),
    "/admin/attainment/export.xlsx": (OK, OK, OK, OK, NO),
    "/admin/role_categories/": (OK, OK, NO, NO, NO),
    "/admin/role_categories/new/": (OK, NO, NO, NO, NO),
    "/admin/qualification_types/": (OK, OK, NO, NO, NO),
    "/admin/qualification_types/new/": (OK, NO, NO, NO, NO),
    "/admin/role_requirements/": (OK, OK, NO, NO, NO),
    "/admin/role_requirements/new/": (OK, NO, NO, NO, NO),
}
ROLE_USERS = ("admin", "coordinator", "steward", "manager", "reporter")


@pytest.mark.parametrize("position", range(len(ROLE_USERS)), ids=ROLE_USERS)
def test_each_view_opens_for_its_roles_and_is_forbidden_to_the_others(client, login, world, position):
    login(getattr(world, ROLE_USERS[position]))
    statuses = {path: client.get(path).status_code for path in PAGES}
    assert statuses == {path: expected[position] for path, expected in PAGES.items()}


def test_the_training_menu_is_shown_to_the_coordinator_only_with_their_entries(client, login, world):
    login(world.coordinator)
    home = client.get("/admin/").text
    for path in ("/admin/staff/", "/admin/classes/", "/admin/certificates/", "/admin/attainment/"):
        assert f'href="{path}"' in home
    login(world.reporter)
    home = client.get("/admin/").text
    assert 'href="/admin/staff/"' not in home and 'href="/admin/attainment/"' not in home


def test_a_steward_cannot_post_to_the_coordinators_pages(client, login, world, db):
    login(world.steward)
    token = csrf_token_from(client.get("/admin/staff/").text)
    cert = operations.issue_certificate(world.a1, world.course, "Sở Y tế A", ENDS)
    assert client.post(f"/admin/certificates/revoke/{cert.id}", data={"csrf_token": token,
                                                                     "reason": "x"}).status_code == 403
    assert client.post(f"/admin/classes/attendance/{world.class_a.id}/add",
                       data={"csrf_token": token, "staff": [str(world.a1.id)]}).status_code == 403
    assert client.post("/admin/staff/duplicates/merge", data={"csrf_token": token, "keep": world.a1.id,
                                                             "duplicate": world.a2.id}).status_code == 403
    assert cert.revoked_at is None and not world.class_a.attendances and world.a2.merged_into_id is None


# --- scope -------------------------------------------------------------------------------------------------

def test_a_coordinator_gets_404_on_the_other_provinces_rows(client, login, world):
    login(world.coordinator)
    assert client.get(f"/admin/staff/details/?id={world.a1.id}").status_code == 200
    for path in (f"/admin/staff/details/?id={world.b1.id}", f"/admin/staff/edit/?id={world.b1.id}",
                 f"/admin/staff/transcript/{world.b1.id}", f"/admin/classes/details/?id={world.class_b.id}",
                 f"/admin/classes/attendance/{world.class_b.id}", f"/admin/classes/roster/{world.class_b.id}",
                 f"/admin/certificates/details/?id={world.cert_b.id}", f"/admin/certificates/revoke/{world.cert_b.id}"):
        assert client.get(path).status_code == 404, path
    token = csrf_token_from(client.get("/admin/staff/").text)
    response = client.post(f"/admin/certificates/revoke/{world.cert_b.id}", data={"csrf_token": token,
                                                                                 "reason": "thử"})
    assert response.status_code == 404 and world.cert_b.revoked_at is None
    response = client.post(f"/admin/classes/attendance/{world.class_a.id}/add",
                           data={"csrf_token": token, "staff": [str(world.b1.id)]})
    assert response.status_code == 404 and not world.class_a.attendances


def test_lists_and_exports_show_only_rows_in_scope(client, login, world):
    login(world.coordinator)
    listing = client.get("/admin/staff/").text
    assert "NV-A1" in listing and "NV-A2" in listing and "NV-B1" not in listing
    export = client.get("/admin/staff/export/csv/").text
    assert "NV-A1" in export and "NV-B1" not in export
    assert world.cert_b.number not in client.get("/admin/certificates/export/csv/").text
    classes = client.get("/admin/classes/").text
    assert f"/admin/classes/attendance/{world.class_a.id}" in classes
    assert f"/admin/classes/attendance/{world.class_b.id}" not in classes
    login(world.coordinator_b)
    assert world.cert_b.number in client.get("/admin/certificates/export/csv/").text


def test_ajax_lookups_offer_only_units_and_people_in_scope(client, login, world):
    login(world.coordinator)
    units = client.get("/admin/staff/ajax/lookup/?name=org_unit&query=xa").json
    codes = {label.split(" ")[0] for _id, label in units}
    assert world.commune_a.code in codes and world.commune_a2.code in codes
    assert world.commune_b.code not in codes
    people = client.get("/admin/qualifications/ajax/lookup/?name=staff&query=nv").json
    labels = " ".join(label for _id, label in people)
    assert "NV-A1" in labels and "NV-B1" not in labels
    people = client.get("/admin/certificates/ajax/lookup/?name=staff&query=pham van").json
    assert people == []
    targets = client.get("/admin/training_targets/ajax/lookup/?name=scope_unit&query=tinh").json
    assert {label.split(" ")[0] for _id, label in targets} == {world.province_a.code}


def test_a_facility_manager_sees_and_edits_only_the_staff_of_their_facility(client, login, world, db):
    login(world.manager)
    listing = client.get("/admin/staff/").text
    assert "NV-A1" in listing and "NV-A2" not in listing
    assert client.get(f"/admin/staff/edit/?id={world.a2.id}").status_code == 404
    page = client.get(f"/admin/staff/edit/?id={world.a1.id}")
    assert page.status_code == 200
    response = client.post(f"/admin/staff/edit/?id={world.a1.id}", data={
        "csrf_token": csrf_token_from(page.text), "staff_code": "NV-A1", "full_name": "Nguyễn  Thị Lan Anh",
        "date_of_birth": "1985-05-01", "sex": "F", "role_category": str(world.a1.role_category_id),
        "org_unit": str(world.commune_a.id), "facility": str(world.facility_a.id), "position": "Tư vấn viên",
        "employment_status": "active", "start_date": "", "end_date": "",
        **row_version_from(page.text)})
    assert response.status_code == 302
    db.session.refresh(world.a1)
    assert world.a1.full_name == "Nguyễn Thị Lan Anh" and world.a1.search_name == "nguyen thi lan anh"


# --- the roster --------------------------------------------------------------------------------------------

def _staff_form(token, world, role_id, **overrides):
    data = {"csrf_token": token, "staff_code": "NV-MOI", "full_name": "Đặng Thị Mới", "date_of_birth": "1990-02-03",
            "sex": "F", "role_category": str(role_id), "org_unit": str(world.commune_a.id), "facility": "",
            "position": "Cán bộ", "employment_status": "active", "start_date": "2020-01-01", "end_date": ""}
    data.update(overrides)
    return data


def test_a_person_created_in_the_form_gets_a_search_name_and_must_stay_in_scope(client, login, world, db):
    counselling = role(db, "counselling").id
    login(world.coordinator)
    page = client.get("/admin/staff/new/")
    response = client.post("/admin/staff/new/", data=_staff_form(csrf_token_from(page.text), world, counselling))
    assert response.status_code == 302
    person = db.session.execute(select(StaffMember).where(StaffMember.staff_code == "NV-MOI")).scalar_one()
    assert person.search_name == "dang thi moi" and person.employment_status == "active"
    found = client.get("/admin/staff/?search=DANG+THI+MOI").text
    assert "NV-MOI" in found and "NV-A1" not in found
    response = client.post("/admin/staff/new/", data=_staff_form(
        csrf_token_from(page.text), world, counselling, staff_code="NV-LAU", org_unit=str(world.commune_b.id)))
    assert response.status_code == 200
    assert db.session.execute(select(StaffMember).where(StaffMember.staff_code == "NV-LAU")).first() is None


def test_a_person_whose_end_date_is_before_the_start_is_refused_on_create_and_on_edit(client, login, world, db):
    """The date rules of the roster are the operations': the form is shown again with the message, nothing saved."""
    counselling = role(db, "counselling").id
    login(world.coordinator)
    page = client.get("/admin/staff/new/")
    response = client.post("/admin/staff/new/", data=_staff_form(
        csrf_token_from(page.text), world, counselling, employment_status="left", end_date="2019-12-31"))
    assert response.status_code == 200 and "Ngày nghỉ việc không thể trước ngày bắt đầu công tác." in response.text
    assert db.session.execute(select(StaffMember).where(StaffMember.staff_code == "NV-MOI")).first() is None
    person = staff_member(db, "NV-SUA", "Lê  Văn   Sửa", world.commune_a, start_date=date(2020, 1, 1))
    db.session.commit()
    page = client.get(f"/admin/staff/edit/?id={person.id}")
    data = _staff_form(csrf_token_from(page.text), world, counselling, staff_code="NV-SUA", full_name="Lê Văn  Sửa",
                       employment_status="left", end_date="2019-12-31", **row_version_from(page.text))
    assert client.post(f"/admin/staff/edit/?id={person.id}", data=data).status_code == 200
    db.session.expire_all()
    assert db.session.get(StaffMember, person.id).employment_status == "active"
    data.update(end_date="2024-06-30")
    assert client.post(f"/admin/staff/edit/?id={person.id}", data=data).status_code == 302
    db.session.expire_all()
    saved = db.session.get(StaffMember, person.id)
    assert (saved.full_name, saved.search_name, saved.end_date) == ("Lê Văn Sửa", "le van sua", date(2024, 6, 30))


def test_the_list_filters_by_role_category_and_unit_code(client, login, world, db):
    from admin.links import filtered_list_url

    login(world.coordinator)
    with client.application.test_request_context():
        url = filtered_list_url("staff", role_category_id=str(role(db, "medical").id))
    listing = client.get(url).text
    assert "NV-A3" in listing and "NV-A1" not in listing
    listing = client.get("/admin/staff/", query_string={"flt0_2": world.commune_a2.code}).text
    assert "NV-A2" in listing and "NV-A3" in listing and "NV-A1" not in listing


def test_duplicates_are_listed_and_merging_moves_the_history(client, login, world, db):
    twin = staff_member(db, "NV-A1B", "Nguyen Thi  Lan", world.commune_a2)
    certificate = operations.issue_certificate(twin, world.course, "Sở Y tế A", ENDS)
    staff_member(db, "NV-B1B", "Phạm Văn Cường", world.commune_b)  # B's duplicates are not A's business
    login(world.coordinator)
    page = client.get("/admin/staff/duplicates/")
    assert "NV-A1" in page.text and "NV-A1B" in page.text and "NV-B1B" not in page.text
    response = client.post("/admin/staff/duplicates/merge", data={
        "csrf_token": csrf_token_from(page.text), "keep": str(world.a1.id), "duplicate": str(twin.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert twin.merged_into_id == world.a1.id and certificate.staff_id == world.a1.id
    assert "no-duplicates" in client.get("/admin/staff/duplicates/").text  # (shows the flash message)
    assert "NV-A1B" not in client.get("/admin/staff/").text
    assert client.get(f"/admin/staff/details/?id={twin.id}").status_code == 404
    transcript = client.get(f"/admin/staff/transcript/{world.a1.id}").text
    assert certificate.number in transcript
    response = client.post("/admin/staff/duplicates/merge", data={
        "csrf_token": csrf_token_from(page.text), "keep": str(world.a1.id), "duplicate": str(world.b1.id)})
    assert response.status_code == 404 and world.b1.merged_into_id is None


# --- attendance --------------------------------------------------------------------------------------------

def test_register_from_the_roster_then_complete_issues_certificates(client, login, world, db):
    login(world.coordinator)
    url = f"/admin/classes/attendance/{world.class_a.id}"
    page = client.get(url, query_string={"filtered": "1", "role": "counselling", "untrained": "1"})
    assert page.status_code == 200
    assert f'id="candidate-{world.a1.id}"' in page.text and f'id="candidate-{world.a2.id}"' in page.text
    assert f'id="candidate-{world.a3.id}"' not in page.text  # medical staff
    assert f'id="candidate-{world.b1.id}"' not in page.text  # another province
    narrowed = client.get(url, query_string={"filtered": "1", "role": "counselling", "unit": world.commune_a2.code,
                                             "untrained": "1"}).text
    assert f'id="candidate-{world.a2.id}"' in narrowed and f'id="candidate-{world.a1.id}"' not in narrowed
    response = client.post(f"{url}/add", data={"csrf_token": csrf_token_from(page.text),
                                               "staff": [str(world.a1.id), str(world.a2.id)], "role": "counselling"})
    assert response.status_code == 302
    attendances = {a.staff_id: a for a in world.class_a.attendances}
    assert set(attendances) == {world.a1.id, world.a2.id}
    assert all(a.status == "registered" for a in attendances.values())
    page = client.get(url)
    assert f'id="attendee-{world.a1.id}"' in page.text and f'id="candidate-{world.a1.id}"' not in page.text
    one, two = attendances[world.a1.id], attendances[world.a2.id]
    response = client.post(f"{url}/save", data={
        "csrf_token": csrf_token_from(page.text), f"status-{one.id}": "completed", f"pre-{one.id}": "55",
        f"post-{one.id}": "8,5", f"status-{two.id}": "failed", f"pre-{two.id}": "", f"post-{two.id}": "40"})
    assert response.status_code == 302
    db.session.expire_all()
    assert one.status == "completed" and one.post_score == Decimal("8.5") and two.status == "failed"
    certificates = db.session.scalars(select(Certificate).where(Certificate.class_id == world.class_a.id)).all()
    assert [c.staff_id for c in certificates] == [world.a1.id]
    assert certificates[0].issued_on == ENDS and certificates[0].expires_on == date(2028, 3, 10)
    page = client.get(url).text
    assert certificates[0].number in page
    assert certificates[0].number in client.get(f"/admin/classes/roster/{world.class_a.id}").text
    # saving again issues nothing twice; a score out of range saves nothing
    client.post(f"{url}/save", data={"csrf_token": csrf_token_from(page), f"status-{one.id}": "completed",
                                     f"post-{one.id}": "90"})
    assert db.session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.class_id == world.class_a.id)) == 1
    client.post(f"{url}/save", data={"csrf_token": csrf_token_from(page), f"status-{two.id}": "completed",
                                     f"post-{two.id}": "140"})
    db.session.expire_all()
    assert two.status == "failed"
    # trained people are no longer offered for a class of the same topic, unless asked
    later = training_class(db, world.course, world.province_a, ends=ENDS + timedelta(days=60))
    offered = client.get(f"/admin/classes/attendance/{later.id}", query_string={
        "filtered": "1", "role": "counselling", "untrained": "1"}).text
    assert f'id="candidate-{world.a1.id}"' not in offered and f'id="candidate-{world.a2.id}"' in offered
    offered = client.get(f"/admin/classes/attendance/{later.id}", query_string={
        "filtered": "1", "role": "counselling"}).text
    assert f'id="candidate-{world.a1.id}"' in offered


def test_a_full_class_refuses_more_people(client, login, world, db):
    small = training_class(db, world.course, world.province_a, capacity=1)
    login(world.coordinator)
    url = f"/admin/classes/attendance/{small.id}"
    token = csrf_token_from(client.get(url).text)
    client.post(f"{url}/add", data={"csrf_token": token, "staff": [str(world.a1.id), str(world.a2.id)]})
    assert small.attendances == []
    page = client.get(url).text
    assert "alert-danger" in page and ("holds 1 people" in page or "chỉ nhận 1 người" in page)


def test_a_class_with_attendees_is_kept_and_an_empty_one_can_be_deleted(client, login, world, db):
    operations.add_attendees(world.class_a, [world.a1])
    empty = training_class(db, world.course, world.province_a)
    empty_id = empty.id
    login(world.coordinator)
    token = csrf_token_from(client.get("/admin/classes/").text)
    client.post("/admin/classes/delete/", data={"id": str(world.class_a.id), "csrf_token": token})
    client.post("/admin/classes/delete/", data={"id": str(empty_id), "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(TrainingClass, world.class_a.id) is not None
    assert db.session.get(TrainingClass, empty_id) is None


# --- certificates ------------------------------------------------------------------------------------------

def test_a_certificate_by_hand_only_for_a_certifying_course(client, login, world, db):
    login(world.coordinator)
    page = client.get("/admin/certificates/new/")
    base = {"csrf_token": csrf_token_from(page.text), "staff": str(world.a2.id), "issuer": "Trường Cao đẳng Y tế",
            "number": "", "issued_on": "2025-06-30"}
    response = client.post("/admin/certificates/new/", data={**base, "course": str(world.plain_course.id)})
    assert response.status_code == 200 and "PL-01" in response.text
    assert db.session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.staff_id == world.a2.id)) == 0
    response = client.post("/admin/certificates/new/", data={**base, "course": str(world.course.id)})
    assert response.status_code == 302
    certificate = db.session.execute(select(Certificate).where(Certificate.staff_id == world.a2.id)).scalar_one()
    assert certificate.number == "2025/00001" and certificate.expires_on == date(2027, 6, 30)
    response = client.post("/admin/certificates/new/", data={**base, "course": str(world.course.id),
                                                             "staff": str(world.b1.id)})
    assert response.status_code == 200  # a person of another province is not a valid choice
    assert db.session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.staff_id == world.b1.id)) == 1


def test_revoking_needs_a_reason_and_keeps_the_certificate(client, login, world, db):
    certificate = operations.issue_certificate(world.a1, world.course, "Sở Y tế A", ENDS)
    login(world.coordinator)
    details = client.get(f"/admin/certificates/details/?id={certificate.id}")
    assert 'id="revoke-form"' in details.text
    token = csrf_token_from(details.text)
    client.post(f"/admin/certificates/revoke/{certificate.id}", data={"csrf_token": token, "reason": "  "})
    assert certificate.revoked_at is None
    response = client.post(f"/admin/certificates/revoke/{certificate.id}",
                           data={"csrf_token": token, "reason": "Cấp nhầm người"})
    assert response.status_code == 302
    db.session.expire_all()
    assert certificate.revoked_at is not None and certificate.revoked_reason == "Cấp nhầm người"
    assert "Cấp nhầm người" in client.get(f"/admin/certificates/details/?id={certificate.id}").text
    listing = client.get("/admin/certificates/?flt0_2=1").text
    assert certificate.number in listing


# --- attainment --------------------------------------------------------------------------------------------

@pytest.fixture
def target(db, world):
    """Province A, counselling staff, 80 % certified in counselling by 2027. On 2026-06-01 five counselling staff
    are active (a1, a2 and three more); two hold a valid certificate, one a revoked one, one an expired one; one
    who left and a medical worker do not count."""
    today = date(2026, 6, 1)
    extra = [staff_member(db, f"NV-A{i}", f"Người Thứ {i}", world.commune_a2) for i in (4, 5, 6)]
    gone = staff_member(db, "NV-A9", "Người Đã Nghỉ", world.commune_a)
    operations.leave(gone, date(2026, 1, 1))
    short = Course(code="TV-02", title="Tư vấn ngắn hạn", topic="counselling", hours=8, certifies=True,
                   validity_months=3)
    db.session.add(short)
    db.session.flush()
    operations.issue_certificate(world.a1, world.course, "Sở Y tế A", date(2026, 1, 5))
    operations.issue_certificate(extra[0], world.course, "Sở Y tế A", date(2026, 2, 5))
    operations.revoke_certificate(operations.issue_certificate(extra[1], world.course, "Sở Y tế A",
                                                               date(2026, 2, 6)), "sai")
    operations.issue_certificate(extra[2], short, "Sở Y tế A", date(2025, 12, 1))  # expired on 2026-03-01
    operations.issue_certificate(gone, world.course, "Sở Y tế A", date(2025, 6, 1))
    operations.issue_certificate(world.a3, world.course, "Sở Y tế A", date(2026, 2, 1))  # medical
    counselling = role(db, "counselling")
    plan = TrainingPlan(code="=KH-01", name="Kế hoạch thử", number="01/KH")
    db.session.add(plan)
    db.session.flush()
    item = TrainingTarget(plan=plan, scope_unit=world.province_a, role_category=counselling,
                          metric="certified", topic="counselling", percent=80, deadline=date(2027, 12, 31))
    other = TrainingTarget(plan=plan, scope_unit=world.province_b, role_category=counselling,
                           metric="trained", topic=None, percent=50, deadline=date(2027, 12, 31))
    db.session.add_all([item, other])
    db.session.flush()
    return item, other, today


def test_the_attainment_page_counts_numerator_denominator_and_gap(client, login, world, target):
    item, other, today = target
    login(world.coordinator)
    page = client.get("/admin/attainment/", query_string={"on": today.isoformat()}).text
    row = page.split(f'id="target-{item.id}"')[1].split("</tr>")[0]
    assert '<span class="numerator">2</span>' in row and '<span class="denominator">5</span>' in row
    assert "40,0 %" in row and 'data-gap="2"' in row and "not-met" in row
    assert f'id="target-{other.id}"' not in page
    detail = client.get(f"/admin/attainment/target/{item.id}", query_string={"on": today.isoformat()}).text
    assert f'id="unit-{world.commune_a2.code}"' in detail and f'id="unit-{world.commune_a.code}"' in detail
    assert detail.index(f'id="unit-{world.commune_a2.code}"') < detail.index(f'id="unit-{world.commune_a.code}"')
    assert client.get(f"/admin/attainment/target/{other.id}").status_code == 404
    # a day before any certificate: nobody meets it yet
    early = client.get("/admin/attainment/", query_string={"on": "2025-01-01"}).text
    assert '<span class="numerator">0</span>' in early.split(f'id="target-{item.id}"')[1].split("</tr>")[0]


def test_the_gap_is_a_sentence_in_vietnamese(client, login, world, target):
    item, _other, today = target
    login(world.coordinator)
    client.get("/language/vi?next=/admin/")
    page = client.get("/admin/attainment/", query_string={"on": today.isoformat()}).text
    row = page.split(f'id="target-{item.id}"')[1].split("</tr>")[0]
    # "Cần thêm 2 cán bộ làm công tác tư vấn được cấp chứng chỉ về …" once the catalogue has the message
    assert ("Cần thêm 2 cán bộ làm công tác tư vấn" in row) or ("2 more cán bộ làm công tác tư vấn" in row)


def test_the_attainment_export_neutralises_formulas(client, login, world, target):
    item, _other, today = target
    login(world.coordinator)
    response = client.get("/admin/attainment/export.csv", query_string={"on": today.isoformat()})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2
    assert rows[1][0] == "'=KH-01"
    assert rows[1][1] == world.province_a.code and rows[1][8:12] == ["2", "5", "40.0", "2"]
    from openpyxl import load_workbook

    book = client.get("/admin/attainment/export.xlsx", query_string={"on": today.isoformat()})
    sheet = load_workbook(io.BytesIO(book.data)).worksheets[0]
    cells = [cell.value for cell in sheet[2]]
    assert cells[0] == "'=KH-01" and cells[8:12] == [2, 5, 40.0, 2]


def test_a_facility_manager_reads_the_targets_measured_on_their_facility(client, login, world, target):
    item, other, today = target
    login(world.manager)
    page = client.get("/admin/attainment/", query_string={"on": today.isoformat()}).text
    row = page.split(f'id="target-{item.id}"')[1].split("</tr>")[0]
    assert world.facility_a.name in row
    assert '<span class="numerator">1</span>' in row and '<span class="denominator">1</span>' in row
    assert f'id="target-{other.id}"' not in page


def test_a_national_admin_reads_one_province_at_a_time_or_all_by_page(client, login, world, target, monkeypatch):
    item, other, today = target
    login(world.admin)
    page = client.get("/admin/attainment/", query_string={"on": today.isoformat()}).text
    # the first province (by name) by default, the others in the select
    assert f'id="target-{item.id}"' in page and f'id="target-{other.id}"' not in page
    assert f'<option value="{world.province_a.id}" selected>' in page and f'value="{world.province_b.id}"' in page
    row = page.split(f'id="target-{item.id}"')[1].split("</tr>")[0]
    assert '<span class="numerator">2</span>' in row and '<span class="denominator">5</span>' in row
    chosen = client.get("/admin/attainment/", query_string={"on": today.isoformat(),
                                                              "province": world.province_b.id}).text
    assert f'id="target-{other.id}"' in chosen and f'id="target-{item.id}"' not in chosen
    assert f"province={world.province_b.id}" in chosen.split('id="export-link"')[0].rsplit("<a", 1)[1]
    every = client.get("/admin/attainment/", query_string={"on": today.isoformat(), "province": "all"}).text
    assert f'id="target-{other.id}"' in every and f'id="target-{item.id}"' in every
    assert 'id="attainment-pages"' not in every
    # a page at a time
    import service.training.queries

    monkeypatch.setattr(service.training.queries, "ATTAINMENT_PAGE_SIZE", 1)
    first = client.get("/admin/attainment/", query_string={"on": today.isoformat(), "province": "all"}).text
    second = client.get("/admin/attainment/", query_string={"on": today.isoformat(), "province": "all",
                                                              "page": 2}).text
    assert 'id="attainment-pages"' in first and "page=2" in first
    shown = [f'id="target-{t.id}"' in text for text in (first, second) for t in (item, other)]
    assert shown.count(True) == 2 and shown[0] != shown[2]
    # the export follows the choice, without pages
    rows = list(csv.reader(io.StringIO(client.get("/admin/attainment/export.csv", query_string={
        "on": today.isoformat(), "province": "all"}).get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 3
    # a coordinator of one province sees no province select
    login(world.coordinator)
    assert 'id="province"' not in client.get("/admin/attainment/").text


# --- the home page -----------------------------------------------------------------------------------------

def test_the_home_page_lists_what_expires_soon_with_a_link_to_exactly_those(client, login, world, db):
    today = local_today()
    short = Course(code="TV-03", title="Tư vấn cấp tốc", topic="counselling", hours=4, certifies=True,
                   validity_months=1)
    db.session.add(short)
    db.session.flush()
    soon = operations.issue_certificate(world.a1, world.course, "Sở A", today - timedelta(days=30), number="A-1")
    soon.expires_on = today + timedelta(days=5)
    later = operations.issue_certificate(world.a2, world.course, "Sở A", today - timedelta(days=30), number="A-2")
    later.expires_on = today + timedelta(days=20)
    far = operations.issue_certificate(world.a2, world.course, "Sở A", today, number="A-3")  # two years
    outside = operations.issue_certificate(world.b1, short, "Sở B", today - timedelta(days=20), number="B-1")
    outside.expires_on = today + timedelta(days=3)
    licence = db.session.execute(select(QualificationType).where(
        QualificationType.code == "practising_licence")).scalar_one()
    operations.record_qualification(world.a3, licence, today - timedelta(days=700), today + timedelta(days=25))
    db.session.flush()
    login(world.coordinator)
    home = client.get("/admin/")
    attention = home.text.split('id="attention"')[1].split("</ul>")[0]
    assert "/admin/attainment/" in attention
    links = {}
    for piece in attention.split("<li")[1:]:
        href = piece.split('href="')[1].split('"')[0].replace("&amp;", "&")
        count = piece.split('float-right">')[1].split("<")[0] if "float-right" in piece else None
        links[href] = (count, "list-group-item-danger" in piece)
    certificate_links = {href: value for href, value in links.items() if href.startswith("/admin/certificates/")}
    assert sorted(certificate_links.values()) == [("1", True), ("2", False)]
    urgent = next(href for href, (count, danger) in certificate_links.items() if danger)
    listing = client.get(urgent).text
    assert soon.number in listing and later.number not in listing and far.number not in listing
    assert outside.number not in listing
    qualification_links = [value for href, value in links.items() if href.startswith("/admin/qualifications/")]
    assert qualification_links == [("1", False)]
    login(world.manager)  # only the staff of their facility
    attention = client.get("/admin/").text.split('id="attention"')[1].split("</ul>")[0]
    counts = [piece.split('float-right">')[1].split("<")[0] for piece in attention.split("<li")[1:]
              if "float-right" in piece]
    assert counts == ["1", "1"]


# --- reference data and courses ----------------------------------------------------------------------------

def test_a_course_is_meant_for_role_categories_chosen_by_name(client, login, world, db):
    """#16 item 7: no longer English codes typed with commas; the list shows the names."""
    login(world.coordinator)
    page = client.get("/admin/courses/new/")
    options = re.search(r'<select[^>]*id="target_roles"[^>]*multiple[^>]*>(.*?)</select>', page.text, re.S)
    assert options, "target_roles is not a multiple select"
    assert f'value="counselling">{role(db, "counselling").name_vi}<' in options.group(1)
    data = {"csrf_token": csrf_token_from(page.text), "code": "QL-01", "title": "Quản lý sau cai",
            "topic": "case_management", "hours": "16", "certifies": "y", "validity_months": "36"}
    response = client.post("/admin/courses/new/", data={**data, "target_roles": ["rehab_direct", "khong_co"]})
    assert response.status_code == 200
    assert db.session.execute(select(Course).where(Course.code == "QL-01")).first() is None
    response = client.post("/admin/courses/new/", data={**data, "target_roles": ["rehab_direct", "counselling"]})
    assert response.status_code == 302
    course = db.session.execute(select(Course).where(Course.code == "QL-01")).scalar_one()
    assert course.target_roles == "rehab_direct,counselling"
    listing = client.get("/admin/courses/?search=QL-01").text
    names = f'{role(db, "rehab_direct").name_vi}, {role(db, "counselling").name_vi}'
    assert names in listing and "rehab_direct,counselling" not in listing
    edit = client.get(f"/admin/courses/edit/?id={course.id}").text
    chosen = re.findall(r'<option selected value="([^"]+)"|<option value="([^"]+)" selected', edit)
    assert {value for pair in chosen for value in pair if value} >= {"rehab_direct", "counselling"}


def test_a_target_in_another_province_cannot_be_created(client, login, world, db):
    plan = TrainingPlan(code="KH-02", name="Kế hoạch hai")
    db.session.add(plan)
    db.session.flush()
    login(world.coordinator)
    page = client.get("/admin/training_targets/new/")
    data = {"csrf_token": csrf_token_from(page.text), "plan": str(plan.id), "scope_unit": str(world.province_b.id),
            "role_category": str(role(db, "counselling").id), "metric": "certified", "topic": "",
            "percent": "70", "deadline": "2027-12-31"}
    assert client.post("/admin/training_targets/new/", data=data).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(TrainingTarget)) == 0
    response = client.post("/admin/training_targets/new/", data={**data, "scope_unit": str(world.province_a.id)})
    assert response.status_code == 302
    created = db.session.execute(select(TrainingTarget)).scalar_one()
    assert created.topic is None and created.scope_unit_id == world.province_a.id


def test_the_staff_export_neutralises_formulas(client, login, world, db):
    staff_member(db, "NV-A7", "=HYPERLINK(1)", world.commune_a)
    login(world.coordinator)
    export = client.get("/admin/staff/export/csv/").text
    assert "'=HYPERLINK(1)" in export



# --- no required choice made for the user (#16 item 5) ---------------------------------------------------------

def _selected(html, field):
    """The label of the option a <select id=field> shows as chosen (the browser's first when none is marked)."""
    block = re.search(rf'<select[^>]*id="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert block, f"no select {field}"
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", block.group(1))
    chosen = [label for attributes, label in options if "selected" in attributes]
    return chosen[0] if chosen else options[0][1]


@pytest.mark.parametrize("url, fields", [
    ("/admin/staff/new/", ("sex", "role_category")),
    ("/admin/classes/new/", ("course",)),
    ("/admin/courses/new/", ("topic",)),
    ("/admin/users/new/", ("role",)),
    ("/admin/facilities/new/", ("facility_type",)),
])
def test_a_new_records_required_choices_start_unchosen(client, login, world, url, fields):
    login(world.admin)
    html = client.get(url).text
    for field in fields:
        assert _selected(html, field) == "— Chọn —", (url, field)


def test_a_model_default_is_kept_as_the_forms_choice(client, login, world):
    login(world.admin)
    assert _selected(client.get("/admin/staff/new/").text, "employment_status") == "đang làm việc"


def test_a_person_saved_without_choosing_the_sex_is_refused_and_nothing_is_stored(client, login, world, db):
    login(world.coordinator)
    page = client.get("/admin/staff/new/")
    before = db.session.scalar(select(func.count()).select_from(StaffMember))
    response = client.post("/admin/staff/new/", data=_staff_form(csrf_token_from(page.text), world,
                                                                 role(db, "counselling").id, sex="__None"))
    assert response.status_code == 200 and _selected(response.text, "sex") == "— Chọn —"
    assert db.session.scalar(select(func.count()).select_from(StaffMember)) == before


def test_a_class_page_leads_to_its_attendance_and_roster(client, login, world):
    """#16 item 23: not only from an icon in the list."""
    login(world.coordinator)
    details = client.get(f"/admin/classes/details/?id={world.class_a.id}").text
    assert f'href="/admin/classes/attendance/{world.class_a.id}"' in details
    assert f'href="/admin/classes/roster/{world.class_a.id}"' in details
    assert client.get(f"/admin/classes/attendance/{world.class_a.id}").status_code == 200


def test_a_facility_saved_without_choosing_its_type_is_refused(client, login, world, db):
    """The model's default type serves the imports; in the form the type must be chosen."""
    from service.facilities.models import Facility

    login(world.admin)
    page = client.get("/admin/facilities/new/")
    data = {"csrf_token": csrf_token_from(page.text), "code": "CS-KHONG-LOAI", "name": "Cơ sở thử",
            "org_unit": str(world.commune_a.id), "status": "active"}
    for posted in ({**data, "facility_type": "__None"}, data):
        response = client.post("/admin/facilities/new/", data=posted)
        assert response.status_code == 200 and _selected(response.text, "facility_type") == "— Chọn —"
        assert db.session.scalar(select(Facility).where(Facility.code == "CS-KHONG-LOAI")) is None
    response = client.post("/admin/facilities/new/", data={**data, "facility_type": "public_rehab"})
    assert response.status_code == 302
    assert db.session.scalar(select(Facility.facility_type).where(Facility.code == "CS-KHONG-LOAI")) == "public_rehab"
