"""Benchmark: training attainment of EVERY target at national scale (after bench.generate).

    .venv/bin/python -m bench.attainment_national --database-url URL [--date YYYY-MM-DD] [--profile]

On the database made by `bench.generate` (it is only read), for every training target of every plan:

- `service.training.queries.attainment(target, day)` on its own scope (two COUNT queries: the active staff of
  the role in the unit, and those of them who meet the metric): cold is the first pass on a new connection pool,
  warm the best of three further passes; the slowest targets are listed, with their time;
- the attainment page's rows (`admin.training.attainment_rows` for a national administrator: attainment and the
  projection to the deadline of every target), best of three;
- baseline measured in the same run (`grouped_s`): the same numbers for every target from one grouped query per
  (metric, topic) over the whole country (province × role, with the service's own `meets` clause);
  `ratio_to_grouped = warm_s / grouped_s`; `agrees=yes` when every numerator and denominator is the same;
- on a miss of the target (or with --profile), a cProfile of one warm pass and the query plan of the slowest
  target's numerator (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).

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


def load_targets():
    from sqlalchemy.orm import joinedload

    from service.extensions import db
    from service.training.models import TrainingTarget

    return db.session.scalars(sa.select(TrainingTarget).options(
        joinedload(TrainingTarget.scope_unit), joinedload(TrainingTarget.plan),
        joinedload(TrainingTarget.role_category)).order_by(TrainingTarget.id)).unique().all()


def one_pass(day):
    """Every target's attainment in a new session; returns (total s, {target id: (s, numerator, denominator)})."""
    from service.extensions import db
    from service.training.queries import attainment

    db.session.remove()
    started, started_cpu = time.perf_counter(), time.process_time()
    targets = load_targets()
    each = {}
    for target in targets:
        begun = time.perf_counter()
        result = attainment(target, day)
        each[target.id] = (time.perf_counter() - begun, result.numerator, result.denominator)
    return time.perf_counter() - started, each, time.process_time() - started_cpu


def page_pass(day):
    """The attainment page's rows for a national administrator: attainment and projection of every target."""
    from admin.training import attainment_rows
    from service.accounts.models import User
    from service.accounts.scope import Scope
    from service.extensions import db

    db.session.remove()
    started = time.perf_counter()
    rows = attainment_rows(Scope(User(username="bench", role="admin")), day)  # transient, never saved
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


def explain(target_id, day):
    """The query plan of one target's numerator query."""
    from service.extensions import db
    from service.training.models import StaffMember, TrainingTarget
    from service.training.queries import active_on, in_unit, meets

    target = db.session.get(TrainingTarget, target_id)
    statement = sa.select(sa.func.count(StaffMember.id)).where(
        StaffMember.role_category_id == target.role_category_id, active_on(day), in_unit(target.scope_unit),
        meets(target.metric, target.topic, day))
    dialect = db.session.get_bind().dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    rows = db.session.execute(sa.text(prefix + sql)).all()
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
        labels = {target_id: (f"{t.plan.code} {t.scope_unit.code} {t.role_category.code} {t.metric}"
                              f"{' ' + t.topic if t.topic else ''}") for target_id, t in targets.items()}
        staff_total = db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember))
        active = db.session.scalar(sa.select(sa.func.count(StaffMember.id)).where(active_on(day)))
        say(f"{len(targets)} chỉ tiêu đào tạo; {staff_total:,} cán bộ, {active:,} đang làm việc ngày {day.isoformat()}")
        db.session.remove()
        db.engine.dispose()
        cold_s, _each, _cpu = one_pass(day)
        passes = [one_pass(day) for _ in range(WARM_RUNS)]
        warm_s, each, warm_cpu_s = min(passes, key=lambda item: item[0])
        times = sorted(((seconds, target_id) for target_id, (seconds, _n, _d) in each.items()), reverse=True)
        per_target = [seconds for seconds, _id in times]
        say(f"attainment() cho mọi chỉ tiêu: nguội {cold_s:.3f} s, ấm {warm_s:.3f} s (các lần: "
            + ", ".join(f"{total:.3f}" for total, _each, _cpu in passes) + f"), CPU của tiến trình {warm_cpu_s:.3f} s")
        say(f"  mỗi chỉ tiêu: trung bình {statistics.mean(per_target) * 1000:.1f} ms, trung vị "
            f"{statistics.median(per_target) * 1000:.1f} ms, chậm nhất {per_target[0] * 1000:.1f} ms")
        by_metric = {}
        for target_id, (seconds, _n, _d) in each.items():
            by_metric.setdefault(targets[target_id].metric, []).append(seconds)
        for metric, values in sorted(by_metric.items()):
            say(f"  {metric:16} {len(values):4} chỉ tiêu, tổng {sum(values):.3f} s, trung bình "
                f"{statistics.mean(values) * 1000:.1f} ms")
        say("  chậm nhất:")
        for seconds, target_id in times[:5]:
            _s, numerator, denominator = each[target_id]
            say(f"    {seconds * 1000:7.1f} ms  {labels[target_id]}  {numerator}/{denominator}")
        page = [page_pass(day) for _ in range(WARM_RUNS)]
        if page:
            say(f"Trang chỉ tiêu (attainment + dự báo đến hạn, quản trị toàn quốc): {min(page)[0]:.3f} s, "
                f"{min(page)[1]} dòng")
        grouped = [grouped_pass(day) for _ in range(WARM_RUNS)]
        grouped_s, queries, found = min(grouped, key=lambda item: item[0])
        agrees = all(found.get(target_id) == (numerator, denominator)
                     for target_id, (_s, numerator, denominator) in each.items())
        say(f"Mốc so sánh: {queries} truy vấn gộp theo tỉnh × vai trò cho cả nước {grouped_s:.3f} s; "
            f"khớp từng chỉ tiêu: {'có' if agrees else 'KHÔNG'}")
        met = warm_s < TARGET_S
        if show_profile or not met:
            say("cProfile một lượt ấm (theo thời gian riêng):")
            say(profile_pass(day))
            slowest = times[0][1]
            say(f"Kế hoạch truy vấn tử số của chỉ tiêu chậm nhất ({labels[slowest]}):")
            for line in explain(slowest, day)[:40]:
                say("  " + line)
        db.session.remove()
        db.engine.dispose()
    say("Mục tiêu:")
    say(f"  mọi chỉ tiêu < {TARGET_S:.0f} s: {warm_s:.3f} s — {target_text(met)}")
    figures = {
        "db": backend(url), "targets": len(targets), "staff": staff_total, "active_staff": active,
        "warm_s": f"{warm_s:.3f}", "warm_cpu_s": f"{warm_cpu_s:.3f}", "cold_s": f"{cold_s:.3f}",
        "per_target_ms": f"{statistics.mean(per_target) * 1000:.1f}", "max_target_ms": f"{per_target[0] * 1000:.1f}",
        "page_s": f"{min(page)[0]:.3f}" if page else "n/a", "grouped_s": f"{grouped_s:.3f}",
        "ratio_to_grouped": f"{warm_s / grouped_s:.1f}", "agrees": "yes" if agrees else "no",
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
