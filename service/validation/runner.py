"""The scheduled validation with Great Expectations. Imported only by the scheduler and the CLI: Great
Expectations costs seconds and hundreds of MB to import, so it is never loaded in a web worker.

One GX context per process (ephemeral, progress bars off); the suites of a form are merged into one
ExpectationSuite for one `validate` call per batch. Results are COMPLETE with the submission id as the index
column, so every failing report is identified, never a sample. Derived columns come from derive.py (joins and
history computed before GX), which keeps every expectation a cheap column or column-pair check.

Runs of the commune report form also check the external consistency with the facility census: after a period's
reports, the period's province rows (service/validation/consistency.py) are validated with the suite
expectations/facility_census.external.json in the same run and the same GX context, with the province id as the
index column; failures become warning flags on the provinces.
"""
import gc
import time
from dataclasses import dataclass

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from service.extensions import db
from service.rules.derive import FORM_OPS, derive
from service.rules.evaluator import Verdict, observed
from service.rules.suites import derived_specs, rules_for, suite_hashes, suites_for
from service.validation import consistency

_STATE = {}


def _gx():
    """The process's Great Expectations context and batch definition (created once)."""
    if "batch_definition" not in _STATE:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("reports")
        asset = source.add_dataframe_asset("current_reports")
        _STATE["context"] = context
        _STATE["batch_definition"] = asset.add_batch_definition_whole_dataframe("batch")
        gc.freeze()  # the long-lived objects of the imports stay out of every later collection
    return _STATE["batch_definition"]


def gx_suite(form_code):
    """All suites of a form as one GX ExpectationSuite (cached per content hash)."""
    key = ("suite", form_code, tuple(sorted(suite_hashes(form_code).items())))
    if key not in _STATE:
        expectations = [dict(item) for suite in suites_for(form_code) for item in suite.document["expectations"]]
        _STATE[key] = gx.ExpectationSuite(name=f"{form_code}.all", expectations=expectations)
    return _STATE[key]


def gx_province_suite():
    """The census-comparison suites as one GX ExpectationSuite, with the tolerance in force (cached per content
    hash and tolerance)."""
    expectations = consistency.expectations()
    key = ("suite", consistency.SUITE_FORM, tuple(sorted(suite_hashes(consistency.SUITE_FORM).items())),
           tuple(repr(item["kwargs"]) for item in expectations))
    if key not in _STATE:
        _STATE[key] = gx.ExpectationSuite(name=f"{consistency.SUITE_FORM}.all",
                                          expectations=[dict(item) for item in expectations])
    return _STATE[key]


def run_suite_hashes(form_code):
    """The hashes of every suite a run of this form uses (the census comparison's too for the report form)."""
    hashes = dict(suite_hashes(form_code))
    if consistency.applies(form_code):
        hashes.update(suite_hashes(consistency.SUITE_FORM))
    return hashes


@dataclass
class BatchResult:
    rows: dict  # submission id → derived row
    failures: dict  # submission id → [Verdict]
    rule_counts: dict  # rule → (evaluated, failed)
    gx_result: object
    seconds: dict


def numeric_columns(form):
    """Form integer fields and every derived column except the lists of field names."""
    derived = [name for name, spec in derived_specs(form.code).items() if spec["op"] not in FORM_OPS]
    counts = [name for name, spec in derived_specs(form.code).items() if spec["op"] in FORM_OPS]
    previous = [f"{spec['field']}_previous" for spec in derived_specs(form.code).values() if spec["op"] == "jump"]
    return [item.code for item in form.fields if item.type == "integer"] + derived + counts + previous


def frame(rows, form):
    """The DataFrame GX validates: one row per report, counts as numbers (missing or malformed as NaN)."""
    df = pd.DataFrame.from_records(rows)
    for column in numeric_columns(form):
        if column in df.columns:
            df[column] = pd.to_numeric(df[column], errors="coerce")
    return df


def validate_contexts(form, contexts):
    """Derive, validate with GX, and return every failing report per rule."""
    timings = {}
    started = time.perf_counter()
    specs = derived_specs(form.code)
    rows = {}
    for context in contexts:
        row = derive(context, specs, form)
        row["submission_id"] = context.submission_id
        rows[context.submission_id] = row
    timings["derive"] = time.perf_counter() - started
    started = time.perf_counter()
    rules = {rule.rule: rule for rule in rules_for(form.code)}
    failures, counts, result = {}, {}, None
    if rows:
        df = frame(list(rows.values()), form)
        batch = _gx().get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(gx_suite(form.code), result_format={
            "result_format": "COMPLETE", "unexpected_index_column_names": ["submission_id"]})
        for item in result.results:
            rule = rules[item.expectation_config.meta["rule"]]
            unexpected = item.result.get("unexpected_index_list") or []
            ids = {int(entry["submission_id"]) for entry in unexpected}
            if not item.success and not ids and item.result.get("unexpected_count"):
                raise RuntimeError(f"GX gave no row ids for failing rule {rule.rule}")
            counts[rule.rule] = (len(rows), len(ids))
            for submission_id in ids:
                row = rows[submission_id]
                failures.setdefault(submission_id, []).append(
                    Verdict(rule.rule, rule.severity, rule.message_vi, rule.message_en, observed(rule, row)))
    timings["gx"] = time.perf_counter() - started
    return BatchResult(rows, failures, counts, result, timings)


