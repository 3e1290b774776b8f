"""Benchmark: aggregating a NATIONAL quarter (commune → province) with the programme indicators.

    .venv/bin/python -m bench.aggregate_national [--database-url URL] [--seed N]

A fresh database (a SQLite file in a temp dir by default; with a PostgreSQL URL, a new database `bench_<random>`
on that server, dropped at the end) gets both official unit lists and the succession, and one current report
per commune for a 2024-list quarter (2025Q1, 10,035 communes) and for a 2025-list quarter (2025Q3, 3,321), each
with one bulk INSERT, plus superseded versions for 5 % of the communes and a few flags (1 % of the reports with
an open or explained error flag, others with warnings or resolved errors, which do not hold a report back).

Measured, each as `service.aggregation.queries.aggregate` followed by every indicator of indicators.json on
every aggregate:

- province and commune level of 2025Q1 (2024 list) and of 2025Q3 (2025 list), and 2025Q1 shown on the 2025
  provinces through the succession (as a trend across the reform does);
- cold: the first call of each, on a fresh connection pool; warm: best of three further calls, each in a new
  session (its CPU time is printed too: on a busy machine the wall time is the one that suffers);
- the scoped case: a province data steward (Đắk Lắk, 2025 list) on 2025Q1 shown on its 2025 communes;
- one province: a national admin reading the same table with `parent=` Đắk Lắk (as the period report and the
  target trend of one unit do);
- memory: tracemalloc peak of one national commune-level call, and the process's peak RSS;
- baselines measured in the same run: `sql_sum_s`, one SQL SUM of one JSON field grouped by province
  (json_extract on SQLite, ->> on PostgreSQL); `hand_s`, one Python pass over the fetched current reports
  summing every integer field per province (no gate, no completeness, no indicators). `ratio_to_hand` =
  warm province-level time of the 2024-list quarter / hand_s;
- correctness: the province sums of `aggregate` equal a hand sum over the clean reports (`agrees`).

The last line printed is only key=value pairs.
"""
import argparse
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from bench.common import Database, load_units, make_app, migrate, rss_mb, say, units_dir

FORM_CODE = "commune_rehab"
OLD = "2025Q1"  # 2024 list
NEW = "2025Q3"  # 2025 list
WARM_RUNS = 3
ERROR_SHARE = 0.01
WARNING_SHARE = 0.02
RESOLVED_SHARE = 0.01
SUPERSEDED_SHARE = 0.05
TARGET_S = 1.0
SCOPE_PROVINCE = "66"  # Đắk Lắk (2025 list)


# --- data ------------------------------------------------------------------------------------------------


def report_rows(rng, form, period, communes, user_id):
    """One current version per commune (and an older, superseded one for a few)."""
    from service.demo.reports import _values

    rows = []
    for unit_id in communes:
        base = random.Random(f"{unit_id}").choice([rng.randint(3, 25), rng.randint(20, 90)])
        versions = 2 if rng.random() < SUPERSEDED_SHARE else 1
        for version in range(1, versions + 1):
            rows.append({
                "form_code": FORM_CODE, "form_version": form.version, "period": period.code,
                "period_type": period.kind, "org_unit_id": unit_id, "version": version,
                "is_current": version == versions, "status": "submitted",
                "values": _values(rng, base, 3 if period.code == NEW else 1, period.kind),
                "submitted_at": datetime(2025, 10, 5, 9, 0) - timedelta(days=versions - version),
                "submitted_by_id": user_id, "channel": "api", "due_date": date(2025, 10, 10), "on_time": True,
            })
    return rows


def flag_rows(rng, period_code, communes):
    """Open / explained errors (held back), open warnings and resolved errors (not held back)."""
    chosen = rng.sample(communes, int(len(communes) * (ERROR_SHARE + WARNING_SHARE + RESOLVED_SHARE)))
    errors = int(len(communes) * ERROR_SHARE)
    warnings = int(len(communes) * WARNING_SHARE)
    rows, held = [], set()
    for index, unit_id in enumerate(chosen):
        if index < errors:
            rule, severity, status = "C01", "error", "open" if index % 3 else "explained"
            held.add(unit_id)
        elif index < errors + warnings:
            rule, severity, status = "C06", "warning", "open"
        else:
            rule, severity, status = "C02", "error", "resolved"
        rows.append({"subject": "report", "org_unit_id": unit_id, "form_code": FORM_CODE, "period": period_code,
                     "rule": rule, "severity": severity, "status": status, "message_vi": "thử", "message_en": "test",
                     "observed": {}, "values_hash": "0" * 64})
    return rows, held


