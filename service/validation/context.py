"""Building the ReportContexts of a whole (form, period) batch for the scheduled run. The history window and the
reference lookups are the ones the instant check at entry uses (`service.submissions.checks`)."""
from collections import Counter

from sqlalchemy import select

from service.extensions import db
from service.facilities.queries import provinces_with_facility
from service.rules.derive import ReportContext
from service.submissions.models import Submission
from service.submissions.queries import report_history
from service.units.models import AdminUnit


def contexts_for_period(form, period):
    """One context per current report of the period (the batch the scheduled run validates)."""
    rows = db.session.execute(
        select(Submission.id, Submission.org_unit_id, Submission.values, AdminUnit.level, AdminUnit.edition,
               AdminUnit.province_id)
        .join(AdminUnit, AdminUnit.id == Submission.org_unit_id)
        .where(Submission.form_code == form.code, Submission.period == period.code, Submission.is_current.is_(True))
    ).all()
    versions = Counter(row.org_unit_id for row in rows)  # current versions per commune (the index allows one)
    history = report_history(form.code, period, None if len(rows) > 500 else [row.org_unit_id for row in rows])
    with_facility = provinces_with_facility(period.edition)
    previous = period.previous().code
    return [
        ReportContext(
            submission_id=row.id, period=period.code, previous_period=previous, values=row.values,
            unit_level=row.level, unit_edition=row.edition, period_edition=period.edition,
            current_versions=versions.get(row.org_unit_id, 1), history=history.get(row.org_unit_id, []),
            province_has_facility=True if with_facility is None else (row.province_id or row.org_unit_id)
            in with_facility, org_unit_id=row.org_unit_id)
        for row in rows
    ]


