"""Benchmark: the first page of every admin view with the national data set, and the web worker's memory.

    .venv/bin/python -m bench.admin_pages --database-url URL [--requests 7] [--province 66] [--explain]
        [--only ENDPOINT ...] [--profile ENDPOINT ...]

On the database made by `bench.generate`, two users are created (service.accounts.operations.create_user; kept
for the next run): a national administrator and a data steward of one 2025 province (`--province`, default 66,
Đắk Lắk). Each logs in through the login form with the Flask test client (a real CSRF token), then, for every
view of the admin (`app.extensions["admin"][0]._views`: a model view's list, any other view's index: the
dashboard /admin/dashboard/, the capacity report /admin/capacity/ and the periodic report among them):

- one first request (after login, nothing cached: `first_ms`), then `--requests` timed requests: p50 / p95;
  the pages whose figures are kept until the data changes (FIGURE_PAGES, service.common.figures) are timed
  `--requests` times more with `?fresh=1`, which computes their figures again (`tính p95`, `*_fresh_p95_ms`):
  what the first view after a change of the data costs;
- the SQL of each request (statement count and time, the slowest statement), from engine events;
- a page whose p95 is over 300 ms is marked SLOW (CHẬM), with its slowest statement (and with --explain its
  plan: EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).

`--only` limits the run to some views, `--profile` adds a cProfile of one request of a view (the project's own
functions by cumulative time). A view a role may not open (403) is listed as such. Memory: `rss_mb` is this
process's resident set after every page was served by each user and the garbage collector ran (what one web
worker holds after warm-up); `peak_rss_mb` its peak. Targets: every page p95 < 300 ms; web worker RSS < 150 MB.

The last line printed is only key=value pairs.
"""
import argparse
import gc
import re
import statistics
import sys
import time

import sqlalchemy as sa

from bench.common import backend, current_rss_mb, kv_line, make_app, rss_mb, say
from service.config import PROJECT_DIR, Config

