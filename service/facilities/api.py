"""GET /api/v1/facilities, GET /facilities/<code> and POST /facilities/<code>/census, scoped to the caller
(a facility manager sees only their facility; a facility outside the scope is a 404, as if it did not exist)."""
from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from service.api import ApiError, api_route, paginate
from service.common.time import local_today
from service.extensions import db
from service.facilities import operations, schemas
from service.facilities.models import FACILITY_STATUSES, FACILITY_TYPES, Census, Facility
from service.facilities.queries import capacities_on, latest_censuses
from service.facilities.schemas import FacilityDetailSchema, FacilitySchema, census_figures
from service.flags.models import OPEN_STATUSES, Flag
from service.units import editions
from service.units.models import EDITIONS, AdminUnit
from service.validation.schemas import FlagSchema

CENSUS_ROLES = ("admin", "facility_manager")


def _not_found():
    return ApiError(404, "not_found", _("Not found (or outside your scope)."))


def _bad_parameter(name, message):
    return ApiError(400, "bad_request", message, [{"parameter": name, "value": request.args.get(name)}])


def add_figures(facilities, today=None):
    """Set `figures` on each facility: its capacity in force today and its latest counted census."""
    today = today or local_today()
    ids = [facility.id for facility in facilities]
    capacity = capacities_on(ids, today) if ids else {}
    censuses = latest_censuses(ids, today) if ids else {}
    for facility in facilities:
        facility.figures = {"capacity": capacity.get(facility.id, {}),
                            "census": census_figures(censuses.get(facility.id))}
    return facilities


class _WithFigures:
    """Dumps a page of facilities with their figures loaded for the whole page at once."""

    def __init__(self, schema):
        self.schema = schema

    def dump(self, facilities, many=True):
        return self.schema.dump(add_figures(list(facilities)), many=many)


def _open_flags(facility):
    return db.session.scalars(select(Flag).where(Flag.subject == "facility", Flag.facility_id == facility.id,
                                                 Flag.status.in_(OPEN_STATUSES))
                              .order_by(Flag.severity, Flag.rule)).all()


def _facility_or_404(code):
    facility = db.session.scalar(select(Facility).where(Facility.code == code, g.scope.facility_clause(Facility)))
    if facility is None:
        raise _not_found()
    return facility


@api_route("/facilities", "Facilities in the caller's scope, with their capacity and latest census "
           "(province: a province code of the edition, 2025 by default)",
           params=("province", "edition", "type", "status", "page", "per_page"))
def list_facilities():
    # select_from: paginate counts with only count() as column; for a national scope nothing else names the table
    query = select(Facility).select_from(Facility).where(g.scope.facility_clause(Facility))
    if request.args.get("type"):
        if request.args["type"] not in FACILITY_TYPES:
            raise _bad_parameter("type", _("Unknown facility type; use one of: %(codes)s.",
                                           codes=", ".join(FACILITY_TYPES)))
        query = query.where(Facility.facility_type == request.args["type"])
    if request.args.get("status"):
        if request.args["status"] not in FACILITY_STATUSES:
            raise _bad_parameter("status", _("Unknown status; use one of: %(codes)s.",
                                             codes=", ".join(FACILITY_STATUSES)))
        query = query.where(Facility.status == request.args["status"])
    if request.args.get("province"):
        edition = request.args.get("edition", str(editions.current()))
        if not edition.isdigit() or int(edition) not in EDITIONS:
            raise _bad_parameter("edition", _("edition must be 2024 or 2025."))
        unit, province = aliased(AdminUnit), aliased(AdminUnit)
        query = (query.join(unit, unit.id == Facility.org_unit_id)
                 .join(province, or_(province.id == unit.province_id, province.id == unit.id))
                 .where(province.level == "province", province.edition == int(edition),
                        province.code == request.args["province"]))
    return paginate(query.order_by(Facility.code), _WithFigures(FacilitySchema()))


@api_route("/facilities/<code>", "One facility in the caller's scope: registry, capacity, latest census, "
           "open flags")
def get_facility(code):
    facility = add_figures([_facility_or_404(code)])[0]
    facility.figures["flags"] = FlagSchema(many=True).dump(_open_flags(facility))
    return FacilityDetailSchema().dump(facility)


@api_route("/facilities/<code>/census", "Record a census of a facility (occupancy by modality on a date); "
           "returns it with the facility's open flags after the checks", methods=("POST",), roles=CENSUS_ROLES)
def post_facility_census(code):
    facility = _facility_or_404(code)
    try:
        payload = schemas.load_census(request.get_json(silent=True))
    except schemas.CensusPayloadError as exc:
        raise ApiError(400, "invalid_request", _("The request body is not a valid census."), exc.details) from None
    corrects = None
    if payload["corrects"] is not None:
        corrects = db.session.scalar(select(Census).where(Census.id == payload["corrects"],
                                                          Census.facility_id == facility.id))
        if corrects is None:
            raise ApiError(400, "invalid_request", _("This facility has no census %(id)s to correct.",
                                                     id=payload["corrects"]), [{"field": "corrects"}])
    census = operations.record_census(g.api_user, facility, payload["date"], payload["lines"],
                                      expected_revision=payload["expected_revision"], corrects=corrects,
                                      reason=payload["reason"], channel="api")
    db.session.commit()
    body = census_figures(census)
    body.update({"facility": facility.code, "revision": facility.revision,
                 "flags": FlagSchema(many=True).dump(_open_flags(facility))})
    return body, 201
