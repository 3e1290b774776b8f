"""Access, tried as a hostile user would, on every registered admin view and API route (enumerated from the
application, so a view or route added later is covered without touching this file):

- every POST without the CSRF token (create, edit, delete, every action, inline edit, every custom POST) is
  refused and changes nothing;
- users of every role in province A reach nothing of province B: lists, details, edit, delete, actions, export,
  relation dropdowns, ajax lookups, every custom page (with B's ids in the path and in the query) and every API
  route; anonymous API callers get 401;
- list, details and export columns are explicit and never include a password hash, a token hash or a session
  secret; no page shows one;
- exports: personal-data lists only for the roles that keep them, and a row cap refused with a Vietnamese message.
"""
import re
from html.parser import HTMLParser

import pytest
from flask import url_for
from sqlalchemy import func, inspect, select

from service.accounts.models import ApiToken, User
from service.accounts.operations import issue_token
from service.extensions import db as _db
from service.submissions.models import Submission
from tests.conftest import csrf_token_from
from tests.hostile import FORM, PERIOD, ROLES, SECRET_B, build_world, model_views

SENSITIVE_NAME = re.compile(r"password|token|secret|session_version|identity|id_number|cccd|cmnd|national_id", re.I)
ADMIN_ACTIONS = ("create_view", "edit_view", "delete_view", "action_view", "ajax_update")


@pytest.fixture
def sides(db, make_unit, make_facility, make_user):
    return build_world(db, make_unit, make_facility, make_user)


def snapshot(objects):
    """Column values of ORM rows, read fresh from the database (None for a row that is gone)."""
    _db.session.expire_all()
    values = {}
    for obj in objects:
        mapper = inspect(type(obj))
        identity = mapper.primary_key_from_instance(obj) if inspect(obj).identity is None else inspect(obj).identity
        row = _db.session.get(type(obj), identity)
        values[(type(obj).__name__, identity)] = None if row is None else {
            column.key: getattr(row, column.key) for column in mapper.column_attrs}
    return values


def rows_of(side):
    """Every ORM row a side holds (its attributes and its users)."""
    rows = [value for value in vars(side).values() if isinstance(value, _db.Model)]
    return rows + list(side.users.values())


def table_counts():
    return {table.name: _db.session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in _db.metadata.sorted_tables}


class FormFields(HTMLParser):
    """The fields of the first <form method=post> of a page, as a browser would send them."""

    def __init__(self):
        super().__init__()
        self.fields, self.inside, self.done, self.select, self.textarea = {}, False, False, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.done and (attrs.get("method") or "").lower() == "post":
            self.inside = True
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self.select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self.select and ("selected" in attrs or not self.fields[self.select]):
            self.fields[self.select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_fields(html):
    parser = FormFields()
    parser.feed(html)
    return parser.fields


def changed(fields):
    """The form with every text value altered (what a forged request would send)."""
    return {key: (value + " sửa" if value and not value.isdigit() else value) for key, value in fields.items()
            if key != "csrf_token"}


def first_row(view):
    """A row of the view's model (the hostile world holds one of every model a view shows)."""
    row = _db.session.scalars(select(view.model).order_by(*inspect(view.model).primary_key)).first()
    assert row is not None, f"tests/hostile.py makes no {view.model.__name__} row for the {view.endpoint} view"
    return row, inspect(row).identity[0]


# --- CSRF ---------------------------------------------------------------------------------------------------


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(app, client, login, sides, make_user):
    national = make_user("admin")
    login(national)
    checked = 0
    for view in model_views(app):
        row, pk = first_row(view)
        before_counts, before_row = table_counts(), snapshot([row])
        edit_page = client.get(f"/admin/{view.endpoint}/edit/?id={pk}")
        fields = form_fields(edit_page.text) if edit_page.status_code == 200 else {}
        posts = [(f"/admin/{view.endpoint}/new/", changed(fields)),
                 (f"/admin/{view.endpoint}/edit/?id={pk}", changed(fields)),
                 (f"/admin/{view.endpoint}/delete/", {"id": str(pk)}),
                 (f"/admin/{view.endpoint}/ajax/update/", {"list_form_pk": str(pk), "name": "x"})]
        posts += [(f"/admin/{view.endpoint}/action/", {"action": name, "rowid": [str(pk)]})
                  for name, _text in view._actions]
        for url, data in posts:
            response = client.post(url, data=data)
            assert response.status_code == 400, (url, response.status_code)
            assert "mã bảo mật" in response.text, url
            checked += 1
        assert table_counts() == before_counts, view.endpoint
        assert snapshot([row]) == before_row, view.endpoint
    assert checked > 4 * len(model_views(app))


def test_every_custom_post_route_without_the_csrf_token_is_refused(app, client, login, sides, make_user):
    a, b = sides
    login(make_user("admin"))
    before = table_counts()
    arguments = path_arguments(a)
    posts = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin") and "POST" in rule.methods
             and rule.endpoint.rsplit(".", 1)[-1] not in ADMIN_ACTIONS]
    assert len(posts) > 10
    for rule in posts:
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: arguments[name] for name in rule.arguments})
        response = client.post(url, data={"explanation": "giả mạo", "reason": "giả mạo", "confirm": "1",
                                          "next": "/admin/"})
        assert response.status_code == 400, url
    assert table_counts() == before


