"""The dashboard of a user's scope, read side: what each section shows, assembled with a fixed number of queries
whatever the number of communes.

- Programme indicators of the scope for a period against the plans' targets (IndicatorTarget), and their trend
  over the last periods of the same type. The scope's figures are the sum of the same clean reports as the
  ranking below (one `aggregate` per period, never one per unit); every figure carries its completeness.
- A map-free ranking of the sub-units of the scope (provinces for the whole country; districts for a 2024-list
  period; communes otherwise) by their gap to the chosen indicator's target, worst first: a sub-unit is measured
  against its own target, else against that of the nearest unit above it (the plan of the province applies to
  each of its districts). Without any target, by the indicator's value (lowest first, highest first for an
  indicator whose target says "at most").
- Completeness and timeliness of the period per sub-unit (reported, on time on the first version, held back).
- Open (or explained) flags of the scope by rule and severity.
- Attainment of the training targets the caller may read, and the occupancy totals of the capacity report.
"""
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from service.aggregation.indicators import all_indicators, get_indicator
from service.aggregation.models import IndicatorTarget
from service.aggregation.queries import Aggregate, aggregate
from service.extensions import db
from service.facilities.models import MODALITIES
from service.facilities.queries import Totals
from service.flags.models import OPEN_STATUSES, Flag
from service.forms.periods import Period, period_containing, periods_up_to
from service.submissions import queries as submission_queries
from service.submissions.models import Submission
from service.units import editions
from service.units.models import AdminUnit

TREND_PERIODS = 4
DEFAULT_INDICATOR = "treatment_rate"
# Indicators whose value should go down when no target says which way (the relapse rate).
LOWER_IS_BETTER = frozenset({"relapse_rate"})
TRAINING_MAX_TARGETS = 60


# --- periods and levels --------------------------------------------------------------------------------------

def latest_reported_period(form, scope, today):
    """The latest period of the form with a current report in the scope, else the period of the form's first
    type containing today."""
    return (submission_queries.latest_reported_period(form, scope, today)
            or period_containing(today, form.period_types[0]))


def sub_level(scope, period):
    """The level of the units the scope is broken down into for a period: provinces for the whole country,
    districts for a 2024-list period, communes for a 2025-list period or under a district."""
    unit = scope.unit
    if scope.national or unit is None:
        return "province"
    if not editions.has_districts(period.edition):
        return "commune"
    if unit.edition == period.edition and unit.level != "province":
        return "commune"
    return "district"


def area_chain(scope):
    """The scope's unit and the units above it, nearest first (where targets are looked up)."""
    unit = scope.unit
    if scope.national or unit is None:
        return []
    return [unit_id for unit_id in (unit.id, unit.district_id, unit.province_id) if unit_id is not None]


def total_of(aggregates, period):
    """The scope's figures: the sum of its sub-units' aggregates (each clean report counted once)."""
    total = Aggregate(unit=None, period=period.code, edition=period.edition)
    for item in aggregates:
        total.communes_total += item.communes_total
        total.communes_reported += item.communes_reported
        total.held_back += item.held_back
        for key, value in item.values.items():
            total.values[key] = total.values.get(key, 0) + value
    return total


# --- targets -------------------------------------------------------------------------------------------------

def applicable_target(targets, period):
    """Of a unit's targets for one indicator, the one a period is measured against: the first whose deadline
    is on or after the period's end (Cà Mau: 50 % by 2015, then 80 % by 2020), else the last one."""
    if not targets:
        return None
    ordered = sorted(targets, key=lambda target: (target.deadline, target.id))
    return next((target for target in ordered if target.deadline >= period.end), ordered[-1])


def targets_by_unit(unit_ids, indicator_code=None):
    """(unit id, indicator code) → [IndicatorTarget] for the given units (one query)."""
    result = {}
    ids = sorted({unit_id for unit_id in unit_ids if unit_id is not None})
    for start in range(0, len(ids), 5000):
        query = select(IndicatorTarget).options(joinedload(IndicatorTarget.plan)).where(
            IndicatorTarget.scope_unit_id.in_(ids[start:start + 5000]))
        if indicator_code is not None:
            query = query.where(IndicatorTarget.indicator_code == indicator_code)
        for target in db.session.scalars(query):
            result.setdefault((target.scope_unit_id, target.indicator_code), []).append(target)
    return result


