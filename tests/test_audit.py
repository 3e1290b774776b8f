"""The audit trail: every change through any path, in the same transaction, and append-only."""
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from service.audit.models import AuditLog
from service.audit.operations import acting_as
from service.facilities.models import Facility
from service.scheduler import JOBS, run_job
from tests.conftest import csrf_token_from, row_version_from


def audit_rows(db, table, row_id=None):
    query = select(AuditLog).where(AuditLog.table_name == table).order_by(AuditLog.id)
    if row_id is not None:
        query = query.where(AuditLog.row_id == str(row_id))
    return db.session.scalars(query).all()


def test_an_admin_edit_records_who_and_the_old_and_new_values(client, login, make_user, make_unit, make_facility, db):
    admin = make_user("admin")
    facility = make_facility(make_unit("commune"), name="Tên cũ")
    login(admin)
    page = client.get(f"/admin/facilities/edit/?id={facility.id}")
    response = client.post(f"/admin/facilities/edit/?id={facility.id}", data={
        "code": facility.code, "name": "Tên mới", "org_unit": str(facility.org_unit_id), "address": "",
        "csrf_token": csrf_token_from(page.text), **row_version_from(page.text)})
    assert response.status_code == 302
    update = [row for row in audit_rows(db, "facility", facility.id) if row.action == "update"]
    assert len(update) == 1
    assert (update[0].old_values, update[0].new_values) == ({"name": "Tên cũ"}, {"name": "Tên mới"})
    assert (update[0].actor, update[0].user_id, update[0].channel) == (admin.username, admin.id, "admin")


def test_mass_delete_through_the_admin_action_is_audited_row_by_row(client, login, make_user, make_unit,
                                                                    make_facility, db):
    admin = make_user("admin")
    unit = make_unit("commune")
    facilities = [make_facility(unit) for _ in range(3)]
    login(admin)
    token = csrf_token_from(client.get("/admin/facilities/").text)
    client.post("/admin/facilities/action/", data={"action": "delete", "csrf_token": token,
                                                   "rowid": [str(f.id) for f in facilities]})
    assert db.session.scalars(select(Facility).where(Facility.org_unit_id == unit.id)).all() == []
    deleted = {row.row_id for row in audit_rows(db, "facility") if row.action == "delete"}
    assert deleted == {str(f.id) for f in facilities}
    assert all(row.old_values["name"] for row in audit_rows(db, "facility") if row.action == "delete")


def test_a_rolled_back_change_leaves_no_audit_row(make_unit, db):
    unit = make_unit("commune")
    before = len(audit_rows(db, "facility"))
    nested = db.session.begin_nested()
    db.session.add(Facility(code="CS-HUY", name="Sẽ huỷ", org_unit=unit))
    db.session.flush()
    assert len(audit_rows(db, "facility")) == before + 1
    nested.rollback()
    assert len(audit_rows(db, "facility")) == before


def test_jobs_are_audited_under_their_own_name(app, make_unit, db, monkeypatch):
    unit = make_unit("commune")

    def job():
        db.session.add(Facility(code="CS-JOB", name="Tạo bởi tác vụ", org_unit_id=unit.id))

    monkeypatch.setitem(JOBS, "test_job", (job, {"trigger": "interval", "hours": 1}))
    run_job(app, "test_job")
    row = [r for r in audit_rows(db, "facility") if r.new_values and r.new_values.get("code") == "CS-JOB"]
    assert row and row[0].actor == "job:test_job" and row[0].channel == "job"


def test_the_database_refuses_to_change_or_delete_audit_rows(make_unit, db):
    with acting_as(None, "tester", "cli"):
        make_unit("commune")
    row = audit_rows(db, "admin_unit")[-1]
    for statement in (sa.update(AuditLog).where(AuditLog.id == row.id).values(actor="someone else"),
                      sa.delete(AuditLog).where(AuditLog.id == row.id)):
        nested = db.session.begin_nested()
        with pytest.raises(sa.exc.DBAPIError) as error:
            db.session.execute(statement)
        nested.rollback()
        assert "append-only" in str(error.value)
    assert db.session.get(AuditLog, row.id).actor == "tester"
