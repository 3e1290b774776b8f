"""Approval of a period: a district steward approves the district's period, then a province steward the
province's; approval locks the period (service.submissions.models.PeriodLock: no submission, edit or import is
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
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from service.accounts.models import User
from service.accounts.scope import Scope
from service.aggregation.models import ApprovalEvent
from service.aggregation.queries import Aggregate, aggregate
from service.common.time import utcnow
from service.extensions import db
from service.forms.periods import Period, PeriodError
from service.submissions.models import PeriodLock
from service.submissions.operations import hold_approval_key, lock_period, unlock_period
from service.units.models import AdminUnit
from service.validation.models import OPEN_STATUSES, Flag

APPROVING_ROLES = ("data_steward", "admin")
MAX_COMMENT = 2000
MISSING_SHOWN = 10


class ApprovalError(ValueError):
    """A refused approval or reopening: `message` in Vietnamese, `status` as an HTTP status would say it."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message, self.status = message, status


def _period(form, period):
    if isinstance(period, Period):
        return period
    try:
        return form.parse_period(period)
    except PeriodError:
        raise ApprovalError(_("Unknown period %(period)s.", period=period)) from None


def approving_levels(period):
    """The levels approved in a period: districts then the province (2024 list), the province (2025 list)."""
    return ("district", "province") if period.edition == 2024 else ("province",)


def approved_locks(form_code, period_code, unit_ids=None):
    """{unit id: PeriodLock} of the approved units of a period (all, or those of `unit_ids`)."""
    query = select(PeriodLock).where(PeriodLock.form_code == form_code, PeriodLock.period == period_code)
    if unit_ids is not None:
        query = query.where(PeriodLock.org_unit_id.in_(list(unit_ids)))
    return {lock.org_unit_id: lock for lock in db.session.scalars(query)}


def is_approved(form, period, unit):
    period = _period(form, period)
    return bool(approved_locks(form.code, period.code, [unit.id]))


def districts_of(province):
    return db.session.scalars(select(AdminUnit).where(
        AdminUnit.edition == province.edition, AdminUnit.level == "district", AdminUnit.province_id == province.id
    ).order_by(AdminUnit.sort_name)).all()


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
        if period.edition == 2025:
            return ApprovalError(_("A period of the 2025 unit list is approved by province: %(name)s is not a "
                                   "province.", name=unit.name))
        return ApprovalError(_("A period is approved by district and then by province: %(name)s is neither.",
                               name=unit.name))
    return None


def approval_refusal(user, form, period, unit, locks=None):
    """Why `user` may not approve `unit`'s period now (an ApprovalError), or None when they may.
    `locks` ({unit id: PeriodLock} of the period) saves the queries when many units are checked."""
    period = _period(form, period)
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
    if unit.level == "province" and period.edition == 2024:
        missing = [district for district in districts_of(unit) if district.id not in locks]
        if missing:
            return ApprovalError(_("%(name)s cannot be approved yet: %(count)s district(s) not approved for "
                                   "%(period)s: %(districts)s.", name=unit.name, count=len(missing),
                                   period=period.code, districts=_names(missing)), 409)
    return None


def reopen_refusal(user, form, period, unit, locks=None):
    """Why `user` may not reopen `unit`'s period now (an ApprovalError), or None when they may."""
    period = _period(form, period)
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
    period = _period(form, period)
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
    period = _period(form, period)
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


# --- reading ----------------------------------------------------------------------------------------------


@dataclass
class ApprovalRow:
    """One unit of an approval table: its completeness, its open error flags and whether it is approved."""

    unit: AdminUnit
    aggregate: Aggregate | None
    open_errors: int
    lock: PeriodLock | None
    approved_by: User | None
    approved_at: datetime | None
    comment: str | None

    @property
    def approved(self):
        return self.lock is not None

    @property
    def communes_total(self):
        return self.aggregate.communes_total if self.aggregate else 0

    @property
    def communes_reported(self):
        return self.aggregate.communes_reported if self.aggregate else 0

    @property
    def held_back(self):
        return self.aggregate.held_back if self.aggregate else 0

    @property
    def missing(self):
        return self.communes_total - self.communes_reported

    @property
    def incomplete(self):
        """Reports that would not be in the official figures: held back or never sent."""
        return self.held_back + self.missing


