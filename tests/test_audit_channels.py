"""The audit trail on every channel (admin form, admin delete and mass delete, API, CLI, scheduled job), written in
the same transaction as the change (a failed audit write undoes the change), refused UPDATE/DELETE/TRUNCATE by the
database, and no bulk statement on an audited table that leaves no audit row."""
import ast
import re

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from service.accounts.models import User
from service.accounts.operations import issue_token
from service.audit import operations as audit_operations
from service.audit.models import AuditLog
from service.config import PROJECT_DIR
from service.extensions import db as _db
from service.facilities.models import Facility
from service.forms.registry import get_form
from service.scheduler import run_job
from service.submissions.models import Submission
from service.submissions.operations import submit
from tests.conftest import csrf_token_from
from tests.test_submissions import FORM, good_values

# Tables without audit rows, and why: each is itself a record of events, or derived and rebuilt by jobs.
NOT_AUDITED = {
    "audit_log": "the audit trail itself",
    "login_attempt": "the log of login attempts (successful logins are audited as 'login')",
    "validation_run": "the record of a validation run (its effect on reports and flags is audited)",
    "validation_rule_result": "per-rule counts of a run",
    "validation_failure": "per-report failures of a run (the flags they open are audited)",
    "report_reminder": "reminders the daily job sent",
}


def rows(table, **where):
    query = select(AuditLog).where(AuditLog.table_name == table).order_by(AuditLog.id)
    for key, value in where.items():
        query = query.where(getattr(AuditLog, key) == value)
    return _db.session.scalars(query).all()


def test_every_table_is_audited_or_listed_with_a_reason():
    tables = {mapper.class_.__tablename__: getattr(mapper.class_, "__audited__", False)
              for mapper in _db.Model.registry.mappers}
    assert {name for name, audited in tables.items() if not audited} == set(NOT_AUDITED)


def test_an_api_submission_is_audited_as_the_api_caller(client, make_unit, make_user, db):
    province = make_unit("province", edition=2025, code="66")
    commune = make_unit("commune", province, code="24001")
    reporter = make_user("commune_reporter", scope=commune)
    token = issue_token(reporter)
    response = client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                           json={"form": FORM, "period": "2026Q3", "org_unit": "24001", "values": good_values()})
    assert response.status_code == 201, response.json
    created = rows("submission", row_id=str(response.json["id"]), action="create")
    assert len(created) == 1
    assert (created[0].actor, created[0].user_id, created[0].channel) == (reporter.username, reporter.id, "api")
    assert created[0].new_values["values"] == good_values()


def test_a_cli_command_is_audited_as_the_operating_system_user(runner, make_user, db):
    user = make_user("admin")
    db.session.commit()
    assert runner.invoke(args=["users", "disable", user.username]).exit_code == 0
    update = [row for row in rows("user_account", row_id=str(user.id), action="update")
              if row.new_values.get("active") is False]
    assert len(update) == 1 and update[0].channel == "cli" and update[0].actor.startswith("cli:")
    assert update[0].old_values["active"] is True and update[0].new_values["session_version"] == "***"


def test_a_real_scheduled_job_is_audited_under_its_name(app, make_unit, make_facility, db):
    facility = make_facility(make_unit("commune"))  # no census: the daily check opens F03 on it
    db.session.commit()
    run_job(app, "check_facilities")
    flags = [row for row in rows("flag", action="create") if row.new_values.get("facility_id") == facility.id]
    assert flags and all((row.actor, row.channel, row.user_id) == ("job:check_facilities", "job", None)
                         for row in flags)


def test_a_validation_run_audits_the_reports_it_marks_validated(make_unit, make_user, db):
    """The run changes the status of every report with one UPDATE (no flush): it writes the audit row itself."""
    from service.audit.operations import acting_as
    from service.validation.runner import run_validation

    province = make_unit("province", edition=2025)
    steward = make_user("data_steward", scope=province)
    form = get_form(FORM)
    period = form.parse_period("2026Q3")
    ids = [submit(steward, form, period, make_unit("commune", province), good_values(), "api").id for _ in range(3)]
    with acting_as(None, "job:validate_new", "job"):
        run = run_validation(form, [period], "schedule")
    assert set(db.session.scalars(select(Submission.status).where(Submission.id.in_(ids)))) == {"validated"}
    audit = [row for row in rows("submission", action="update", channel="job")
             if (row.new_values or {}).get("run_id") == run.id]
    assert len(audit) == 1 and audit[0].actor == "job:validate_new"
    assert audit[0].new_values["submission_ids"] == sorted(ids) and audit[0].old_values == {"status": "submitted"}


