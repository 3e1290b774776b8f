"""The one reader of uploaded files, for every import (commune reports, the facility registry, training records).

- `raw_table(data, filename)`: the rows of an XLSX or CSV upload, after the checks on the file itself: its size
  (`MAX_UPLOAD_BYTES`) and rows (`MAX_UPLOAD_ROWS`), an old .xls, a name that says another type than the
  content, and for a workbook the ZIP defences (number of parts, compression ratio, declared expansion
  `MAX_UPLOAD_UNCOMPRESSED_BYTES`; openpyxl parses its XML through defusedxml, which refuses entity
  declarations). A CSV file is read in UTF-8 (with or without BOM), UTF-16 with BOM or Windows-1258, always NFC,
  its delimiter (`,` `;` or tab) sniffed from its first record.
- `UploadError`: a file that cannot be read; its `errors` are dicts `{"row", "column", "message"}` (`row_error`
  makes one), which `service.common.errors.detail_lines` formats.
- The cells, read the same way by every import: `cell_text` (NFC, no surrounding spaces, whole numbers read
  back from Excel's floats), `cell_date` (dd/mm/yyyy, ISO or an Excel date), `cell_count` (a whole number ≥ 0).

What the columns mean, and the rules of each kind of row, belong to each area's imports.py.
"""
import csv
import io
import re
import unicodedata
import zipfile
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from openpyxl import load_workbook

from service.common.errors import DomainError

HEADER_SEARCH_ROWS = 10
MAX_COLUMNS = 200
MAX_ZIP_ENTRIES = 2000
MAX_COMPRESSION_RATIO = 200
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_UNCOMPRESSED = 50 * 1024 * 1024
DEFAULT_MAX_ROWS = 10_000
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"
ZIP_MAGIC = b"PK\x03\x04"
DATE_PATTERNS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class UploadError(DomainError):
    """A file that cannot be read as a table; `errors` lists what is wrong (row / column / message)."""

    code = "invalid_file"

    def __init__(self, errors):
        super().__init__("; ".join(error["message"] for error in errors), errors)


def row_error(message, row=None, column=None):
    """One line of an import's errors: `{"row", "column", "message"}` (row and column None when unknown)."""
    return {"row": row, "column": column, "message": message}


def blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


# --- cells -----------------------------------------------------------------------------------------------


def cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def cell_date(value):
    """A date, None for an empty cell; ValueError (in Vietnamese) for anything else."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if not text:
        return None
    for pattern in DATE_PATTERNS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(_("«%(value)s» is not a date (dd/mm/yyyy).", value=text))


def cell_count(value):
    """A whole number ≥ 0, None for an empty cell; ValueError (without a message) for anything else."""
    if blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError
        return value
    text = cell_text(value)
    if not (text.isascii() and text.isdigit()):
        raise ValueError
    return int(text)


# --- reading a file --------------------------------------------------------------------------------------


def _size_text(size):
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def raw_table(data, filename=None):
    """[(row number, [cell values])] of an XLSX or CSV upload, after the checks on the file itself (size, old
    .xls, a name that says another type than the content, ZIP bombs, encodings). The content decides how the file
    is read; a name, when given, must agree with it. Every import (commune reports, facilities, training records)
    reads its files through this."""
    if not data:
        raise UploadError([row_error(_("The file is empty."))])
    limit = current_app.config.get("MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES)
    if len(data) > limit:
        raise UploadError([row_error(_("The file is too large (%(size)s; at most %(limit)s).",
                                       size=_size_text(len(data)), limit=_size_text(limit)))])
    if data.startswith(OLE2_MAGIC):
        raise UploadError([row_error(_("This is an old Excel file (.xls). Open it in Excel, save it as Excel "
                                       "Workbook (.xlsx) or CSV UTF-8, then send it again."))])
    _check_name(filename, data.startswith(ZIP_MAGIC))
    if data.startswith(ZIP_MAGIC):
        return _xlsx_rows(data)
    return _csv_rows(_decode(data))


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".txt")


def _check_name(filename, is_zip):
    """A file named .xlsx must be a workbook and one named .csv a text file; any other type is refused."""
    name = (filename or "").strip().lower()
    if not name or "." not in name.rsplit("/", 1)[-1]:
        return
    if name.endswith(WORKBOOK_SUFFIXES):
        if not is_zip:
            raise UploadError([row_error(_("The file is named .xlsx but is not an Excel workbook: save it again from "
                                           "Excel as Excel Workbook (.xlsx), or as CSV UTF-8 named .csv."))])
    elif name.endswith(TEXT_SUFFIXES):
        if is_zip:
            raise UploadError([row_error(_("The file is named .csv but is not a text file (it is a ZIP archive or a "
                                           "workbook): name a workbook .xlsx, or save it as CSV UTF-8."))])
    else:
        raise UploadError([row_error(_("Only Excel workbooks (.xlsx) and CSV text files (.csv) are accepted."))])


def _check_zip(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # reads the central directory only, inflates nothing
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UploadError([row_error(_("The .xlsx file is damaged and cannot be opened. Open it in Excel, save it "
                                       "again and send it again."))]) from None
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UploadError([row_error(_("This file is a ZIP archive but not an Excel workbook (.xlsx)."))])
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UploadError([row_error(_("The workbook has too many parts (%(count)s; at most %(limit)s).",
                                       count=len(entries), limit=MAX_ZIP_ENTRIES))])
    errors = []
    total = sum(entry.file_size for entry in entries)
    limit = current_app.config.get("MAX_UPLOAD_UNCOMPRESSED_BYTES", DEFAULT_MAX_UNCOMPRESSED)
    if total > limit:
        errors.append(row_error(_("The workbook would expand to %(size)s (at most %(limit)s); it is refused.",
                                  size=_size_text(total), limit=_size_text(limit))))
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if ratio > MAX_COMPRESSION_RATIO:
            errors.append(row_error(_("Part %(name)s of the workbook is compressed %(ratio)s times (at most "
                                      "%(limit)s): a compression bomb, refused.", name=entry.filename,
                                      ratio=int(ratio), limit=MAX_COMPRESSION_RATIO)))
            break
    if errors:
        raise UploadError(errors)


def _xlsx_rows(data):
    """[(row number, [cell values])] of the first sheet, after the ZIP checks. The declared sizes checked by
    _check_zip bound what zipfile inflates: it stops every part at its declared size."""
    _check_zip(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises KeyError, ValueError, XML, ZIP errors
        raise UploadError([row_error(_("The workbook cannot be read. Open it in Excel, save it again as .xlsx "
                                       "and send it again."))]) from None
    try:
        if not workbook.worksheets:
            raise UploadError([row_error(_("The workbook has no sheet."))])
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers declare a wrong size; read the cells that are there
        table = []
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            _append(table, number, values)
        return table
    except UploadError:
        raise
    except Exception:  # noqa: BLE001 - a broken sheet part fails while it is read
        raise UploadError([row_error(_("The workbook cannot be read. Open it in Excel, save it again as .xlsx "
                                       "and send it again."))]) from None
    finally:
        workbook.close()


def _append(table, number, values):
    """Keep a non-blank row (trailing empty cells dropped); refuse a file with too many rows."""
    values = list(values)
    while values and blank(values[-1]):
        values.pop()
    if not values:
        return
    table.append((number, values))
    limit = current_app.config.get("MAX_UPLOAD_ROWS", DEFAULT_MAX_ROWS)
    if len(table) > limit + HEADER_SEARCH_ROWS:
        raise UploadError([row_error(_("The file has more than %(limit)s rows of data; split it into smaller files.",
                                       limit=limit))])


def _decode(data):
    """Text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1258; always NFC."""
    not_text = UploadError([row_error(_("This file is neither an Excel workbook (.xlsx) nor a CSV text file."))])
    if data.startswith(b"\xef\xbb\xbf"):
        encodings = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    elif b"\x00" in data:
        raise not_text
    else:
        encodings = ("utf-8", "cp1258")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UploadError([row_error(_("The text of the file cannot be read; save it as CSV UTF-8."))])
    text = text.rstrip("\x1a")  # the end-of-file mark of old DOS tools
    if _CONTROL.search(text):
        raise not_text
    return unicodedata.normalize("NFC", text)


def _delimiter(text):
    """The delimiter (',', ';' or tab) that splits the first non-empty record into the most columns."""
    best, best_count = ",", 0
    for candidate in (",", ";", "\t"):
        try:
            reader = csv.reader(io.StringIO(text[:65536], newline=""), delimiter=candidate)
            first = next((record for record in reader if any(cell.strip() for cell in record)), [])
        except csv.Error:
            continue
        if len(first) > best_count:
            best, best_count = candidate, len(first)
    return best


def _csv_rows(text):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    table = []
    line = 0
    try:
        for record in reader:
            _append(table, line + 1, record[:MAX_COLUMNS])
            line = reader.line_num
    except csv.Error as exc:
        raise UploadError([row_error(_("The CSV file cannot be read here (%(reason)s).", reason=str(exc)),
                                     row=line + 1)]) from None
    return table
