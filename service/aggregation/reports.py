"""The periodic report of a province or district for a period: what the province sends up and files.

- The header says whether the period is approved for the unit (a lock on the unit, or on its province for a
  district: by whom and when, from the approval event) or not: then every figure is provisional and marked so.
- The official figures are the approved ones only (`aggregate(approved_only=True)`); before approval the report
  shows the provisional aggregate of the clean reports, and how much of it is already approved.
- Every programme indicator with its numerator and denominator, against the plan targets set on the unit or on
  a unit containing it (met, distance, deadline, baseline), and its trend over the last four periods of the type.
- The sub-units' aggregates (districts, or communes), the training targets' attainment on the period's last
  day, completeness and timeliness, the flags of the period still open or explained, and those accepted with
  their justification.

`period_report` returns plain data; `report_sheets` and `aggregate_table` turn it into the exported tables.
"""
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, true
from sqlalchemy.orm import joinedload

from service.aggregation.dashboard import attainments_of
from service.aggregation.indicators import all_indicators, commune_counts
from service.aggregation.models import IndicatorTarget
from service.aggregation.queries import Aggregate, AggregationError, aggregate, aggregate_unit, approved_unit_ids
from service.approval.models import ApprovalEvent, PeriodLock
from service.common.time import format_local, local_today
from service.extensions import db
from service.flags.models import OPEN_STATUSES, Flag
from service.forms.periods import Period, periods_up_to
from service.submissions.queries import completeness as completeness_of
from service.training.models import METRICS, TOPICS, TrainingTarget
from service.units import editions
from service.units.models import AdminUnit

TREND_LENGTH = 4
LEVEL_LABELS = {"province": _l("Province"), "district": _l("District"), "commune": _l("Commune")}
COUNT_LABELS = {
    "communes_reporting": _l("Communes with a clean report"),
    "key_communes": _l("Key communes (class I–III)"),
    "key_communes_with_prevention": _l("Key communes running prevention activities"),
}


# --- the report as data ----------------------------------------------------------------------------------


@dataclass
class Approval:
    """Whether the unit's period is approved (its own lock, or its province's), by whom, when."""

    approved: bool
    approving_unit: AdminUnit | None = None
    by: object = None  # User
    at: datetime | None = None
    comment: str | None = None
    last_event: ApprovalEvent | None = None  # the latest approval or reopening of the unit itself

    @property
    def by_name(self):
        if self.by is None:
            return ""
        return self.by.full_name or self.by.username


@dataclass
class TargetRow:
    target: IndicatorTarget
    met: bool | None
    distance: float | None


@dataclass
class IndicatorRow:
    indicator: object  # Indicator
    value: float | None
    numerator: int
    denominator: int
    targets: list = field(default_factory=list)
    trend: list = field(default_factory=list)  # [value | None], oldest first, as report.trend


@dataclass
class TrendPoint:
    period: Period
    approved: bool
    aggregate: Aggregate | None


@dataclass
class SubUnitRow:
    aggregate: Aggregate
    approved: bool
    on_time: int = 0
    late: int = 0
    missing: int = 0

    @property
    def unit(self):
        return self.aggregate.unit


@dataclass
class PeriodReport:
    form: object
    period: Period
    unit: AdminUnit
    today: date
    approval: Approval
    figures: Aggregate  # the unit's figures shown: approved ones when approved, else provisional
    official: Aggregate  # approved figures only (all of `figures` once approved)
    sub_level: str | None
    sub_units: list
    indicators: list
    trend: list
    training: list
    completeness: object  # service.submissions.queries.Completeness
    open_flags: list
    accepted_flags: list

    @property
    def provisional(self):
        return not self.approval.approved

    @property
    def status_text(self):
        return approval_text(self.approval)

    @property
    def approved_sub_units(self):
        return sum(1 for row in self.sub_units if row.approved)


def approval_text(approval):
    """The approval state as one sentence (Vietnamese by default)."""
    if not approval.approved:
        return _("NOT APPROVED – provisional figures")
    when = format_local(approval.at) if approval.at else ""
    if approval.by is not None:
        return _("APPROVED by %(name)s on %(when)s", name=approval.by_name, when=when)
    return _("APPROVED on %(when)s", when=when)


