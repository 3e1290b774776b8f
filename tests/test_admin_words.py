"""Flask-Admin's own words on our pages are Vietnamese a civil servant reads as meant: its catalogue's wrong
words ("Kỷ lục" for a record, "mặt hàng" for rows…) are corrected by translations/vi/LC_MESSAGES/admin.po,
read over it on every page."""
import json
import re
from html import unescape

import flask_admin.babel
import flask_admin.translations
import pytest
from babel.messages.pofile import read_po
from flask import g

from service.config import PROJECT_DIR
from tests.conftest import csrf_token_from
from tests.hostile import model_views

# Words of Flask-Admin's vi catalogue that say something else than the English: a sports record, goods, a
# product, a template, "Broken when", "coerce"; and the two words it mixes for a record.
BAD_WORDS = ("Kỷ lục", "kỷ lục", "mặt hàng", "sản phẩm nào", "chọn mẫu", "Hỏng khi", "ép buộc", "Tạo Hồ Sơ Mới",
             "hồ sơ đã chọn", "Xem hồ sơ", "Hồ sơ đã được lưu", "Chọn hồ sơ", "cái khác")


def _catalogue(path):
    with open(path, "rb") as handle:
        return read_po(handle)


def _shipped():
    return _catalogue(f"{flask_admin.translations.__path__[0]}/vi/LC_MESSAGES/admin.po")


def _ours():
    return _catalogue(PROJECT_DIR / "translations/vi/LC_MESSAGES/admin.po")


def test_every_correction_is_of_a_flask_admin_message_and_says_it_in_good_words():
    shipped = {message.id for message in _shipped() if message.id}
    ours = [message for message in _ours() if message.id]
    assert ours
    for message in ours:
        assert message.id in shipped, f"{message.id!r} is not a Flask-Admin message (renamed upstream?)"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), message.id
        assert not [word for word in BAD_WORDS for text in strings if word in text], message.id


def test_no_flask_admin_message_shows_a_wrong_word_on_a_page(app):
    """Every message of Flask-Admin's catalogue, as its gettext translates it for a page (corrections merged)."""
    with app.test_request_context("/admin/courses/"):
        g._admin_view = next(view for view in model_views(app) if view.endpoint == "courses")
        flask_admin.babel.domain.cache.clear()
        wrong = {}
        for message in _shipped():
            if not message.id:
                continue
            singular = message.id[0] if isinstance(message.id, tuple) else message.id
            text = flask_admin.babel.gettext(singular)  # no variables: the text is not formatted
            found = [word for word in BAD_WORDS if word in text]
            if found:
                wrong[singular] = text
    assert wrong == {}


def test_a_created_record_is_announced_in_good_words_and_the_pages_show_none_of_the_wrong_ones(client, login,
                                                                                                make_user, db):
    admin = make_user("admin")
    login(admin)
    page = client.get("/admin/courses/new/")
    response = client.post("/admin/courses/new/", data={
        "csrf_token": csrf_token_from(page.text), "code": "TUVAN-1", "title": "Tư vấn cơ bản",
        "topic": "counselling", "hours": "8"}, follow_redirects=True)
    assert "Đã tạo bản ghi." in response.text
    assert "Kỷ lục" not in response.text
    for view in model_views(client.application):
        if view.endpoint == "audit":
            continue
        for url in (f"/admin/{view.endpoint}/", f"/admin/{view.endpoint}/new/"):
            html = client.get(url).text
            assert not [word for word in BAD_WORDS if word in html], url


def _filter_groups(html):
    data = re.search(r'<div id="filter-groups-data"[^>]*>(.*?)</div>', html, re.S)
    assert data, "no filters on the page"
    return json.loads(unescape(data.group(1)))


@pytest.mark.parametrize("url, group, label", [
    ("/admin/flags/", "Trạng thái", "chưa xử lý"),
    ("/admin/flags/", "Mức độ", None),
    ("/admin/flags/", "Biểu mẫu", None),
    ("/admin/validation_runs/", "Trạng thái", None),
    ("/admin/validation_runs/", "Khởi chạy bởi", None),
    ("/admin/users/", "Vai trò", None),
    ("/admin/submissions/", "Kênh", None),
    ("/admin/uploads/", "Trạng thái", "bị từ chối"),
])
def test_a_filter_on_closed_choices_is_a_list_of_vietnamese_labels(client, login, make_user, url, group, label):
    """Not free text expecting `open` or `error` (#16 item 17)."""
    login(make_user("admin"))
    groups = _filter_groups(client.get(url).text)
    assert group in groups, sorted(groups)
    entries = groups[group]
    assert len(entries) == 1 and entries[0]["options"], entries  # one "equals", with its choices
    labels = [text for _code, text in entries[0]["options"]]
    assert all(text and text != code for code, text in entries[0]["options"]), labels
    if label:
        assert label in labels
