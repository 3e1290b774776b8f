"""Sessions and headers: cookie flags on a real login, the security headers on every kind of response, no-store on
everything but static files, no debug mode and a real SECRET_KEY in production, passwords checked against common
ones on every path that sets one, and a disabled user's session and tokens refused at the next request."""
import re

import pytest
from sqlalchemy import select

from app import create_app
from service.accounts.models import User
from service.accounts.operations import AccountError, create_user, issue_token, set_password
from service.accounts.passwords import common_passwords, is_common
from service.config import Config, ConfigurationError, EmbeddedConfig
from service.security import is_static
from tests.conftest import PASSWORD, csrf_token_from, row_version_from


def config_like(base, app, **values):
    """`base` (the production or embedded class) on the test database, with a key so nothing is generated."""
    return type("Like" + base.__name__, (base,), {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                                                   "SECRET_KEY": "s" * 40, "UNITS_DIR": None, **values})


def login_with(client, username, password=PASSWORD, **request):
    page = client.get("/admin/login/", **request)
    return client.post("/admin/login/", data={"username": username, "password": password,
                                              "csrf_token": csrf_token_from(page.text)}, **request)


def session_cookie(response):
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return [part.strip().lower() for part in cookies[0].split(";")]


# --- cookies ---------------------------------------------------------------------------------------------


def test_a_real_login_in_production_sets_a_secure_httponly_samesite_session_cookie(app, make_user, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    production = create_app(config_like(Config, app))
    user = make_user("admin")
    response = login_with(production.test_client(), user.username, base_url="https://drug-rehab.example",
                          headers={"Referer": "https://drug-rehab.example/admin/login/"})  # CSRF over HTTPS
    assert response.status_code == 302
    flags = session_cookie(response)
    assert {"secure", "httponly", "samesite=lax"} <= set(flags)
    assert not any(value.startswith("remember_token=") for value in response.headers.getlist("Set-Cookie"))
    assert production.config["REMEMBER_COOKIE_SECURE"] and production.config["REMEMBER_COOKIE_HTTPONLY"]
    assert not production.debug


def test_the_embedded_default_on_plain_http_sets_httponly_samesite_but_not_secure(app, make_user):
    embedded = create_app(config_like(EmbeddedConfig, app))
    user = make_user("admin")
    response = login_with(embedded.test_client(), user.username)
    assert response.status_code == 302
    flags = session_cookie(response)
    assert {"httponly", "samesite=lax"} <= set(flags) and "secure" not in flags


# --- production settings ---------------------------------------------------------------------------------


def test_production_refuses_debug_mode_from_flask_debug_or_the_config(app, monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigurationError, match="FLASK_DEBUG"):
        create_app(config_like(Config, app))
    monkeypatch.delenv("FLASK_DEBUG")
    with pytest.raises(ConfigurationError, match="Debug"):
        create_app(config_like(Config, app, DEBUG=True))
    assert create_app(config_like(Config, app)).debug is False


@pytest.mark.parametrize("key", [None, "", "change-me", "short-key"])
def test_production_refuses_a_missing_placeholder_or_short_secret_key(app, key):
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(config_like(Config, app, SECRET_KEY=key))


# --- headers on every response ---------------------------------------------------------------------------

SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)


def check_headers(response, label):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip())
    assert directives.get("frame-ancestors") == "'none'", label
    assert directives.get("object-src") == "'none'" and directives.get("base-uri") == "'self'", label
    assert "'unsafe-inline'" not in directives.get("script-src", "'unsafe-inline'"), label
    assert headers.get("X-Content-Type-Options") == "nosniff", label
    assert headers.get("X-Frame-Options") == "DENY", label
    if response.mimetype == "text/html":
        nonce = re.search(r"'nonce-([^']+)'", directives["script-src"]).group(1)
        for attributes in SCRIPT.findall(response.get_data(as_text=True)):
            if "src=" not in attributes:
                assert f'nonce="{nonce}"' in attributes, f"{label}: an inline <script> without the nonce"
            else:
                assert re.search(r'src="(/|https?://localhost/)', attributes), f"{label}: a script from elsewhere"


def check_not_stored(response, label):
    assert response.headers.get("Cache-Control") == "no-store", label


