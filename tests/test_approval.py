"""Approval of a period: districts then the province (2024 list), the province directly (2025 list), scope, the
reopening rules, the audit trail, the lock through every entry path (web form, spreadsheet upload in the admin
and the API, POST /submissions), the official (approved-only) aggregate, and the /admin/approvals/ page."""
import io
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from service.accounts.operations import issue_token
from service.accounts.scope import Scope
from service.aggregation.approvals import approval_status
from service.aggregation.queries import aggregate
from service.approval.models import ApprovalEvent, PeriodLock
from service.approval.operations import ApprovalError, approve, reopen
from service.approval.queries import approval_history, is_approved
from service.audit.models import AuditLog
from service.audit.operations import acting_as
from service.flags.models import Flag
from service.forms.registry import get_form
from service.submissions.models import Submission, Upload
from service.submissions.operations import SubmissionError, submit
from service.submissions.queries import latest_reported_period
from tests.conftest import PASSWORD, csrf_token_from

FORM = "commune_rehab"
OLD = "2025Q2"  # a quarter of the 2024 (three-level) list
NEW = "2026Q3"  # a quarter of the 2025 (two-level) list
LOCKED_WORDS = "đã được phê duyệt và kh"  # khoá / khóa


def good_values(**changes):
    values = {
        "addicts_with_record": 40, "users_with_record": 60, "treated_total": 20, "treated_compulsory": 8,
        "treated_voluntary_facility": 4, "treated_community": 5, "treated_substitution": 3,
        "counselled_screened": 30, "completed": 10, "post_rehab_managed": 9, "vocational_supported": 5,
        "employed_after_rehab": 3, "relapsed": 1, "prevention_reached": 50, "key_commune_class": "II",
        "drug_free": False, "community_model": True,
    }
    values.update(changes)
    return values


@pytest.fixture
def env(hierarchy, make_user, make_unit):
    """The `hierarchy` units with a steward per district and province, a steward of the other province, a
    steward of the 2025 province, a national administrator and a reporter of commune a1."""
    h = hierarchy
    form = get_form(FORM)
    return SimpleNamespace(
        h=h, form=form, old=form.parse_period(OLD), new=form.parse_period(NEW),
        steward_a=make_user("data_steward", scope=h.district_a, full_name="Trần Văn A"),
        steward_b=make_user("data_steward", scope=h.district_b),
        province_steward=make_user("data_steward", scope=h.province, full_name="Lê Thị Tỉnh"),
        other_steward=make_user("data_steward", scope=h.other_province),
        new_steward=make_user("data_steward", scope=h.new_province),
        admin=make_user("admin"),
        reporter=make_user("commune_reporter", scope=h.commune_a1),
        coordinator=make_user("training_coordinator", scope=h.province),
    )


def send(env, user, period, unit, **changes):
    return submit(user, env.form, period, unit, good_values(**changes), "web")


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def events(db, unit, action=None):
    query = select(ApprovalEvent).where(ApprovalEvent.org_unit_id == unit.id)
    if action:
        query = query.where(ApprovalEvent.action == action)
    return db.session.scalars(query.order_by(ApprovalEvent.id)).all()