def count_rules(run, rule_counts, severities):
    """Add a batch's (evaluated, failed) per rule to the run's rule results."""
    from service.validation.models import RunRuleResult

    for rule, (evaluated, failed) in rule_counts.items():
        existing = db.session.execute(db.select(RunRuleResult).where(RunRuleResult.run_id == run.id,
                                                                     RunRuleResult.rule == rule)).scalar_one_or_none()
        if existing is None:
            db.session.add(RunRuleResult(run_id=run.id, rule=rule, severity=severities[rule], evaluated=evaluated,
                                         failed=failed))
        else:
            existing.evaluated += evaluated
            existing.failed += failed


def validate_period(form, period, run):
    """Validate every current report of one (form, period) in `run`: flags follow, failures are kept."""
    from sqlalchemy import insert

    from service.flags.operations import apply_verdicts, report_flags
    from service.submissions.operations import lock_still_current, mark_validated
    from service.validation.context import contexts_for_period
    from service.validation.models import RunFailure

    contexts = contexts_for_period(form, period)
    batch = validate_contexts(form, contexts)
    still = lock_still_current([context.submission_id for context in contexts])
    mark_validated(still, run.id, form.code, period.code)
    checked = set(still)
    unit_of = {context.submission_id: context.org_unit_id for context in contexts
               if context.submission_id in checked}
    failures = {sid: verdicts for sid, verdicts in batch.failures.items() if sid in checked}
    reports = {sid: (unit_of[sid], failures.get(sid, [])) for sid in unit_of}
    opened, closed = apply_verdicts(form.code, period.code, reports, run=run,
                                    existing=report_flags(form.code, period.code))
    count_rules(run, batch.rule_counts, {rule.rule: rule.severity for rule in rules_for(form.code)})
    failure_rows = [{"run_id": run.id, "submission_id": sid, "org_unit_id": unit_of[sid], "rule": verdict.rule,
                     "severity": verdict.severity}
                    for sid, verdicts in failures.items() for verdict in verdicts]
    if failure_rows:
        db.session.execute(insert(RunFailure), failure_rows)
    run.reports_checked += len(unit_of)
    run.reports_failing += len(failures)
    run.failures += len(failure_rows)
    run.flags_opened += opened
    run.flags_closed += closed
    db.session.flush()
    return batch


def validate_province_rows(rows):
    """Validate province rows with GX; (province id → [Verdict], rule → (evaluated, failed), GX result)."""
    rules = {rule.rule: rule for rule in consistency.rules()}
    failures, counts, result = {}, {}, None
    if not rows:
        return failures, counts, result
    by_id = {row[consistency.INDEX_COLUMN]: row for row in rows}
    df = pd.DataFrame.from_records(rows)
    for column in consistency.NUMERIC_COLUMNS:
        if column in df.columns:
            df[column] = pd.to_numeric(df[column], errors="coerce")
    batch = _gx().get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(gx_province_suite(), result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": [consistency.INDEX_COLUMN]})
    for item in result.results:
        rule = rules[item.expectation_config.meta["rule"]]
        unexpected = item.result.get("unexpected_index_list") or []
        ids = {int(entry[consistency.INDEX_COLUMN]) for entry in unexpected}
        if not item.success and not ids and item.result.get("unexpected_count"):
            raise RuntimeError(f"GX gave no province ids for failing rule {rule.rule}")
        counts[rule.rule] = (len(rows), len(ids))
        for province_id in sorted(ids):
            failures.setdefault(province_id, []).append(
                Verdict(rule.rule, rule.severity, rule.message_vi, rule.message_en, observed(rule, by_id[province_id])))
    return failures, counts, result


def validate_provinces(form, period, run):
    """Compare the period's reports with the facility census per province in `run`: rule results counted in the
    run, province flags opened, updated, reopened or resolved. Returns the BatchResult (keyed by province id)."""
    started = time.perf_counter()
    rows = consistency.province_rows(form.code, period)
    timings = {"derive": time.perf_counter() - started}
    started = time.perf_counter()
    failures, counts, result = validate_province_rows(rows)
    timings["gx"] = time.perf_counter() - started
    opened, closed = consistency.sync_province_flags(form.code, period.code, failures, run=run)
    count_rules(run, counts, {rule.rule: rule.severity for rule in consistency.rules()})
    run.flags_opened += opened
    run.flags_closed += closed
    db.session.flush()
    return BatchResult({row[consistency.INDEX_COLUMN]: row for row in rows}, failures, counts, result, timings)


def run_validation(form, periods, trigger, slot=None, data_docs=True):
    """A whole run: start it in its slot (None if taken), validate each period (committing and beating the
    heart between periods), keep the Data Docs, finish. A failure marks the run failed, never passed."""
    from service.validation import operations

    run = operations.start_run(trigger, form.code, [p.code for p in periods], slot=slot,
                               suite_hashes=run_suite_hashes(form.code))
    with_census = consistency.applies(form.code)
    if run is None:
        db.session.rollback()
        return None
    db.session.commit()
    pages = {}
    try:
        for period in periods:
            batch = validate_period(form, period, run)
            provinces = validate_provinces(form, period, run) if with_census else None
            operations.heartbeat(run)
            db.session.commit()
            if data_docs and batch.gx_result is not None:
                pages[period.code] = batch.gx_result
            if data_docs and provinces is not None and provinces.gx_result is not None:
                pages[f"{period.code}:{consistency.SUITE_FORM}"] = provinces.gx_result
        if data_docs and pages:
            from service.validation.docs import pack

            run.data_docs = pack(pages)
        operations.finish_run(run)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        run = db.session.get(type(run), run.id)
        operations.finish_run(run, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        db.session.commit()
        raise
    return run
