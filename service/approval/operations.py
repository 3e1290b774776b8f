"""Approval of a period: a district steward approves the district's period, then a province steward the
province's; approval locks the period (service.approval.models.PeriodLock: no submission, edit or import is
accepted under the unit) until a higher level reopens it. Only approved data goes into the official report
(`aggregate(..., approved_only=True)`). Every approval and reopening is an ApprovalEvent, and both are audited.

The rules:

- only a data steward or an administrator acts, on a unit of their scope; a unit is a district or a province of
  the period's unit list (a 2025-list period has no districts: its province is approved directly);
- a steward approves the unit of their own scope (a district steward their district, a province steward their
  province); an administrator any unit of their scope;
- a province of a 2024-list period is approved only when every one of its districts is;
- approving an approved unit is an error;
- a reopening needs a reason and a level above the approved unit: the province's steward (or an administrator)
  reopens a district, an administrator a province; a district inside an approved province is reopened only
  after the province is.

Operations flush, never commit.
"""
import hashlib

from flask_babel import gettext as _
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from service.accounts.scope import Scope
from service.approval.models import ApprovalEvent, PeriodLock
from service.approval.queries import approved_locks, approving_levels, districts_of
from service.common.errors import DomainError
from service.common.time import utcnow
from service.extensions import db
from service.forms.periods import Period, PeriodError
from service.units import editions

APPROVING_ROLES = ("data_steward", "admin")
MAX_COMMENT = 2000
MISSING_SHOWN = 10


class ApprovalError(DomainError):
    """A refused approval or reopening: `message` in Vietnamese, `status` as an HTTP status would say it."""

    def __init__(self, message, status=400):
        super().__init__(message, status=status)


def parse_period(form, period):
    if isinstance(period, Period):
        return period
    try:
        return form.parse_period(period)
    except PeriodError:
        raise ApprovalError(_("Unknown period %(period)s.", period=period)) from None


def hold_approval_key(form_code, period_code, unit, shared):
    """PostgreSQL: a transaction-scoped advisory lock on (form, period, the unit's province) until commit.
    Submissions hold it shared, an approval or reopening exclusively (`approve`, `reopen`), so no
    version slips in between the lock check and the commit of an approval. SQLite already serialises writers."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    province_id = unit.province_id or unit.id
    digest = hashlib.sha256(f"approval|{form_code}|{period_code}|{province_id}".encode()).digest()
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    db.session.execute(text(f"SELECT {function}(:key)"), {"key": int.from_bytes(digest[:8], "big", signed=True)})


def lock_period(user, form_code, period_code, unit):
    """Close a period for a district or province (`approve` does it with its checks; tests call it directly)."""
    lock = PeriodLock(form_code=form_code, period=period_code, org_unit=unit, locked_by_id=user.id if user else None)
    db.session.add(lock)
    db.session.flush()
    return lock


def unlock_period(form_code, period_code, unit):
    for lock in db.session.scalars(select(PeriodLock).where(PeriodLock.form_code == form_code,
                                                           PeriodLock.period == period_code,
                                                           PeriodLock.org_unit_id == unit.id)):
        db.session.delete(lock)
    db.session.flush()


def _names(units):
    names = [unit.name for unit in units[:MISSING_SHOWN]]
    if len(units) > MISSING_SHOWN:
        names.append(_("and %(count)s more", count=len(units) - MISSING_SHOWN))
    return ", ".join(names)


# --- who may do what --------------------------------------------------------------------------------------


def _common_refusal(user, period, unit):
    """The checks shared by approving and reopening: role, unit kind, unit list, scope."""
    if user is None or user.role not in APPROVING_ROLES:
        return ApprovalError(_("Only a data steward or an administrator can approve or reopen a period."), 403)
    if not Scope(user).contains_unit(unit):
        return ApprovalError(_("%(name)s is outside your scope.", name=unit.name), 404)
    if unit.edition != period.edition:
        return ApprovalError(_("Period %(period)s is reported on the %(edition)s unit list; %(name)s is not on it.",
                               period=period.code, edition=period.edition, name=unit.name))
    if unit.level not in approving_levels(period):
        if not editions.has_districts(period.edition):
            return ApprovalError(_("A period of the 2025 unit list is approved by province: %(name)s is not a "
                                   "province.", name=unit.name))
        return ApprovalError(_("A period is approved by district and then by province: %(name)s is neither.",
                               name=unit.name))
    return None


def approval_refusal(user, form, period, unit, locks=None):
    """Why `user` may not approve `unit`'s period now (an ApprovalError), or None when they may.
    `locks` ({unit id: PeriodLock} of the period) saves the queries when many units are checked."""
    period = parse_period(form, period)
    refusal = _common_refusal(user, period, unit)
    if refusal:
        return refusal
    if user.role != "admin" and user.scope_unit_id != unit.id:
        if unit.level == "district":
            return ApprovalError(_("%(name)s is approved by the steward of that district.", name=unit.name), 403)
        return ApprovalError(_("%(name)s is approved by the steward of that province.", name=unit.name), 403)
    if locks is None:
        ids = [unit.id] + ([d.id for d in districts_of(unit)] if unit.level == "province" else [])
        locks = approved_locks(form.code, period.code, ids)
    if unit.id in locks:
        return ApprovalError(_("%(name)s is already approved for %(period)s.", name=unit.name, period=period.code),
                             409)
    if unit.level == "province" and editions.has_districts(period.edition):
        missing = [district for district in districts_of(unit) if district.id not in locks]
        if missing:
            return ApprovalError(_("%(name)s cannot be approved yet: %(count)s district(s) not approved for "
                                   "%(period)s: %(districts)s.", name=unit.name, count=len(missing),
                                   period=period.code, districts=_names(missing)), 409)
    return None


def reopen_refusal(user, form, period, unit, locks=None):
    """Why `user` may not reopen `unit`'s period now (an ApprovalError), or None when they may."""
    period = parse_period(form, period)
    refusal = _common_refusal(user, period, unit)
    if refusal:
        return refusal
    if locks is None:
        locks = approved_locks(form.code, period.code, [unit.id, unit.province_id or unit.id])
    if unit.id not in locks:
        return ApprovalError(_("%(name)s is not approved for %(period)s; there is nothing to reopen.",
                               name=unit.name, period=period.code), 409)
    if unit.level == "district":
        if user.role != "admin" and user.scope_unit_id != unit.province_id:
            return ApprovalError(_("A district is reopened by the steward of its province or by an "
                                   "administrator."), 403)
        if unit.province_id in locks:
            return ApprovalError(_("%(province)s is approved for %(period)s: reopen the province first, then the "
                                   "district.", province=unit.province.name, period=period.code), 409)
    elif user.role != "admin":
        return ApprovalError(_("A province is reopened by an administrator."), 403)
    return None


