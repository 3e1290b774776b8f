"""Nothing lost when the database connection dies: at COMMIT, right after it, mid-request, or under every
connection at once (a PostgreSQL restart).

On PostgreSQL the faults are real: the backends of the test database are terminated with pg_terminate_backend from
a separate admin connection (the server itself is not restarted: others use it). On SQLite, which has no server to
lose, the same points raise the OperationalError a dead connection gives, so the application's answer to it is
checked on both.
"""
import sqlite3
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from service.extensions import db as _db
from tests.conftest import live_app_with_commune
from tests.test_submissions import good_values

pytestmark = pytest.mark.live_server  # each test commits for real on its own database


class Outage:
    """Kills the application's database connections on demand."""

    def __init__(self, app, databases):
        self.app, self.kind = app, databases.kind
        self.admin_url = databases.admin_url
        self.database = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database

    def kill(self, statement="COMMIT"):
        """PostgreSQL: terminate every backend of the test database and wait until they are gone. SQLite: raise
        what a lost connection raises."""
        if self.kind == "sqlite":
            raise sa.exc.OperationalError(statement, {}, sqlite3.OperationalError("disk I/O error"))
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                pids = conn.scalars(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": self.database}).all()
                for pid in pids:
                    conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                deadline = time.monotonic() + 10
                while pids and time.monotonic() < deadline:
                    left = conn.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                                       {"pids": pids})
                    if not left:
                        break
                    time.sleep(0.02)
                return len(pids)
        finally:
            engine.dispose()


@pytest.fixture
def live(databases):
    from service.accounts.models import User
    from service.accounts.operations import issue_token

    app, user_id, _commune_id = live_app_with_commune(databases, "faults", "phongvien_loi", "data_steward")
    with app.app_context():
        token = issue_token(_db.session.get(User, user_id))
        _db.session.commit()
    outage = Outage(app, databases)
    outage.token = token
    yield app, outage
    with app.app_context():
        _db.engine.dispose()


def _once(action):
    """A hook that runs `action` the first time only."""
    state = {"done": False}

    def hook(*_args, **_kwargs):
        if not state["done"]:
            state["done"] = True
            action()

    hook.state = state
    return hook


def _post(client, token, key, relapsed=1):
    return client.post("/api/v1/submissions", json={
        "form": "commune_rehab", "period": "2026Q3", "org_unit": "24001", "values": good_values(relapsed=relapsed)},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


def _stored(app):
    from service.submissions.models import Submission

    with app.app_context():
        rows = _db.session.execute(select(Submission.id, Submission.version, Submission.is_current)).all()
        _db.session.remove()
        return rows


def test_connection_dies_at_commit_and_the_retry_with_the_same_key_stores_it_once(live):
    app, outage = live
    client = app.test_client()
    with app.app_context():
        engine = _db.engine
    hook = _once(outage.kill)
    event.listen(engine, "commit", hook)
    try:
        failed = _post(client, outage.token, "mat-ket-noi-1")
    finally:
        event.remove(engine, "commit", hook)
    assert hook.state["done"]
    assert failed.status_code == 503
    assert failed.json["error"]["code"] == "database_unavailable"
    assert "thử lại" in failed.json["error"]["message"]
    assert _stored(app) == []  # nothing half-written
    retried = _post(client, outage.token, "mat-ket-noi-1")
    assert retried.status_code == 201, retried.text
    again = _post(client, outage.token, "mat-ket-noi-1")
    assert (again.status_code, again.json["id"], again.json["version"]) == (201, retried.json["id"], 1)
    assert _stored(app) == [(retried.json["id"], 1, True)]


def test_commit_done_but_the_answer_lost_the_retry_returns_the_stored_version(live):
    """The first attempt did commit, then the connection died before the client heard back: a retry with the same
    key answers with that stored version, and no second version is made."""
    app, outage = live
    client = app.test_client()
    from service.submissions.models import Submission

    state = {"stored": False, "killed": False}

    def after_flush(session, _context):
        state["stored"] |= any(isinstance(row, Submission) for row in session.new)

    def after_commit(session):
        # the commit of the transaction that stored the report (not an earlier one, not its savepoint)
        if state["stored"] and not state["killed"] and session.get_nested_transaction() is None:
            state["killed"] = True
            outage.kill()

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "after_commit", after_commit)
    try:
        lost = _post(client, outage.token, "tra-loi-mat-1")
    finally:
        event.remove(Session, "after_flush", after_flush)
        event.remove(Session, "after_commit", after_commit)
    assert state["killed"]
    # SQLite: the error surfaces (503). PostgreSQL: the commit went through, and reading the answer back takes a
    # fresh connection from the pool (pre-ping), so the client may well get its 201: either way it may retry.
    assert lost.status_code in (201, 503)
    if lost.status_code == 503:
        assert lost.json["error"]["code"] == "database_unavailable"
    [(stored_id, version, current)] = _stored(app)
    assert (version, current) == (1, True)
    retried = _post(client, outage.token, "tra-loi-mat-1")
    assert (retried.status_code, retried.json["id"], retried.json["version"]) == (201, stored_id, 1)
    assert _stored(app) == [(stored_id, 1, True)]
    # the same key with other values is refused, not stored as a second version
    assert _post(client, outage.token, "tra-loi-mat-1", relapsed=7).status_code == 409
    assert len(_stored(app)) == 1


