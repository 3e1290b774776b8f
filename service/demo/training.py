"""Demo training records: the targets of the Cà Mau, Vĩnh Long and Đồng Tháp plans (DESIGN.md) over a believable
roster, with classes, attendance, certificates and qualifications that leave real gaps to close."""
import random
from datetime import date, timedelta

from sqlalchemy import func, select

from service.extensions import db
from service.training import operations
from service.training.models import (
    Attendance,
    Course,
    QualificationType,
    RoleCategory,
    StaffMember,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)
from service.units.models import AdminUnit

SEED = 31
COURSES = [
    ("KT-CB", "Kiến thức cơ bản về điều trị nghiện ma túy", "basic_treatment", 24, False, None,
     "prevention_treatment,rehab_direct"),
    ("TV-01", "Tư vấn điều trị nghiện ma túy (cấp chứng chỉ)", "counselling", 40, True, 36, "counselling"),
    ("QLNN-01", "Quản lý nhà nước về cai nghiện ma túy", "management", 16, False, None, "state_management"),
    ("QLSC-01", "Quản lý trường hợp và quản lý sau cai nghiện", "case_management", 24, True, 24, "rehab_direct"),
    ("MA-TH", "Điều trị rối loạn do sử dụng ma túy tổng hợp", "synthetic_drugs", 24, True, 24, "medical"),
]
# (plan code, name, number, issued, province code (2025 list), [(role, metric, topic, percent, deadline)])
PLANS = [
    ("CM-31-2014", "Kế hoạch nâng cao hiệu quả công tác cai nghiện ma túy tỉnh Cà Mau", "31/KH-UBND",
     date(2014, 9, 10), "96", [
         ("prevention_treatment", "trained", "basic_treatment", 80, date(2015, 12, 31)),
         ("counselling", "certified", "counselling", 50, date(2015, 12, 31)),
         ("medical", "fully_qualified", None, 80, date(2015, 12, 31)),
         ("prevention_treatment", "trained", "basic_treatment", 90, date(2020, 12, 31)),
         ("counselling", "certified", "counselling", 100, date(2020, 12, 31)),
         ("medical", "fully_qualified", None, 100, date(2020, 12, 31)),
     ]),
    ("VL-303-2024", "Kế hoạch thực hiện công tác cai nghiện ma túy tỉnh Vĩnh Long 2024–2025",
     "303/QĐ-UBND", date(2024, 2, 21), "86", [
         ("state_management", "trained", "management", 80, date(2025, 12, 31)),
         ("rehab_direct", "trained", "case_management", 80, date(2025, 12, 31)),
     ]),
    ("DT-210-2021", "Kế hoạch cai nghiện ma túy và quản lý sau cai tỉnh Đồng Tháp năm 2021", "210/KH-UBND",
     date(2021, 7, 7), "82", [
         ("state_management", "trained", "management", 100, date(2021, 12, 31)),
         ("rehab_direct", "trained", "case_management", 100, date(2021, 12, 31)),
     ]),
]
ROLE_SIZES = {"prevention_treatment": 40, "counselling": 20, "medical": 15, "state_management": 18,
              "rehab_direct": 30}
# share of each role already trained / certified / qualified in the demo (gaps remain)
COVERAGE = {"prevention_treatment": 0.7, "counselling": 0.45, "medical": 0.6, "state_management": 0.75,
            "rehab_direct": 0.65}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hoàng", "Minh", "Ngọc", "Thanh", "Hữu", "Quốc", "Thu", "Kim"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Khánh", "Lan", "Linh",
         "Long", "Mai", "Nam", "Nga", "Phúc", "Phương", "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến"]


