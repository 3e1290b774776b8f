"""Load test of the production layout on loopback (bench/load/README.md).

    .venv/bin/python bench/load/run_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        [--communes 200] [--stewards 50] [--duration 180] [--workers 4] [--threads 4]

1. A new database `load_<random>` on the PostgreSQL server of the URL (dropped at the end unless `--keep`; with
   `--in-place` the URL's own database is used as it is, e.g. the national data set of bench/generate.py, and
   only the load users are added): migrations (`flask db upgrade`), the official unit lists, the demo data
   (`flask demo load`: facilities, roster, Đắk Lắk's reports), two earlier quarters of every 2025 commune and
   the load quarter of every commune that is not in the test, validated once (`flask validate run`), so that
   the stewards' flag lists and dashboards have something to show.
2. Users: N commune reporters (each its own commune, an API token each), M data stewards (provinces, with
   passwords) and one province steward with a token who uploads the XLSX of every commune of one province.
3. gunicorn (deploy/gunicorn.conf.py, `SERVICE_MODE=production`) with several workers on a free loopback port,
   and the scheduler as its own process (`flask --app app scheduler run`).
4. locust headless (bench/load/locustfile.py) for `--duration` seconds; RSS of every gunicorn worker and of the
   scheduler sampled from /proc every 2 s.
5. Figures per scenario (throughput, p50 / p95 / p99, errors) from every request's own timing, and the check in
   the database: every accepted submission is there, every retried Idempotency-Key holds one version, every
   commune that was answered 201 has exactly one current report of the period, the upload's rows are there once.
6. gunicorn and the scheduler are stopped (also on failure or Ctrl-C); the database is dropped.

The last line printed is only key=value pairs. Exit status 1 when a submission was lost or stored twice, or a
request failed.
"""
import argparse
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import sqlalchemy as sa  # noqa: E402

BIN = Path(sys.executable).parent
FORM_CODE = "commune_rehab"
EDITION = 2025
BACKGROUND_PERIODS = ("2026Q1", "2026Q2")
DEMO_PROVINCE = "66"  # Đắk Lắk: the demo's reports; its communes are left out of the test
TARGETS = {  # issue #8: p95 in milliseconds
    "submit": 150, "flags": 300, "dashboard": 300, "capacity": 300,
}
WORKER_RSS_TARGET_MB = 150


def say(text):
    print(text, flush=True)


# --- the database ----------------------------------------------------------------------------------------


class Database:
    """A new database on the server of `url` (dropped at the end), or the URL's own database (`in_place`)."""

    def __init__(self, url, in_place=False):
        self.server_url = url
        self.name = None
        if in_place:
            self.url = url
            return
        self.name = f"load_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        engine.dispose()
        self.url = sa.make_url(url).set(database=self.name).render_as_string(hide_password=False)

    def drop(self):
        if self.name is None:
            return
        engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        engine.dispose()


def service_env(url, secret, extra=None):
    """The environment of every process of the production layout started here."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url, "SECRET_KEY": secret, "SERVICE_MODE": "production",
        "UNITS_DIR": str(os.environ.get("UNITS_DIR") or PROJECT_DIR.parent / "shared" / "data"),
        # plain HTTP on loopback: a Secure cookie would never come back (behind nginx with TLS it stays on)
        "SESSION_COOKIE_SECURE": "0",
        "PROXY_FIX_HOPS": "0",  # no proxy in front of gunicorn here
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def flask(env, *args, log=None, check=True):
    started = time.perf_counter()
    result = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=PROJECT_DIR, env=env, text=True,
                            capture_output=True)
    if log is not None:
        log.write(f"$ flask {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if check and result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def tune_database(url):
    """What docs/deployment.md asks of the production database: statistics after a bulk load (ANALYZE; this
    server may run with autovacuum off) and no JIT compilation for this OLTP workload (the scope filters' cost
    estimates cross jit_above_cost, and compiling them costs up to a second per query)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        name = conn.scalar(sa.text("SELECT current_database()"))
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET jit = off'))
        started = time.perf_counter()
        conn.execute(sa.text("ANALYZE"))
        autovacuum = conn.scalar(sa.text("SHOW autovacuum"))
    engine.dispose()
    return time.perf_counter() - started, autovacuum


def make_app(url, secret):
    from app import create_app
    from service.config import Config, default_units_dir

    config = type("LoadConfig", (Config,), {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret,
                                            "UNITS_DIR": default_units_dir()})
    return create_app(config)


