"""The daily reminder list: communes that have not reported a period whose deadline has passed."""
from datetime import datetime

from sqlalchemy import select

from service.common.time import utcnow
from service.extensions import db
from service.forms.periods import recent_periods
from service.forms.registry import all_forms
from service.submissions.models import Reminder
from service.submissions.operations import VIETNAM
from service.submissions.queries import missing_communes
from service.units.models import AdminUnit

PERIODS_BACK = 3


def remind_late_communes(today=None):
    """Add a reminder for every commune late with a recent period, and close the reminders of communes that
    have reported since. Returns the counts."""
    today = today or datetime.now(VIETNAM).date()
    created = resolved = 0
    for form in all_forms():
        for kind in form.period_types:
            for period in recent_periods(kind, today, PERIODS_BACK):
                created_here, resolved_here = _remind_period(form, period, today)
                created += created_here
                resolved += resolved_here
    return {"created": created, "resolved": resolved}


def _remind_period(form, period, today):
    communes = db.session.execute(select(AdminUnit.id, AdminUnit.province_id).where(
        AdminUnit.edition == period.edition, AdminUnit.level == "commune")).all()
    provinces = {unit.id: unit for unit in db.session.scalars(select(AdminUnit).where(
        AdminUnit.edition == period.edition, AdminUnit.level == "province"))}
    due = {pid: form.due_date(period, province) for pid, province in provinces.items()}
    overdue = [unit_id for unit_id, province_id in communes if due.get(province_id) and due[province_id] < today]
    missing = set(missing_communes(form, period, overdue)) if overdue else set()
    existing = {reminder.org_unit_id: reminder for reminder in db.session.scalars(select(Reminder).where(
        Reminder.form_code == form.code, Reminder.period == period.code))}
    created = resolved = 0
    province_of = dict(communes)
    for unit_id in missing - set(existing):
        db.session.add(Reminder(form_code=form.code, period=period.code, org_unit_id=unit_id,
                                due_date=due[province_of[unit_id]]))
        created += 1
    for unit_id, reminder in existing.items():
        if unit_id not in missing and reminder.resolved_at is None:
            reminder.resolved_at = utcnow()
            resolved += 1
    db.session.flush()
    return created, resolved