def test_a_single_delete_in_the_admin_is_audited(client, login, make_user, make_unit, make_facility, db):
    admin = make_user("admin")
    facility = make_facility(make_unit("commune"), name="Sẽ xoá")
    login(admin)
    token = csrf_token_from(client.get("/admin/facilities/").text)
    response = client.post("/admin/facilities/delete/", data={"id": str(facility.id), "csrf_token": token})
    assert response.status_code == 302
    assert db.session.get(Facility, facility.id) is None
    deleted = rows("facility", row_id=str(facility.id), action="delete")
    assert len(deleted) == 1 and deleted[0].old_values["name"] == "Sẽ xoá"
    assert (deleted[0].actor, deleted[0].channel) == (admin.username, "admin")


def test_no_admin_view_of_an_audited_table_deletes_in_bulk_past_the_audit(app):
    """Flask-Admin's `fast_mass_delete` issues one DELETE that no flush listener sees: never on an audited model."""
    views = [view for view in app.extensions["admin"][0]._views if getattr(view, "model", None) is not None]
    assert len(views) > 20
    for view in views:
        if getattr(view.model, "__audited__", False):
            assert view.fast_mass_delete is False, type(view).__name__


def _model_name(node):
    """`Model` or `Model.__table__` → "Model"."""
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _audited_class_names():
    return {mapper.class_.__name__ for mapper in _db.Model.registry.mappers
            if getattr(mapper.class_, "__audited__", False)}


# Bulk statements on audited tables that need no audit row of their own, and why.
BULK_WITHOUT_AUDIT = {
    ("service/facilities/operations.py", "take_revision"): "bumps the revision counter only; the capacity "
                                                            "change or census it guards is audited",
}


