"""Commune reports from spreadsheets: the template, reading XLSX / CSV in the encodings Vietnamese offices use,
refusing dangerous or wrong files before parsing, and the all-or-nothing import with its errors by row."""
import csv
import io
import re
import tracemalloc
import unicodedata
import zipfile
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from service.approval.operations import lock_period
from service.common import uploads
from service.common.errors import detail_lines as error_lines
from service.forms.registry import Form, get_form
from service.submissions import operations
from service.submissions.imports import (
    UploadError,
    build_template,
    check_rows,
    import_table,
    read_table,
)
from service.submissions.models import Submission, Upload
from service.submissions.operations import SubmissionError
from tests.files import cp1258


@pytest.fixture
def env(make_unit, make_user):
    """Province 66 (2025) with communes 24001, 24002, 00123; province 67 with commune 24100; a data steward of
    province 66; the commune form and period 2026Q3."""
    province = make_unit("province", edition=2025, code="66", name="Tỉnh Đắk Lắk")
    communes = [make_unit("commune", province, code=code, name=name)
                for code, name in (("24001", "Xã Ea Kao"), ("24002", "Xã Hòa Phú"), ("00123", "Xã Số Không"))]
    other_province = make_unit("province", edition=2025, code="67")
    other_commune = make_unit("commune", other_province, code="24100")
    form = get_form("commune_rehab")
    return SimpleNamespace(province=province, communes=communes, other_commune=other_commune, form=form,
                           period=form.parse_period("2026Q3"), user=make_user("data_steward", scope=province))


def good_values(form, **overrides):
    values = {field.code: {"integer": 4, "boolean": "có", "choice": "II"}[field.type] for field in form.fields}
    values.update(overrides)
    return values


def typed_values(form, **overrides):
    values = {field.code: {"integer": 4, "boolean": True, "choice": "II"}[field.type] for field in form.fields}
    values.update(overrides)
    return values


def csv_bytes(form, rows, columns=None, labels=False, delimiter=",", encoding="utf-8"):
    """A CSV file with a header of codes (or Vietnamese labels) and one line per dict of `rows`."""
    columns = columns or ["commune_code", "period", *form.field_codes]
    names = {"commune_code": "Mã xã", "commune_name": "Tên xã", "period": "Kỳ báo cáo"}
    names.update({field.code: field.labels["vi"] for field in form.fields})
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([names.get(code, code) for code in columns] if labels else columns)
    for row in rows:
        writer.writerow(["" if row.get(code) is None else row.get(code) for code in columns])
    text = buffer.getvalue()
    return text.encode(encoding) if isinstance(encoding, str) else encoding(text)


def row_of(env, code, **overrides):
    return {"commune_code": code, "period": "2026Q3", **good_values(env.form, **overrides)}


def filled_template(env, filled):
    """The template for env's communes with the values of `filled` ({commune code: {field: value}})."""
    data = build_template(env.form, env.period, env.communes)
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["Bao cao"]
    codes = [cell.value for cell in sheet[2]]
    for row in sheet.iter_rows(min_row=3):
        values = filled.get(row[0].value)
        for code, value in (values or {}).items():
            row[codes.index(code)].value = value
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def assert_rejected(db, upload, submissions, row, column):
    """The upload is rejected, nothing was stored and one of its errors names `row` and `column`."""
    assert upload.status == "rejected"
    assert submissions == []
    assert count(db, Submission) == 0
    assert any(error["row"] == row and error["column"] == column for error in upload.errors), upload.errors
    return next(error for error in upload.errors if error["row"] == row and error["column"] == column)


