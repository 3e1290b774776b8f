"""Aggregation of clean commune reports commune → district → province, in the unit list of the period, or on
the 2025 units through the succession.

- Only the current version of each report counts, and only if no error-level flag is open on it (the gate);
  a report with one is *held back*: counted in `communes_reported` and `held_back`, not in the values.
- Every aggregate says how many communes it covers (`communes_total`), how many reported and how many were
  held back, so no figure is read without its completeness.
- Values: integer fields are summed; a boolean field counts the communes answering yes; a choice counts the
  communes per value (`key_commune_class=I`); the commune counts of the indicators (indicators.json) too.
- Across the reform (a 2024-list period shown on 2025 units): an old commune whose succession is `full` is
  added to its new commune (and that commune's province); one split by a `partial` succession cannot be divided
  between new communes without shares, so it is never guessed: it is counted, with its values, under
  `not_attributable` of every new commune it touches, and left out of their `values`. At province level a split
  commune whose parts all lie in one province belongs wholly to it and is added there.
- With `approved_only`, only communes under an approved district or province count (the official report).

One query for the communes, one for the reports, one for the flags: the sums are made in Python, which keeps
the same code on SQLite and PostgreSQL and aggregates a national quarter in well under a second.
"""
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from service.aggregation.indicators import commune_counts, holds
from service.approval.models import PeriodLock
from service.common.errors import DomainError
from service.extensions import db
from service.flags.queries import held_back_ids
from service.submissions.models import Submission
from service.units import editions
from service.units.models import AdminUnit, UnitSuccession

LEVELS = ("commune", "district", "province")


class AggregationError(DomainError):
    pass


@dataclass
class Aggregate:
    unit: AdminUnit
    period: str
    edition: int
    values: dict = field(default_factory=dict)
    communes_total: int = 0
    communes_reported: int = 0
    held_back: int = 0
    not_attributable: int = 0
    not_attributable_values: dict = field(default_factory=dict)

    @property
    def communes_aggregated(self):
        return self.communes_reported - self.held_back

    @property
    def completeness(self):
        return round(100.0 * self.communes_reported / self.communes_total, 1) if self.communes_total else None


def _typed_codes(form, keys=None):
    """(integer, boolean, choice) field codes of a form, the commune counts as (name, conditions), and the keys
    kept (None: every one): read once per aggregation, not once per report. With `keys`, only what those
    aggregated values are made of."""
    counts = tuple((name, tuple(spec.get("all", []))) for name, spec in commune_counts().items()
                   if keys is None or name in keys)
    if keys is None:
        return (*(tuple(item.code for item in form.fields if item.type == kind)
                  for kind in ("integer", "boolean", "choice")), counts, None)
    keys = frozenset(keys)
    prefixes = {key.split("=", 1)[0] for key in keys if "=" in key}
    return (tuple(item.code for item in form.fields if item.type == "integer" and item.code in keys),
            tuple(item.code for item in form.fields if item.type == "boolean" and item.code in keys),
            tuple(item.code for item in form.fields if item.type == "choice" and item.code in prefixes),
            counts, keys)


def _accumulate(total, typed, values):
    """Add one clean report's aggregated values to `total` (a dict, changed in place): integers summed, a
    boolean as 1 or 0, a choice as `code=value`: 1, each commune count as 1 or 0. Made in place, not as a dict
    per report then added, as this runs for every report of a national table."""
    integers, booleans, choices, counts, keys = typed
    get = values.get
    for code in integers:
        value = get(code)
        if isinstance(value, int) and not isinstance(value, bool):
            total[code] = total.get(code, 0) + value
    for code in booleans:
        total[code] = total.get(code, 0) + (1 if get(code) is True else 0)
    for code in choices:
        value = get(code)
        if isinstance(value, str):
            key = f"{code}={value}"
            if keys is None or key in keys:
                total[key] = total.get(key, 0) + 1
    for name, conditions in counts:
        total[name] = total.get(name, 0) + int(all(holds(condition, values) for condition in conditions))
    return total


def approved_unit_ids(form_code, period_code):
    return set(db.session.scalars(select(PeriodLock.org_unit_id).where(PeriodLock.form_code == form_code,
                                                                       PeriodLock.period == period_code)))


def _communes(period_edition, scope, parent=None):
    query = select(AdminUnit.id, AdminUnit.district_id, AdminUnit.province_id).where(
        AdminUnit.edition == period_edition, AdminUnit.level == "commune")
    if scope is not None:
        query = query.where(scope.unit_clause(AdminUnit, period_edition))
    if parent is not None:
        query = query.where(_contributing_to(parent, period_edition))
    return db.session.execute(query).all()


def _contributing_to(parent, period_edition):
    """The communes of the period's list whose reports can count for `parent` or a unit under it: those under it
    in the same list, or the old communes that precede its new communes (so a unit's figures do not read the
    whole country)."""
    if parent.edition == period_edition:
        return or_(AdminUnit.id == parent.id, AdminUnit.province_id == parent.id, AdminUnit.district_id == parent.id)
    new_unit = aliased(AdminUnit)
    return AdminUnit.id.in_(select(UnitSuccession.old_unit_id).join(new_unit, new_unit.id == UnitSuccession.new_unit_id)
                            .where(or_(new_unit.id == parent.id, new_unit.province_id == parent.id)))


def _successions(old_ids):
    """old commune id → [(new commune id, new province id, relation)]."""
    new_unit = select(AdminUnit.id, AdminUnit.province_id).subquery()
    rows = db.session.execute(select(UnitSuccession.old_unit_id, UnitSuccession.new_unit_id, new_unit.c.province_id,
                                     UnitSuccession.relation)
                              .join(new_unit, new_unit.c.id == UnitSuccession.new_unit_id)).all()
    wanted = set(old_ids)
    result = {}
    for old_id, new_id, province_id, relation in rows:
        if old_id in wanted:
            result.setdefault(old_id, []).append((new_id, province_id, relation))
    return result


