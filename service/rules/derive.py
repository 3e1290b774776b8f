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
    org_unit_id: int | None = None


_NUMBER_TYPES = (int, float)


def _number(value):
    """The value if it is a number (a bool is not), else None."""
    return value if value.__class__ in _NUMBER_TYPES else None


def _missing(value):
    return value is None or (value.__class__ is str and not value.strip())


_FORM_FACTS = {}


def _facts(form):
    """Per form, once: required codes, integer codes, boolean codes, allowed values of each choice field."""
    key = (form.code, form.version)
    if key not in _FORM_FACTS:
        _FORM_FACTS[key] = (
            [item.code for item in form.fields if item.required],
            [item.code for item in form.fields if item.type == "integer"],
            [item.code for item in form.fields if item.type == "boolean"],
            {item.code: {choice["value"] for choice in item.choices} for item in form.fields if item.type == "choice"},
        )
    return _FORM_FACTS[key]


def missing_required(context, spec, form, row):
    values = context.values
    missing = [code for code in _facts(form)[0] if _missing(values.get(code))]
    row["missing_required"], row["missing_fields"] = len(missing), ", ".join(missing)


def invalid_numbers(context, spec, form, row):
    values = context.values
    bad = [code for code in _facts(form)[1] if not _missing(value := values.get(code))
           and (type(value) is not int or value < 0)]
    row["invalid_numbers"], row["invalid_number_fields"] = len(bad), ", ".join(bad)


def invalid_choices(context, spec, form, row):
    values = context.values
    _required, _integers, booleans, choices = _facts(form)
    bad = [code for code in booleans if not _missing(value := values.get(code)) and not isinstance(value, bool)]
    bad += [code for code, allowed in choices.items() if not _missing(value := values.get(code))
            and (not isinstance(value, str) or value not in allowed)]
    row["invalid_choices"], row["invalid_choice_fields"] = len(bad), ", ".join(bad)


def op_sum(context, spec, name, row):
    numbers = [_number(context.values.get(code)) for code in spec["fields"]]
    row[name] = None if None in numbers else sum(numbers)


def cumulative(context, spec, name, row):
    numbers = [_number(values.get(spec["field"])) for _period, values in context.history]
    numbers.append(_number(context.values.get(spec["field"])))
    present = [n for n in numbers if n is not None]
    row[name] = sum(present) if present else None


def implies_zero(context, spec, name, row):
    flagged = context.values.get(spec["flag"]) is True
    row[name] = 1 if flagged and any((_number(context.values.get(code)) or 0) > 0 for code in spec["fields"]) else 0


def unit_is_commune(context, spec, name, row):
    row[name] = 1 if context.unit_level == "commune" and context.unit_edition == context.period_edition else 0


def current_versions(context, spec, name, row):
    row[name] = context.current_versions


def jump(context, spec, name, row):
    """1 when the value at least doubled, or fell below half, against the previous period, by `min_diff` or
    more; the previous value is kept beside it for the reader."""
    current = _number(context.values.get(spec["field"]))
    previous = None
    if context.history and context.history[-1][0] == context.previous_period:
        previous = _number(context.history[-1][1].get(spec["field"]))
    row[f"{spec['field']}_previous"], row[name] = previous, 0
    if current is not None and previous is not None and abs(current - previous) >= spec.get("min_diff", 0):
        factor = spec.get("factor", 2)
        if current > factor * previous or current * factor < previous:
            row[name] = 1


def mod_z(context, spec, name, row):
    """Modified z-score (Iglewicz and Hoaglin) of the value against the commune's earlier periods: 0.6745 times
    the distance to the median over the median absolute deviation. Undefined (None) with too little history or
    a history without spread."""
    current = _number(context.values.get(spec["field"]))
    history = [_number(values.get(spec["field"])) for _period, values in context.history[-HISTORY_WINDOW:]]
    history = [value for value in history if value is not None]
    row[name] = None
    if current is None or len(history) < spec.get("min_history", 4):
        return
    median = statistics.median(history)
    mad = statistics.median(abs(value - median) for value in history)
    if mad != 0:
        row[name] = round(MOD_Z_CONSTANT * (current - median) / mad, 4)


def facility_registry(context, spec, name, row):
    total = sum(_number(context.values.get(code)) or 0 for code in spec["fields"])
    row[name] = 1 if total > 0 and not context.province_has_facility else 0


FORM_OPS = {"missing_required": missing_required, "invalid_numbers": invalid_numbers,
            "invalid_choices": invalid_choices}
OPS = {"sum": op_sum, "cumulative": cumulative, "implies_zero": implies_zero, "unit_is_commune": unit_is_commune,
       "current_versions": current_versions, "jump": jump, "mod_z": mod_z, "facility_registry": facility_registry}


_PLANS = {}


def _plan(specs, form):
    """The derivations as a list of (function, spec, third argument), built once per suite set and form."""
    key = (id(specs), form.code, form.version)
    if key not in _PLANS:
        steps = []
        for name, spec in specs.items():
            op = spec["op"]
            if op in FORM_OPS:
                steps.append((FORM_OPS[op], spec, form))
            elif op in OPS:
                steps.append((OPS[op], spec, name))
            else:
                raise ValueError(f"unknown derivation {op} for {name}")
        _PLANS[key] = (specs, steps)
    return _PLANS[key][1]


def derive(context, specs, form):
    """The report's values plus every derived column the suites declare."""
    row = dict(context.values)
    for function, spec, argument in _plan(specs, form):
        function(context, spec, argument, row)
    return row