def background_reports(rng, load_period, skip_units):
    """Two earlier quarters of every 2025 commune and the load quarter of every commune outside the test, one bulk
    INSERT each (what the stewards browse; a submission path of its own is measured by the load itself)."""
    from sqlalchemy import insert, select

    from service.accounts.models import User
    from service.demo.reports import _spoil, _values
    from service.extensions import db
    from service.forms.periods import Period
    from service.forms.registry import get_form
    from service.submissions.models import Submission
    from service.units.models import AdminUnit

    form = get_form(FORM_CODE)
    admin = db.session.scalar(select(User).where(User.role == "admin").order_by(User.id).limit(1))
    communes = list(db.session.scalars(select(AdminUnit.id).where(
        AdminUnit.edition == EDITION, AdminUnit.level == "commune").order_by(AdminUnit.code)))
    counts = {}
    for step, code in enumerate(BACKGROUND_PERIODS + (load_period,), start=1):
        period = Period.parse(code)
        taken = set(db.session.scalars(select(Submission.org_unit_id).where(
            Submission.form_code == FORM_CODE, Submission.period == code, Submission.is_current.is_(True))))
        skip = taken | (skip_units if code == load_period else set())
        rows = []
        for unit_id in communes:
            if unit_id in skip:
                continue
            base = random.Random(f"base:{unit_id}").choice([rng.randint(3, 25), rng.randint(20, 90)])
            values = _values(rng, base, step, period.kind)
            if rng.random() < 0.02:
                _spoil(values, rng.choice(("treated_exceeds_addicts", "modalities_do_not_add_up",
                                           "employed_exceeds_managed")))
            due = form.due_date(period)
            submitted = datetime.combine(due - timedelta(days=rng.randint(-3, 12)), datetime.min.time(),
                                         tzinfo=UTC) + timedelta(hours=rng.randint(1, 10))
            rows.append({
                "form_code": FORM_CODE, "form_version": form.version, "period": code, "period_type": period.kind,
                "org_unit_id": unit_id, "version": 1, "is_current": True, "status": "submitted", "values": values,
                "submitted_at": submitted, "submitted_by_id": admin.id, "channel": "api", "due_date": due,
                "on_time": submitted.date() <= due,
            })
        if rows:
            db.session.execute(insert(Submission), rows)
        db.session.commit()
        counts[code] = len(rows)
    return counts


def choose_units(rng, n_reporters, upload_province):
    """Reporters' communes (2025 list, outside the demo province and the upload province) and the upload's."""
    from sqlalchemy import select

    from service.extensions import db
    from service.units.models import AdminUnit

    provinces = {unit.code: unit for unit in db.session.scalars(select(AdminUnit).where(
        AdminUnit.edition == EDITION, AdminUnit.level == "province"))}
    province = provinces[upload_province]
    by_province = defaultdict(list)
    for unit in db.session.scalars(select(AdminUnit).where(AdminUnit.edition == EDITION,
                                                           AdminUnit.level == "commune").order_by(AdminUnit.code)):
        by_province[unit.province_id].append(unit)
    upload_communes = by_province[province.id]
    pool = [unit for province_id, units in by_province.items() for unit in units
            if province_id not in (province.id, provinces[DEMO_PROVINCE].id)]
    reporters = rng.sample(pool, n_reporters)
    return provinces, province, upload_communes, reporters


def create_users(rng, run, provinces, upload_province, reporters, n_stewards, in_place):
    """The load's users, through the project's own account operations (password policy, scope rules, audit)."""
    from service.accounts.operations import create_user, issue_token
    from service.audit.operations import act_as
    from service.extensions import db

    act_as(None, "bench:load", "cli")
    prefix = f"load{run}_" if in_place else "load_"
    data = {"reporters": [], "stewards": [], "uploader": None}
    for index, unit in enumerate(reporters):
        user = create_user(f"{prefix}xa{index:03d}", "commune_reporter", secrets.token_urlsafe(12), scope_unit=unit)
        data["reporters"].append({"username": user.username, "token": issue_token(user), "commune": unit.code})
    codes = sorted(provinces)
    rng.shuffle(codes)
    for index in range(n_stewards):
        unit = provinces[codes[index % len(codes)]]
        password = secrets.token_urlsafe(12)
        user = create_user(f"{prefix}gs{index:03d}", "data_steward", password, scope_unit=unit)
        data["stewards"].append({"username": user.username, "password": password, "province": unit.code})
    uploader = create_user(f"{prefix}tinh", "data_steward", secrets.token_urlsafe(12),
                           scope_unit=provinces[upload_province])
    data["uploader"] = {"username": uploader.username, "token": issue_token(uploader), "province": upload_province}
    db.session.commit()
    return data


