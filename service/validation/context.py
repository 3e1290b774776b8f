"""Building ReportContexts from the database: a whole (form, period) batch for the scheduled run, or one
report at entry. The same history window and reference lookups serve both."""
from collections import Counter

from flask import current_app
from sqlalchemy import select

from service.extensions import db
from service.facilities.models import Facility
from service.forms.periods import Period
from service.submissions.models import Submission
from service.units.models import AdminUnit
from service.validation.derive import HISTORY_WINDOW, ReportContext
from service.validation.suites import derived_specs


def history_periods(period):
    codes, cursor = [], period
    for _ in range(HISTORY_WINDOW):
        cursor = cursor.previous()
        codes.append(cursor.code)
    return list(reversed(codes))


def _provinces_with_facility(edition):
    """Province ids (of `edition`) with at least one registered facility. Facilities sit on units of the
    current list; for periods of the other list the registry check does not apply (None)."""
    if edition != current_app.config["CURRENT_EDITION"]:
        return None
    rows = db.session.execute(select(AdminUnit.id, AdminUnit.province_id).join(
        Facility, Facility.org_unit_id == AdminUnit.id)).all()
    return {province_id or unit_id for unit_id, province_id in rows}


def history_fields(form_code):
    """The fields the history-based derivations read (jump, mod_z, cumulative)."""
    return sorted({spec["field"] for spec in derived_specs(form_code).values()
                   if spec["op"] in ("jump", "mod_z", "cumulative")})


def _history(form_code, period, unit_ids):
    """Earlier periods' values of the fields history is used for, extracted in SQL (not whole documents)."""
    codes = history_periods(period)
    order = {code: index for index, code in enumerate(codes)}
    fields = history_fields(form_code)
    history = {}
    query = select(Submission.org_unit_id, Submission.period,
                   *[Submission.values[field].as_integer() for field in fields]).where(
        Submission.form_code == form_code, Submission.is_current.is_(True), Submission.period.in_(codes))
    if unit_ids is not None:
        query = query.where(Submission.org_unit_id.in_(unit_ids))
    for unit_id, code, *numbers in db.session.execute(query):
        history.setdefault(unit_id, []).append((order[code], code, dict(zip(fields, numbers, strict=True))))
    return {unit_id: [(code, values) for _index, code, values in sorted(items, key=lambda item: item[0])]
            for unit_id, items in history.items()}


def contexts_for_period(form, period):
    """One context per current report of the period (the batch the scheduled run validates)."""
    rows = db.session.execute(
        select(Submission.id, Submission.org_unit_id, Submission.values, AdminUnit.level, AdminUnit.edition,
               AdminUnit.province_id)
        .join(AdminUnit, AdminUnit.id == Submission.org_unit_id)
        .where(Submission.form_code == form.code, Submission.period == period.code, Submission.is_current.is_(True))
    ).all()
    versions = Counter(row.org_unit_id for row in rows)  # current versions per commune (the index allows one)
    history = _history(form.code, period, None if len(rows) > 500 else [row.org_unit_id for row in rows])
    with_facility = _provinces_with_facility(period.edition)
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


def context_for_entry(form, period, unit, values, submission_id=None):
    """The context of one report as it is entered (before or just after it is stored)."""
    if isinstance(period, str):
        period = Period.parse(period)
    with_facility = _provinces_with_facility(period.edition)
    return ReportContext(
        submission_id=submission_id, period=period.code, previous_period=period.previous().code, values=values,
        unit_level=unit.level, unit_edition=unit.edition, period_edition=period.edition, current_versions=1,
        history=_history(form.code, period, [unit.id]).get(unit.id, []),
        province_has_facility=True if with_facility is None else (unit.province_id or unit.id) in with_facility,
        org_unit_id=unit.id)
