"""Create and restore a backup of the service's database.

SQLite: sqlite3's online backup API (a consistent copy while the service keeps writing; WAL readers do not block
writers). PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner`, in one
transaction that stops at the first error, so a failed restore leaves the target as it was. A restore refuses a
target that already holds tables unless told to replace it, and checks that the file is a backup of this kind
of database holding the service's schema. The CLI writes the audit rows (service/backup/cli.py).
"""
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from service.config import INSTANCE_DIR

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
SUFFIX = {"sqlite": ".db", "postgresql": ".dump"}


class BackupError(RuntimeError):
    """A backup or restore that cannot be carried out; the message is for the operator (translated)."""


def database_kind(url):
    name = sa.make_url(url).get_backend_name()
    if name not in SUFFIX:
        raise BackupError(_("Backups support SQLite and PostgreSQL databases only, not %(kind)s.", kind=name))
    return name


def default_backup_path(kind, now=None):
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return INSTANCE_DIR / "backups" / f"service-{stamp}{SUFFIX[kind]}"


def file_kind(path):
    """"sqlite", "postgresql" (pg_dump custom format) or None, from the first bytes of the file."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    return None


def _sqlite_path(url):
    path = sa.make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise BackupError(_("An in-memory SQLite database cannot be backed up or restored."))
    return Path(path)


def _libpq(url):
    """(libpq connection URI without the password, environment with PGPASSWORD) for pg_dump / pg_restore."""
    parsed = sa.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise BackupError(_("%(tool)s was not found on PATH: install the PostgreSQL client tools "
                            "(Debian: apt-get install postgresql-client) of the server's version.", tool=name))
    return path


def _run(args, env):
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(_("%(tool)s failed: %(detail)s", tool=Path(args[0]).name,
                            detail=" / ".join(detail[-3:]) or done.returncode))
    return done.stdout


def table_names(engine):
    return sa.inspect(engine).get_table_names()


def create_backup(url, output=None):
    """Write a backup of the database at `url` to `output` (default: instance/backups/service-<time>.db|.dump);
    returns the path. An existing file is never overwritten."""
    kind = database_kind(url)
    output = Path(output) if output else default_backup_path(kind)
    if output.exists():
        raise BackupError(_("%(file)s already exists: choose another file name.", file=output))
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        if kind == "sqlite":
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupError(_("The database file %(file)s does not exist.", file=source_path))
            _sqlite_copy(source_path, partial)
        else:
            uri, env = _libpq(url)
            _run([_tool("pg_dump"), "--format=custom", "--no-password", f"--file={partial}", f"--dbname={uri}"], env)
        os.chmod(partial, 0o600)
        partial.rename(output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def _sqlite_copy(source_path, target_path):
    """SQLite's online backup API: a consistent copy of the committed data, while other connections write."""
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def check_backup_file(path, kind):
    """Refuse a file that is not a backup of this kind of database holding the service's schema."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(_("The backup file %(file)s does not exist.", file=path))
    found = file_kind(path)
    if found is None:
        raise BackupError(_("%(file)s is not a backup of the service (neither a SQLite database nor a pg_dump "
                            "custom-format file).", file=path))
    if found != kind:
        raise BackupError(_("%(file)s is a %(found)s backup and cannot be restored into a %(kind)s database.",
                            file=path, found=found, kind=kind))
    if kind == "sqlite":
        connection = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            has_schema = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()[0]
        except sqlite3.DatabaseError:
            has_schema = 0
        finally:
            connection.close()
    else:
        listing = _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ))
        has_schema = "TABLE DATA public alembic_version" in listing
    if not has_schema:
        raise BackupError(_("%(file)s holds no schema version (alembic_version): it is not a backup of the "
                            "service.", file=path))


def restore_backup(url, engine, path, replace=False):
    """Restore the backup at `path` into the database at `url`. A target that already holds tables is refused
    unless `replace`. The caller disposes of its connections first and audits afterwards."""
    kind = database_kind(url)
    check_backup_file(path, kind)
    existing = table_names(engine)
    engine.dispose()
    if existing and not replace:
        raise BackupError(_("The target database is not empty (%(count)s tables): restoring would replace it. "
                            "Run again with --yes to replace it.", count=len(existing)))
    if kind == "sqlite":
        _sqlite_copy(Path(path).resolve(), _sqlite_path(url))
    else:
        uri, env = _libpq(url)
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              "--no-password", f"--dbname={uri}", str(path)], env)
    return kind
