"""`flask units import --edition 2024|2025 FILE` and `flask units succession FILE`."""
import click
from flask.cli import AppGroup

from service.audit.operations import act_as, cli_actor
from service.common.errors import cli_transaction
from service.units.operations import import_edition, import_succession

units_cli = AppGroup("units", help="Administrative units: import the official lists.")


def _run(importer, *args):
    act_as(None, cli_actor(), "cli")
    with cli_transaction(failure="Không nhập được tệp; cơ sở dữ liệu không thay đổi."):
        result = importer(*args)
    click.echo(f"inserted={result.inserted} updated={result.updated} unchanged={result.unchanged} "
               f"not_in_file={result.not_in_file}")


@units_cli.command("import")
@click.option("--edition", type=click.Choice(["2024", "2025"]), required=True)
@click.argument("file", type=click.File("rb"))
def import_command(edition, file):
    """Import an edition's unit list (all or nothing; a second run changes nothing)."""
    _run(import_edition, file.read(), int(edition))


@units_cli.command("succession")
@click.argument("file", type=click.File("rb"))
def succession_command(file):
    """Import the old → new succession (both editions must be loaded)."""
    _run(import_succession, file.read())
