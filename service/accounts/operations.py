"""Every change of state for accounts: create, update, password, deactivate, API tokens, login attempts.

Operations flush and never commit: the edge (request, CLI command, job) commits once.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from service.accounts.models import ROLES, ApiToken, LoginAttempt, User
from service.accounts.passwords import is_common
from service.audit.operations import record
from service.common.errors import DomainError
from service.common.time import as_utc, utcnow
from service.extensions import db
from service.units.queries import unit_by_code

MIN_PASSWORD_LENGTH = 10
# A dummy hash so that an unknown username costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0")


class AccountError(DomainError):
    """A request that cannot be carried out; the message is for the user (translated)."""


def check_password_policy(password, username=""):
    """Every path that sets a password comes here: a minimum length, not the username, not a common password.
    No composition rules and no expiry (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if username and username.strip().lower() in password.lower():
        raise AccountError(_("The password must not contain the username."))
    if is_common(password):
        raise AccountError(_("This password is one of the most common ones (lists of leaked passwords): "
                             "choose a less predictable one, for example a few unrelated words."))


def resolve_codes(scope_code=None, facility_code=None, edition=None):
    """Unit code (of `edition`, default the current one) and facility code → (AdminUnit, Facility)."""
    scope_unit = facility = None
    edition = edition or current_app.config["CURRENT_EDITION"]
    if scope_code:
        scope_unit = unit_by_code(scope_code, edition)
        if scope_unit is None:
            raise AccountError(_("Unknown unit code %(code)s in edition %(edition)s.", code=scope_code,
                                 edition=edition))
    if facility_code:
        # the facility registry builds on accounts (scope), so its model is reached through the relationship
        facility_model = User.facility.property.mapper.class_
        facility = db.session.execute(select(facility_model).where(facility_model.code == facility_code)
                                      ).scalar_one_or_none()
        if facility is None:
            raise AccountError(_("Unknown facility code %(code)s.", code=facility_code))
    return scope_unit, facility


def _check_role_scope(role, scope_unit, facility):
    """The rules that tie a role to its scope; returns the scope unit to keep."""
    if role not in ROLES:
        raise AccountError(_("Unknown role %(role)s. Roles: %(roles)s.", role=role, roles=", ".join(ROLES)))
    if role == "facility_manager":
        if facility is None:
            raise AccountError(_("A facility manager needs a facility."))
        return scope_unit or facility.org_unit
    if facility is not None:
        raise AccountError(_("Only a facility manager has a facility."))
    if role != "admin" and scope_unit is None:
        raise AccountError(_("This role needs an org-unit scope (a province, district or commune)."))
    return scope_unit


def create_user(username, role, password, scope_unit=None, facility=None, full_name="", email=""):
    """Create a user with a role, an org-unit scope and, for a facility manager, a facility."""
    username = (username or "").strip()
    if not username:
        raise AccountError(_("A username is required."))
    if db.session.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
        raise AccountError(_("The username %(username)s is taken.", username=username))
    scope_unit = _check_role_scope(role, scope_unit, facility)
    check_password_policy(password, username)
    user = User(username=username, full_name=full_name or "", email=email or "", role=role,
                password_hash=generate_password_hash(password), scope_unit=scope_unit, facility=facility)
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user, role, scope_unit=None, facility=None, full_name="", email="", active=True, password=None):
    """Change a user's profile, role and scope; a new password or a role/scope change ends their sessions."""
    scope_unit = _check_role_scope(role, scope_unit, facility)
    rights_changed = (role, scope_unit, facility) != (user.role, user.scope_unit, user.facility)
    user.role, user.scope_unit, user.facility = role, scope_unit, facility
    user.full_name, user.email = full_name or "", email or ""
    if password:
        set_password(user, password)
    elif rights_changed:
        user.session_version = secrets.token_hex(8)
    if active != user.active:
        set_active(user, active)
    db.session.flush()
    return user


def set_password(user, password):
    """Change a password; every open session of the user ends."""
    check_password_policy(password, user.username)
    user.password_hash = generate_password_hash(password)
    user.session_version = secrets.token_hex(8)
    db.session.flush()


def change_own_password(user, current, new, repeated):
    """A user changes their own password: the current one first, the new one twice, the same rules as every other
    path; their other sessions end (the caller signs the current one in again)."""
    if not check_password_hash(user.password_hash, current or ""):
        raise AccountError(_("The current password is not right; nothing was changed."))
    if (new or "") != (repeated or ""):
        raise AccountError(_("The two new passwords are not the same."))
    set_password(user, new or "")
    record("password_change", "user_account", user.id)


def set_active(user, active):
    """Enable or disable an account; disabling ends its sessions and revokes its API tokens at once."""
    user.active = active
    if not active:
        user.session_version = secrets.token_hex(8)
        tokens = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        for token in db.session.scalars(tokens):
            token.revoked_at = utcnow()
    db.session.flush()


def issue_token(user):
    """A new API token for the user; returns the clear token (shown once, only its hash is kept)."""
    token = "drs_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=_hash_token(token), prefix=token[:12]))
    db.session.flush()
    return token


def _hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(token):
    """The active user owning a non-revoked token, or None."""
    if not token:
        return None
    api_token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _hash_token(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if api_token is None or not api_token.user.active:
        return None
    return api_token.user


# --- login and lockout -----------------------------------------------------------------------------------


def _failures_since(where, window_start):
    return db.session.execute(
        select(func.count()).select_from(LoginAttempt).where(*where, LoginAttempt.at >= window_start,
                                                              LoginAttempt.success.is_(False))
    ).scalar_one()


def is_locked_out(username, ip):
    """Locked when this username failed 5 times in 15 minutes *from this address* (since its last success), or
    when this address failed too often across all usernames. Keying on the pair means an attacker elsewhere
    cannot lock a user out of their own office."""
    config = current_app.config
    window_start = utcnow() - config["LOGIN_WINDOW"]
    username = username.strip().lower()
    last_success = db.session.execute(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success.is_(True)
        )
    ).scalar_one()
    since = max(window_start, as_utc(last_success)) if last_success else window_start
    pair = _failures_since([LoginAttempt.username == username, LoginAttempt.ip == ip], since)
    if pair >= config["LOGIN_MAX_FAILURES"]:
        return True
    return _failures_since([LoginAttempt.ip == ip], window_start) >= config["LOGIN_MAX_FAILURES_PER_IP"]


def authenticate(username, password, ip):
    """Check a login. Returns (user, None) or (None, message). Every try is recorded for the lockout."""
    username = (username or "").strip()
    if is_locked_out(username, ip):
        return None, _("Too many failed logins. Try again in 15 minutes.")
    user = db.session.execute(
        select(User).where(func.lower(User.username) == username.lower())
    ).scalar_one_or_none()
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    ok = ok and user is not None and user.active
    db.session.add(LoginAttempt(username=username.lower()[:80], ip=ip[:64], success=ok))
    if not ok:
        db.session.flush()
        return None, _("Wrong username or password, or the account is disabled.")
    user.last_login_at = utcnow()
    record("login", "user_account", user.id)
    db.session.flush()
    return user, None


def prune_login_attempts(keep=timedelta(days=30)):
    """Delete login attempts older than `keep` (scheduled daily); returns how many were removed."""
    result = db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - keep))
    return result.rowcount
