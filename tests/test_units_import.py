"""Importing the official unit lists: counts, idempotence, and bad files that change nothing."""
import pytest
from sqlalchemy import func, select

from service.audit.models import AuditLog
from service.units.csvfile import UnitFileError
from service.units.models import AdminUnit, UnitSuccession
from service.units.operations import COLUMNS, import_edition, import_succession
from tests.conftest import SHARED_DATA

HEADER_2024 = ",".join(COLUMNS[2024])
HEADER_2025 = ",".join(COLUMNS[2025])


def count(db, **where):
    query = select(func.count()).select_from(AdminUnit)
    for key, value in where.items():
        query = query.where(getattr(AdminUnit, key) == value)
    return db.session.scalar(query)


def csv_bytes(*lines, encoding="utf-8"):
    return ("\n".join(lines) + "\n").encode(encoding)


GOOD_2024 = [
    HEADER_2024,
    "96,Tỉnh Cà Mau,964,Thành phố Cà Mau,32002,Phường 9,Phường",
    "96,Tỉnh Cà Mau,964,Thành phố Cà Mau,32005,Phường 4,Phường",
    "96,Tỉnh Cà Mau,966,Huyện U Minh,32071,Thị trấn U Minh,Thị trấn",
]


@pytest.mark.slow
def test_full_official_lists_import_with_their_row_counts_and_a_second_run_changes_nothing(db):
    result_2024 = import_edition((SHARED_DATA / "vn_units_2024.csv").read_bytes(), 2024)
    result_2025 = import_edition((SHARED_DATA / "vn_units_2025.csv").read_bytes(), 2025)
    succession = import_succession((SHARED_DATA / "vn_units_2025_from_2024.csv").read_bytes())
    db.session.commit()

    assert count(db, edition=2024, level="commune") == 10035
    assert count(db, edition=2024, level="province") == 63
    # 691 districts with communes in the list, plus the 5 commune-less districts named by the succession
    assert result_2024.inserted == 63 + 691 + 10035
    assert count(db, edition=2024, level="district") == 696
    assert count(db, edition=2025, level="commune") == 3321
    assert count(db, edition=2025, level="province") == 34
    assert result_2025.inserted == 34 + 3321
    assert succession.inserted == 10572
    assert db.session.scalar(select(func.count()).select_from(UnitSuccession)) == 10572
    audit_rows = db.session.scalar(select(func.count()).select_from(AuditLog)
                                   .where(AuditLog.table_name == "admin_unit"))
    assert audit_rows == 63 + 696 + 10035 + 34 + 3321

    again = import_edition((SHARED_DATA / "vn_units_2024.csv").read_bytes(), 2024)
    again_succession = import_succession((SHARED_DATA / "vn_units_2025_from_2024.csv").read_bytes())
    assert (again.inserted, again.updated) == (0, 0)
    assert (again_succession.inserted, again_succession.updated) == (0, 0)
    assert count(db, edition=2024) == 63 + 696 + 10035

    # codes are reused across editions: 82 is Tiền Giang before the reform and Đồng Tháp after it
    names = dict(db.session.execute(select(AdminUnit.edition, AdminUnit.name).where(AdminUnit.code == "82")).all())
    assert names == {2024: "Tỉnh Tiền Giang", 2025: "Tỉnh Đồng Tháp"}
    buon_ma_thuot = db.session.execute(
        select(AdminUnit).where(AdminUnit.edition == 2024, AdminUnit.code == "643")).scalar_one()
    assert buon_ma_thuot.level == "district" and buon_ma_thuot.parent.code == "66"
    assert count(db, edition=2024, district_id=buon_ma_thuot.id) == 19


def test_a_changed_name_is_updated_in_place_and_audited_with_old_and_new_value(db):
    import_edition(csv_bytes(*GOOD_2024), 2024)
    renamed = [line.replace("Phường 4", "Phường Bốn") for line in GOOD_2024]
    result = import_edition(csv_bytes(*renamed), 2024)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 5)
    unit = db.session.execute(select(AdminUnit).where(AdminUnit.code == "32005")).scalar_one()
    assert unit.name == "Phường Bốn"
    audit = db.session.execute(
        select(AuditLog).where(AuditLog.action == "update", AuditLog.row_id == str(unit.id))).scalar_one()
    assert audit.old_values["name"] == "Phường 4" and audit.new_values["name"] == "Phường Bốn"


