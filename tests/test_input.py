"""Input, tried as a hostile user would:

- stored text with HTML or script (every free-text field of tests/hostile.py: unit, facility, staff, user names,
  addresses, course titles, class places, flag messages and explanations, upload file names, …) is shown escaped
  on every admin page (enumerated from the application) and in the Great Expectations Data Docs;
- every redirect target the service honours (`next` at login, language switch and flag steps, Flask-Admin's `url`
  on create, edit, delete and export) stays on this host;
- exported cells beginning with = + - @ are neutralised in every CSV and XLSX the service writes;
- every upload path (reports in the admin and the API, the three training imports, the facility import) refuses,
  with a Vietnamese error and nothing stored: a file over the size limits, a name that lies about the content,
  binary "CSV", a workbook with too many parts, one declaring too large an expansion, and real ZIP bombs (with
  memory measured).
"""
import csv
import io
import struct
import tracemalloc
import zipfile
from urllib.parse import urljoin, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, inspect, select

from service.extensions import db as _db
from service.facilities.models import Facility
from service.submissions.models import Submission, Upload
from service.training.models import Attendance, Certificate, StaffMember
from tests.conftest import csrf_token_from, row_version_from
from tests.files import workbook_bytes
from tests.hostile import ESCAPED, FORM, PERIOD, RAW_TAGS, build_world, model_views
from tests.test_access import admin_get_urls, rows_of

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def sides(db, make_unit, make_facility, make_user):
    return build_world(db, make_unit, make_facility, make_user)


def logout(client):
    client.post("/admin/logout/", data={"csrf_token": csrf_token_from(client.get("/admin/").text)})


# --- stored HTML and script ---------------------------------------------------------------------------------


def html_pages(app, side):
    """Every admin page pointed at `side` (lists, forms, custom pages) and the details and edit page of each of
    its rows."""
    urls = admin_get_urls(app, side)
    for view in model_views(app):
        for row in rows_of(side):
            if isinstance(row, view.model):
                pk = inspect(row).identity[0]
                urls += [f"/admin/{view.endpoint}/details/?id={pk}", f"/admin/{view.endpoint}/edit/?id={pk}"]
    return urls


def test_stored_html_is_shown_escaped_on_every_admin_page_for_every_role(app, client, login, sides, make_user):
    a, _b = sides
    urls = html_pages(app, a)
    shown = 0
    for user in [make_user("admin"), *a.users.values()]:
        login(user)
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or not response.mimetype.startswith("text/html"):
                response.close()
                continue
            for tag in RAW_TAGS:
                assert tag not in response.text, (user.role, url)
            shown += ESCAPED in response.text
        logout(client)
    assert shown > 100  # the hostile text is on the pages, escaped


def test_every_model_view_shows_the_hostile_text_escaped_somewhere(app, client, login, sides, make_user):
    """Each model view's list or details shows some of A's text, and shows it escaped (no view is left out of the
    sweep above because it happened to show nothing)."""
    a, _b = sides
    login(make_user("admin"))
    for view in model_views(app):
        pages = [f"/admin/{view.endpoint}/"] + [f"/admin/{view.endpoint}/details/?id={inspect(row).identity[0]}"
                                                for row in rows_of(a) if isinstance(row, view.model)]
        texts = [client.get(url).text for url in pages]
        if view.endpoint in ("role_categories", "qualification_types", "role_requirements", "staffing_conditions",
                             "validation_runs", "audit"):
            continue  # reference data and run counters: no text a user of a province writes
        assert any(ESCAPED in text for text in texts), view.endpoint


def test_data_docs_show_stored_text_escaped(app, client, login, db, make_unit, make_user):
    from service.forms.registry import get_form
    from service.submissions.operations import submit
    from service.validation.runner import run_validation
    from tests.hostile import HOSTILE
    from tests.test_validation import INCONSISTENT

    province = make_unit("province", edition=2025, code="ZQD", name=f"{HOSTILE} Tỉnh")
    commune = make_unit("commune", province, code="ZQD01", name=f"{HOSTILE} Xã")
    steward = make_user("data_steward", scope=province)
    form = get_form(FORM)
    period = form.parse_period("2026Q3")
    submit(steward, form, period, commune, INCONSISTENT, "api")
    run = run_validation(form, [period], "manual", data_docs=True)
    login(steward)
    docs = client.get(f"/admin/validation_runs/docs/{run.id}/2026Q3")
    assert docs.status_code == 200 and "commune_rehab" in docs.text
    for tag in RAW_TAGS:
        assert tag not in docs.text
    report = client.get(f"/admin/validation_runs/report/{run.id}")
    assert report.status_code == 200 and ESCAPED in report.text
    for tag in RAW_TAGS:
        assert tag not in report.text


# --- redirects ----------------------------------------------------------------------------------------------

