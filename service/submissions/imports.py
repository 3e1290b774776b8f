"""Commune reports from spreadsheets: the XLSX template, the report form's columns, all-or-nothing import.

An upload is checked whole before anything is stored: the file itself (size, type, a ZIP that would expand too
much; `service.common.uploads` reads every upload), its header, then every row (period, commune in the user's
scope, no commune twice, every value, the period not locked). One wrong row rejects the file; the rejected upload
is recorded with its errors, each naming its row and column. A row whose values are all empty is not a submission
(the template lists every commune of the scope). Each row is checked once, here: `operations.submit` stores it
with `checked=True`.

Errors are dicts `{"row": int | None, "column": str | None, "message": str}` (`row_error`); `detail_lines`
(service.common.errors) formats them.
Nothing here commits: the caller commits once.
"""
import hashlib
import io
import re
import unicodedata

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.common.uploads import HEADER_SEARCH_ROWS, UploadError, blank, raw_table, row_error
from service.extensions import db
from service.submissions import operations
from service.submissions.models import Upload
from service.submissions.operations import SubmissionError

SHEET_TITLE = "Bao cao"
GUIDE_TITLE = "Huong dan"
BASE_COLUMNS = (("commune_code", "Mã xã"), ("commune_name", "Tên xã"), ("period", "Kỳ báo cáo"))
REQUIRED_BASE = ("commune_code", "period")
CODE_DIGITS = 5
TEMPLATE_SPARE_ROWS = 100
_DASHES = "—–-‒−"
_SPACES = re.compile(r"\s+")


# --- the template ----------------------------------------------------------------------------------------


def _type_text(field):
    return {"integer": "số nguyên ≥ 0", "boolean": "có / không", "choice": "chọn một giá trị"}[field.type]


def _allowed_text(field):
    if field.type == "integer":
        return "0, 1, 2, … (chỉ chữ số, không dấu phân cách, không số thập phân)"
    if field.type == "boolean":
        return "có, không"
    return "; ".join(f"{choice['value']} ({choice['vi']})" for choice in field.choices)