def approval_units(period, scope, parent=None):
    """The units approved in a period that lie in `scope` (under `parent` if given): provinces first, then
    their districts, by name."""
    levels = approving_levels(period)
    query = select(AdminUnit).where(AdminUnit.edition == period.edition, AdminUnit.level.in_(levels))
    if scope is not None:
        query = query.where(scope.unit_clause(AdminUnit, period.edition))
    if parent is not None:
        query = query.where(or_(AdminUnit.id == parent.id, AdminUnit.province_id == parent.id,
                                AdminUnit.district_id == parent.id))
    units = db.session.scalars(query).all()
    provinces = sorted((unit for unit in units if unit.level == "province"), key=lambda unit: unit.sort_name)
    districts = sorted((unit for unit in units if unit.level == "district"), key=lambda unit: unit.sort_name)
    ordered = []
    for province in provinces:
        ordered.append(province)
        ordered.extend(district for district in districts if district.province_id == province.id)
    shown = {unit.id for unit in ordered}
    ordered.extend(district for district in districts if district.id not in shown)  # province outside the scope
    return ordered


def open_error_counts(form_code, period_code):
    """{unit id: open error-level flags} of a period's reports, counted on the commune, its district and its
    province (and the province-level flags on their province)."""
    rows = db.session.execute(
        select(Flag.org_unit_id, AdminUnit.district_id, AdminUnit.province_id)
        .join(AdminUnit, AdminUnit.id == Flag.org_unit_id)
        .where(Flag.subject.in_(("report", "province")), Flag.form_code == form_code, Flag.period == period_code,
               Flag.severity == "error", Flag.status.in_(OPEN_STATUSES))
    ).all()
    counts = {}
    for row in rows:
        for unit_id in {unit_id for unit_id in row if unit_id is not None}:
            counts[unit_id] = counts.get(unit_id, 0) + 1
    return counts


def approval_status(form, period, scope, parent=None):
    """[ApprovalRow] of the units of `scope` approved in the period (districts and provinces for a 2024-list
    period, provinces for a 2025-list one), with completeness, open error flags and approval."""
    period = _period(form, period)
    units = approval_units(period, scope, parent)
    if not units:
        return []
    aggregates = {}
    for level in {unit.level for unit in units}:
        for item in aggregate(form, period, level, scope=scope, parent=parent):
            aggregates[item.unit.id] = item
    ids = [unit.id for unit in units]
    locks = approved_locks(form.code, period.code, ids)
    approvals = {}
    for event in db.session.scalars(select(ApprovalEvent).where(
            ApprovalEvent.form_code == form.code, ApprovalEvent.period == period.code,
            ApprovalEvent.org_unit_id.in_(ids), ApprovalEvent.action == "approve").order_by(ApprovalEvent.at)):
        approvals[event.org_unit_id] = event  # the latest approval of each unit
    users = {user.id: user for user in db.session.scalars(select(User).where(
        User.id.in_({lock.locked_by_id for lock in locks.values() if lock.locked_by_id})))} if locks else {}
    errors = open_error_counts(form.code, period.code)
    rows = []
    for unit in units:
        lock = locks.get(unit.id)
        event = approvals.get(unit.id) if lock else None
        rows.append(ApprovalRow(unit=unit, aggregate=aggregates.get(unit.id), open_errors=errors.get(unit.id, 0),
                                lock=lock, approved_by=users.get(lock.locked_by_id) if lock else None,
                                approved_at=lock.locked_at if lock else None,
                                comment=event.comment if event else None))
    return rows


def approval_history(form, period, scope, parent=None):
    """The ApprovalEvents of a period on the units of `scope`, newest first."""
    period = _period(form, period)
    query = (select(ApprovalEvent).join(AdminUnit, AdminUnit.id == ApprovalEvent.org_unit_id)
             .where(ApprovalEvent.form_code == form.code, ApprovalEvent.period == period.code))
    if scope is not None:
        query = query.where(scope.unit_clause(AdminUnit, period.edition))
    if parent is not None:
        query = query.where(or_(AdminUnit.id == parent.id, AdminUnit.province_id == parent.id,
                                AdminUnit.district_id == parent.id))
    return db.session.scalars(query.order_by(ApprovalEvent.at.desc(), ApprovalEvent.id.desc())).all()
