"""Read side of approval: the lock that closes a commune's period, the approved units of a period, the levels
that approve, the units an approval table lists and the history of approvals and reopenings."""
from sqlalchemy import or_, select

from service.approval.models import ApprovalEvent, PeriodLock
from service.extensions import db
from service.units import editions
from service.units.models import AdminUnit


def lock_for(form_code, period_code, unit):
    """The lock (on the commune, its district or its province) that closes this period, or None."""
    ids = [i for i in (unit.id, unit.district_id, unit.province_id) if i is not None]
    return db.session.execute(
        select(PeriodLock).where(PeriodLock.form_code == form_code, PeriodLock.period == period_code,
                                 PeriodLock.org_unit_id.in_(ids))
    ).scalars().first()


def approving_levels(period):
    """The levels approved in a period: districts then the province (2024 list), the province (2025 list)."""
    return ("district", "province") if editions.has_districts(period.edition) else ("province",)


def approved_locks(form_code, period_code, unit_ids=None):
    """{unit id: PeriodLock} of the approved units of a period (all, or those of `unit_ids`)."""
    query = select(PeriodLock).where(PeriodLock.form_code == form_code, PeriodLock.period == period_code)
    if unit_ids is not None:
        query = query.where(PeriodLock.org_unit_id.in_(list(unit_ids)))
    return {lock.org_unit_id: lock for lock in db.session.scalars(query)}


def is_approved(form, period, unit):
    """Whether `unit`'s period (a Period or its code) is approved."""
    return bool(approved_locks(form.code, getattr(period, "code", period), [unit.id]))


def districts_of(province):
    return db.session.scalars(select(AdminUnit).where(
        AdminUnit.edition == province.edition, AdminUnit.level == "district", AdminUnit.province_id == province.id
    ).order_by(AdminUnit.sort_name)).all()


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


def approval_history(form, period, scope, parent=None):
    """The ApprovalEvents of a period (a Period) on the units of `scope`, newest first."""
    query = (select(ApprovalEvent).join(AdminUnit, AdminUnit.id == ApprovalEvent.org_unit_id)
             .where(ApprovalEvent.form_code == form.code, ApprovalEvent.period == period.code))
    if scope is not None:
        query = query.where(scope.unit_clause(AdminUnit, period.edition))
    if parent is not None:
        query = query.where(or_(AdminUnit.id == parent.id, AdminUnit.province_id == parent.id,
                                AdminUnit.district_id == parent.id))
    return db.session.scalars(query.order_by(ApprovalEvent.at.desc(), ApprovalEvent.id.desc())).all()
