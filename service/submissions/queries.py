"""Read side of submissions: completeness and timeliness, histories, what a reporter still owes, the earlier
values the rules compare with, and the reports the gate lets through."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from service.common.time import local_today
from service.extensions import db
from service.flags.queries import held_back
from service.forms.periods import Period, PeriodError, recent_periods
from service.rules.derive import HISTORY_WINDOW
from service.rules.suites import derived_specs
from service.submissions.models import Submission
from service.units import editions
from service.units.models import AdminUnit


def communes_under(scope, parent, edition):
    """Communes of `edition` below `parent` (or all in scope when parent is None) that the scope may see."""
    query = select(AdminUnit).where(AdminUnit.edition == edition, AdminUnit.level == "commune",
                                    scope.unit_clause(AdminUnit, edition))
    if parent is not None:
        query = query.where((AdminUnit.province_id == parent.id) | (AdminUnit.district_id == parent.id)
                            | (AdminUnit.id == parent.id))
    return db.session.scalars(query.order_by(AdminUnit.sort_name, AdminUnit.code)).all()


@dataclass
class CommuneStatus:
    unit: AdminUnit
    due: date
    status: str  # on_time, late, missing
    first: Submission | None = None
    current: Submission | None = None


@dataclass
class Completeness:
    form_code: str
    period: Period
    parent: AdminUnit | None
    rows: list = field(default_factory=list)
    groups: list = field(default_factory=list)  # (province or district, {on_time, late, missing, total})
    group_level: str = "district"

    def count(self, status=None):
        return sum(1 for row in self.rows if status is None or row.status == status)

    @property
    def total(self):
        return len(self.rows)

    @property
    def reported(self):
        return self.total - self.count("missing")

    def percent(self, value):
        return round(100 * value / self.total, 1) if self.total else 0.0


def completeness(form, period, parent, scope):
    """Which communes under `parent` reported the period, on time or late (judged on the first version, as
    DHIS2 does), and which have not. `groups` sums them per province when the communes span several provinces,
    else per district on the 2024 list (the 2025 list has no districts)."""
    communes = communes_under(scope, parent, period.edition)
    ids = [unit.id for unit in communes]
    first, current = {}, {}
    for chunk in range(0, len(ids), 900):
        part = ids[chunk:chunk + 900]
        for submission in db.session.scalars(select(Submission).where(
                Submission.form_code == form.code, Submission.period == period.code,
                Submission.org_unit_id.in_(part), (Submission.version == 1) | Submission.is_current.is_(True))):
            if submission.version == 1:
                first[submission.org_unit_id] = submission
            if submission.is_current:
                current[submission.org_unit_id] = submission
    due_in = {}  # the due date depends on the province only
    result = Completeness(form.code, period, parent)
    for unit in communes:
        if unit.province_id not in due_in:
            due_in[unit.province_id] = form.due_date(period, db.session.get(AdminUnit, unit.province_id))
        submission = first.get(unit.id)
        status = "missing" if submission is None else ("on_time" if submission.on_time else "late")
        result.rows.append(CommuneStatus(unit, due_in[unit.province_id], status, submission, current.get(unit.id)))
    if len(due_in) > 1:
        result.group_level, key = "province", "province_id"
    elif editions.has_districts(period.edition):
        result.group_level, key = "district", "district_id"
    else:
        return result
    counted = {}
    for row in result.rows:
        counts = counted.setdefault(getattr(row.unit, key), {"on_time": 0, "late": 0, "missing": 0})
        counts[row.status] += 1
    for unit_id, counts in counted.items():
        result.groups.append((db.session.get(AdminUnit, unit_id), counts | {"total": sum(counts.values())}))
    result.groups.sort(key=lambda item: item[0].sort_name)
    return result


def history(form_code, period_code, unit):
    """Every version of one commune's report for a period, newest first."""
    return db.session.scalars(select(Submission).where(
        Submission.form_code == form_code, Submission.period == period_code, Submission.org_unit_id == unit.id,
    ).order_by(Submission.version.desc())).all()


