"""Facilities (foundation part: code, name, org unit, address). A facility manager sees and edits only their
own facility; stewards and coordinators read those in their scope; administrators manage them."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import true

from admin.base import ALL_RIGHTS, READ, ScopedAjaxLoader, ScopedModelView
from service.facilities.models import Facility
from service.units.models import AdminUnit


class FacilityView(ScopedModelView):
    access = {
        "admin": ALL_RIGHTS,
        "facility_manager": {"list", "details", "edit"},
        "data_steward": READ,
        "training_coordinator": READ,
    }
    scope_clause = staticmethod(lambda scope: scope.facility_clause(Facility))
    column_list = ("code", "name", "org_unit", "address")
    column_details_list = ("code", "name", "org_unit", "address")
    column_export_list = ("code", "name", "org_unit.code", "org_unit.name", "address")
    column_searchable_list = ("code", "name")
    column_default_sort = "code"
    form_columns = ("code", "name", "org_unit", "address")
    column_labels = {
        "code": _l("Code"), "name": _l("Name"), "org_unit": _l("Org unit"), "address": _l("Address"),
        "org_unit.code": _l("Unit code"), "org_unit.name": _l("Org unit"),
    }
    form_ajax_refs = {
        "org_unit": ScopedAjaxLoader("org_unit", AdminUnit, lambda scope: scope.unit_clause(AdminUnit),
                                     fields=("code", "search_name"), order_by="sort_name", fold_term=True),
    }
    relation_scopes = {AdminUnit: lambda scope: scope.unit_clause(AdminUnit)}


class StaffingConditionView(ScopedModelView):
    """The staffing conditions of each facility type (Decree 116/2021): data an administrator keeps."""

    access = {"admin": ALL_RIGHTS, "data_steward": READ, "training_coordinator": READ, "facility_manager": READ}
    scope_clause = staticmethod(lambda scope: true())
    column_list = ("facility_type", "role_category", "qualification_type", "minimum", "severity", "basis")