def build_upload(rng, period_code, communes, path):
    """The template of the province for the period (the service's own), every row filled."""
    from openpyxl import load_workbook

    from service.demo.reports import _values
    from service.forms.periods import Period
    from service.forms.registry import get_form
    from service.submissions.imports import build_template

    form = get_form(FORM_CODE)
    period = Period.parse(period_code)
    workbook = load_workbook(filename=_bytes_io(build_template(form, period, communes)))
    sheet = workbook.worksheets[0]
    codes = [sheet.cell(row=2, column=column).value for column in range(1, sheet.max_column + 1)]
    for row in range(3, 3 + len(communes)):
        values = _values(rng, rng.randint(3, 60), 3, period.kind)
        values["drug_free"] = False
        for column, code in enumerate(codes, start=1):
            if code in values:
                value = values[code]
                sheet.cell(row=row, column=column, value=("có" if value else "không") if isinstance(value, bool)
                           else value)
    workbook.save(path)
    return len(communes)


def _bytes_io(data):
    import io

    return io.BytesIO(data)


# --- processes -------------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """gunicorn and the scheduler, each in its own process group, stopped at the end whatever happens."""

    def __init__(self):
        self.items = {}

    def start(self, name, argv, env, log_path):
        handle = open(log_path, "w")
        process = subprocess.Popen(argv, cwd=PROJECT_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.items[name] = (process, handle)
        return process

    def pid(self, name):
        return self.items[name][0].pid

    def alive(self, name):
        return name in self.items and self.items[name][0].poll() is None

    def stop_all(self):
        """SIGTERM to each (gunicorn: a graceful stop of the master and its workers), SIGKILL to its process group
        after 15 s; Ctrl-C and SIGTERM are ignored meanwhile, so that nothing is left running."""
        previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, (process, handle) in reversed(list(self.items.items())):  # locust first, gunicorn last
                if process.poll() is None:
                    try:
                        os.kill(process.pid, signal.SIGTERM)
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, signal.SIGKILL)
                        process.wait()
                    except ProcessLookupError:
                        pass
                handle.close()
                del self.items[name]
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def wait_ready(url, timeout=60):
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/admin/login/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer on {url} within {timeout} s")


TICKS = os.sysconf("SC_CLK_TCK")


def process_table():
    """pid → (ppid, CPU seconds used so far, command line) for every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, command)
    return table


def children(pid):
    return [child for child, (parent, _cpu, _command) in process_table().items() if parent == pid]


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine_busy():
    """CPU seconds the whole machine has been busy (every core, every process) and the number of cores."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS, os.cpu_count()


class Sampler(threading.Thread):
    """Every 2 s: RSS of each gunicorn worker (children of the master), of the master and of the scheduler; CPU
    seconds used by the web workers, the scheduler, the PostgreSQL backends of the load's database, locust, and
    by the whole machine (so what other work on the machine took is known); the load average."""

    def __init__(self, master_pid, scheduler_pid, database):
        super().__init__(daemon=True)
        self.master_pid, self.scheduler_pid, self.database = master_pid, scheduler_pid, database
        self.locust_pid = None
        self.workers = defaultdict(float)
        self.worker_samples = []
        self.series = []  # (time, worker pid, RSS MB): rss.csv, to read beside access.log (pid=…)
        self.master = self.scheduler = 0.0
        self.cpu_first, self.cpu_last = {}, {}
        self.loads = []
        self.halt = threading.Event()
        self.busy_start = machine_busy()[0]
        self.take()

    def group(self, pid, parent, command):
        if parent == self.master_pid:
            return "web"
        if pid == self.scheduler_pid:
            return "scheduler"
        if self.locust_pid and (pid == self.locust_pid or parent == self.locust_pid):
            return "locust"
        if command.startswith("postgres:") and f" {self.database} " in command:
            return "postgresql"
        return None

    def take(self):
        for pid, (parent, cpu, command) in process_table().items():
            group = self.group(pid, parent, command)
            if group is None:
                continue
            self.cpu_first.setdefault(pid, (group, cpu))
            self.cpu_last[pid] = (group, cpu)
            if group == "web":
                value = rss_mb(pid)
                if value:
                    self.workers[pid] = max(self.workers[pid], value)
                    self.worker_samples.append(value)
                    self.series.append((round(time.time(), 1), pid, round(value, 1)))
        self.master = max(self.master, rss_mb(self.master_pid) or 0)
        self.scheduler = max(self.scheduler, rss_mb(self.scheduler_pid) or 0)
        self.loads.append(float(Path("/proc/loadavg").read_text().split()[0]))

    def run(self):
        while not self.halt.wait(2.0):
            self.take()

    def cpu(self):
        """CPU seconds per group since the sampler started, and the machine's busy seconds and cores."""
        used = defaultdict(float)
        for pid, (group, cpu) in self.cpu_last.items():
            used[group] += cpu - self.cpu_first[pid][1]
        busy, cores = machine_busy()
        return dict(used), busy - self.busy_start, cores


