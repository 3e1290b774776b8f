"""GET /api/v1/units?edition=&level=&parent=&q= — units in the caller's scope."""
from flask import current_app, g, request
from flask_babel import gettext as _

from service.api import ApiError, api_route, paginate
from service.units.models import EDITIONS, LEVELS
from service.units.queries import scoped_units, search, unit_by_code
from service.units.schemas import UnitSchema


@api_route("/units", "Administrative units in the caller's scope", params=("edition", "level", "parent", "q"))
def list_units():
    edition = request.args.get("edition", str(current_app.config["CURRENT_EDITION"]))
    if not edition.isdigit() or int(edition) not in EDITIONS:
        raise ApiError(400, "bad_request", _("edition must be 2024 or 2025."),
                       [{"parameter": "edition", "value": edition}])
    edition = int(edition)
    level = request.args.get("level") or None
    if level and level not in LEVELS:
        raise ApiError(400, "bad_request", _("level must be province, district or commune."),
                       [{"parameter": "level", "value": level}])
    parent_id = None
    if request.args.get("parent"):
        parent = unit_by_code(request.args["parent"], edition)
        parent_id = parent.id if parent is not None else None
        if parent_id is None:
            raise ApiError(404, "not_found", _("Not found (or outside your scope)."),
                           [{"parameter": "parent", "value": request.args["parent"]}])
    query = search(scoped_units(g.scope, edition, level, parent_id), request.args.get("q"))
    return paginate(query, UnitSchema())