def _empty(unit, period):
    return Aggregate(unit=unit, period=period.code, edition=unit.edition)


def _unit_figures(form, period, unit, scope, approved_only):
    """The unit's aggregate (an empty one when it covers no commune or the editions do not meet)."""
    try:
        found = aggregate_unit(form, period, unit, scope=scope, approved_only=approved_only)
    except AggregationError:
        found = None
    return found or _empty(unit, period)


def approval_of(form, period, unit):
    """The approval state of a unit's period: a lock on the unit or, for a district, on its province."""
    locks = {lock.org_unit_id: lock for lock in db.session.scalars(select(PeriodLock).where(
        PeriodLock.form_code == form.code, PeriodLock.period == period.code,
        PeriodLock.org_unit_id.in_([i for i in (unit.id, unit.province_id) if i is not None])))}
    last_event = _latest_event(form, period, unit.id)
    lock = locks.get(unit.id) or (locks.get(unit.province_id) if unit.province_id else None)
    if lock is None:
        return Approval(False, last_event=last_event)
    approving = unit if lock.org_unit_id == unit.id else lock.org_unit
    event = _latest_event(form, period, lock.org_unit_id, action="approve")
    if event is not None:
        return Approval(True, approving, event.user, event.at, event.comment, last_event)
    from service.accounts.models import User

    user = db.session.get(User, lock.locked_by_id) if lock.locked_by_id else None
    return Approval(True, approving, user, lock.locked_at, None, last_event)


def _latest_event(form, period, unit_id, action=None):
    query = select(ApprovalEvent).options(joinedload(ApprovalEvent.user)).where(
        ApprovalEvent.form_code == form.code, ApprovalEvent.period == period.code,
        ApprovalEvent.org_unit_id == unit_id)
    if action:
        query = query.where(ApprovalEvent.action == action)
    return db.session.scalars(query.order_by(ApprovalEvent.at.desc(), ApprovalEvent.id.desc())).first()


def sub_level_of(unit):
    """The level one below a unit in its list: districts of a 2024 province, else communes."""
    if unit.level == "province":
        return "district" if editions.has_districts(unit.edition) else "commune"
    if unit.level == "district":
        return "commune"
    return None


def under_approval(approved_ids, unit):
    """Whether a unit is approved by a lock on itself, its district or its province (ids in `approved_ids`)."""
    return unit.id in approved_ids or (unit.province_id is not None and unit.province_id in approved_ids) or (
        unit.district_id is not None and unit.district_id in approved_ids)


def _related_unit_ids(unit):
    return [i for i in (unit.id, unit.province_id, unit.district_id) if i is not None]


def _below(unit):
    return select(AdminUnit.id).where(or_(AdminUnit.id == unit.id, AdminUnit.province_id == unit.id,
                                          AdminUnit.district_id == unit.id))


def indicator_rows(figures, targets, trend):
    """Every indicator of the unit's figures, with the targets on it and its values over the trend."""
    rows = []
    for indicator in all_indicators():
        value = indicator.value(figures.values)
        numerator, denominator = indicator.parts(figures.values)
        row = IndicatorRow(indicator, value, numerator, denominator)
        row.targets = [TargetRow(target, target.met(value), target.distance(value))
                       for target in targets if target.indicator_code == indicator.code]
        row.trend = [indicator.value(point.aggregate.values) if point.aggregate else None for point in trend]
        rows.append(row)
    return rows


def period_flags(form, period, unit, scope=None):
    """(still open or explained, accepted) flags of the period on the unit and the units under it."""
    query = select(Flag).options(joinedload(Flag.org_unit), joinedload(Flag.accepted_by),
                                 joinedload(Flag.explained_by)).where(
        Flag.form_code == form.code, Flag.period == period.code, Flag.org_unit_id.in_(_below(unit)),
        Flag.status.in_((*OPEN_STATUSES, "accepted")))
    if scope is not None:
        query = query.where(scope.flag_clause(Flag))
    flags = db.session.scalars(query).unique().all()
    flags.sort(key=lambda flag: (flag.severity != "error", flag.rule, flag.org_unit.sort_name if flag.org_unit else ""))
    return [f for f in flags if f.status in OPEN_STATUSES], [f for f in flags if f.status == "accepted"]