def load_reports(seed):
    from sqlalchemy import insert, select

    from service.accounts.operations import create_user
    from service.extensions import db
    from service.flags.models import Flag
    from service.forms.periods import Period
    from service.forms.registry import get_form
    from service.submissions.models import Submission
    from service.units.models import AdminUnit

    user = create_user("bench", "admin", "aggregate-national-2025")
    db.session.commit()
    form = get_form(FORM_CODE)
    rng = random.Random(seed)
    held, counts = {}, {}
    for code in (OLD, NEW):
        period = Period.parse(code)
        communes = list(db.session.scalars(select(AdminUnit.id).where(
            AdminUnit.edition == period.edition, AdminUnit.level == "commune").order_by(AdminUnit.code)))
        rows = report_rows(rng, form, period, communes, user.id)
        flags, held[code] = flag_rows(rng, code, communes)
        started = time.perf_counter()
        db.session.execute(insert(Submission), rows)
        db.session.execute(insert(Flag), flags)
        db.session.commit()
        counts[code] = len(communes)
        say(f"Báo cáo {code}: {len(communes)} xã ({len(rows)} phiên bản), {len(flags)} cờ, {len(held[code])} bị "
            f"giữ lại (chèn hàng loạt {time.perf_counter() - started:.1f} s)")
    return held, counts


# --- measurements ----------------------------------------------------------------------------------------


@dataclass
class Found:
    unit_id: int
    values: dict
    communes_reported: int
    held_back: int
    not_attributable: int


def run_once(form, period, level, edition=None, scope=None, parent=None):
    """aggregate() and every indicator on every aggregate; returns (aggregates, indicator values computed)."""
    from service.aggregation.indicators import all_indicators
    from service.aggregation.queries import aggregate

    found = aggregate(form, period, level, scope=scope, parent=parent, edition=edition)
    computed = 0
    for item in found:
        for indicator in all_indicators():
            indicator.value(item.values)
            computed += 1
    return found, computed


def measure_case(form, period, level, edition=None, scope_of=None, parent_of=None):
    """Cold: the first call on a new connection pool; warm: best of three, each in a new session (as each web
    request has). `scope_of` builds the Scope, `parent_of` the parent unit, inside the session."""
    from service.extensions import db

    db.session.remove()
    db.engine.dispose()
    scope = scope_of() if scope_of else None
    parent = parent_of() if parent_of else None
    started = time.perf_counter()
    found, computed = run_once(form, period, level, edition, scope, parent)
    cold = time.perf_counter() - started
    found = [Found(item.unit.id, dict(item.values), item.communes_reported, item.held_back, item.not_attributable)
             for item in found]
    times, cpu = [], []
    for _ in range(WARM_RUNS):
        db.session.remove()
        scope = scope_of() if scope_of else None
        parent = parent_of() if parent_of else None
        started, started_cpu = time.perf_counter(), time.process_time()
        run_once(form, period, level, edition, scope, parent)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {"cold": cold, "warm": min(times), "median": statistics.median(times), "cpu": min(cpu),
            "units": len(found), "indicators": computed, "found": found}


def traced_peak_mb(form, period):
    tracemalloc.start()
    run_once(form, period, "commune")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def sql_sum(period_code):
    """Baseline 1: the database sums one JSON field per province."""
    from service.extensions import db

    dialect = db.session.get_bind().dialect.name
    field = ("CAST(s.\"values\" ->> 'addicts_with_record' AS INTEGER)" if dialect == "postgresql"
             else "json_extract(s.\"values\", '$.addicts_with_record')")
    query = sa.text(f"SELECT u.province_id, SUM({field}) FROM submission s JOIN admin_unit u ON u.id = s.org_unit_id "
                    "WHERE s.form_code = :form AND s.period = :period AND s.is_current GROUP BY u.province_id")
    started = time.perf_counter()
    rows = db.session.execute(query, {"form": FORM_CODE, "period": period_code}).all()
    return time.perf_counter() - started, dict(rows)


