"""Helpers for the browser tests: a live server on its own database, and logging in through the page."""
import threading
from contextlib import contextmanager

from werkzeug.serving import make_server

from service.extensions import db
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def live_server(app):
    """Serve `app` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        with app.app_context():
            db.engine.dispose()


def log_in(page, base, username, password=PASSWORD):
    """Log in through the Vietnamese login page and land on the home page."""
    page.goto(base + "/admin/")
    assert page.locator("h1").inner_text() == "Đăng nhập"
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(base + "/admin/")
    assert "Xin chào" in page.locator("h1").inner_text()