def training_rows(unit, on_date):
    """The attainment, on `on_date`, of the training targets set on the unit or a unit containing it, measured
    on the unit."""
    targets = db.session.scalars(select(TrainingTarget).options(
        joinedload(TrainingTarget.plan), joinedload(TrainingTarget.role_category)).where(
        TrainingTarget.scope_unit_id.in_(_related_unit_ids(unit)))
        .order_by(TrainingTarget.plan_id, TrainingTarget.deadline, TrainingTarget.id)).unique().all()
    return attainments_of([(target, unit) for target in targets], on_date)


def _sub_unit_rows(form, period, unit, scope, approved, approved_ids, status):
    level = sub_level_of(unit)
    if level is None:
        return None, []
    try:
        found = aggregate(form, period, level, scope=scope, parent=unit, approved_only=approved)
    except AggregationError:
        found = []
    rows = [SubUnitRow(item, approved or under_approval(approved_ids, item.unit)) for item in found
            if item.unit.id != unit.id]
    by_id = {row.unit.id: row for row in rows}
    for commune in status.rows:
        row = by_id.get(commune.unit.district_id if level == "district" else commune.unit.id)
        if row is not None:
            setattr(row, commune.status, getattr(row, commune.status) + 1)
    return level, rows


def period_report(form, period, unit, scope=None, today=None):
    """The periodic report of a province or district (of the period's unit list) for a form and period, within
    `scope` (None: everything). See the module docstring."""
    today = today or local_today()
    approval = approval_of(form, period, unit)
    official = _unit_figures(form, period, unit, scope, approved_only=True)
    figures = official if approval.approved else _unit_figures(form, period, unit, scope, approved_only=False)
    approved_ids = approved_unit_ids(form.code, period.code)
    status = completeness_of(form, period, unit, scope if scope is not None else _Everything())
    sub_level, sub_units = _sub_unit_rows(form, period, unit, scope, approval.approved, approved_ids, status)
    trend = []
    for item in periods_up_to(period, TREND_LENGTH):
        if item == period:
            trend.append(TrendPoint(item, approval.approved, figures))
            continue
        item_approved = approval_of(form, item, unit).approved
        found = _unit_figures(form, item, unit, scope, approved_only=item_approved)
        trend.append(TrendPoint(item, item_approved, found if found.communes_total or found.not_attributable
                                else None))
    targets = db.session.scalars(select(IndicatorTarget).options(
        joinedload(IndicatorTarget.plan), joinedload(IndicatorTarget.scope_unit)).where(
        IndicatorTarget.scope_unit_id.in_(_related_unit_ids(unit)))
        .order_by(IndicatorTarget.deadline, IndicatorTarget.id)).unique().all()
    open_flags, accepted_flags = period_flags(form, period, unit, scope)
    return PeriodReport(
        form=form, period=period, unit=unit, today=today, approval=approval, figures=figures, official=official,
        sub_level=sub_level, sub_units=sub_units, indicators=indicator_rows(figures, targets, trend), trend=trend,
        training=training_rows(unit, period.end), completeness=status, open_flags=open_flags,
        accepted_flags=accepted_flags)


class _Everything:
    """A scope that holds every unit (for a report made without a user: scripts, tests)."""

    national = True

    @staticmethod
    def unit_clause(unit=AdminUnit, edition=None):
        return true()


# --- the exported tables ---------------------------------------------------------------------------------


