"""Administrative units: a tree browser (edition switch, province → district → commune, search) and a
read-only list with filters and export."""
from flask import abort, current_app, request
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from admin.base import READ, ScopedModelView, SecureView, current_scope
from service.accounts.models import ROLES
from service.common.text import fold
from service.extensions import db
from service.units import queries
from service.units.models import EDITIONS, AdminUnit

EVERYONE_READS = {role: READ for role in ROLES}


class UnitBrowserView(SecureView):
    access = EVERYONE_READS

    @expose("/")
    def index(self):
        scope = current_scope()
        try:
            edition = int(request.args.get("edition", current_app.config["CURRENT_EDITION"]))
        except ValueError:
            abort(404)
        if edition not in EDITIONS:
            abort(404)
        term = (request.args.get("q") or "").strip()
        parent = None
        if request.args.get("parent"):
            parent_id = request.args["parent"]
            parent = db.session.get(AdminUnit, int(parent_id)) if parent_id.isdigit() else None
            if parent is None or parent.edition != edition:
                abort(404)
            scope.require_unit(parent)
        if term:
            units = db.session.scalars(queries.search(queries.scoped_units(scope, edition), term).limit(200)).all()
        elif parent is not None:
            units = db.session.scalars(queries.scoped_units(scope, edition, parent_id=parent.id)).all()
        else:
            units = queries.roots(scope, edition)
        counts = queries.child_counts([unit.id for unit in units])
        crumbs = [u for u in queries.breadcrumb(parent) if scope.contains_unit(u)] if parent else []
        totals = dict(db.session.execute(
            select(AdminUnit.level, db.func.count()).where(AdminUnit.edition == edition).group_by(AdminUnit.level)
        ).all())
        return self.render("admin/units/browser.html", edition=edition, editions=EDITIONS, units=units,
                           counts=counts, parent=parent, crumbs=crumbs, term=term, totals=totals,
                           level_names=LEVEL_NAMES)


LEVEL_NAMES = {"province": _l("Province"), "district": _l("District"), "commune": _l("Commune")}


class UnitView(ScopedModelView):
    access = EVERYONE_READS
    scope_clause = staticmethod(lambda scope: scope.unit_clause(AdminUnit))
    column_list = ("edition", "code", "name", "level", "unit_type", "parent")
    column_details_list = ("edition", "code", "name", "level", "unit_type", "parent", "province", "district",
                           "synthetic")
    column_export_list = ("edition", "code", "name", "level", "unit_type", "parent.code", "province.code",
                          "district.code")
    column_searchable_list = ("code", "search_name")
    column_filters = ("edition", "level", "unit_type", "code")
    column_default_sort = [("edition", True), ("sort_name", False)]
    column_sortable_list = ("edition", "code", ("name", AdminUnit.sort_name), "level", "unit_type")
    column_labels = {
        "edition": _l("Edition"), "code": _l("Code"), "name": _l("Name"), "level": _l("Level"),
        "unit_type": _l("Type"), "parent": _l("Parent unit"), "province": _l("Province"),
        "district": _l("District"), "synthetic": _l("Synthetic (demo)"), "search_name": _l("Name"),
        "parent.code": _l("Parent unit"), "province.code": _l("Province"), "district.code": _l("District"),
    }
    column_formatters = {"level": lambda v, c, m, n: LEVEL_NAMES.get(m.level, m.level)}

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Search accent-free and case-free: 'dak lak', 'Đắk Lắk' and 'ĐẮK LẮK' find the same units."""
        return super()._apply_search(query, count_query, joins, count_joins, fold(search))
