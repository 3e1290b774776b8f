"""The instant check of a commune's report at entry: the same verdicts the scheduled run will give, computed from
the same suite files in plain Python (`service.rules`), without Great Expectations. A stored report's verdicts
become flags at once; they inform, never block."""
from service.facilities.queries import provinces_with_facility
from service.flags.operations import apply_verdicts
from service.forms.periods import Period
from service.rules.derive import ReportContext
from service.rules.evaluator import evaluate
from service.submissions.queries import report_history


def context_for_entry(form, period, unit, values, submission_id=None):
    """The context of one report as it is entered (before or just after it is stored)."""
    if isinstance(period, str):
        period = Period.parse(period)
    with_facility = provinces_with_facility(period.edition)
    return ReportContext(
        submission_id=submission_id, period=period.code, previous_period=period.previous().code, values=values,
        unit_level=unit.level, unit_edition=unit.edition, period_edition=period.edition, current_versions=1,
        history=report_history(form.code, period, [unit.id]).get(unit.id, []),
        province_has_facility=True if with_facility is None else (unit.province_id or unit.id) in with_facility,
        org_unit_id=unit.id)


def check_values(form, period, unit, values):
    """Verdicts on values not stored (the form's "check" button)."""
    return evaluate(form, context_for_entry(form, period, unit, values))


def check_submission(form, period, unit, submission):
    """Verdicts on a stored version; its report's flags follow them."""
    verdicts = evaluate(form, context_for_entry(form, period, unit, submission.values, submission.id))
    apply_verdicts(form.code, period.code, {submission.id: (unit.id, verdicts)})
    return verdicts