# --- scope: admin views -------------------------------------------------------------------------------------


def path_arguments(side):
    """Values for the arguments of every admin and API rule, taken from one side of the world. A rule with an
    argument not listed here fails the sweep: add it."""
    return {
        "staff_id": side.staff.id, "class_id": side.training_class.id, "certificate_id": side.certificate.id,
        "target_id": side.training_target.id, "facility_id": side.facility.id, "flag_id": side.flag.id,
        "run_id": side.run.id if hasattr(side, "run") else 1, "period": PERIOD, "kind": "staff",
        "submission_id": side.submission.id, "code": side.facility.code, "filename": "x.css",
    }


def query_variants(side):
    """Query strings that point every page at one side's units, facility, plan and period (ids, then codes)."""
    common = {"form": FORM, "period": PERIOD, "edition": "2025", "page": "1", "plan": str(side.plan.id)}
    by_id = {name: str(side.province.id) for name in ("unit", "province", "parent", "unit_id")}
    by_code = {name: side.province.code for name in ("unit", "province", "parent", "org_unit")}
    return [{}, {**common, **by_id, "commune": side.commune.code, "org_unit": side.commune.code,
                 "facility": str(side.facility.id), "level": "commune"},
            {**common, **by_code, "commune": side.commune.code, "level": "province", "q": SECRET_B}]


def admin_get_urls(app, side):
    """Every GET page of the admin (model views' list, new and export, and every custom page), pointed at `side`."""
    arguments = path_arguments(side)
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "GET" not in rule.methods or rule.endpoint == "admin.static":
            continue
        if rule.endpoint.rsplit(".", 1)[-1] in ("details_view", "edit_view", "ajax_lookup"):
            continue  # with ids: below
        missing = set(rule.arguments) - set(arguments) - {"export_type"}
        assert not missing, f"{rule.rule}: add {missing} to path_arguments"
        with app.test_request_context():
            values = {name: arguments.get(name, "csv") for name in rule.arguments}
            for query in query_variants(side):
                urls.append(url_for(rule.endpoint, **{**query, **values}))
    return urls


def text_of(response):
    """What a response shows: its text, or the cells of an XLSX workbook (shared strings and sheets)."""
    data = response.get_data()
    if data.startswith(b"PK"):
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return " ".join(book.read(name).decode("utf-8") for name in book.namelist() if name.endswith(".xml"))
    return data.decode("utf-8", errors="replace")


def leaks(body, sent=()):
    """Whether a response shows something of province B. What the caller sent (a code in the query, echoed in a
    search box or an error's details) is taken out first: echoing a caller's own input reveals nothing."""
    for value in sorted(sent, key=len, reverse=True):
        body = body.replace(str(value), "")
    return SECRET_B in body


