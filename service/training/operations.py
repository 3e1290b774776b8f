"""Changes of state for training records: staff (create, update, leave, merge duplicates), attendance,
certificates (issued on completion, recorded by hand, revoked), qualifications, courses, classes, plans and their
targets, the reference data. Every way in (the admin forms, the roster import, the API, the demo) goes through
these, so the rules (names and their search form, the date rules, the role codes of a course) are kept once.
Operations flush, never commit; a refusal is a TrainingError."""
import calendar
from datetime import date
from types import SimpleNamespace

from flask_babel import gettext as _
from sqlalchemy import func, select

from service.common.errors import DomainError
from service.common.text import fold
from service.common.time import utcnow
from service.extensions import db
from service.training.models import (
    Attendance,
    Certificate,
    Course,
    Qualification,
    QualificationType,
    RoleCategory,
    RoleRequirement,
    StaffMember,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)


class TrainingError(DomainError):
    code = "invalid_training_record"


def _fields(fields, allowed):
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"not a field of the form: {', '.join(sorted(unknown))}")


def _assign(record, fields):
    for name, value in fields.items():
        setattr(record, name, value)


def _create(model, fields, allowed, check=None):
    """A new row of `fields`, checked (and tidied) by `check` before it is built: a refused row never joins the
    session, nor the collections of the rows it points to."""
    _fields(fields, allowed)
    if check is not None:
        values = {**dict.fromkeys(allowed), **fields}
        draft = SimpleNamespace(**values)
        check(draft)
        fields = {name: getattr(draft, name) for name in allowed
                  if name in fields or getattr(draft, name) != values[name]}
    record = model(**fields)
    db.session.add(record)
    db.session.flush()
    return record


def _update(record, fields, allowed, check=None):
    _fields(fields, allowed)
    _assign(record, fields)
    if check is not None:
        check(record)
    db.session.flush()
    return record


def _delete(record):
    db.session.delete(record)
    db.session.flush()


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


STAFF_FIELDS = ("staff_code", "full_name", "date_of_birth", "sex", "role_category", "org_unit", "facility", "position",
                "employment_status", "start_date", "end_date")


def staff_dates_error(start_date, end_date, employment_status):
    """What is wrong with a person's dates (None if nothing): the one place of the rule, for the forms, the
    operations and the roster import (which reports it on the row)."""
    if start_date and end_date and end_date < start_date:
        return _("The end date is before the start date.")
    if employment_status == "left" and end_date is None:
        return _("Give the date the person left.")
    return None


def _name_staff(staff, full_name):
    """The name as typed (spaces tidied) and its search form, accents and case folded: the one place of both."""
    staff.full_name = " ".join((full_name or "").split())
    staff.search_name = fold(staff.full_name)


def _check_staff(staff):
    message = staff_dates_error(staff.start_date, staff.end_date, staff.employment_status)
    if message:
        raise TrainingError(message)


def create_staff(staff_code, full_name, role_category, org_unit, sex, date_of_birth=None, facility=None,
                 position="", start_date=None, employment_status="active", end_date=None):
    employment_status = employment_status or "active"
    message = staff_dates_error(start_date, end_date, employment_status)
    if message:
        raise TrainingError(message)
    staff = StaffMember(staff_code=staff_code.strip(), role_category=role_category, org_unit=org_unit, sex=sex,
                        date_of_birth=date_of_birth, facility=facility, position=position, start_date=start_date,
                        employment_status=employment_status, end_date=end_date)
    _name_staff(staff, full_name)
    db.session.add(staff)
    db.session.flush()
    return staff


def update_staff(staff, **fields):
    """Change a person's record (any of STAFF_FIELDS); the name and the dates are checked as on creation."""
    _fields(fields, STAFF_FIELDS)
    full_name = fields.pop("full_name", staff.full_name)
    _assign(staff, fields)
    _name_staff(staff, full_name)
    _check_staff(staff)
    db.session.flush()
    return staff


def leave(staff, end_date):
    """The person left: kept in history, out of every denominator from `end_date`."""
    return update_staff(staff, employment_status="left", end_date=end_date)


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


