"""The instant check at entry: the suites' expectations evaluated in plain Python on one report, with the same
verdicts Great Expectations gives (tests/test_validation.py checks the parity on generated reports). The web
process never imports Great Expectations."""
import math
from dataclasses import dataclass

from service.rules.derive import derive
from service.rules.suites import derived_specs, rules_for


@dataclass(frozen=True)
class Verdict:
    rule: str
    severity: str
    message_vi: str
    message_en: str
    observed: dict

    def message(self, language="vi"):
        return self.message_en if language == "en" else self.message_vi


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def passes(rule, row):
    """Whether one row meets one expectation, with Great Expectations' handling of missing values: column
    expectations skip a missing value; pair expectations here skip a row where either value is missing."""
    kwargs = rule.kwargs
    if rule.type == "expect_column_values_to_be_between":
        value = row.get(kwargs["column"])
        if _missing(value):
            return True
        if kwargs.get("min_value") is not None and value < kwargs["min_value"]:
            return False
        if kwargs.get("max_value") is not None and value > kwargs["max_value"]:
            return False
        return True
    if rule.type == "expect_column_values_to_be_in_set":
        value = row.get(kwargs["column"])
        return _missing(value) or value in kwargs["value_set"]
    a, b = row.get(kwargs["column_A"]), row.get(kwargs["column_B"])
    if _missing(a) or _missing(b):
        return True
    if rule.type == "expect_column_pair_values_a_to_be_greater_than_b":
        return a >= b if kwargs.get("or_equal") else a > b
    if rule.type == "expect_column_pair_values_to_be_equal":
        return a == b
    raise ValueError(f"unsupported expectation {rule.type}")


def observed(rule, row):
    return {column: row.get(column) for column in rule.columns}


def evaluate_row(form_code, row):
    return [Verdict(rule.rule, rule.severity, rule.message_vi, rule.message_en, observed(rule, row))
            for rule in rules_for(form_code) if not passes(rule, row)]


def evaluate(form, context):
    """Verdicts (failed rules) for one report."""
    return evaluate_row(form.code, derive(context, derived_specs(form.code), form))
