"""Demo commune reports: several periods for the communes of Đắk Lắk, believable and reproducible (seeded).

Numbers follow the plans' story: more addicts are treated each quarter, voluntary treatment grows, most who
complete rehab are managed afterwards. About 8 % of communes report late and 5 % not at all in each period,
and a handful of reports carry deliberate inconsistencies for the validation suites to find:

- treated_total larger than addicts_with_record;
- the modalities not adding up to treated_total;
- more employed after rehab than under post-rehab management;
- a jump (×6) in addicts_with_record against the commune's own history.
"""
import random
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from service.common.time import VIETNAM
from service.extensions import db
from service.forms.periods import Period
from service.forms.registry import get_form
from service.submissions.models import Submission
from service.submissions.operations import submit
from service.units.models import AdminUnit

SEED = 20261122
PERIODS_2025_EDITION = ["2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3", "2025S2", "2026S1", "2025"]
PERIODS_2024_EDITION = ["2025Q1", "2025Q2"]
INCONSISTENCIES = ("treated_exceeds_addicts", "modalities_do_not_add_up", "employed_exceeds_managed", "spike")


def _values(rng, base, step, kind):
    """One commune's values for one period: `base` addicts, `step` periods into the programme."""
    scale = {"quarter": 1, "half_year": 2, "year": 4}[kind]
    addicts = max(1, int(base * (1 + rng.uniform(-0.06, 0.08))))
    treated_rate = min(0.85, 0.35 + 0.05 * step + rng.uniform(-0.05, 0.05))
    treated = int(addicts * treated_rate)
    compulsory = int(treated * rng.uniform(0.35, 0.55))
    voluntary = int(treated * rng.uniform(0.05, 0.15 + 0.02 * step))
    substitution = int(treated * rng.uniform(0.05, 0.15))
    community = max(0, treated - compulsory - voluntary - substitution)
    completed = int(treated * rng.uniform(0.2, 0.4) * scale ** 0.5)
    managed = int(completed * rng.uniform(0.85, 1.0))
    vocational = int(managed * rng.uniform(0.3, 0.6))
    employed = int(vocational * rng.uniform(0.4, 0.8))
    key_class = rng.choices(["none", "III", "II", "I"], weights=[70, 15, 10, 5])[0]
    return {
        "addicts_with_record": addicts,
        "users_with_record": int(addicts * rng.uniform(1.2, 1.8)),
        "treated_total": treated,
        "treated_compulsory": compulsory,
        "treated_voluntary_facility": voluntary,
        "treated_community": community,
        "treated_substitution": substitution,
        "counselled_screened": int(addicts * rng.uniform(0.6, 0.95)),
        "completed": completed,
        "post_rehab_managed": managed,
        "vocational_supported": vocational,
        "employed_after_rehab": employed,
        "relapsed": int(completed * rng.uniform(0.05, 0.25)),
        "prevention_reached": int(addicts * rng.uniform(0.9, 1.6) * scale),
        "key_commune_class": key_class,
        "drug_free": addicts <= 2 and rng.random() < 0.5,
        "community_model": rng.random() < 0.35 + 0.03 * step,
    }


def _spoil(values, kind):
    if kind == "treated_exceeds_addicts":
        values["treated_total"] = values["addicts_with_record"] + 7
    elif kind == "modalities_do_not_add_up":
        values["treated_community"] += 5
    elif kind == "employed_exceeds_managed":
        values["employed_after_rehab"] = values["post_rehab_managed"] + 3
    elif kind == "spike":
        values["addicts_with_record"] *= 6
    return values


def _moment(rng, due, late):
    day = due + timedelta(days=rng.randint(3, 25)) if late else due - timedelta(days=rng.randint(0, 12))
    return datetime.combine(day, time(rng.randint(7, 16), rng.randint(0, 59)), VIETNAM)


def load_demo_reports(submitter, communes_by_edition, form_code="commune_rehab"):
    """Submit the demo periods for the given communes ({edition: [AdminUnit]}) as `submitter` (a user whose
    scope holds them). Skips when demo reports already exist. Returns the number of submissions stored."""
    if db.session.scalar(select(func.count()).select_from(Submission)):
        return 0
    form = get_form(form_code)
    rng = random.Random(SEED)
    stored = 0
    plan = [(2025, code) for code in PERIODS_2025_EDITION] + [(2024, code) for code in PERIODS_2024_EDITION]
    bases = {}
    for index, (edition, code) in enumerate(sorted(plan, key=lambda item: Period.parse(item[1]).end)):
        period = Period.parse(code)
        for unit in communes_by_edition.get(edition, []):
            base = bases.setdefault(unit.id, rng.choice([rng.randint(3, 25), rng.randint(20, 90)]))
            roll = rng.random()
            if roll < 0.05:
                continue  # not reported
            values = _values(rng, base, index, period.kind)
            if rng.random() < 0.03:
                values = _spoil(values, rng.choice(INCONSISTENCIES))
            province = unit.province if unit.province_id else unit
            due = form.due_date(period, province)
            submit(submitter, form, period, unit, values, rng.choice(["web", "api"]),
                   now=_moment(rng, due, late=roll > 0.92))
            stored += 1
    return stored


def demo_communes(province_code_2025="66", district_code_2024="643"):
    """The communes the demo reports cover: Đắk Lắk (2025 list) and Buôn Ma Thuột city (2024 list)."""
    province = db.session.execute(select(AdminUnit).where(AdminUnit.edition == 2025,
                                                          AdminUnit.code == province_code_2025)).scalar_one()
    communes_2025 = db.session.scalars(select(AdminUnit).where(AdminUnit.province_id == province.id,
                                                               AdminUnit.level == "commune")
                                       .order_by(AdminUnit.code)).all()
    district = db.session.execute(select(AdminUnit).where(AdminUnit.edition == 2024,
                                                          AdminUnit.code == district_code_2024)).scalar_one_or_none()
    communes_2024 = []
    if district is not None:
        communes_2024 = db.session.scalars(select(AdminUnit).where(AdminUnit.district_id == district.id)
                                           .order_by(AdminUnit.code)).all()
    return {2025: communes_2025, 2024: communes_2024}
