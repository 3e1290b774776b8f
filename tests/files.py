"""Building upload files in tests the way offices write them."""
import io
import unicodedata

from openpyxl import Workbook

TONES = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text):
    """Text as old Vietnamese Excel writes it in Windows-1258: base letters precomposed, tone marks combining."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            char.encode("cp1258")
            out.append(char)
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out.append(base + "".join(c for c in parts if c in TONES))
    return "".join(out).encode("cp1258")


def workbook_bytes(rows):
    """An XLSX file holding `rows` on its first sheet."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
