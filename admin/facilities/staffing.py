"""The staffing conditions of Decree 116/2021 per facility type, kept by an administrator; a change re-runs the
checks of the facilities of that type (service.facilities.operations)."""
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from sqlalchemy import true
from sqlalchemy.orm import joinedload
from wtforms.validators import NumberRange

from admin.base import ALL_RIGHTS, READ, ScopedModelView
from admin.formats import language
from service.facilities import operations
from service.facilities.models import FACILITY_TYPES, StaffingCondition
from service.flags.models import SEVERITIES
from service.training.models import QualificationType, RoleCategory


def _localized(item):
    if item is None:
        return ""
    return item.name_en if language() == "en" else item.name_vi


class StaffingConditionView(ScopedModelView):
    """The staffing conditions of each facility type (Decree 116/2021): data an administrator keeps. A change
    re-runs the checks of the facilities of that type."""

    access = {"admin": ALL_RIGHTS, "data_steward": READ, "training_coordinator": READ, "facility_manager": READ}
    scope_clause = staticmethod(lambda scope: true())
    column_list = ("facility_type", "role_category", "qualification_type", "minimum", "severity", "basis")
    column_details_list = column_list
    column_export_list = ("facility_type", "role_category.code", "qualification_type.code", "minimum", "severity",
                          "basis")
    column_default_sort = [("facility_type", False), ("id", False)]
    column_filters = (FilterEqual(StaffingCondition.facility_type, _l("Facility type"),
                                  options=list(FACILITY_TYPES.items())),
                      FilterEqual(StaffingCondition.severity, _l("Severity"), options=list(SEVERITIES.items())))
    column_labels = {
        "facility_type": _l("Facility type"), "role_category": _l("Role category"),
        "role_category.code": _l("Role category"), "qualification_type": _l("Required qualification"),
        "qualification_type.code": _l("Required qualification"), "minimum": _l("At least (people)"),
        "severity": _l("Severity"), "basis": _l("Legal basis"),
    }
    column_descriptions = {
        "qualification_type": _l("Empty: any active staff member of the role counts."),
        "severity": _l("An error or a warning on the facility when the condition is not met."),
    }
    column_formatters = {
        "facility_type": lambda v, c, m, n: m.type_label,
        "role_category": lambda v, c, m, n: _localized(m.role_category),
        "qualification_type": lambda v, c, m, n: _localized(m.qualification_type),
        "severity": lambda v, c, m, n: SEVERITIES.get(m.severity, m.severity),
    }
    column_formatters_export = {"facility_type": lambda v, c, m, n: m.facility_type,
                                "severity": lambda v, c, m, n: m.severity}
    form_columns = ("facility_type", "role_category", "qualification_type", "minimum", "severity", "basis")
    form_choices = {"facility_type": list(FACILITY_TYPES.items()), "severity": list(SEVERITIES.items())}
    form_args = {"minimum": {"validators": [NumberRange(min=1, max=1000)]}}
    relation_scopes = {RoleCategory: lambda scope: true(), QualificationType: lambda scope: true()}

    def get_query(self):
        return super().get_query().options(joinedload(StaffingCondition.role_category),
                                           joinedload(StaffingCondition.qualification_type))

    create_record = staticmethod(operations.create_staffing_condition)
    update_record = staticmethod(operations.update_staffing_condition)
    delete_record = staticmethod(operations.delete_staffing_condition)
