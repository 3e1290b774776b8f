"""Training plans and their targets."""
from flask_admin.contrib.sqla.filters import FilterEqual, IntEqualFilter
from flask_babel import lazy_gettext as _l
from wtforms.validators import NumberRange

from admin.base import ALL_RIGHTS
from admin.training.common import (
    EDIT,
    LazyOptions,
    TrainingModelView,
    UnitCodeFilter,
    everything,
    localized,
    role_options,
    topic_label,
    unit_loader,
)
from service.training import operations
from service.training.models import METRICS, TOPICS, RoleCategory, TrainingPlan, TrainingTarget
from service.training.queries import target_clause


class TrainingPlanView(TrainingModelView):
    access = {"admin": ALL_RIGHTS, "training_coordinator": EDIT}
    scope_clause = staticmethod(everything)
    column_list = ("code", "name", "number", "issued_on")
    column_details_list = column_export_list = column_list
    column_default_sort = "code"
    column_searchable_list = ("code", "name", "number")
    column_labels = {"code": _l("Code"), "name": _l("Name"), "number": _l("Document number"),
                     "issued_on": _l("Issued on")}
    form_columns = ("code", "name", "number", "issued_on")
    create_record = staticmethod(operations.create_plan)
    update_record = staticmethod(operations.update_plan)
    delete_record = staticmethod(operations.delete_plan)


class TrainingTargetView(TrainingModelView):
    access = {"admin": ALL_RIGHTS, "training_coordinator": ALL_RIGHTS}
    scope_clause = staticmethod(target_clause)
    column_list = ("plan", "scope_unit", "role_category", "metric", "topic", "percent", "deadline")
    column_details_list = column_list
    column_export_list = ("plan.code", "scope_unit.code", "scope_unit.name", "role_category.code", "metric", "topic",
                          "percent", "deadline")
    column_default_sort = "deadline"
    column_sortable_list = ("metric", "topic", "percent", "deadline")
    column_filters = ("plan.code", UnitCodeFilter(TrainingTarget.scope_unit_id,
                                                  _l("Unit code (and the units under it)")),
                      IntEqualFilter(TrainingTarget.role_category_id, _l("Role category"),
                                     options=LazyOptions(role_options)),
                      FilterEqual(TrainingTarget.metric, _l("Metric"), options=list(METRICS.items())))
    column_labels = {
        "plan": _l("Plan"), "plan.code": _l("Plan"), "scope_unit": _l("Scope"), "scope_unit.code": _l("Unit code"),
        "scope_unit.name": _l("Scope"), "role_category": _l("Role category"),
        "role_category.code": _l("Role category"), "metric": _l("Metric"), "topic": _l("Topic"),
        "percent": _l("Target (%)"), "deadline": _l("Deadline"),
    }
    column_formatters = {
        "role_category": lambda v, c, m, n: localized(m.role_category),
        "metric": lambda v, c, m, n: METRICS.get(m.metric, m.metric),
        "topic": lambda v, c, m, n: topic_label(m.topic),
    }
    form_columns = ("plan", "scope_unit", "role_category", "metric", "topic", "percent", "deadline")
    form_choices = {"metric": list(METRICS.items()), "topic": list(TOPICS.items())}
    form_args = {"percent": {"validators": [NumberRange(min=0, max=100)]}}
    form_ajax_refs = {"scope_unit": unit_loader("scope_unit")}
    relation_scopes = {TrainingPlan: everything, RoleCategory: everything}

    create_record = staticmethod(operations.create_target)
    update_record = staticmethod(operations.update_target)
    delete_record = staticmethod(operations.delete_target)