def aggregate(form, period, level, scope=None, parent=None, approved_only=False, edition=None, keys=None):
    """Aggregates of one form and period at a level, for the units in `scope` (None: everything), under
    `parent` if given, in the period's unit list or, with `edition=2025` for a 2024-list period, on the 2025
    units. With `keys`, the aggregates' `values` hold only those keys (the same figures, made faster: a
    trend needs one indicator's parts, not every field). Returns [Aggregate] ordered by unit name."""
    if level not in LEVELS:
        raise AggregationError(f"level must be one of {', '.join(LEVELS)}")
    period_edition = period.edition
    edition = edition or period_edition
    if edition < period_edition:
        raise AggregationError("a 2025-list period cannot be shown on the 2024 units")
    if level not in editions.levels(edition):
        raise AggregationError(f"the {edition} unit list has no {level} level")
    communes = _communes(period_edition, scope, parent)
    commune_ids = [row[0] for row in communes]
    # where each commune's report goes: [(target unit id, attributable)]
    targets = {}
    if edition == period_edition:
        for commune_id, district_id, province_id in communes:
            target = {"commune": commune_id, "district": district_id, "province": province_id}[level]
            if target is not None:
                targets[commune_id] = [(target, True)]
    else:
        for old_id, links in _successions(commune_ids).items():
            partial = any(relation == "partial" for _new, _province, relation in links) or len(links) > 1
            chosen = {(new_id if level == "commune" else province_id) for new_id, province_id, _r in links}
            # a split commune is whole inside one province: attributable there, never to one of its communes
            attributable = len(chosen) == 1 and (level == "province" or not partial)
            targets[old_id] = [(target, attributable) for target in chosen if target is not None]
    if approved_only:
        approved = approved_unit_ids(form.code, period.code)
        keep = {commune_id for commune_id, district_id, province_id in communes
                if district_id in approved or province_id in approved or commune_id in approved}
        targets = {commune_id: links for commune_id, links in targets.items() if commune_id in keep}

    report_query = select(Submission.org_unit_id, Submission.values).where(
        Submission.form_code == form.code, Submission.period == period.code, Submission.is_current.is_(True))
    if parent is not None or (scope is not None and not scope.national):
        report_query = report_query.where(Submission.org_unit_id.in_(list(targets)))  # a province at most
    reports = db.session.execute(report_query).all()
    held = held_back_ids(form.code, period.code)

    aggregates = {}

    def get(target_id):
        if target_id not in aggregates:
            aggregates[target_id] = Aggregate(unit=None, period=period.code, edition=edition)
        return aggregates[target_id]

    for links in targets.values():
        for target_id, attributable in links:
            item = get(target_id)
            if attributable:
                item.communes_total += 1
            else:
                item.not_attributable += 1
    typed = _typed_codes(form, keys)
    for commune_id, values in reports:
        links = targets.get(commune_id)
        if not links:
            continue
        clean = commune_id not in held
        values = values or {}
        for target_id, attributable in links:
            item = get(target_id)
            if not attributable:
                if clean:
                    _accumulate(item.not_attributable_values, typed, values)
                continue
            item.communes_reported += 1
            if clean:
                _accumulate(item.values, typed, values)
            else:
                item.held_back += 1
    units = {unit.id: unit for unit in db.session.scalars(select(AdminUnit).where(
        AdminUnit.id.in_(list(aggregates))))} if aggregates else {}
    result = []
    for unit_id, item in aggregates.items():
        unit = units.get(unit_id)
        if unit is None:
            continue
        if parent is not None and parent.id not in (unit.id, unit.province_id, unit.district_id):
            continue
        if scope is not None and edition != period_edition and not scope.contains_unit(unit):
            continue
        item.unit = unit
        result.append(item)
    return sorted(result, key=lambda item: item.unit.sort_name)


def aggregate_unit(form, period, unit, scope=None, approved_only=False):
    """The aggregate of one unit (a commune, district or province of the period's list or, for a 2024-list
    period, of the 2025 list), or None when it covers no commune."""
    edition = unit.edition
    found = aggregate(form, period, unit.level, scope=scope, parent=unit, approved_only=approved_only,
                      edition=edition)
    return next((item for item in found if item.unit.id == unit.id), None)


@dataclass
class IndicatorPoint:
    period: str
    value: float | None
    numerator: int
    denominator: int
    met: bool | None
    distance: float | None
    aggregate: Aggregate | None


def target_trend(form, target, periods, scope=None, approved_only=False):
    """An indicator target measured on its scope unit over `periods` (oldest first): the value, whether it is
    met and the distance to it per period. A 2024-list period is measured on the 2025 unit through the
    succession when the target's unit is of the 2025 list (full successions only, as in `aggregate`)."""
    from service.aggregation.indicators import get_indicator

    indicator = get_indicator(target.indicator_code)
    unit = target.scope_unit
    points = []
    for period in periods:
        if unit.edition < period.edition:
            points.append(IndicatorPoint(period.code, None, 0, 0, None, None, None))
            continue
        found = aggregate(form, period, unit.level, scope=scope, parent=unit, approved_only=approved_only,
                          edition=unit.edition)
        item = next((a for a in found if a.unit.id == unit.id), None)
        values = item.values if item else {}
        numerator, denominator = indicator.parts(values)
        value = indicator.value(values)
        points.append(IndicatorPoint(period.code, value, numerator, denominator, target.met(value),
                                     target.distance(value), item))
    return points
