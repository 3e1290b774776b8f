"""The form and period picker every report screen shares (report entry, history, completeness, approvals, the
periodic report, the dashboard): the chosen form, the chosen period with the screen's default, and the period
choices grouped by type. The template side is admin/templates/admin/_pickers.html."""
from flask import abort, flash, request
from flask_babel import gettext as _

from service.common.time import local_today
from service.forms.periods import PERIOD_TYPES, PeriodError, period_containing, recent_periods
from service.forms.registry import all_forms, get_form
from service.submissions.queries import latest_reported_period

DEFAULT_FORM = "commune_rehab"
# How many recent periods of each type the period select offers.
PERIODS_SHOWN = {"quarter": 8, "half_year": 4, "year": 3}


def today():
    return local_today()


def chosen_form(strict=False):
    """The form of ?form= (default commune_rehab). An unknown code is a 404 when `strict`, else the first form."""
    form = get_form(request.values.get("form") or DEFAULT_FORM)
    if form is None:
        if strict:
            abort(404)
        form = all_forms()[0]
    return form


def chosen_period(form, default="current", scope=None, lenient=False, on=None):
    """The period of ?period=, else the screen's default:

    - "current": the period of the form's first type containing today;
    - "reported": the latest period with a report in `scope`, else the current one;
    - "begun": the same, counting only periods that have begun by `on` (default today).

    A code that is not a period of the form is a 404, or with `lenient` said in a warning and the default shown."""
    code = (request.values.get("period") or "").strip()
    if code:
        try:
            return form.parse_period(code)
        except PeriodError as exc:
            if not lenient:
                abort(404)
            flash(_("%(message)s Showing the latest period with reports.", message=exc), "warning")
    on = on or today()
    current = period_containing(on, form.period_types[0])
    if default == "current":
        return current
    found = latest_reported_period(form, scope, on if default == "begun" else None)
    if found is None or found.kind not in form.period_types:
        return current
    return found


def period_choices(form, chosen=None, on=None, chosen_apart=False):
    """The recent periods of each type the form is reported for, newest first, as (type label, periods) groups.

    With `chosen`, a period not among them is offered too: in its type's group, or with `chosen_apart` in a
    group of its own placed first."""
    on = on or today()
    choices = [(PERIOD_TYPES[kind], recent_periods(kind, on, PERIODS_SHOWN[kind])) for kind in form.period_types]
    if chosen is None:
        return choices
    if chosen_apart:
        if not any(chosen in periods for _label, periods in choices):
            choices = [(chosen.label(), [chosen]), *choices]
        return choices
    return [(label, sorted([*periods, chosen], reverse=True)
             if chosen.kind == periods[0].kind and chosen not in periods else periods)
            for label, periods in choices]
