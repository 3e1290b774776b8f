"""The facility registry in the admin (type, licence, status). A facility manager sees and changes only their own
facility, and of its row only the address and the licence; stewards and coordinators read the facilities of their
units; administrators manage them. Creating and editing go through service.facilities.operations (create_facility /
update_facility, as the registry import does)."""
from datetime import date

from flask import abort, url_for
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload

from admin.base import ALL_RIGHTS, READ, VERSION_FIELD, ScopedAjaxLoader, ScopedModelView
from admin.facilities.page import FacilityPageMixin
from admin.formats import day_formatter
from service.facilities import operations
from service.facilities.models import FACILITY_STATUSES, FACILITY_TYPES, Facility
from service.units.models import AdminUnit

# The registry fields a facility manager may change on their own facility; the rest is the administrator's.
MANAGER_FIELDS = ("address", "licence_number", "licence_date", "licence_issuer", "licence_expires_on")


class FacilityView(FacilityPageMixin, ScopedModelView):
    access = {
        "admin": ALL_RIGHTS,
        "facility_manager": {"list", "details", "edit"},
        "data_steward": READ,
        "training_coordinator": READ,
    }
    scope_clause = staticmethod(lambda scope: scope.facility_clause(Facility))
    details_template = "admin/facilities/details.html"
    column_type_formatters = {**ScopedModelView.column_type_formatters, date: day_formatter}
    column_type_formatters_detail = column_type_formatters
    column_list = ("code", "name", "facility_type", "org_unit", "licence_number", "licence_expires_on", "status")
    column_details_list = ("code", "name", "facility_type", "org_unit", "address", "licence_number", "licence_date",
                           "licence_issuer", "licence_expires_on", "status", "closed_on")
    column_export_list = ("code", "name", "facility_type", "org_unit.code", "org_unit.name", "address",
                          "licence_number", "licence_date", "licence_issuer", "licence_expires_on", "status",
                          "closed_on")
    column_searchable_list = ("code", "name")
    column_sortable_list = ("code", "name", "facility_type", ("org_unit", "org_unit.sort_name"), "licence_number",
                            "licence_expires_on", "status")
    column_filters = (FilterEqual(Facility.facility_type, _l("Facility type"), options=list(FACILITY_TYPES.items())),
                      FilterEqual(Facility.status, _l("Status"), options=list(FACILITY_STATUSES.items())),
                      "org_unit.code", "licence_expires_on")
    column_default_sort = "code"
    column_labels = {
        "code": _l("Code"), "name": _l("Name"), "org_unit": _l("Org unit"), "address": _l("Address"),
        "org_unit.code": _l("Unit code"), "org_unit.name": _l("Org unit"), "facility_type": _l("Facility type"),
        "licence_number": _l("Licence number"), "licence_date": _l("Licence issued on"),
        "licence_issuer": _l("Licence issued by"), "licence_expires_on": _l("Licence expires on"),
        "status": _l("Status"), "closed_on": _l("Closed on"),
    }
    column_formatters = {
        "facility_type": lambda v, c, m, n: m.type_label,
        "status": lambda v, c, m, n: m.status_label,
        "name": lambda v, c, m, n: Markup(f"<a href='{escape(url_for('.overview', facility_id=m.id))}'>"
                                          f"{escape(m.name)}</a>"),
    }
    column_formatters_detail = {
        "facility_type": lambda v, c, m, n: m.type_label,
        "status": lambda v, c, m, n: m.status_label,
    }
    column_formatters_export = {"facility_type": lambda v, c, m, n: m.facility_type,
                                "status": lambda v, c, m, n: m.status}
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-tachometer-alt", ".overview", _l("Facility page"), id_arg="facility_id"),
    ]
    form_columns = ("code", "name", "facility_type", "org_unit", "address", "licence_number", "licence_date",
                    "licence_issuer", "licence_expires_on", "status", "closed_on")
    form_choices = {"facility_type": list(FACILITY_TYPES.items()), "status": list(FACILITY_STATUSES.items())}
    choices_without_default = ("facility_type",)
    form_ajax_refs = {
        "org_unit": ScopedAjaxLoader("org_unit", AdminUnit, lambda scope: scope.unit_clause(AdminUnit),
                                     fields=("code", "search_name"), order_by="sort_name", fold_term=True),
    }
    relation_scopes = {AdminUnit: lambda scope: scope.unit_clause(AdminUnit)}

    def get_query(self):
        return super().get_query().options(joinedload(Facility.org_unit))

    def require(self, right):
        if right not in self.rights():
            abort(403)

    def can_write(self):
        return "edit" in self.rights()

    # registry form ------------------------------------------------------------------------------------------
    def edit_form(self, obj=None):
        """A facility manager changes the address and the licence of their facility, nothing else."""
        form = super().edit_form(obj)
        if current_user.role != "admin":
            kept = MANAGER_FIELDS + ("csrf_token", VERSION_FIELD)
            for name in [field.name for field in form if field.name not in kept]:
                delattr(form, name)
        return form

    # The registry's rules and the facility's checks are service.facilities.operations' (like the import).
    create_record = staticmethod(operations.create_facility)
    update_record = staticmethod(operations.update_facility)