def _name(rng):
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def load_demo_training(today):
    """Courses, plans and targets, a roster per plan province, classes and their results. Skips when staff exist.
    Returns the number of staff created."""
    if db.session.scalar(select(func.count()).select_from(StaffMember)):
        return 0
    rng = random.Random(SEED)
    roles = {role.code: role for role in db.session.scalars(select(RoleCategory))}
    types = {kind.code: kind for kind in db.session.scalars(select(QualificationType))}
    courses = {}
    for code, title, topic, hours, certifies, validity, target_roles in COURSES:
        course = Course(code=code, title=title, topic=topic, hours=hours, certifies=certifies,
                        validity_months=validity, target_roles=target_roles)
        db.session.add(course)
        courses[topic] = course
    db.session.flush()
    created = 0
    for plan_code, name, number, issued, province_code, targets in PLANS:
        province = db.session.execute(select(AdminUnit).where(AdminUnit.edition == 2025,
                                                              AdminUnit.code == province_code)).scalar_one_or_none()
        if province is None:
            continue
        plan = TrainingPlan(code=plan_code, name=name, number=number, issued_on=issued)
        db.session.add(plan)
        for role, metric, topic, percent, deadline in targets:
            db.session.add(TrainingTarget(plan=plan, scope_unit=province, role_category=roles[role], metric=metric,
                                          topic=topic, percent=percent, deadline=deadline))
        communes = db.session.scalars(select(AdminUnit).where(AdminUnit.province_id == province.id,
                                                              AdminUnit.level == "commune")
                                      .order_by(AdminUnit.code).limit(12)).all()
        places = [province, *communes]
        staff_by_role = {}
        for role in sorted({target[0] for target in targets}):
            people = []
            for index in range(ROLE_SIZES[role]):
                unit = province if role in ("state_management", "medical") and index % 2 == 0 else rng.choice(places)
                person = operations.create_staff(
                    f"{province_code}-{role[:3].upper()}-{index + 1:03d}", _name(rng), roles[role], unit,
                    rng.choice("FM"), date(rng.randint(1965, 1998), rng.randint(1, 12), rng.randint(1, 28)),
                    position="Chuyên viên" if role == "state_management" else "Cán bộ",
                    start_date=date(rng.randint(2008, 2022), 1, 1))
                people.append(person)
                created += 1
            for person in rng.sample(people, max(1, len(people) // 10)):
                operations.leave(person, today - timedelta(days=rng.randint(30, 400)))
            staff_by_role[role] = people
        _train(rng, province, staff_by_role, courses, types, today)
    db.session.flush()
    return created


def _train(rng, province, staff_by_role, courses, types, today):
    """Past classes in which a share of each role completed, and medical qualifications for a share."""
    for role, people in staff_by_role.items():
        if role == "medical":
            for person in people:
                if rng.random() < COVERAGE[role]:
                    for code in ("medical_degree", "practising_licence", "addiction_treatment_cert"):
                        first = 2005 if code == "medical_degree" else today.year - 4
                        issued = date(rng.randint(first, today.year - 1), rng.randint(1, 12), 1)
                        expires = None if code == "medical_degree" else issued + timedelta(days=365 * 5)
                        if code == "addiction_treatment_cert" and rng.random() < 0.3:
                            expires = today + timedelta(days=rng.randint(3, 25))  # expiring soon
                        operations.record_qualification(person, types[code], issued, expires,
                                                        number=f"QĐ-{rng.randint(1000, 9999)}", issuer="Sở Y tế")
            continue
        topic = {"prevention_treatment": "basic_treatment", "counselling": "counselling",
                 "state_management": "management", "rehab_direct": "case_management"}[role]
        course = courses[topic]
        ends = today - timedelta(days=rng.randint(60, 500))
        training_class = TrainingClass(course=course, org_unit=province, organiser=f"Sở Y tế {province.code}",
                                       place=f"Hội trường {province.name}", starts_on=ends - timedelta(days=4),
                                       ends_on=ends, trainers="Giảng viên nguồn của tỉnh", capacity=len(people) + 5)
        db.session.add(training_class)
        db.session.flush()
        chosen = [person for person in people if rng.random() < COVERAGE[role]]
        operations.add_attendees(training_class, chosen)
        for attendance in db.session.scalars(select(Attendance).where(Attendance.class_id == training_class.id)):
            status = "completed" if rng.random() < 0.92 else "failed"
            operations.set_attendance(attendance, status, rng.randint(40, 70), rng.randint(60, 98))
        # a class planned in the coming weeks (counts in the projection to the deadline)
        upcoming = TrainingClass(course=course, org_unit=province, organiser=f"Sở Y tế {province.code}",
                                 place=f"Trung tâm {province.name}", starts_on=today + timedelta(days=20),
                                 ends_on=today + timedelta(days=24), trainers="Giảng viên nguồn", capacity=30)
        db.session.add(upcoming)
