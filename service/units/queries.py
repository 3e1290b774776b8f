"""Read-side queries on units: a unit by code and edition, children in Vietnamese order, search by code or name,
breadcrumbs."""
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from service.common.text import fold
from service.extensions import db
from service.units import editions
from service.units.models import AdminUnit


def unit_by_code(code, edition=None, fallback=False, level=None):
    """The unit with `code` in `edition` (default: the current edition), or None. Codes are reused across the
    reform (82 is Tiền Giang in 2024 and Đồng Tháp in 2025), so a code alone never names a unit: with
    `fallback`, a code missing from the edition is looked up in the other one."""
    code = str(code or "").strip()
    if not code:
        return None
    edition = edition or editions.current()
    for candidate in (edition, editions.other(edition)) if fallback else (edition,):
        query = select(AdminUnit).where(AdminUnit.edition == candidate, AdminUnit.code == code)
        if level is not None:
            query = query.where(AdminUnit.level == level)
        unit = db.session.execute(query).scalar_one_or_none()
        if unit is not None:
            return unit
    return None


def unit_ids_with_code(code, edition=None):
    """The ids of the units with `code` as a subquery, for a list filter: in `edition`, or with no edition in
    both lists (a filter over periods of both lists, as the API's `org_unit` parameter is, keeps a code's rows of
    both; each row's own unit says which it is)."""
    query = select(AdminUnit.id).where(AdminUnit.code == str(code or "").strip())
    if edition is not None:
        query = query.where(AdminUnit.edition == edition)
    return query


def scoped_units(scope, edition=None, level=None, parent_id=None):
    query = select(AdminUnit).where(scope.unit_clause(AdminUnit, edition))
    if edition is not None:
        query = query.where(AdminUnit.edition == edition)
    if level:
        query = query.where(AdminUnit.level == level)
    if parent_id is not None:
        query = query.where(AdminUnit.parent_id == parent_id)
    return query.order_by(AdminUnit.sort_name, AdminUnit.code)


def search(query, term):
    """Filter a unit query by code prefix or accent-free name ('buon ma' finds 'Buôn Ma Thuột')."""
    term = (term or "").strip()
    if not term:
        return query
    if term.isdigit():
        return query.where(AdminUnit.code.startswith(term))
    return query.where(AdminUnit.search_name.contains(fold(term)))


def roots(scope, edition):
    """The top units of the scope in an edition: units in scope whose parent is not in scope."""
    parent = aliased(AdminUnit)
    in_scope_parent = select(parent.id).where(parent.id == AdminUnit.parent_id, scope.unit_clause(parent, edition))
    query = scoped_units(scope, edition).where(
        or_(AdminUnit.parent_id.is_(None), ~in_scope_parent.exists())
    )
    return db.session.scalars(query).all()


def child_counts(unit_ids):
    if not unit_ids:
        return {}
    rows = db.session.execute(
        select(AdminUnit.parent_id, func.count()).where(AdminUnit.parent_id.in_(unit_ids)).group_by(AdminUnit.parent_id)
    )
    return dict(rows.all())


def breadcrumb(unit):
    chain = []
    while unit is not None:
        chain.append(unit)
        unit = unit.parent
    return list(reversed(chain))
