"""Changes of state for training records: staff (create, leave, merge duplicates), attendance, certificates
(issued on completion, recorded by hand, revoked), qualifications. Operations flush, never commit."""
import calendar
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select

from service.common.errors import DomainError
from service.common.text import fold
from service.common.time import utcnow
from service.extensions import db
from service.training.models import Attendance, Certificate, Qualification, StaffMember


class TrainingError(DomainError):
    code = "invalid_training_record"


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def create_staff(staff_code, full_name, role_category, org_unit, sex, date_of_birth=None, facility=None,
                 position="", start_date=None):
    staff = StaffMember(staff_code=staff_code.strip(), full_name=" ".join(full_name.split()),
                        search_name=fold(" ".join(full_name.split())), role_category=role_category,
                        org_unit=org_unit, sex=sex, date_of_birth=date_of_birth, facility=facility,
                        position=position, start_date=start_date, employment_status="active")
    db.session.add(staff)
    db.session.flush()
    return staff


def leave(staff, end_date):
    """The person left: kept in history, out of every denominator from `end_date`."""
    staff.employment_status, staff.end_date = "left", end_date
    db.session.flush()


def likely_duplicates(staff_query):
    """Groups of active people with the same name (accents ignored) and date of birth, from a scoped query."""
    rows = db.session.execute(
        staff_query.with_only_columns(StaffMember.search_name, StaffMember.date_of_birth, func.count())
        .where(StaffMember.merged_into_id.is_(None), StaffMember.date_of_birth.is_not(None))
        .group_by(StaffMember.search_name, StaffMember.date_of_birth).having(func.count() > 1)
    ).all()
    groups = []
    for name, birth, _count in rows:
        groups.append(db.session.scalars(staff_query.where(
            StaffMember.search_name == name, StaffMember.date_of_birth == birth,
            StaffMember.merged_into_id.is_(None)).order_by(StaffMember.id)).all())
    return groups


def merge_staff(keep, duplicate):
    """Merge a duplicate record into `keep` without losing history: qualifications, certificates and
    attendances move over; the duplicate stays, marked merged, out of every list and denominator."""
    if keep.id == duplicate.id:
        raise TrainingError(_("A person cannot be merged into themselves."))
    for qualification in list(duplicate.qualifications):
        qualification.staff = keep
    for certificate in list(duplicate.certificates):
        certificate.staff = keep
    kept_classes = {a.class_id for a in db.session.scalars(select(Attendance).where(Attendance.staff_id == keep.id))}
    for attendance in db.session.scalars(select(Attendance).where(Attendance.staff_id == duplicate.id)).all():
        if attendance.class_id in kept_classes:
            db.session.delete(attendance)
        else:
            attendance.staff_id = keep.id
    duplicate.merged_into_id, duplicate.employment_status = keep.id, "left"
    duplicate.end_date = duplicate.end_date or date.today()
    db.session.flush()


def add_attendees(training_class, staff_members):
    """Register people in a class (those already in it are skipped); refuses past the class's capacity."""
    present = {a.staff_id for a in training_class.attendances}
    new = [staff for staff in staff_members if staff.id not in present]
    if len(present) + len(new) > training_class.capacity:
        raise TrainingError(_("The class holds %(capacity)s people; %(count)s would be registered.",
                              capacity=training_class.capacity, count=len(present) + len(new)))
    for staff in new:
        db.session.add(Attendance(training_class=training_class, staff=staff, status="registered"))
    db.session.flush()
    return len(new)


def next_certificate_number(issuer, year):
    count = db.session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.issuer == issuer, Certificate.number.like(f"{year}/%")))
    return f"{year}/{count + 1:05d}"


def issue_certificate(staff, course, issuer, issued_on, number=None, training_class=None):
    """A certificate for a certifying course; its expiry follows the course's validity."""
    if not course.certifies:
        raise TrainingError(_("Course %(code)s does not lead to a certificate.", code=course.code))
    number = (number or next_certificate_number(issuer, issued_on.year)).strip()
    if db.session.scalar(select(Certificate.id).where(Certificate.issuer == issuer, Certificate.number == number)):
        raise TrainingError(_("Certificate number %(number)s of %(issuer)s already exists.", number=number,
                              issuer=issuer))
    expires = add_months(issued_on, course.validity_months) if course.validity_months else None
    certificate = Certificate(staff=staff, course=course, training_class=training_class, number=number,
                              issuer=issuer, issued_on=issued_on, expires_on=expires)
    db.session.add(certificate)
    db.session.flush()
    return certificate


def set_attendance(attendance, status, pre_score=None, post_score=None):
    """Mark a person in a class; completing a certifying course issues their certificate (once)."""
    if status not in ("registered", "attended", "completed", "failed"):
        raise TrainingError(_("Unknown attendance status %(status)s.", status=status))
    attendance.status, attendance.pre_score, attendance.post_score = status, pre_score, post_score
    training_class = attendance.training_class
    course = training_class.course
    certificate = None
    if status == "completed" and course.certifies:
        certificate = db.session.scalar(select(Certificate).where(Certificate.class_id == training_class.id,
                                                                  Certificate.staff_id == attendance.staff_id))
        if certificate is None:
            certificate = issue_certificate(attendance.staff, course, training_class.organiser or course.code,
                                            training_class.ends_on, training_class=training_class)
    db.session.flush()
    return certificate


def revoke_certificate(certificate, reason):
    reason = (reason or "").strip()
    if not reason:
        raise TrainingError(_("Give the reason for revoking."))
    certificate.revoked_at, certificate.revoked_reason = utcnow(), reason
    db.session.flush()


def record_qualification(staff, qualification_type, issued_on, expires_on=None, number="", issuer=""):
    qualification = Qualification(staff=staff, qualification_type=qualification_type, issued_on=issued_on,
                                  expires_on=expires_on, number=number, issuer=issuer)
    db.session.add(qualification)
    db.session.flush()
    return qualification