BAD_FILES = [
    ("unknown column", csv_bytes(HEADER_2024 + ",population", GOOD_2024[1] + ",100"), 1, "population"),
    ("missing column", csv_bytes(HEADER_2024.replace(",commune_type", ""), "96,Tỉnh Cà Mau,964,TP,32002,Phường 9"), 1,
     "commune_type"),
    ("duplicate commune", csv_bytes(*GOOD_2024, GOOD_2024[1]), 5, "32002"),
    ("commune without district", csv_bytes(*GOOD_2024, "96,Tỉnh Cà Mau,,,32099,Xã Mồ Côi,Xã"), 5, "district"),
    ("wrong encoding", csv_bytes(*GOOD_2024, encoding="utf-16"), 1, "UTF-8"),
    ("windows-1258 bytes", csv_bytes(GOOD_2024[0], GOOD_2024[1])
     + "96,Ca Mau,964,TP,32005,Phường 4,Phường\n".encode().replace("ư".encode(), b"\xfd"), 3, "UTF-8"),
    ("letters in a code", csv_bytes(*GOOD_2024, "96,Tỉnh Cà Mau,964,Thành phố Cà Mau,32A01,Xã Sai,Xã"), 5, "32A01"),
    ("wrong field count", csv_bytes(*GOOD_2024, "96,Tỉnh Cà Mau,964"), 5, "7"),
    ("province renamed mid-file", csv_bytes(*GOOD_2024, "96,Tỉnh Cà Mau Mới,964,Thành phố Cà Mau,32010,Xã Mới,Xã"), 5,
     "Cà Mau Mới"),
]


@pytest.mark.parametrize("label,data,line,fragment", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_with_its_line_and_the_database_is_untouched(db, label, data, line, fragment):
    import_edition(csv_bytes(GOOD_2024[0], "01,Thành phố Hà Nội,001,Quận Ba Đình,00001,Phường Phúc Xá,Phường"), 2024)
    before = count(db)
    audit_before = db.session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(UnitFileError) as error:
        import_edition(data, 2024)
    lines = [number for number, _message in error.value.lines]
    assert line in lines, error.value.lines
    assert fragment in str(error.value)
    assert count(db) == before
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audit_before


def test_cli_import_reports_the_line_in_vietnamese_and_exits_non_zero(runner, tmp_path, db):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(*GOOD_2024, GOOD_2024[2]))
    result = runner.invoke(args=["units", "import", "--edition", "2024", str(bad)])
    assert result.exit_code != 0
    assert "Dòng 5" in result.output and "trùng" in result.output
    assert "không thay đổi" in result.output
    assert count(db) == 0


def test_cli_import_then_succession_of_a_small_file(runner, tmp_path, db):
    old = tmp_path / "old.csv"
    old.write_bytes(csv_bytes(*GOOD_2024))
    new = tmp_path / "new.csv"
    new.write_bytes(csv_bytes(HEADER_2025, "96,Tỉnh Cà Mau,32002,Phường An Xuyên,Phường"))
    succession = tmp_path / "succ.csv"
    from service.units.operations import SUCCESSION_COLUMNS
    succession.write_bytes(csv_bytes(
        ",".join(SUCCESSION_COLUMNS),
        "96,Tỉnh Cà Mau,964,Thành phố Cà Mau,32002,Phường 9,96,Tỉnh Cà Mau,32002,Phường An Xuyên,full,high",
        "96,Tỉnh Cà Mau,964,Thành phố Cà Mau,32005,Phường 4,96,Tỉnh Cà Mau,32002,Phường An Xuyên,full,high",
        "96,Tỉnh Cà Mau,999,Huyện Đảo,,,96,Tỉnh Cà Mau,32002,Phường An Xuyên,full,high",
    ))
    for args in (["units", "import", "--edition", "2024", str(old)], ["units", "import", "--edition", "2025", str(new)],
                 ["units", "succession", str(succession)]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    assert "inserted=3" in result.output
    island = db.session.execute(
        select(AdminUnit).where(AdminUnit.edition == 2024, AdminUnit.code == "999")).scalar_one()
    assert island.level == "district" and island.parent.code == "96"
    actors = set(db.session.scalars(select(AuditLog.actor).where(AuditLog.table_name == "unit_succession")))
    assert all(actor.startswith("cli:") for actor in actors) and actors