def build_template(form, period, communes):
    """The XLSX template of `form` for `period`, one row per commune (`.code`, `.name`), values left empty.

    Sheet "Bao cao": row 1 the Vietnamese column names, row 2 the column codes (read back by `read_table`),
    data from row 3; drop-down lists for yes/no and choice fields, whole numbers ≥ 0 for counts. Sheet
    "Huong dan": one line per column with its type and allowed values."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    columns = list(BASE_COLUMNS) + [(field.code, field.labels["vi"]) for field in form.fields]
    bold = Font(bold=True)
    code_font = Font(italic=True, color="666666", size=9)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for index, (code, label) in enumerate(columns, start=1):
        label_cell = sheet.cell(row=1, column=index, value=label)
        label_cell.font = bold
        label_cell.fill = header_fill
        label_cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.cell(row=2, column=index, value=code).font = code_font
        width = 12 if code == "commune_code" else 30 if code == "commune_name" else 12 if code == "period" else 18
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.row_dimensions[1].height = 75
    for row, unit in enumerate(communes, start=3):
        code_cell = sheet.cell(row=row, column=1, value=str(unit.code))
        code_cell.number_format = "@"
        sheet.cell(row=row, column=2, value=unit.name)
        period_cell = sheet.cell(row=row, column=3, value=period.code)
        period_cell.number_format = "@"
    last_row = 2 + max(len(communes), TEMPLATE_SPARE_ROWS)
    for index, field in enumerate(form.fields, start=len(BASE_COLUMNS) + 1):
        validation = _validation(field)
        sheet.add_data_validation(validation)
        letter = get_column_letter(index)
        validation.add(f"{letter}3:{letter}{last_row}")
    sheet.freeze_panes = "C3"
    _guide(workbook.create_sheet(GUIDE_TITLE), form, period)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _validation(field):
    if field.type == "integer":
        validation = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
        validation.error = "Nhập một số nguyên không âm (chỉ chữ số)."
    elif field.type == "boolean":
        validation = DataValidation(type="list", formula1='"có,không"', allow_blank=True)
        validation.error = "Chọn «có» hoặc «không»."
    else:
        values = ",".join(choice["value"] for choice in field.choices)
        validation = DataValidation(type="list", formula1=f'"{values}"', allow_blank=True)
        validation.error = f"Chọn một trong: {values}."
    validation.errorTitle = field.labels["vi"][:32]
    validation.showErrorMessage = True
    return validation


def _guide(sheet, form, period):
    bold = Font(bold=True)
    sheet.append([f"{form.names['vi']} — {period.label()} ({period.code})"])
    sheet["A1"].font = bold
    sheet.append([])
    sheet.append(["Mã cột", "Tên cột", "Kiểu", "Bắt buộc", "Giá trị cho phép"])
    for cell in sheet[3]:
        cell.font = bold
    sheet.append(["commune_code", "Mã xã", "văn bản (giữ số 0 ở đầu)", "có", "mã xã trong phạm vi của bạn"])
    sheet.append(["commune_name", "Tên xã", "văn bản", "không", "chỉ để đọc, không được kiểm tra"])
    sheet.append(["period", "Kỳ báo cáo", "văn bản", "có", period.code])
    for field in form.fields:
        sheet.append([field.code, field.labels["vi"], _type_text(field), "có" if field.required else "không",
                      _allowed_text(field)])
    sheet.append([])
    for line in ("Không sửa hoặc xóa dòng 2 của trang «Bao cao» (mã cột).",
                 "Dòng của xã chưa nhập số liệu nào sẽ được bỏ qua; dòng đã nhập phải đủ mọi cột bắt buộc.",
                 "Chỉ cần một dòng sai là cả tệp bị từ chối, không dòng nào được lưu; sửa các lỗi rồi gửi lại.",
                 "Có thể lưu tệp dạng .xlsx hoặc CSV (UTF-8); không dùng dạng .xls cũ."):
        sheet.append([line])
    for letter, width in zip("ABCDE", (26, 60, 24, 10, 60), strict=True):
        sheet.column_dimensions[letter].width = width


# --- reading a file --------------------------------------------------------------------------------------


def _normalise(text):
    text = unicodedata.normalize("NFC", str(text))
    text = _SPACES.sub(" ", text).strip().lstrip(_DASHES).strip()
    return text.casefold()


def _header_names(form):
    names = {}
    for code, label in BASE_COLUMNS:
        names[_normalise(code)] = code
        names[_normalise(label)] = code
    for field in form.fields:
        names[_normalise(field.code)] = field.code
        names[_normalise(field.labels["vi"])] = field.code
    return names


def read_table(data, filename, form):
    """The data rows of an uploaded XLSX or CSV file: [(row number, {column code: raw value})], empty rows left
    out. Row numbers are those the user sees (Excel rows, CSV lines). Raises UploadError with every problem
    of the file or its header; the values themselves are checked by `check_rows`."""
    return _rows_from_table(raw_table(data, filename), form)


def _find_header(table, names):
    """Index in `table` of the header row among the first non-blank rows: the first holding the code
    commune_code (the template's codes row), else the first holding its label (Mã xã), else None."""
    first_rows = table[:HEADER_SEARCH_ROWS]
    for index, (_number, values) in enumerate(first_rows):
        if any(not blank(value) and _normalise(value) == "commune_code" for value in values):
            return index
    for index, (_number, values) in enumerate(first_rows):
        if any(not blank(value) and names.get(_normalise(value)) == "commune_code" for value in values):
            return index
    return None


def _rows_from_table(table, form):
    names = _header_names(form)
    index = _find_header(table, names)
    if index is None:
        raise UploadError([row_error(_("No header row: one of the first %(count)s rows must hold the column codes "
                                       "of the template (commune_code, period, …) or its Vietnamese column names.",
                                       count=HEADER_SEARCH_ROWS))])
    header_row, header = table[index]
    errors, columns, seen = [], {}, set()
    for position, value in enumerate(header):
        if blank(value):
            continue
        code = names.get(_normalise(value))
        if code is None:
            errors.append(row_error(_("unknown column «%(name)s»; use the columns of the template.",
                                      name=str(value).strip()), row=header_row, column=str(value).strip()))
        elif code in seen:
            errors.append(row_error(_("the column %(code)s appears more than once.", code=code),
                                    row=header_row, column=code))
        else:
            seen.add(code)
            columns[position] = code
    for code in list(REQUIRED_BASE) + form.field_codes:
        if code not in seen:
            label = dict(BASE_COLUMNS).get(code) or form.field(code).labels["vi"]
            errors.append(row_error(_("the column %(code)s («%(label)s») is missing.", code=code, label=label),
                                    row=header_row, column=code))
    rows, reported = [], set()
    for number, values in table[index + 1:]:
        for position, value in enumerate(values):
            headless = position >= len(header) or blank(header[position])
            if headless and not blank(value):
                letter = get_column_letter(position + 1)
                if letter not in reported:
                    reported.add(letter)
                    errors.append(row_error(_("this column has values but no header."), row=number, column=letter))
        raw = {code: _raw_value(code, values[position]) for position, code in columns.items()
               if position < len(values)}
        if all(blank(value) for value in raw.values()):
            continue
        rows.append((number, raw))
    if errors:
        raise UploadError(errors)
    return rows


def _raw_value(code, value):
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value).strip()
        if not value:
            return None
    if code == "commune_code" and value is not None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:0{CODE_DIGITS}d}"
        value = str(value)
        # Excel drops the leading zeros of a code it took for a number (also when it saves a CSV)
        return value.zfill(CODE_DIGITS) if value.isascii() and value.isdigit() else value
    if code == "period" and value is not None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()
    return value