def test_requests_in_flight_get_a_clear_503_and_the_next_ones_succeed(live):
    from tests.conftest import PASSWORD, csrf_token_from

    app, outage = live
    client = app.test_client()
    with app.app_context():
        engine = _db.engine
    headers = {"Authorization": f"Bearer {outage.token}"}
    page = client.get("/admin/login/")
    client.post("/admin/login/", data={"username": "phongvien_loi", "password": PASSWORD,
                                       "csrf_token": csrf_token_from(page.text)})
    assert client.get("/admin/").status_code == 200
    for path, is_api in (("/api/v1/submissions", True), ("/api/v1/units?level=province", True),
                         ("/admin/", False), ("/admin/submissions/", False)):
        state = {"armed": True}

        def before_execute(conn, cursor, statement, parameters, context, executemany, state=state):
            if state["armed"] and statement.lstrip().upper().startswith("SELECT"):
                state["armed"] = False
                outage.kill(statement)

        event.listen(engine, "before_cursor_execute", before_execute)
        try:
            response = client.get(path, headers=headers if is_api else {})
        finally:
            event.remove(engine, "before_cursor_execute", before_execute)
        assert not state["armed"], path
        assert response.status_code == 503, (path, response.status_code, response.text[:500])
        assert response.headers["Retry-After"]
        if is_api:
            assert response.json["error"]["code"] == "database_unavailable"
        else:
            assert "Cơ sở dữ liệu tạm thời không truy cập được" in response.text
            assert "Traceback" not in response.text and "OperationalError" not in response.text
        # the service answers again at once, without a restart (and the signed-in session is still there)
        assert client.get(path, headers=headers if is_api else {}).status_code == 200, path
    assert _post(client, outage.token, "sau-su-co").status_code == 201


@pytest.mark.only_postgresql
def test_every_backend_terminated_between_requests_the_pool_reconnects(live):
    """A PostgreSQL restart seen from the service: every pooled connection dead. The pool pings each connection
    before use (pool_pre_ping) and opens a new one: no request fails, no restart of the service."""
    app, outage = live
    client = app.test_client()
    headers = {"Authorization": f"Bearer {outage.token}"}
    with app.app_context():
        engine = _db.engine
    for _round in range(3):
        assert client.get("/api/v1/submissions", headers=headers).status_code == 200
        assert outage.kill() >= 1 or engine.pool.checkedin() == 0
        assert client.get("/api/v1/submissions", headers=headers).status_code == 200
        assert client.get("/admin/login/").status_code == 200
    assert _post(client, outage.token, "sau-khoi-dong-lai").status_code == 201
    with app.app_context():
        from service.submissions.models import Submission

        assert _db.session.scalar(select(func.count()).select_from(Submission)) == 1