def sent_values(url):
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(url)
    return [value for _key, value in parse_qsl(parts.query)] + [unquote(piece) for piece in parts.path.split("/")]


def visible_rights(view, role):
    return set(view.access.get(role, ()))


def test_no_page_of_the_admin_shows_another_provinces_data_to_any_role(app, client, login, sides):
    a, b = sides
    urls = admin_get_urls(app, b)
    for role in ROLES:
        user = a.users[role]
        login(user)
        opened = 0
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 302, 400, 403, 404), (role, url, response.status_code)
            assert not leaks(text_of(response), sent_values(url)), (role, url)
            opened += response.status_code == 200
        assert opened, role
        client.post("/admin/logout/", data={"csrf_token": csrf_token_from(client.get("/admin/").text)})


def test_no_row_of_another_province_opens_or_changes_through_any_model_view(app, client, login, sides):
    a, b = sides
    b_rows = rows_of(b)
    before = snapshot(b_rows)
    for role in ROLES:
        login(a.users[role])
        token = csrf_token_from(client.get("/admin/").text)
        for view in model_views(app):
            if role not in view.access:
                continue
            theirs = [row for row in b_rows if isinstance(row, view.model)]
            for row in theirs:
                pk = inspect(row).identity[0]
                if view.scope_clause(_scope_of(a.users[role])) is not None and _visible(view, a.users[role], row):
                    continue  # a national table (courses, plans): shared by design, nothing of B's is secret
                for url in (f"/admin/{view.endpoint}/details/?id={pk}", f"/admin/{view.endpoint}/edit/?id={pk}"):
                    response = client.get(url)
                    assert response.status_code in (302, 403, 404), (role, url, response.status_code)
                    assert not leaks(text_of(response), sent_values(url)), (role, url)
                client.post(f"/admin/{view.endpoint}/delete/", data={"id": str(pk), "csrf_token": token})
                for name, _text in view._actions:
                    client.post(f"/admin/{view.endpoint}/action/", data={"action": name, "rowid": [str(pk)],
                                                                         "csrf_token": token})
        client.post("/admin/logout/", data={"csrf_token": token})
    assert snapshot(b_rows) == before


def _scope_of(user):
    from service.accounts.scope import Scope

    return Scope(user)


def _visible(view, user, row):
    model = view.model
    pk = inspect(model).primary_key[0]
    query = select(pk).where(view.scope_clause(_scope_of(user)), pk == inspect(row).identity[0])
    return _db.session.execute(query).first() is not None


def test_relation_dropdowns_and_ajax_lookups_offer_nothing_of_another_province(app, client, login, sides):
    a, b = sides
    looked_up = 0
    for role in ROLES:
        login(a.users[role])
        for view in model_views(app):
            rights = visible_rights(view, role)
            if not rights:
                continue
            pages = []
            if "create" in rights:
                pages.append(f"/admin/{view.endpoint}/new/")
            if "edit" in rights:
                own = [row for row in rows_of(a) if isinstance(row, view.model)]
                pages += [f"/admin/{view.endpoint}/edit/?id={inspect(row).identity[0]}" for row in own[:1]]
            for url in pages:
                response = client.get(url)
                assert SECRET_B not in response.text, (role, url)
            for name in (view.form_ajax_refs or {}):
                for term in ("", "x", SECRET_B, b.commune.code, b.facility.code, b.staff.staff_code):
                    response = client.get(f"/admin/{view.endpoint}/ajax/lookup/",
                                          query_string={"name": name, "query": term})
                    assert response.status_code in (200, 403), (role, view.endpoint, name)
                    assert not leaks(response.text, [term]), (role, view.endpoint, name, term)
                    looked_up += 1
        client.post("/admin/logout/", data={"csrf_token": csrf_token_from(client.get("/admin/").text)})
    assert looked_up > 0


