"""Importing the facility registry from XLSX / CSV: create and update with the capacity history kept, files with
errors refused whole (row and column named in Vietnamese), scope, encodings, the admin page and the CLI."""
import unicodedata
from datetime import date
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from service.accounts.scope import Scope
from service.facilities.imports import COLUMNS, FacilityImportError, import_facilities
from service.facilities.models import CapacityChange, Facility
from service.flags.models import Flag
from tests.conftest import csrf_token_from
from tests.files import cp1258

TODAY = date(2026, 11, 20)


def csv_bytes(header, rows, encoding="utf-8"):
    lines = [",".join(header)] + [",".join(str(value) for value in row) for row in rows]
    text = "\r\n".join(lines) + "\r\n"
    if encoding == "cp1258":
        return cp1258(text)
    return text.encode(encoding)




def xlsx_bytes(header, rows):
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    output = BytesIO()
    book.save(output)
    return output.getvalue()


@pytest.fixture
def place(make_unit, make_user):
    class P:
        pass

    p = P()
    p.province = make_unit("province", edition=2025)
    p.commune = make_unit("commune", p.province)
    p.commune_2 = make_unit("commune", p.province)
    p.other_province = make_unit("province", edition=2025)
    p.other_commune = make_unit("commune", p.other_province)
    p.admin = make_user("admin", scope=p.province)
    p.scope = Scope(p.admin)
    return p


def counts(db):
    return (db.session.scalar(select(func.count()).select_from(Facility)),
            db.session.scalar(select(func.count()).select_from(CapacityChange)))


def test_a_clean_file_creates_then_updates_and_keeps_the_capacity_history(place, db):
    header = ["code", "name", "facility_type", "unit_code", "address", "licence_number", "licence_date",
              "licence_expires_on", "capacity_compulsory", "capacity_voluntary", "capacity_from"]
    first = xlsx_bytes(header, [
        ["CS-A", "Cơ sở cai nghiện ma túy tỉnh", "public_rehab", place.province.code, "Ấp 1", "12/GP",
         date(2024, 3, 1), "01/03/2029", 120, 30, "01/01/2026"],
        ["CS-B", "Trạm y tế xã Thử", "Trạm Y tế xã", place.commune.code, "", "", "", "", "", "", ""],
    ])
    assert import_facilities(place.scope, first, user=place.admin, today=TODAY) == {
        "created": 2, "updated": 0, "unchanged": 0}
    a = db.session.scalar(select(Facility).where(Facility.code == "CS-A"))
    b = db.session.scalar(select(Facility).where(Facility.code == "CS-B"))
    assert (a.facility_type, a.org_unit_id, a.licence_date, a.licence_expires_on, a.status) == (
        "public_rehab", place.province.id, date(2024, 3, 1), date(2029, 3, 1), "active")
    assert (b.facility_type, b.org_unit_id) == ("commune_health", place.commune.id)
    history = db.session.scalars(select(CapacityChange).where(CapacityChange.facility_id == a.id)
                                 .order_by(CapacityChange.modality)).all()
    assert [(c.modality, c.places, c.effective_from, c.recorded_by_id) for c in history] == [
        ("compulsory", 120, date(2026, 1, 1), place.admin.id), ("voluntary", 30, date(2026, 1, 1), place.admin.id)]

    # the same file again changes nothing; a new figure from a later date adds to the history
    assert import_facilities(place.scope, first, user=place.admin, today=TODAY)["unchanged"] == 2
    second = csv_bytes(header + ["status", "closed_on"], [
        ["CS-A", "Cơ sở cai nghiện ma túy tỉnh (cơ sở 2)", "public_rehab", place.province.code, "Ấp 1", "12/GP",
         "2024-03-01", "2029-03-01", 150, 30, "2026-06-01", "", ""],
        ["CS-B", "Trạm y tế xã Thử", "commune_health", place.commune.code, "", "", "", "", "", "", "", "closed",
         "30/09/2026"],
        ["CS-C", "Điểm tư vấn", "counselling_point", place.commune_2.code, "", "", "", "", "", "", "",
         "tạm đình chỉ", ""],
    ])
    assert import_facilities(place.scope, second, user=place.admin, today=TODAY) == {
        "created": 1, "updated": 2, "unchanged": 0}
    assert a.name.endswith("(cơ sở 2)")
    assert (b.status, b.closed_on) == ("closed", date(2026, 9, 30))
    c = db.session.scalar(select(Facility).where(Facility.code == "CS-C"))
    assert c.status == "suspended"
    compulsory = db.session.scalars(select(CapacityChange).where(CapacityChange.facility_id == a.id,
                                                                 CapacityChange.modality == "compulsory")
                                    .order_by(CapacityChange.effective_from)).all()
    assert [(row.places, row.effective_from) for row in compulsory] == [(120, date(2026, 1, 1)),
                                                                         (150, date(2026, 6, 1))]
    assert db.session.scalar(select(func.count()).select_from(CapacityChange).where(
        CapacityChange.facility_id == a.id, CapacityChange.modality == "voluntary")) == 1