# --- figures ---------------------------------------------------------------------------------------------


def percentile(values, share):
    """Nearest-rank percentile of a list of numbers."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def scenario_figures(requests, seconds):
    by_scenario = defaultdict(list)
    for item in requests:
        by_scenario[item["r"]].append(item)
    figures = {}
    for scenario, items in sorted(by_scenario.items()):
        times = [item["ms"] for item in items]
        figures[scenario] = {
            "requests": len(items), "errors": sum(1 for item in items if not item["ok"]),
            "rps": len(items) / seconds, "p50": percentile(times, 0.50), "p95": percentile(times, 0.95),
            "p99": percentile(times, 0.99), "max": max(times), "mean": statistics.fmean(times),
        }
    return figures


def in_flight(requests, scenario):
    """Largest and mean number of requests of a scenario being served at once (from start and duration)."""
    events = []
    for item in requests:
        if item["r"] == scenario and item["t"]:
            events.append((item["t"], 1))
            events.append((item["t"] + item["ms"] / 1000, -1))
    events.sort()
    current = peak = 0
    weighted, last = 0.0, events[0][0] if events else 0
    for moment, change in events:
        weighted += current * (moment - last)
        last = moment
        current += change
        peak = max(peak, current)
    span = (events[-1][0] - events[0][0]) if events else 0
    return peak, (weighted / span if span else 0)


def check_database(url, data, accepted, uploads, started_at):
    """Nothing lost, nothing twice: compares the answers the clients got with the rows in the database."""
    engine = sa.create_engine(url)
    usernames = [item["username"] for item in data["reporters"]] + [data["uploader_username"]]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.id, s.version, s.is_current, s.idempotency_key, s.upload_id, u.code AS commune, a.username "
            "FROM submission s JOIN admin_unit u ON u.id = s.org_unit_id JOIN user_account a "
            "ON a.id = s.submitted_by_id WHERE s.form_code = :form AND s.period = :period "
            "AND a.username = ANY(:names)"), {"form": FORM_CODE, "period": data["period"], "names": usernames}).all()
        current = conn.execute(sa.text(
            "SELECT u.code, count(*) FROM submission s JOIN admin_unit u ON u.id = s.org_unit_id "
            "WHERE s.form_code = :form AND s.period = :period AND s.is_current AND u.code = ANY(:codes) "
            "GROUP BY u.code"), {"form": FORM_CODE, "period": data["period"],
                                  "codes": [item["commune"] for item in data["reporters"]] + data["upload_communes"]}
        ).all()
        runs = conn.execute(sa.text(
            "SELECT status, count(*), coalesce(sum(reports_checked), 0), round(max(duration_s)::numeric, 1) "
            "FROM validation_run WHERE started_at >= :since GROUP BY status"),
            {"since": started_at}).all()
    engine.dispose()
    db_ids = {row.id: row for row in rows}
    api_rows = [row for row in rows if row.upload_id is None]
    accepted_ids = {item["id"] for item in accepted}
    lost_api = sorted(accepted_ids - set(db_ids))
    # every key answered more than once must have been answered with one id, and hold one row
    ids_by_key = defaultdict(set)
    for item in accepted:
        ids_by_key[(item["user"], item["key"])].add(item["id"])
    conflicting_answers = sum(1 for ids in ids_by_key.values() if len(ids) > 1)
    rows_by_key = Counter((row.username, row.idempotency_key) for row in api_rows)
    duplicate_rows = sum(count - 1 for count in rows_by_key.values() if count > 1)
    # rows that no client was told about (a request that failed after its commit)
    unacknowledged = sorted(set(row.id for row in api_rows) - accepted_ids)
    answered_communes = {item["commune"] for item in accepted}
    current_count = dict(current)
    communes_without_current = sorted(code for code in answered_communes if current_count.get(code, 0) != 1)
    # the upload: its rows once, whatever the number of times it was sent
    upload_ids = {item["id"] for item in uploads}
    upload_submission_ids = {sid for item in uploads for sid in item["submissions"]}
    upload_rows = [row for row in rows if row.upload_id is not None]
    lost_upload = sorted(upload_submission_ids - set(db_ids))
    upload_expected = data["upload_rows"] if uploads else 0
    upload_current = sum(1 for code in data["upload_communes"] if current_count.get(code, 0) == 1)
    return {
        "accepted_ids": len(accepted_ids), "db_rows_api": len(api_rows), "lost_api": lost_api,
        "conflicting_answers": conflicting_answers, "duplicate_rows": duplicate_rows,
        "unacknowledged": unacknowledged, "answered_communes": len(answered_communes),
        "communes_without_current": communes_without_current, "uploads": len(upload_ids),
        "upload_rows": len(upload_rows), "upload_expected": upload_expected, "lost_upload": lost_upload,
        "upload_current": upload_current, "validation_runs": [tuple(run) for run in runs],
    }


def fmt(value):
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


# --- main ------------------------------------------------------------------------------------------------


def prepare(db_url, secret, args, work, log):
    """Schema, units, demo data, background reports, validation, users and the upload file."""
    from service.extensions import db

    env = service_env(db_url, secret)
    rng = random.Random(args.seed)
    say(f"Chuẩn bị cơ sở dữ liệu {sa.make_url(db_url).database} …")
    seconds = flask(env, "db", "upgrade", log=log)
    say(f"  flask db upgrade: {seconds:.1f} s")
    app = make_app(db_url, secret)
    with app.app_context():
        from sqlalchemy import func, select

        from service.units.models import AdminUnit

        units = db.session.scalar(select(func.count()).select_from(AdminUnit).where(AdminUnit.edition == EDITION))
    if not args.in_place or not units:
        seconds = flask(env, "demo", "load", "--logins-file", str(work / "demo-logins.txt"), log=log)
        say(f"  flask demo load (danh mục chính thức 2024 + 2025, cơ sở, cán bộ, báo cáo Đắk Lắk): {seconds:.1f} s")
    with app.app_context():
        provinces, province, upload_communes, reporters = choose_units(rng, args.communes, args.upload_province)
        if not args.in_place:
            started = time.perf_counter()
            skip = {unit.id for unit in reporters} | {unit.id for unit in upload_communes}
            counts = background_reports(rng, args.period, skip)
            say(f"  báo cáo nền (chèn hàng loạt): {counts} trong {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        data = create_users(rng, args.run, provinces, args.upload_province, reporters, args.stewards,
                            args.in_place)
        say(f"  {len(data['reporters'])} người báo cáo xã (mã API), {len(data['stewards'])} cán bộ giám sát "
            f"(mật khẩu), 1 người tải tệp tỉnh {province.name}: {time.perf_counter() - started:.1f} s")
        upload_path = work / f"bao_cao_{args.upload_province}_{args.period}.xlsx"
        rows = build_upload(rng, args.period, upload_communes, upload_path)
        data["uploader"].update(file=str(upload_path), filename=upload_path.name)
        data["uploader_username"] = data["uploader"]["username"]
        data["upload_rows"] = rows
        data["upload_communes"] = [unit.code for unit in upload_communes]
        say(f"  tệp XLSX của {province.name}: {rows} xã, {upload_path.stat().st_size // 1024} KB")
    if not args.in_place:
        # the night's validation of every open period, as the scheduler runs it at 01:30: flags for the stewards,
        # and the night's slot taken, so the scheduler of the test does not catch it up during the deadline hour
        started = time.perf_counter()
        flask(env, "scheduler", "run-job", "validate_nightly", log=log)
        say(f"  kiểm tra ban đêm các kỳ đang mở (Great Expectations, cờ): {time.perf_counter() - started:.1f} s")
    seconds, autovacuum = tune_database(db_url)
    say(f"  ALTER DATABASE … SET jit = off; ANALYZE: {seconds:.1f} s (autovacuum của máy chủ: {autovacuum})")
    if args.no_upload:
        data["uploader"] = None
    data.update(form=FORM_CODE, period=args.period, run=args.run, burst=args.burst, reporter_wait=args.reporter_wait,
                steward_wait=args.steward_wait, upload_delay_s=args.upload_delay)
    return data


def run(args):
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="load_"))
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / "prepare.log", "w")
    database = Database(args.database_url, in_place=args.in_place)
    processes = Processes()
    secret = secrets.token_hex(32)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    try:
        data = prepare(database.url, secret, args, work, log)
        data_path = work / "load_data.json"
        data_path.write_text(json.dumps(data, ensure_ascii=False))
        results_path = work / "results.jsonl"
        results_path.write_text("")

        port = free_port()
        host = f"http://127.0.0.1:{port}"
        env = service_env(database.url, secret, {
            "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(args.workers),
            "GUNICORN_THREADS": str(args.threads), "GUNICORN_ACCESS_LOG": str(work / "access.log"),
        })
        master = processes.start("gunicorn", [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"], env,
                                 work / "gunicorn.log")
        scheduler = processes.start("scheduler", [str(BIN / "flask"), "--app", "app", "scheduler", "run"],
                                    service_env(database.url, secret), work / "scheduler.log")
        wait_ready(host)
        say(f"gunicorn: {args.workers} tiến trình × {args.threads} luồng trên {host}; bộ lập lịch pid "
            f"{scheduler.pid}")
        sampler = Sampler(master.pid, scheduler.pid, sa.make_url(database.url).database)
        sampler.start()
        users = len(data["reporters"]) + len(data["stewards"]) + (1 if data["uploader"] else 0)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        locust = processes.start(
            "locust",
            [str(BIN / "locust"), "-f", str(PROJECT_DIR / "bench" / "load" / "locustfile.py"), "--headless",
             "-u", str(users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--host", host,
             "--stop-timeout", "30", "--csv", str(work / "locust"), "--only-summary", "--loglevel", "WARNING",
             "--exit-code-on-error", "0"],
            dict(os.environ, LOAD_DATA=str(data_path), LOAD_RESULTS=str(results_path)), work / "locust.log")
        sampler.locust_pid = locust.pid
        try:
            locust.wait(timeout=args.duration + 120)
        except subprocess.TimeoutExpired:
            locust.kill()
            locust.wait()
            raise RuntimeError("locust did not stop in time") from None
        seconds = time.monotonic() - started
        if locust.returncode != 0:
            raise RuntimeError(f"locust exited {locust.returncode}: see {work / 'locust.log'}")
        sampler.halt.set()
        sampler.join()
        sampler.take()
        (work / "rss.csv").write_text("time,pid,rss_mb\n"
                                      + "".join(f"{t},{pid},{mb}\n" for t, pid, mb in sampler.series))
        scheduler_alive = processes.alive("scheduler")
        workers_alive = len(children(master.pid))
        processes.stop_all()

        lines = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
        requests = [line for line in lines if "r" in line]
        accepted = [line for line in lines if line.get("accepted")]
        uploads = [line for line in lines if line.get("upload")]
        duplicates_seen = [line for line in lines if line.get("duplicate")]
        figures = scenario_figures(requests, seconds)
        first = min((item["t"] for item in requests if item["t"]), default=0)
        steady = scenario_figures([item for item in requests if item["t"] and item["t"] - first >= args.warmup],
                                  max(1.0, seconds - args.warmup))
        check = check_database(database.url, data, accepted, uploads, started_at)
        status, last_line = report(args, work, figures, steady, requests, accepted, uploads, duplicates_seen, check,
                                   sampler, seconds, scheduler_alive, workers_alive)
    finally:
        processes.stop_all()
        log.close()
        if args.keep or args.in_place:
            say(f"Cơ sở dữ liệu giữ lại: {database.url}")
        else:
            database.drop()
        say(f"Tệp kết quả: {work}")
    say(last_line)  # the key=value line, last
    return status


def report(args, work, figures, steady, requests, accepted, uploads, duplicates_seen, check, sampler, seconds,
           scheduler_alive, workers_alive):
    say("")
    say(f"{'kịch bản':<14} {'yêu cầu':>8} {'lỗi':>5} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8}  mục tiêu p95")
    for scenario, item in figures.items():
        target = TARGETS.get(scenario)
        verdict = "" if target is None else (f"< {target} ms: " + ("đạt" if item["p95"] < target else "KHÔNG ĐẠT"))
        say(f"{scenario:<14} {item['requests']:>8} {item['errors']:>5} {item['rps']:>7.1f} {item['p50']:>8.0f} "
            f"{item['p95']:>8.0f} {item['p99']:>8.0f} {item['max']:>8.0f}  {verdict}")
    say(f"Sau {args.warmup:.0f} s đầu (đăng nhập, lượt kiểm tra đầu tiên của bộ lập lịch, tệp tỉnh đã qua):")
    for scenario, item in steady.items():
        target = TARGETS.get(scenario)
        verdict = "" if target is None else (f"< {target} ms: " + ("đạt" if item["p95"] < target else "KHÔNG ĐẠT"))
        say(f"{scenario:<14} {item['requests']:>8} {item['errors']:>5} {item['rps']:>7.1f} {item['p50']:>8.0f} "
            f"{item['p95']:>8.0f} {item['p99']:>8.0f} {item['max']:>8.0f}  {verdict}")
    total_errors = sum(item["errors"] for item in figures.values())
    failures = Counter((item["n"], item["s"], (item["e"] or "")[:120]) for item in requests if not item["ok"])
    for (name, status, error), count in failures.most_common(8):
        say(f"  lỗi ×{count}: {name} HTTP {status} {error}")
    peak, mean = in_flight(requests, "submit")
    say(f"Nộp báo cáo đồng thời (đang được phục vụ): tối đa {peak}, trung bình {mean:.1f}")
    worker_max = max(sampler.workers.values()) if sampler.workers else 0
    worker_p50 = statistics.median(sampler.worker_samples) if sampler.worker_samples else 0
    say(f"RSS: tiến trình web tối đa {worker_max:.0f} MB (trung vị các mẫu {worker_p50:.0f} MB, "
        f"{len(sampler.workers)} tiến trình đã chạy), master {sampler.master:.0f} MB, bộ lập lịch "
        f"{sampler.scheduler:.0f} MB — mục tiêu web < {WORKER_RSS_TARGET_MB} MB: "
        + ("đạt" if worker_max < WORKER_RSS_TARGET_MB else "KHÔNG ĐẠT"))
    say("  tối đa từng tiến trình web (MB): " + ", ".join(f"{value:.0f}" for value in sorted(sampler.workers.values())))
    lost = len(check["lost_api"]) + len(check["lost_upload"]) + len(check["communes_without_current"]) \
        + max(0, check["upload_expected"] - check["upload_rows"])
    duplicates = check["duplicate_rows"] + check["conflicting_answers"] + len(duplicates_seen) \
        + max(0, check["upload_rows"] - check["upload_expected"])
    retried = sum(1 for item in accepted if item["retry"] != "first")
    say(f"Cơ sở dữ liệu: {check['accepted_ids']} phiên bản được trả lời 201 (API), {check['db_rows_api']} hàng; "
        f"{retried} lần gửi lại cùng khóa; mất {len(check['lost_api'])}; trùng {check['duplicate_rows']}; "
        f"không được xác nhận {len(check['unacknowledged'])}; {check['answered_communes']} xã có đúng một bản "
        f"hiện hành: {check['answered_communes'] - len(check['communes_without_current'])}")
    say(f"Tệp tỉnh: {check['uploads']} lượt tải lên được nhận (lần thứ hai là phát lại), {check['upload_rows']} "
        f"hàng / {check['upload_expected']} dòng của tệp, {check['upload_current']} xã có bản hiện hành")
    say(f"Kiểm tra theo lịch trong lúc tải (trạng thái, số lượt, báo cáo, giây dài nhất): {check['validation_runs']}; "
        f"bộ lập lịch còn chạy ở cuối: {'có' if scheduler_alive else 'KHÔNG'}; tiến trình web: {workers_alive}")
    used, busy, cores = sampler.cpu()
    total = sum(item["requests"] for item in figures.values())
    ours = sum(used.values())
    say(f"CPU (giây): web {used.get('web', 0):.0f}, PostgreSQL (CSDL này) {used.get('postgresql', 0):.0f}, bộ lập "
        f"lịch {used.get('scheduler', 0):.0f}, locust {used.get('locust', 0):.0f}; cả máy bận {busy:.0f} / "
        f"{cores * seconds:.0f} ({100 * busy / (cores * seconds):.0f} %), trong đó việc khác trên máy "
        f"{max(0.0, busy - ours):.0f}; tải trung bình {statistics.fmean(sampler.loads):.1f}")
    say(f"CPU mỗi yêu cầu: web {1000 * used.get('web', 0) / max(total, 1):.1f} ms, PostgreSQL "
        f"{1000 * used.get('postgresql', 0) / max(total, 1):.1f} ms")
    say(f"Tệp: {work} (results.jsonl, locust_stats.csv, access.log, rss.csv, gunicorn.log, scheduler.log)")

    pairs = {
        "db": "postgresql", "workers": args.workers, "threads": args.threads, "reporters": args.communes,
        "stewards": args.stewards, "burst": "yes" if args.burst else "no", "duration_s": round(seconds),
        "requests": total, "rps": f"{total / seconds:.1f}",
        "errors": total_errors,
    }
    for scenario in ("submit", "reporter_read", "login", "flags", "dashboard", "capacity"):
        if scenario in figures:
            item = figures[scenario]
            pairs[f"{scenario}_rps"] = f"{item['rps']:.1f}"
            for key in ("p50", "p95", "p99"):
                pairs[f"{scenario}_{key}_ms"] = fmt(item[key])
    for scenario in ("submit", "flags", "dashboard", "capacity"):
        if scenario in steady:
            pairs[f"{scenario}_steady_p95_ms"] = fmt(steady[scenario]["p95"])
    if "upload" in figures:
        pairs["upload_s"] = f"{max(item['ms'] for item in requests if item['r'] == 'upload') / 1000:.1f}"
        pairs["upload_rows"] = f"{check['upload_rows']}/{check['upload_expected']}"
    pairs.update({
        "submit_in_flight_max": peak, "accepted": check["accepted_ids"], "lost": lost, "duplicates": duplicates,
        "unacknowledged": len(check["unacknowledged"]), "worker_rss_max_mb": f"{worker_max:.0f}",
        "scheduler_rss_max_mb": f"{sampler.scheduler:.0f}",
        "cpu_web_ms_per_req": f"{1000 * used.get('web', 0) / max(total, 1):.1f}",
        "cpu_pg_ms_per_req": f"{1000 * used.get('postgresql', 0) / max(total, 1):.1f}",
        "machine_busy_pct": f"{100 * busy / (cores * seconds):.0f}", "other_cpu_s": f"{max(0.0, busy - ours):.0f}",
        "loadavg": f"{statistics.fmean(sampler.loads):.1f}",
    })
    return (1 if lost or duplicates or total_errors else 0), " ".join(f"{key}={value}" for key, value in pairs.items())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True,
                        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db): load_<random> is created")
    parser.add_argument("--communes", type=int, default=200, help="commune reporters, one commune each")
    parser.add_argument("--stewards", type=int, default=50, help="data stewards browsing flags and dashboards")
    parser.add_argument("--duration", type=int, default=180, help="seconds of load")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--period", default="2026Q3", help="the period the reporters submit (2025 list)")
    parser.add_argument("--upload-province", default="79", help="province (2025 code) of the spreadsheet upload")
    parser.add_argument("--no-upload", action="store_true", help="leave the province spreadsheet out")
    parser.add_argument("--upload-delay", type=float, default=30, help="seconds into the run before the upload")
    parser.add_argument("--reporter-wait", type=float, nargs=2, default=[10.0, 30.0], metavar=("MIN", "MAX"),
                        help="seconds a reporter waits between two actions (default 10–30: about 10 actions/s "
                             "for 200 reporters)")
    parser.add_argument("--steward-wait", type=float, nargs=2, default=[5.0, 15.0], metavar=("MIN", "MAX"),
                        help="seconds a steward waits between two pages (default 5–15: about 5 pages/s for 50)")
    parser.add_argument("--burst", action="store_true",
                        help="every reporter sends its first report at the same moment (default: spread over the "
                             "first think time)")
    parser.add_argument("--spawn-rate", type=float, default=50, help="locust users started per second")
    parser.add_argument("--warmup", type=float, default=45,
                        help="seconds left out of the steady-state figures (printed beside the whole-run ones)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--in-place", action="store_true",
                        help="use the URL's database as it is (e.g. after bench/generate.py); only users are added")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--out", help="folder for the logs and results (default: a new temp folder)")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("the load test runs the production layout: give a PostgreSQL URL")
    args.run = uuid.uuid4().hex[:6]
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
