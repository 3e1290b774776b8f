"""Demo data for `make run`: the official units when they are available, else a small synthetic hierarchy for the
five provinces of the plans; one facility; one user per role with a random password."""
import os
import secrets
from pathlib import Path

from sqlalchemy import func, select

from service.accounts.models import User
from service.accounts.operations import create_user
from service.extensions import db
from service.facilities.models import Facility
from service.units.models import AdminUnit
from service.units.operations import ImportResult, import_edition, import_succession, unit_values, upsert_level

UNIT_FILES = {2024: "vn_units_2024.csv", 2025: "vn_units_2025.csv"}
SUCCESSION_FILE = "vn_units_2025_from_2024.csv"
# (2024 code, 2024 name, 2025 code, 2025 name): the provinces of the plans in DESIGN.md.
PLAN_PROVINCES = [
    ("96", "Tỉnh Cà Mau", "96", "Tỉnh Cà Mau"),
    ("66", "Tỉnh Đắk Lắk", "66", "Tỉnh Đắk Lắk"),
    ("86", "Tỉnh Vĩnh Long", "86", "Tỉnh Vĩnh Long"),
    ("87", "Tỉnh Đồng Tháp", "82", "Tỉnh Đồng Tháp"),
    ("77", "Tỉnh Bà Rịa - Vũng Tàu", "79", "Thành phố Hồ Chí Minh"),
]
SYNTHETIC = " (mô phỏng)"
DEMO_ROLES = [
    ("admin", "admin", None, "Quản trị hệ thống"),
    ("dieuphoi", "training_coordinator", "training_province", "Điều phối viên đào tạo"),
    ("giamsat", "data_steward", "province", "Cán bộ giám sát dữ liệu"),
    ("coso", "facility_manager", "facility", "Quản lý cơ sở cai nghiện"),
    ("baocaoxa", "commune_reporter", "commune", "Cán bộ báo cáo xã"),
]


def units_loaded(edition):
    return db.session.scalar(select(func.count()).select_from(AdminUnit).where(AdminUnit.edition == edition)) > 0


def load_official_units(units_dir):
    """Import both editions and the succession from `units_dir` (skipping an edition already loaded)."""
    done = []
    for edition, name in UNIT_FILES.items():
        if not units_loaded(edition):
            import_edition(Path(units_dir, name).read_bytes(), edition)
            done.append(name)
    if done:
        import_succession(Path(units_dir, SUCCESSION_FILE).read_bytes())
        done.append(SUCCESSION_FILE)
    return done


def build_synthetic_units():
    """A small, clearly synthetic hierarchy (names end in '(mô phỏng)'): the five plan provinces in both
    editions, two districts of three communes each in 2024, four communes each in 2025."""
    result = ImportResult()
    provinces = {}
    for edition, index in ((2024, 0), (2025, 2)):
        provinces[edition] = upsert_level(edition, {
            row[index]: {**unit_values(edition, row[index], row[index + 1], "province", "", True),
                         "parent_id": None, "province_id": None, "district_id": None}
            for row in PLAN_PROVINCES
        }, result)
    districts, communes_2024, communes_2025 = {}, {}, {}
    for number, (code24, _n, code25, _m) in enumerate(PLAN_PROVINCES):
        for d in range(2):
            dcode = f"{980 + number * 2 + d}"
            districts[dcode] = {**unit_values(2024, dcode, f"Huyện Mẫu {number + 1}.{d + 1}{SYNTHETIC}", "district",
                                              "Huyện", True),
                                "parent_id": provinces[2024][code24], "province_id": provinces[2024][code24],
                                "district_id": None}
        for c in range(4):
            ccode = f"99{number}{c:02d}"
            communes_2025[ccode] = {**unit_values(2025, ccode, f"Xã Mẫu {number + 1}.{c + 1}{SYNTHETIC}", "commune",
                                                  "Xã", True),
                                    "parent_id": provinces[2025][code25], "province_id": provinces[2025][code25],
                                    "district_id": None}
    district_ids = upsert_level(2024, districts, result)
    for dcode in districts:
        province_id = districts[dcode]["province_id"]
        for c in range(3):
            ccode = f"9{dcode}{c}"
            communes_2024[ccode] = {**unit_values(2024, ccode, f"Xã Mẫu {dcode}.{c + 1}{SYNTHETIC}", "commune",
                                                  "Xã", True),
                                    "parent_id": district_ids[dcode], "province_id": province_id,
                                    "district_id": district_ids[dcode]}
    upsert_level(2024, communes_2024, result)
    upsert_level(2025, communes_2025, result)
    return result


def demo_places():
    """The province of Đắk Lắk (66) in the current edition, and its first commune by code."""
    province = db.session.execute(
        select(AdminUnit).where(AdminUnit.edition == 2025, AdminUnit.code == "66")).scalar_one()
    commune = db.session.execute(
        select(AdminUnit).where(AdminUnit.province_id == province.id, AdminUnit.level == "commune")
        .order_by(AdminUnit.code).limit(1)
    ).scalar_one()
    return province, commune


def ensure_demo_facility(commune):
    facility = db.session.execute(select(Facility).where(Facility.code == "CSCN-66-01")).scalar_one_or_none()
    if facility is None:
        facility = Facility(code="CSCN-66-01", name="Cơ sở cai nghiện ma túy tỉnh Đắk Lắk (dữ liệu mẫu)",
                            org_unit=commune, address="Dữ liệu mẫu")
        db.session.add(facility)
        db.session.flush()
    return facility


def ensure_demo_users(logins_path):
    """One user per role. Passwords are random, written once to `logins_path` (mode 600) and reprinted."""
    path = Path(logins_path)
    province, commune = demo_places()
    facility = ensure_demo_facility(commune)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    known = {line.split()[0] for line in lines if line.strip()}
    for username, role, scope, full_name in DEMO_ROLES:
        exists = db.session.scalar(select(User.id).where(User.username == username))
        if exists:
            continue
        password = secrets.token_urlsafe(9)
        training_province = db.session.execute(select(AdminUnit).where(
            AdminUnit.edition == 2025, AdminUnit.code == "96")).scalar_one_or_none() or province
        create_user(username, role, password,
                    scope_unit={"province": province, "commune": commune, "training_province": training_province}
                    .get(scope),
                    facility=facility if scope == "facility" else None, full_name=full_name)
        lines = [line for line in lines if line.split()[0] != username] if username in known else lines
        lines.append(f"{username} {password} {role}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return lines
