"""Reading spreadsheet cells (XLSX values or CSV text) the same way in every import: text in NFC without
surrounding spaces, whole numbers read back from Excel's floats, dates as dd/mm/yyyy, ISO or Excel dates."""
import unicodedata
from datetime import date, datetime

from flask_babel import gettext as _

DATE_PATTERNS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")


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
