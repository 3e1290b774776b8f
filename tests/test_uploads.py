"""The one reader of uploaded files (service/common/uploads.py), on its own: the table of an XLSX or CSV file in
every encoding and delimiter, the name checked against the content, and the cells read the same way by every
import. The imports' own tests (test_submissions_import, test_facilities_import, test_training*) and
test_input.py exercise the ZIP / XML defences through each entry path."""
from datetime import date, datetime

import pytest

from service.common.errors import DomainError
from service.common.uploads import UploadError, cell_count, cell_date, cell_text, raw_table, row_error
from tests.files import cp1258, workbook_bytes


def test_an_upload_error_is_a_domain_error_with_its_lines():
    error = UploadError([row_error("sai", row=3, column="period"), row_error("tệp rỗng")])
    assert isinstance(error, DomainError) and error.code == "invalid_file" and error.status == 400
    assert error.errors == [{"row": 3, "column": "period", "message": "sai"},
                            {"row": None, "column": None, "message": "tệp rỗng"}]
    assert error.message == "sai; tệp rỗng"


def test_a_workbook_gives_its_rows_with_excel_numbers_and_blank_rows_left_out():
    data = workbook_bytes([["code", "name"], [], ["A1", "Trạm", None, ""], [7, 2.5]])
    assert raw_table(data, "x.xlsx") == [(1, ["code", "name"]), (3, ["A1", "Trạm"]), (4, [7, 2.5])]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_a_csv_file_in_every_encoding_and_delimiter(encoding, delimiter):
    text = delimiter.join(["code", "name"]) + "\r\n" + delimiter.join(["A1", "Trạm y tế xã Hòa Phú"]) + "\r\n"
    data = cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    assert raw_table(data, "x.csv") == [(1, ["code", "name"]), (2, ["A1", "Trạm y tế xã Hòa Phú"])]


def test_the_name_must_agree_with_the_content():
    workbook = workbook_bytes([["code"]])
    with pytest.raises(UploadError):
        raw_table(b"code\r\nA1\r\n", "x.xlsx")
    with pytest.raises(UploadError):
        raw_table(workbook, "x.csv")
    with pytest.raises(UploadError):
        raw_table(b"code\r\nA1\r\n", "x.pdf")
    assert raw_table(workbook, None) == raw_table(workbook, "x.xlsx") == [(1, ["code"])]
    assert raw_table(b"code\r\nA1\r\n", "ds") == [(1, ["code"]), (2, ["A1"])]


def test_cells_are_read_the_same_way_everywhere():
    assert cell_text(None) == "" and cell_text(12.0) == "12" and cell_text(" Hoa\u0300 ") == "Hoà"
    assert cell_date(None) is None and cell_date(" ") is None
    assert cell_date("05/09/2026") == cell_date("2026-09-05") == cell_date("05.09.2026") == date(2026, 9, 5)
    assert cell_date(datetime(2026, 9, 5, 10, 30)) == date(2026, 9, 5)
    with pytest.raises(ValueError, match="dd/mm/yyyy"):
        cell_date("mai")
    assert cell_count(None) is None and cell_count(" ") is None
    assert cell_count(3) == cell_count(3.0) == cell_count(" 3 ") == 3 and cell_count(0) == 0
    for value in (-1, 2.5, True, "3,5", "ba", "-2"):
        with pytest.raises(ValueError):
            cell_count(value)


def test_openpyxl_parses_uploaded_workbooks_through_defusedxml():
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML  # test_input.py sends the "billion laughs" workbook through every entry path
