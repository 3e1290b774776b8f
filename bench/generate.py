"""A national data set on the real units, reproducible from a seed, loaded in bulk.

    .venv/bin/python -m bench.generate --database-url URL [--seed N] [--scale 1.0] [--as-of YYYY-MM-DD]

The database at URL (a SQLite file, created if missing, or an existing empty PostgreSQL database) gets the
Alembic migrations, both official unit lists and the succession (service.units.operations), then, at scale 1.0:

- 200,000 staff on the 2025 units (the role categories seeded by the migrations; communes, provinces and
  facilities; about 7 % have left), with the qualifications of medical and counselling staff;
- a course catalogue, classes over ten years and 600,000 attendances and certificates in total (certificates
  issued on completing a certifying course, a few recorded by hand, a few revoked);
- 2,000 facilities (types and provinces spread as in the country), their capacity history and a year of weekly
  censuses (one line per modality, a few corrections);
- ten years of quarterly `commune_rehab` reports for every commune: the 2024 list (10,035 communes) for the
  periods that end before 1 July 2025, the 2025 list (3,321) after; a few % resubmitted; about 6 % flagged
  (the values break the flag's rule), of which about a third still open or explained;
- two training plans per province (2021–2025 and 2026–2030) with their training targets and programme
  indicator targets, one nightly validation run per period, a reporter and a data steward per province.

Every table is written with `session.execute(insert(Model).returning(...), rows)` in chunks, and every audited
table gets its audit rows through service.audit.operations.record_bulk, as the unit imports do. A smaller
`--scale` scales the staff, classes, facilities and the communes that report (a sample of the 2025 communes of
every province and the 2024 communes they succeed); periods, plans and targets stay. The data set is a function
of (seed, scale, as-of date): the same three give the same rows.

Prints the rows and seconds of each table, then one last line of key=value pairs.
"""
import argparse
import json
import math
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.common import backend, bulk_insert, consistent_values, kv_line, load_units, make_app, migrate, say
from service.config import PROJECT_DIR

FORM_CODE = "commune_rehab"
YEARS = 10
STAFF = 200_000
TRAINING_RECORDS = 600_000  # attendances + certificates
FACILITY_TYPES = {  # facilities in the country (scale 1.0)
    "public_rehab": 110, "private_rehab": 60, "substitution_clinic": 330, "district_health": 700,
    "commune_health": 500, "counselling_point": 250, "commune_group": 50,
}
FACILITY_PREFIX = {"public_rehab": "CSCN", "private_rehab": "CSTN", "substitution_clinic": "MMT",
                   "district_health": "TTYT", "commune_health": "TYT", "counselling_point": "TV",
                   "commune_group": "TCT"}
CAPACITY = {  # modality → (min, max) places
    "public_rehab": {"compulsory": (150, 500), "voluntary": (30, 150), "detox": (10, 50)},
    "private_rehab": {"voluntary": (20, 100), "detox": (5, 20)},
    "district_health": {"voluntary": (10, 30)},
    "substitution_clinic": {"substitution": (80, 400)},
}
FACILITY_STAFF = {  # role → staff per facility (±30 %)
    "public_rehab": {"medical": 12, "counselling": 8, "security": 12, "rehab_direct": 14},
    "private_rehab": {"medical": 4, "counselling": 4, "security": 4, "rehab_direct": 3},
    "district_health": {"medical": 8, "counselling": 3, "prevention_treatment": 3},
    "commune_health": {"medical": 3, "prevention_treatment": 1},
    "substitution_clinic": {"medical": 6, "counselling": 3, "security": 1},
    "counselling_point": {"counselling": 3, "volunteer": 2},
    "commune_group": {"rehab_direct": 5, "volunteer": 5},
}
UNIT_STAFF_SHARES = {"volunteer": 0.30, "rehab_direct": 0.24, "prevention_treatment": 0.17,
                     "state_management": 0.13, "counselling": 0.07, "medical": 0.05, "trainer": 0.02,
                     "security": 0.02}
POSITIONS = {
    "medical": ["Bác sĩ", "Y sĩ", "Điều dưỡng"], "counselling": ["Tư vấn viên", "Cán bộ tư vấn"],
    "security": ["Nhân viên bảo vệ"], "trainer": ["Giảng viên nguồn"],
    "state_management": ["Chuyên viên", "Phó Chủ tịch UBND xã", "Công chức văn hóa - xã hội"],
    "rehab_direct": ["Cán bộ quản lý sau cai", "Tổ viên Tổ công tác cai nghiện"],
    "prevention_treatment": ["Cán bộ y tế", "Cán bộ phòng, chống ma túy"],
    "volunteer": ["Tình nguyện viên", "Đội viên Đội công tác xã hội tình nguyện"],
}
LEFT_SHARE = 0.07
# (code, title, topic, hours, certifies, validity months, target roles, weight)
COURSES = [
    ("KT-CB-01", "Kiến thức cơ bản về điều trị nghiện ma túy", "basic_treatment", 24, False, None,
     "prevention_treatment,rehab_direct,volunteer", 14),
    ("KT-CB-02", "Cập nhật kiến thức điều trị nghiện ma túy", "basic_treatment", 16, False, None,
     "prevention_treatment,medical", 6),
    ("TV-01", "Tư vấn điều trị nghiện ma túy (cấp chứng chỉ)", "counselling", 40, True, 36, "counselling", 7),
    ("TV-02", "Tư vấn tâm lý cho người nghiện và gia đình", "counselling", 24, True, 24,
     "counselling,rehab_direct", 5),
    ("QLTH-01", "Quản lý trường hợp và quản lý sau cai nghiện", "case_management", 24, True, 24, "rehab_direct", 9),
    ("QLTH-02", "Quản lý trường hợp nâng cao", "case_management", 16, False, None, "rehab_direct,state_management",
     4),
    ("CTXH-01", "Công tác xã hội trong cai nghiện ma túy", "social_work", 32, True, 36,
     "rehab_direct,volunteer,counselling", 6),
    ("MA-TH", "Điều trị rối loạn do sử dụng ma túy tổng hợp", "synthetic_drugs", 24, True, 24, "medical", 4),
    ("MMT-01", "Điều trị thay thế nghiện các chất dạng thuốc phiện bằng Methadone", "substitution", 40, True, 60,
     "medical", 3),
    ("CS-01", "Kỹ năng chăm sóc người cai nghiện", "caregiver", 16, False, None, "rehab_direct,volunteer,medical", 4),
    ("PL-01", "Pháp luật về phòng, chống ma túy và cai nghiện", "legal", 8, False, None,
     "state_management,rehab_direct,volunteer,security", 6),
    ("BV-01", "Nghiệp vụ bảo vệ cơ sở cai nghiện", "security", 24, False, None, "security", 2),
    ("QLNN-01", "Quản lý nhà nước về cai nghiện ma túy", "management", 16, False, None, "state_management", 6),
    ("QLNN-02", "Bồi dưỡng quản lý nhà nước về phòng, chống ma túy cấp xã", "management", 12, False, None,
     "state_management", 4),
    ("GVN-01", "Tập huấn giảng viên nguồn về điều trị nghiện", "basic_treatment", 40, True, None, "trainer", 1),
]
EXTERNAL_ISSUERS = ["Bệnh viện Tâm thần Trung ương 1", "Trường Đại học Y Hà Nội", "Trường Đại học Lao động - Xã hội",
                    "Viện Sức khỏe Tâm thần", "Trường Đại học Y Dược Thành phố Hồ Chí Minh"]