def target_for(targets, chain, indicator_code, period):
    """The target of the nearest unit of `chain` (unit ids, nearest first) that has one for the indicator."""
    for unit_id in chain:
        found = targets.get((unit_id, indicator_code))
        if found:
            return applicable_target(found, period)
    return None


@dataclass
class Measure:
    """An indicator measured on aggregated values, against a target (or none)."""

    indicator: object
    value: float | None
    numerator: int
    denominator: int
    target: IndicatorTarget | None = None

    @property
    def target_value(self):
        return float(self.target.value) if self.target is not None else None

    @property
    def met(self):
        return self.target.met(self.value) if self.target is not None else None

    @property
    def distance(self):
        return self.target.distance(self.value) if self.target is not None else None


def measure(indicator, values, target=None):
    numerator, denominator = indicator.parts(values)
    return Measure(indicator, indicator.value(values), numerator, denominator, target)


# --- the programme sections ----------------------------------------------------------------------------------

@dataclass
class SubUnitRow:
    """One sub-unit of the scope: its aggregate, the chosen indicator against its target, and timeliness."""

    unit: AdminUnit
    aggregate: Aggregate
    measure: Measure
    on_time: int = 0
    late: int = 0

    @property
    def missing(self):
        return self.aggregate.communes_total - self.aggregate.communes_reported

    @property
    def timeliness(self):
        total = self.aggregate.communes_total
        return round(100.0 * self.on_time / total, 1) if total else None


@dataclass
class TrendPoint:
    period: Period
    total: Aggregate
    measure: Measure


@dataclass
class Programme:
    period: Period
    level: str
    indicator: object
    direction: str
    total: Aggregate
    measures: list = field(default_factory=list)  # Measure per indicator, of the scope
    trend: list = field(default_factory=list)  # TrendPoint, oldest first
    ranking: list = field(default_factory=list)  # SubUnitRow, worst first
    units: list = field(default_factory=list)  # SubUnitRow, by name

    @property
    def has_reports(self):
        return self.total.communes_reported > 0


def timeliness_by_unit(form, period, scope, level):
    """Sub-unit id → {"on_time": n, "late": n}: communes of the scope by their first version (one query)."""
    key = {"commune": AdminUnit.id, "district": AdminUnit.district_id, "province": AdminUnit.province_id}[level]
    rows = db.session.execute(
        select(key, Submission.on_time, func.count())
        .join(AdminUnit, AdminUnit.id == Submission.org_unit_id)
        .where(Submission.form_code == form.code, Submission.period == period.code, Submission.version == 1,
               AdminUnit.edition == period.edition, AdminUnit.level == "commune",
               scope.unit_clause(AdminUnit, period.edition))
        .group_by(key, Submission.on_time)).all()
    result = {}
    for unit_id, on_time, count in rows:
        counts = result.setdefault(unit_id, {"on_time": 0, "late": 0})
        counts["on_time" if on_time else "late"] += count
    return result


def _direction(indicator, targets):
    for target in targets:
        if target is not None:
            return target.direction
    return "at_most" if indicator.code in LOWER_IS_BETTER else "at_least"


def _rank_key(row, direction):
    value = row.measure.value
    if value is None:
        return (1, 0.0, 0.0, row.unit.sort_name)
    gap = row.measure.distance or 0.0
    return (0, -gap, value if direction == "at_least" else -value, row.unit.sort_name)