HOSTILE_TARGETS = ["//evil.example/x", "https://evil.example/x", "/\\evil.example", "\\\\evil.example",
                   "javascript:alert(1)", " //evil.example", "/\t/evil.example", "https:evil.example",
                   "http://localhost.evil.example/", "http://evil.example@localhost.evil.example/", "///evil.example"]


def stays_here(location):
    """Whether a browser following `location` from http://localhost/ stays on localhost (browsers read a
    backslash as a slash and drop tabs and newlines)."""
    if not location:
        return True
    cleaned = location.replace("\\", "/").replace("\t", "").replace("\n", "").replace("\r", "").strip()
    target = urlsplit(urljoin("http://localhost/", cleaned))
    return target.scheme in ("http", "https") and target.netloc == "localhost"


def links_of(html):
    """The href and action targets of a page, unescaped as a browser reads them."""
    import html as html_module
    import re

    return [html_module.unescape(value) for value in re.findall(r'(?:href|action|formaction)="([^"]*)"', html)]


def test_login_next_stays_on_this_host(client, make_user):
    from tests.conftest import PASSWORD

    user = make_user("admin")
    for target in HOSTILE_TARGETS:
        page = client.get("/admin/login/", query_string={"next": target})
        response = client.post("/admin/login/", query_string={"next": target}, data={
            "username": user.username, "password": PASSWORD, "csrf_token": csrf_token_from(page.text)})
        assert response.status_code == 302 and stays_here(response.headers["Location"]), target
        logout(client)
    page = client.get("/admin/login/", query_string={"next": "/admin/facilities/"})
    response = client.post("/admin/login/", query_string={"next": "/admin/facilities/"}, data={
        "username": user.username, "password": PASSWORD, "csrf_token": csrf_token_from(page.text)})
    assert response.headers["Location"] == "/admin/facilities/"


def test_language_switch_next_stays_on_this_host(client):
    for target in HOSTILE_TARGETS:
        response = client.get("/language/en", query_string={"next": target})
        assert response.status_code == 302 and stays_here(response.headers["Location"]), target
    assert client.get("/language/vi?next=/admin/login/").headers["Location"] == "/admin/login/"


def test_flask_admin_url_parameter_stays_on_this_host(client, login, sides, make_facility, db):
    a, _b = sides
    login(a.users["admin"])
    for target in HOSTILE_TARGETS:
        page = client.get("/admin/facilities/new/", query_string={"url": target})
        assert all(stays_here(link) for link in links_of(page.text) if link != "javascript:void(0)"), target
        token = csrf_token_from(page.text)
        code = f"ZQR{HOSTILE_TARGETS.index(target)}"
        created = client.post("/admin/facilities/new/", query_string={"url": target}, data={
            "code": code, "name": "Cơ sở chuyển hướng", "org_unit": str(a.commune.id), "address": "",
            "facility_type": "public_rehab", "csrf_token": token})
        assert created.status_code == 302 and stays_here(created.headers["Location"]), target
        facility = db.session.execute(select(Facility).where(Facility.code == code)).scalar_one()
        edit = client.get("/admin/facilities/edit/", query_string={"id": facility.id, "url": target})
        assert all(stays_here(link) for link in links_of(edit.text) if link != "javascript:void(0)"), target
        edited = client.post("/admin/facilities/edit/", query_string={"id": facility.id, "url": target}, data={
            "code": code, "name": "Đã sửa", "org_unit": str(a.commune.id), "address": "", "csrf_token": token,
            **row_version_from(edit.text)})
        assert edited.status_code == 302 and stays_here(edited.headers["Location"]), target
        deleted = client.post("/admin/facilities/delete/", query_string={"url": target},
                              data={"id": str(facility.id), "csrf_token": token, "url": target})
        assert deleted.status_code == 302 and stays_here(deleted.headers["Location"]), target
        export = client.get("/admin/facilities/export/pdf/", query_string={"url": target})
        assert export.status_code == 302 and stays_here(export.headers["Location"]), target


def test_flag_steps_next_stays_on_this_host(client, login, sides):
    a, _b = sides
    login(a.users["data_steward"])
    token = csrf_token_from(client.get(f"/admin/flags/details/?id={a.flag.id}").text)
    for target in HOSTILE_TARGETS:
        response = client.post(f"/admin/flags/reopen/{a.flag.id}", data={"csrf_token": token, "next": target})
        assert response.status_code == 302 and stays_here(response.headers["Location"]), target
    response = client.post(f"/admin/flags/reopen/{a.flag.id}", data={"csrf_token": token, "next": "/admin/flags/"})
    assert response.headers["Location"] == "/admin/flags/"


# --- exports: formulas neutralised --------------------------------------------------------------------------


