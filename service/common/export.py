"""Tables written as files to download: CSV (UTF-8 with a byte-order mark, so Excel reads Vietnamese) and XLSX
(numbers and dates as such, not text).

A downloaded table is opened in a spreadsheet, which runs a text cell beginning with = + - @ (or a tab or a
carriage return) as a formula: every text cell that does is prefixed with an apostrophe, in both formats.
Numbers are never touched (a negative number stays a number)."""
import csv
import io
import re
from datetime import date, datetime

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would read as a formula gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _plain(value):
    """A cell as it goes into a file: numbers and dates kept, None empty, anything else (lazy strings) as text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, date, datetime)):
        return value
    return neutralise(str(value))


def csv_bytes(header, rows):
    """The table as CSV bytes: UTF-8 with a byte-order mark, dates as dd/mm/yyyy."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_plain(cell) for cell in header])
    for row in rows:
        cells = []
        for cell in row:
            cell = _plain(cell)
            cells.append(cell.strftime("%d/%m/%Y") if isinstance(cell, date) else cell)
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(sheets):
    """An XLSX workbook from [(sheet title, header, rows)]: bold frozen header, numbers as numbers, dates as
    dates (dd/mm/yyyy); characters XLSX cannot hold (control characters) are dropped."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "-", str(title))[:31])
        widths = {}

        def clean(cell):
            cell = _plain(cell)
            if isinstance(cell, str):
                cell = ILLEGAL_CHARACTERS_RE.sub("", cell)
            return cell

        for row in [header, *rows]:
            values = [clean(cell) for cell in row]
            sheet.append(values)
            for index, value in enumerate(values, start=1):
                if isinstance(value, str):
                    widths[index] = max(widths.get(index, 8), min(len(value) + 2, 60))
                if isinstance(value, date):
                    sheet.cell(row=sheet.max_row, column=index).number_format = "DD/MM/YYYY"
                    widths[index] = max(widths.get(index, 8), 12)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index, width in widths.items():
            sheet.column_dimensions[get_column_letter(index)].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
