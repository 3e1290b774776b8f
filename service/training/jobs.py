"""The daily refresh of expiry alerts: certificates and qualifications of active staff that expire within 30
days (a warning) or 7 days or have expired without renewal (an error) become flags of the shared flag model,
one per person and credential; renewed, or the person gone, the flag is resolved."""
from datetime import timedelta

from sqlalchemy import select

from service.common.time import local_today
from service.extensions import db
from service.flags.models import Flag
from service.flags.operations import Finding, sync_flags
from service.training.models import Certificate, Qualification, StaffMember
from service.training.queries import active_on

WARN_DAYS, ERROR_DAYS, EXPIRED_WINDOW_DAYS = 30, 7, 90


def _latest(items, key):
    latest = {}
    for item in items:
        current = latest.get(key(item))
        if current is None or (item.expires_on or item.issued_on) > (current.expires_on or current.issued_on):
            latest[key(item)] = item
    return latest


def _alert(staff, rule, what, expires, today):
    days = (expires - today).days
    severity = "error" if days <= ERROR_DAYS else "warning"
    if days < 0:
        vi, en = f"{what} đã hết hạn ngày {expires:%d/%m/%Y}.", f"{what} expired on {expires:%d/%m/%Y}."
    else:
        vi = f"{what} hết hạn ngày {expires:%d/%m/%Y} (còn {days} ngày)."
        en = f"{what} expires on {expires:%d/%m/%Y} ({days} days left)."
    return Finding(rule, severity, vi, en, {"staff_code": staff.staff_code, "expires_on": expires.isoformat()})


def refresh_expiry_alerts(today=None):
    today = today or local_today()
    horizon, oldest = today + timedelta(days=WARN_DAYS), today - timedelta(days=EXPIRED_WINDOW_DAYS)
    staff = {person.id: person for person in db.session.scalars(select(StaffMember).where(active_on(today)))}
    wanted = {}
    certificates = db.session.scalars(select(Certificate).where(Certificate.revoked_at.is_(None),
                                                                Certificate.staff_id.in_(list(staff) or [0])))
    for (staff_id, _course), certificate in _latest(certificates, lambda c: (c.staff_id, c.course_id)).items():
        if certificate.expires_on and oldest <= certificate.expires_on <= horizon:
            wanted[(staff_id, f"CC-{certificate.course.code}"[:20])] = _alert(
                staff[staff_id], f"CC-{certificate.course.code}"[:20], f"Chứng chỉ {certificate.course.title}",
                certificate.expires_on, today)
    qualifications = db.session.scalars(select(Qualification).where(Qualification.staff_id.in_(list(staff) or [0])))
    for (staff_id, _type), qualification in _latest(qualifications,
                                                    lambda q: (q.staff_id, q.qualification_type_id)).items():
        if qualification.expires_on and oldest <= qualification.expires_on <= horizon:
            rule = f"VB-{qualification.qualification_type.code}"[:20]
            wanted[(staff_id, rule)] = _alert(staff[staff_id], rule, qualification.qualification_type.name_vi,
                                              qualification.expires_on, today)
    existing = {(flag.staff_id, flag.rule): flag for flag in db.session.scalars(select(Flag).where(
        Flag.subject == "staff"))}

    def subject_of(key):
        person = staff[key[0]]
        return {"subject": "staff", "staff_id": person.id, "facility_id": person.facility_id,
                "org_unit_id": person.org_unit_id}

    opened, closed = sync_flags(existing, wanted, subject_of)
    return {"opened": opened, "closed": closed}
