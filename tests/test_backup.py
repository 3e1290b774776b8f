"""`flask --app app backup create` and `backup restore`: a database filled through the service, backed up while it
runs, restored into a brand-new empty database, holds the same rows and values and is at the head revision."""
import os
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from service.audit.models import AuditLog
from service.backup import operations
from service.backup.operations import BackupError, create_backup
from service.config import PROJECT_DIR
from service.extensions import db
from tests.conftest import make_app, migrate

pytestmark = pytest.mark.live_server  # every app here has its own committed database


def filled_app(databases, tmp_path, label="backup_source"):
    """A migrated database filled through the service: `demo load` (units, users, facilities and their flags,
    training records, commune reports) and an API token."""
    app = make_app(databases.new_url(label), UNITS_DIR=None)
    migrate(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--logins-file", str(tmp_path / f"{label}-logins.txt")])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["users", "token", "baocaoxa"]).exit_code == 0
    return app


def empty_app(databases, label="backup_target"):
    return make_app(databases.new_url(label), UNITS_DIR=None)


def row_counts(app):
    with app.app_context():
        with db.engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {table: conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one() for table in tables}


def sample(app, max_audit_id):
    """Values that must survive: every report's JSON values, users' password hashes, flags, the audit trail."""
    from service.accounts.models import ApiToken, User
    from service.flags.models import Flag
    from service.submissions.models import Submission

    with app.app_context():
        return {
            "submissions": db.session.execute(sa.select(Submission.id, Submission.values, Submission.version,
                                                        Submission.status).order_by(Submission.id)).all(),
            "users": db.session.execute(sa.select(User.username, User.password_hash, User.role,
                                                  User.scope_unit_id).order_by(User.id)).all(),
            "tokens": db.session.execute(sa.select(ApiToken.token_hash, ApiToken.user_id)).all(),
            "flags": db.session.execute(sa.select(Flag.id, Flag.rule, Flag.severity, Flag.status)
                                        .order_by(Flag.id)).all(),
            "audit": db.session.execute(sa.select(AuditLog.id, AuditLog.at, AuditLog.actor, AuditLog.channel,
                                                  AuditLog.action, AuditLog.table_name, AuditLog.row_id,
                                                  AuditLog.new_values)
                                        .where(AuditLog.id <= max_audit_id).order_by(AuditLog.id)).all(),
        }


def last_audit(app):
    with app.app_context():
        return db.session.scalars(sa.select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()


def head_revision():
    return ScriptDirectory(str(PROJECT_DIR / "migrations")).get_current_head()


def test_a_backup_restored_into_an_empty_database_has_every_row_and_value_and_the_head_schema(databases, tmp_path):
    source = filled_app(databases, tmp_path)
    backup = tmp_path / "service.backup"
    result = source.test_cli_runner().invoke(args=["backup", "create", "--output", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Đã sao lưu" in result.output and backup.stat().st_mode & 0o077 == 0
    created = last_audit(source)
    assert (created.action, created.table_name, created.channel) == ("backup_create", "database", "cli")
    assert created.new_values["file"] == str(backup.resolve())

    target = empty_app(databases)
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Đã khôi phục" in result.output

    source_counts, target_counts = row_counts(source), row_counts(target)
    assert set(target_counts) == set(source_counts) and len(source_counts) > 30
    # the source has the row of its backup (written after the copy), the target the row of its restore
    assert target_counts == source_counts
    assert source_counts["submission"] > 20 and source_counts["flag"] > 5 and source_counts["user_account"] == 5
    restored = last_audit(target)
    assert (restored.action, restored.channel, restored.new_values["file"]) == ("backup_restore", "cli",
                                                                                str(backup.resolve()))
    assert sample(target, created.id - 1) == sample(source, created.id - 1)
    assert sample(target, created.id - 1)["audit"][-1].id == restored.id - 1

    env = {**os.environ, "SERVICE_MODE": "production", "DATABASE_URL": target.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "backup-test-" + "k" * 32}
    current = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "current"], cwd=PROJECT_DIR,
                             env=env, capture_output=True, text=True, timeout=120)
    assert current.returncode == 0 and f"{head_revision()} (head)" in current.stdout, current.stderr
    with target.app_context():  # the restored audit trail is still append-only
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.delete(AuditLog))


def test_a_restore_refuses_a_database_that_holds_data_unless_told_to_replace_it(databases, tmp_path):
    source = filled_app(databases, tmp_path, "backup_source2")
    backup = tmp_path / "service.backup"
    assert source.test_cli_runner().invoke(args=["backup", "create", "--output", str(backup)]).exit_code == 0
    target = make_app(databases.new_url("backup_busy"), UNITS_DIR=None)
    migrate(target)
    before = row_counts(target)
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(backup)])
    assert result.exit_code != 0 and "không trống" in result.output and "--yes" in result.output
    assert row_counts(target) == before
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    assert row_counts(target)["submission"] == row_counts(source)["submission"]


def test_a_restore_refuses_a_file_that_is_not_a_backup_of_this_kind_of_database(databases, tmp_path):
    target = empty_app(databases, "backup_wrong_file")
    runner = target.test_cli_runner()
    text = tmp_path / "notes.txt"
    text.write_text("không phải bản sao lưu")
    result = runner.invoke(args=["backup", "restore", str(text)])
    assert result.exit_code != 0 and "không phải bản sao lưu" in result.output
    other = tmp_path / "other.backup"
    if databases.kind == "sqlite":
        other.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(100))
    else:
        sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    result = runner.invoke(args=["backup", "restore", str(other)])
    assert result.exit_code != 0 and "không thể khôi phục" in result.output
    foreign = tmp_path / "foreign.db"
    if databases.kind == "sqlite":
        sqlite3.connect(foreign).execute("CREATE TABLE x (y)").connection.commit()
        result = runner.invoke(args=["backup", "restore", str(foreign)])
        assert result.exit_code != 0 and "alembic_version" in result.output
    assert row_counts(target) == {}
    assert runner.invoke(args=["backup", "restore", str(tmp_path / "missing.db")]).exit_code != 0


def test_a_missing_pg_dump_is_a_clear_message(monkeypatch, tmp_path, app):
    monkeypatch.setattr(operations.shutil, "which", lambda name: None)
    with app.app_context(), pytest.raises(BackupError, match="pg_dump.*PATH.*postgresql-client"):
        create_backup("postgresql+psycopg://127.0.0.1:5432/x", tmp_path / "x.dump")
    assert not (tmp_path / "x.dump").exists() and not (tmp_path / "x.dump.partial").exists()


def test_an_existing_file_is_never_overwritten(databases, tmp_path, app):
    existing = tmp_path / "keep.db"
    existing.write_text("keep")
    with app.app_context(), pytest.raises(BackupError, match="đã có"):
        create_backup(app.config["SQLALCHEMY_DATABASE_URI"], existing)
    assert existing.read_text() == "keep"


@pytest.mark.only_sqlite
def test_a_sqlite_backup_is_taken_while_a_writer_holds_its_transaction_and_has_only_committed_rows(databases,
                                                                                                  tmp_path):
    app = make_app(databases.new_url("backup_online"), UNITS_DIR=None)
    migrate(app)
    path = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO audit_log (at, actor, channel, action, table_name) "
                   "VALUES ('2026-01-01', 'writer', 'cli', 'create', 'x')")
    try:
        with app.app_context():
            backup = create_backup(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "online.db")
    finally:
        writer.execute("COMMIT")
        writer.close()
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT count(*) FROM audit_log WHERE actor = 'writer'").fetchone()[0] == 0
    assert copy.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    copy.close()
