"""Reading the unit CSV files strictly: UTF-8 (a BOM is allowed), an exact header, one error per bad line."""
import csv
import io

from flask_babel import gettext as _

from service.common.errors import DomainError


class UnitFileError(DomainError):
    """The file cannot be imported; `lines` lists (line, message) pairs, line 1 being the header."""

    code = "invalid_file"

    def __init__(self, errors):
        self.lines = errors
        super().__init__("\n".join(f"{_('Line')} {line}: {message}" for line, message in errors),
                         [{"row": line, "message": message} for line, message in errors])


def decode(data):
    """Bytes → text. Anything but UTF-8 is refused with the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnitFileError([(line, _("the file is not UTF-8 text (byte %(byte)s); save it as CSV UTF-8.",
                                      byte=hex(data[exc.start])))]) from None


def read_rows(data, columns):
    """Parse the CSV and return [(line_number, {column: value})]; check the header and the field counts."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise UnitFileError([(1, _("the file is empty."))]) from None
    errors = []
    unknown = [name for name in header if name not in columns]
    missing = [name for name in columns if name not in header]
    if unknown:
        errors.append((1, _("unknown column(s): %(names)s.", names=", ".join(unknown))))
    if missing:
        errors.append((1, _("missing column(s): %(names)s.", names=", ".join(missing))))
    if len(set(header)) != len(header):
        errors.append((1, _("a column appears twice in the header.")))
    if errors:
        raise UnitFileError(errors)
    rows = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors.append((line, _("%(found)d fields, expected %(expected)d.", found=len(row), expected=len(header))))
            continue
        rows.append((line, {name: value.strip() for name, value in zip(header, row, strict=True)}))
    if errors:
        raise UnitFileError(errors)
    return rows
