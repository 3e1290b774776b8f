"""Importing the facility registry from XLSX or CSV, all or nothing, like the other imports.

Files are read by `service.common.uploads`, like every upload (size, type, ZIP bombs, UTF-8 / UTF-8 with BOM /
UTF-16 / Windows-1258). The header row holds the column codes of the template; every row is then checked (required
cells, dates, type and status, the unit known and in the importer's scope, a closed facility's closing date, a
code once in the file, capacities ≥ 0) and errors are listed by row and column in Vietnamese. Nothing is written
unless the whole file is clean.

A row whose code exists updates that facility, else a facility is created. A column left out of the file leaves
that field as it is; a column that is there sets it (an empty cell clears a text or a date; an empty status keeps
the status, or makes a new facility active). Capacities change through `set_capacity`, only for the modalities
whose figure differs from the one in force on `capacity_from` (today when empty), so the history is kept.
Nothing here commits: the caller commits once.
"""
import io
import re

from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select

from service.common.errors import DomainError
from service.common.text import fold
from service.common.time import local_today
from service.common.uploads import UploadError, cell_count, cell_date, cell_text, raw_table, row_error
from service.extensions import db
from service.facilities.checks import refresh_facility_flags
from service.facilities.models import FACILITY_STATUSES, FACILITY_TYPES, MODALITIES, Facility
from service.facilities.operations import FacilityError, create_facility, set_capacity, update_facility
from service.facilities.queries import capacity_on
from service.units.models import EDITIONS, AdminUnit
from service.units.queries import unit_by_code

CAPACITY_COLUMNS = {f"capacity_{modality}": modality for modality in MODALITIES}
COLUMNS = ["code", "name", "facility_type", "unit_code", "edition", "address", "licence_number", "licence_date",
           "licence_issuer", "licence_expires_on", "status", "closed_on", *CAPACITY_COLUMNS, "capacity_from"]
REQUIRED = ("code", "name", "facility_type", "unit_code")
TEXT_LIMITS = {"code": 30, "name": 300, "address": 500, "licence_number": 80, "licence_issuer": 200}
DATE_COLUMNS = ("licence_date", "licence_expires_on", "closed_on", "capacity_from")
REGISTRY_FIELDS = ("name", "facility_type", "org_unit_id", "address", "licence_number", "licence_date",
                   "licence_issuer", "licence_expires_on", "status", "closed_on")
DEFAULT_EDITION = 2025
UNIT_CODE_WIDTHS = (2, 3, 5)  # province, district, commune codes of the official lists
STATUS_SYNONYMS = {"hoat dong": "active", "dang hoat dong": "active", "tam dung": "suspended",
                   "tam dinh chi": "suspended", "dinh chi": "suspended", "dong cua": "closed",
                   "da dong cua": "closed", "giai the": "closed", "da giai the": "closed"}
_SPACES = re.compile(r"\s+")


class FacilityImportError(DomainError):
    """The file was refused; `errors` are {"row", "column", "message"} dicts."""

    code = "invalid_file"

    def __init__(self, errors):
        super().__init__("; ".join(error["message"] for error in errors), errors)


# --- the template --------------------------------------------------------------------------------------------


def _guide_lines():
    types = "; ".join(f"{code} ({label})" for code, label in FACILITY_TYPES.items())
    statuses = "; ".join(f"{code} ({label})" for code, label in FACILITY_STATUSES.items())
    return [
        ("code", _("Facility code (required). An existing code updates that facility; a new code creates one.")),
        ("name", _("Name of the facility (required).")),
        ("facility_type", _("Type (required), the code or the name: %(types)s.", types=types)),
        ("unit_code", _("Code of the province, district or commune the facility belongs to (required).")),
        ("edition", _("Edition of the unit list: 2025 (default, from 1 July 2025) or 2024.")),
        ("address", _("Address.")),
        ("licence_number", _("Number of the operating licence.")),
        ("licence_date", _("Date of the licence (dd/mm/yyyy).")),
        ("licence_issuer", _("Authority that issued the licence.")),
        ("licence_expires_on", _("Date the licence expires (dd/mm/yyyy).")),
        ("status", _("Status, the code or the name: %(statuses)s. Empty: unchanged (active for a new facility).",
                     statuses=statuses)),
        ("closed_on", _("Date of closing (dd/mm/yyyy); required when the status is closed.")),
        *[(column, _("Capacity for %(modality)s: a whole number, 0 or more. Empty: unchanged.",
                     modality=str(MODALITIES[modality]).lower())) for column, modality in CAPACITY_COLUMNS.items()],
        ("capacity_from", _("Date from which the capacities apply (dd/mm/yyyy); empty: today.")),
        ("", _("A column left out of the file leaves that field unchanged; an empty cell in a column that is there "
               "clears it. Nothing is stored unless every row is correct.")),
    ]