def programme(form, period, scope, indicator_code=None):
    """The programme sections of a scope for a period (see the module docstring): one aggregate of the period at
    the sub-unit level, one per earlier period of the trend at the province level (of the chosen indicator's
    parts only), one query for the targets and one for the first versions."""
    indicators = all_indicators()
    level = sub_level(scope, period)
    aggregates = aggregate(form, period, level, scope=scope)
    total = total_of(aggregates, period)
    chain = area_chain(scope)
    targets = targets_by_unit([item.unit.id for item in aggregates] + [item.unit.district_id for item in aggregates]
                              + [item.unit.province_id for item in aggregates] + chain)

    indicator = get_indicator(indicator_code or "") if indicator_code else None
    if indicator is None:
        with_target = [item for item in indicators if target_for(targets, chain, item.code, period)]
        indicator = with_target[0] if with_target else (get_indicator(DEFAULT_INDICATOR) or indicators[0])

    measures = [measure(item, total.values, target_for(targets, chain, item.code, period)) for item in indicators]

    timely = timeliness_by_unit(form, period, scope, level)
    rows = []
    for item in aggregates:
        unit = item.unit
        unit_chain = [unit.id] + [unit_id for unit_id in (unit.district_id, unit.province_id) if unit_id] + chain
        target = target_for(targets, unit_chain, indicator.code, period)
        counts = timely.get(unit.id, {})
        rows.append(SubUnitRow(unit, item, measure(indicator, item.values, target), counts.get("on_time", 0),
                               counts.get("late", 0)))
    direction = _direction(indicator, [row.measure.target for row in rows]
                           + [target_for(targets, chain, indicator.code, period)])
    ranking = sorted(rows, key=lambda row: _rank_key(row, direction))

    # an earlier period only shows the chosen indicator: its parts are all that is added up
    parts = (*indicator.numerator, *indicator.denominator)
    trend = []
    for earlier in periods_up_to(period, TREND_PERIODS):
        earlier_total = total if earlier == period else total_of(
            aggregate(form, earlier, "province", scope=scope, keys=parts), earlier)
        trend.append(TrendPoint(earlier, earlier_total, measure(indicator, earlier_total.values,
                                                                target_for(targets, chain, indicator.code, earlier))))
    return Programme(period, level, indicator, direction, total, measures, trend, ranking, rows)


# --- flags, training, occupancy ------------------------------------------------------------------------------

@dataclass
class RuleCount:
    rule: str
    severity: str
    subject: str
    form_code: str
    count: int
    in_period: int = 0


def open_flags_by_rule(scope, period=None):
    """Open or explained flags of the scope, counted per rule and severity (and those of `period`), errors first
    and the most frequent first (one query)."""
    in_period = func.sum(case((Flag.period == period.code, 1), else_=0)) if period is not None else func.sum(0)
    rows = db.session.execute(
        select(Flag.rule, Flag.severity, Flag.subject, Flag.form_code, func.count(), in_period)
        .where(Flag.status.in_(OPEN_STATUSES), scope.flag_clause(Flag))
        .group_by(Flag.rule, Flag.severity, Flag.subject, Flag.form_code)).all()
    counts = {}
    for rule, severity, subject, form_code, count, this_period in rows:
        key = (rule, severity)
        item = counts.get(key)
        if item is None:
            counts[key] = RuleCount(rule, severity, subject, form_code or "", count, int(this_period or 0))
        else:
            item.count += count
            item.in_period += int(this_period or 0)
    return sorted(counts.values(), key=lambda item: (item.severity != "error", -item.count, item.rule))


def training_attainment(pairs, on_date, limit=TRAINING_MAX_TARGETS):
    """Attainment of (target, unit it is measured on) pairs on a date, at most `limit` of them; returns (rows,
    whether some were left out)."""
    return attainments_of(pairs[:limit], on_date), len(pairs) > limit


def attainments_of(pairs, on_date):
    """The attainment of each (target, unit) pair on a date, in one statement (service.training.queries)."""
    from service.training.queries import attainments

    return list(attainments(pairs, on_date)) if pairs else []


def occupancy_totals(report):
    """Modality → Totals over every province of a capacity report (places and occupants of the facilities
    with a count, places of those without one apart)."""
    totals = {modality: Totals() for modality in MODALITIES}
    for province in report.provinces:
        for modality, part in province.totals.items():
            total = totals[modality]
            total.capacity += part.capacity
            total.current += part.current
            total.facilities += part.facilities
            total.unreported_capacity += part.unreported_capacity
            total.unreported_facilities += part.unreported_facilities
    return totals