def test_a_file_with_bad_rows_is_refused_whole_with_each_row_and_column_named(place, db, make_facility):
    make_facility(place.commune, code="CS-OLD")
    before = counts(db)
    header = ["code", "name", "facility_type", "unit_code", "licence_date", "status", "closed_on",
              "capacity_compulsory", "capacity_detox"]
    data = csv_bytes(header, [
        ["CS-1", "Cơ sở đúng", "public_rehab", place.province.code, "01/02/2020", "", "", 10, 2],   # row 2: fine
        ["CS-2", "", "public_rehab", place.commune.code, "", "", "", "", ""],                     # 3: name
        ["CS-3", "Cơ sở 3", "bệnh viện", place.commune.code, "31/02/2020", "", "", "", ""],        # 4: type, date
        ["CS-1", "Trùng mã", "public_rehab", place.commune.code, "", "", "", "", ""],             # 5: repeated code
        ["CS-5", "Cơ sở 5", "private_rehab", "99999", "", "closed", "", "", ""],                  # 6: unit, closed_on
        ["CS-6", "Cơ sở 6", "private_rehab", place.commune.code, "", "", "", "-3", "2.5"],         # 7: numbers
        ["CS-OLD", "Đổi tên", "private_rehab", place.commune.code, "", "đóng băng", "", "", ""],   # 8: status
    ])
    with pytest.raises(FacilityImportError) as refused:
        import_facilities(place.scope, data, user=place.admin, today=TODAY)
    errors = refused.value.errors
    assert [(e["row"], e["column"]) for e in errors] == [
        (3, "name"), (4, "facility_type"), (4, "licence_date"), (5, "code"), (6, "unit_code"), (6, "closed_on"),
        (7, "capacity_compulsory"), (7, "capacity_detox"), (8, "status")]
    messages = {(e["row"], e["column"]): e["message"] for e in errors}
    assert messages[(3, "name")] == "bắt buộc"
    assert "không phải ngày tháng" in messages[(4, "licence_date")]
    assert "dòng 2" in messages[(5, "code")]
    assert "99999" in messages[(6, "unit_code")] and "2025" in messages[(6, "unit_code")]
    assert "ngày" in messages[(6, "closed_on")]
    assert "số nguyên" in messages[(7, "capacity_compulsory")]
    assert "đóng băng" in messages[(8, "status")]
    assert counts(db) == before
    assert db.session.scalar(select(Facility.name).where(Facility.code == "CS-OLD")) != "Đổi tên"


def test_the_header_is_checked_before_any_row(place):
    with pytest.raises(FacilityImportError) as refused:
        import_facilities(place.scope, csv_bytes(["code", "ten", "facility_type"], [["X", "Y", "Z"]]),
                          user=place.admin)
    assert {(e["row"], e["column"]) for e in refused.value.errors} == {(1, "ten"), (1, "name"), (1, "unit_code")}
    with pytest.raises(FacilityImportError) as refused:
        import_facilities(place.scope, b"", user=place.admin)
    assert refused.value.errors[0]["message"] == "Tệp rỗng."


def test_a_unit_or_facility_outside_the_importers_scope_is_refused(place, db, make_facility):
    make_facility(place.other_commune, code="CS-FAR")
    before = counts(db)
    header = ["code", "name", "facility_type", "unit_code"]
    with pytest.raises(FacilityImportError) as refused:
        import_facilities(place.scope, csv_bytes(header, [
            ["CS-X", "Cơ sở X", "public_rehab", place.other_commune.code],
            ["CS-FAR", "Cơ sở xa", "public_rehab", place.commune.code],
        ]), user=place.admin)
    assert [(e["row"], e["column"]) for e in refused.value.errors] == [(2, "unit_code"), (3, "code")]
    assert "ngoài phạm vi" in refused.value.errors[0]["message"]
    assert counts(db) == before


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1258"])
def test_csv_in_utf8_with_bom_and_windows_1258_is_accepted(place, db, encoding):
    header = ["code", "name", "facility_type", "unit_code", "edition", "licence_issuer", "status"]
    data = csv_bytes(header, [
        ["CS-Q", "Cơ sở điều trị Methadone Hòa Phú", "CO SO DIEU TRI THAY THE", place.commune.code, "2025",
         "Sở Y tế", "Đang hoạt động"],
        ["CS-R", "Tổ công tác xã Ea Tu", "tổ công tác cai nghiện ma túy tại gia đình và cộng đồng", place.commune.code,
         "", "UBND xã", ""],
    ], encoding=encoding)
    if encoding == "cp1258":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    assert import_facilities(place.scope, data, user=place.admin)["created"] == 2
    q = db.session.scalar(select(Facility).where(Facility.code == "CS-Q"))
    r = db.session.scalar(select(Facility).where(Facility.code == "CS-R"))
    assert (q.name, q.facility_type, q.licence_issuer, q.status) == (
        "Cơ sở điều trị Methadone Hòa Phú", "substitution_clinic", "Sở Y tế", "active")
    assert unicodedata.is_normalized("NFC", q.name)
    assert (r.facility_type, r.name) == ("commune_group", "Tổ công tác xã Ea Tu")


