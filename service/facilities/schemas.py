"""Marshmallow schemas for the facilities API, with explicit field lists.

A facility read from a list carries `figures` (set by the API from two batch queries): its capacity in force
today and its latest counted census."""
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate

from service.common.errors import DomainError
from service.facilities.models import MODALITIES


def _figures(facility, key):
    return (getattr(facility, "figures", None) or {}).get(key)


class FacilitySchema(Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String(attribute="facility_type")
    type_label = fields.Function(lambda f: str(f.type_label))
    org_unit = fields.Function(lambda f: f.org_unit.code)
    org_unit_name = fields.Function(lambda f: f.org_unit.name)
    edition = fields.Function(lambda f: f.org_unit.edition)
    status = fields.String()
    capacity = fields.Function(lambda f: _figures(f, "capacity") or {})
    latest_census = fields.Function(lambda f: _figures(f, "census"))


class FacilityDetailSchema(FacilitySchema):
    address = fields.String()
    licence_number = fields.String()
    licence_date = fields.Date(allow_none=True)
    licence_issuer = fields.String()
    licence_expires_on = fields.Date(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    revision = fields.Integer()
    open_flags = fields.Function(lambda f: _figures(f, "flags") or [])


def census_figures(census):
    """The shape of a census in the API: id, date, what it corrects, and the counts by modality."""
    if census is None:
        return None
    lines = getattr(census, "counts", None)
    lines = lines.values() if lines is not None else census.lines
    return {
        "id": census.id,
        "census_date": census.census_date.isoformat(),
        "corrects": census.corrects_id,
        "lines": {line.modality: {"admissions": line.admissions, "discharges": line.discharges,
                                  "current_count": line.current_count} for line in lines},
    }


class CensusLineInSchema(Schema):
    admissions = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0))
    discharges = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0))
    current_count = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))


class CensusInSchema(Schema):
    date = fields.Date(required=True)
    lines = fields.Dict(keys=fields.String(validate=validate.OneOf(list(MODALITIES))),
                        values=fields.Nested(CensusLineInSchema), required=True,
                        validate=validate.Length(min=1))
    expected_revision = fields.Integer(strict=True, load_default=None, allow_none=True)
    corrects = fields.Integer(strict=True, load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)


def _paths(messages, prefix=""):
    """Flatten marshmallow's nested error messages into (path, [messages])."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _paths(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, messages


def _message(path, raw):
    """A Vietnamese message for a marshmallow error at `path` (marshmallow's own are English)."""
    texts = " ".join(map(str, raw)) if isinstance(raw, list) else str(raw)
    last = path.rsplit(".", 1)[-1]
    if "Unknown field" in texts:
        return _("Unknown field.")
    if "required" in texts.lower():
        return _("required")
    if path == "date":
        return _("Enter the date as YYYY-MM-DD.")
    if last == "key" and path.startswith("lines."):
        return _("Unknown modality; use one of: %(codes)s.", codes=", ".join(MODALITIES))
    if path == "lines":
        return _("Give the counts of at least one modality: {\"compulsory\": {\"current_count\": …}, …}.")
    if last in ("admissions", "discharges", "current_count"):
        return _("Enter a whole number, 0 or more.")
    if last in ("expected_revision", "corrects"):
        return _("Enter a whole number.")
    return _("This value is not valid here.")


def load_census(payload):
    """The body of POST /facilities/<code>/census, checked; raises ValueError with details in Vietnamese."""
    try:
        return CensusInSchema().load(payload)
    except ValidationError as exc:
        details = []
        for path, raw in _paths(exc.messages):
            field = path[:-len(".key")] if path.endswith(".key") else path.removesuffix(".value")
            field = field.replace(".value.", ".")
            details.append({"field": field, "message": _message(path, raw)})
        raise CensusPayloadError(details) from None


class CensusPayloadError(DomainError):
    code = "invalid_request"

    def __init__(self, details):
        super().__init__("; ".join(detail["message"] for detail in details), details)
