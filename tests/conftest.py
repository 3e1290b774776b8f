"""Test fixtures: a real database (SQLite or PostgreSQL), migrated with Alembic once per run and rolled back
after each test; factory fixtures that return callables (`make_unit(...)`, `make_user(...)`).

    pytest --db=sqlite        # default
    pytest --db=postgresql    # 127.0.0.1:5432 (TEST_POSTGRES_URL); a fresh database per run, dropped after

With CI=true a PostgreSQL run that cannot reach the server fails instead of skipping.
"""
import itertools
import os
import re
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from app import create_app
from service.config import PROJECT_DIR, TestConfig
from service.extensions import db as _db

SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"
DEFAULT_POSTGRES = "postgresql+psycopg://127.0.0.1:5432/test"
PASSWORD = "mật-khẩu-thử-nghiệm-1"


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("TEST_DB", "sqlite"), choices=["sqlite", "postgresql"])


def pytest_collection_modifyitems(config, items):
    """Tests of one database's own settings (`only_sqlite`, `only_postgresql`) are deselected on the other, not
    skipped: a run never reports a skipped test."""
    kind = config.getoption("--db")
    other = "only_postgresql" if kind == "sqlite" else "only_sqlite"
    kept = [item for item in items if not item.get_closest_marker(other)]
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


# --- databases -------------------------------------------------------------------------------------------


