"""External consistency of the commune reports with the facility census, per province: the rows that the suite
expectations/facility_census.external.json (rules X01, X02) checks, its tolerance, and the flags it raises.

For one period of the commune report form there is one row per province of the period's unit list that has
current reports or facilities with census data:

- reported_compulsory / reported_voluntary: the sums of `treated_compulsory` / `treated_voluntary_facility` over
  the current reports of the province's communes (a value that is not a whole non-negative number counts 0; rule
  K02 flags it on the report);
- census_compulsory / census_voluntary: the people in compulsory / voluntary rehab at the province's facilities
  during the period: for each facility, the current count on its latest counted census on or before the period
  start (0 without one) plus the admissions of its counted censuses dated after the start up to the end. A
  census dated on the first day gives the opening count only: its admissions came before the period. A facility
  closed before the period starts does not count; a census replaced by a correction does not count;
- compulsory_gap_pct / voluntary_gap_pct: |reported − census| / max(reported, census) × 100, rounded to 2 decimals,
  None when both are 0 (nothing to compare, the expectation skips it).

Facilities sit on units of the current unit list (CURRENT_EDITION): for periods reported on the other list
there is no row (the comparison would need the old-to-new succession and says nothing reliable).

The scheduled run (service/validation/runner.py) validates these rows with Great Expectations; `evaluate_rows`
gives the same verdicts in plain Python (this module never imports Great Expectations). A failing rule is a
warning flag with subject "province" on the province (form commune_rehab, the period, no submission): it never
holds a report back from aggregation.
"""
import os
from dataclasses import replace

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from service.extensions import db
from service.facilities.models import Census, CensusLine, Facility
from service.facilities.queries import counted_census
from service.flags.models import Flag
from service.flags.operations import Finding, sync_flags
from service.rules.evaluator import Verdict, observed, passes
from service.rules.suites import suites_for
from service.submissions.models import Submission
from service.units.models import AdminUnit

REPORT_FORM = "commune_rehab"  # the form whose reports are compared
SUITE_FORM = "facility_census"  # the suites (expectations/facility_census.*.json) that compare them
TOLERANCE_SETTING = "CENSUS_GAP_TOLERANCE_PCT"
INDEX_COLUMN = "province_id"
# measure → (report field, census modality)
MEASURES = {"compulsory": ("treated_compulsory", "compulsory"),
            "voluntary": ("treated_voluntary_facility", "voluntary")}
NUMERIC_COLUMNS = tuple(f"{prefix}_{measure}" for measure in MEASURES for prefix in ("reported", "census")) + tuple(
    f"{measure}_gap_pct" for measure in MEASURES) + ("communes_reported",)
# A reader's names for the columns a flag shows (the flag pages can add them to their labels).
COLUMN_LABELS = {
    "reported_compulsory": _l("compulsory rehab reported by the communes"),
    "census_compulsory": _l("compulsory rehab in the facility census"),
    "compulsory_gap_pct": _l("gap in compulsory rehab (%)"),
    "reported_voluntary": _l("voluntary rehab at a facility reported by the communes"),
    "census_voluntary": _l("voluntary rehab in the facility census"),
    "voluntary_gap_pct": _l("gap in voluntary rehab (%)"),
    "communes_reported": _l("communes that reported"),
}


def applies(form_code):
    """Whether the runs of this form also compare its reports with the census (the suites exist)."""
    return form_code == REPORT_FORM and bool(suites_for(SUITE_FORM))


# --- the rows --------------------------------------------------------------------------------------------

def _province_of(unit):
    """The province of a unit: its province, or the unit itself when it is a province."""
    return func.coalesce(unit.province_id, unit.id)


def _count(value):
    return value if value.__class__ is int and value >= 0 else 0


def reported_by_province(form_code, period):
    """province id → {"communes_reported", "reported_<measure>"} over the current reports of the period (one
    query; the two values are read out of each report's JSON)."""
    fields = [field for field, _modality in MEASURES.values()]
    query = (select(_province_of(AdminUnit), *[Submission.values[field] for field in fields])
             .join(AdminUnit, AdminUnit.id == Submission.org_unit_id)
             .where(Submission.form_code == form_code, Submission.period == period.code,
                    Submission.is_current.is_(True), AdminUnit.edition == period.edition))
    result = {}
    for province_id, *values in db.session.execute(query):
        row = result.setdefault(province_id, {"communes_reported": 0, **{f"reported_{m}": 0 for m in MEASURES}})
        row["communes_reported"] += 1
        for measure, value in zip(MEASURES, values, strict=True):
            row[f"reported_{measure}"] += _count(value)
    return result