def test_unit_codes_that_lost_their_leading_zeros_are_found(make_unit, make_user, db):
    province = make_unit("province", edition=2025, code="08")
    commune = make_unit("commune", province, code="02264")
    admin = make_user("admin")
    data = xlsx_bytes(["code", "name", "facility_type", "unit_code"],
                      [["Z1", "Cơ sở 1", "public_rehab", 8], ["Z2", "Cơ sở 2", "commune_health", 2264]])
    import_facilities(Scope(admin), data, user=admin)
    units = dict(db.session.execute(select(Facility.code, Facility.org_unit_id).where(Facility.code.like("Z%"))).all())
    assert units == {"Z1": province.id, "Z2": commune.id}


def test_the_import_refreshes_the_facility_flags(place, db):
    header = ["code", "name", "facility_type", "unit_code", "licence_number", "licence_expires_on"]
    data = csv_bytes(header, [["CS-L", "Cơ sở L", "private_rehab", place.commune.code, "7/GP", "01/10/2026"]])
    import_facilities(place.scope, data, user=place.admin, today=TODAY)
    facility = db.session.scalar(select(Facility).where(Facility.code == "CS-L"))
    flag = db.session.scalar(select(Flag).where(Flag.facility_id == facility.id, Flag.rule == "F05"))
    assert (flag.severity, flag.status) == ("error", "open")


def test_the_import_page_is_for_administrators(client, login, place, make_user, db):
    steward = make_user("data_steward", scope=place.province)
    login(steward)
    assert client.get("/admin/facility-import/").status_code == 403
    login(place.admin)
    page = client.get("/admin/facility-import/")
    assert page.status_code == 200
    template = client.get("/admin/facility-import/template.xlsx")
    book = load_workbook(BytesIO(template.data))
    assert [cell.value for cell in book.worksheets[0][1]] == COLUMNS
    assert len(book.worksheets) == 2
    header = "code,name,facility_type,unit_code\n"
    bad = f"{header}CS-P,Cơ sở P,public_rehab,{place.other_commune.code}\n".encode()
    response = client.post("/admin/facility-import/upload", data={
        "csrf_token": csrf_token_from(page.text), "file": (BytesIO(bad), "co-so.csv")})
    assert response.status_code == 200 and 'id="import-errors"' in response.text
    assert "<code>unit_code</code>" in response.text and "ngoài phạm vi" in response.text
    assert db.session.scalar(select(Facility.id).where(Facility.code == "CS-P")) is None
    good = f"{header}CS-P,Cơ sở P,public_rehab,{place.commune.code}\n".encode()
    response = client.post("/admin/facility-import/upload", data={
        "csrf_token": csrf_token_from(page.text), "file": (BytesIO(good), "co-so.csv")})
    assert response.status_code == 302
    assert db.session.scalar(select(Facility.org_unit_id).where(Facility.code == "CS-P")) == place.commune.id


def test_cli_imports_as_an_administrator_and_fails_on_errors(runner, place, db, tmp_path):
    from service.accounts.operations import create_user
    from tests.conftest import PASSWORD

    header = ["code", "name", "facility_type", "unit_code", "capacity_detox"]
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(header, [["CLI-1", "Cơ sở 1", "public_rehab", place.commune.code, "12"]]))
    result = runner.invoke(args=["facilities", "import", str(good), "--as", place.admin.username])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    facility = db.session.scalar(select(Facility).where(Facility.code == "CLI-1"))
    assert db.session.scalar(select(CapacityChange.places).where(CapacityChange.facility_id == facility.id)) == 12
    # (the CLI shares the test's session: a failing command rolls back, so it runs last)
    steward = create_user("steward-cli", "data_steward", PASSWORD, scope_unit=place.province)
    result = runner.invoke(args=["facilities", "import", str(good), "--as", steward.username])
    assert result.exit_code != 0 and "quản trị" in result.output
    result = runner.invoke(args=["facilities", "import", str(good)])  # the machine's operator: whole country
    assert result.exit_code == 0 and "1 cơ sở không đổi" in result.output, result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(header, [["CLI-1", "Cơ sở 1", "public_rehab", place.commune.code, "nhiều"],
                                       ["CLI-2", "Cơ sở 2", "public_rehab", place.other_commune.code, ""]]))
    result = runner.invoke(args=["facilities", "import", str(bad), "--as", place.admin.username])
    assert result.exit_code != 0
    assert "Dòng 2, cột capacity_detox" in result.output and "Dòng 3, cột unit_code" in result.output
    assert db.session.scalar(select(Facility.id).where(Facility.code == "CLI-2")) is None
    assert db.session.scalar(select(CapacityChange.places).where(CapacityChange.facility_id == facility.id)) == 12
