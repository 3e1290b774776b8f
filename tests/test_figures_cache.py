"""The figures cache of the dashboards and reports (service.common.figures): a second view computes nothing
again, a change of the data (any audited write) is seen at the next view, scopes never share figures, cached
ORM rows render once their session is gone, `?fresh=1` computes again, and the age limit holds."""
from datetime import date

import pytest
from sqlalchemy import event

from service.common import figures
from service.extensions import db
from service.submissions.models import Submission
from service.training.models import Certificate, Course, StaffMember
from tests import test_dashboard
from tests.conftest import PASSWORD, csrf_token_from
from tests.test_dashboard import PERIOD, report_values, row_html

world = test_dashboard.world  # the dashboard's fixture: two provinces, their reports, a facility each, training


@pytest.fixture
def cache_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "FIGURES_CACHE_SECONDS", 60)
    figures.clear()
    yield
    figures.clear()


@pytest.fixture
def statements(db):
    found = []

    def count(conn, cursor, statement, parameters, context, executemany):
        found.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    yield found
    event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def signed_in(app, world):
    """A logged-in test client per role of the world, all logged in before any view (a login is an audited
    write: it moves the data version)."""
    clients = {}
    for role in ("admin", "steward", "coordinator", "manager"):
        client = app.test_client()
        login_page = client.get("/admin/login/")
        client.post("/admin/login/", data={"username": getattr(world, role).username, "password": PASSWORD,
                                           "csrf_token": csrf_token_from(login_page.text)})
        clients[role] = client
    return clients


def view(client, statements, **args):
    """The dashboard as a new request in a new session (the cached rows are detached), and its statement count."""
    db.session.expunge_all()
    statements.clear()
    response = client.get("/admin/dashboard/", query_string={"period": PERIOD, "indicator": "treatment_rate", **args})
    assert response.status_code == 200, response.text[:500]
    return response.text, len(statements)


def test_a_second_view_reuses_the_figures_and_renders_them_from_detached_rows(world, signed_in, cache_on,
                                                                             statements):
    district = f"rank-{world.district_1.id}"
    first, first_count = view(signed_in["steward"], statements)
    second, second_count = view(signed_in["steward"], statements)
    assert second_count < first_count - 5, (first_count, second_count)
    assert 'id="figures-at"' not in first  # computed for this view: nothing to say
    assert row_html(second, district) == row_html(first, district)
    assert "30,0 %" in row_html(second, district)
    assert 'id="figures-at"' in second and "fresh=1" in second


def test_without_the_cache_every_view_computes_and_says_nothing_of_it(world, signed_in, statements):
    _html, first_count = view(signed_in["steward"], statements)
    html, second_count = view(signed_in["steward"], statements)
    assert second_count == first_count
    assert 'id="figures-at"' not in html


def test_a_new_report_is_seen_at_the_next_view(world, signed_in, cache_on, statements):
    district, commune, admin = f"rank-{world.district_1.id}", world.commune_1x.id, world.admin.id
    before, _count = view(signed_in["steward"], statements)
    assert "30,0 %" in row_html(before, district)
    # commune 1x resubmits: 90 of 100 treated (a new current version, written and audited as every write is)
    old = db.session.query(Submission).filter_by(org_unit_id=commune, is_current=True).one()
    old.is_current = False
    db.session.flush()
    db.session.add(Submission(form_code="commune_rehab", form_version=1, period=PERIOD, period_type="quarter",
                              org_unit_id=commune, version=2, is_current=True,
                              values=report_values(100, 90), submitted_by_id=admin, channel="web",
                              due_date=date(2024, 7, 15), on_time=True))
    db.session.flush()
    after, _count = view(signed_in["steward"], statements)
    assert "90,0 %" in row_html(after, district)


def test_a_new_certificate_moves_the_training_figure_at_the_next_view(world, signed_in, cache_on, statements):
    before, _count = view(signed_in["coordinator"], statements)
    assert "0 / 2" in before
    course = Course(code="KH-BANG-1", title="Tư vấn thử", topic="counselling", hours=8, certifies=True)
    db.session.add(course)
    db.session.flush()
    staff = db.session.query(StaffMember).filter_by(staff_code="NV-BANG-0").one()
    db.session.add(Certificate(staff_id=staff.id, course_id=course.id, number="CC-BANG-1", issuer="Sở thử",
                               issued_on=date(2024, 1, 2)))
    db.session.flush()
    after, _count = view(signed_in["coordinator"], statements)
    assert "1 / 2" in after


def test_scopes_never_share_figures(world, signed_in, cache_on, statements):
    national, _count = view(signed_in["admin"], statements)
    assert "Tỉnh Bình Bảng" in national
    province, _count = view(signed_in["steward"], statements)
    for name in ("Tỉnh Bình Bảng", "Huyện Bình Bảng", "Cơ sở Bình Bảng"):
        assert name not in province
    manager, _count = view(signed_in["manager"], statements)
    assert "Cơ sở Bình Bảng" not in manager and 'id="ranking"' not in manager


def test_fresh_computes_again(world, signed_in, cache_on, statements):
    _html, first_count = view(signed_in["steward"], statements)
    _html, cached_count = view(signed_in["steward"], statements)
    _html, fresh_count = view(signed_in["steward"], statements, fresh="1")
    assert cached_count < fresh_count
    assert fresh_count >= first_count - 2  # the same work as the first view (give or take the login's reads)


def test_an_entry_older_than_the_limit_is_computed_again(app, monkeypatch, cache_on):
    calls = []
    clock = [1000.0]
    monkeypatch.setattr(figures.time, "monotonic", lambda: clock[0])
    figures.clear()
    figures._caches.clear()
    monkeypatch.setattr(figures, "data_version", lambda: 7)
    with app.test_request_context("/"):
        for _ in range(2):
            figures.cached("test", ("k",), lambda: calls.append(1) or len(calls))
        assert calls == [1]
        clock[0] += 61
        assert figures.cached("test", ("k",), lambda: calls.append(1) or len(calls)) == 2
    figures._caches.clear()


@pytest.mark.parametrize("path", ["/admin/period-report/", "/admin/period-report/report.xlsx", "/admin/capacity/",
                                  "/admin/capacity/export.csv", "/admin/attainment/"])
def test_report_pages_render_the_same_from_cached_figures(world, signed_in, cache_on, statements, path):
    client = signed_in["steward"]
    responses, counts = [], []
    for _ in range(2):
        db.session.expunge_all()
        statements.clear()
        responses.append(client.get(path, query_string={"period": PERIOD}))
        counts.append(len(statements))
    assert [response.status_code for response in responses] == [200, 200], responses[1].text[:2000]
    if path.endswith(".xlsx"):
        assert responses[1].data[:2] == b"PK"
    else:
        assert "Tỉnh Bình Bảng" not in responses[1].text and "Cơ sở Bình Bảng" not in responses[1].text
    assert counts[1] < counts[0], counts