def census_by_province(period):
    """province id → {"census_<measure>"}: opening counts plus admissions within the period, summed in SQL over
    the province's facilities (two grouped queries, whatever the number of facilities and censuses)."""
    modalities = {modality: measure for measure, (_field, modality) in MEASURES.items()}
    facilities = (select(Facility.id.label("facility_id"), _province_of(AdminUnit).label("province_id"))
                  .join(AdminUnit, AdminUnit.id == Facility.org_unit_id)
                  .where(AdminUnit.edition == period.edition,
                         or_(Facility.closed_on.is_(None), Facility.closed_on >= period.start))
                  .subquery())
    latest = (select(Census.id.label("census_id"), Census.facility_id, func.row_number().over(
        partition_by=Census.facility_id, order_by=(Census.census_date.desc(), Census.id.desc())).label("rank"))
        .join(facilities, facilities.c.facility_id == Census.facility_id)
        .where(Census.census_date <= period.start, counted_census())
        .subquery())
    opening = (select(facilities.c.province_id, CensusLine.modality, func.sum(CensusLine.current_count))
               .select_from(latest)
               .join(facilities, facilities.c.facility_id == latest.c.facility_id)
               .join(CensusLine, CensusLine.census_id == latest.c.census_id)
               .where(latest.c.rank == 1, CensusLine.modality.in_(list(modalities)))
               .group_by(facilities.c.province_id, CensusLine.modality))
    admitted = (select(facilities.c.province_id, CensusLine.modality, func.sum(CensusLine.admissions))
                .select_from(Census)
                .join(facilities, facilities.c.facility_id == Census.facility_id)
                .join(CensusLine, CensusLine.census_id == Census.id)
                .where(Census.census_date > period.start, Census.census_date <= period.end, counted_census(),
                       CensusLine.modality.in_(list(modalities)))
                .group_by(facilities.c.province_id, CensusLine.modality))
    result = {}
    for query in (opening, admitted):
        for province_id, modality, people in db.session.execute(query):
            row = result.setdefault(province_id, {f"census_{m}": 0 for m in MEASURES})
            row[f"census_{modalities[modality]}"] += int(people or 0)
    return result


def gap_pct(reported, census):
    """|reported − census| / max(reported, census) × 100, None when both are 0."""
    largest = max(reported, census)
    if largest == 0:
        return None
    return round(abs(reported - census) * 100 / largest, 2)


def province_rows(form_code, period):
    """The rows the suite checks for one (form, period), one per province, ordered by province id."""
    if period.edition != current_app.config["CURRENT_EDITION"]:
        return []
    reported = reported_by_province(form_code, period)
    census = census_by_province(period)
    rows = []
    for province_id in sorted(set(reported) | set(census)):
        row = {INDEX_COLUMN: province_id,
               "communes_reported": reported.get(province_id, {}).get("communes_reported", 0)}
        for measure in MEASURES:
            row[f"reported_{measure}"] = reported.get(province_id, {}).get(f"reported_{measure}", 0)
            row[f"census_{measure}"] = census.get(province_id, {}).get(f"census_{measure}", 0)
            row[f"{measure}_gap_pct"] = gap_pct(row[f"reported_{measure}"], row[f"census_{measure}"])
        rows.append(row)
    return rows


# --- the suite with its tolerance ------------------------------------------------------------------------

def tolerance():
    """The tolerance in percent set for the deployment (config, else the environment), or None for the suite's
    own max_value."""
    value = current_app.config.get(TOLERANCE_SETTING)
    if value is None or value == "":
        value = os.environ.get(TOLERANCE_SETTING)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{TOLERANCE_SETTING} must be a percentage, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{TOLERANCE_SETTING} must not be negative, not {value!r}")
    return int(number) if number.is_integer() else number


def _with_setting(kwargs, setting):
    """Expectation kwargs with max_value taken from the setting the expectation names (when it is set)."""
    if setting != TOLERANCE_SETTING:
        return kwargs
    value = tolerance()
    return kwargs if value is None else {**kwargs, "max_value": value}


def expectations():
    """The suites' expectations as GX 1.x dicts, with the tolerance in force."""
    result = []
    for suite in suites_for(SUITE_FORM):
        for item in suite.document["expectations"]:
            result.append({**item, "kwargs": _with_setting(item["kwargs"], item.get("meta", {}).get("setting"))})
    return result


def rules():
    """The suites' rules (suites.Rule), with the tolerance in force."""
    settings = {item["meta"]["rule"]: item["meta"].get("setting")
                for suite in suites_for(SUITE_FORM) for item in suite.document["expectations"]}
    return [replace(rule, kwargs=_with_setting(rule.kwargs, settings.get(rule.rule)))
            for suite in suites_for(SUITE_FORM) for rule in suite.rules]


def evaluate_rows(rows, rule_list=None):
    """province id → [Verdict] for the failing rules, in plain Python (the same verdicts as Great Expectations)."""
    rule_list = rules() if rule_list is None else rule_list
    failures = {}
    for row in rows:
        for rule in rule_list:
            if not passes(rule, row):
                failures.setdefault(row[INDEX_COLUMN], []).append(
                    Verdict(rule.rule, rule.severity, rule.message_vi, rule.message_en, observed(rule, row)))
    return failures


# --- the flags -------------------------------------------------------------------------------------------

def province_flags(form_code, period_code):
    """(province id, rule) → Flag (any status) of the census comparison for one (form, period)."""
    return {(flag.org_unit_id, flag.rule): flag for flag in db.session.scalars(select(Flag).where(
        Flag.subject == "province", Flag.form_code == form_code, Flag.period == period_code))}


def sync_province_flags(form_code, period_code, failures, run=None):
    """Bring the province flags of a (form, period) in line with `failures` (province id → [Verdict] for every
    province that fails now; a province absent passes). Returns (opened, closed)."""
    existing = province_flags(form_code, period_code)
    wanted = {(province_id, verdict.rule): Finding(verdict.rule, verdict.severity, verdict.message_vi,
                                                   verdict.message_en, verdict.observed)
              for province_id, verdicts in failures.items() for verdict in verdicts}

    def subject_of(key):
        return {"subject": "province", "org_unit_id": key[0], "form_code": form_code, "period": period_code}

    return sync_flags(existing, wanted, subject_of, run=run)
