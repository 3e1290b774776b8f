"""Derived columns: what a suite's expectations compare that is not a form field itself.

One pure-Python implementation serves both the scheduled Great Expectations run (row by row into the
DataFrame it validates) and the instant check at entry, so the two can only differ in how the expectations
themselves are evaluated (which the parity test pins down). Each derivation is declared in a suite file's
`meta.derived` as `{"op": ..., ...}`.
"""
import statistics
from dataclasses import dataclass, field

MOD_Z_CONSTANT = 0.6745
HISTORY_WINDOW = 8


@dataclass
class ReportContext:
    """Everything the rules need to know about one report, from the database or from the entry form."""

    submission_id: int | None
    period: str
    previous_period: str
    values: dict
    unit_level: str
    unit_edition: int
    period_edition: int
    current_versions: int = 1
    history: list = field(default_factory=list)  # [(period code, values)] of earlier periods, oldest first
    province_has_facility: bool = True


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _missing(value):
    return value is None or (isinstance(value, str) and not value.strip())


def missing_required(context, spec, form):
    missing = [item.code for item in form.fields if item.required and _missing(context.values.get(item.code))]
    return {"missing_required": len(missing), "missing_fields": ", ".join(missing)}


def invalid_numbers(context, spec, form):
    bad = []
    for item in form.fields:
        value = context.values.get(item.code)
        if item.type == "integer" and not _missing(value):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                bad.append(item.code)
    return {"invalid_numbers": len(bad), "invalid_number_fields": ", ".join(bad)}


def invalid_choices(context, spec, form):
    bad = []
    for item in form.fields:
        value = context.values.get(item.code)
        if _missing(value):
            continue
        if item.type == "boolean" and not isinstance(value, bool):
            bad.append(item.code)
        elif item.type == "choice" and value not in [choice["value"] for choice in item.choices]:
            bad.append(item.code)
    return {"invalid_choices": len(bad), "invalid_choice_fields": ", ".join(bad)}


def op_sum(context, spec, name):
    numbers = [_number(context.values.get(code)) for code in spec["fields"]]
    return {name: None if any(n is None for n in numbers) else sum(numbers)}


def cumulative(context, spec, name):
    numbers = [_number(values.get(spec["field"])) for _period, values in context.history]
    numbers.append(_number(context.values.get(spec["field"])))
    present = [n for n in numbers if n is not None]
    return {name: sum(present) if present else None}


def implies_zero(context, spec, name):
    flagged = context.values.get(spec["flag"]) is True
    counts = [_number(context.values.get(code)) or 0 for code in spec["fields"]]
    return {name: 1 if flagged and any(count > 0 for count in counts) else 0}


def unit_is_commune(context, spec, name):
    return {name: 1 if context.unit_level == "commune" and context.unit_edition == context.period_edition else 0}


def current_versions(context, spec, name):
    return {name: context.current_versions}


def jump(context, spec, name):
    """1 when the value at least doubled, or fell below half, against the previous period, by `min_diff` or
    more; the previous value is kept beside it for the reader."""
    current = _number(context.values.get(spec["field"]))
    previous = None
    if context.history and context.history[-1][0] == context.previous_period:
        previous = _number(context.history[-1][1].get(spec["field"]))
    result = {f"{spec['field']}_previous": previous, name: 0}
    if current is not None and previous is not None and abs(current - previous) >= spec.get("min_diff", 0):
        factor = spec.get("factor", 2)
        if current > factor * previous or current * factor < previous:
            result[name] = 1
    return result


def mod_z(context, spec, name):
    """Modified z-score (Iglewicz and Hoaglin) of the value against the commune's earlier periods: 0.6745 times
    the distance to the median over the median absolute deviation. Undefined (None) with too little history or
    a history without spread."""
    current = _number(context.values.get(spec["field"]))
    history = [_number(values.get(spec["field"])) for _period, values in context.history[-HISTORY_WINDOW:]]
    history = [value for value in history if value is not None]
    if current is None or len(history) < spec.get("min_history", 4):
        return {name: None}
    median = statistics.median(history)
    mad = statistics.median(abs(value - median) for value in history)
    if mad == 0:
        return {name: None}
    return {name: round(MOD_Z_CONSTANT * (current - median) / mad, 4)}


def facility_registry(context, spec, name):
    total = sum(_number(context.values.get(code)) or 0 for code in spec["fields"])
    return {name: 1 if total > 0 and not context.province_has_facility else 0}


FORM_OPS = {"missing_required": missing_required, "invalid_numbers": invalid_numbers,
            "invalid_choices": invalid_choices}
OPS = {"sum": op_sum, "cumulative": cumulative, "implies_zero": implies_zero, "unit_is_commune": unit_is_commune,
       "current_versions": current_versions, "jump": jump, "mod_z": mod_z, "facility_registry": facility_registry}


def derive(context, specs, form):
    """The report's values plus every derived column the suites declare."""
    row = dict(context.values)
    for name, spec in specs.items():
        op = spec["op"]
        if op in FORM_OPS:
            row.update(FORM_OPS[op](context, spec, form))
        elif op in OPS:
            row.update(OPS[op](context, spec, name))
        else:
            raise ValueError(f"unknown derivation {op} for {name}")
    return row
