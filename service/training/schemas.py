"""Marshmallow schemas for the training API, with explicit field lists (no identity numbers, no notes)."""
from marshmallow import Schema, fields


class StaffSchema(Schema):
    id = fields.Integer()
    staff_code = fields.String()
    full_name = fields.String()
    sex = fields.String()
    date_of_birth = fields.Date(allow_none=True)
    role = fields.Function(lambda s: s.role_category.code)
    org_unit = fields.Function(lambda s: s.org_unit.code)
    facility = fields.Function(lambda s: s.facility.code if s.facility else None)
    position = fields.String()
    employment_status = fields.String()
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)


class CertificateSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    issuer = fields.String()
    staff_code = fields.Function(lambda c: c.staff.staff_code)
    course = fields.Function(lambda c: c.course.code)
    topic = fields.Function(lambda c: c.course.topic)
    issued_on = fields.Date()
    expires_on = fields.Date(allow_none=True)
    revoked = fields.Function(lambda c: c.revoked_at is not None)


class AttainmentSchema(Schema):
    target_id = fields.Function(lambda a: a.target.id)
    plan = fields.Function(lambda a: a.target.plan.code)
    unit = fields.Function(lambda a: a.unit.code)
    unit_name = fields.Function(lambda a: a.unit.name)
    role = fields.Function(lambda a: a.target.role_category.code)
    metric = fields.Function(lambda a: a.target.metric)
    topic = fields.Function(lambda a: a.target.topic)
    target_percent = fields.Float()
    deadline = fields.Function(lambda a: a.target.deadline.isoformat())
    date = fields.Function(lambda a: a.on_date.isoformat())
    numerator = fields.Integer()
    denominator = fields.Integer()
    percent = fields.Float(allow_none=True)
    gap_persons = fields.Integer()
    met = fields.Boolean()
    projected_percent = fields.Function(lambda a: a.projected.percent if getattr(a, "projected", None) else None)
