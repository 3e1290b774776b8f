"""GET /api/v1/staff, /certificates and /training/attainment, scoped like the admin pages."""
from datetime import date

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from service.api import ApiError, api_route, paginate
from service.common.time import local_today
from service.extensions import db
from service.training.models import Certificate, StaffMember, TrainingPlan, TrainingTarget
from service.training.queries import measure
from service.training.schemas import AttainmentSchema, CertificateSchema, StaffSchema
from service.units import editions
from service.units.queries import unit_by_code

TRAINING_ROLES = ("admin", "training_coordinator", "data_steward", "facility_manager")


def staff_clause(scope):
    return scope.staff_clause(StaffMember)


@api_route("/staff", "Staff in the caller's scope", params=("role", "status", "org_unit", "page", "per_page"),
           roles=TRAINING_ROLES)
def list_staff():
    query = select(StaffMember).where(staff_clause(g.scope), StaffMember.merged_into_id.is_(None))
    if request.args.get("status"):
        query = query.where(StaffMember.employment_status == request.args["status"])
    if request.args.get("role"):
        from service.training.models import RoleCategory

        query = query.join(RoleCategory).where(RoleCategory.code == request.args["role"])
    return paginate(query.order_by(StaffMember.staff_code), StaffSchema())


@api_route("/certificates", "Certificates of staff in the caller's scope", params=("course", "page", "per_page"),
           roles=TRAINING_ROLES)
def list_certificates():
    query = select(Certificate).join(StaffMember, StaffMember.id == Certificate.staff_id).where(staff_clause(g.scope))
    return paginate(query.order_by(Certificate.issued_on.desc(), Certificate.id), CertificateSchema())


@api_route("/training/attainment", "Attainment of training targets on a date",
           params=("plan", "unit", "date"), roles=TRAINING_ROLES)
def training_attainment():
    try:
        on_date = date.fromisoformat(request.args["date"]) if request.args.get("date") else local_today()
    except ValueError:
        raise ApiError(400, "bad_request", _("date must be YYYY-MM-DD."), [{"parameter": "date"}]) from None
    query = select(TrainingTarget)
    if request.args.get("plan"):
        query = query.join(TrainingPlan).where(TrainingPlan.code == request.args["plan"])
    unit = None
    if request.args.get("unit"):
        unit = unit_by_code(request.args["unit"], editions.NEW, fallback=True)
        if unit is None or not g.scope.contains_unit(unit):
            raise ApiError(404, "not_found", _("Not found (or outside your scope)."), [{"parameter": "unit"}])
    pairs = []
    for target in db.session.scalars(query.order_by(TrainingTarget.id)):
        if not g.scope.contains_unit(target.scope_unit):
            continue
        if unit is not None and not _inside(unit, target.scope_unit):
            continue
        pairs.append((target, unit))
    items = []
    for item, projected in measure(pairs, on_date):  # one statement for every target
        item.projected = projected
        items.append(item)
    return {"items": AttainmentSchema(many=True).dump(items), "total": len(items), "page": 1,
            "per_page": len(items)}


def _inside(unit, scope_unit):
    return scope_unit.id in (unit.id, unit.province_id, unit.district_id)
