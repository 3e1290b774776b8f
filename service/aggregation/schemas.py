"""Marshmallow schemas of the aggregation API, with explicit field lists."""
from marshmallow import Schema, fields

from service.aggregation.indicators import all_indicators


def _indicators(item):
    """Every indicator's value over the aggregate (null when its denominator is 0)."""
    return {indicator.code: indicator.value(item.values) for indicator in all_indicators()}


class AggregateSchema(Schema):
    """One aggregate (service.aggregation.queries.Aggregate): its unit, completeness, values and indicators."""

    org_unit = fields.Function(lambda a: a.unit.code)
    name = fields.Function(lambda a: a.unit.name)
    level = fields.Function(lambda a: a.unit.level)
    edition = fields.Integer()
    period = fields.String()
    values = fields.Dict(keys=fields.String(), values=fields.Integer())
    communes_total = fields.Integer()
    communes_reported = fields.Integer()
    held_back = fields.Integer()
    communes_aggregated = fields.Integer()
    completeness = fields.Float(allow_none=True)
    not_attributable = fields.Integer()
    not_attributable_values = fields.Dict(keys=fields.String(), values=fields.Integer())
    indicators = fields.Function(_indicators)
