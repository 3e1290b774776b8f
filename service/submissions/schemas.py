"""Marshmallow schemas for forms, submissions and uploads, with explicit field lists."""
from marshmallow import Schema, fields


class FieldSchema(Schema):
    code = fields.String()
    type = fields.String()
    required = fields.Boolean()
    label_vi = fields.Function(lambda f: f.labels["vi"])
    label_en = fields.Function(lambda f: f.labels["en"])
    section = fields.String()
    choices = fields.Function(lambda f: [c["value"] for c in f.choices] or None)


class FormSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    name_vi = fields.Function(lambda f: f.names["vi"])
    name_en = fields.Function(lambda f: f.names["en"])
    period_types = fields.List(fields.String())
    fields_ = fields.Function(lambda f: FieldSchema(many=True).dump(f.fields), data_key="fields")


class SubmissionInSchema(Schema):
    form = fields.String(required=True)
    period = fields.String(required=True)
    org_unit = fields.String(required=True)
    values = fields.Dict(keys=fields.String(), required=True)


class SubmissionSchema(Schema):
    id = fields.Integer()
    form = fields.String(attribute="form_code")
    form_version = fields.Integer()
    period = fields.String()
    org_unit = fields.Function(lambda s: s.org_unit.code)
    org_unit_name = fields.Function(lambda s: s.org_unit.name)
    edition = fields.Function(lambda s: s.org_unit.edition)
    version = fields.Integer()
    is_current = fields.Boolean()
    status = fields.String()
    values = fields.Dict()
    submitted_at = fields.DateTime()
    submitted_by = fields.Function(lambda s: s.submitted_by.username)
    channel = fields.String()
    due_date = fields.Date()
    on_time = fields.Boolean()
    upload_id = fields.Integer(allow_none=True)
    verdicts = fields.Function(lambda s: [
        {"rule": v.rule, "severity": v.severity, "message": v.message_vi, "message_en": v.message_en,
         "observed": v.observed} for v in getattr(s, "verdicts", None) or []])


class UploadSchema(Schema):
    id = fields.Integer()
    form = fields.String(attribute="form_code")
    period = fields.String()
    filename = fields.String()
    status = fields.String()
    rows = fields.Integer()
    errors = fields.List(fields.Dict())
    submissions = fields.Function(lambda u: [s.id for s in u.submissions])
    uploaded_at = fields.DateTime()