# --- approving and reopening ------------------------------------------------------------------------------


def _comment(value, required=False):
    value = (value or "").strip()
    if required and not value:
        raise ApprovalError(_("Give the reason for reopening."))
    if len(value) > MAX_COMMENT:
        raise ApprovalError(_("The text is too long (at most %(count)s characters).", count=MAX_COMMENT))
    return value


def approve(user, form, period, unit, comment=""):
    """Approve `unit`'s period (a district, or a province): lock it and record who approved it. Returns the
    ApprovalEvent; raises ApprovalError when refused."""
    period = parse_period(form, period)
    comment = _comment(comment)
    hold_approval_key(form.code, period.code, unit, shared=False)
    refusal = approval_refusal(user, form, period, unit)
    if refusal:
        raise refusal
    savepoint = db.session.begin_nested()
    try:
        lock_period(user, form.code, period.code, unit)
        event = ApprovalEvent(form_code=form.code, period=period.code, org_unit=unit, action="approve",
                              comment=comment or None, user=user, at=utcnow())
        db.session.add(event)
        db.session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        raise ApprovalError(_("%(name)s is already approved for %(period)s.", name=unit.name, period=period.code),
                            409) from None
    return event


def reopen(user, form, period, unit, reason):
    """Reopen `unit`'s approved period (a reason is required): remove the lock and record who reopened it and why.
    Returns the ApprovalEvent; raises ApprovalError when refused."""
    period = parse_period(form, period)
    reason = _comment(reason, required=True)
    hold_approval_key(form.code, period.code, unit, shared=False)
    refusal = reopen_refusal(user, form, period, unit)
    if refusal:
        raise refusal
    unlock_period(form.code, period.code, unit)
    event = ApprovalEvent(form_code=form.code, period=period.code, org_unit=unit, action="reopen", comment=reason,
                          user=user, at=utcnow())
    db.session.add(event)
    db.session.flush()
    return event
