"""Benchmark: the scheduled validation of a NATIONAL quarter, end to end.

    .venv/bin/python -m bench.validate_national [--database-url URL] [--seed N]

A fresh database (a SQLite file in a temp dir by default; with a PostgreSQL URL, a new database
`bench_<random>` on that server, dropped at the end) gets the official 2024 unit list, one report per commune
for 2025Q1 (10,035; about 2 % deliberately inconsistent, a seeded and exactly known set) and a consistent
2024Q4 before it, both with one bulk insert. Then:

- cold: a fresh subprocess imports service.validation.runner (Great Expectations included) and runs one full
  validation; its peak RSS is the scheduler's memory;
- warm: one untimed run, then three timed runs in this process (best and median); tracemalloc peak of a
  fourth run;
- correctness: every deliberately inconsistent report must carry an open error flag, no other report any;
- baseline: a hand-written vectorized pandas pass over the consistency rules C01–C08 on the same rows;
- instant check: service.rules.evaluator.evaluate on one report, as at entry.

The last line printed is only key=value pairs.
"""
import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

import sqlalchemy as sa

from bench.common import Database, consistent_values, make_app, migrate, rss_mb, say
from service.common.time import VIETNAM
from service.config import PROJECT_DIR

UNITS_DIR = PROJECT_DIR.parent / "shared" / "data"
FORM_CODE = "commune_rehab"
PERIOD = "2025Q1"
PREVIOUS = "2024Q4"
EDITION = 2024
SPOIL_SHARE = 0.02
DRUG_FREE_SHARE = 0.03
WARM_RUNS = 3
INSTANT_CALLS = 200
ERROR_RULES = ("C01", "C02", "C03", "C04", "C05")
HAND_RULES = ERROR_RULES + ("C06", "C07", "C08")
SPOILS = ("treated_exceeds_addicts", "modalities_do_not_add_up", "employed_exceeds_managed",
          "managed_exceeds_completed", "relapsed_exceeds_completed")
OPEN_STATUSES = ("open", "explained")


# --- generated reports -----------------------------------------------------------------------------------


def spoil(values, kind):
    """Break exactly one ERROR-level consistency rule (C02 may follow C01: the total changes)."""
    if kind == "treated_exceeds_addicts":  # C01 (and C02)
        values["treated_total"] = values["addicts_with_record"] + 7
    elif kind == "modalities_do_not_add_up":  # C02
        values["treated_community"] += 5
    elif kind == "employed_exceeds_managed":  # C04
        values["employed_after_rehab"] = values["post_rehab_managed"] + 3
    elif kind == "managed_exceeds_completed":  # C03 (C06, C04 stay true: vocational, employed unchanged)
        values["post_rehab_managed"] = values["completed"] + 4
    elif kind == "relapsed_exceeds_completed":  # C05 (completed to date = 2024Q4 + 2025Q1)
        values["relapsed"] = values["completed"] + values.get("_previous_completed", 0) + 2
    values.pop("_previous_completed", None)
    return values