def current_submission(form_code, period_code, unit):
    return db.session.scalars(select(Submission).where(
        Submission.form_code == form_code, Submission.period == period_code, Submission.org_unit_id == unit.id,
        Submission.is_current.is_(True))).first()


def owed_periods(form, unit, today):
    """For a commune: per period type, the open period (the one containing today) and the last closed one,
    with their due dates and whether they were reported."""
    province = unit.province if unit.province_id else unit
    items = []
    for kind in form.period_types:
        for period in recent_periods(kind, today, 2):
            if period.edition != unit.edition:
                continue
            items.append((period, form.due_date(period, province),
                          current_submission(form.code, period.code, unit)))
    return items


def missing_communes(form, period, edition_communes_ids):
    """Ids of communes (of the given ids) without a current submission for the period."""
    reported = set(db.session.scalars(select(Submission.org_unit_id).where(
        Submission.form_code == form.code, Submission.period == period.code, Submission.is_current.is_(True),
        Submission.org_unit_id.in_(edition_communes_ids))))
    return [unit_id for unit_id in edition_communes_ids if unit_id not in reported]


def latest_reported_period(form, scope=None, today=None):
    """The latest period of `form` with a current report in `scope` (the shorter type when several end on the
    same day; with `today`, only periods that have begun), or None.

    The codes of the current and the previous year are read first (a range of the period index: a few ms where
    the whole table of ten national years takes 40–100 ms); the whole table only when none of them has a
    report. Exact because a period's code begins with its year."""
    since = str((today or local_today()).year - 1)
    return _latest_period(form, scope, today, since) or _latest_period(form, scope, today)


def _latest_period(form, scope, today, since=None):
    query = select(Submission.period).where(Submission.form_code == form.code, Submission.is_current.is_(True))
    if since is not None:
        query = query.where(Submission.period >= since)
    if scope is not None:
        query = query.where(scope.units_column_clause(Submission.org_unit_id))
    periods = []
    for code in db.session.scalars(query.distinct()):
        try:
            period = Period.parse(code)
        except PeriodError:
            continue
        if period.kind in form.period_types and (today is None or period.start <= today):
            periods.append(period)
    return max(periods, key=lambda p: (p.end, -p.months)) if periods else None


# --- what the rules read of earlier reports ------------------------------------------------------------

def history_periods(period):
    codes, cursor = [], period
    for _ in range(HISTORY_WINDOW):
        cursor = cursor.previous()
        codes.append(cursor.code)
    return list(reversed(codes))


def history_fields(form_code):
    """The fields the history-based derivations read (jump, mod_z, cumulative)."""
    return sorted({spec["field"] for spec in derived_specs(form_code).values()
                   if spec["op"] in ("jump", "mod_z", "cumulative")})


def report_history(form_code, period, unit_ids):
    """Earlier periods' values of the fields history is used for, extracted in SQL (not whole documents)."""
    codes = history_periods(period)
    order = {code: index for index, code in enumerate(codes)}
    fields = history_fields(form_code)
    history = {}
    query = select(Submission.org_unit_id, Submission.period,
                   *[Submission.values[field].as_integer() for field in fields]).where(
        Submission.form_code == form_code, Submission.is_current.is_(True), Submission.period.in_(codes))
    if unit_ids is not None:
        query = query.where(Submission.org_unit_id.in_(unit_ids))
    for unit_id, code, *numbers in db.session.execute(query):
        history.setdefault(unit_id, []).append((order[code], code, dict(zip(fields, numbers, strict=True))))
    return {unit_id: [(code, values) for _index, code, values in sorted(items, key=lambda item: item[0])]
            for unit_id, items in history.items()}


def clean_current_submissions(form_code, period_code):
    """Current reports of a period that may be aggregated: not held back by the gate (`service.flags.queries`)."""
    return select(Submission).where(Submission.form_code == form_code, Submission.period == period_code,
                                    Submission.is_current.is_(True),
                                    Submission.org_unit_id.not_in(held_back(form_code, period_code)))