def value_columns(form, aggregates=()):
    """(key, label) of every aggregated value: the form's integer and boolean fields, one column per choice,
    the commune counts, then any other key found in the aggregates."""
    columns = []
    for item in form.fields:
        if item.type in ("integer", "boolean"):
            columns.append((item.code, item.label))
        elif item.type == "choice":
            for choice in item.choices:
                columns.append((f"{item.code}={choice['value']}",
                                f"{item.label}: {item.choice_label(choice['value'])}"))
    for name in commune_counts():
        columns.append((name, str(COUNT_LABELS.get(name, name))))
    known = {key for key, _label in columns}
    extra = sorted({key for item in aggregates for key in item.values} - known)
    return columns + [(key, key) for key in extra]


def figures_header():
    return [_("Unit code"), _("Unit"), _("Level"), _("Period"), _("Communes"), _("Communes reported"),
            _("Held back (open errors)"), _("Communes aggregated"), _("Completeness (%)"), _("Not attributable")]


def figures_cells(item):
    return [item.unit.code, item.unit.name, str(LEVEL_LABELS.get(item.unit.level, item.unit.level)), item.period,
            item.communes_total, item.communes_reported, item.held_back, item.communes_aggregated,
            item.completeness, item.not_attributable]


def aggregate_table(form, aggregates, approved=None):
    """The aggregate table: one row per unit, its completeness, every value and every indicator (values left
    empty, not 0, for a unit without any aggregated report). `approved`: a bool or a function of the aggregate."""
    columns = value_columns(form, aggregates)
    indicators = all_indicators()
    header = [*figures_header(), _("Figures"), *[label for _key, label in columns],
              *[_("%(indicator)s (%%)", indicator=indicator.name) for indicator in indicators]]
    rows = []
    for item in aggregates:
        state = approved(item) if callable(approved) else approved
        values = [item.values.get(key, 0) if item.communes_aggregated else None for key, _label in columns]
        rows.append([*figures_cells(item), _("approved") if state else _("provisional"), *values,
                     *[indicator.value(item.values) for indicator in indicators]])
    return header, rows


def _yes_no(value):
    if value is None:
        return None
    return _("yes") if value else _("no")


def summary_table(report):
    """Sheet "Summary": the header of the report, then every indicator against its targets."""
    figures = report.figures
    header = [_("Periodic report"), f"{report.unit.name} – {report.period.label()}"]
    rows = [
        [_("Unit"), f"{report.unit.name} ({report.unit.code})"],
        [_("Period"), f"{report.period.label()} ({report.period.code})"],
        [_("Form"), report.form.name],
        [_("Status"), report.status_text],
    ]
    if report.approval.approved and report.approval.comment:
        rows.append([_("Approval comment"), report.approval.comment])
    rows += [
        [_("Prepared on"), report.today],
        [_("Communes"), figures.communes_total],
        [_("Communes reported"), figures.communes_reported],
        [_("Held back (open errors)"), figures.held_back],
        [_("Communes aggregated"), figures.communes_aggregated],
        [_("Completeness (%)"), figures.completeness],
    ]
    if report.provisional:
        rows.append([_("Communes already approved"), report.official.communes_total])
    rows.append([])
    rows.append([_("Indicator code"), _("Programme indicator"), _("Numerator"), _("Denominator"), _("Value (%)"),
                 _("Plan"), _("Target unit"), _("Direction"), _("Target (%)"), _("Baseline (%)"), _("Deadline"),
                 _("Met"), _("Distance (percentage points)"),
                 *[_("%(period)s (%%)", period=point.period.code) for point in report.trend]])
    for row in report.indicators:
        base = [row.indicator.code, row.indicator.name, row.numerator, row.denominator, row.value]
        trend = list(row.trend)
        if not row.targets:
            rows.append([*base, *[None] * 8, *trend])
        for target_row in row.targets:
            target = target_row.target
            rows.append([*base, target.plan.code if target.plan else "", target.scope_unit.name,
                         str(target.direction_label), float(target.value),
                         float(target.baseline) if target.baseline is not None else None, target.deadline,
                         _yes_no(target_row.met), target_row.distance, *trend])
    return header, rows