QUALIFICATION_FIELDS = ("staff", "qualification_type", "number", "issuer", "issued_on", "expires_on")


def _check_qualification(qualification):
    if qualification.expires_on and qualification.issued_on and qualification.expires_on <= qualification.issued_on:
        raise TrainingError(_("The expiry date must come after the issue date."))


def record_qualification(staff, qualification_type, issued_on, expires_on=None, number="", issuer=""):
    return _create(Qualification, {"staff": staff, "qualification_type": qualification_type, "issued_on": issued_on,
                                   "expires_on": expires_on, "number": number, "issuer": issuer},
                   QUALIFICATION_FIELDS, _check_qualification)


def update_qualification(qualification, **fields):
    return _update(qualification, fields, QUALIFICATION_FIELDS, _check_qualification)


def delete_qualification(qualification):
    _delete(qualification)


# --- courses -----------------------------------------------------------------------------------------------

COURSE_FIELDS = ("code", "title", "topic", "hours", "certifies", "validity_months", "target_roles")


def _check_course(course):
    """The role category codes a course is meant for (a list, or codes separated by commas): known codes, stored
    with commas between, each once."""
    raw = course.target_roles or ""
    codes = [code.strip() for code in (raw if isinstance(raw, (list, tuple)) else raw.replace(";", ",").split(","))
             if code and code.strip()]
    course.target_roles = ",".join(dict.fromkeys(codes))  # a string before any query flushes the row
    known = set(db.session.scalars(select(RoleCategory.code)))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise TrainingError(_("Unknown role category code(s): %(codes)s. Known codes: %(known)s.",
                              codes=", ".join(unknown), known=", ".join(sorted(known))))


def create_course(**fields):
    return _create(Course, fields, COURSE_FIELDS, _check_course)


def update_course(course, **fields):
    return _update(course, fields, COURSE_FIELDS, _check_course)


def delete_course(course):
    _delete(course)


# --- classes -----------------------------------------------------------------------------------------------

CLASS_FIELDS = ("course", "org_unit", "organiser", "place", "starts_on", "ends_on", "trainers", "capacity")


def _check_class(training_class):
    if training_class.starts_on and training_class.ends_on and training_class.ends_on < training_class.starts_on:
        raise TrainingError(_("The class ends before it starts."))


def create_class(**fields):
    return _create(TrainingClass, fields, CLASS_FIELDS, _check_class)


def update_class(training_class, **fields):
    return _update(training_class, fields, CLASS_FIELDS, _check_class)


def delete_class(training_class):
    """A class that has attendees is history (transcripts, certificates): it is kept."""
    if training_class.attendances:
        raise TrainingError(_("This class has attendees and is part of their training records: it cannot be "
                              "deleted."))
    _delete(training_class)


# --- plans and their targets -------------------------------------------------------------------------------

PLAN_FIELDS = ("code", "name", "number", "issued_on")
TARGET_FIELDS = ("plan", "scope_unit", "role_category", "metric", "topic", "percent", "deadline")


def create_plan(**fields):
    return _create(TrainingPlan, fields, PLAN_FIELDS)


def update_plan(plan, **fields):
    return _update(plan, fields, PLAN_FIELDS)


def delete_plan(plan):
    _delete(plan)


def _check_target(target):
    target.topic = target.topic or None  # no topic: any topic


def create_target(**fields):
    return _create(TrainingTarget, fields, TARGET_FIELDS, _check_target)


def update_target(target, **fields):
    return _update(target, fields, TARGET_FIELDS, _check_target)


def delete_target(target):
    _delete(target)


# --- reference data: role categories, qualification types, what each role requires -------------------------

REFERENCE_FIELDS = {
    RoleCategory: ("code", "name_vi", "name_en"),
    QualificationType: ("code", "name_vi", "name_en", "kind"),
    RoleRequirement: ("role_category", "qualification_type"),
}


def create_reference(model, **fields):
    return _create(model, fields, REFERENCE_FIELDS[model])


def update_reference(record, **fields):
    return _update(record, fields, REFERENCE_FIELDS[type(record)])


def delete_reference(record):
    if type(record) not in REFERENCE_FIELDS:
        raise TypeError(type(record).__name__)
    _delete(record)