# (code suffix, period, issued year, [(role, metric, topic, percent, deadline)], [(indicator, direction, value,
# deadline)])
PLANS = [
    ("2021", "giai đoạn 2021–2025", 2021, [
        ("prevention_treatment", "trained", "basic_treatment", 80, date(2025, 12, 31)),
        ("counselling", "certified", "counselling", 50, date(2025, 12, 31)),
        ("medical", "fully_qualified", None, 80, date(2025, 12, 31)),
        ("state_management", "trained", "management", 80, date(2025, 12, 31)),
    ], [
        ("treatment_rate", "at_least", 70, date(2025, 12, 31)),
        ("post_rehab_management_rate", "at_least", 90, date(2025, 12, 31)),
    ]),
    ("2026", "giai đoạn 2026–2030", 2026, [
        ("prevention_treatment", "trained", "basic_treatment", 90, date(2028, 12, 31)),
        ("counselling", "certified", "counselling", 100, date(2030, 12, 31)),
        ("medical", "fully_qualified", None, 100, date(2028, 12, 31)),
        ("state_management", "trained", "management", 100, date(2027, 12, 31)),
        ("rehab_direct", "trained", "case_management", 80, date(2027, 12, 31)),
        ("volunteer", "trained", "basic_treatment", 60, date(2030, 12, 31)),
    ], [
        ("treatment_rate", "at_least", 80, date(2030, 12, 31)),
        ("counselling_rate", "at_least", 80, date(2030, 12, 31)),
        ("post_rehab_management_rate", "at_least", 100, date(2030, 12, 31)),
        ("employment_rate", "at_least", 50, date(2030, 12, 31)),
        ("relapse_rate", "at_most", 15, date(2030, 12, 31)),
        ("community_model_share", "at_least", 40, date(2030, 12, 31)),
    ]),
]
FLAG_SHARE = 0.06
HISTORY_WINDOW = 8  # periods of history the over-time rules read (service.rules.derive)
DRUG_FREE_SHARE = 0.03
RESUBMITTED_SHARE = 0.03
LATE_SHARE = 0.08
FLAG_RULES = [("C01", 8), ("C02", 10), ("C03", 5), ("C04", 5), ("C05", 3), ("C06", 20), ("C07", 14), ("T01", 35)]
# status weights for flags of the last four quarters, and of older ones
FLAG_STATUS_RECENT = {"open": 50, "explained": 20, "accepted": 10, "resolved": 20}
FLAG_STATUS_OLDER = {"open": 20, "explained": 10, "accepted": 25, "resolved": 45}


