"""Scheduled validation: new and changed reports every few minutes, every open period nightly.

Each invocation first reaps runs that died (heartbeat lost: marked failed, slot freed), then claims its slot
(`validate_new:<5-minute bucket>`, `nightly:<date>`): a second scheduler process, or a second tick of the same
slot, finds the slot taken and does nothing. A nightly slot whose run failed is free again, and the next
frequent tick after the nightly hour runs it (catch-up), so a crash never leaves a night unvalidated.

A run of the commune report form also compares each period's reports with the facility census per province
(rules X01, X02; service/validation/consistency.py). New reports bring that comparison up to date within minutes;
a census entered or corrected later is taken into account by the nightly revalidation of the open periods.
"""
from datetime import date

from sqlalchemy import select

from service.common.time import VIETNAM, utcnow
from service.extensions import db
from service.forms.periods import Period
from service.forms.registry import get_form
from service.submissions.models import Submission
from service.validation.models import ValidationRun
from service.validation.operations import reap_stale_runs

FREQUENT_MINUTES = 5
NIGHTLY_HOUR = 1
OPEN_YEARS = 3


def _periods(pairs):
    by_form = {}
    for form_code, period_code in pairs:
        by_form.setdefault(form_code, set()).add(period_code)
    return {form_code: sorted((Period.parse(code) for code in codes), key=lambda p: (p.end, p.kind))
            for form_code, codes in by_form.items()}


def _run_all(batches, trigger, slot):
    from service.validation.runner import run_validation

    runs = []
    for form_code, periods in batches.items():
        form = get_form(form_code)
        if form is None or not periods:
            continue
        run = run_validation(form, periods, trigger, slot=f"{slot}:{form_code}" if slot else None)
        if run is not None:
            runs.append(run)
    return runs


def validate_new(now=None):
    """Validate the periods that have reports not yet validated (new versions since the last run)."""
    now = now or utcnow()
    reap_stale_runs(now)
    db.session.commit()
    pairs = db.session.execute(select(Submission.form_code, Submission.period).where(
        Submission.is_current.is_(True), Submission.status == "submitted").distinct()).all()
    bucket = int(now.timestamp()) // (FREQUENT_MINUTES * 60)
    runs = _run_all(_periods(pairs), "schedule", f"validate_new:{bucket}") if pairs else []
    local = now.astimezone(VIETNAM)
    if local.hour >= NIGHTLY_HOUR and not nightly_done(local.date()):
        runs += revalidate_open(local.date(), trigger="catch_up", now=now)
    return {"runs": len(runs), "reports": sum(run.reports_checked for run in runs),
            "failing": sum(run.reports_failing for run in runs)}


def open_periods(today):
    """Periods with current reports that end within the last OPEN_YEARS years."""
    pairs = db.session.execute(select(Submission.form_code, Submission.period).where(
        Submission.is_current.is_(True)).distinct()).all()
    oldest = date(today.year - OPEN_YEARS, 1, 1)
    return {form: [p for p in periods if p.end >= oldest] for form, periods in _periods(pairs).items()}


def nightly_done(day):
    """Whether the night's slot is taken by a run that is going on or completed (a failed one does not count)."""
    return db.session.scalar(select(ValidationRun.id).where(
        ValidationRun.slot.like(f"nightly:{day.isoformat()}:%"), ValidationRun.status != "failed").limit(1)) is not None


def revalidate_open(day=None, trigger="nightly", now=None):
    """Revalidate every open period (the nightly job)."""
    now = now or utcnow()
    day = day or now.astimezone(VIETNAM).date()
    reap_stale_runs(now)
    db.session.commit()
    return _run_all(open_periods(day), trigger, f"nightly:{day.isoformat()}")


def nightly_job():
    runs = revalidate_open()
    return {"runs": len(runs), "reports": sum(run.reports_checked for run in runs)}
