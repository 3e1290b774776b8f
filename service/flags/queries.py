"""Read side of flags: the gate (which reports are held back from aggregation), flags in a scope, a report's flags.

The gate is defined once, here: a commune's current report of a (form, period) is held back while its report has
an open (open or explained) error-level flag. Aggregation, approval, the home pages and the API read it through
`open_errors` / `held_back` (`service.submissions.queries.clean_current_submissions` applies it)."""
from sqlalchemy import and_, func, select

from service.extensions import db
from service.flags.models import OPEN_STATUSES, Flag
from service.units.models import AdminUnit


def open_errors(form_code=None, period_code=None, subjects=("report",)):
    """The clause on Flag of the open error-level flags (of a form and period when given) that hold reports back;
    `subjects=("report", "province")` adds the province-level census comparison's errors to the count."""
    clauses = [Flag.subject.in_(subjects), Flag.severity == "error", Flag.status.in_(OPEN_STATUSES)]
    if form_code is not None:
        clauses.append(Flag.form_code == form_code)
    if period_code is not None:
        clauses.append(Flag.period == period_code)
    return and_(*clauses)


def held_back(form_code, period_code):
    """SELECT of the communes whose report of the period is held back from aggregation (the gate)."""
    return select(Flag.org_unit_id).where(open_errors(form_code, period_code))


def held_back_ids(form_code, period_code):
    return set(db.session.scalars(held_back(form_code, period_code)))


def open_report_flags(unit_id):
    """The open flags of a commune's reports (a reporter's to-do), newest period first, errors first."""
    return db.session.scalars(select(Flag).where(Flag.subject == "report", Flag.org_unit_id == unit_id,
                                                 Flag.status.in_(OPEN_STATUSES))
                              .order_by(Flag.period.desc(), Flag.severity, Flag.rule)).all()


def flags_of_report(form_code, period_code, unit_id):
    """Every flag (any status) of one commune's report of a period, errors first."""
    return db.session.scalars(select(Flag).where(Flag.subject == "report", Flag.form_code == form_code,
                                                 Flag.period == period_code, Flag.org_unit_id == unit_id)
                              .order_by(Flag.severity, Flag.rule)).all()


def count_open(scope, severity=None):
    query = select(func.count()).select_from(Flag).where(Flag.status.in_(OPEN_STATUSES), scope.flag_clause(Flag))
    if severity:
        query = query.where(Flag.severity == severity)
    return db.session.scalar(query)


def count_holding_back(scope):
    """Open error-level flags of reports in a scope: the reports they hold back from aggregation."""
    return db.session.scalar(select(func.count()).select_from(Flag).where(open_errors(), scope.flag_clause(Flag)))


def open_error_counts(form_code, period_code):
    """{unit id: open error-level flags} of a period's reports, counted on the commune, its district and its
    province (and the province-level flags on their province)."""
    rows = db.session.execute(
        select(Flag.org_unit_id, AdminUnit.district_id, AdminUnit.province_id)
        .join(AdminUnit, AdminUnit.id == Flag.org_unit_id)
        .where(open_errors(form_code, period_code, subjects=("report", "province")))
    ).all()
    counts = {}
    for row in rows:
        for unit_id in {unit_id for unit_id in row if unit_id is not None}:
            counts[unit_id] = counts.get(unit_id, 0) + 1
    return counts