def hand_pass(form, period_code, held=frozenset()):
    """Baseline 2: fetch the current reports and their communes' provinces, sum every integer field in Python."""
    from service.extensions import db
    from service.submissions.models import Submission
    from service.units.models import AdminUnit

    integers = [item.code for item in form.fields if item.type == "integer"]
    started = time.perf_counter()
    rows = db.session.execute(sa.select(AdminUnit.province_id, Submission.org_unit_id, Submission.values)
                              .join(AdminUnit, AdminUnit.id == Submission.org_unit_id)
                              .where(Submission.form_code == FORM_CODE, Submission.period == period_code,
                                     Submission.is_current.is_(True))).all()
    totals = {}
    for province_id, unit_id, values in rows:
        if unit_id in held:
            continue
        total = totals.setdefault(province_id, {})
        for code in integers:
            total[code] = total.get(code, 0) + values[code]
    return time.perf_counter() - started, totals


def best(function, *args):
    results = [function(*args) for _ in range(WARM_RUNS)]
    return min(results, key=lambda item: item[0])


def profile_case(form, period, level, edition=None):
    """Where the time of one warm call goes (cProfile, top functions by cumulative time)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run_once(form, period, level, edition)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(12)
    return out.getvalue()


def target(seconds):
    return "đạt" if seconds < TARGET_S else "KHÔNG ĐẠT"


def measure(database, seed, show_profile):
    started = time.perf_counter()
    app = make_app(database.url)
    migrate(app)
    say(f"Ứng dụng + migrations: {time.perf_counter() - started:.1f} s")
    from service.accounts.models import User
    from service.accounts.operations import create_user
    from service.accounts.scope import Scope
    from service.extensions import db
    from service.forms.periods import Period
    from service.forms.registry import get_form
    from service.units.models import AdminUnit

    with app.app_context():
        load_units(units_dir())
        held, counts = load_reports(seed)
        form = get_form(FORM_CODE)
        old, new = Period.parse(OLD), Period.parse(NEW)
        cases = {
            "old_province": (old, "province", None), "old_commune": (old, "commune", None),
            "new_province": (new, "province", None), "new_commune": (new, "commune", None),
            "across_province": (old, "province", 2025),
        }
        results = {}
        for name, (period, level, edition) in cases.items():
            results[name] = measure_case(form, period, level, edition)
            r = results[name]
            rows = counts[period.code]
            say(f"{name:16} {period.code} {level:8}{' → 2025' if edition else '       '} {r['units']:6} đơn vị, "
                f"{r['indicators']:6} chỉ số: nguội {r['cold']:.3f} s, ấm {r['warm']:.3f} s "
                f"(trung vị {r['median']:.3f}, CPU {r['cpu']:.3f}), {rows / r['warm']:,.0f} báo cáo/s")
        province = db.session.execute(sa.select(AdminUnit).where(
            AdminUnit.edition == 2025, AdminUnit.level == "province", AdminUnit.code == SCOPE_PROVINCE)).scalar_one()
        province_name, province_id = province.name, province.id
        steward_id = create_user("giamsat", "data_steward", "aggregate-national-2025", scope_unit=province).id
        db.session.commit()
        scoped = measure_case(form, old, "commune", 2025, lambda: Scope(db.session.get(User, steward_id)))
        say(f"scoped           {OLD} commune  → 2025 (cán bộ giám sát {province_name}) {scoped['units']} đơn vị: "
            f"nguội {scoped['cold']:.3f} s, ấm {scoped['warm']:.3f} s")
        one = measure_case(form, old, "commune", 2025, parent_of=lambda: db.session.get(AdminUnit, province_id))
        say(f"one_province     {OLD} commune  → 2025 (toàn quốc, parent={province_name}) {one['units']} đơn vị: "
            f"nguội {one['cold']:.3f} s, ấm {one['warm']:.3f} s")
        db.session.rollback()
        peak_mb = traced_peak_mb(form, old)
        say(f"tracemalloc, {OLD} cấp xã toàn quốc: đỉnh {peak_mb:.0f} MB; RSS đỉnh tiến trình {rss_mb():.0f} MB")

        sql_s, sql_totals = best(sql_sum, OLD)
        hand_s, all_totals = best(hand_pass, form, OLD)
        say(f"Mốc so sánh {OLD}: SUM một trường JSON trong SQL {sql_s:.3f} s; một lượt Python cộng "
            f"{sum(1 for item in form.fields if item.type == 'integer')} trường số {hand_s:.3f} s")
        _s, clean_old = hand_pass(form, OLD, held[OLD])
        _s, clean_new = hand_pass(form, NEW, held[NEW])
        agrees = all(
            {item.unit_id: {code: item.values.get(code, 0) for code in clean[item.unit_id]}
             for item in results[name]["found"] if item.unit_id in clean} == clean
            and sum(item.communes_reported for item in results[name]["found"]) == counts[code]
            and sum(item.held_back for item in results[name]["found"]) == len(held[code])
            for name, clean, code in (("old_province", clean_old, OLD), ("new_province", clean_new, NEW)))
        sql_agrees = {province: int(total) for province, total in sql_totals.items()} == {
            province: total["addicts_with_record"] for province, total in all_totals.items()}
        say(f"Tổng theo tỉnh khớp phép cộng tay trên báo cáo sạch: {'có' if agrees else 'KHÔNG'}")
        if show_profile:
            say(profile_case(form, old, "commune"))
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()

    warm = {name: r["warm"] for name, r in results.items()}
    cold = {name: r["cold"] for name, r in results.items()}
    say("Mục tiêu (< 1 s mỗi lần):")
    for name in results:
        say(f"  {name}: nguội {cold[name]:.3f} s — {target(cold[name])}; ấm {warm[name]:.3f} s — "
            f"{target(warm[name])}")
    for name, r in (("scoped", scoped), ("one_province", one)):
        say(f"  {name}: nguội {r['cold']:.3f} s — {target(r['cold'])}; ấm {r['warm']:.3f} s — {target(r['warm'])}")
    figures = {
        "db": database.kind, "rows_old": counts[OLD], "rows_new": counts[NEW],
        "held_old": len(held[OLD]), "held_new": len(held[NEW]),
        "warm_province_old_s": f"{warm['old_province']:.3f}", "cold_province_old_s": f"{cold['old_province']:.3f}",
        "warm_commune_old_s": f"{warm['old_commune']:.3f}", "cold_commune_old_s": f"{cold['old_commune']:.3f}",
        "warm_province_new_s": f"{warm['new_province']:.3f}", "cold_province_new_s": f"{cold['new_province']:.3f}",
        "warm_commune_new_s": f"{warm['new_commune']:.3f}", "cold_commune_new_s": f"{cold['new_commune']:.3f}",
        "warm_across_s": f"{warm['across_province']:.3f}", "cold_across_s": f"{cold['across_province']:.3f}",
        "warm_scoped_s": f"{scoped['warm']:.3f}", "cold_scoped_s": f"{scoped['cold']:.3f}",
        "warm_one_province_s": f"{one['warm']:.3f}", "cold_one_province_s": f"{one['cold']:.3f}",
        "cpu_commune_old_s": f"{results['old_commune']['cpu']:.3f}",
        "not_attributable": sum(item.not_attributable for item in results["across_province"]["found"]),
        "rows_per_s": f"{counts[OLD] / warm['old_province']:.0f}", "peak_mb": f"{peak_mb:.0f}",
        "rss_mb": f"{rss_mb():.0f}", "sql_sum_s": f"{sql_s:.3f}", "hand_s": f"{hand_s:.3f}",
        "ratio_to_hand": f"{warm['old_province'] / hand_s:.1f}", "ratio_to_sql": f"{warm['old_province'] / sql_s:.1f}",
        "agrees": "yes" if agrees and sql_agrees else "no",
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    slow = [s for s in (*warm.values(), *cold.values(), scoped["warm"], scoped["cold"], one["warm"], one["cold"])
            if s >= TARGET_S]
    return 0 if agrees and sql_agrees and not slow else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a bench_<random> database is made on it)")
    parser.add_argument("--seed", type=int, default=20251001)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one warm commune-level call")
    args = parser.parse_args(argv)
    database = Database(args.database_url)
    say(f"Cơ sở dữ liệu: {database.kind} ({database.name or database.url})")
    try:
        return measure(database, args.seed, args.profile)
    finally:
        database.drop()


if __name__ == "__main__":
    sys.exit(main())