def test_every_page_of_the_service_carries_the_security_headers_and_no_store(app, client, login, make_user,
                                                                            make_unit, make_facility, db):
    """Every GET route without parameters, logged in as an administrator (the role that sees every page), every
    CSV export, the API routes, the error pages and the login page; static files keep their caching."""
    admin = make_user("admin")
    token = issue_token(admin)
    api = {"Authorization": f"Bearer {token}"}
    login_page = client.get("/admin/login/")
    check_headers(login_page, "login page")
    check_not_stored(login_page, "login page")
    assert login(admin).status_code == 302

    seen = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        if rule.arguments == {"export_type"}:
            url = rule.rule.replace("<export_type>", "csv")
        elif rule.arguments:
            continue
        else:
            url = rule.rule
        response = client.get(url, headers=api if url.startswith("/api/") else {})
        label = f"{url} ({response.status_code})"
        assert response.status_code < 500, label
        check_headers(response, label)
        if not is_static(rule.endpoint):
            check_not_stored(response, label)
        seen += 1
    assert seen > 140

    facility = make_facility(make_unit("commune"))
    for url in (f"/admin/facilities/details/?id={facility.id}", f"/admin/facilities/edit/?id={facility.id}",
                f"/admin/facilities/page/{facility.id}", f"/api/v1/facilities/{facility.code}"):
        response = client.get(url, headers=api if url.startswith("/api/") else {})
        assert response.status_code == 200, url
        check_headers(response, url)
        check_not_stored(response, url)
    for url, headers, status in [("/admin/no-such-page/", {}, 404), ("/api/v1/no-such-route", api, 404),
                                 ("/api/v1/units", {}, 401), ("/api/v1/submissions/999999", api, 404)]:
        response = client.get(url, headers=headers)
        assert response.status_code == status, url
        check_headers(response, url)
        check_not_stored(response, url)
    for url in ("/static/favicon.svg", "/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css"):
        response = client.get(url)
        assert response.status_code == 200, url
        check_headers(response, url)
        assert response.headers.get("Cache-Control") != "no-store"
        response.close()


def test_a_forbidden_page_is_the_error_page_with_the_headers(client, login, make_user, make_unit):
    reporter = make_user("commune_reporter", scope=make_unit("commune"))
    login(reporter)
    response = client.get("/admin/users/")
    assert response.status_code == 403 and "Không có quyền" in response.text
    check_headers(response, "403")
    check_not_stored(response, "403")


# --- passwords -------------------------------------------------------------------------------------------


def test_the_common_password_list_holds_the_leaked_and_the_vietnamese_ones():
    words = common_passwords()
    assert len(words) > 19000
    for password in ("password123", "1234567890", "qwertyuiop", "matkhau123", "123456aA@", "Matkhau@123",
                     "AnhYeuEm123", "vietnam@123"):
        assert is_common(password), password
    assert not is_common("ba-con-mèo-ngồi-trên-mái-nhà")


@pytest.mark.parametrize("password", ["matkhau123456", "Password1234", "iloveyou123", "AnhYeuEm1234", "1qaz2wsx3edc"])
def test_a_long_common_password_is_refused_with_a_vietnamese_message(password, make_user):
    with pytest.raises(AccountError, match="phổ biến"):
        create_user("nguoimoi", "admin", password)
    user = make_user("admin")
    with pytest.raises(AccountError, match="phổ biến"):
        set_password(user, password)


def test_a_password_equal_to_or_containing_the_username_is_refused(make_user):
    with pytest.raises(AccountError, match="tên đăng nhập"):
        create_user("nguyenvanbinh", "admin", "nguyenvanbinh")
    with pytest.raises(AccountError, match="tên đăng nhập"):
        create_user("nguyenvanbinh", "admin", "NguyenVanBinh-2026")


def test_the_cli_refuses_a_common_password_on_create_and_on_change(runner, make_user, db):
    result = runner.invoke(args=["users", "create", "--username", "quantri1", "--role", "admin", "--password-stdin"],
                           input="matkhau123456\n")
    assert result.exit_code != 0 and "phổ biến" in result.output
    assert db.session.execute(select(User).where(User.username == "quantri1")).first() is None
    user = make_user("admin")
    before = user.password_hash
    db.session.commit()
    result = runner.invoke(args=["users", "password", user.username, "--password-stdin"], input="anhyeuem1234\n")
    assert result.exit_code != 0 and "phổ biến" in result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before


