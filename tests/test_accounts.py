"""Accounts: CLI creation, tokens, login with CSRF, lockout, and sessions that end when they must."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.accounts.models import LoginAttempt, User
from service.accounts.operations import AccountError, issue_token, set_active, set_password
from service.audit.models import AuditLog
from service.common.time import utcnow
from tests.conftest import PASSWORD, csrf_token_from, row_version_from


def test_cli_creates_a_scoped_user_from_a_password_on_stdin(runner, make_unit, db):
    province = make_unit("province", edition=2025, code="66")
    result = runner.invoke(args=["users", "create", "--username", "giamsat66", "--role", "data_steward",
                                 "--scope", "66", "--password-stdin"], input="một-mật-khẩu-dài\n")
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User).where(User.username == "giamsat66")).scalar_one()
    assert user.scope_unit_id == province.id and user.role == "data_steward"
    assert user.password_hash != "một-mật-khẩu-dài" and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    audit = db.session.execute(select(AuditLog).where(AuditLog.table_name == "user_account",
                                                      AuditLog.action == "create")).scalar_one()
    assert audit.channel == "cli" and audit.new_values["password_hash"] == "***"


@pytest.mark.parametrize("args,message", [
    (["--role", "data_steward"], "phạm vi"),
    (["--role", "facility_manager", "--scope", "66"], "cơ sở"),
    (["--role", "data_steward", "--scope", "00000"], "00000"),
    (["--role", "superuser"], "superuser"),
])
def test_cli_refuses_a_user_without_the_scope_its_role_needs(runner, make_unit, args, message, db):
    make_unit("province", edition=2025, code="66")
    result = runner.invoke(args=["users", "create", "--username", "x1", *args, "--password-stdin"],
                           input="một-mật-khẩu-dài\n")
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.execute(select(User).where(User.username == "x1")).first() is None


def test_cli_token_prints_a_token_that_opens_the_api_and_only_its_hash_is_stored(runner, make_user, client, db):
    user = make_user("admin")
    result = runner.invoke(args=["users", "token", user.username])
    assert result.exit_code == 0
    token = result.output.strip()
    assert token.startswith("drs_") and len(token) > 30
    assert token not in str(db.session.execute(select(AuditLog.new_values)).all())
    response = client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_short_password_is_refused(make_user):
    with pytest.raises(AccountError):
        from service.accounts.operations import create_user
        create_user("ngan", "admin", "ngắn")


def test_login_needs_the_csrf_token(client, make_user):
    user = make_user("admin")
    response = client.post("/admin/login/", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_login_and_logout(client, login, make_user):
    user = make_user("admin")
    response = login(user)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    home = client.get("/admin/")
    assert home.status_code == 200 and "Xin chào" in home.text
    assert home.headers["Cache-Control"] == "no-store"
    client.post("/admin/logout/", data={"csrf_token": csrf_token_from(home.text)})
    assert client.get("/admin/").status_code == 302


def test_login_redirects_only_to_this_host(client, make_user):
    user = make_user("admin")
    page = client.get("/admin/login/?next=https://evil.example/x")
    response = client.post("/admin/login/?next=https://evil.example/x", data={
        "username": user.username, "password": PASSWORD, "csrf_token": csrf_token_from(page.text)})
    assert response.headers["Location"] == "/admin/"


def test_five_failures_lock_the_username_from_that_address_but_not_from_another(client, login, make_user, db):
    user = make_user("admin")
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    office = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(5):
        response = login(user, "sai-mật-khẩu", environ_base=attacker)
        assert response.status_code == 200 and "Sai tên đăng nhập" in response.text
    response = login(user, PASSWORD, environ_base=attacker)
    assert response.status_code == 200 and "quá nhiều lần" in response.text
    response = login(user, PASSWORD, environ_base=office)
    assert response.status_code == 302


def test_failures_older_than_the_window_do_not_count(login, make_user, db):
    user = make_user("admin")
    for _ in range(5):
        db.session.add(LoginAttempt(username=user.username, ip="127.0.0.1", success=False,
                                    at=utcnow() - timedelta(minutes=16)))
    db.session.flush()
    assert login(user).status_code == 302


def test_changing_the_password_or_disabling_ends_open_sessions_and_tokens(app, client, login, make_user, db):
    user = make_user("admin")
    login(user)
    assert client.get("/admin/").status_code == 200
    set_password(user, "một-mật-khẩu-mới-dài")
    db.session.commit()
    assert client.get("/admin/").status_code == 302

    login(user, "một-mật-khẩu-mới-dài")
    token = issue_token(user)
    db.session.commit()
    assert client.get("/admin/").status_code == 200
    set_active(user, False)
    db.session.commit()
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login(user, "một-mật-khẩu-mới-dài").status_code == 200  # the form again, with an error


def test_admin_creates_a_user_through_the_form_with_the_same_rules(client, login, make_user, make_unit, db):
    admin = make_user("admin")
    province = make_unit("province", edition=2025)
    login(admin)
    page = client.get("/admin/users/new/")
    assert page.status_code == 200
    data = {"username": "moi", "full_name": "Người Mới", "email": "", "role": "data_steward",
            "scope_unit": str(province.id), "active": "y", "new_password": "mật-khẩu-đủ-dài",
            "csrf_token": csrf_token_from(page.text)}
    response = client.post("/admin/users/new/", data=data)
    assert response.status_code == 302, response.text
    user = db.session.execute(select(User).where(User.username == "moi")).scalar_one()
    assert user.scope_unit_id == province.id

    data.update(username="thieu", scope_unit="", new_password="mật-khẩu-đủ-dài")
    response = client.post("/admin/users/new/", data=data, follow_redirects=True)
    assert "phạm vi" in response.text
    assert db.session.execute(select(User).where(User.username == "thieu")).first() is None


def test_one_address_failing_across_many_usernames_is_stopped(app, login, make_user, db, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 6)
    user = make_user("admin")
    sprayer = {"REMOTE_ADDR": "192.0.2.50"}
    for number in range(6):
        login(f"khong-co-{number}", "đoán-bừa", environ_base=sprayer)
    response = login(user, PASSWORD, environ_base=sprayer)
    assert "quá nhiều lần" in response.text
    assert login(user, PASSWORD, environ_base={"REMOTE_ADDR": "192.0.2.51"}).status_code == 302


def test_a_district_of_the_old_list_can_be_a_scope(runner, make_unit, db):
    province = make_unit("province", edition=2024, code="66")
    district = make_unit("district", province, code="643")
    result = runner.invoke(args=["users", "create", "--username", "bmt", "--role", "data_steward", "--scope", "643",
                                 "--edition", "2024", "--password-stdin"], input="một-mật-khẩu-dài\n")
    assert result.exit_code == 0, result.output
    assert db.session.execute(select(User).where(User.username == "bmt")).scalar_one().scope_unit_id == district.id


def test_changing_a_users_role_in_the_admin_ends_their_sessions(app, client, login, make_user, make_unit, db):
    province = make_unit("province", edition=2025)
    admin = make_user("admin")
    steward = make_user("data_steward", scope=province)
    other = app.test_client()
    page = other.get("/admin/login/")
    other.post("/admin/login/", data={"username": steward.username, "password": PASSWORD,
                                      "csrf_token": csrf_token_from(page.text)})
    assert other.get("/admin/").status_code == 200
    login(admin)
    page = client.get(f"/admin/users/edit/?id={steward.id}")
    response = client.post(f"/admin/users/edit/?id={steward.id}", data={
        "username": steward.username, "full_name": "", "email": "", "role": "training_coordinator",
        "scope_unit": str(province.id), "active": "y", "new_password": "", "csrf_token": csrf_token_from(page.text),
        **row_version_from(page.text)})
    assert response.status_code == 302
    assert db.session.get(User, steward.id).role == "training_coordinator"
    assert other.get("/admin/").status_code == 302


def test_the_new_user_form_asks_for_the_password_and_the_edit_form_offers_to_keep_it(client, login, make_user,
                                                                                   make_unit):
    """The create form once said "leave empty to keep the current password" and then refused an empty one."""
    admin = make_user("admin")
    login(admin)
    created = client.get("/admin/users/new/").text
    assert "Leave empty" not in created and "Để trống" not in created
    assert "Ít nhất 10 ký tự" in created
    other = make_user("data_steward", scope=make_unit("province"))
    edited = client.get(f"/admin/users/edit/?id={other.id}").text
    assert "Để trống nếu giữ mật khẩu hiện tại." in edited


def test_a_user_changes_their_own_password_from_the_user_menu(app, client, login, make_user, make_unit, db):
    """#16 item 25: the current password first, the new one twice and by the common rules; this session goes on,
    the other sessions of the user end, and the old password no longer opens the service."""
    user = make_user("data_steward", scope=make_unit("province"))
    elsewhere = app.test_client()
    page = elsewhere.get("/admin/login/")
    elsewhere.post("/admin/login/", data={"username": user.username, "password": PASSWORD,
                                          "csrf_token": csrf_token_from(page.text)})
    assert "Xin chào" in elsewhere.get("/admin/").text
    login(user)
    home = client.get("/admin/").text
    assert 'href="/admin/password/"' in home
    old_hash = user.password_hash

    def change(current, new, repeated):
        form = client.get("/admin/password/")
        return client.post("/admin/password/", data={"current": current, "new": new, "repeated": repeated,
                                                     "csrf_token": csrf_token_from(form.text)}, follow_redirects=True)

    new = "mot-mat-khau-moi-dai"
    assert "Mật khẩu hiện tại không đúng" in change("sai-mat-khau-123", new, new).text
    assert "Hai lần nhập mật khẩu mới không giống nhau" in change(PASSWORD, new, "khac-han").text
    assert "ít nhất 10 ký tự" in change(PASSWORD, "ngan", "ngan").text.lower()
    db.session.refresh(user)
    assert user.password_hash == old_hash

    done = change(PASSWORD, new, new)
    assert "Đã đổi mật khẩu" in done.text and "Xin chào" in done.text  # still signed in here
    db.session.refresh(user)
    assert user.password_hash != old_hash
    assert "Đăng nhập" in elsewhere.get("/admin/", follow_redirects=True).text  # the other session has ended
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.row_id == str(user.id),
                                                            AuditLog.action == "password_change")).first()
    fresh = app.test_client()
    for password, welcomed in ((PASSWORD, False), (new, True)):
        page = fresh.get("/admin/login/")
        fresh.post("/admin/login/", data={"username": user.username, "password": password,
                                          "csrf_token": csrf_token_from(page.text)})
        assert ("Xin chào" in fresh.get("/admin/").text) is welcomed