# --- checking rows ---------------------------------------------------------------------------------------


def _sort(errors, form):
    order = {code: index for index, code in enumerate([code for code, _label in BASE_COLUMNS] + form.field_codes)}
    return sorted(errors, key=lambda e: (e["row"] or 0, order.get(e["column"], len(order)) if e["column"] else -1))


def check_rows(user, form, period, rows):
    """Check every row read by `read_table` for `period`: its period, its commune (known, a commune, in the
    user's scope, once in the file) and its values. Rows whose values are all empty are skipped.
    Returns ([(row, AdminUnit, raw values by field code)], errors sorted by row and column)."""
    clean, errors = _check_rows(user, form, period, rows)
    return [(row, unit, raw) for row, unit, raw, _typed in clean], errors


def _check_rows(user, form, period, rows):
    """`check_rows`, the clean rows with their typed values too: [(row, AdminUnit, raw, typed)]."""
    clean, errors, first_row_of = [], [], {}
    for row, raw in rows:
        values = {code: raw.get(code) for code in form.field_codes}
        if all(blank(value) for value in values.values()):
            continue
        row_errors = []
        period_value = "" if blank(raw.get("period")) else str(raw.get("period")).strip()
        if not period_value:
            row_errors.append(row_error(_("the period is empty; this upload is for %(period)s.", period=period.code),
                                        row=row, column="period"))
        elif period_value.upper() != period.code:
            row_errors.append(row_error(_("the period «%(value)s» is not %(period)s, the period of this upload.",
                                          value=period_value, period=period.code), row=row, column="period"))
        unit = None
        code = raw.get("commune_code")
        if blank(code):
            row_errors.append(row_error(_("the commune code is missing."), row=row, column="commune_code"))
        else:
            try:
                unit = operations.resolve_commune(user, period, code)
            except SubmissionError as exc:
                row_errors.append(row_error(exc.message, row=row, column="commune_code"))
        if unit is not None:
            if unit.id in first_row_of:
                row_errors.append(row_error(_("the commune %(code)s appears twice (rows %(first)s and %(second)s).",
                                              code=unit.code, first=first_row_of[unit.id], second=row),
                                            row=row, column="commune_code"))
            else:
                first_row_of[unit.id] = row
        typed, field_errors = form.clean(values)
        for field in form.fields:
            if field.code in field_errors:
                row_errors.append(row_error(f"{field.label}: {field_errors[field.code]}", row=row, column=field.code))
        if row_errors:
            errors.extend(row_errors)
        else:
            clean.append((row, unit, values, typed))
    return clean, _sort(errors, form)


