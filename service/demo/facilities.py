"""Demo facilities for `make run`: a believable set in the five provinces of the plans, with licences, capacity,
eight weeks of weekly censuses and staff who meet the staffing conditions, except for the cases a steward
should find: two facilities over capacity (Đắk Lắk's centre, the one the demo facility manager keeps, and Cà
Mau's detox beds), a centre missing a licensed doctor (Đồng Tháp), a stale census (Vĩnh Long's methadone
clinic) and a licence about to expire (a private facility in Hồ Chí Minh City). Everything goes through the
facilities' own operations, so the checks run as they would for a person entering the figures."""
import random
from datetime import date, timedelta

from sqlalchemy import func, select

from service.demo.training import _name
from service.extensions import db
from service.facilities import operations
from service.facilities.checks import refresh_facility_flags
from service.facilities.models import Census, Facility, StaffingCondition
from service.training.models import QualificationType, RoleCategory
from service.training.operations import create_staff, record_qualification
from service.units.models import AdminUnit

SEED = 116
WEEKS = 8
# province (2025 code) → facilities: (code, name, type, capacity {modality: places}, case)
FACILITIES = {
    "66": [
        ("CSCN-66-01", "Cơ sở cai nghiện ma túy tỉnh Đắk Lắk", "public_rehab",
         {"compulsory": 300, "voluntary": 80, "detox": 30}, "over_capacity"),
        ("TYT-66-BMT", "Trung tâm Y tế thành phố Buôn Ma Thuột", "district_health", {"voluntary": 20}, None),
        ("MMT-66-01", "Cơ sở điều trị Methadone Buôn Ma Thuột", "substitution_clinic", {"substitution": 250}, None),
        ("TV-66-01", "Điểm tư vấn, hỗ trợ điều trị nghiện phường Tân Lợi", "counselling_point", {}, None),
    ],
    "96": [
        ("CSCN-96-01", "Cơ sở cai nghiện ma túy tỉnh Cà Mau", "public_rehab",
         {"compulsory": 200, "voluntary": 60, "detox": 20}, "detox_over"),
        ("MMT-96-01", "Cơ sở điều trị Methadone Cà Mau", "substitution_clinic", {"substitution": 150}, None),
        ("TYT-96-01", "Trạm Y tế phường 5 Cà Mau", "commune_health", {}, None),
    ],
    "86": [
        ("CSCN-86-01", "Cơ sở cai nghiện ma túy tỉnh Vĩnh Long", "public_rehab",
         {"compulsory": 250, "voluntary": 100, "detox": 25}, None),
        ("MMT-86-01", "Cơ sở điều trị Methadone Vĩnh Long", "substitution_clinic", {"substitution": 180},
         "stale_census"),
    ],
    "82": [
        ("CSCN-82-01", "Cơ sở cai nghiện ma túy tỉnh Đồng Tháp", "public_rehab",
         {"compulsory": 350, "voluntary": 120, "detox": 40}, "missing_doctor"),
        ("TYT-82-01", "Trung tâm Y tế huyện Cao Lãnh", "district_health", {"voluntary": 15}, None),
    ],
    "79": [
        ("CSCN-79-01", "Cơ sở cai nghiện ma túy số 1 (Bà Rịa - Vũng Tàu cũ)", "public_rehab",
         {"compulsory": 400, "voluntary": 150, "detox": 40}, None),
        ("CSTN-79-01", "Cơ sở cai nghiện ma túy tư nhân Bình Minh", "private_rehab",
         {"voluntary": 60, "detox": 10}, "licence_expiring"),
    ],
}
QUALIFICATIONS_OF_ROLE = {"medical": ("medical_degree", "practising_licence", "addiction_treatment_cert"),
                          "counselling": ("counselling_cert",)}