def bomb(size_mb):
    """An .xlsx-looking ZIP with one part of `size_mb` MB of zeros (it compresses about a thousand times)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            chunk = bytes(1024 * 1024)
            for _ in range(size_mb):
                part.write(chunk)
    return buffer.getvalue()


# --- the template ----------------------------------------------------------------------------------------


def test_the_template_lists_every_commune_with_codes_kept_as_text_and_input_checks(env):
    workbook = load_workbook(io.BytesIO(build_template(env.form, env.period, env.communes)))
    assert workbook.sheetnames == ["Bao cao", "Huong dan"]
    sheet = workbook["Bao cao"]
    assert [cell.value for cell in sheet[1]][:3] == ["Mã xã", "Tên xã", "Kỳ báo cáo"]
    assert [cell.value for cell in sheet[1]][3:] == [field.labels["vi"] for field in env.form.fields]
    assert [cell.value for cell in sheet[2]] == ["commune_code", "commune_name", "period", *env.form.field_codes]
    assert sheet["A1"].font.bold
    assert [(row[0].value, row[1].value, row[2].value) for row in sheet.iter_rows(min_row=3, max_col=3)] == [
        ("24001", "Xã Ea Kao", "2026Q3"), ("24002", "Xã Hòa Phú", "2026Q3"), ("00123", "Xã Số Không", "2026Q3")]
    assert sheet["A5"].number_format == "@" and sheet["A5"].data_type == "s"
    assert sheet.freeze_panes == "C3"
    validations = {dv.type: dv for dv in sheet.data_validations.dataValidation}
    assert validations["whole"].operator == "greaterThanOrEqual" and validations["whole"].formula1 == "0"
    lists = {dv.formula1 for dv in sheet.data_validations.dataValidation if dv.type == "list"}
    assert lists == {'"có,không"', '"none,I,II,III"'}
    guide = [row for row in workbook["Huong dan"].iter_rows(values_only=True)]
    assert any(row[0] == "key_commune_class" and "II" in row[4] for row in guide)
    assert sum(1 for row in guide if row[0] in env.form.field_codes) == len(env.form.fields)


def test_a_filled_template_is_imported_and_untouched_communes_are_skipped(db, env):
    data = filled_template(env, {"24001": good_values(env.form), "00123": good_values(env.form, relapsed=0)})
    upload, submissions = import_table(env.user, env.form, env.period, "bao-cao.xlsx", data)
    assert upload.status == "accepted" and upload.errors == [] and upload.rows == 3  # rows read
    assert [s.org_unit.code for s in submissions] == ["24001", "00123"]
    stored = db.session.scalars(select(Submission).order_by(Submission.id)).all()
    assert stored == submissions
    assert stored[0].values == typed_values(env.form)
    assert stored[1].values == typed_values(env.form, relapsed=0)
    assert all(s.version == 1 and s.is_current and s.channel == "upload" and s.upload_id == upload.id
               and s.period == "2026Q3" for s in stored)


def test_a_second_upload_makes_a_new_version(db, env):
    import_table(env.user, env.form, env.period, "a.csv", csv_bytes(env.form, [row_of(env, "24001")]))
    _upload, submissions = import_table(env.user, env.form, env.period, "b.csv",
                                        csv_bytes(env.form, [row_of(env, "24001", relapsed=9)]))
    assert submissions[0].version == 2 and submissions[0].values["relapsed"] == 9
    assert count(db, Submission) == 2


def test_codes_that_excel_turned_into_numbers_get_their_leading_zeros_back(env):
    data = filled_template(env, {"00123": good_values(env.form)})
    workbook = load_workbook(io.BytesIO(data))
    workbook["Bao cao"]["A5"] = 123
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_table(buffer.getvalue(), "x.xlsx", env.form)
    assert [(number, raw["commune_code"]) for number, raw in rows] == [(3, "24001"), (4, "24002"), (5, "00123")]
    rows = read_table(csv_bytes(env.form, [row_of(env, "123")]), "x.csv", env.form)
    assert rows[0][1]["commune_code"] == "00123"


# --- CSV encodings and delimiters ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
def test_csv_with_vietnamese_labels_is_read_in_every_encoding(db, env, encoding):
    encode = cp1258 if encoding == "cp1258" else encoding
    columns = ["commune_code", "commune_name", "period", *env.form.field_codes]
    row = {**row_of(env, "24002", key_commune_class="Loại I"), "commune_name": "Xã Hòa Phú"}
    data = csv_bytes(env.form, [row], columns=columns, labels=True, encoding=encode)
    if encoding == "cp1258":
        text = data.decode("cp1258")
        assert unicodedata.normalize("NFC", text) != text  # the tone marks really are combining characters
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    rows = read_table(data, "bao-cao.csv", env.form)
    assert rows == [(2, {**{code: str(value) for code, value in row.items()}, "commune_name": "Xã Hòa Phú"})]
    assert rows[0][1]["key_commune_class"] == unicodedata.normalize("NFC", "Loại I")
    upload, submissions = import_table(env.user, env.form, env.period, "bao-cao.csv", data)
    assert upload.status == "accepted", upload.errors
    assert submissions[0].values == typed_values(env.form, key_commune_class="I")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_delimited_csv(env, delimiter):
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "24002")], labels=True, delimiter=delimiter)
    rows = read_table(data, "x.csv", env.form)
    assert [(number, raw["commune_code"], raw["relapsed"]) for number, raw in rows] == [(2, "24001", "4"),
                                                                                      (3, "24002", "4")]


def test_a_template_saved_as_csv_uses_the_codes_row_and_real_line_numbers(env):
    columns = ["commune_code", "commune_name", "period", *env.form.field_codes]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Mã xã", "Tên xã", "Kỳ báo cáo", *[field.labels["vi"] for field in env.form.fields]])
    writer.writerow(columns)
    writer.writerow(["24001", "Xã Ea Kao", "2026Q3"] + [""] * len(env.form.fields))
    writer.writerow([])
    writer.writerow(["24002", "Xã Hòa\nPhú", "2026Q3", *good_values(env.form).values()])
    writer.writerow(["24003", "", "2026Q3", *good_values(env.form).values()])
    rows = read_table(buffer.getvalue().encode(), "x.csv", env.form)
    assert [(number, raw["commune_code"]) for number, raw in rows] == [(3, "24001"), (5, "24002"), (7, "24003")]


# --- wrong rows: the whole file is refused, the errors name row and column ---------------------------------


def test_unknown_code_not_a_commune_and_outside_the_scope(db, env):
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "99999"), row_of(env, "66"),
                                row_of(env, "24100")])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert "99999" in assert_rejected(db, upload, submissions, 3, "commune_code")["message"]
    assert_rejected(db, upload, submissions, 4, "commune_code")
    assert "24100" in assert_rejected(db, upload, submissions, 5, "commune_code")["message"]
    assert [error["row"] for error in upload.errors] == [3, 4, 5]
    assert upload.rows == 4


@pytest.mark.parametrize("value", ["mười", "12,5", "-3", "1.000"])
def test_bad_numbers_in_csv(db, env, value):
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "24002", relapsed=value)])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    error = assert_rejected(db, upload, submissions, 3, "relapsed")
    assert error["message"].startswith("Số người tái nghiện: ")
    assert len(upload.errors) == 1


@pytest.mark.parametrize("value", [12.5, -3, "mười"])
def test_bad_numbers_in_xlsx(db, env, value):
    data = filled_template(env, {"24001": good_values(env.form), "24002": good_values(env.form, completed=value)})
    upload, submissions = import_table(env.user, env.form, env.period, "x.xlsx", data)
    error = assert_rejected(db, upload, submissions, 4, "completed")
    assert str(value).lstrip("-") in error["message"]


def test_bad_choice_bad_yes_no_and_a_missing_value(db, env):
    data = csv_bytes(env.form, [row_of(env, "24001", key_commune_class="IV", drug_free="có lẽ", completed="")])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert [error["column"] for error in upload.errors] == ["completed", "key_commune_class", "drug_free"]
    assert "IV" in assert_rejected(db, upload, submissions, 2, "key_commune_class")["message"]


def test_a_commune_twice_is_refused_naming_both_rows(db, env):
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "24002"), row_of(env, "24001", relapsed=1)])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    message = assert_rejected(db, upload, submissions, 4, "commune_code")["message"]
    assert "24001" in message and re.search(r"\b2\b.*\b4\b", message)


def test_a_row_of_another_period_is_refused(db, env):
    data = csv_bytes(env.form, [row_of(env, "24001"), {**row_of(env, "24002"), "period": "2026Q2"},
                                {**row_of(env, "00123"), "period": ""}])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert "2026Q2" in assert_rejected(db, upload, submissions, 3, "period")["message"]
    assert_rejected(db, upload, submissions, 4, "period")


def test_a_missing_column_an_unknown_column_and_a_repeated_column(db, env):
    columns = ["commune_code", "period", "ghi_chu", *[c for c in env.form.field_codes if c != "relapsed"], "period"]
    data = csv_bytes(env.form, [row_of(env, "24001")], columns=columns)
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert_rejected(db, upload, submissions, 1, "relapsed")
    assert_rejected(db, upload, submissions, 1, "ghi_chu")
    assert_rejected(db, upload, submissions, 1, "period")
    assert upload.rows == 0


def test_values_in_a_column_without_a_header_are_refused(env):
    lines = csv_bytes(env.form, [row_of(env, "24001")]).split(b"\r\n")
    lines[1] += b",surprise"
    with pytest.raises(UploadError) as caught:
        read_table(b"\r\n".join(lines), "x.csv", env.form)
    assert [(e["row"], e["column"]) for e in caught.value.errors] == [(2, "T")]  # 19 named columns, then T


def test_a_file_without_header_or_without_any_filled_row(db, env):
    upload, _submissions = import_table(env.user, env.form, env.period, "x.csv", b"a,b,c\r\n1,2,3\r\n")
    assert upload.status == "rejected" and upload.errors[0]["row"] is None
    data = build_template(env.form, env.period, env.communes)
    upload, submissions = import_table(env.user, env.form, env.period, "x.xlsx", data)
    assert upload.status == "rejected" and submissions == [] and upload.rows == 3
    assert [(e["row"], e["column"]) for e in upload.errors] == [(None, None)]
    assert count(db, Submission) == 0


def test_check_rows_returns_the_clean_rows_and_sorted_errors(env):
    rows = [(2, row_of(env, "24001")), (3, {**row_of(env, "24002", relapsed="x"), "period": "2025Q3"}),
            (4, {"commune_code": "00123", "period": "2026Q3"})]
    clean, errors = check_rows(env.user, env.form, env.period, rows)
    assert [(row, unit.code) for row, unit, _raw in clean] == [(2, "24001")]
    assert clean[0][2] == good_values(env.form)
    assert [(error["row"], error["column"]) for error in errors] == [(3, "period"), (3, "relapsed")]


# --- files refused before they are parsed ----------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_openpyxl_with_little_memory(db, env, monkeypatch):
    def no_parsing(*args, **kwargs):
        raise AssertionError("openpyxl must not open a zip bomb")

    monkeypatch.setattr(uploads, "load_workbook", no_parsing)
    data = bomb(60)
    assert len(data) < 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(UploadError) as caught:
            read_table(data, "bomb.xlsx", env.form)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 1024 * 1024
    assert len(caught.value.errors) == 2  # the expanded size and the compression ratio
    assert "xl/worksheets/sheet1.xml" in caught.value.errors[1]["message"]
    upload, submissions = import_table(env.user, env.form, env.period, "bomb.xlsx", data)
    assert upload.status == "rejected" and submissions == [] and count(db, Submission) == 0


def test_a_small_part_compressed_too_much_is_refused_too(env, monkeypatch):
    monkeypatch.setattr(uploads, "load_workbook", None)
    with pytest.raises(UploadError) as caught:
        read_table(bomb(2), "bomb.xlsx", env.form)
    assert len(caught.value.errors) == 1 and "xl/worksheets/sheet1.xml" in caught.value.errors[0]["message"]


def test_a_zip_that_is_not_a_workbook_a_damaged_zip_and_too_many_parts(env, monkeypatch):
    monkeypatch.setattr(uploads, "load_workbook", None)
    messages = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    damaged = build_template(env.form, env.period, env.communes)[:2000]
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for number in range(2001):
            archive.writestr(f"xl/media/{number}.txt", "")
    for data in (buffer.getvalue(), damaged, many.getvalue()):
        with pytest.raises(UploadError) as caught:
            read_table(data, "x.xlsx", env.form)
        messages.append(caught.value.errors[0]["message"])
    assert len(set(messages)) == 3


def test_a_damaged_workbook_that_passes_the_zip_checks(env):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<not-a-workbook")
    with pytest.raises(UploadError) as caught:
        read_table(buffer.getvalue(), "x.xlsx", env.form)
    assert caught.value.errors[0]["row"] is None


def test_xls_png_binary_and_empty_files_are_refused(db, env):
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    binary = bytes(range(1, 32)) * 4
    messages = {}
    for name, data in (("old.xls", xls), ("image", png), ("blob.csv", binary), ("empty.csv", b"")):
        upload, submissions = import_table(env.user, env.form, env.period, name, data)
        assert upload.status == "rejected" and submissions == []
        assert [(e["row"], e["column"]) for e in upload.errors] == [(None, None)]
        messages[name] = upload.errors[0]["message"]
    assert "xls" in messages["old.xls"]
    assert messages["image"] == messages["blob.csv"] != messages["old.xls"]
    assert len({messages["old.xls"], messages["image"], messages["empty.csv"]}) == 3
    assert count(db, Upload) == 4 and count(db, Submission) == 0


def test_a_file_over_the_size_limit_is_refused(db, env, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 200)
    data = csv_bytes(env.form, [row_of(env, "24001")])
    assert len(data) > 200
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert upload.status == "rejected" and submissions == [] and upload.size == len(data)
    assert count(db, Submission) == 0


def test_too_many_rows_are_refused(env, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_ROWS", 3)
    data = csv_bytes(env.form, [row_of(env, f"2400{number}") for number in range(20)])
    with pytest.raises(UploadError):
        read_table(data, "x.csv", env.form)


# --- idempotency, locks, a failure while storing ---------------------------------------------------------


def test_the_same_idempotency_key_twice_stores_once(db, env):
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "24002")])
    first, stored = import_table(env.user, env.form, env.period, "x.csv", data, idempotency_key="k-1")
    again, replayed = import_table(env.user, env.form, env.period, "x.csv", data, idempotency_key="k-1")
    assert again.id == first.id and [s.id for s in replayed] == [s.id for s in stored]
    assert count(db, Upload) == 1 and count(db, Submission) == 2
    other = csv_bytes(env.form, [row_of(env, "24001", relapsed=1)])
    with pytest.raises(SubmissionError) as caught:
        import_table(env.user, env.form, env.period, "y.csv", other, idempotency_key="k-1")
    assert caught.value.status == 409
    assert count(db, Upload) == 1 and count(db, Submission) == 2


def test_a_locked_period_is_refused(db, env):
    lock_period(env.user, "commune_rehab", "2026Q3", env.province)
    data = csv_bytes(env.form, [row_of(env, "24001")])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert "2026Q3" in assert_rejected(db, upload, submissions, 2, "commune_code")["message"]


def test_a_refusal_while_storing_rolls_every_row_back(db, env, monkeypatch):
    original = operations.submit

    def submit(user, form, period, unit, raw, channel, **kwargs):
        if unit.code == "24002":
            raise SubmissionError("conflict", "refused for the test")
        return original(user, form, period, unit, raw, channel, **kwargs)

    monkeypatch.setattr(operations, "submit", submit)
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "24002")])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data, idempotency_key="k-2")
    assert upload.status == "rejected" and submissions == []
    assert upload.errors == [{"row": 3, "column": None, "message": "refused for the test"}]
    assert count(db, Submission) == 0 and count(db, Upload) == 1


def test_each_row_of_an_upload_is_checked_once_and_gets_its_verdicts(db, env, monkeypatch):
    """Cleaned, scope-checked and lock-checked by the import, then stored by submit(checked=True) without a second
    round of checks; the instant check still judges every stored version."""
    calls = {"clean": 0, "check_commune": 0, "open_for_submission": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(Form, "clean", counted("clean", Form.clean))
    for name in ("check_commune", "open_for_submission"):
        monkeypatch.setattr(operations, name, counted(name, getattr(operations, name)))
    inconsistent = {"addicts_with_record": 40, "treated_total": 45, "treated_community": 30}  # C01
    data = csv_bytes(env.form, [row_of(env, "24001"), row_of(env, "24002", **inconsistent)])
    upload, submissions = import_table(env.user, env.form, env.period, "x.csv", data)
    assert upload.status == "accepted", upload.errors
    assert calls == {"clean": 2, "check_commune": 2, "open_for_submission": 2}
    assert [s.values for s in submissions] == [typed_values(env.form), typed_values(env.form, **inconsistent)]
    assert "C01" not in {v.rule for v in submissions[0].verdicts}
    assert "C01" in {v.rule for v in submissions[1].verdicts}


def test_error_lines_name_row_and_column(env):
    lines = error_lines([{"row": 3, "column": "period", "message": "sai"}, {"row": 4, "column": None,
                                                                          "message": "thiếu"},
                         {"row": None, "column": None, "message": "tệp rỗng"}])
    assert "3" in lines[0] and "period" in lines[0] and lines[0].endswith(": sai")
    assert "4" in lines[1] and lines[1].endswith(": thiếu")
    assert lines[2] == "tệp rỗng"
