"""Instant checks at entry: the same verdicts the scheduled run will give, computed without Great Expectations
on the report being entered. A stored report's verdicts become flags at once; they inform, never block."""
from service.validation.context import context_for_entry
from service.validation.evaluator import evaluate
from service.validation.operations import apply_verdicts


def check_values(form, period, unit, values):
    """Verdicts on values not stored (the form's "check" button)."""
    return evaluate(form, context_for_entry(form, period, unit, values))


def check_submission(form, period, unit, submission):
    """Verdicts on a stored version; its report's flags follow them."""
    verdicts = evaluate(form, context_for_entry(form, period, unit, submission.values, submission.id))
    apply_verdicts(form.code, period.code, {submission.id: (unit.id, verdicts)})
    return verdicts