def test_ajax_lookups_do_find_rows_in_scope(app, client, login, sides):
    """The lookups are scoped, not empty: a province administrator finds their own commune and facility."""
    a, _b = sides
    login(a.users["admin"])
    found = client.get("/admin/staff/ajax/lookup/", query_string={"name": "org_unit", "query": ""}).json
    assert a.commune.id in {item[0] for item in found}
    found = client.get("/admin/staff/ajax/lookup/", query_string={"name": "facility", "query": ""}).json
    assert a.facility.id in {item[0] for item in found}


# --- scope: the API -----------------------------------------------------------------------------------------


def api_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")]


def api_urls(app, rule, side):
    arguments = path_arguments(side)
    missing = set(rule.arguments) - set(arguments)
    assert not missing, f"{rule.rule}: add {missing} to path_arguments"
    with app.test_request_context():
        base = url_for(rule.endpoint, **{name: arguments[name] for name in rule.arguments})
    queries = [{}, {"org_unit": side.commune.code, "unit": side.province.code, "parent": side.province.code,
                    "form": FORM, "period": PERIOD, "edition": "2025", "plan": str(side.plan.id), "level": "province"},
               {"org_unit": side.province.code, "unit": side.commune.code, "facility": side.facility.code,
                "all_versions": "1", "status": "explained"}]
    return base, queries


def test_anonymous_callers_of_every_api_route_get_401(app, client, sides):
    for rule in api_rules(app):
        base, _queries = api_urls(app, rule, sides[1])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(base, method=method)
            assert response.status_code == 401, (method, base)
            assert response.json["error"]["code"] == "unauthorized"


def test_no_api_route_gives_a_caller_of_another_province_anything_of_it(app, client, sides):
    a, b = sides
    tokens = {role: issue_token(a.users[role]) for role in ROLES}
    before_counts, before_rows = table_counts(), snapshot(rows_of(b))
    for role in ROLES:
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        for rule in api_rules(app):
            base, queries = api_urls(app, rule, b)
            if "GET" in rule.methods:
                for query in queries:
                    response = client.get(base, query_string=query, headers=headers)
                    assert response.status_code in (200, 400, 403, 404), (role, base, query, response.status_code)
                    assert not leaks(response.text, list(query.values()) if response.status_code >= 400 else ()), (
                        role, base, query)
            if "POST" in rule.methods:
                response = client.post(base, headers=headers, json={
                    "form": FORM, "period": PERIOD, "org_unit": b.commune.code, "values": {"addicts_with_record": 1},
                    "capacity": 10, "occupancy": 5, "census_date": "2025-12-01"})
                assert response.status_code in (400, 403, 404, 415, 422), (role, base, response.status_code)
                assert not leaks(response.text, [b.commune.code])
    assert table_counts() == before_counts
    assert snapshot(rows_of(b)) == before_rows


def test_an_api_upload_for_another_provinces_commune_stores_nothing(app, client, sides):
    a, b = sides
    headers = {"Authorization": f"Bearer {issue_token(a.users['data_steward'])}"}
    before = _db.session.execute(select(func.count()).select_from(Submission)).scalar_one()
    data = f"commune_code,period,addicts_with_record\n{b.commune.code},{PERIOD},5\n".encode()
    import io

    response = client.post("/api/v1/submissions/upload", headers=headers, data={
        "form": FORM, "period": PERIOD, "file": (io.BytesIO(data), "bao-cao.csv")})
    assert response.status_code == 400
    assert _db.session.execute(select(func.count()).select_from(Submission)).scalar_one() == before


# --- columns: explicit, never a secret ---------------------------------------------------------------------


def secret_columns():
    """(table, column) of every password hash, token hash, session secret or identity number in the models."""
    found = set()
    for mapper in _db.Model.registry.mappers:
        secret = set(getattr(mapper.class_, "__audit_secret__", ()))
        for column in mapper.columns:
            if column.key in secret or SENSITIVE_NAME.search(column.key):
                found.add((mapper.class_, column.key))
    return found


def test_the_models_secrets_are_known(app):
    names = {(model.__name__, key) for model, key in secret_columns()}
    assert {("User", "password_hash"), ("User", "session_version"), ("ApiToken", "token_hash")} <= names