def template():
    """The XLSX template: sheet "Co so" with the header of column codes, sheet "Huong dan" explaining each."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Co so"
    sheet.append(COLUMNS)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        sheet.column_dimensions[cell.column_letter].width = 30 if cell.value in ("name", "address") else 18
    for column in ("code", "unit_code", "licence_number"):
        letter = get_column_letter(COLUMNS.index(column) + 1)
        for row in range(2, 202):
            sheet[f"{letter}{row}"].number_format = "@"  # keep the leading zeros of codes
    for column, values in (("facility_type", FACILITY_TYPES), ("status", FACILITY_STATUSES)):
        letter = get_column_letter(COLUMNS.index(column) + 1)
        validation = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                                    showErrorMessage=False)
        sheet.add_data_validation(validation)
        validation.add(f"{letter}2:{letter}201")
    sheet.freeze_panes = "A2"
    guide = book.create_sheet("Huong dan")
    guide.append([_("Column"), _("What to enter")])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for column, text in _guide_lines():
        guide.append([column, text])
    guide.column_dimensions["A"].width = 24
    guide.column_dimensions["B"].width = 120
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


# --- reading cells (service.common.uploads reads the file) ---------------------------------------------------



def _key(text):
    """Accent-free, case-free, single-spaced form for matching names."""
    return _SPACES.sub(" ", fold(cell_text(text))).strip()


def _choices(labels, synonyms=None):
    """Accent- and case-free code / Vietnamese name / English name → code."""
    choices = dict(synonyms or {})
    for code, label in labels.items():
        choices[_key(code)] = code
        with force_locale("en"):
            choices[_key(str(label))] = code
        with force_locale("vi"):
            choices[_key(str(label))] = code
    return choices


def read_rows(data, filename=None):
    """[(row number, {column: value})] with the header checked (known column codes, each once, the required)."""
    try:
        table = raw_table(data, filename)
    except UploadError as exc:
        raise FacilityImportError(exc.errors) from None
    if not table:
        raise FacilityImportError([row_error(_("The file is empty."))])
    header_row, header = table[0]
    codes = [cell_text(cell).lower() for cell in header]
    errors, seen = [], set()
    for code in codes:
        if not code:
            continue
        if code not in COLUMNS:
            errors.append(row_error(_("unknown column %(name)s.", name=code), row=header_row, column=code))
        elif code in seen:
            errors.append(row_error(_("the column %(code)s appears more than once.", code=code), row=header_row,
                                    column=code))
        seen.add(code)
    errors += [row_error(_("missing column %(name)s.", name=code), row=header_row, column=code)
               for code in REQUIRED if code not in codes]
    if errors:
        raise FacilityImportError(errors)
    rows = []
    for number, values in table[1:]:
        for index, value in enumerate(values):
            if (index >= len(codes) or not codes[index]) and cell_text(value):
                letter = get_column_letter(index + 1)
                errors.append(row_error(_("this column has values but no header."), row=number, column=letter))
        rows.append((number, {code: values[index] if index < len(values) else None
                              for index, code in enumerate(codes) if code}))
    if errors:
        raise FacilityImportError(errors)
    if not rows:
        raise FacilityImportError([row_error(_("The file has no facility row under its header."))])
    return rows


# --- checking rows -------------------------------------------------------------------------------------------


def _find_unit(code, edition):
    unit = unit_by_code(code, edition)
    if unit is not None or not (code.isascii() and code.isdigit()):
        return unit
    # Excel drops the leading zeros of a code it took for a number: try the widths of the official codes
    padded = {code.zfill(width) for width in UNIT_CODE_WIDTHS if width > len(code)}
    found = db.session.scalars(select(AdminUnit).where(AdminUnit.edition == edition,
                                                       AdminUnit.code.in_(padded))).all() if padded else []
    return found[0] if len(found) == 1 else None


class _Row:
    """One checked row: what to write, and its errors."""

    def __init__(self, number, raw):
        self.number, self.raw, self.errors = number, raw, []
        self.values, self.capacity, self.capacity_from = {}, {}, None
        self.existing = None

    def error(self, column, message):
        self.errors.append(row_error(message, row=self.number, column=column))

    def has(self, column):
        return column in self.raw

    def text(self, column):
        return cell_text(self.raw.get(column))


def _check_texts(row):
    for column in REQUIRED:
        if not row.text(column):
            row.error(column, _("required"))
    for column, limit in TEXT_LIMITS.items():
        if row.has(column) and len(row.text(column)) > limit:
            row.error(column, _("at most %(limit)s characters.", limit=limit))
        elif row.has(column) and column != "code":
            row.values[column] = row.text(column)


def _check_choices(row, types, statuses):
    if row.text("facility_type"):
        facility_type = types.get(_key(row.text("facility_type")))
        if facility_type is None:
            row.error("facility_type", _("«%(value)s» is not a facility type; use one of: %(codes)s.",
                                         value=row.text("facility_type"), codes=", ".join(FACILITY_TYPES)))
        row.values["facility_type"] = facility_type
    if row.text("status"):
        status = statuses.get(_key(row.text("status")))
        if status is None:
            row.error("status", _("«%(value)s» is not a status; use one of: %(codes)s.",
                                  value=row.text("status"), codes=", ".join(FACILITY_STATUSES)))
        else:
            row.values["status"] = status


def _check_unit(row, scope):
    code = row.text("unit_code")
    edition = DEFAULT_EDITION
    if row.text("edition"):
        try:
            edition = int(row.text("edition"))
        except ValueError:
            edition = None
        if edition not in EDITIONS:
            row.error("edition", _("«%(value)s» is not an edition of the unit list (2024 or 2025).",
                                   value=row.text("edition")))
            return
    if not code:
        return
    unit = _find_unit(code, edition)
    if unit is None:
        row.error("unit_code", _("no unit with code %(code)s in the %(edition)s list.", code=code, edition=edition))
    elif not scope.contains_unit(unit):
        row.error("unit_code", _("unit %(code)s is outside your scope.", code=unit.code))
    else:
        row.values["org_unit_id"] = unit.id


def _check_dates(row, today):
    dates = {}
    for column in DATE_COLUMNS:
        if not row.has(column):
            continue
        try:
            dates[column] = cell_date(row.raw.get(column))
        except ValueError as exc:
            row.error(column, str(exc))
            continue
        if column != "capacity_from":
            row.values[column] = dates[column]
    for column in ("licence_date", "closed_on"):
        if dates.get(column) and dates[column] > today:
            row.error(column, _("cannot be in the future."))
    if dates.get("licence_date") and dates.get("licence_expires_on") and \
            dates["licence_expires_on"] < dates["licence_date"]:
        row.error("licence_expires_on", _("the licence cannot expire before it was issued."))
    row.capacity_from = dates.get("capacity_from") or today


def _check_status(row):
    """A closed facility needs its closing date; only a closed facility has one."""
    existing = row.existing
    status = row.values.get("status") or (existing.status if existing is not None else "active")
    closed_on = row.values["closed_on"] if "closed_on" in row.values else (
        existing.closed_on if existing is not None else None)
    if status == "closed" and closed_on is None:
        row.error("closed_on", _("a closed facility needs the date it closed."))
    elif status != "closed" and row.values.get("closed_on") is not None:
        row.error("closed_on", _("only a closed facility has a closing date; set the status to closed."))
    elif status != "closed":
        row.values["closed_on"] = None
    row.values["status"] = status


def _check_capacity(row):
    for column, modality in CAPACITY_COLUMNS.items():
        try:
            places = cell_count(row.raw.get(column))
        except ValueError:
            row.error(column, _("«%(value)s»: enter a whole number, 0 or more.", value=row.text(column)))
            continue
        if places is not None:
            row.capacity[modality] = places
    if not row.capacity or row.errors:
        return
    if row.existing is not None:
        current = capacity_on(row.existing, row.capacity_from)
        row.capacity = {modality: places for modality, places in row.capacity.items()
                        if current.get(modality) != places}
    if row.capacity and row.values["status"] == "closed":
        column = next(column for column, modality in CAPACITY_COLUMNS.items() if modality in row.capacity)
        row.error(column, _("the facility is closed: its capacity can no longer change."))


def check_rows(scope, rows, today):
    """Check every row; returns ([_Row] to write, errors sorted by row and column)."""
    types = _choices(FACILITY_TYPES)
    statuses = _choices(FACILITY_STATUSES, STATUS_SYNONYMS)
    checked, errors, first_row_of = [], [], {}
    for number, raw in rows:
        row = _Row(number, raw)
        _check_texts(row)
        code = row.text("code")
        if code:
            if code in first_row_of:
                row.error("code", _("facility code %(code)s repeats row %(row)s.", code=code, row=first_row_of[code]))
            first_row_of.setdefault(code, number)
            row.existing = db.session.scalar(select(Facility).where(Facility.code == code))
            if row.existing is not None and not scope.contains_facility(row.existing):
                row.error("code", _("facility %(code)s belongs to a unit outside your scope.", code=code))
        _check_choices(row, types, statuses)
        _check_unit(row, scope)
        _check_dates(row, today)
        _check_status(row)
        _check_capacity(row)
        errors.extend(row.errors)
        checked.append(row)
    order = {column: index for index, column in enumerate(COLUMNS)}
    errors.sort(key=lambda e: (e["row"] or 0, order.get(e["column"], len(order))))
    return checked, errors


# --- importing -----------------------------------------------------------------------------------------------


def _write(row, user, today):
    """Create or update the facility of a checked row through the registry's operations (the checks of the
    facilities run once for the whole file); returns (facility, "created" | "updated" | None)."""
    fields = {field: row.values[field] for field in REGISTRY_FIELDS if field in row.values}
    facility, outcome = row.existing, None
    if facility is None:
        facility = create_facility(row.text("code"), recheck=False, **fields)
        outcome = "created"
    elif update_facility(facility, recheck=False, **fields):
        outcome = "updated"
    if row.capacity:
        set_capacity(user, facility, row.capacity, row.capacity_from, note=_("Imported from a file"), today=today)
        outcome = outcome or "updated"
    return facility, outcome


def import_facilities(scope, data, user=None, today=None, filename=None):
    """Create or update facilities from an XLSX / CSV file, all or nothing, for an importer with `scope`
    (`user` is recorded on capacity changes). Re-runs the checks of every facility in the file.
    Returns {"created", "updated", "unchanged"}; raises FacilityImportError. Does not commit."""
    today = today or local_today()
    rows = read_rows(data, filename)
    checked, errors = check_rows(scope, rows, today)
    if errors:
        raise FacilityImportError(errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    touched = []
    savepoint = db.session.begin_nested()
    try:
        for row in checked:
            try:
                facility, outcome = _write(row, user, today)
            except FacilityError as exc:
                errors.extend(row_error(error["message"], row=row.number) for error in exc.errors)
                continue
            touched.append(facility.id)
            counts[outcome or "unchanged"] += 1
        if errors:
            raise FacilityImportError(errors)
        refresh_facility_flags(touched, today=today)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return counts