SLOW_MS = 300
# pages whose figures are kept until the data changes (service.common.figures): also timed with ?fresh=1
FIGURE_PAGES = frozenset({"dashboard", "capacity_report", "period_report", "attainment"})
RSS_TARGET_MB = 150
PASSWORD = "bench-pages-Mat-khau-2026"
USERS = (("bench_admin", "admin"), ("bench_steward", "data_steward"))
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class SqlLog:
    """Statements executed (with their time) while `active`."""

    def __init__(self, engine):
        self.active = False
        self.statements = []
        sa.event.listen(engine, "before_cursor_execute", self.before)
        sa.event.listen(engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(self, conn, cursor, statement, parameters, context, executemany):
        started = conn.info["bench_started"].pop()
        if self.active:
            self.statements.append((time.perf_counter() - started, statement, parameters))

    def start(self):
        self.statements = []
        self.active = True

    def stop(self):
        self.active = False
        return self.statements


def ensure_users(province_code):
    """The two benchmark users (created once, with create_user)."""
    from service.accounts.models import User
    from service.accounts.operations import create_user
    from service.extensions import db
    from service.units.models import AdminUnit

    province = db.session.execute(sa.select(AdminUnit).where(
        AdminUnit.edition == 2025, AdminUnit.level == "province", AdminUnit.code == province_code)).scalar_one()
    names = {}
    for username, role in USERS:
        user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            user = create_user(username, role, PASSWORD, scope_unit=province if role != "admin" else None,
                               full_name=f"Benchmark {role}")
        names[username] = (role, province.name if role != "admin" else "toàn quốc")
    db.session.commit()
    return names


def login(client, username):
    page = client.get("/admin/login/")
    match = _TOKEN.search(page.get_data(as_text=True))
    if not match:
        raise SystemExit("no CSRF token on the login page")
    response = client.post("/admin/login/", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": match.group(1) or match.group(2)})
    if response.status_code != 302:
        raise SystemExit(f"login of {username} failed ({response.status_code})")


def pages(app):
    """(label, url) of the first page of every admin view."""
    from flask import url_for
    from flask_admin.model import BaseModelView

    found = []
    with app.test_request_context():
        for view in app.extensions["admin"][0]._views:
            if isinstance(view, BaseModelView):
                url = url_for(f"{view.endpoint}.index_view")
            else:
                url = url_for(f"{view.endpoint}.index")
            found.append((view.endpoint, url))
    return found


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def explain(engine, statement, parameters):
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        conn.rollback()
    return [" | ".join(str(cell) for cell in row) for row in rows]


def profile_request(client, url, limit=18):
    """cProfile of one request: the functions of the project (admin/, service/) by cumulative time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(admin|service)/", limit)
    return [line for line in out.getvalue().splitlines() if "/admin/" in line or "/service/" in line
            or "ncalls" in line]


def measure_user(app, log, username, requests, show_plans, engine, profiled=(), only=()):
    client = app.test_client()
    login(client, username)
    rows = []
    for endpoint, url in pages(app):
        if only and endpoint not in only:
            continue
        log.start()
        started = time.perf_counter()
        response = client.get(url)
        first = (time.perf_counter() - started) * 1000
        log.stop()
        if response.status_code in (403, 404):
            rows.append({"endpoint": endpoint, "url": url, "status": response.status_code})
            continue
        times, queries, sql_ms, slowest = [], [], [], (0, "", None)
        for _ in range(requests):
            log.start()
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            statements = log.stop()
            queries.append(len(statements))
            sql_ms.append(sum(item[0] for item in statements) * 1000)
            for item in statements:
                if item[0] > slowest[0]:
                    slowest = item
        computed = []
        if endpoint in FIGURE_PAGES:  # the same page with its figures computed again (?fresh=1)
            for _ in range(requests):
                started = time.perf_counter()
                client.get(url, query_string={"fresh": "1"})
                computed.append((time.perf_counter() - started) * 1000)
        row = {"endpoint": endpoint, "url": url, "status": response.status_code, "first_ms": first,
               "fresh_p95_ms": percentile(computed, 0.95) if computed else None,
               "p50_ms": statistics.median(times), "p95_ms": percentile(times, 0.95),
               "queries": statistics.median(queries), "sql_ms": statistics.median(sql_ms),
               "slowest_ms": slowest[0] * 1000, "slowest_sql": slowest[1], "slowest_params": slowest[2],
               "bytes": len(response.get_data())}
        if row["p95_ms"] > SLOW_MS and show_plans and slowest[1]:
            try:
                row["plan"] = explain(engine, slowest[1], slowest[2])
            except Exception as exc:  # noqa: BLE001 - a plan that cannot be had is said, not fatal
                row["plan"] = [f"(EXPLAIN failed: {exc})"]
        if endpoint in profiled:
            row["profile"] = profile_request(client, url)
        rows.append(row)
    return rows


def short_sql(statement, width=150):
    return " ".join(statement.split())[:width]


def report(username, label, rows):
    say("")
    say(f"== {username} ({label}) ==")
    say(f"{'trang':22} {'mã':>4} {'đầu ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'truy vấn':>8} {'SQL ms':>8} "
        f"{'tính p95':>8}  ")
    for row in rows:
        if "p95_ms" not in row:
            say(f"{row['endpoint']:22} {row['status']:>4} {'không được mở':>26}")
            continue
        mark = "CHẬM" if row["p95_ms"] > SLOW_MS else ""
        say(f"{row['endpoint']:22} {row['status']:>4} {row['first_ms']:>8.0f} {row['p50_ms']:>8.0f} "
            f"{row['p95_ms']:>8.0f} {row['queries']:>8.0f} {row['sql_ms']:>8.0f} "
            f"{row['fresh_p95_ms'] if row['fresh_p95_ms'] is not None else 0:>8.0f}  {mark}")
    for row in rows:
        if row.get("p95_ms", 0) > SLOW_MS:
            say(f"  {row['endpoint']} ({row['url']}): p95 {row['p95_ms']:.0f} ms, SQL {row['sql_ms']:.0f} ms trong "
                f"{row['queries']:.0f} truy vấn; chậm nhất {row['slowest_ms']:.0f} ms: {short_sql(row['slowest_sql'])}")
            for line in row.get("plan", [])[:25]:
                say(f"      {line}")
    for row in rows:
        if row.get("profile"):
            say(f"  cProfile {row['endpoint']} ({row['url']}), hàm của dự án theo thời gian cộng dồn:")
            for line in row["profile"]:
                say(f"    {line.replace(str(PROJECT_DIR) + '/', '')}")


def measure(url, requests, province_code, show_plans, profiled=(), only=()):
    from service.extensions import db

    started = time.perf_counter()
    app = make_app(url)
    # as in production (service.config.Config): figures kept until the data changes, at most a minute
    app.config["FIGURES_CACHE_SECONDS"] = Config.FIGURES_CACHE_SECONDS
    say(f"Ứng dụng: {time.perf_counter() - started:.1f} s")
    results = {}
    with app.app_context():
        labels = ensure_users(province_code)
        engine = db.engine
        db.session.remove()
    # requests run outside any app context of ours: each has its own, as in a web worker (g, session)
    log = SqlLog(engine)
    for username, _role in USERS:
        results[username] = measure_user(app, log, username, requests, show_plans, engine, profiled, only)
    gc.collect()
    worker_rss = current_rss_mb()
    for username, (role, scope) in labels.items():
        report(username, f"{role}, {scope}", results[username])
    engine.dispose()
    measured = [(username, row) for username, rows in results.items() for row in rows if "p95_ms" in row]
    slow = [(username, row) for username, row in measured if row["p95_ms"] > SLOW_MS]
    worst_user, worst = max(measured, key=lambda item: item[1]["p95_ms"])
    say("")
    say("Mục tiêu:")
    say(f"  mọi trang p95 < {SLOW_MS} ms: {len(measured) - len(slow)}/{len(measured)} đạt; chậm nhất "
        f"{worst['endpoint']} ({worst_user}) {worst['p95_ms']:.0f} ms — {'đạt' if not slow else 'KHÔNG ĐẠT'}")
    say(f"  RSS tiến trình web sau khi làm nóng < {RSS_TARGET_MB} MB: {worker_rss:.0f} MB — "
        f"{'đạt' if worker_rss < RSS_TARGET_MB else 'KHÔNG ĐẠT'} (đỉnh {rss_mb():.0f} MB)")
    figures = {
        "db": backend(url), "pages": len(measured), "requests": requests, "slow_pages": len(slow),
        "slow": ",".join(sorted({row["endpoint"] for _user, row in slow})) or "none",
        "worst_page": worst["endpoint"], "worst_p95_ms": f"{worst['p95_ms']:.0f}",
        "dashboard_admin_p95_ms": _p95(results, "bench_admin", "dashboard"),
        "dashboard_steward_p95_ms": _p95(results, "bench_steward", "dashboard"),
        "capacity_admin_p95_ms": _p95(results, "bench_admin", "capacity_report"),
        "period_report_admin_p95_ms": _p95(results, "bench_admin", "period_report"),
        "dashboard_admin_fresh_p95_ms": _p95(results, "bench_admin", "dashboard", "fresh_p95_ms"),
        "dashboard_steward_fresh_p95_ms": _p95(results, "bench_steward", "dashboard", "fresh_p95_ms"),
        "rss_mb": f"{worker_rss:.0f}", "peak_rss_mb": f"{rss_mb():.0f}",
    }
    say(kv_line(figures))
    return 0


def _p95(results, username, endpoint, key="p95_ms"):
    row = next((row for row in results[username] if row["endpoint"] == endpoint), None)
    return f"{row[key]:.0f}" if row and row.get(key) is not None else "n/a"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="the database made by bench.generate")
    parser.add_argument("--requests", type=int, default=7, help="timed requests per page (after the first)")
    parser.add_argument("--province", default="66", help="2025 province code of the data steward")
    parser.add_argument("--explain", action="store_true", help="query plan of the slowest statement of a slow page")
    parser.add_argument("--profile", action="append", default=[], metavar="ENDPOINT",
                        help="cProfile one request of this view (e.g. dashboard); repeatable")
    parser.add_argument("--only", action="append", default=[], metavar="ENDPOINT",
                        help="measure only these views (repeatable); default every view")
    args = parser.parse_args(argv)
    return measure(args.database_url, args.requests, args.province, args.explain, args.profile, args.only)


if __name__ == "__main__":
    sys.exit(main())
