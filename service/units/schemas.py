"""Marshmallow schemas for units, with explicit field lists."""
from marshmallow import Schema, fields


class UnitSchema(Schema):
    code = fields.String()
    name = fields.String()
    edition = fields.Integer()
    level = fields.String()
    unit_type = fields.String()
    parent = fields.Function(lambda unit: unit.parent.code if unit.parent else None)
    province = fields.Function(lambda unit: unit.province.code if unit.province else None)