def test_every_bulk_statement_on_an_audited_table_writes_its_audit_rows():
    """insert()/update()/delete() Core statements bypass the flush listener: the function that runs one on an
    audited model must call record() or record_bulk() (or be listed above with its reason)."""
    audited = _audited_class_names()
    found, missing = [], []
    for path in sorted((PROJECT_DIR / "service").rglob("*.py")) + sorted((PROJECT_DIR / "admin").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            calls = [node for node in ast.walk(function) if isinstance(node, ast.Call)]
            bulk = [call for call in calls if isinstance(call.func, ast.Name)
                    and call.func.id in {"insert", "update", "delete"} and call.args
                    and _model_name(call.args[0]) in audited]
            raw = [call for call in calls if isinstance(call.func, ast.Name) and call.func.id == "text"
                   and call.args and isinstance(call.args[0], ast.Constant)
                   and re.match(r"\s*(UPDATE|DELETE|INSERT|TRUNCATE)\b", str(call.args[0].value), re.I)]
            assert raw == [], f"{path}:{function.name}: raw SQL that changes rows, unseen by the audit"
            if not bulk:
                continue
            key = (str(path.relative_to(PROJECT_DIR)), function.name)
            found.append(key)
            audits = any(isinstance(call.func, ast.Name) and call.func.id in {"record", "record_bulk"}
                         for call in calls)
            if not audits and key not in BULK_WITHOUT_AUDIT:
                missing.append(key)
    assert missing == []
    assert {("service/submissions/operations.py", "mark_validated"), ("service/units/operations.py", "upsert_level"),
            ("service/units/operations.py", "import_succession")} <= set(found)
    assert set(BULK_WITHOUT_AUDIT) <= set(found)


# --- same transaction ------------------------------------------------------------------------------------


def break_audit(monkeypatch):
    """From now on every audit write fails in the database (a NOT NULL column left empty)."""
    original = audit_operations._row
    monkeypatch.setattr(audit_operations, "_row", lambda *args: {**original(*args), "channel": None})


def test_an_admin_edit_whose_audit_row_fails_is_not_saved(client, login, make_user, make_unit, make_facility, db,
                                                         monkeypatch):
    admin = make_user("admin")
    facility = make_facility(make_unit("commune"), name="Tên cũ")
    db.session.commit()
    login(admin)
    page = client.get(f"/admin/facilities/edit/?id={facility.id}")
    break_audit(monkeypatch)
    response = client.post(f"/admin/facilities/edit/?id={facility.id}", data={
        "code": facility.code, "name": "Tên mới", "org_unit": str(facility.org_unit_id), "address": "",
        "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 200 and "Tên mới" in response.text  # the form again, with the error
    monkeypatch.undo()
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Facility, facility.id).name == "Tên cũ"
    assert [row for row in rows("facility", row_id=str(facility.id)) if row.action == "update"] == []


def test_a_cli_change_whose_audit_row_fails_is_not_saved(runner, make_user, db, monkeypatch):
    user = make_user("admin")
    db.session.commit()
    break_audit(monkeypatch)
    result = runner.invoke(args=["users", "disable", user.username])
    assert result.exit_code != 0 and isinstance(result.exception, sa.exc.IntegrityError)
    monkeypatch.undo()
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(User, user.id).active is True


def test_an_api_submission_whose_audit_row_fails_is_not_stored(client, make_unit, make_user, db, monkeypatch):
    province = make_unit("province", edition=2025, code="66")
    commune = make_unit("commune", province, code="24001")
    reporter = make_user("commune_reporter", scope=commune)
    token = issue_token(reporter)
    db.session.commit()
    break_audit(monkeypatch)
    response = client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                           json={"form": FORM, "period": "2026Q3", "org_unit": "24001", "values": good_values()})
    assert response.status_code == 409  # submit() retries a failed write as a race, then gives up
    monkeypatch.undo()
    db.session.rollback()
    assert db.session.scalars(select(Submission).where(Submission.org_unit_id == commune.id)).all() == []


def test_a_job_whose_audit_row_fails_changes_nothing(app, make_unit, make_facility, db, monkeypatch):
    facility = make_facility(make_unit("commune"))
    db.session.commit()
    break_audit(monkeypatch)
    with pytest.raises(sa.exc.IntegrityError):
        run_job(app, "check_facilities")
    monkeypatch.undo()
    from service.flags.models import Flag

    assert db.session.scalars(select(Flag).where(Flag.facility_id == facility.id)).all() == []


# --- append-only in the database -------------------------------------------------------------------------


def test_the_append_only_triggers_are_in_the_database(db):
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        names = set(conn.execute(sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass "
                                         "AND NOT tgisinternal AND tgenabled <> 'D'")).scalars())
        assert names == {"audit_log_no_update", "audit_log_no_truncate"}
    else:
        names = set(conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_log'")).scalars())
        assert names == {"audit_log_no_update", "audit_log_no_delete"}


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'",
                                       "UPDATE audit_log SET new_values = NULL "
                                       "WHERE id = (SELECT max(id) FROM audit_log)",
                                       "DELETE FROM audit_log",
                                       "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)"])
def test_raw_sql_cannot_change_or_delete_audit_rows(statement, make_unit, db):
    make_unit("commune")
    before = db.session.execute(sa.text("SELECT count(*), max(actor) FROM audit_log")).one()
    assert before[0] > 0
    nested = db.session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text(statement))
    nested.rollback()
    assert db.session.execute(sa.text("SELECT count(*), max(actor) FROM audit_log")).one() == before


@pytest.mark.only_postgresql
def test_truncate_of_the_audit_trail_is_refused(make_unit, db):
    make_unit("commune")
    before = db.session.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    nested = db.session.begin_nested()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("TRUNCATE audit_log"))
    nested.rollback()
    assert db.session.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() == before


def test_the_audit_trail_is_read_only_in_the_admin(client, login, make_user, db):
    admin = make_user("admin")
    login(admin)
    page = client.get("/admin/audit/")
    assert page.status_code == 200
    row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()
    token = csrf_token_from(page.text)
    before = db.session.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
    for url, data in [("/admin/audit/delete/", {"id": str(row.id)}),
                      ("/admin/audit/action/", {"action": "delete", "rowid": [str(row.id)]}),
                      (f"/admin/audit/edit/?id={row.id}", {"actor": "someone else"})]:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code in (302, 403), url
    db.session.expire_all()
    assert db.session.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() >= before
    assert db.session.get(AuditLog, row.id).actor == row.actor