def test_every_model_view_lists_its_columns_explicitly_and_never_a_secret(app):
    secrets = secret_columns()
    for view in model_views(app):
        rights = set().union(*view.access.values())
        assert view.column_list is not None, f"{view.endpoint}: column_list"
        if "details" in rights:
            assert view.column_details_list is not None, f"{view.endpoint}: column_details_list"
        if "export" in rights:
            assert view.column_export_list is not None, f"{view.endpoint}: column_export_list"
        with app.test_request_context():
            shown = [name for name, _label in view.get_list_columns()]
            shown += [name for name, _label in view.get_details_columns()]
            shown += [name for name, _label in view.get_export_columns()]
        model_secrets = {key for model, key in secrets if model is view.model}
        for name in shown:
            assert name.split(".")[-1] not in model_secrets, (view.endpoint, name)
            assert not SENSITIVE_NAME.search(name), (view.endpoint, name)
        if view.form_columns is not None or view.form_excluded_columns:
            with app.test_request_context():
                form_names = {field.name for field in view.create_form()}
            assert not (form_names & model_secrets), view.endpoint


def test_no_admin_page_shows_a_password_hash_token_hash_or_session_secret(app, client, login, sides, make_user):
    a, b = sides
    national = make_user("admin")
    issue_token(a.users["commune_reporter"])
    _db.session.flush()
    secrets = set(_db.session.scalars(select(User.password_hash)))
    secrets |= set(_db.session.scalars(select(User.session_version)))
    secrets |= set(_db.session.scalars(select(ApiToken.token_hash)))
    login(national)
    urls = admin_get_urls(app, a)
    for view in model_views(app):
        row, pk = first_row(view)
        urls += [f"/admin/{view.endpoint}/details/?id={pk}", f"/admin/{view.endpoint}/edit/?id={pk}"]
        urls += [f"/admin/{view.endpoint}/details/?id={inspect(row).identity[0]}" for row in rows_of(a)
                 if isinstance(row, view.model)]
    for url in urls:
        body = text_of(client.get(url))
        for secret in secrets:
            assert secret not in body, url
        assert "scrypt:" not in body and "pbkdf2:" not in body, url


# --- exports: by role, capped -------------------------------------------------------------------------------


def test_personal_data_is_exported_only_by_the_roles_that_keep_it(app, client, login, sides):
    """Staff, qualifications and certificates name people: only administrators, training coordinators (who keep
    the roster) and a facility manager (for their own facility) take them out of the service."""
    from admin.base import PERSONAL_DATA_EXPORTERS

    a, _b = sides
    personal = [view for view in model_views(app) if getattr(view, "personal_data", False)]
    assert {view.endpoint for view in personal} >= {"staff", "qualifications", "certificates", "users", "audit"}
    for role in ROLES:
        login(a.users[role])
        for view in personal:
            if role not in view.access:
                continue
            response = client.get(f"/admin/{view.endpoint}/export/csv/")
            response.get_data()
            if role in PERSONAL_DATA_EXPORTERS and "export" in view.access[role]:
                assert response.status_code == 200, (role, view.endpoint)
            else:
                assert response.status_code == 403, (role, view.endpoint)
        client.post("/admin/logout/", data={"csrf_token": csrf_token_from(client.get("/admin/").text)})


def test_an_export_over_the_row_cap_is_refused_with_a_vietnamese_message(app, client, login, sides, make_user,
                                                                         make_unit, monkeypatch):
    a, _b = sides
    make_unit("commune", a.province, code="ZQAC2")
    login(a.users["admin"])
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 2)
    response = client.get("/admin/units/export/csv/")  # the province and its two communes: three rows
    assert response.status_code == 302 and "/admin/units/" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "vượt quá" in page.text and "2" in page.text
    narrowed = client.get("/admin/units/export/csv/", query_string={"search": "ZQAC2"})
    narrowed.get_data()
    assert narrowed.status_code == 200 and "ZQAC2" in narrowed.text
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 3)
    response = client.get("/admin/units/export/csv/")
    assert response.status_code == 200 and "ZQAC2" in response.text
