"""Configuration, database settings, security headers, language, CSRF, the API shape and the scheduler."""
import subprocess
import sys

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from sqlalchemy import select

from app import create_app
from service.config import PROJECT_DIR, Config, ConfigurationError, EmbeddedConfig, config_from_environment
from service.facilities.models import Facility
from service.scheduler import JOBS, build_scheduler
from tests.conftest import csrf_token_from


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    config = type("Production", (Config,), {"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with pytest.raises(ConfigurationError):
        create_app(config)


def test_a_database_url_means_production_and_none_means_the_embedded_default(monkeypatch):
    monkeypatch.delenv("SERVICE_MODE", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/x")
    assert config_from_environment() is Config
    monkeypatch.delenv("DATABASE_URL")
    assert config_from_environment() is EmbeddedConfig
    assert Config.SESSION_COOKIE_SECURE is True and Config.SESSION_COOKIE_HTTPONLY is True
    assert Config.SESSION_COOKIE_SAMESITE == "Lax"


def test_production_mode_without_a_database_url_is_refused_not_run_on_sqlite(monkeypatch):
    monkeypatch.setenv("SERVICE_MODE", "production")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        config_from_environment()


def test_behind_a_proxy_the_client_address_is_the_forwarded_one_and_directly_it_cannot_be_chosen(app):
    from flask import request

    seen = []
    for hops in (1, 0):
        config = type("Proxied", (Config,), {"SECRET_KEY": "k" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                                              "PROXY_FIX_HOPS": hops})
        proxied = create_app(config)
        proxied.add_url_rule("/_address", "address", lambda: request.remote_addr)
        seen.append(proxied.test_client().get("/_address", headers={"X-Forwarded-For": "203.0.113.9"},
                                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).text)
    assert seen == ["203.0.113.9", "127.0.0.1"]


@pytest.mark.only_sqlite
def test_sqlite_connections_enforce_foreign_keys_and_use_wal(app, db):
    conn = db.session.connection()  # the test's own connection: another would wait for its write lock
    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


@pytest.mark.only_postgresql
def test_postgresql_pool_checks_connections_before_use_and_compiles_nothing(app, db):
    assert db.engine.pool._pre_ping is True
    assert db.session.connection().exec_driver_sql("SHOW jit").scalar() == "off"  # see service.config


def test_a_facility_pointing_at_a_missing_unit_is_refused_by_the_database(db):
    nested = db.session.begin_nested()
    db.session.add(Facility(code="CS-MOCOI", name="Mồ côi", org_unit_id=999999))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    nested.rollback()


def test_migrations_match_the_models(app, db):
    """Alembic's autogenerate finds nothing to add: the schema is entirely made by the migrations."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    conn = db.session.connection()
    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_pages_carry_security_headers(client):
    response = client.get("/admin/login/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp
    assert "'unsafe-inline'" not in csp.split("script-src ")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_vietnamese_by_default_and_english_on_request(client):
    assert "Đăng nhập" in client.get("/admin/login/").text
    response = client.get("/language/en?next=/admin/login/")
    assert response.headers["Location"] == "/admin/login/"
    assert "Log in" in client.get("/admin/login/").text
    assert client.get("/language/vi?next=https://evil.example/").headers["Location"] == "/admin/"


def test_every_message_of_the_project_has_a_vietnamese_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=PROJECT_DIR, check=True, capture_output=True)
    with open(pot, "rb") as handle:
        wanted = {message.id for message in read_po(handle) if message.id}
    with open(PROJECT_DIR / "translations/vi/LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}
    assert wanted - translated == set()


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(client, login, make_user, make_unit, db):
    admin = make_user("admin")
    unit = make_unit("commune")
    login(admin)
    response = client.post("/admin/facilities/new/", data={"code": "CS-CSRF", "name": "x", "org_unit": str(unit.id)})
    assert response.status_code == 400
    assert db.session.execute(select(Facility).where(Facility.code == "CS-CSRF")).first() is None
    page = client.get("/admin/facilities/new/")
    response = client.post("/admin/facilities/new/", data={"code": "CS-CSRF", "name": "x", "org_unit": str(unit.id),
                                                           "facility_type": "public_rehab",
                                                           "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302
    assert db.session.execute(select(Facility).where(Facility.code == "CS-CSRF")).first() is not None


def test_api_errors_and_openapi(client, make_user, db):
    from service.accounts.operations import issue_token

    response = client.get("/api/v1/units", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized" and "xác thực" in response.json["error"]["message"]
    token = issue_token(make_user("admin"))
    spec = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}).json
    assert "/units" in spec["paths"] and spec["openapi"].startswith("3.")
    page = client.get("/api/v1/units?per_page=abc", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 400 and page.json["error"]["message"]


def test_the_scheduler_declares_every_job(app):
    scheduler = build_scheduler(app)
    assert {job.id for job in scheduler.get_jobs()} == set(JOBS)


def test_the_scheduler_runs_one_job_at_a_time(app):
    """Jobs due together queue: on SQLite, two at once would fail with "database is locked"."""
    executor = build_scheduler(app)._executors["default"]
    assert executor._pool._max_workers == 1


def test_the_late_list_is_computed_soon_after_start_not_only_at_six(app):
    """#16 item 13: the list stayed empty until the first 06:00 run although communes had missed a deadline."""
    from datetime import datetime, timedelta

    scheduler = build_scheduler(app)
    job = scheduler.get_job("remind_late_communes")
    soon = datetime.now(job.next_run_time.tzinfo) + timedelta(minutes=1)
    assert job.next_run_time <= soon