def load_demo_facilities(today):
    """Create the demo facilities (the demo manager's CSCN-66-01 is completed if it exists). Skips when any
    census exists. Returns the number of facilities set up."""
    if db.session.scalar(select(func.count()).select_from(Census)):
        return 0
    rng = random.Random(SEED)
    roles = {role.code: role for role in db.session.scalars(select(RoleCategory))}
    types = {kind.code: kind for kind in db.session.scalars(select(QualificationType))}
    conditions = {}
    for condition in db.session.scalars(select(StaffingCondition)):
        conditions.setdefault(condition.facility_type, []).append(condition)
    done = []
    for province_code, items in FACILITIES.items():
        province = db.session.execute(select(AdminUnit).where(
            AdminUnit.edition == 2025, AdminUnit.code == province_code)).scalar_one_or_none()
        if province is None:
            continue
        communes = db.session.scalars(select(AdminUnit).where(
            AdminUnit.province_id == province.id, AdminUnit.level == "commune").order_by(AdminUnit.code)
            .limit(len(items))).all() or [province]
        for index, (code, name, facility_type, capacity, case) in enumerate(items):
            facility = _facility(code, name, facility_type, communes[index % len(communes)], case, rng, today)
            _staff(facility, conditions.get(facility_type, []), roles, types, case, rng, today)
            if capacity:
                operations.set_capacity(None, facility, capacity, date(today.year - 1, 1, 1),
                                        note="Theo quyết định giao chỉ tiêu (dữ liệu mẫu)", today=today)
                _censuses(facility, capacity, case, rng, today)
            done.append(facility.id)
    refresh_facility_flags(done, today=today)
    return len(done)


def _facility(code, name, facility_type, unit, case, rng, today):
    facility = db.session.execute(select(Facility).where(Facility.code == code)).scalar_one_or_none()
    if facility is None:
        facility = Facility(code=code, name=name, org_unit=unit)
        db.session.add(facility)
    issued = date(rng.randint(2019, 2023), rng.randint(1, 12), rng.randint(1, 28))
    facility.name, facility.facility_type, facility.status = name, facility_type, "active"
    facility.address = f"{unit.name} (dữ liệu mẫu)"
    facility.licence_number = f"{rng.randint(10, 999)}/GP-{'SYT' if 'health' in facility_type else 'SLĐTBXH'}"
    facility.licence_date, facility.licence_issuer = issued, "Sở Y tế" if "health" in facility_type else "Sở LĐTBXH"
    facility.licence_expires_on = (today + timedelta(days=25) if case == "licence_expiring"
                                   else date(issued.year + 10, issued.month, issued.day))
    db.session.flush()
    return facility


def _staff(facility, conditions, roles, types, case, rng, today):
    """Enough staff of each role, each holding what their role needs; the Đồng Tháp centre's second licensed
    doctor left last month (the case the staffing check must catch)."""
    needed = {}
    for condition in conditions:
        role = condition.role_category.code
        needed[role] = max(needed.get(role, 0), condition.minimum)
    for role, count in sorted(needed.items()):
        for number in range(count + 1):  # one more than the minimum, as facilities keep a margin
            person = create_staff(f"{facility.code}-{role[:3].upper()}-{number + 1:02d}", _name(rng), roles[role],
                                  facility.org_unit, rng.choice("FM"),
                                  date(rng.randint(1970, 1998), rng.randint(1, 12), rng.randint(1, 28)),
                                  facility=facility, position="Cán bộ", start_date=date(rng.randint(2012, 2022), 1, 1))
            if case == "missing_doctor" and role == "medical" and number > 0:
                continue  # only one doctor holds a practising licence
            for code in QUALIFICATIONS_OF_ROLE.get(role, ()):
                issued = date(rng.randint(2016, today.year - 1), rng.randint(1, 12), 1)
                expires = None if code == "medical_degree" else issued + timedelta(days=365 * 5)
                if expires is not None and expires <= today:
                    expires = today + timedelta(days=rng.randint(200, 900))
                record_qualification(person, types[code], issued, expires, number=f"{rng.randint(1000, 9999)}",
                                     issuer="Sở Y tế")


def _censuses(facility, capacity, case, rng, today):
    """A census every week for WEEKS weeks (the stale case stops six weeks ago); the over-capacity cases end
    above the places."""
    counts = {modality: int(places * rng.uniform(0.6, 0.9)) for modality, places in capacity.items()}
    last_week = 6 if case == "stale_census" else 0
    for week in range(WEEKS - 1, last_week - 1, -1):
        day = today - timedelta(days=7 * week + 2)
        lines = {}
        for modality, places in capacity.items():
            admissions = rng.randint(0, max(1, places // 10))
            discharges = rng.randint(0, max(1, places // 10))
            count = min(max(0, counts[modality] + admissions - discharges), int(places * 0.97))
            if week == last_week and (case == "over_capacity" and modality == "compulsory"
                                      or case == "detox_over" and modality == "detox"):
                count = places + rng.randint(3, 12)
            admissions, discharges = max(admissions, count - counts[modality], 0), discharges
            discharges = counts[modality] + admissions - count
            counts[modality] = count
            lines[modality] = {"admissions": admissions, "discharges": discharges, "current_count": count}
        operations.record_census(None, facility, day, lines, channel="demo", today=today)