def export_urls(app, side):
    """Every download the admin offers: model views' exports and the report pages' CSV / XLSX."""
    return [url for url in admin_get_urls(app, side) if "/export/" in url or ".csv" in url or ".xlsx" in url
            if "template" not in url]


def cells_of(response):
    data = response.get_data()
    if data.startswith(b"PK"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        return [cell for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row
                if isinstance(cell, str)]
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_every_export_neutralises_formula_cells(app, client, login, sides, make_user):
    a, _b = sides
    neutralised = set()
    for user in (make_user("admin"), a.users["admin"], a.users["training_coordinator"], a.users["data_steward"]):
        login(user)
        for url in export_urls(app, a):
            response = client.get(url)
            if response.status_code != 200:
                response.close()
                continue
            for cell in cells_of(response):
                assert not cell.startswith(FORMULA_STARTS), (url, cell)
                if cell.startswith("'=1+1"):
                    neutralised.add(url.split("?")[0])
        logout(client)
    expected = {"/admin/facilities/export/csv/", "/admin/staff/export/csv/", "/admin/units/export/csv/",
                "/admin/flags/export/csv/", "/admin/classes/export/csv/", "/admin/certificates/export/csv/"}
    assert expected <= neutralised, expected - neutralised


# --- uploads ------------------------------------------------------------------------------------------------


def zip_with(parts, compress=zipfile.ZIP_DEFLATED):
    """A ZIP with the two parts that make it look like a workbook, and `parts` {name: bytes or (size, byte)}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for name, content in parts.items():
            if isinstance(content, tuple):  # (size, filler): written in chunks, never held whole
                size, filler = content
                with archive.open(name, "w", force_zip64=size > 2 ** 31) as handle:
                    chunk = filler * (1024 * 1024)
                    for _ in range(size // len(chunk)):
                        handle.write(chunk)
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def zip_bomb(size=200 * 1024 * 1024):
    """A real bomb: `size` bytes of zeros in the first sheet, deflated to about a thousandth."""
    return zip_with({"xl/worksheets/sheet1.xml": (size, b"\0")})


def lying_zip_bomb(size=200 * 1024 * 1024, declared=4096):
    """The same bomb whose headers (local and central) declare `declared` bytes instead of `size`, so that every
    check on the declared sizes passes."""
    data = bytearray(zip_bomb(size))
    name = b"xl/worksheets/sheet1.xml"
    local = data.index(b"PK\x03\x04" + data[4:4])  # first local header
    while True:
        local = data.index(b"PK\x03\x04", local)
        length = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30:local + 30 + length]) == name:
            struct.pack_into("<I", data, local + 22, declared)
            break
        local += 4
    central = data.index(b"PK\x01\x02")
    while True:
        central = data.index(b"PK\x01\x02", central)
        length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + length]) == name:
            struct.pack_into("<I", data, central + 24, declared)
            break
        central += 4
    return bytes(data)


def many_parts(count=2100):
    return zip_with({f"xl/media/p{number}.xml": b"x" for number in range(count)}, zipfile.ZIP_STORED)


class Path:
    """One upload path: who sends, where, and what must stay unwritten."""

    def __init__(self, name, role, send, models):
        self.name, self.role, self.send, self.models = name, role, send, models


def upload_paths(client, side):
    def admin_post(url, extra=None):
        def send(data, filename):
            page = client.get("/admin/")
            return client.post(url, data={"csrf_token": csrf_token_from(page.text), **(extra or {}),
                                          "file": (io.BytesIO(data), filename)})
        return send

    def api_post(data, filename):
        from service.accounts.operations import issue_token

        token = issue_token(side.users["data_steward"])
        return client.post("/api/v1/submissions/upload", headers={"Authorization": f"Bearer {token}"},
                           data={"form": FORM, "period": PERIOD, "file": (io.BytesIO(data), filename)})

    reports = (Submission,)
    return [
        Path("report upload (admin)", "data_steward",
             admin_post(f"/admin/report/upload?form={FORM}&period={PERIOD}"), reports),
        Path("report upload (API)", None, api_post, reports),
        Path("roster import", "training_coordinator", admin_post("/admin/training_import/upload/staff"),
             (StaffMember,)),
        Path("certificate import", "training_coordinator", admin_post("/admin/training_import/upload/certificates"),
             (Certificate,)),
        Path("attendance import", "training_coordinator", admin_post(
            "/admin/training_import/upload/attendance", {"class_id": str(side.training_class.id)}),
             (Attendance, Certificate, StaffMember)),
        Path("facility import", "admin", admin_post("/admin/facility-import/upload"), (Facility,)),
    ]


def counts(models):
    return {model.__name__: _db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (*models, Submission, StaffMember, Facility, Certificate)}


def error_text(response):
    if response.is_json:
        body = response.json["error"]
        return body["message"] + " " + " ".join(item.get("message", "") for item in body.get("details", []))
    if response.status_code == 302:
        return ""
    return response.text


def refused(app, client, login, side, data, filename, expected):
    """Every upload path refuses the file with `expected` (Vietnamese) in its answer, storing nothing."""
    for path in upload_paths(client, side):
        if path.role:
            login(side.users[path.role])
        before = counts(path.models)
        accepted = _db.session.execute(select(func.count()).select_from(Upload)
                                       .where(Upload.status == "accepted")).scalar_one()
        response = path.send(data, filename)
        text = error_text(response)
        if response.status_code == 302:  # the admin import pages redirect only after success
            text = client.get(response.headers["Location"]).text
        assert response.status_code in (200, 302, 400, 413), (path.name, response.status_code)
        assert expected in text, (path.name, filename, text[:3000])
        assert counts(path.models) == before, path.name
        assert _db.session.execute(select(func.count()).select_from(Upload)
                                   .where(Upload.status == "accepted")).scalar_one() == accepted, path.name
        if path.role:
            logout(client)


def test_a_file_over_the_upload_limit_is_refused_everywhere(app, client, login, sides, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 2000)
    data = ("commune_code,period\n" + "ZQAC,2025Q4\n" * 400).encode()
    refused(app, client, login, sides[0], data, "lon.csv", "quá lớn")


def test_a_request_over_max_content_length_is_refused_with_a_vietnamese_page(app, client, login, sides,
                                                                            monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 3 * 1024 * 1024)
    data = b"commune_code,period\n" + b"x" * (4 * 1024 * 1024)
    refused(app, client, login, sides[0], data, "rat-lon.csv", "quá lớn")


def test_a_text_file_named_xlsx_and_a_binary_csv_are_refused_everywhere(app, client, login, sides):
    a = sides[0]
    refused(app, client, login, a, b"commune_code,period\nZQAC,2025Q4\n", "bao-cao.xlsx", "không phải sổ tính Excel")
    refused(app, client, login, a, workbook_bytes([["commune_code"]]), "bao-cao.csv", "không phải tệp văn bản")
    refused(app, client, login, a, bytes(range(256)) * 8, "bao-cao.csv", "không phải")
    refused(app, client, login, a, b"MZ\x90\x00" + bytes(500), "chay.exe", "Chỉ nhận")


def test_a_workbook_with_too_many_parts_is_refused_everywhere(app, client, login, sides):
    refused(app, client, login, sides[0], many_parts(), "nhieu-phan.xlsx", "quá nhiều thành phần")


def test_a_workbook_declaring_too_large_an_expansion_is_refused_everywhere(app, client, login, sides, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_UNCOMPRESSED_BYTES", 64 * 1024)
    sheet = ("<row>" + "<c t='inlineStr'><is><t>Nguyễn Văn A</t></is></c>" * 40 + "</row>") * 200
    data = zip_with({"xl/worksheets/sheet1.xml": sheet.encode()})
    assert len(data) < 64 * 1024 < sum(entry.file_size for entry in zipfile.ZipFile(io.BytesIO(data)).infolist())
    refused(app, client, login, sides[0], data, "phinh.xlsx", "bị từ chối")


def test_a_real_zip_bomb_is_refused_everywhere_with_memory_bounded(app, client, login, sides):
    bomb = zip_bomb()
    assert len(bomb) < 1024 * 1024  # 200 MB of zeros in well under a megabyte
    tracemalloc.start()
    try:
        refused(app, client, login, sides[0], bomb, "bom.xlsx", "zip bomb")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, peak  # the bomb is 200 MB; six uploads of it took under 40 MB at most


def test_a_zip_bomb_lying_about_its_size_is_refused_with_memory_bounded(app, client, login, sides):
    bomb = lying_zip_bomb()
    entry = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("xl/worksheets/sheet1.xml")
    assert entry.file_size == 4096  # every declared size looks harmless
    tracemalloc.start()
    try:
        refused(app, client, login, sides[0], bomb, "bom-doi.xlsx", "Không đọc được sổ tính")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, peak


def test_a_workbook_with_an_xml_entity_bomb_is_refused_with_memory_bounded(app, client, login, sides):
    """A real workbook whose sheet declares the "billion laughs" entities: refused (openpyxl parses through
    defusedxml, which forbids entity declarations), memory bounded."""
    laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        laughs += f'<!ENTITY lol{level} "{("&" + previous + ";") * 10}">'
    laughs += ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
    laughs += '<c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    source = zipfile.ZipFile(io.BytesIO(workbook_bytes([["commune_code"]])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            content = laughs.encode() if entry.filename == "xl/worksheets/sheet1.xml" else source.read(entry)
            archive.writestr(entry.filename, content)
    tracemalloc.start()
    try:
        refused(app, client, login, sides[0], buffer.getvalue(), "cuoi.xlsx", "Không đọc được sổ tính")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, peak
