"""`flask --app app facilities import FILE [--as USERNAME]`: the same all-or-nothing import as the admin page."""
import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import func, select

from service.accounts.models import User
from service.accounts.scope import Scope
from service.audit.operations import act_as, cli_actor
from service.common.errors import cli_transaction
from service.extensions import db
from service.facilities.imports import import_facilities

facilities_cli = AppGroup("facilities", help="Facilities: import the registry from a spreadsheet.")


def _importer(username):
    """(user, scope): the administrator named by --as, or the whole country for the machine's operator."""
    if not username:
        scope = Scope(None)
        scope.national = True  # the operator of the machine, like `units import`
        return None, scope
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None or not user.active:
        raise click.ClickException(_("No active user %(username)s.", username=username))
    if user.role != "admin":
        raise click.ClickException(_("Only an administrator can import facilities (%(username)s is %(role)s).",
                                     username=user.username, role=user.role))
    return user, Scope(user)


@facilities_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--as", "username", help="Import as this administrator (within their scope).")
def import_command(file, username):
    """Create or update facilities from an XLSX or CSV file (all or nothing; errors by row and column)."""
    user, scope = _importer(username)
    act_as(user.id if user else None, user.username if user else cli_actor(), "cli")
    with cli_transaction(failure=lambda exc: _("The file was not imported: %(count)s error(s). Nothing was stored.",
                                               count=len(exc.errors))):
        result = import_facilities(scope, file.read(), user=user, filename=file.name)
    click.echo(_("Facilities imported: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.", **result))