class Databases:
    """Creates fresh, migrated databases of the chosen kind and drops them at the end of the run."""

    def __init__(self, kind, tmpdir):
        self.kind = kind
        self.tmpdir = Path(tmpdir)
        self.created = []
        self.admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES)

    def check_server(self):
        if self.kind != "postgresql":
            return
        try:
            engine = sa.create_engine(self.admin_url)
            with engine.connect():
                pass
            engine.dispose()
        except Exception as exc:  # pragma: no cover - depends on the machine
            message = f"PostgreSQL is not reachable at {self.admin_url}: {exc}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)

    def new_url(self, label):
        name = f"drs_{label}_{uuid.uuid4().hex[:8]}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmpdir / (name + '.db')}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return sa.make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self):
        if not self.created:
            return
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def make_app(url, **overrides):
    config = type("RunConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "UNITS_DIR": SHARED_DATA, **overrides})
    application = create_app(config)

    def fresh_globals():
        """Tests hold an app context open, which Flask reuses for every test-client request; start each request
        with an empty `g`, as in production, so nothing (logged-in user, CSRF token) leaks between requests."""
        for key in list(g):
            g.pop(key)

    application.before_request_funcs.setdefault(None, []).insert(0, fresh_globals)
    return application


def migrate(app):
    with app.app_context():
        upgrade(directory=str(PROJECT_DIR / "migrations"))


def live_app_with_commune(databases, label, username, role):
    """A fresh migrated database (committed data, for tests with several connections) holding Đắk Lắk (66),
    one commune (24001) and one user; returns (app, user id, commune id)."""
    from service.accounts.operations import create_user
    from service.units.models import AdminUnit
    from service.units.operations import unit_values

    app = make_app(databases.new_url(label))
    migrate(app)
    with app.app_context():
        province = AdminUnit(**unit_values(2025, "66", "Tỉnh Đắk Lắk", "province", ""))
        _db.session.add(province)
        _db.session.flush()
        commune = AdminUnit(**unit_values(2025, "24001", "Xã Thử", "commune", ""), parent_id=province.id,
                            province_id=province.id)
        _db.session.add(commune)
        user = create_user(username, role, PASSWORD, scope_unit=None if role == "admin" else province)
        _db.session.commit()
        return app, user.id, commune.id


@pytest.fixture(scope="session")
def databases(request):
    kind = request.config.getoption("--db")
    with tempfile.TemporaryDirectory() as tmpdir:
        dbs = Databases(kind, tmpdir)
        dbs.check_server()
        yield dbs
        dbs.drop_all()


@pytest.fixture(scope="session")
def app(databases):
    """The application on a fresh database migrated with the project's own Alembic migrations."""
    application = make_app(databases.new_url("main"))
    migrate(application)
    return application


@pytest.fixture(autouse=True)
def db(request, app):
    """Each test runs in a transaction rolled back at the end; commits inside the test become savepoints."""
    if request.node.get_closest_marker("live_server"):
        yield _db
        return
    with app.app_context():
        _db.session.remove()
        connection = _db.engine.connect()
        transaction = connection.begin()
        registry = _db.session.registry
        original = registry.createfunc
        registry.createfunc = lambda: Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield _db
        finally:
            _db.session.remove()
            registry.createfunc = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories -------------------------------------------------------------------------------------------

_counter = itertools.count(1)


@pytest.fixture
def make_unit(db):
    """make_unit(level, parent=None, edition=2025, code=None, name=None) → AdminUnit (flushed)."""
    from service.units.models import AdminUnit
    from service.units.operations import unit_values

    def factory(level="commune", parent=None, edition=None, code=None, name=None):
        edition = edition or (parent.edition if parent else 2025)
        number = next(_counter)
        code = code or {"province": f"P{number}", "district": f"D{number}", "commune": f"C{number}"}[level]
        name = name or {"province": "Tỉnh", "district": "Huyện", "commune": "Xã"}[level] + f" Thử {number}"
        unit = AdminUnit(**unit_values(edition, code, name, level, ""))
        if parent is not None:
            unit.parent_id = parent.id
            unit.province_id = parent.province_id or parent.id
            unit.district_id = parent.id if parent.level == "district" else parent.district_id
        db.session.add(unit)
        db.session.flush()
        return unit

    return factory


@pytest.fixture
def make_succession(db):
    from service.units.models import UnitSuccession

    def factory(old, new, relation="full"):
        row = UnitSuccession(old_unit=old, new_unit=new, relation=relation, confidence="test")
        db.session.add(row)
        db.session.flush()
        return row

    return factory


@pytest.fixture
def make_facility(db):
    from service.facilities.models import Facility

    def factory(unit, code=None, name=None, **columns):
        """make_facility(unit, code=None, name=None, facility_type=..., licence_expires_on=..., ...)."""
        number = next(_counter)
        facility = Facility(code=code or f"CS{number}", name=name or f"Cơ sở thử {number}", org_unit=unit,
                            **columns)
        db.session.add(facility)
        db.session.flush()
        return facility

    return factory


@pytest.fixture
def make_user(db):
    """make_user(role, scope=None, facility=None, username=None) → User with password PASSWORD."""
    from service.accounts.operations import create_user

    def factory(role="admin", scope=None, facility=None, username=None, **kwargs):
        username = username or f"{role}{next(_counter)}"
        return create_user(username, role, PASSWORD, scope_unit=scope, facility=facility, **kwargs)

    return factory


@pytest.fixture
def hierarchy(make_unit):
    """Two 2024 provinces with two districts of two communes each, and a 2025 province with two communes."""

    class H:
        pass

    h = H()
    h.province = make_unit("province", edition=2024)
    h.district_a = make_unit("district", h.province)
    h.district_b = make_unit("district", h.province)
    h.commune_a1 = make_unit("commune", h.district_a)
    h.commune_a2 = make_unit("commune", h.district_a)
    h.commune_b1 = make_unit("commune", h.district_b)
    h.other_province = make_unit("province", edition=2024)
    h.other_district = make_unit("district", h.other_province)
    h.other_commune = make_unit("commune", h.other_district)
    h.new_province = make_unit("province", edition=2025)
    h.new_commune_1 = make_unit("commune", h.new_province)
    h.new_commune_2 = make_unit("commune", h.new_province)
    return h


# --- logging in ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token_from(html):
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


_ROW_VERSION = re.compile(r'name="row_version_seen"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="row_version_seen"')


def row_version_from(html):
    """The hidden row version an admin edit form was read at (admin.base.VERSION_FIELD), as {name: value}."""
    match = _ROW_VERSION.search(html)
    assert match, "no row version in the edit form"
    return {"row_version_seen": match.group(1) or match.group(2)}


@pytest.fixture
def login(client):
    """login(user_or_name, password=PASSWORD) → the response of the login POST (with a real CSRF token)."""

    def do_login(user, password=PASSWORD, environ_base=None):
        username = getattr(user, "username", user)
        environ_base = environ_base or {}
        page = client.get("/admin/login/", environ_base=environ_base)
        return client.post("/admin/login/", data={"username": username, "password": password,
                                                  "csrf_token": csrf_token_from(page.text)},
                           environ_base=environ_base)

    return do_login


def commit(db):
    db.session.commit()


# --- the browser -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright (no browser download). In CI a missing chromium fails."""
    from tests.browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `make browser` (or apt-get install chromium) installs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh Vietnamese browser context; `page.errors` collects console errors and page errors."""
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
