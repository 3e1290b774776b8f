"""Benchmark: training attainment of EVERY target at national scale (after bench.generate).

    .venv/bin/python -m bench.attainment_national --database-url URL [--date YYYY-MM-DD] [--profile]

On the database made by `bench.generate` (it is only read), for every training target of every plan:

- `service.training.queries.attainments(pairs, day)`: every target on its own scope in ONE statement (the active
  staff of each role in each unit, and per-person training statuses derived once from the records, counted per
  unit and role): cold is the first pass on a new connection pool, warm the best of three further passes, each in
  a new session; `single_ms` is the mean time of `attainment(target, day)` (the same statement for one target)
  over a sample of targets, as the detail page and the API of one target use it;
- the attainment page's rows (`service.training.queries.attainment_rows` for a national administrator:
  attainment and the projection to the deadline of every target, one statement), best of three (`page_s`); and
  the rows the page shows by default, one province's targets (`province_page_s`);
- baseline measured in the same run (`grouped_s`): the same numbers for every target from one grouped query per
  (metric, topic) over the whole country (province × role, with the service's own `meets` clause);
  `ratio_to_grouped = warm_s / grouped_s`; `agrees=yes` when every numerator and denominator is the same, and
  the sample's single-target results are those of the batch;
- on a miss of the target (or with --profile), a cProfile of one warm pass and the query plan of the batch
  statement (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).

Target: every target in under 1 s in total (warm). The last line printed is only key=value pairs.
"""
import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from datetime import date

import sqlalchemy as sa

from bench.common import backend, kv_line, make_app, rss_mb, say

TARGET_S = 1.0
WARM_RUNS = 3
SINGLE_SAMPLE = 20


def load_targets():
    from sqlalchemy.orm import joinedload

    from service.extensions import db
    from service.training.models import TrainingTarget

    return db.session.scalars(sa.select(TrainingTarget).options(
        joinedload(TrainingTarget.scope_unit), joinedload(TrainingTarget.plan),
        joinedload(TrainingTarget.role_category)).order_by(TrainingTarget.id)).unique().all()


def one_pass(day):
    """Every target's attainment in a new session, in one batch; returns (total s, {target id: (numerator,
    denominator)}, process CPU s)."""
    from service.extensions import db
    from service.training.queries import attainments

    db.session.remove()
    started, started_cpu = time.perf_counter(), time.process_time()
    targets = load_targets()
    results = attainments([(target, None) for target in targets], day)
    each = {target.id: (result.numerator, result.denominator) for target, result in zip(targets, results, strict=True)}
    return time.perf_counter() - started, each, time.process_time() - started_cpu


def single_pass(day, sample):
    """`attainment(target, day)` one target at a time for the sample; returns ([s], {target id: (n, d)})."""
    from service.extensions import db
    from service.training.queries import attainment

    db.session.remove()
    targets = {target.id: target for target in load_targets()}
    times, found = [], {}
    for target_id in sample:
        begun = time.perf_counter()
        result = attainment(targets[target_id], day)
        times.append(time.perf_counter() - begun)
        found[target_id] = (result.numerator, result.denominator)
    return times, found


def page_pass(day, province=False):
    """The attainment page's rows for a national administrator: attainment and projection of every target (or,
    with `province`, of the targets the page shows by default: the first province's)."""
    from service.accounts.models import User
    from service.accounts.scope import Scope
    from service.extensions import db
    from service.training.queries import attainment_rows, select_attainment

    db.session.remove()
    started = time.perf_counter()
    scope = Scope(User(username="bench", role="admin"))  # transient, never saved
    pairs = select_attainment(scope, None, "", paginate=False).pairs if province else None
    rows = attainment_rows(scope, day, pairs=pairs)
    return time.perf_counter() - started, len(rows)


def grouped_pass(day):
    """Baseline: the same numbers from one grouped query per (metric, topic) over the whole country (province ×
    role: active staff, and those meeting the metric through the service's own `meets` clause), for the targets
    set on a province; any other target through attainment(). Returns (s, {target id: (numerator, denominator)})."""
    from service.extensions import db
    from service.training.models import StaffMember
    from service.training.queries import active_on, attainment, meets
    from service.units.models import AdminUnit

    db.session.remove()
    started = time.perf_counter()
    targets = load_targets()
    kinds = {}
    for target in targets:
        if target.scope_unit.level == "province":
            kinds.setdefault((target.metric, target.topic), set()).add(target.role_category_id)
    counts = {}
    province = sa.func.coalesce(AdminUnit.province_id, AdminUnit.id)
    for (metric, topic), roles in kinds.items():
        rows = db.session.execute(
            sa.select(province, StaffMember.role_category_id, sa.func.count(StaffMember.id),
                      sa.func.sum(sa.case((meets(metric, topic, day), 1), else_=0)))
            .join(AdminUnit, AdminUnit.id == StaffMember.org_unit_id)
            .where(active_on(day), StaffMember.role_category_id.in_(sorted(roles)))
            .group_by(province, StaffMember.role_category_id))
        for province_id, role_id, denominator, numerator in rows:
            counts[(metric, topic, province_id, role_id)] = (int(numerator or 0), denominator)
    result = {}
    for target in targets:
        if target.scope_unit.level == "province":
            result[target.id] = counts.get((target.metric, target.topic, target.scope_unit_id,
                                            target.role_category_id), (0, 0))
        else:
            found = attainment(target, day)
            result[target.id] = (found.numerator, found.denominator)
    return time.perf_counter() - started, len(kinds), result


def profile_pass(day):
    profiler = cProfile.Profile()
    profiler.enable()
    one_pass(day)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(8)
    return out.getvalue()


