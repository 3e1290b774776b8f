"""GET /api/v1/aggregates: the aggregated commune reports of a form and period at a level, for the units of the
caller's scope (a unit only partly in the scope is left out rather than shown with part of its communes)."""
from flask import g, request
from flask_babel import gettext as _

from service.aggregation.queries import LEVELS, aggregate
from service.aggregation.schemas import AggregateSchema
from service.api import ApiError, api_route, requested_page
from service.extensions import db
from service.forms.periods import PeriodError
from service.forms.registry import all_forms, get_form
from service.units import editions
from service.units.models import EDITIONS
from service.units.queries import unit_by_code

TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("", "0", "false", "no")


def _bad(name, message):
    return ApiError(400, "bad_request", message, [{"parameter": name, "value": request.args.get(name)}])


def _form():
    code = request.args.get("form") or "commune_rehab"
    form = get_form(code)
    if form is None:
        raise _bad("form", _("Unknown form; use one of: %(codes)s.", codes=", ".join(f.code for f in all_forms())))
    return form


def _period(form):
    code = request.args.get("period")
    if not code:
        raise _bad("period", _("period is required (examples: 2026Q3, 2026S1, 2026)."))
    try:
        return form.parse_period(code)
    except PeriodError as exc:
        raise _bad("period", str(exc)) from None


def _level():
    level = request.args.get("level") or "province"
    if level not in LEVELS:
        raise _bad("level", _("Unknown level; use one of: %(codes)s.", codes=", ".join(LEVELS)))
    return level


def _edition(period, level):
    raw = request.args.get("edition")
    edition = period.edition
    if raw:
        if not raw.isdigit() or int(raw) not in EDITIONS:
            raise _bad("edition", _("edition must be 2024 or 2025."))
        edition = int(raw)
    if edition < period.edition:
        raise _bad("edition", _("%(period)s is reported on the 2025 unit list; it cannot be shown on the 2024 units.",
                                period=period.code))
    if level not in editions.levels(edition):
        raise _bad("level", _("The 2025 unit list has no districts: use level=province or level=commune."))
    return edition


def _approved_only():
    raw = (request.args.get("approved_only") or "").strip().lower()
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise _bad("approved_only", _("approved_only must be true or false."))
    return raw in TRUE_WORDS


def _parent(edition):
    code = request.args.get("org_unit")
    if not code:
        return None
    unit = unit_by_code(code, edition)
    if unit is None or not g.scope.contains_unit(unit):
        raise ApiError(404, "not_found", _("Not found (or outside your scope)."),
                       [{"parameter": "org_unit", "value": code}])
    return unit


@api_route("/aggregates", "Aggregated commune reports of a form and period at a level (province, district or "
           "commune), for the units in the caller's scope, with completeness, values and indicators",
           params=("form", "period", "level", "org_unit", "edition", "approved_only", "page", "per_page"))
def list_aggregates():
    form = _form()
    period = _period(form)
    level = _level()
    edition = _edition(period, level)
    approved_only = _approved_only()
    page, per_page = requested_page()
    parent = _parent(edition)
    items = aggregate(form, period, level, scope=g.scope, parent=parent, approved_only=approved_only,
                      edition=edition)
    if not g.scope.national:
        visible = set(db.session.scalars(g.scope.unit_ids(edition)))
        items = [item for item in items if item.unit.id in visible]
    start = (page - 1) * per_page
    return {"items": AggregateSchema(many=True).dump(items[start:start + per_page]), "total": len(items),
            "page": page, "per_page": per_page}
