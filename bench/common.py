"""What the benchmarks share: printing, memory, a throw-away database, the app on it, the unit lists, believable
report values and the bulk insert that audits what it writes (as the project's own bulk paths do)."""
import datetime
import decimal
import os
import resource
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from service.config import PROJECT_DIR, TestConfig

COUNT_FIELDS = ("addicts_with_record", "users_with_record", "treated_total", "treated_compulsory",
                "treated_voluntary_facility", "treated_community", "treated_substitution", "counselled_screened",
                "completed", "post_rehab_managed", "vocational_supported", "employed_after_rehab", "relapsed",
                "prevention_reached")


def say(text):
    print(text, flush=True)


def rss_mb():
    """Peak RSS of this process (ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    """RSS of this process now (not the peak)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def units_dir():
    """`UNITS_DIR`, else ../shared/data beside the project."""
    return Path(os.environ.get("UNITS_DIR") or PROJECT_DIR.parent / "shared" / "data")


def kv_line(figures):
    """The last line of a benchmark: only key=value pairs."""
    return " ".join(f"{key}={value}" for key, value in figures.items())


# --- database --------------------------------------------------------------------------------------------


class Database:
    """A fresh SQLite file, or a fresh database on the PostgreSQL server of `server_url`, dropped at the end."""

    def __init__(self, server_url=None, prefix="bench"):
        self.server_url = server_url
        self.name = None
        self.tmpdir = None
        if server_url is None or server_url.startswith("sqlite"):
            self.tmpdir = tempfile.TemporaryDirectory(prefix=f"{prefix}_")
            self.url = f"sqlite:///{Path(self.tmpdir.name) / 'bench.db'}"
            self.kind = "sqlite"
            return
        self.kind = sa.make_url(server_url).get_backend_name()
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        engine.dispose()
        self.url = sa.make_url(server_url).set(database=self.name).render_as_string(hide_password=False)

    def drop(self):
        if self.name is not None:
            engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            engine.dispose()
        if self.tmpdir is not None:
            self.tmpdir.cleanup()


def backend(url):
    return sa.make_url(url).get_backend_name()


def make_app(url, units=None):
    from app import create_app

    config = type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url,
                                                 "UNITS_DIR": units or units_dir()})
    return create_app(config)


def migrate(app):
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))


def load_units(directory=None, editions=(2024, 2025), succession=True):
    """The official unit lists (and the succession) through service.units.operations; commits."""
    import time

    from service.extensions import db
    from service.units.operations import import_edition, import_succession

    directory = directory or units_dir()
    started = time.perf_counter()
    counts = {}
    for edition in editions:
        result = import_edition(Path(directory, f"vn_units_{edition}.csv").read_bytes(), edition)
        counts[edition] = result.inserted
        say(f"Đơn vị {edition}: {result.inserted} đã nạp")
    if succession:
        result = import_succession(Path(directory, "vn_units_2025_from_2024.csv").read_bytes())
        counts["succession"] = result.inserted
    db.session.commit()
    say(f"Danh mục + kế thừa: {time.perf_counter() - started:.1f} s")
    return counts


# --- generated values ------------------------------------------------------------------------------------


def consistent_values(rng, base, step, drug_free, kind="quarter"):
    """Believable values that pass every completeness, consistency and reference rule (and the warnings)."""
    from service.demo.reports import _values

    if drug_free:
        values = dict.fromkeys(COUNT_FIELDS, 0)
        values.update(key_commune_class="none", drug_free=True, community_model=rng.random() < 0.2)
        return values
    values = _values(rng, base, step, kind)
    values["drug_free"] = False  # _values may say drug-free with addicts on record (a C08 warning)
    return values


# --- bulk insert with its audit rows ---------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def bulk_insert(model, rows, chunk=5000, audit=True):
    """INSERT `rows` (dicts) in chunks through the ORM bulk path and, for an audited model, one audit row per
    inserted row through service.audit.operations.record_bulk (what the unit imports do). Returns the new ids in
    the order of `rows`."""
    from sqlalchemy import insert

    from service.audit.operations import record_bulk
    from service.extensions import db

    audited = audit and getattr(model, "__audited__", False)
    secret = getattr(model, "__audit_secret__", set())
    table = model.__table__.name
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    ids = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        # render_nulls: a None is sent as NULL instead of leaving the column out, so that every row has the same
        # columns and the ORM sends one batched statement per chunk instead of one per run of alike rows
        statement = insert(model).execution_options(render_nulls=True)
        if sqlite:
            # SQLite cannot return the ids of a batch in parameter order (SQLAlchemy would then insert row by
            # row): one writer, rowids max + 1, + 2, … in the order of the rows, read back and counted
            before = db.session.scalar(sa.select(sa.func.max(model.id))) or 0
            db.session.execute(statement, part)
            new_ids = list(db.session.scalars(sa.select(model.id).where(model.id > before).order_by(model.id)))
            if len(new_ids) != len(part):
                raise RuntimeError(f"{table}: {len(part)} rows inserted, {len(new_ids)} read back")
        else:
            result = db.session.execute(statement.returning(model.id, sort_by_parameter_order=True), part)
            new_ids = list(result.scalars())
        if audited:
            record_bulk("create", table, [
                (row_id, None, {"id": row_id, **{key: "***" if key in secret else _jsonable(value)
                                                 for key, value in row.items()}})
                for row_id, row in zip(new_ids, part, strict=True)])
        ids.extend(new_ids)
    return ids