def stamp(day, hour=9, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def weighted(rng, table):
    keys = list(table)
    return rng.choices(keys, weights=[table[key] for key in keys])[0]


def random_day(rng, start, end):
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


class Tally:
    """Rows and seconds per table, in the order they were written."""

    def __init__(self):
        self.rows, self.seconds = {}, {}

    def add(self, table, rows, seconds):
        self.rows[table] = self.rows.get(table, 0) + rows
        self.seconds[table] = self.seconds.get(table, 0) + seconds

    def insert(self, model, rows, **options):
        started = time.perf_counter()
        ids = bulk_insert(model, rows, **options)
        self.add(model.__table__.name, len(rows), time.perf_counter() - started)
        return ids


class Generator:
    def __init__(self, seed, scale, as_of, tally):
        self.seed, self.scale, self.as_of, self.tally = seed, scale, as_of, tally
        self.rng = random.Random(seed)
        self.counts = {}

    def n(self, full):
        return max(1, round(full * self.scale))

    # --- reference ----------------------------------------------------------------------------------------

    def read_reference(self):
        from service.extensions import db
        from service.training.models import QualificationType, RoleCategory
        from service.units.models import AdminUnit, UnitSuccession

        self.roles = dict(db.session.execute(sa.select(RoleCategory.code, RoleCategory.id)).all())
        self.qualification_types = dict(db.session.execute(sa.select(QualificationType.code,
                                                                     QualificationType.id)).all())
        rows = db.session.execute(sa.select(AdminUnit.id, AdminUnit.edition, AdminUnit.code, AdminUnit.name,
                                            AdminUnit.level, AdminUnit.province_id)
                                  .order_by(AdminUnit.edition, AdminUnit.code)).all()
        self.units = {row.id: row for row in rows}
        self.provinces = {edition: [row for row in rows if row.edition == edition and row.level == "province"]
                          for edition in (2024, 2025)}
        self.communes = {edition: [row for row in rows if row.edition == edition and row.level == "commune"]
                         for edition in (2024, 2025)}
        self.communes_of = {}
        for row in self.communes[2025]:
            self.communes_of.setdefault(row.province_id, []).append(row)
        succession = db.session.execute(sa.select(UnitSuccession.old_unit_id, UnitSuccession.new_unit_id)
                                      .order_by(UnitSuccession.id)).all()
        self.predecessors, self.successors = {}, {}
        for old_id, new_id in succession:
            if self.units[old_id].level != "commune":
                continue
            self.predecessors.setdefault(new_id, []).append(old_id)
            self.successors.setdefault(old_id, []).append(new_id)

    # --- accounts ------------------------------------------------------------------------------------------

    def users(self):
        """A reporter per province of each list (the reports' submitter) and a data steward per 2025 province."""
        import secrets

        from werkzeug.security import generate_password_hash

        from service.accounts.models import User
        from service.demo.training import _name

        unusable = generate_password_hash(secrets.token_hex(16))
        rows = []
        for edition in (2024, 2025):
            for province in self.provinces[edition]:
                rows.append({"username": f"nhaplieu_{edition}_{province.code}", "full_name": _name(self.rng),
                             "password_hash": unusable, "role": "commune_reporter", "scope_unit_id": province.id,
                             "email": "", "session_version": secrets.token_hex(8)})
        for province in self.provinces[2025]:
            rows.append({"username": f"giamsat_{province.code}", "full_name": _name(self.rng),
                         "password_hash": unusable, "role": "data_steward", "scope_unit_id": province.id,
                         "email": "", "session_version": secrets.token_hex(8)})
        ids = self.tally.insert(User, rows)
        by_name = {row["username"]: user_id for row, user_id in zip(rows, ids, strict=True)}
        self.reporter = {province.id: by_name[f"nhaplieu_{edition}_{province.code}"]
                         for edition in (2024, 2025) for province in self.provinces[edition]}
        self.steward = {province.id: by_name[f"giamsat_{province.code}"] for province in self.provinces[2025]}

    # --- facilities ----------------------------------------------------------------------------------------

    def facilities(self):
        from service.facilities.models import Facility

        rng, as_of = self.rng, self.as_of
        provinces = self.provinces[2025]
        weights = [len(self.communes_of.get(p.id, [])) for p in provinces]
        plan = []
        for facility_type, count in FACILITY_TYPES.items():
            wanted = self.n(count)
            chosen = []
            if facility_type == "public_rehab" and wanted >= len(provinces):
                chosen = list(provinces)  # every province runs at least one public centre
            chosen += rng.choices(provinces, weights=weights, k=wanted - len(chosen))
            plan += [(facility_type, province) for province in chosen]
        numbers, rows, self.facility_list = {}, [], []
        for facility_type, province in plan:
            prefix = FACILITY_PREFIX[facility_type]
            numbers[(prefix, province.id)] = number = numbers.get((prefix, province.id), 0) + 1
            commune = rng.choice(self.communes_of[province.id])
            place = commune.name
            name = {
                "public_rehab": f"Cơ sở cai nghiện ma túy số {number} {province.name}",
                "private_rehab": "Cơ sở cai nghiện ma túy tư nhân " + rng.choice(
                    ["Bình Minh", "Hướng Thiện", "Tâm An", "Nhân Ái", "Phúc Khang", "An Khang", "Hy Vọng",
                     "Ánh Dương"]) + f" ({place})",
                "substitution_clinic": f"Cơ sở điều trị Methadone {place}",
                "district_health": f"Trung tâm Y tế khu vực {place}",
                "commune_health": f"Trạm Y tế {place}",
                "counselling_point": f"Điểm tư vấn, hỗ trợ điều trị nghiện {place}",
                "commune_group": f"Tổ công tác cai nghiện ma túy {place}",
            }[facility_type]
            health = facility_type in ("district_health", "commune_health", "substitution_clinic")
            licensed = random_day(rng, date(2012, 1, 1), as_of - timedelta(days=200))
            expires = date(licensed.year + 10, licensed.month, min(licensed.day, 28))
            if rng.random() < 0.03:
                expires = as_of + timedelta(days=rng.randint(5, 55))  # about to expire
            roll = rng.random()
            status = "closed" if roll < 0.03 else "suspended" if roll < 0.05 else "active"
            rows.append({
                "code": f"{prefix}-{province.code}-{number:03d}", "name": name, "facility_type": facility_type,
                "org_unit_id": commune.id, "address": f"{place}, {province.name}",
                "licence_number": f"{rng.randint(10, 999)}/GP-{'SYT' if health else 'SLĐTBXH'}",
                "licence_date": licensed, "licence_issuer": "Sở Y tế" if health else "Sở LĐTBXH",
                "licence_expires_on": expires, "status": status,
                "closed_on": as_of - timedelta(days=rng.randint(30, 700)) if status == "closed" else None,
                "revision": 0,
            })
        ids = self.tally.insert(Facility, rows)
        for row, facility_id in zip(rows, ids, strict=True):
            self.facility_list.append({**row, "id": facility_id,
                                       "province_id": self.units[row["org_unit_id"]].province_id})

    def capacity_and_census(self):
        """Capacity history (an initial decision, a change for a quarter of them) and 52 weekly censuses."""
        from service.facilities.models import CapacityChange, Census, CensusLine

        rng, as_of = self.rng, self.as_of
        capacity_rows, census_plan = [], []
        for facility in self.facility_list:
            ranges = CAPACITY.get(facility["facility_type"])
            if not ranges:
                continue
            first = date(as_of.year - rng.randint(1, 5), rng.randint(1, 12), 1)
            places = {modality: rng.randint(*span) for modality, span in ranges.items()}
            history = [(first, places)]
            if rng.random() < 0.25:
                changed = {m: max(1, int(p * rng.uniform(0.8, 1.3))) for m, p in places.items()}
                history.append((as_of - timedelta(days=rng.randint(30, 300)), changed))
            for effective, values in history:
                for modality, count in values.items():
                    capacity_rows.append({"facility_id": facility["id"], "modality": modality, "places": count,
                                          "effective_from": effective, "recorded_at": stamp(effective, 10),
                                          "note": "Theo quyết định giao chỉ tiêu"})
            facility["revision"] = len(history)
            if facility["status"] != "closed":
                census_plan.append((facility, history))
        self.tally.insert(CapacityChange, capacity_rows)

        census_rows, census_lines, corrections = [], [], []
        for facility, history in census_plan:
            stale = rng.random() < 0.03
            over = rng.random() < 0.02
            last_week = 6 if stale else 0
            offset = rng.randint(1, 4)
            counts = {}
            for week in range(51, last_week - 1, -1):
                day = as_of - timedelta(days=7 * week + offset)
                places = next((values for effective, values in reversed(history) if effective <= day),
                              history[0][1])
                lines = {}
                for modality, capacity in places.items():
                    previous = counts.get(modality, int(capacity * rng.uniform(0.6, 0.9)))
                    admissions = rng.randint(0, max(1, capacity // 10))
                    discharges = rng.randint(0, max(1, capacity // 10))
                    count = min(max(0, previous + admissions - discharges), int(capacity * 0.97))
                    if over and week == last_week and modality != "substitution":
                        count = capacity + rng.randint(3, 12)
                    admissions = max(admissions, count - previous, 0)
                    discharges = previous + admissions - count
                    counts[modality] = count
                    lines[modality] = {"admissions": admissions, "discharges": discharges, "current_count": count}
                census_rows.append({"facility_id": facility["id"], "census_date": day,
                                    "channel": rng.choices(["web", "api", "upload"], weights=[70, 20, 10])[0],
                                    "recorded_at": stamp(day, rng.randint(14, 17), rng.randint(0, 59))})
                census_lines.append(lines)
                facility["revision"] += 1
                if rng.random() < 0.005:
                    corrections.append((len(census_rows) - 1, facility))
        ids = self.tally.insert(Census, census_rows)
        line_rows = [{"census_id": census_id, "modality": modality, **line}
                     for census_id, lines in zip(ids, census_lines, strict=True) for modality, line in lines.items()]
        correction_rows, correction_lines = [], []
        for index, facility in corrections:
            original = census_rows[index]
            correction_rows.append({"facility_id": facility["id"], "census_date": original["census_date"],
                                    "corrects_id": ids[index], "channel": "web",
                                    "correction_reason": "Nhập nhầm số người hiện có, sửa theo sổ theo dõi",
                                    "recorded_at": original["recorded_at"] + timedelta(days=1)})
            correction_lines.append({modality: {**line, "current_count": line["current_count"] + 1,
                                                "admissions": line["admissions"] + 1}
                                     for modality, line in census_lines[index].items()})
            facility["revision"] += 1
        if correction_rows:
            fixed = self.tally.insert(Census, correction_rows)
            line_rows += [{"census_id": census_id, "modality": modality, **line}
                          for census_id, lines in zip(fixed, correction_lines, strict=True)
                          for modality, line in lines.items()]
        self.tally.insert(CensusLine, line_rows)
        self.set_revisions()

    def set_revisions(self):
        from sqlalchemy import bindparam, update

        from service.extensions import db
        from service.facilities.models import Facility

        started = time.perf_counter()
        # a Core statement: the ORM's bulk update by primary key would ask for each row's row_version
        table = Facility.__table__
        rows = [{"facility_id": f["id"], "new_revision": f["revision"]} for f in self.facility_list if f["revision"]]
        if rows:
            db.session.execute(update(table).where(table.c.id == bindparam("facility_id"))
                               .values(revision=bindparam("new_revision")), rows)
        self.tally.add("facility", 0, time.perf_counter() - started)

    # --- staff ---------------------------------------------------------------------------------------------

    def staff(self):
        from service.common.text import fold
        from service.demo.training import _name
        from service.training.models import StaffMember

        rng, as_of = self.rng, self.as_of
        total = self.n(STAFF)
        placements = []  # (role, org unit id, facility id)
        for facility in self.facility_list:
            for role, count in FACILITY_STAFF[facility["facility_type"]].items():
                for _ in range(max(1, round(count * rng.uniform(0.7, 1.3)))):
                    placements.append((role, facility["org_unit_id"], facility["id"]))
        placements = placements[:total]
        rest = total - len(placements)
        roles = list(UNIT_STAFF_SHARES)
        shares = [UNIT_STAFF_SHARES[role] for role in roles]
        communes, provinces = self.communes[2025], self.provinces[2025]
        for _ in range(rest):
            role = rng.choices(roles, weights=shares)[0]
            at_province = role == "trainer" or (role == "state_management" and rng.random() < 0.2)
            unit = rng.choice(provinces) if at_province else rng.choice(communes)
            placements.append((role, unit.id, None))
        folded, rows = {}, []
        self.staff_pool = {}  # (province id, role) → [(id, start, end)]
        for number, (role, unit_id, facility_id) in enumerate(placements, start=1):
            name = _name(rng)
            if name not in folded:
                folded[name] = fold(name)
            start = random_day(rng, date(2005, 1, 1), as_of - timedelta(days=30))
            end = None
            if rng.random() < LEFT_SHARE:
                end = random_day(rng, start + timedelta(days=180), as_of - timedelta(days=1))
            unit = self.units[unit_id]
            province_code = self.units[unit.province_id or unit.id].code
            rows.append({
                "staff_code": f"{province_code}-{number:07d}", "full_name": name, "search_name": folded[name],
                "date_of_birth": date(rng.randint(1962, 2001), rng.randint(1, 12), rng.randint(1, 28)),
                "sex": rng.choice("FM"), "role_category_id": self.roles[role], "org_unit_id": unit_id,
                "facility_id": facility_id, "position": rng.choice(POSITIONS[role]),
                "employment_status": "left" if end and end <= as_of else "active", "start_date": start,
                "end_date": end,
            })
        ids = self.tally.insert(StaffMember, rows)
        self.staff_rows = []
        for row, staff_id, (role, _unit, _facility) in zip(rows, ids, placements, strict=True):
            unit = self.units[row["org_unit_id"]]
            province_id = unit.province_id or unit.id
            record = (staff_id, row["start_date"], row["end_date"])
            self.staff_pool.setdefault((province_id, role), []).append(record)
            self.staff_rows.append((staff_id, role, province_id, row["start_date"], row["end_date"]))

    def qualifications(self):
        """Medical staff: degree, practising licence, detox certificate; counselling staff: counselling
        certificate; each with a share that does not hold it or let it expire."""
        from service.training.models import Qualification

        rng, as_of = self.rng, self.as_of
        types = self.qualification_types
        rows = []

        def add(staff_id, code, issued, years, issuer):
            expires = None if years is None else date(issued.year + years, issued.month, min(issued.day, 28))
            rows.append({"staff_id": staff_id, "qualification_type_id": types[code], "issued_on": issued,
                         "expires_on": expires, "number": f"{rng.randint(100, 99999)}/{code[:3].upper()}",
                         "issuer": issuer})

        for staff_id, role, _province, start, _end in self.staff_rows:
            if role == "medical":
                if rng.random() < 0.97:
                    add(staff_id, "medical_degree", random_day(rng, date(1988, 6, 1), start), None,
                        rng.choice(["Trường Đại học Y Hà Nội", "Trường Đại học Y Dược Huế",
                                    "Trường Cao đẳng Y tế", "Trường Đại học Y Dược Cần Thơ"]))
                if rng.random() < 0.88:
                    add(staff_id, "practising_licence", random_day(rng, as_of - timedelta(days=6 * 365),
                                                                   as_of - timedelta(days=30)), 5, "Sở Y tế")
                if rng.random() < 0.65:
                    add(staff_id, "addiction_treatment_cert", random_day(rng, as_of - timedelta(days=5 * 365),
                                                                         as_of - timedelta(days=30)), 5, "Sở Y tế")
            elif role == "counselling" and rng.random() < 0.55:
                add(staff_id, "counselling_cert", random_day(rng, max(start, date(2010, 1, 1)), as_of), None,
                    rng.choice(EXTERNAL_ISSUERS))
        self.tally.insert(Qualification, rows)

    # --- training ------------------------------------------------------------------------------------------

    def courses(self):
        from service.training.models import Course

        rows = [{"code": code, "title": title, "topic": topic, "hours": hours, "certifies": certifies,
                 "validity_months": validity, "target_roles": roles}
                for code, title, topic, hours, certifies, validity, roles, _weight in COURSES]
        ids = self.tally.insert(Course, rows)
        self.course_list = [{**row, "id": course_id, "weight": spec[-1]}
                            for row, course_id, spec in zip(rows, ids, COURSES, strict=True)]

    def classes(self):
        """Classes over ten years (a few still to come) until attendances + certificates reach the target."""
        from service.training.models import Attendance, Certificate, TrainingClass
        from service.training.operations import add_months

        rng, as_of = self.rng, self.as_of
        target = self.n(TRAINING_RECORDS)
        hand_share = 0.08
        provinces = self.provinces[2025]
        province_weights = [sum(len(self.staff_pool.get((p.id, role), [])) for role in self.roles) for p in provinces]
        courses = self.course_list
        course_weights = [course["weight"] for course in courses]
        first_day, last_day = date(as_of.year - YEARS, 1, 1), as_of + timedelta(days=90)
        planned, records, pools = [], 0, {}
        while records < target * (1 - hand_share):
            course = rng.choices(courses, weights=course_weights)[0]
            province = rng.choices(provinces, weights=province_weights)[0]
            key = (province.id, course["id"])
            if key not in pools:
                pools[key] = [person for role in course["target_roles"].split(",")
                              for person in self.staff_pool.get((province.id, role), [])]
            pool = pools[key]
            if len(pool) < 5:
                continue
            starts = random_day(rng, first_day, last_day)
            ends = starts + timedelta(days=max(1, math.ceil(course["hours"] / 8)) - 1)
            size = rng.randint(18, 40)
            candidates = rng.sample(pool, min(len(pool), size * 2))
            people = [staff_id for staff_id, start, end in candidates
                      if start <= starts and (end is None or end > ends)][:size]
            if len(people) < 5:
                continue
            organiser = (f"Sở Lao động - Thương binh và Xã hội {province.name}" if starts < date(2025, 3, 1)
                         else f"Sở Y tế {province.name}")
            planned.append((course, province, starts, ends, organiser, people, size))
            records += len(people)
            if course["certifies"] and ends <= as_of:
                records += int(len(people) * 0.86)
        class_rows = [{"course_id": course["id"], "org_unit_id": province.id, "organiser": organiser,
                       "place": f"Hội trường {organiser}", "starts_on": starts, "ends_on": ends,
                       "trainers": "Giảng viên nguồn của tỉnh", "capacity": size + rng.randint(0, 10)}
                      for course, province, starts, ends, organiser, _people, size in planned]
        class_ids = self.tally.insert(TrainingClass, class_rows)

        attendance_rows, certificate_rows, numbers = [], [], {}

        def number_for(issuer, year):
            numbers[(issuer, year)] = count = numbers.get((issuer, year), 0) + 1
            return f"{year}/{count:05d}"

        def certificate(staff_id, course, issuer, issued, class_id):
            revoked = rng.random() < 0.003
            return {"staff_id": staff_id, "course_id": course["id"], "class_id": class_id,
                    "number": number_for(issuer, issued.year), "issuer": issuer, "issued_on": issued,
                    "expires_on": add_months(issued, course["validity_months"]) if course["validity_months"] else None,
                    "revoked_at": stamp(issued + timedelta(days=rng.randint(10, 200))) if revoked else None,
                    "revoked_reason": "Cấp nhầm người, đã thu hồi theo đề nghị của đơn vị" if revoked else None,
                    "created_at": stamp(issued, 15)}

        for class_id, (course, _province, _starts, ends, organiser, people, _size) in zip(class_ids, planned,
                                                                                          strict=True):
            for staff_id in people:
                if ends > as_of:
                    status, pre, post = "registered", None, None
                else:
                    roll = rng.random()
                    status = "completed" if roll < 0.86 else "failed" if roll < 0.91 else "attended"
                    pre = round(rng.uniform(30, 70), 2)
                    post = round(rng.uniform(30, 49.9) if status == "failed" else rng.uniform(55, 99), 2)
                attendance_rows.append({"class_id": class_id, "staff_id": staff_id, "status": status,
                                        "pre_score": pre, "post_score": post})
                if status == "completed" and course["certifies"]:
                    certificate_rows.append(certificate(staff_id, course, organiser, ends, class_id))
        hand = max(0, target - len(attendance_rows) - len(certificate_rows))
        certifying = [course for course in courses if course["certifies"]]
        eligible = [row for row in self.staff_rows if row[1] in ("medical", "counselling", "rehab_direct")
                    and (row[4] is None or row[4] > first_day)]
        for _ in range(hand if eligible else 0):
            staff_id, _role, _province, start, end = rng.choice(eligible)
            issued = random_day(rng, max(start, first_day), min(end or as_of, as_of))
            certificate_rows.append(certificate(staff_id, rng.choice(certifying), rng.choice(EXTERNAL_ISSUERS),
                                                issued, None))
        self.tally.insert(Attendance, attendance_rows)
        self.tally.insert(Certificate, certificate_rows)

    def plans(self):
        from service.aggregation.models import IndicatorTarget
        from service.training.models import TrainingPlan, TrainingTarget

        rng = self.rng
        plan_rows, targets, indicators = [], [], []
        for province in self.provinces[2025]:
            for suffix, label, year, training, programme in PLANS:
                plan_rows.append({"code": f"KH-{province.code}-{suffix}",
                                  "name": f"Kế hoạch đào tạo, bồi dưỡng cán bộ làm công tác cai nghiện ma túy "
                                          f"{label}, {province.name}",
                                  "number": f"{rng.randint(20, 350)}/KH-UBND",
                                  "issued_on": date(year, rng.randint(1, 4), rng.randint(1, 28))})
                targets.append([(province.id, *item) for item in training])
                indicators.append([(province.id, *item) for item in programme])
        plan_ids = self.tally.insert(TrainingPlan, plan_rows)
        target_rows, indicator_rows = [], []
        for plan_id, items, programme in zip(plan_ids, targets, indicators, strict=True):
            for unit_id, role, metric, topic, percent, deadline in items:
                target_rows.append({"plan_id": plan_id, "scope_unit_id": unit_id, "role_category_id": self.roles[role],
                                    "metric": metric, "topic": topic,
                                    "percent": percent if percent == 100 else percent + rng.choice([-10, 0, 0, 5]),
                                    "deadline": deadline})
            for unit_id, code, direction, value, deadline in programme:
                indicator_rows.append({"plan_id": plan_id, "scope_unit_id": unit_id, "indicator_code": code,
                                       "direction": direction, "value": value, "baseline": None,
                                       "baseline_note": "", "deadline": deadline})
        self.tally.insert(TrainingTarget, target_rows)
        self.tally.insert(IndicatorTarget, indicator_rows)

    # --- reports -------------------------------------------------------------------------------------------

    def reporting_communes(self):
        """2025 communes (a sample of each province below scale 1) and the 2024 communes before them."""
        rng = random.Random(f"{self.seed}:communes")
        if self.scale >= 1:
            return self.communes[2024], self.communes[2025]
        chosen = []
        for province in self.provinces[2025]:
            communes = self.communes_of.get(province.id, [])
            chosen += rng.sample(communes, min(len(communes), max(1, round(len(communes) * self.scale))))
        chosen.sort(key=lambda unit: unit.code)
        old_ids = {old_id for unit in chosen for old_id in self.predecessors.get(unit.id, [])}
        return [unit for unit in self.communes[2024] if unit.id in old_ids], chosen

    def reports(self):
        from service.extensions import db
        from service.flags.models import Flag
        from service.flags.operations import values_hash
        from service.forms.periods import period_containing
        from service.forms.registry import get_form
        from service.submissions.models import Submission
        from service.validation.models import ValidationRun

        rng, as_of = self.rng, self.as_of
        form = get_form(FORM_CODE)
        rules = rule_meta()
        last = period_containing(as_of, "quarter").previous()
        periods = [last]
        while len(periods) < YEARS * 4:
            periods.append(periods[-1].previous())
        periods.reverse()
        old, new = self.reporting_communes()
        base = {}
        for unit in old:
            unit_rng = random.Random(f"{self.seed}:{unit.code}")
            base[unit.id] = unit_rng.choice([unit_rng.randint(3, 25), unit_rng.randint(20, 90)])
        for unit in new:
            parts = self.predecessors.get(unit.id, [])
            total = sum(base.get(old_id, 0) / len(self.successors.get(old_id, [None])) for old_id in parts)
            base[unit.id] = max(2, round(total)) if parts else random.Random(f"{self.seed}:{unit.code}").randint(5, 60)
        drug_free = {unit.id for unit in old + new if random.Random(f"{self.seed}:free:{unit.id}").random()
                     < DRUG_FREE_SHARE}
        steward_of = {}
        for unit in new:
            steward_of[unit.id] = self.steward[unit.province_id]
        for unit in old:
            successor = self.successors.get(unit.id)
            steward_of[unit.id] = self.steward[self.units[successor[0]].province_id] if successor else None
        fallback_steward = next(iter(self.steward.values()))
        history = {}  # commune id → [(period code, current values)] of the last HISTORY_WINDOW periods, as validated
        statuses = {"recent": FLAG_STATUS_RECENT, "older": FLAG_STATUS_OLDER}
        rule_codes, rule_weights = zip(*FLAG_RULES, strict=True)
        totals = {"reports": 0, "versions": 0, "flags": 0, "open_flags": 0}
        for index, period in enumerate(periods):
            communes = old if period.edition == 2024 else new
            age = len(periods) - 1 - index
            step = index // 4
            growth = 1 + 0.005 * index
            previous_code = period.previous().code
            run_id = self.tally.insert(ValidationRun, [{
                "slot": f"nightly:{FORM_CODE}:{period.code}", "trigger": "nightly", "form_code": FORM_CODE,
                "periods": [period.code], "status": "completed",
                "started_at": stamp(form.due_date(period) + timedelta(days=1), 19),
                "heartbeat_at": stamp(form.due_date(period) + timedelta(days=1), 19, 1),
                "finished_at": stamp(form.due_date(period) + timedelta(days=1), 19, 1),
                "duration_s": round(rng.uniform(0.8, 1.6), 2), "suite_hashes": {}, "reports_checked": len(communes),
                "owner": "scheduler@bench"}])[0]
            dues, first, second, flags = {}, [], [], []
            for unit in communes:
                province_id = unit.province_id
                if province_id not in dues:
                    dues[province_id] = form.due_date(period, self.units[province_id])
                due = dues[province_id]
                values = consistent_values(rng, max(1, int(base[unit.id] * growth)), step, unit.id in drug_free)
                late = rng.random() < LATE_SHARE
                moment = stamp(due + timedelta(days=rng.randint(3, 25)) if late else due - timedelta(
                    days=rng.randint(0, 12)), rng.randint(0, 9), rng.randint(0, 59))  # 07–16 h in Vietnam
                row = {"form_code": FORM_CODE, "form_version": form.version, "period": period.code,
                       "period_type": period.kind, "org_unit_id": unit.id, "version": 1, "is_current": True,
                       "status": "submitted", "values": values, "submitted_at": moment,
                       "submitted_by_id": self.reporter[province_id], "channel": rng.choice(["web", "api"]),
                       "due_date": due, "on_time": not late}
                past = history.get(unit.id, [])
                previous = past[-1][1] if past and past[-1][0] == previous_code else None
                flag = None
                if unit.id not in drug_free and rng.random() < FLAG_SHARE:
                    rule = rng.choices(rule_codes, weights=rule_weights)[0]
                    if rule == "T01" and previous is None:
                        rule = "C06"  # a jump needs the previous period
                    status = weighted(rng, statuses["recent" if age < 4 else "older"])
                    row["values"] = spoil(dict(values), rule, past, previous)
                    flag = (rule, status, derived(row["values"], past, previous))
                # a resolved flag: the first version broke the rule, the second passes; otherwise a few reports
                # are sent again with one figure corrected (never one whose flag is still to be worked)
                resubmitted = flag[1] == "resolved" if flag else rng.random() < RESUBMITTED_SHARE
                current = row["values"]
                if resubmitted:
                    row["is_current"] = False
                    current = dict(values)
                    if flag is None:
                        current["prevention_reached"] += rng.randint(1, 9)
                first.append(row)
                second.append((row, current if resubmitted else None, flag))
                history[unit.id] = [*past[-(HISTORY_WINDOW - 1):], (period.code, current)]
            first_ids = self.tally.insert(Submission, first)
            versions = [{**row, "version": 2, "is_current": True, "values": values, "supersedes_id": first_id,
                         "submitted_at": row["submitted_at"] + timedelta(days=rng.randint(1, 20)), "on_time": False}
                        for (row, values, _flag), first_id in zip(second, first_ids, strict=True) if values is not None]
            version_ids = iter(self.tally.insert(Submission, versions))
            for (row, values, flag), first_id in zip(second, first_ids, strict=True):
                current_id = next(version_ids) if values is not None else first_id
                if flag is None:
                    continue
                rule, status, checked = flag
                meta = rules[rule]
                observed = {column: checked.get(column) for column in meta["columns"]}
                digest = values_hash(observed)
                opened = row["submitted_at"] + timedelta(days=1)
                steward = steward_of.get(row["org_unit_id"]) or fallback_steward
                flags.append({
                    "subject": "report", "submission_id": current_id if status == "resolved" else first_id,
                    "org_unit_id": row["org_unit_id"], "form_code": FORM_CODE, "period": period.code, "rule": rule,
                    "severity": meta["severity"], "status": status, "message_vi": meta["message_vi"],
                    "message_en": meta["message_en"], "observed": observed, "values_hash": digest,
                    "opened_at": opened, "updated_at": opened + timedelta(days=rng.randint(0, 30)),
                    "first_run_id": run_id, "last_run_id": run_id,
                    "explanation": "Xã đang rà soát lại hồ sơ quản lý" if status in ("explained", "accepted") else None,
                    "explained_by_id": steward if status in ("explained", "accepted") else None,
                    "explained_at": opened + timedelta(days=3) if status in ("explained", "accepted") else None,
                    "accepted_reason": "Đã đối chiếu với hồ sơ của Công an xã: số liệu đúng" if status == "accepted"
                    else None,
                    "accepted_hash": digest if status == "accepted" else None,
                    "accepted_by_id": steward if status == "accepted" else None,
                    "accepted_at": opened + timedelta(days=5) if status == "accepted" else None,
                    "resolved_at": opened + timedelta(days=rng.randint(2, 25)) if status == "resolved" else None,
                })
            self.tally.insert(Flag, flags)
            started = time.perf_counter()
            db.session.execute(sa.update(ValidationRun).where(ValidationRun.id == run_id).values(
                reports_failing=len(flags), failures=len(flags), flags_opened=len(flags)))
            db.session.commit()
            self.tally.add("validation_run", 0, time.perf_counter() - started)
            totals["reports"] += len(first)
            totals["versions"] += len(first) + len(versions)
            totals["flags"] += len(flags)
            totals["open_flags"] += sum(1 for flag in flags if flag["status"] in ("open", "explained"))
            if index % 5 == 4 or index == len(periods) - 1:
                say(f"  báo cáo đến {period.code}: {totals['reports']:,} báo cáo, {totals['flags']:,} cờ")
        self.counts.update(totals, periods=len(periods), first_period=periods[0].code, last_period=periods[-1].code,
                           communes_old=len(old), communes_new=len(new))


def spoil(values, rule, past, previous):
    """Values that break `rule` (and only it, among the consistency rules); `past` is the commune's history as
    the validation reads it, `previous` the values of the period just before (or None)."""
    if rule == "C01":
        extra = values["addicts_with_record"] + 7 - values["treated_total"]
        values["treated_total"] += extra
        values["treated_community"] += extra
    elif rule == "C02":
        values["treated_community"] += 5
    elif rule == "C03":
        values["post_rehab_managed"] = values["completed"] + 4
    elif rule == "C04":
        values["employed_after_rehab"] = values["post_rehab_managed"] + 3
    elif rule == "C05":  # more relapses than completions to date
        values["relapsed"] = values["completed"] + sum(old.get("completed") or 0 for _code, old in past) + 2
    elif rule == "C06":
        values["vocational_supported"] = values["post_rehab_managed"] + 3
    elif rule == "C07":
        values["counselled_screened"] = values["addicts_with_record"] + values["users_with_record"] + 5
    elif rule == "T01":  # at least doubled, by 5 or more
        values["addicts_with_record"] = max(values["addicts_with_record"] * 3,
                                            2 * previous["addicts_with_record"] + 6)
        values["users_with_record"] = int(values["addicts_with_record"] * 1.5)
    return values


def derived(values, past, previous):
    """The derived columns the flagged rules read, computed as service.rules.derive does (so that a flag's
    observed values, and the hash an acceptance keeps, are those the next validation run computes)."""
    row = dict(values)
    row["modalities_sum"] = sum(values[code] for code in ("treated_compulsory", "treated_voluntary_facility",
                                                          "treated_community", "treated_substitution"))
    row["addicts_plus_users"] = values["addicts_with_record"] + values["users_with_record"]
    row["completed_to_date"] = values["completed"] + sum(old.get("completed") or 0 for _code, old in past)
    for field in ("addicts_with_record", "users_with_record", "treated_total"):
        before = previous.get(field) if previous else None
        row[f"{field}_previous"], row[f"{field}_jump"] = before, 0
        if before is not None and abs(values[field] - before) >= 5 and (
                values[field] > 2 * before or values[field] * 2 < before):
            row[f"{field}_jump"] = 1
    return row


def rule_meta():
    """rule → severity, messages and the columns it reads, from the suites in expectations/."""
    found = {}
    for path in sorted(Path(PROJECT_DIR, "expectations").glob(f"{FORM_CODE}.*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            meta = item.get("meta", {})
            kwargs = item.get("kwargs", {})
            columns = meta.get("columns") or [value for key, value in kwargs.items()
                                              if key in ("column", "column_A", "column_B")]
            found.setdefault(meta["rule"], {"severity": meta["severity"], "message_vi": meta["message_vi"],
                                            "message_en": meta["message_en"], "columns": list(columns)})
    return found


def fast_psycopg_batches():
    """psycopg parses a query's placeholders on the client and caches the result only for short queries (4 kB,
    50 parameters); a batch of 1,000 rows is parsed again each time, which was most of the load time. The full
    batches of a chunk have the same text: let them hit the cache. This process only; without psycopg, nothing."""
    try:
        from psycopg import _queries
    except ImportError:
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = 2_000_000
        _queries.MAX_CACHED_STATEMENT_PARAMS = 40_000


def check_empty():
    from service.extensions import db
    from service.submissions.models import Submission
    from service.training.models import StaffMember
    from service.units.models import AdminUnit

    return not any(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                   for model in (AdminUnit, StaffMember, Submission))


def analyze():
    """Statistics, and on PostgreSQL the visibility map too (VACUUM), as autovacuum leaves a database that has
    been running for a while: without it, index-only scans read the heap after a bulk load."""
    from service.extensions import db

    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def table_counts():
    from service.extensions import db

    names = ["admin_unit", "unit_succession", "user_account", "facility", "facility_capacity", "facility_census",
             "facility_census_line", "staff_member", "qualification", "course", "training_class", "attendance",
             "certificate", "training_plan", "training_target", "indicator_target", "validation_run", "submission",
             "flag", "audit_log"]
    return {name: db.session.scalar(sa.text(f"SELECT count(*) FROM {name}")) for name in names}


def generate(url, seed, scale, as_of):
    from service.audit.operations import act_as
    from service.extensions import db

    total_started = time.perf_counter()
    started = time.perf_counter()
    app = make_app(url)
    migrate(app)
    say(f"Ứng dụng + migrations: {time.perf_counter() - started:.1f} s")
    tally = Tally()
    with app.app_context():
        if not check_empty():
            say("Cơ sở dữ liệu đã có dữ liệu: cần một cơ sở dữ liệu trống.")
            return 2
        act_as(None, "cli:bench-generate", "cli")
        # psycopg sends a plain executemany (the audit rows of record_bulk) as one statement per row, pipelined;
        # batched multi-row INSERTs (SQLAlchemy's "insertmanyvalues") are several times faster. This process only.
        db.engine.dialect.use_insertmanyvalues_wo_returning = True
        fast_psycopg_batches()
        started = time.perf_counter()
        load_units()
        tally.add("admin_unit + unit_succession", 0, time.perf_counter() - started)
        gen = Generator(seed, scale, as_of, tally)
        gen.read_reference()
        steps = [("tài khoản", gen.users), ("cơ sở", gen.facilities), ("công suất + điều tra", gen.capacity_and_census),
                 ("cán bộ", gen.staff), ("văn bằng", gen.qualifications), ("khóa học", gen.courses),
                 ("lớp, học viên, chứng chỉ", gen.classes), ("kế hoạch, chỉ tiêu", gen.plans),
                 ("báo cáo xã, cờ", gen.reports)]
        for label, step in steps:
            started = time.perf_counter()
            step()
            db.session.commit()
            say(f"{label}: {time.perf_counter() - started:.1f} s")
        load_s = time.perf_counter() - total_started
        started = time.perf_counter()
        analyze()
        analyze_s = time.perf_counter() - started
        counts = table_counts()
        db.session.remove()
        db.engine.dispose()
    total_s = time.perf_counter() - total_started
    say("")
    say(f"{'bảng':32} {'dòng (bảng)':>12} {'dòng ghi':>10} {'giây':>8} {'dòng/s':>9}")
    for table, seconds in tally.seconds.items():
        written = tally.rows.get(table, 0)
        rate = f"{written / seconds:,.0f}" if written and seconds else ""
        say(f"{table:32} {counts.get(table, ''):>12} {written:>10,} {seconds:>8.1f} {rate:>9}")
    say(f"{'audit_log':32} {counts['audit_log']:>12} {'(trong các bảng trên)':>20}")
    say(f"(VACUUM) ANALYZE: {analyze_s:.1f} s; nạp {load_s:.1f} s; tổng {total_s:.1f} s")
    figures = {
        "db": backend(url), "scale": scale, "seed": seed, "as_of": as_of.isoformat(),
        "units": counts["admin_unit"], "staff": counts["staff_member"], "qualifications": counts["qualification"],
        "classes": counts["training_class"], "attendances": counts["attendance"],
        "certificates": counts["certificate"], "facilities": counts["facility"],
        "censuses": counts["facility_census"], "census_lines": counts["facility_census_line"],
        "reports": gen.counts["reports"], "report_versions": counts["submission"], "flags": counts["flag"],
        "open_flags": gen.counts["open_flags"], "training_targets": counts["training_target"],
        "indicator_targets": counts["indicator_target"], "audit_rows": counts["audit_log"],
        "load_s": f"{load_s:.1f}", "analyze_s": f"{analyze_s:.1f}", "total_s": f"{total_s:.1f}",
    }
    say(kv_line(figures))
    return 0


def ensure_database(url):
    """A SQLite file's directory, or the PostgreSQL database itself, is created when missing."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    server = parsed.set(database="postgres")
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}):
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
            say(f"Đã tạo cơ sở dữ liệu {parsed.database}")
    engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True,
                        help="the database to fill (SQLite file, or a PostgreSQL database, created when missing)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today(),
                        help="the day the data set ends (default today)")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    ensure_database(args.database_url)
    say(f"Sinh dữ liệu toàn quốc: tỷ lệ {args.scale}, hạt giống {args.seed}, đến ngày {args.as_of.isoformat()}")
    return generate(args.database_url, args.seed, args.scale, args.as_of)


if __name__ == "__main__":
    sys.exit(main())