def sub_unit_table(report):
    """Sheet "Units": the sub-units' aggregates, then the unit's own total."""
    items = [row.aggregate for row in report.sub_units]
    states = {row.unit.id: row.approved for row in report.sub_units}
    header, rows = aggregate_table(report.form, [*items, report.figures],
                                   approved=lambda item: states.get(item.unit.id, report.approval.approved))
    return header, rows


def training_table(report):
    header = [_("Plan"), _("Unit"), _("Role category"), _("Metric"), _("Topic"), _("Target (%)"), _("Deadline"),
              _("On"), _("Meeting the target"), _("Active staff"), _("Attained (%)"), _("Persons still needed"),
              _("Met")]
    rows = []
    for result in report.training:
        target = result.target
        role = target.role_category
        rows.append([target.plan.code if target.plan else "", result.unit.name, _role_name(role),
                     str(METRICS.get(target.metric, target.metric)),
                     str(TOPICS.get(target.topic, target.topic)) if target.topic else "", result.target_percent,
                     target.deadline, result.on_date, result.numerator, result.denominator, result.percent,
                     result.gap_persons, _yes_no(result.met)])
    return header, rows


def _role_name(role):
    from flask_babel import get_locale

    if role is None:
        return ""
    return role.name_en if str(get_locale() or "vi")[:2] == "en" else role.name_vi


STATUS_LABELS = {"on_time": _l("On time"), "late": _l("Late"), "missing": _l("Not reported")}


def completeness_table(report):
    """Sheet "Completeness": per sub-unit, then per commune: reported on time, late, or not."""
    status = report.completeness
    header = [_("Unit code"), _("Unit"), _("Communes"), _("On time"), _("Late"), _("Not reported"),
              _("Completeness (%)"), _("Timeliness (%)")]
    rows = []
    for row in report.sub_units:
        total = row.on_time + row.late + row.missing
        rows.append([row.unit.code, row.unit.name, total, row.on_time, row.late, row.missing,
                     _share(row.on_time + row.late, total), _share(row.on_time, total)])
    total = status.total
    rows.append([report.unit.code, report.unit.name, total, status.count("on_time"), status.count("late"),
                 status.count("missing"), _share(status.reported, total), _share(status.count("on_time"), total)])
    rows.append([])
    rows.append([_("Commune code"), _("Commune"), _("Due date"), _("Status"), _("First received"),
                 _("Current version")])
    for commune in status.rows:
        rows.append([commune.unit.code, commune.unit.name, commune.due, str(STATUS_LABELS[commune.status]),
                     format_local(commune.first.submitted_at) if commune.first else None,
                     commune.current.version if commune.current else None])
    return header, rows


def _share(part, total):
    return round(100.0 * part / total, 1) if total else None


def flag_table(report, language="vi"):
    header = [_("Unit code"), _("Unit"), _("Rule"), _("Severity"), _("Status"), _("Problem"), _("Explanation"),
              _("Justification"), _("Accepted by"), _("Accepted at")]
    rows = []
    for flag in [*report.open_flags, *report.accepted_flags]:
        accepted_by = flag.accepted_by.full_name or flag.accepted_by.username if flag.accepted_by else ""
        rows.append([flag.org_unit.code if flag.org_unit else "", flag.org_unit.name if flag.org_unit else "",
                     flag.rule, str(flag.severity_label), str(flag.status_label), flag.message(language),
                     flag.explanation or "", flag.accepted_reason or "" if flag.status == "accepted" else "",
                     accepted_by if flag.status == "accepted" else "",
                     format_local(flag.accepted_at) if flag.status == "accepted" and flag.accepted_at else ""])
    return header, rows


def report_sheets(report, language="vi"):
    """The workbook of the report: [(sheet title, header, rows)] for service.common.export.xlsx_bytes."""
    return [
        (_("Summary"), *summary_table(report)),
        (_("Units"), *sub_unit_table(report)),
        (_("Training"), *training_table(report)),
        (_("Completeness"), *completeness_table(report)),
        (_("Alerts"), *flag_table(report, language)),
    ]


def report_filename(report, extension):
    return f"bao_cao_{report.form.code}_{report.period.code}_{report.unit.code}.{extension}"