def test_the_admin_user_form_refuses_a_common_password_on_create_and_on_edit(client, login, make_user, make_unit,
                                                                            db):
    admin = make_user("admin")
    province = make_unit("province", edition=2025)
    steward = make_user("data_steward", scope=province)
    before = steward.password_hash
    login(admin)
    page = client.get("/admin/users/new/")
    response = client.post("/admin/users/new/", data={
        "username": "moi2", "full_name": "", "email": "", "role": "data_steward", "scope_unit": str(province.id),
        "active": "y", "new_password": "matkhau12345", "csrf_token": csrf_token_from(page.text)},
        follow_redirects=True)
    assert "phổ biến" in response.text
    assert db.session.execute(select(User).where(User.username == "moi2")).first() is None
    page = client.get(f"/admin/users/edit/?id={steward.id}")
    response = client.post(f"/admin/users/edit/?id={steward.id}", data={
        "username": steward.username, "full_name": "", "email": "", "role": "data_steward",
        "scope_unit": str(province.id), "active": "y", "new_password": "password1234",
        "csrf_token": csrf_token_from(page.text), **row_version_from(page.text)}, follow_redirects=True)
    assert "phổ biến" in response.text
    db.session.expire_all()
    assert db.session.get(User, steward.id).password_hash == before


def test_no_password_expiry_anywhere():
    """NIST SP 800-63B: no forced periodic change. No column, setting or check of a password's age."""
    columns = {column.name for column in User.__table__.columns}
    assert not {name for name in columns if "password" in name and name != "password_hash"}
    assert not [key for key in Config.__dict__ if "PASSWORD" in key and ("AGE" in key or "EXPIR" in key)]


# --- disabled users --------------------------------------------------------------------------------------


def test_disabling_a_user_in_the_admin_form_stops_their_open_session_and_token_at_the_next_request(
        app, client, login, make_user, make_unit, db):
    province = make_unit("province", edition=2025)
    admin = make_user("admin")
    steward = make_user("data_steward", scope=province)
    token = issue_token(steward)
    db.session.commit()
    other = app.test_client()
    assert login_with(other, steward.username).status_code == 302
    assert other.get("/admin/").status_code == 200
    api = {"Authorization": f"Bearer {token}"}
    assert other.get("/api/v1/units", headers=api).status_code == 200

    login(admin)
    page = client.get(f"/admin/users/edit/?id={steward.id}")
    response = client.post(f"/admin/users/edit/?id={steward.id}", data={
        "username": steward.username, "full_name": "", "email": "", "role": "data_steward",
        "scope_unit": str(province.id), "new_password": "", "csrf_token": csrf_token_from(page.text),
        **row_version_from(page.text)})  # active off
    assert response.status_code == 302
    assert db.session.get(User, steward.id).active is False
    assert other.get("/admin/").status_code == 302
    assert other.get("/admin/flags/").status_code in (302, 403)
    assert other.get("/api/v1/units", headers=api).status_code == 401


def test_disabling_a_user_from_the_cli_stops_their_session_and_token(app, runner, make_user, db):
    user = make_user("admin")
    token = issue_token(user)
    db.session.commit()
    other = app.test_client()
    login_with(other, user.username)
    assert other.get("/admin/").status_code == 200
    assert runner.invoke(args=["users", "disable", user.username]).exit_code == 0
    assert other.get("/admin/").status_code == 302
    assert other.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login_with(other, user.username).status_code == 200  # the form again: a disabled account cannot log in


def test_a_user_made_inactive_by_any_write_is_refused_even_with_the_same_session_version(app, make_user, db):
    """load_user and user_for_token check `active` themselves: a path that forgot to bump the session version
    still cannot keep a disabled user in."""
    user = make_user("admin")
    token = issue_token(user)
    db.session.commit()
    other = app.test_client()
    login_with(other, user.username)
    user.active = False  # no set_active: the session version and the token are left as they were
    db.session.commit()
    assert other.get("/admin/").status_code == 302
    assert other.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
