"""Demo programme targets: every indicator target of the provincial plans in DESIGN.md, on the 2025 province units
(Cà Mau 96, Đắk Lắk 66 for Buôn Ma Thuột city, which is no district of the 2025 list, Vĩnh Long 86, Đồng Tháp 82),
under their plans (created when the training demo did not)."""
from datetime import date

from sqlalchemy import func, select

from service.aggregation.models import IndicatorTarget
from service.demo.training import PLANS
from service.extensions import db
from service.training.models import TrainingPlan
from service.units.models import AdminUnit

# plan code → (name, number, issued on); the training demo's plans first, then the plan with no training target
PLAN_DETAILS = {code: (name, number, issued) for code, name, number, issued, _province, _targets in PLANS}
PLAN_DETAILS["BMT-53-2022"] = ("Kế hoạch cai nghiện ma túy và quản lý sau cai nghiện trên địa bàn thành phố Buôn Ma "
                               "Thuột", "53/KH-UBND", date(2022, 3, 31))
# (plan code, province code (2025 list), [(indicator, direction, value, deadline, baseline, baseline note)])
TARGETS = [
    ("CM-31-2014", "96", [
        ("treatment_rate", "at_least", 50, date(2015, 12, 31), 24.97, "234/937"),
        ("treatment_rate", "at_least", 80, date(2020, 12, 31), 24.97, "234/937"),
        ("voluntary_share", "at_least", 20, date(2015, 12, 31), 1.71, "4/234"),
        ("voluntary_share", "at_least", 70, date(2020, 12, 31), 1.71, "4/234"),
        ("compulsory_share", "at_most", 20, date(2020, 12, 31), None, ""),
        ("employment_rate", "at_least", 50, date(2020, 12, 31), 25, ""),
    ]),
    ("BMT-53-2022", "66", [
        ("treatment_rate", "at_least", 80, date(2022, 12, 31), None, ""),
        ("post_rehab_management_rate", "at_least", 100, date(2022, 12, 31), None, ""),
    ]),
    ("VL-303-2024", "86", [
        ("counselling_rate", "at_least", 80, date(2025, 12, 31), None, ""),
        ("prevention_reach", "at_least", 80, date(2025, 12, 31), None, ""),
        ("key_communes_prevention", "at_least", 100, date(2025, 12, 31), None, ""),
    ]),
    ("DT-210-2021", "82", [
        ("treatment_rate", "at_least", 70, date(2021, 12, 31), None, ""),
        ("compulsory_share", "at_least", 50, date(2021, 12, 31), None, ""),
        ("reintegration_support_rate", "at_least", 100, date(2021, 12, 31), None, ""),
        ("community_model_share", "at_least", 40, date(2021, 12, 31), None, ""),
    ]),
]


def _plan(code):
    plan = db.session.execute(select(TrainingPlan).where(TrainingPlan.code == code)).scalar_one_or_none()
    if plan is None:
        name, number, issued = PLAN_DETAILS[code]
        plan = TrainingPlan(code=code, name=name, number=number, issued_on=issued)
        db.session.add(plan)
        db.session.flush()
    return plan


def load_demo_indicator_targets():
    """The plans' programme targets on the plan provinces present in the 2025 list. Skips when indicator targets
    exist. Returns the number of targets created."""
    if db.session.scalar(select(func.count()).select_from(IndicatorTarget)):
        return 0
    created = 0
    for plan_code, province_code, targets in TARGETS:
        province = db.session.execute(select(AdminUnit).where(
            AdminUnit.edition == 2025, AdminUnit.level == "province", AdminUnit.code == province_code)
        ).scalar_one_or_none()
        if province is None:
            continue
        plan = _plan(plan_code)
        for indicator, direction, value, deadline, baseline, note in targets:
            db.session.add(IndicatorTarget(plan=plan, scope_unit=province, indicator_code=indicator,
                                           direction=direction, value=value, baseline=baseline, baseline_note=note,
                                           deadline=deadline))
            created += 1
    db.session.flush()
    return created
