"""Marshmallow schemas for flags and validation runs, with explicit field lists."""
from marshmallow import Schema, fields


class FlagSchema(Schema):
    id = fields.Integer()
    submission_id = fields.Integer(allow_none=True)
    facility_id = fields.Integer(allow_none=True)
    subject = fields.String()
    org_unit = fields.Function(lambda f: f.org_unit.code)
    form = fields.String(attribute="form_code")
    period = fields.String()
    rule = fields.String()
    severity = fields.String()
    status = fields.String()
    message = fields.String(attribute="message_vi")
    message_en = fields.String()
    observed = fields.Dict()
    opened_at = fields.DateTime()
    explanation = fields.String(allow_none=True)
    accepted_reason = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)


class RunSchema(Schema):
    id = fields.Integer()
    trigger = fields.String()
    form = fields.String(attribute="form_code")
    periods = fields.List(fields.String())
    status = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    suite_hashes = fields.Dict()
    reports_checked = fields.Integer()
    reports_failing = fields.Integer()
    failures = fields.Integer()
    flags_opened = fields.Integer()
    flags_closed = fields.Integer()
    error = fields.String(allow_none=True)
