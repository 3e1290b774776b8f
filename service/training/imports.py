"""Importing training records from XLSX or CSV (the roster, an attendance sheet, certificates), all or nothing.

Files are read by `service.common.uploads`, like every upload (size, type, ZIP bombs, UTF-8 / UTF-8 with BOM /
UTF-16 / Windows-1258); then every row is checked and errors are listed by row and column in Vietnamese; nothing is
written unless the whole file is clean. Templates are XLSX with a header of column codes.
"""
import io

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from service.common.errors import DomainError
from service.common.uploads import UploadError, cell_date, cell_text, raw_table, row_error
from service.extensions import db
from service.training import operations
from service.training.models import Attendance, Course, RoleCategory, StaffMember
from service.units.queries import unit_by_code

KINDS = {
    "staff": ["staff_code", "full_name", "date_of_birth", "sex", "role", "unit_code", "facility_code", "position",
              "start_date", "end_date"],
    "attendance": ["staff_code", "status", "pre_score", "post_score"],
    "certificates": ["staff_code", "course_code", "number", "issuer", "issued_on"],
}
REQUIRED = {
    "staff": {"staff_code", "full_name", "sex", "role", "unit_code"},
    "attendance": {"staff_code", "status"},
    "certificates": {"staff_code", "course_code", "issuer", "issued_on"},
}
SEX_WORDS = {"f": "F", "nữ": "F", "nu": "F", "m": "M", "nam": "M"}
STATUS_WORDS = {"registered": "registered", "đăng ký": "registered", "attended": "attended", "có mặt": "attended",
                "completed": "completed", "hoàn thành": "completed", "failed": "failed", "không đạt": "failed"}

def _facility_model():
    """The facility registry builds on the roster (its staffing checks read it), so its model is reached through
    the relationship rather than imported."""
    return StaffMember.facility.property.mapper.class_


class TrainingImportError(DomainError):
    """The file was refused; `errors` are {"row", "column", "message"} dicts."""

    code = "invalid_file"

    def __init__(self, errors):
        super().__init__("; ".join(error["message"] for error in errors), errors)


def template(kind):
    """An XLSX template: one header row of column codes."""
    book = Workbook()
    sheet = book.active
    sheet.title = kind
    sheet.append(KINDS[kind])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell.column_letter].width = 18
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()






def _score(value):
    if value in (None, ""):
        return None
    try:
        number = float(cell_text(value).replace(",", "."))
    except ValueError:
        raise ValueError(_("«%(value)s» is not a score.", value=cell_text(value))) from None
    if not 0 <= number <= 100:
        raise ValueError(_("A score is between 0 and 100."))
    return number


def read_rows(kind, data, filename=None):
    """[(row number, {column: value})] with the header checked (codes, exactly the known columns)."""
    try:
        table = raw_table(data, filename)
    except UploadError as exc:
        raise TrainingImportError(exc.errors) from None
    if not table:
        raise TrainingImportError([row_error(_("The file is empty."))])
    header_row, header = table[0]
    codes = [cell_text(cell).lower() for cell in header]
    errors = [row_error(_("unknown column %(name)s.", name=code), row=header_row, column=code)
              for code in codes if code and code not in KINDS[kind]]
    errors += [row_error(_("missing column %(name)s.", name=code), row=header_row, column=code)
               for code in REQUIRED[kind] if code not in codes]
    if errors:
        raise TrainingImportError(errors)
    return [(number, {code: values[index] if index < len(values) else None for index, code in enumerate(codes)
                      if code}) for number, values in table[1:]]