def load_data(seed):
    """Units, one admin, and two quarters of reports (bulk). Returns (spoiled {org_unit_id: kind}, rows)."""
    from sqlalchemy import insert, select

    from service.accounts.operations import create_user
    from service.extensions import db
    from service.forms.periods import Period
    from service.forms.registry import get_form
    from service.submissions.models import Submission
    from service.units.models import AdminUnit
    from service.units.operations import import_edition

    started = time.perf_counter()
    result = import_edition(Path(UNITS_DIR, "vn_units_2024.csv").read_bytes(), EDITION)
    user = create_user("bench", "admin", "quarter-validation-2025")  # policy: no username inside
    db.session.commit()
    say(f"Đơn vị 2024: {result.inserted} đã nạp ({time.perf_counter() - started:.1f} s)")

    form = get_form(FORM_CODE)
    communes = db.session.execute(select(AdminUnit.id, AdminUnit.province_id).where(
        AdminUnit.edition == EDITION, AdminUnit.level == "commune").order_by(AdminUnit.code)).all()
    provinces = {unit.id: unit for unit in db.session.scalars(select(AdminUnit).where(
        AdminUnit.edition == EDITION, AdminUnit.level == "province"))}
    rng = random.Random(seed)
    drug_free = set(rng.sample([unit_id for unit_id, _p in communes], int(len(communes) * DRUG_FREE_SHARE)))
    candidates = [unit_id for unit_id, _p in communes if unit_id not in drug_free]
    spoiled_ids = rng.sample(candidates, round(len(communes) * SPOIL_SHARE))
    spoiled = {unit_id: SPOILS[index % len(SPOILS)] for index, unit_id in enumerate(sorted(spoiled_ids))}

    started = time.perf_counter()
    rows, previous_completed = {PREVIOUS: [], PERIOD: []}, {}
    for step, code in enumerate((PREVIOUS, PERIOD)):
        period = Period.parse(code)
        dues = {}
        for unit_id, province_id in communes:
            if province_id not in dues:
                dues[province_id] = form.due_date(period, provinces.get(province_id))
            due = dues[province_id]
            rng_unit = random.Random(f"{seed}:{unit_id}")  # the same commune keeps its size across periods
            base = rng_unit.choice([rng_unit.randint(3, 25), rng_unit.randint(20, 90)])
            values = consistent_values(rng, base, step, unit_id in drug_free)
            if code == PERIOD and unit_id in spoiled:
                values["_previous_completed"] = previous_completed[unit_id]
                values = spoil(values, spoiled[unit_id])
            moment = datetime.combine(due - timedelta(days=rng.randint(1, 12)),
                                      time_of_day(rng.randint(7, 16), rng.randint(0, 59)), VIETNAM)
            rows[code].append({
                "form_code": FORM_CODE, "form_version": form.version, "period": code, "period_type": period.kind,
                "org_unit_id": unit_id, "version": 1, "is_current": True, "status": "submitted", "values": values,
                "submitted_at": moment, "submitted_by_id": user.id, "channel": "api", "due_date": due,
                "on_time": True})
        if code == PREVIOUS:
            previous_completed = {row["org_unit_id"]: row["values"]["completed"] for row in rows[code]}
    generated = time.perf_counter() - started
    started = time.perf_counter()
    for code in (PREVIOUS, PERIOD):
        db.session.execute(insert(Submission), rows[code])
    db.session.commit()
    say(f"Báo cáo: {len(rows[PERIOD])} kỳ {PERIOD} + {len(rows[PREVIOUS])} kỳ {PREVIOUS} "
        f"(sinh {generated:.1f} s, chèn hàng loạt {time.perf_counter() - started:.1f} s)")
    say(f"  {len(spoiled)} báo cáo cố ý sai (quy tắc mức lỗi), {len(drug_free)} xã không ma túy (toàn số 0)")
    return spoiled, len(rows[PERIOD])


# --- phases ----------------------------------------------------------------------------------------------


def cold_phase(url):
    """In a fresh process: app, then (timed) import of the runner + one full validation. Prints one JSON line."""
    started = time.perf_counter()
    app = make_app(url)
    app_s = time.perf_counter() - started
    with app.app_context():
        from service.forms.periods import Period
        from service.forms.registry import get_form

        form, period = get_form(FORM_CODE), Period.parse(PERIOD)
        started = time.perf_counter()
        from service.validation.runner import run_validation

        import_s = time.perf_counter() - started
        run = run_validation(form, [period], "manual", data_docs=False)
        cold_s = time.perf_counter() - started
        checked, failing = run.reports_checked, run.reports_failing
    print(json.dumps({"app_s": app_s, "import_s": import_s, "cold_s": cold_s, "checked": checked,
                      "failing": failing, "rss_mb": rss_mb()}), flush=True)


def run_cold(url):
    env = dict(os.environ, PYTHONPATH=str(PROJECT_DIR))
    proc = subprocess.run([sys.executable, "-m", "bench.validate_national", "--phase", "cold", "--database-url",
                           url], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"cold phase failed ({proc.returncode})")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def warm_runs(form, period):
    from service.validation.models import RunFailure
    from service.validation.runner import run_validation

    run_validation(form, [period], "manual", data_docs=False)  # warm-up, untimed
    times, run = [], None
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        run = run_validation(form, [period], "manual", data_docs=False)
        times.append(time.perf_counter() - started)
        assert run.status == "completed", run.error
    say(f"Chạy ấm ×{WARM_RUNS}: " + ", ".join(f"{t:.2f}" for t in times) + " s "
        f"(tốt nhất {min(times):.2f}, trung vị {statistics.median(times):.2f})")
    say(f"  {run.reports_checked} báo cáo, {run.reports_failing} có lỗi/cảnh báo, {run.failures} vi phạm")
    tracemalloc.start()
    started = time.perf_counter()
    traced = run_validation(form, [period], "manual", data_docs=False)
    traced_s = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    say(f"Chạy có tracemalloc: {traced_s:.2f} s, đỉnh cấp phát Python {peak / 2**20:.0f} MB")
    from service.extensions import db

    failures = {}
    for submission_id, rule in db.session.execute(sa.select(RunFailure.submission_id, RunFailure.rule).where(
            RunFailure.run_id == traced.id)):
        failures.setdefault(rule, set()).add(submission_id)
    return times, peak / 2**20, failures


