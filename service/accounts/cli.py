"""`flask users create …`, `flask users token U` and friends: the same operations as the admin pages."""
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from service.accounts.models import ROLES, User
from service.accounts.operations import create_user, issue_token, resolve_codes, set_active, set_password
from service.audit.operations import act_as, cli_actor
from service.common.errors import cli_transaction
from service.extensions import db

users_cli = AppGroup("users", help="Accounts: create users, issue API tokens.")


def _read_password(password_stdin):
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Mật khẩu / Password", hide_input=True, confirmation_prompt=True)


def _user(username):
    user = db.session.execute(select(User).where(func.lower(User.username) == username.lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"Không có người dùng {username}.")
    return user


def _commit_or_fail(action):
    act_as(None, cli_actor(), "cli")
    with cli_transaction():
        result = action()
    return result


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--scope", "scope_code", help="Org-unit code (province, district or commune) of the current edition.")
@click.option("--edition", type=int, help="Edition of the scope code (default: the current edition).")
@click.option("--facility", "facility_code", help="Facility code (facility managers).")
@click.option("--full-name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_command(username, role, scope_code, edition, facility_code, full_name, password_stdin):
    """Create a user; the password comes from a prompt or --password-stdin."""
    password = _read_password(password_stdin)

    def create():
        scope_unit, facility = resolve_codes(scope_code, facility_code, edition)
        return create_user(username, role, password, scope_unit=scope_unit, facility=facility, full_name=full_name)

    user = _commit_or_fail(create)
    click.echo(f"Đã tạo người dùng {user.username} ({user.role}).")


@users_cli.command("token")
@click.argument("username")
def token_command(username):
    """Issue an API token for USERNAME and print it (shown once)."""
    click.echo(_commit_or_fail(lambda: issue_token(_user(username))))


@users_cli.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
def password_command(username, password_stdin):
    """Set a new password (ends the user's sessions)."""
    password = _read_password(password_stdin)
    _commit_or_fail(lambda: set_password(_user(username), password))
    click.echo("Đã đổi mật khẩu.")


@users_cli.command("disable")
@click.argument("username")
def disable_command(username):
    """Disable an account: its sessions and API tokens stop working at once."""
    _commit_or_fail(lambda: set_active(_user(username), False))
    click.echo("Đã khoá tài khoản.")


@users_cli.command("enable")
@click.argument("username")
def enable_command(username):
    """Enable a disabled account."""
    _commit_or_fail(lambda: set_active(_user(username), True))
    click.echo("Đã mở khoá tài khoản.")