def import_staff(scope, data, filename=None):
    """Create or update people by staff code; units and facilities must lie in the importer's scope."""
    rows = read_rows("staff", data, filename)
    roles = {role.code: role for role in db.session.scalars(select(RoleCategory))}
    errors, clean, seen = [], [], {}
    for number, raw in rows:
        def error(column, message, number=number):
            errors.append({"row": number, "column": column, "message": message})

        code = cell_text(raw.get("staff_code"))
        for column in sorted(REQUIRED["staff"]):
            if not cell_text(raw.get(column)):
                error(column, _("required"))
        if code in seen:
            error("staff_code", _("staff code %(code)s repeats row %(row)s.", code=code, row=seen[code]))
        seen.setdefault(code, number)
        sex = SEX_WORDS.get(cell_text(raw.get("sex")).lower())
        if cell_text(raw.get("sex")) and sex is None:
            error("sex", _("«%(value)s» is not nữ / nam (F / M).", value=cell_text(raw.get("sex"))))
        role = roles.get(cell_text(raw.get("role")))
        if cell_text(raw.get("role")) and role is None:
            error("role", _("unknown role category %(code)s.", code=cell_text(raw.get("role"))))
        unit = None
        if cell_text(raw.get("unit_code")):
            unit = unit_by_code(cell_text(raw.get("unit_code")), fallback=True)
            if unit is None:
                error("unit_code", _("unknown unit code %(code)s.", code=cell_text(raw.get("unit_code"))))
            elif not scope.contains_unit(unit):
                error("unit_code", _("unit %(code)s is outside your scope.", code=unit.code))
        facility = None
        if cell_text(raw.get("facility_code")):
            facility_model = _facility_model()
            facility = db.session.scalar(select(facility_model).where(
                facility_model.code == cell_text(raw.get("facility_code"))))
            if facility is None or not scope.contains_facility(facility):
                error("facility_code", _("unknown facility %(code)s (or outside your scope).",
                                         code=cell_text(raw.get("facility_code"))))
        dates = {}
        for column in ("date_of_birth", "start_date", "end_date"):
            try:
                dates[column] = cell_date(raw.get(column))
            except ValueError as exc:
                error(column, str(exc))
        existing = db.session.scalar(select(StaffMember).where(StaffMember.staff_code == code)) if code else None
        if existing is not None and not scope.contains_unit(existing.org_unit):
            error("staff_code", _("staff code %(code)s belongs to a unit outside your scope.", code=code))
        fields = _staff_fields(existing, raw, sex, role, unit, facility, dates)
        if "start_date" in dates and "end_date" in dates:
            message = operations.staff_dates_error(_field(existing, fields, "start_date"),
                                                   _field(existing, fields, "end_date"),
                                                   _field(existing, fields, "employment_status") or "active")
            if message:
                error("end_date" if dates["end_date"] else "start_date", message)
        clean.append((number, existing, code, fields))
    if errors:
        raise TrainingImportError(errors)
    created = updated = 0
    savepoint = db.session.begin_nested()
    for number, existing, code, fields in clean:
        try:
            if existing is None:
                operations.create_staff(code, **fields)
                created += 1
            else:
                operations.update_staff(existing, **fields)
                updated += 1
        except operations.TrainingError as exc:
            errors.append({"row": number, "column": None, "message": str(exc)})
    if errors:
        savepoint.rollback()
        raise TrainingImportError(errors)
    savepoint.commit()
    return {"created": created, "updated": updated}


def _staff_fields(existing, raw, sex, role, unit, facility, dates):
    """What a roster row writes through create_staff / update_staff: an empty date of birth or start date keeps
    the one on record; an end date means the person left."""
    fields = {"full_name": cell_text(raw.get("full_name")), "role_category": role, "org_unit": unit, "sex": sex,
              "facility": facility, "position": cell_text(raw.get("position"))}
    for column in ("date_of_birth", "start_date"):
        fields[column] = dates.get(column) or (getattr(existing, column) if existing is not None else None)
    if dates.get("end_date"):
        fields.update(employment_status="left", end_date=dates["end_date"])
    return fields


def _field(existing, fields, name):
    """The value a person will have once the row is written."""
    return fields[name] if name in fields else getattr(existing, name, None)