@contextmanager
def timed(module, name, seconds):
    """Wrap module.name so that its time adds up in seconds[name] (restored on exit)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[name] = seconds.get(name, 0) + time.perf_counter() - started

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def breakdown(form, period):
    """One more run (not in warm_s) with its parts timed: where does a warm run spend its time?"""
    from service.flags import operations
    from service.validation import context, runner

    seconds, batches = {}, []
    original_validate = runner.validate_contexts

    def keep(*args, **kwargs):
        batches.append(original_validate(*args, **kwargs))
        return batches[-1]

    with timed(context, "contexts_for_period", seconds), timed(operations, "apply_verdicts", seconds), \
            timed(runner, "frame", seconds):
        runner.validate_contexts = keep
        try:
            started = time.perf_counter()
            runner.run_validation(form, [period], "manual", data_docs=False)
            total = time.perf_counter() - started
        finally:
            runner.validate_contexts = original_validate
    derive_s, gx_s = batches[-1].seconds["derive"], batches[-1].seconds["gx"]
    frame_s = seconds["frame"]
    rest = total - seconds["contexts_for_period"] - derive_s - gx_s - seconds["apply_verdicts"]
    say(f"Phân rã một lần chạy ấm ({total:.2f} s): đọc + ngữ cảnh {seconds['contexts_for_period']:.2f}, "
        f"derive {derive_s:.2f}, DataFrame {frame_s:.2f}, GX validate {gx_s - frame_s:.2f},")
    say(f"  apply_verdicts {seconds['apply_verdicts']:.2f}, còn lại (ghi lỗi, trạng thái, commit) {rest:.2f} s")


def gc_freeze_runs(form, period):
    """What the scheduler would gain from gc.freeze() after its imports (not in warm_s; the service does not do
    it): the cyclic collector stops re-scanning the hundreds of thousands of objects Great Expectations and
    pandas leave after import."""
    from service.validation.runner import run_validation

    gc.collect()
    gc.freeze()
    try:
        times = []
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            run_validation(form, [period], "manual", data_docs=False)
            times.append(time.perf_counter() - started)
    finally:
        gc.unfreeze()
    say(f"Thử gc.freeze() sau khi nhập (không tính vào warm_s): tốt nhất {min(times):.2f} s")
    return min(times)


def correctness(spoiled):
    from service.extensions import db
    from service.flags.models import Flag

    flagged = set(db.session.scalars(sa.select(Flag.org_unit_id).where(
        Flag.subject == "report", Flag.form_code == FORM_CODE, Flag.period == PERIOD, Flag.severity == "error",
        Flag.status.in_(OPEN_STATUSES))))
    found = len(flagged & set(spoiled))
    false_errors = len(flagged - set(spoiled))
    by_rule = dict(db.session.execute(sa.select(Flag.rule, sa.func.count()).where(
        Flag.subject == "report", Flag.period == PERIOD, Flag.status.in_(OPEN_STATUSES)).group_by(Flag.rule)).all())
    say("Cờ đang mở theo quy tắc: " + ", ".join(f"{rule}={count}" for rule, count in sorted(by_rule.items())))
    return found, false_errors


def hand_pass():
    """The consistency rules C01–C08 written by hand with pandas column operations, from the database."""
    import pandas as pd

    from service.extensions import db
    from service.forms.periods import Period
    from service.submissions.models import Submission
    from service.submissions.queries import history_periods

    started = time.perf_counter()
    current = db.session.execute(sa.select(Submission.id, Submission.org_unit_id, Submission.values).where(
        Submission.form_code == FORM_CODE, Submission.period == PERIOD, Submission.is_current.is_(True))).all()
    history = db.session.execute(sa.select(Submission.org_unit_id, Submission.values).where(
        Submission.form_code == FORM_CODE, Submission.is_current.is_(True),
        Submission.period.in_(history_periods(Period.parse(PERIOD))))).all()
    loaded = time.perf_counter()
    df = pd.DataFrame.from_records([values for _id, _unit, values in current])
    df["submission_id"] = [row[0] for row in current]
    df["org_unit_id"] = [row[1] for row in current]
    past = pd.DataFrame({"org_unit_id": [row[0] for row in history],
                         "completed": [row[1].get("completed") for row in history]})
    past["completed"] = pd.to_numeric(past["completed"], errors="coerce")
    past_completed = past.groupby("org_unit_id")["completed"].sum(min_count=1)
    framed = time.perf_counter()

    def num(column):
        return pd.to_numeric(df[column], errors="coerce") if column in df else pd.Series(float("nan"), df.index)

    modalities = (num("treated_compulsory") + num("treated_voluntary_facility") + num("treated_community")
                  + num("treated_substitution"))
    previous = df["org_unit_id"].map(past_completed)
    completed_to_date = num("completed").fillna(0) + previous.fillna(0)
    completed_to_date[num("completed").isna() & previous.isna()] = float("nan")
    addicts, users = num("addicts_with_record"), num("users_with_record")
    conflict = df["drug_free"].eq(True) & ((addicts.fillna(0) > 0) | (users.fillna(0) > 0))

    def at_least(a, b):  # expect_column_pair_values_a_to_be_greater_than_b, or_equal, skip missing
        return a.notna() & b.notna() & (a < b)

    def equal(a, b):
        return a.notna() & b.notna() & (a != b)

    failing = {
        "C01": at_least(addicts, num("treated_total")),
        "C02": equal(num("treated_total"), modalities),
        "C03": at_least(num("completed"), num("post_rehab_managed")),
        "C04": at_least(num("post_rehab_managed"), num("employed_after_rehab")),
        "C05": at_least(completed_to_date, num("relapsed")),
        "C06": at_least(num("post_rehab_managed"), num("vocational_supported")),
        "C07": at_least(addicts + users, num("counselled_screened")),
        "C08": conflict,
    }
    result = {rule: set(df.loc[mask, "submission_id"]) for rule, mask in failing.items()}
    units = {rule: set(df.loc[mask, "org_unit_id"]) for rule, mask in failing.items()}
    done = time.perf_counter()
    timings = {"load_s": loaded - started, "frame_s": framed - loaded, "checks_s": done - framed,
               "total_s": done - started}
    return result, units, timings


def instant_check(form, spoiled):
    from service.extensions import db
    from service.rules.evaluator import evaluate
    from service.submissions.checks import context_for_entry
    from service.submissions.models import Submission
    from service.units.models import AdminUnit

    unit_id = min(spoiled)
    unit = db.session.get(AdminUnit, unit_id)
    values = db.session.scalar(sa.select(Submission.values).where(
        Submission.org_unit_id == unit_id, Submission.period == PERIOD, Submission.is_current.is_(True)))
    context = context_for_entry(form, PERIOD, unit, values)
    verdicts = evaluate(form, context)  # warm-up (suites read once per process)
    started = time.perf_counter()
    for _ in range(INSTANT_CALLS):
        evaluate(form, context)
    instant_ms = (time.perf_counter() - started) / INSTANT_CALLS * 1000
    started = time.perf_counter()
    for _ in range(INSTANT_CALLS):
        evaluate(form, context_for_entry(form, PERIOD, unit, values))
    with_context_ms = (time.perf_counter() - started) / INSTANT_CALLS * 1000
    db.session.rollback()
    errors = sorted(v.rule for v in verdicts if v.severity == "error")
    say(f"Kiểm tra tức thì (xã {unit.code}, {spoiled[unit_id]}): lỗi {errors}")
    say(f"  evaluate {instant_ms:.2f} ms, kèm dựng ngữ cảnh {with_context_ms:.2f} ms (trung bình {INSTANT_CALLS} lần)")
    return instant_ms, with_context_ms, bool(errors)


def target(ok):
    return "đạt" if ok else "KHÔNG ĐẠT"


def main_phase(args):
    database = Database(args.database_url)
    say(f"Cơ sở dữ liệu: {database.kind} ({database.name or database.url})")
    try:
        return measure(database, args.seed)
    finally:
        database.drop()


def measure(database, seed):
    started = time.perf_counter()
    app = make_app(database.url)
    migrate(app)
    say(f"Ứng dụng + migrations: {time.perf_counter() - started:.1f} s")
    from service.extensions import db
    from service.forms.periods import Period
    from service.forms.registry import get_form

    with app.app_context():
        spoiled, rows = load_data(seed)
        db.session.remove()
        db.engine.dispose()  # SQLite: no reader holds a lock while the subprocess writes

    cold = run_cold(database.url)
    say(f"Chạy nguội (tiến trình mới): nhập runner + GX {cold['import_s']:.2f} s, tổng {cold['cold_s']:.2f} s "
        f"(tạo ứng dụng thêm {cold['app_s']:.2f} s)")
    say(f"  RSS đỉnh của tiến trình đó {cold['rss_mb']:.0f} MB; {cold['checked']} báo cáo, "
        f"{cold['failing']} có lỗi/cảnh báo")

    with app.app_context():
        form, period = get_form(FORM_CODE), Period.parse(PERIOD)
        times, peak_mb, run_failures = warm_runs(form, period)
        breakdown(form, period)
        found, false_errors = correctness(spoiled)
        hand_runs = [hand_pass() for _ in range(3)]
        db.session.rollback()
        instant_ms, with_context_ms, instant_found = instant_check(form, spoiled)
        frozen = gc_freeze_runs(form, period)
        db.session.remove()
        db.engine.dispose()

    warm_s = min(times)
    hand, hand_units, timings = min(hand_runs, key=lambda item: item[2]["total_s"])
    hand_s = timings["total_s"]
    errors_hand = set().union(*(hand_units[rule] for rule in ERROR_RULES))
    agrees_rules = all(hand[rule] == run_failures.get(rule, set()) for rule in HAND_RULES)
    agrees = agrees_rules and errors_hand == set(spoiled)
    say(f"Viết tay bằng pandas (C01–C08): {hand_s * 1000:.0f} ms = đọc CSDL {timings['load_s'] * 1000:.0f} "
        f"+ khung {timings['frame_s'] * 1000:.0f} + kiểm tra {timings['checks_s'] * 1000:.0f} ms")
    say(f"  khớp từng quy tắc với lần chạy GX: {'có' if agrees_rules else 'KHÔNG'}; "
        f"tập lỗi = tập cố ý sai: {'có' if errors_hand == set(spoiled) else 'KHÔNG'}")
    say(f"Tiến trình chính: RSS đỉnh {rss_mb():.0f} MB")
    say("Mục tiêu:")
    say(f"  chạy ấm ≤ 1 s: {warm_s:.2f} s — {target(warm_s <= 1)}")
    say(f"  tìm đủ báo cáo lỗi: {found}/{len(spoiled)}, báo nhầm {false_errors} — "
        f"{target(found == len(spoiled) and false_errors == 0)}")
    say(f"  tiến trình lịch < 400 MB: {cold['rss_mb']:.0f} MB — {target(cold['rss_mb'] < 400)}")
    say(f"  kiểm tra tức thì < 20 ms: {with_context_ms:.2f} ms (kèm ngữ cảnh) — {target(with_context_ms < 20)}")
    figures = {
        "db": database.kind, "rows": rows, "inconsistent": len(spoiled), "warm_s": f"{warm_s:.2f}",
        "warm_median_s": f"{statistics.median(times):.2f}", "cold_s": f"{cold['cold_s']:.2f}",
        "peak_mb": f"{peak_mb:.0f}", "hand_s": f"{hand_s:.3f}", "ratio_to_hand": f"{warm_s / hand_s:.1f}",
        "failing_found": f"{found}/{len(spoiled)}", "false_errors": false_errors,
        "hand_agrees": "yes" if agrees else "no", "instant_ms": f"{instant_ms:.2f}",
        "instant_with_context_ms": f"{with_context_ms:.2f}", "scheduler_rss_mb": f"{cold['rss_mb']:.0f}",
        "warm_gc_freeze_s": f"{frozen:.2f}",
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    return 0 if agrees and instant_found else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a bench_<random> database is made on it)")
    parser.add_argument("--seed", type=int, default=20250401)
    parser.add_argument("--phase", choices=["main", "cold"], default="main", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "cold":
        cold_phase(args.database_url)
        return 0
    return main_phase(args)


if __name__ == "__main__":
    sys.exit(main())
