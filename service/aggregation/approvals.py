"""The approval table: for each unit approved in a period, its completeness, its open error flags and its approval.
(Approving and reopening, and the locks, are `service.approval`.)"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from service.accounts.models import User
from service.aggregation.queries import Aggregate, aggregate
from service.approval.models import ApprovalEvent, PeriodLock
from service.approval.operations import parse_period
from service.approval.queries import approval_units, approved_locks
from service.extensions import db
from service.flags.queries import open_error_counts
from service.units.models import AdminUnit


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


def approval_status(form, period, scope, parent=None):
    """[ApprovalRow] of the units of `scope` approved in the period (districts and provinces for a 2024-list
    period, provinces for a 2025-list one), with completeness, open error flags and approval."""
    period = parse_period(form, period)
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