def error_of(call, *args, **kwargs):
    with pytest.raises(ApprovalError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- approving ----------------------------------------------------------------------------------------------


def test_districts_are_approved_first_then_the_province(env, db):
    h = env.h
    event = approve(env.steward_a, env.form, env.old, h.district_a, "Đã rà soát đủ")
    assert event.action == "approve" and event.comment == "Đã rà soát đủ" and event.user_id == env.steward_a.id
    assert is_approved(env.form, env.old, h.district_a) and not is_approved(env.form, env.old, h.province)
    approve(env.steward_b, env.form, env.old, h.district_b)
    approve(env.province_steward, env.form, env.old, h.province, "")
    locks = db.session.scalars(select(PeriodLock.org_unit_id).where(PeriodLock.period == OLD)).all()
    assert set(locks) == {h.district_a.id, h.district_b.id, h.province.id}
    assert [e.action for e in events(db, h.province)] == ["approve"]


def test_the_province_is_refused_while_a_district_is_missing_and_the_message_names_it(env, db):
    h = env.h
    approve(env.steward_a, env.form, env.old, h.district_a)
    error = error_of(approve, env.province_steward, env.form, env.old, h.province)
    assert error.status == 409
    assert h.district_b.name in error.message and h.district_a.name not in error.message
    assert "chưa" in error.message  # Vietnamese: "… huyện chưa được duyệt …"
    assert not is_approved(env.form, env.old, h.province) and events(db, h.province) == []


def test_a_2025_period_approves_the_province_directly(env, db):
    h = env.h
    approve(env.new_steward, env.form, env.new, h.new_province)
    assert is_approved(env.form, env.new, h.new_province)
    # the 2025 list has no districts, and a 2024 unit is not on the list of a 2025 period
    assert error_of(approve, env.admin, env.form, env.new, h.district_a).status == 400
    assert error_of(approve, env.admin, env.form, env.new, h.new_commune_1).status == 400


def test_approving_an_approved_unit_is_an_error(env, db):
    approve(env.steward_a, env.form, env.old, env.h.district_a)
    error = error_of(approve, env.steward_a, env.form, env.old, env.h.district_a)
    assert error.status == 409 and "đã được duyệt" in error.message
    assert len(events(db, env.h.district_a)) == 1


def test_a_steward_approves_only_the_unit_of_their_own_level_and_scope(env, db):
    h = env.h
    # a province steward does not approve a district, a district steward not another district nor the province
    assert error_of(approve, env.province_steward, env.form, env.old, h.district_a).status == 403
    assert error_of(approve, env.steward_a, env.form, env.old, h.district_b).status == 404
    assert error_of(approve, env.steward_a, env.form, env.old, h.province).status == 404
    # a steward of another province does not even see the unit
    assert error_of(approve, env.other_steward, env.form, env.old, h.district_a).status == 404
    # other roles never approve
    assert error_of(approve, env.coordinator, env.form, env.old, h.district_a).status == 403
    assert error_of(approve, env.reporter, env.form, env.old, h.district_a).status == 403
    # an administrator approves any unit of their scope
    approve(env.admin, env.form, env.old, h.district_a)
    assert count(db, PeriodLock) == 1


# --- reopening ----------------------------------------------------------------------------------------------


def test_a_district_is_reopened_by_its_province_with_a_reason(env, db):
    h = env.h
    approve(env.steward_a, env.form, env.old, h.district_a)
    assert error_of(reopen, env.steward_a, env.form, env.old, h.district_a, "sai số").status == 403
    assert error_of(reopen, env.province_steward, env.form, env.old, h.district_a, "  ").message
    event = reopen(env.province_steward, env.form, env.old, h.district_a, "Xã A1 báo cáo sai số người nghiện")
    assert event.action == "reopen" and event.comment == "Xã A1 báo cáo sai số người nghiện"
    assert not is_approved(env.form, env.old, h.district_a)
    assert [e.action for e in events(db, h.district_a)] == ["approve", "reopen"]
    # reopening what is not approved is an error; approving again works
    assert error_of(reopen, env.province_steward, env.form, env.old, h.district_a, "lại").status == 409
    approve(env.steward_a, env.form, env.old, h.district_a)
    assert is_approved(env.form, env.old, h.district_a)


def test_a_district_inside_an_approved_province_needs_the_province_reopened_first(env, db):
    h = env.h
    approve(env.steward_a, env.form, env.old, h.district_a)
    approve(env.steward_b, env.form, env.old, h.district_b)
    approve(env.province_steward, env.form, env.old, h.province)
    error = error_of(reopen, env.province_steward, env.form, env.old, h.district_a, "sai số")
    assert error.status == 409 and h.province.name in error.message
    # only an administrator reopens a province
    assert error_of(reopen, env.province_steward, env.form, env.old, h.province, "sai số").status == 403
    reopen(env.admin, env.form, env.old, h.province, "Huyện A cần sửa số liệu")
    assert is_approved(env.form, env.old, h.district_a)  # the districts stay approved
    reopen(env.province_steward, env.form, env.old, h.district_a, "Xã A1 sửa số liệu")
    assert not is_approved(env.form, env.old, h.district_a) and is_approved(env.form, env.old, h.district_b)


def test_a_2025_province_is_reopened_by_an_administrator(env, db):
    h = env.h
    approve(env.new_steward, env.form, env.new, h.new_province)
    assert error_of(reopen, env.new_steward, env.form, env.new, h.new_province, "sai").status == 403
    assert error_of(reopen, env.other_steward, env.form, env.new, h.new_province, "sai").status == 404
    reopen(env.admin, env.form, env.new, h.new_province, "Sửa số liệu xã")
    assert not is_approved(env.form, env.new, h.new_province)


# --- audit --------------------------------------------------------------------------------------------------


def test_every_approval_and_reopening_is_an_event_and_an_audit_row(env, app, db):
    h = env.h
    with acting_as(env.steward_a.id, env.steward_a.username, "admin"):
        approve(env.steward_a, env.form, env.old, h.district_a, "đủ")
    with acting_as(env.province_steward.id, env.province_steward.username, "admin"):
        reopen(env.province_steward, env.form, env.old, h.district_a, "sai số")
    rows = db.session.scalars(select(AuditLog).where(AuditLog.table_name.in_(("approval_event", "period_lock")))
                              .order_by(AuditLog.id)).all()
    assert [(r.table_name, r.action, r.user_id) for r in rows] == [
        ("period_lock", "create", env.steward_a.id), ("approval_event", "create", env.steward_a.id),
        ("period_lock", "delete", env.province_steward.id), ("approval_event", "create", env.province_steward.id),
    ]
    assert rows[1].new_values["action"] == "approve" and rows[3].new_values["comment"] == "sai số"


# --- the lock through every entry path ----------------------------------------------------------------------


def api(client, user, method, path, **kwargs):
    headers = kwargs.pop("headers", {})
    headers["Authorization"] = f"Bearer {issue_token(user)}"
    return getattr(client, method)(path, headers=headers, **kwargs)


def csv_file(env, commune, period=OLD):
    header = ["commune_code", "period", *env.form.field_codes]
    values = [str(v).lower() for v in good_values().values()]
    return (",".join(header) + "\n" + ",".join([commune.code, period, *values]) + "\n").encode()


def log_in(client, user):
    page = client.get("/admin/login/")
    response = client.post("/admin/login/", data={"username": user.username, "password": PASSWORD,
                                                  "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302, response.text


def web_entry(client, env, commune):
    url = f"/admin/report/?form={FORM}&period={OLD}&commune={commune.code}"
    page = client.get(url)
    data = {key: str(value).lower() for key, value in good_values().items()}
    return client.post(url, data={**data, "csrf_token": csrf_token_from(page.text)}, follow_redirects=True)


def admin_upload(client, env, commune):
    page = client.get(f"/admin/report/?form={FORM}&period={OLD}")
    return client.post(f"/admin/report/upload?form={FORM}&period={OLD}", data={
        "csrf_token": csrf_token_from(page.text), "file": (io.BytesIO(csv_file(env, commune)), "bao_cao.csv")},
        content_type="multipart/form-data", follow_redirects=True)


def test_an_approved_district_refuses_every_entry_path_until_it_is_reopened(env, app, db):
    h = env.h
    approve(env.steward_a, env.form, env.old, h.district_a)
    db.session.commit()
    client = app.test_client()
    log_in(client, env.reporter)

    # the web form
    page = web_entry(client, env, h.commune_a1)
    assert f"Kỳ {OLD} của {h.commune_a1.name} {LOCKED_WORDS}" in page.text
    # the spreadsheet upload in the admin
    page = admin_upload(client, env, h.commune_a1)
    assert LOCKED_WORDS in page.text and "Không có dữ liệu nào được lưu" in page.text
    # the API: POST /submissions and POST /submissions/upload
    response = api(client, env.reporter, "post", "/api/v1/submissions",
                   json={"form": FORM, "period": OLD, "org_unit": h.commune_a1.code, "values": good_values()})
    assert response.status_code == 409 and response.json["error"]["code"] == "period_locked"
    assert LOCKED_WORDS in response.json["error"]["message"]
    response = api(client, env.reporter, "post", "/api/v1/submissions/upload", data={
        "form": FORM, "period": OLD, "file": (io.BytesIO(csv_file(env, h.commune_a1)), "bao_cao.csv")})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_file"
    assert any(LOCKED_WORDS in item["message"] for item in response.json["error"]["details"])
    # and the operation itself
    with pytest.raises(SubmissionError) as caught:
        send(env, env.reporter, env.old, h.commune_a1)
    assert caught.value.code == "period_locked"
    assert count(db, Submission) == 0
    assert count(db, Upload, Upload.status == "accepted") == 0

    # a commune of the other district is not locked
    send(env, env.steward_b, env.old, h.commune_b1)

    reopen(env.province_steward, env.form, env.old, h.district_a, "Xã A1 gửi lại số liệu")
    db.session.commit()
    assert "phiên bản 1" in web_entry(client, env, h.commune_a1).text
    assert "Đã nhận tệp" in admin_upload(client, env, h.commune_a1).text
    response = api(client, env.reporter, "post", "/api/v1/submissions",
                   json={"form": FORM, "period": OLD, "org_unit": h.commune_a1.code, "values": good_values()})
    assert response.status_code == 201 and response.json["version"] == 3
    response = api(client, env.reporter, "post", "/api/v1/submissions/upload", data={
        "form": FORM, "period": OLD, "file": (io.BytesIO(csv_file(env, h.commune_a1)), "bao_cao.csv")})
    assert response.status_code == 201, response.json
    assert count(db, Submission, Submission.org_unit_id == h.commune_a1.id) == 4


def test_an_approved_2025_province_refuses_submissions_of_its_communes(env, app, db):
    h = env.h
    approve(env.new_steward, env.form, env.new, h.new_province)
    with pytest.raises(SubmissionError) as caught:
        send(env, env.new_steward, env.new, h.new_commune_2)
    assert caught.value.status == 409 and LOCKED_WORDS in caught.value.message
    # another period of the same communes is open
    send(env, env.new_steward, env.form.parse_period("2026Q2"), h.new_commune_2)


# --- the official figures -----------------------------------------------------------------------------------


def test_the_official_aggregate_counts_only_approved_units(env, db):
    h = env.h
    for commune, relapsed in ((h.commune_a1, 1), (h.commune_a2, 2), (h.commune_b1, 4)):
        send(env, env.province_steward, env.old, commune, relapsed=relapsed)

    def official(level):
        return {item.unit.id: item for item in aggregate(env.form, env.old, level, approved_only=True)}

    assert official("province") == {}
    approve(env.steward_a, env.form, env.old, h.district_a)
    province = official("province")[h.province.id]
    assert (province.values["relapsed"], province.communes_total, province.communes_reported) == (3, 2, 2)
    assert set(official("district")) == {h.district_a.id}
    approve(env.steward_b, env.form, env.old, h.district_b)
    approve(env.province_steward, env.form, env.old, h.province)
    assert official("province")[h.province.id].values["relapsed"] == 7
    reopen(env.admin, env.form, env.old, h.province, "sửa")
    reopen(env.province_steward, env.form, env.old, h.district_b, "sửa")
    assert official("province")[h.province.id].values["relapsed"] == 3


# --- reading ------------------------------------------------------------------------------------------------


def add_error_flag(db, submission, rule="C01"):
    flag = Flag(subject="report", submission_id=submission.id, org_unit_id=submission.org_unit_id,
                form_code=FORM, period=submission.period, rule=rule, severity="error", status="open",
                message_vi="Lỗi thử", message_en="Test error", values_hash="x")
    db.session.add(flag)
    db.session.flush()
    return flag


def test_the_status_lists_the_units_of_the_scope_with_completeness_flags_and_approval(env, db):
    h = env.h
    send(env, env.province_steward, env.old, h.commune_a1)
    held = send(env, env.province_steward, env.old, h.commune_a2)
    add_error_flag(db, held)
    approve(env.steward_b, env.form, env.old, h.district_b, "không có báo cáo")
    rows = approval_status(env.form, env.old, Scope(env.province_steward))
    assert [row.unit.id for row in rows][0] == h.province.id
    assert {row.unit.id for row in rows} == {h.province.id, h.district_a.id, h.district_b.id}
    by_id = {row.unit.id: row for row in rows}
    a, b, province = by_id[h.district_a.id], by_id[h.district_b.id], by_id[h.province.id]
    assert (a.communes_total, a.communes_reported, a.held_back, a.open_errors, a.approved) == (2, 2, 1, 1, False)
    assert (b.communes_total, b.communes_reported, b.missing, b.approved) == (1, 0, 1, True)
    assert b.approved_by.id == env.steward_b.id and b.approved_at is not None and b.comment == "không có báo cáo"
    assert (province.communes_total, province.held_back, province.incomplete) == (3, 1, 2)
    # a district steward sees their district; a 2025 period shows the provinces only
    assert [row.unit.id for row in approval_status(env.form, env.old, Scope(env.steward_a))] == [h.district_a.id]
    assert [row.unit.id for row in approval_status(env.form, env.new, Scope(env.admin))] == [h.new_province.id]
    assert [e.org_unit_id for e in approval_history(env.form, env.old, Scope(env.steward_a))] == []
    assert [e.org_unit_id for e in approval_history(env.form, env.old, Scope(env.province_steward))] == [
        h.district_b.id]
    assert latest_reported_period(env.form, Scope(env.steward_a)).code == OLD
    assert latest_reported_period(env.form, Scope(env.other_steward)) is None


# --- the page -----------------------------------------------------------------------------------------------


def page_of(client, period=OLD):
    return client.get(f"/admin/approvals/?form={FORM}&period={period}")


def post(client, action, unit, period=OLD, **data):
    page = page_of(client, period)
    return client.post(f"/admin/approvals/{action}", data={"csrf_token": csrf_token_from(page.text), "form": FORM,
                                                           "period": period, "unit_id": unit.id, **data})


def test_the_page_approves_and_reopens_with_csrf_and_post_redirect_get(env, app, db):
    h = env.h
    send(env, env.province_steward, env.old, h.commune_a1)
    db.session.commit()
    district, province = app.test_client(), app.test_client()
    log_in(district, env.steward_a)
    log_in(province, env.province_steward)

    page = district.get("/admin/approvals/")  # defaults: the commune form, the latest period with reports
    assert page.status_code == 200 and f'value="{OLD}" selected' in page.text
    assert h.district_a.name in page.text and h.district_b.name not in page.text
    assert "Duyệt" in page.text and "Mở lại" not in page.text
    assert f"/admin/period-report/?form={FORM}&amp;period={OLD}&amp;unit={h.district_a.id}" in page.text

    # without the CSRF token nothing happens
    refused = district.post("/admin/approvals/approve", data={"form": FORM, "period": OLD, "unit_id": h.district_a.id,
                                                              "confirm": "1"})
    assert refused.status_code == 400 and count(db, PeriodLock) == 0
    # commune a2 has not reported: the steward has to confirm it will not be in the official figures
    response = post(district, "approve", h.district_a)
    assert response.status_code == 302 and count(db, PeriodLock) == 0
    assert "không có trong số liệu chính thức" in district.get(response.location).text
    response = post(district, "approve", h.district_a, confirm="1", comment="Xã A2 không báo cáo")
    assert response.status_code == 302 and f"period={OLD}" in response.location
    page = district.get(response.location)
    assert "đã duyệt" in page.text.lower() and "Trần Văn A" in page.text and "Xã A2 không báo cáo" in page.text

    # the province steward sees the district approved and the province still waiting for district B
    page = page_of(province)
    assert h.district_b.name in page.text and "Mở lại" in page.text
    response = post(province, "approve", h.province, confirm="1")
    assert response.status_code == 302 and not is_approved(env.form, env.old, h.province)
    refusal = province.get(response.location).text
    assert "Chưa thể duyệt" in refusal and h.district_b.name in refusal
    # reopening needs a reason
    response = post(province, "reopen", h.district_a, reason="")
    assert is_approved(env.form, env.old, h.district_a)
    response = post(province, "reopen", h.district_a, reason="Xã A2 đã gửi báo cáo")
    assert response.status_code == 302 and not is_approved(env.form, env.old, h.district_a)
    history = province.get(response.location).text
    assert "Xã A2 đã gửi báo cáo" in history and "đã mở lại" in history
    rows = db.session.scalars(select(AuditLog).where(AuditLog.table_name == "approval_event")
                              .order_by(AuditLog.id)).all()
    assert [(row.user_id, row.channel) for row in rows] == [(env.steward_a.id, "admin"),
                                                            (env.province_steward.id, "admin")]


def test_the_page_is_for_stewards_and_administrators_of_the_scope(env, app, db):
    h = env.h
    db.session.commit()
    for user, status in ((env.reporter, 403), (env.coordinator, 403), (env.admin, 200)):
        client = app.test_client()
        log_in(client, user)
        assert page_of(client).status_code == status
    outsider = app.test_client()
    log_in(outsider, env.other_steward)
    page = page_of(outsider)
    assert page.status_code == 200 and h.district_a.name not in page.text
    assert post(outsider, "approve", h.district_a, confirm="1").status_code == 404
    assert outsider.get(f"/admin/approvals/?form={FORM}&period={OLD}&unit={h.province.code}").status_code == 404
    assert count(db, PeriodLock) == 0 and count(db, ApprovalEvent) == 0
    anonymous = app.test_client()
    assert anonymous.get("/admin/approvals/").status_code == 302


# --- a submission racing an approval ------------------------------------------------------------------------


@pytest.mark.live_server
def test_a_submission_racing_an_approval_waits_for_it_and_is_refused(databases):
    """The approval is flushed but not yet committed when the submission starts: the submission must wait for
    it (PostgreSQL: the approval holds the province's key, submissions take it shared) and then be refused,
    never slip into the period being locked."""
    from service.accounts.models import User
    from service.extensions import db as _db
    from service.units.models import AdminUnit
    from tests.conftest import live_app_with_commune

    app, user_id, commune_id = live_app_with_commune(databases, "approval_race", "duyetdongthoi", "data_steward")
    flushed, outcome = threading.Event(), []

    def approver():
        with app.app_context():
            form = get_form(FORM)
            commune = _db.session.get(AdminUnit, commune_id)
            approve(_db.session.get(User, user_id), form, form.parse_period(NEW), commune.province)
            flushed.set()
            time.sleep(1.5)  # the submission starts meanwhile
            _db.session.commit()

    def submitter():
        with app.app_context():
            flushed.wait(30)
            form = get_form(FORM)
            try:
                submit(_db.session.get(User, user_id), form, form.parse_period(NEW),
                       _db.session.get(AdminUnit, commune_id), good_values(), "api")
                _db.session.commit()
                outcome.append("stored")
            except SubmissionError as exc:
                _db.session.rollback()
                outcome.append(exc.code)

    threads = [threading.Thread(target=approver), threading.Thread(target=submitter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with app.app_context():
        try:
            assert outcome == ["period_locked"]
            assert _db.session.scalar(select(func.count()).select_from(Submission)) == 0
        finally:
            _db.engine.dispose()


def test_a_flag_of_an_approved_period_cannot_be_accepted_until_it_is_reopened(db, make_unit, make_user):
    """Accepting an error flag would move its report into the approved figures: refused while locked."""
    from service.approval.operations import lock_period, unlock_period
    from service.flags.models import Flag
    from service.flags.operations import FlagError, accept_flag

    province = make_unit("province")
    commune = make_unit("commune", province)
    steward = make_user("data_steward", scope=province)
    flag = Flag(subject="report", org_unit_id=commune.id, form_code="commune_rehab", period="2026Q3", rule="C01",
                severity="error", status="open", message_vi="x", message_en="x", observed={}, values_hash="h")
    db.session.add(flag)
    db.session.flush()
    lock_period(steward, "commune_rehab", "2026Q3", province)
    with pytest.raises(FlagError, match="khoá"):
        accept_flag(steward, flag, "Đã kiểm tra lại")
    assert flag.status == "open"
    unlock_period("commune_rehab", "2026Q3", province)
    accept_flag(steward, flag, "Đã kiểm tra lại")
    assert flag.status == "accepted"
