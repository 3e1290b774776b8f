"""GET /api/v1/flags and GET /api/v1/validation-runs."""
from flask import g, request
from sqlalchemy import select

from service.api import api_route, paginate
from service.flags.models import Flag
from service.units.queries import unit_ids_with_code
from service.validation.models import ValidationRun
from service.validation.schemas import FlagSchema, RunSchema


@api_route("/flags", "Flags in the caller's scope", params=("period", "org_unit", "status", "severity", "rule", "form",
                                                            "page", "per_page"))
def list_flags():
    query = select(Flag).where(g.scope.flag_clause(Flag))
    for name, column in (("period", Flag.period), ("status", Flag.status), ("severity", Flag.severity),
                         ("rule", Flag.rule), ("form", Flag.form_code)):
        if request.args.get(name):
            query = query.where(column == request.args[name])
    if request.args.get("org_unit"):
        query = query.where(Flag.org_unit_id.in_(unit_ids_with_code(request.args["org_unit"])))
    return paginate(query.order_by(Flag.id.desc()), FlagSchema())


@api_route("/validation-runs", "Validation runs (newest first)", params=("status", "form", "page", "per_page"),
           roles=("admin", "data_steward"))
def list_runs():
    query = select(ValidationRun)
    if request.args.get("status"):
        query = query.where(ValidationRun.status == request.args["status"])
    if request.args.get("form"):
        query = query.where(ValidationRun.form_code == request.args["form"])
    return paginate(query.order_by(ValidationRun.id.desc()), RunSchema())
