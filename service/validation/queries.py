"""Read side of validation: the report of a run (the gate and flags in a scope are `service.flags.queries`)."""
from sqlalchemy import func, select

from service.extensions import db
from service.flags.models import OPEN_STATUSES, Flag
from service.rules.suites import rule as find_rule
from service.submissions.models import Submission
from service.units.models import AdminUnit
from service.validation.models import RunFailure, RunRuleResult, ValidationRun


def previous_run(run):
    return db.session.scalars(select(ValidationRun).where(
        ValidationRun.form_code == run.form_code, ValidationRun.id < run.id, ValidationRun.status == "completed")
        .order_by(ValidationRun.id.desc())).first()


def run_report(run, scope):
    """A run seen from a scope: failures by rule (with the previous run beside), by district or province, and
    the communes failing most rules. Each rule says its `level`: "report" (counted in failing reports, as the
    run's reports_failing is) or "province" (the census cross-check: counted in provinces, apart)."""
    in_scope = scope.units_column_clause(RunFailure.org_unit_id)
    by_rule = dict(db.session.execute(select(RunFailure.rule, func.count()).where(
        RunFailure.run_id == run.id, in_scope).group_by(RunFailure.rule)).all())
    before = previous_run(run)
    before_by_rule = dict(db.session.execute(select(RunFailure.rule, func.count()).where(
        RunFailure.run_id == before.id, scope.units_column_clause(RunFailure.org_unit_id))
        .group_by(RunFailure.rule)).all()) if before else {}
    results = db.session.scalars(select(RunRuleResult).where(RunRuleResult.run_id == run.id)
                                 .order_by(RunRuleResult.rule)).all()
    rules = []
    for result in results:
        definition = find_rule(run.form_code, result.rule)
        failed = by_rule.get(result.rule, 0)
        level = "report"
        if definition is None:
            level = "province"  # a province-level rule (census consistency): no report failures, province flags
            definition = find_rule("facility_census", result.rule)
            failed = result.failed if scope.national else db.session.scalar(
                select(func.count()).select_from(Flag).where(
                    Flag.subject == "province", Flag.rule == result.rule, Flag.period.in_(run.periods or []),
                    Flag.status.in_(OPEN_STATUSES), scope.units_column_clause(Flag.org_unit_id)))
        rules.append({"rule": result.rule, "level": level, "severity": result.severity, "evaluated": result.evaluated,
                      "failed": failed, "previous": before_by_rule.get(result.rule),
                      "message": definition.message_vi if definition else ""})
    parent = func.coalesce(AdminUnit.district_id, AdminUnit.province_id)
    by_area_rows = db.session.execute(select(parent, func.count(), func.count(func.distinct(RunFailure.submission_id)))
                                      .join(AdminUnit, AdminUnit.id == RunFailure.org_unit_id)
                                      .where(RunFailure.run_id == run.id, in_scope)
                                      .group_by(parent).order_by(func.count().desc())).all()
    areas = {unit.id: unit for unit in db.session.scalars(
        select(AdminUnit).where(AdminUnit.id.in_([row[0] for row in by_area_rows])))}
    by_area = [(areas.get(area_id), failures, reports) for area_id, failures, reports in by_area_rows]
    worst_rows = db.session.execute(select(RunFailure.org_unit_id, func.count())
                                    .where(RunFailure.run_id == run.id, in_scope)
                                    .group_by(RunFailure.org_unit_id).order_by(func.count().desc()).limit(10)).all()
    units = {unit.id: unit for unit in db.session.scalars(
        select(AdminUnit).where(AdminUnit.id.in_([row[0] for row in worst_rows])))}
    worst = [(units[unit_id], failures) for unit_id, failures in worst_rows]
    return {"rules": [rule for rule in rules if rule["level"] == "report"],
            "province_rules": [rule for rule in rules if rule["level"] == "province"],
            "by_area": by_area, "worst": worst, "previous": before, "failures": sum(by_rule.values())}


def run_within_scope(run, scope):
    """Whether every report a run covers lies in the scope (its Data Docs show all of them)."""
    if scope.national:
        return True
    outside = db.session.scalar(select(func.count()).select_from(Submission).where(
        Submission.form_code == run.form_code, Submission.period.in_(run.periods or []),
        Submission.is_current.is_(True), ~scope.units_column_clause(Submission.org_unit_id)))
    return outside == 0
