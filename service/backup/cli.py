"""`flask --app app backup create [--output FILE]` and `backup restore FILE [--yes]`; each writes an audit row
(a restore's in the restored database)."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import gettext as _

from service.audit.operations import act_as, cli_actor, record
from service.backup.operations import BackupError, create_backup, restore_backup
from service.extensions import db

backup_cli = AppGroup("backup", help="Back up and restore the database (SQLite or PostgreSQL).")


def _audit(action, values):
    act_as(None, cli_actor(), "cli")
    record(action, "database", None, new=values)
    db.session.commit()


@backup_cli.command("create")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file (default: instance/backups/service-<date-time>.db or .dump).")
def create_command(output):
    """Back up the database while the service runs (SQLite online backup, or pg_dump custom format)."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        path = create_backup(url, output)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("backup_create", {"file": str(path.resolve()), "bytes": path.stat().st_size})
    click.echo(_("Backup written to %(file)s.", file=path))


@backup_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already holds data.")
def restore_command(file, yes):
    """Restore FILE into the configured database (stop the web service and the scheduler first)."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    try:
        restore_backup(url, db.engine, file, replace=yes)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    db.engine.dispose()
    _audit("backup_restore", {"file": str(file.resolve()), "replaced": yes})
    click.echo(_("Backup %(file)s restored.", file=file))
