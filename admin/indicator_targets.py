"""The programme targets of the plans (treated / addicts with a record ≥ 80 % by a deadline, …) in the admin.

Administrators keep them (through service.aggregation.targets); data stewards and training coordinators read them.
Scope: a target is in scope through its scope unit.
"""
from datetime import date

from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from sqlalchemy import true
from wtforms.validators import NumberRange, Optional

from admin.base import ALL_RIGHTS, READ, ScopedAjaxLoader, ScopedModelView
from admin.formats import day_formatter
from service.aggregation import targets
from service.aggregation.indicators import all_indicators, get_indicator
from service.aggregation.models import DIRECTIONS, IndicatorTarget
from service.training.models import TrainingPlan
from service.units.models import AdminUnit


def target_clause(scope):
    return scope.units_column_clause(IndicatorTarget.scope_unit_id)


class IndicatorOptions:
    """(code, name) of every indicator, named in the language of the request (read on each use)."""

    def __iter__(self):
        return iter([(item.code, item.name) for item in all_indicators()])

    def __bool__(self):
        return True


def indicator_name(code):
    indicator = get_indicator(code)
    return indicator.name if indicator is not None else code


def _number(value):
    if value is None:
        return ""
    return f"{float(value):g}"


class IndicatorTargetView(ScopedModelView):
    access = {"admin": ALL_RIGHTS, "data_steward": READ, "training_coordinator": READ}
    scope_clause = staticmethod(target_clause)
    column_type_formatters = {**ScopedModelView.column_type_formatters, date: day_formatter}
    column_type_formatters_detail = column_type_formatters
    column_list = ("plan", "scope_unit", "indicator_code", "direction", "value", "baseline", "deadline")
    column_details_list = ("plan", "scope_unit", "indicator_code", "direction", "value", "baseline", "baseline_note",
                           "deadline")
    column_export_list = ("plan.code", "scope_unit.code", "scope_unit.name", "indicator_code", "direction", "value",
                          "baseline", "baseline_note", "deadline")
    column_sortable_list = ("indicator_code", "direction", "value", "deadline")
    column_default_sort = "deadline"
    column_filters = ("plan.code", "scope_unit.code",
                      FilterEqual(IndicatorTarget.indicator_code, _l("Indicator"), options=IndicatorOptions()),
                      FilterEqual(IndicatorTarget.direction, _l("Direction"), options=list(DIRECTIONS.items())))
    column_labels = {
        "plan": _l("Plan"), "plan.code": _l("Plan"), "scope_unit": _l("Scope"), "scope_unit.code": _l("Unit code"),
        "scope_unit.name": _l("Scope"), "indicator_code": _l("Indicator"), "direction": _l("Direction"),
        "value": _l("Target (%)"), "baseline": _l("Baseline (%)"), "baseline_note": _l("Baseline note"),
        "deadline": _l("Deadline"),
    }
    column_formatters = {
        "indicator_code": lambda v, c, m, n: indicator_name(m.indicator_code),
        "direction": lambda v, c, m, n: m.direction_label,
        "value": lambda v, c, m, n: _number(m.value),
        "baseline": lambda v, c, m, n: _number(m.baseline),
    }
    column_formatters_detail = column_formatters
    column_formatters_export = {"value": lambda v, c, m, n: _number(m.value),
                                "baseline": lambda v, c, m, n: _number(m.baseline)}
    form_columns = ("plan", "scope_unit", "indicator_code", "direction", "value", "baseline", "baseline_note",
                    "deadline")
    form_choices = {"indicator_code": IndicatorOptions(), "direction": list(DIRECTIONS.items())}
    form_args = {
        "value": {"validators": [NumberRange(min=0, max=100)]},
        "baseline": {"validators": [Optional(), NumberRange(min=0, max=100)]},
    }
    form_ajax_refs = {
        "scope_unit": ScopedAjaxLoader("scope_unit", AdminUnit, lambda scope: scope.unit_clause(AdminUnit),
                                       fields=("code", "search_name"), order_by="sort_name", fold_term=True),
    }
    relation_scopes = {TrainingPlan: lambda scope: true(), AdminUnit: lambda scope: scope.unit_clause(AdminUnit)}

    create_record = staticmethod(targets.create_target)
    update_record = staticmethod(targets.update_target)
    delete_record = staticmethod(targets.delete_target)