def explain(day):
    """The query plan of the batch statement of every target."""
    from service.extensions import db
    from service.training.queries import attainments

    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    targets = load_targets()
    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        attainments([(target, None) for target in targets], day)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = next(item for item in reversed(captured) if item[0].lstrip().upper().startswith(
        ("SELECT", "WITH")))
    dialect = db.session.get_bind().dialect
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    rows = db.session.connection().exec_driver_sql(prefix + statement, parameters).all()
    db.session.rollback()
    return [" | ".join(str(cell) for cell in row) for row in rows]


def target_text(ok):
    return "đạt" if ok else "KHÔNG ĐẠT"


def measure(url, day, show_profile):
    from service.extensions import db
    from service.training.models import StaffMember
    from service.training.queries import active_on

    app = make_app(url)
    with app.app_context():
        targets = {target.id: target for target in load_targets()}
        if not targets:
            say("Không có chỉ tiêu đào tạo nào: chạy bench.generate trước.")
            return 2
        staff_total = db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember))
        active = db.session.scalar(sa.select(sa.func.count(StaffMember.id)).where(active_on(day)))
        say(f"{len(targets)} chỉ tiêu đào tạo; {staff_total:,} cán bộ, {active:,} đang làm việc ngày {day.isoformat()}")
        db.session.remove()
        db.engine.dispose()
        cold_s, _each, _cpu = one_pass(day)
        passes = [one_pass(day) for _ in range(WARM_RUNS)]
        warm_s, each, warm_cpu_s = min(passes, key=lambda item: item[0])
        say(f"attainments() cho mọi chỉ tiêu (một câu lệnh): nguội {cold_s:.3f} s, ấm {warm_s:.3f} s (các lần: "
            + ", ".join(f"{total:.3f}" for total, _each, _cpu in passes) + f"), CPU của tiến trình {warm_cpu_s:.3f} s")
        ids = sorted(targets)
        sample = ids[::max(1, len(ids) // SINGLE_SAMPLE)][:SINGLE_SAMPLE]
        single_times, single_found = single_pass(day, sample)
        single_agrees = all(single_found[target_id] == each[target_id] for target_id in sample)
        say(f"  attainment() từng chỉ tiêu ({len(sample)} chỉ tiêu mẫu): trung bình "
            f"{statistics.mean(single_times) * 1000:.1f} ms, chậm nhất {max(single_times) * 1000:.1f} ms; "
            f"khớp với lượt gộp: {'có' if single_agrees else 'KHÔNG'}")
        by_metric = {}
        for target_id, (numerator, denominator) in each.items():
            by_metric.setdefault(targets[target_id].metric, []).append((numerator, denominator))
        for metric, values in sorted(by_metric.items()):
            say(f"  {metric:16} {len(values):4} chỉ tiêu, tử số {sum(n for n, _d in values):,} / mẫu số "
                f"{sum(d for _n, d in values):,}")
        page = [page_pass(day) for _ in range(WARM_RUNS)]
        say(f"Trang chỉ tiêu (attainment + dự báo đến hạn, quản trị toàn quốc, mọi chỉ tiêu): {min(page)[0]:.3f} s, "
            f"{min(page)[1]} dòng")
        province_page = [page_pass(day, province=True) for _ in range(WARM_RUNS)]
        say(f"Trang chỉ tiêu mặc định (một tỉnh): {min(province_page)[0]:.3f} s, {min(province_page)[1]} dòng")
        grouped = [grouped_pass(day) for _ in range(WARM_RUNS)]
        grouped_s, queries, found = min(grouped, key=lambda item: item[0])
        agrees = single_agrees and all(found.get(target_id) == counts for target_id, counts in each.items())
        say(f"Mốc so sánh: {queries} truy vấn gộp theo tỉnh × vai trò cho cả nước {grouped_s:.3f} s; "
            f"khớp từng chỉ tiêu: {'có' if agrees else 'KHÔNG'}")
        met = warm_s < TARGET_S
        if show_profile or not met:
            say("cProfile một lượt ấm (theo thời gian riêng):")
            say(profile_pass(day))
            say("Kế hoạch của câu lệnh gộp:")
            for line in explain(day)[:60]:
                say("  " + line)
        db.session.remove()
        db.engine.dispose()
    say("Mục tiêu:")
    say(f"  mọi chỉ tiêu < {TARGET_S:.0f} s: {warm_s:.3f} s — {target_text(met)}")
    figures = {
        "db": backend(url), "targets": len(targets), "staff": staff_total, "active_staff": active,
        "warm_s": f"{warm_s:.3f}", "warm_cpu_s": f"{warm_cpu_s:.3f}", "cold_s": f"{cold_s:.3f}",
        "per_target_ms": f"{warm_s / len(targets) * 1000:.1f}",
        "single_ms": f"{statistics.mean(single_times) * 1000:.1f}",
        "page_s": f"{min(page)[0]:.3f}", "province_page_s": f"{min(province_page)[0]:.3f}",
        "grouped_s": f"{grouped_s:.3f}", "ratio_to_grouped": f"{warm_s / grouped_s:.1f}",
        "agrees": "yes" if agrees else "no",
        "rss_mb": f"{rss_mb():.0f}", "target_met": "yes" if met else "no",
    }
    say(kv_line(figures))
    return 0 if agrees else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="the database made by bench.generate (read only)")
    parser.add_argument("--date", type=date.fromisoformat, default=date.today(), help="the day measured")
    parser.add_argument("--profile", action="store_true", help="cProfile and query plan even when the target is met")
    args = parser.parse_args(argv)
    return measure(args.database_url, args.date, args.profile)


if __name__ == "__main__":
    sys.exit(main())
