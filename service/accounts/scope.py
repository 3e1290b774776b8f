"""Org-unit scope: the one place that says which units and facilities a user may see and change.

Every admin list, detail, edit, delete, export, relation dropdown and ajax lookup, and every API query, filters
through `Scope`. The rules:

- an administrator without a scope unit sees the whole country; every other user sees nothing unless given a
  scope unit (deny by default);
- the scope unit and every unit under it (its province_id / district_id point to it) are in scope;
- across the 2025 reform, a unit of the other edition is in scope only when *all* of it lies in the scope: an
  old commune whose successors all lie in the scope, a new commune whose predecessors all lie in it; a district
  or province when all its communes do. A split commune is never shared with a scope that holds only part of it;
- a facility manager is limited to their own facility.
"""
from flask import abort
from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import aliased

from service.extensions import db
from service.units import editions
from service.units.models import AdminUnit, UnitSuccession


class Scope:
    def __init__(self, user):
        self.user = user
        self.unit = user.scope_unit if user is not None else None
        self.national = bool(user is not None and user.role == "admin" and user.scope_unit_id is None)
        self.facility_id = user.facility_id if user is not None and user.role == "facility_manager" else None
        self._other_ids = None

    # --- units -------------------------------------------------------------------------------------------
    def _same_edition_clause(self, unit=AdminUnit):
        s = self.unit.id
        return or_(unit.id == s, unit.province_id == s, unit.district_id == s)

    def _other_edition_commune_ids(self):
        """Communes of the other edition that lie wholly in the scope (all succession links inside)."""
        scoped = aliased(AdminUnit)
        inside = select(scoped.id).where(self._same_edition_clause(scoped))
        if editions.is_new(self.unit.edition):
            own, other = UnitSuccession.new_unit_id, UnitSuccession.old_unit_id
        else:
            own, other = UnitSuccession.old_unit_id, UnitSuccession.new_unit_id
        return (
            select(other)
            .group_by(other)
            .having(func.sum(case((own.in_(inside), 0), else_=1)) == 0)
        )

    def other_edition_ids(self):
        """The ids of the units of the other edition that lie wholly in the scope: communes (all their succession
        links inside) and the districts and provinces all of whose communes are. Computed once per Scope (two
        queries on the succession and the units; a province steward's scope holds a few hundred ids), so that
        every list filters on a plain list of ids instead of re-deriving it per row."""
        if self._other_ids is None:
            communes = set(db.session.scalars(self._other_edition_commune_ids()))
            members = db.session.execute(select(AdminUnit.id, AdminUnit.district_id, AdminUnit.province_id).where(
                AdminUnit.id.in_(sorted(communes)), AdminUnit.level == "commune")).all() if communes else []
            parents = {parent for row in members for parent in (row.district_id, row.province_id) if parent}
            outside = set()
            if parents:
                for row in db.session.execute(select(AdminUnit.id, AdminUnit.district_id, AdminUnit.province_id).where(
                        AdminUnit.level == "commune", or_(AdminUnit.district_id.in_(sorted(parents)),
                                                          AdminUnit.province_id.in_(sorted(parents))))):
                    if row.id not in communes:
                        outside.update((row.district_id, row.province_id))
            self._other_ids = frozenset(communes | (parents - outside))
        return self._other_ids

    def unit_clause(self, unit=AdminUnit, edition=None):
        """A WHERE clause on an AdminUnit (or alias) restricting it to this scope."""
        if self.national:
            return true()
        if self.unit is None:
            return false()
        same = and_(unit.edition == self.unit.edition, self._same_edition_clause(unit))
        if edition == self.unit.edition:
            return same
        other = and_(unit.edition != self.unit.edition, unit.id.in_(sorted(self.other_edition_ids())))
        if edition is not None:
            return other
        return or_(same, other)

    def unit_ids(self, edition=None):
        """A SELECT of the ids of the units in scope (for `column.in_(...)`)."""
        query = select(AdminUnit.id)
        if edition is not None:
            query = query.where(AdminUnit.edition == edition)
        return query.where(self.unit_clause(AdminUnit, edition))

    def units_column_clause(self, column, edition=None):
        """Restrict a foreign-key column that points to admin_unit.id."""
        if self.national:
            return true()
        return column.in_(self.unit_ids(edition))

    def contains_unit(self, unit):
        if unit is None:
            return False
        if self.national:
            return True
        query = select(AdminUnit.id).where(AdminUnit.id == unit.id, self.unit_clause(AdminUnit, unit.edition))
        return db.session.execute(query).first() is not None

    # --- facilities --------------------------------------------------------------------------------------
    def facility_clause(self, facility_model):
        if self.national:
            return true()
        if self.facility_id is not None:
            return facility_model.id == self.facility_id
        return self.units_column_clause(facility_model.org_unit_id)

    def contains_facility(self, facility):
        if facility is None:
            return False
        if self.national:
            return True
        if self.facility_id is not None:
            return facility.id == self.facility_id
        return self.contains_unit(facility.org_unit)

    # --- staff -------------------------------------------------------------------------------------------
    def staff_clause(self, staff_model):
        """Staff a user may see: a facility manager those of their facility, everyone else those of their units."""
        if self.user is not None and self.user.role == "facility_manager":
            return staff_model.facility_id == self.facility_id if self.facility_id is not None else false()
        return self.units_column_clause(staff_model.org_unit_id)

    # --- flags -------------------------------------------------------------------------------------------
    def flag_clause(self, flag_model):
        """Flags a user may see: a facility manager those of their facility (its checks and its staff's
        credentials), a commune reporter those of their commune's reports (a facility registered in the commune
        is its manager's and the stewards' business, not the reporter's), everyone else those of their units."""
        if self.user is not None and self.user.role == "facility_manager":
            return flag_model.facility_id == self.facility_id if self.facility_id is not None else false()
        clause = self.units_column_clause(flag_model.org_unit_id)
        if self.user is not None and self.user.role == "commune_reporter":
            return and_(clause, flag_model.subject == "report")
        return clause

    def contains_flag(self, flag):
        if self.user is not None and self.user.role == "facility_manager":
            return self.facility_id is not None and flag.facility_id == self.facility_id
        if self.user is not None and self.user.role == "commune_reporter" and flag.subject != "report":
            return False
        return self.contains_unit(flag.org_unit)

    # --- users -------------------------------------------------------------------------------------------
    def user_clause(self, user_model):
        """Users an administrator may manage: those whose scope unit lies in the administrator's scope."""
        if self.national:
            return true()
        if self.unit is None:
            return false()
        return user_model.scope_unit_id.in_(self.unit_ids())

    def require_unit(self, unit):
        """404 when a unit is outside the scope (the id may not even be confirmed to exist)."""
        if not self.contains_unit(unit):
            abort(404)