def _staff_by_code(scope, code):
    person = db.session.scalar(select(StaffMember).where(StaffMember.staff_code == code,
                                                         StaffMember.merged_into_id.is_(None)))
    if person is None or not scope.contains_unit(person.org_unit):
        return None
    return person


def import_attendance(scope, training_class, data, filename=None):
    """An attendance sheet for a class: people are registered if needed and marked; certificates follow."""
    rows = read_rows("attendance", data, filename)
    errors, clean = [], []
    for number, raw in rows:
        code = cell_text(raw.get("staff_code"))
        person = _staff_by_code(scope, code) if code else None
        if person is None:
            errors.append({"row": number, "column": "staff_code",
                           "message": _("no person with staff code %(code)s in your scope.", code=code)})
        status = STATUS_WORDS.get(cell_text(raw.get("status")).lower())
        if status is None:
            errors.append({"row": number, "column": "status", "message": _(
                "«%(value)s» is not one of: registered, attended, completed, failed.",
                value=cell_text(raw.get("status")))})
        scores = []
        for column in ("pre_score", "post_score"):
            try:
                scores.append(_score(raw.get(column)))
            except ValueError as exc:
                errors.append({"row": number, "column": column, "message": str(exc)})
        clean.append((person, status, scores))
    if errors:
        raise TrainingImportError(errors)
    try:
        operations.add_attendees(training_class, [person for person, _status, _scores in clean])
    except operations.TrainingError as exc:
        raise TrainingImportError([{"row": None, "column": None, "message": str(exc)}]) from None
    issued = 0
    for person, status, (pre, post) in clean:
        attendance = db.session.scalar(select(Attendance).where(Attendance.class_id == training_class.id,
                                                                Attendance.staff_id == person.id))
        if operations.set_attendance(attendance, status, pre, post) is not None:
            issued += 1
    return {"rows": len(clean), "certificates": issued}


def import_certificates(scope, data, filename=None):
    """Certificates earned elsewhere, recorded by hand in bulk."""
    rows = read_rows("certificates", data, filename)
    courses = {course.code: course for course in db.session.scalars(select(Course))}
    errors, clean, numbers = [], [], {}
    for number, raw in rows:
        code = cell_text(raw.get("staff_code"))
        person = _staff_by_code(scope, code) if code else None
        if person is None:
            errors.append({"row": number, "column": "staff_code",
                           "message": _("no person with staff code %(code)s in your scope.", code=code)})
        course = courses.get(cell_text(raw.get("course_code")))
        if course is None or not course.certifies:
            errors.append({"row": number, "column": "course_code", "message": _(
                "«%(value)s» is not a course that certifies.", value=cell_text(raw.get("course_code")))})
        try:
            issued_on = cell_date(raw.get("issued_on"))
            if issued_on is None:
                raise ValueError(_("required"))
        except ValueError as exc:
            errors.append({"row": number, "column": "issued_on", "message": str(exc)})
            issued_on = None
        issuer, cert_number = cell_text(raw.get("issuer")), cell_text(raw.get("number"))
        if not issuer:
            errors.append({"row": number, "column": "issuer", "message": _("required")})
        if cert_number:
            key = (issuer, cert_number)
            if key in numbers:
                errors.append({"row": number, "column": "number", "message": _(
                    "certificate number %(number)s repeats row %(row)s.", number=cert_number, row=numbers[key])})
            numbers.setdefault(key, number)
        clean.append((number, person, course, cert_number or None, issuer, issued_on))
    if errors:
        raise TrainingImportError(errors)
    savepoint = db.session.begin_nested()
    for number, person, course, cert_number, issuer, issued_on in clean:
        try:
            operations.issue_certificate(person, course, issuer, issued_on, number=cert_number)
        except operations.TrainingError as exc:
            errors.append({"row": number, "column": "number", "message": str(exc)})
    if errors:
        savepoint.rollback()
        raise TrainingImportError(errors)
    savepoint.commit()
    return {"certificates": len(clean)}