# --- importing -------------------------------------------------------------------------------------------


def _existing_upload(user, key):
    return db.session.execute(
        select(Upload).where(Upload.uploaded_by_id == user.id, Upload.idempotency_key == key)
    ).scalar_one_or_none()


def _replay(upload, form, period, data):
    if (upload.form_code, upload.period, upload.sha256) != (form.code, period.code, hashlib.sha256(data).hexdigest()):
        raise SubmissionError("idempotency_conflict", _("This Idempotency-Key was already used for a different "
                                                        "file."), status=409)
    return upload, sorted(upload.submissions, key=lambda submission: submission.id)


def _write(user, key, action, replay):
    """Run `action` in a savepoint, rolled back if it raises; when another request stored the same
    idempotency key meanwhile (IntegrityError), return `replay` of that request's upload instead."""
    savepoint = db.session.begin_nested()
    try:
        result = action()
    except IntegrityError:
        savepoint.rollback()
        existing = _existing_upload(user, key) if key else None
        if existing is None:
            raise
        return replay(existing)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def import_table(user, form, period, filename, data, idempotency_key=None):
    """Import an uploaded XLSX / CSV file for `form` and `period`, all or nothing.

    Returns (Upload, [Submission]): an accepted upload with one new version per filled row, or a rejected
    upload (its `errors` name row and column) and no submission. A repeated idempotency key returns the first
    upload and its submissions without writing anything (SubmissionError 409 if that key was used for another
    file, form or period). Does not commit."""
    def replay(upload):
        return _replay(upload, form, period, data)

    if idempotency_key:
        existing = _existing_upload(user, idempotency_key)
        if existing is not None:
            return replay(existing)

    def reject(errors, count):
        return _write(user, idempotency_key, lambda: (operations.record_upload(
            user, form, period, filename, data, "rejected", rows=count, errors=errors,
            idempotency_key=idempotency_key), []), replay)

    try:
        rows = read_table(data, filename, form)
    except UploadError as exc:
        return reject(exc.errors, 0)
    clean, errors = _check_rows(user, form, period, rows)
    for row, unit, _raw, _typed in clean:
        if operations.open_for_submission(form, period, unit) is not None:
            errors.append(row_error(_("the period %(period)s is approved and locked for %(name)s; only the level "
                                      "above can reopen it.", period=period.code, name=unit.name),
                                    row=row, column="commune_code"))
    if not errors and not clean:
        errors.append(row_error(_("The file has no filled row: enter the values of at least one commune.")))
    if errors:
        return reject(_sort(errors, form), len(rows))

    failure = {}

    def store():
        upload = operations.record_upload(user, form, period, filename, data, "accepted", rows=len(rows),
                                          idempotency_key=idempotency_key)
        submissions = []
        for row, unit, _raw, typed in clean:
            try:  # each row was checked above, once: submit only stores it and gives its verdicts
                submissions.append(operations.submit(user, form, period, unit, typed, "upload", upload=upload,
                                                     checked=True))
            except SubmissionError as exc:
                failure["error"] = row_error(exc.message, row=row, column=None)
                raise
        return upload, submissions

    try:
        return _write(user, idempotency_key, store, replay)
    except SubmissionError:
        return reject([failure["error"]], len(rows))
