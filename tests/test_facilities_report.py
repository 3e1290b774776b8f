"""The capacity report: occupancy rates per modality per facility and per province computed by hand (capacity
history, corrected census, facilities without a census, no places), set-based queries, scope in the page and in
both exports, who may open it, formula-like text neutralised in the exports, and the chart drawn by the service.
"""
import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import event

from service.accounts.scope import Scope
from service.common.export import csv_bytes, neutralise, xlsx_bytes
from service.facilities.operations import record_census, set_capacity
from service.facilities.queries import capacity_report, open_facility_flags, report_provinces

TODAY = date(2026, 11, 20)
ON = {"on": TODAY.isoformat()}


def census(user, facility, day, corrects=None, reason=None, **counts):
    return record_census(user, facility, day, {modality: {"current_count": n} for modality, n in counts.items()},
                         corrects=corrects, reason=reason, today=TODAY)


@pytest.fixture
def world(db, make_unit, make_facility, make_user):
    """Province A: FA1 (capacity raised on 15/11), FA2 (census corrected, substitution with no places), FA3 (no
    census), FA4 (closed); province B: FB1 (over capacity). Commune working groups: no staffing conditions."""

    class W:
        pass

    w = W()
    w.province_a = make_unit("province", name="Tỉnh An Thử")
    w.commune_a = make_unit("commune", w.province_a, name="Xã An Một")
    w.province_b = make_unit("province", name="Tỉnh Bình Thử")
    w.commune_b = make_unit("commune", w.province_b, name="Xã Bình Một")
    w.admin = make_user("admin")
    kind = {"facility_type": "commune_group"}
    w.fa1 = make_facility(w.commune_a, code="CS-A1", name="Cơ sở An Một", **kind)
    w.fa2 = make_facility(w.commune_a, code="CS-A2", name="@Trạm An Hai", **kind)
    w.fa3 = make_facility(w.province_a, code="CS-A3", name="=1+2 Trung tâm An Ba", **kind)
    w.fa4 = make_facility(w.commune_a, code="CS-A4", name="Cơ sở An Bốn (đã đóng)", **kind)
    w.fb1 = make_facility(w.commune_b, code="CS-B1", name="Cơ sở Bình Một", **kind)

    set_capacity(w.admin, w.fa1, {"compulsory": 100, "voluntary": 40, "detox": 10}, date(2026, 1, 1), today=TODAY)
    set_capacity(w.admin, w.fa1, {"compulsory": 160}, date(2026, 11, 15), today=TODAY)
    census(w.admin, w.fa1, date(2026, 11, 10), compulsory=80, voluntary=50, detox=10)

    set_capacity(w.admin, w.fa2, {"compulsory": 50, "substitution": 0}, date(2026, 1, 1), today=TODAY)
    first = census(w.admin, w.fa2, date(2026, 11, 12), compulsory=45, substitution=3)
    census(w.admin, w.fa2, date(2026, 11, 12), corrects=first, reason="Đếm nhầm", compulsory=30, substitution=3)

    set_capacity(w.admin, w.fa3, {"compulsory": 20}, date(2026, 1, 1), today=TODAY)

    set_capacity(w.admin, w.fa4, {"compulsory": 500}, date(2026, 1, 1), today=TODAY)
    census(w.admin, w.fa4, date(2026, 11, 10), compulsory=400)
    w.fa4.status = "closed"

    set_capacity(w.admin, w.fb1, {"compulsory": 200}, date(2026, 1, 1), today=TODAY)
    census(w.admin, w.fb1, date(2026, 11, 18), compulsory=210)
    db.session.flush()

    w.steward_a = make_user("data_steward", scope=w.province_a)
    w.coordinator_a = make_user("training_coordinator", scope=w.province_a)
    w.manager = make_user("facility_manager", scope=w.commune_a, facility=w.fa1)
    return w


def by_code(report):
    return {row.code: row for row in report.rows}


def totals(report):
    return {total.code: total.totals for total in report.provinces}


# --- the figures -------------------------------------------------------------------------------------------


def test_rates_per_facility_are_occupants_over_the_places_in_force_on_the_day(world):
    rows = by_code(capacity_report(Scope(world.admin), TODAY))
    assert set(rows) == {"CS-A1", "CS-A2", "CS-A3", "CS-B1"}  # the closed facility is left out
    a1 = rows["CS-A1"].figures
    assert (a1["compulsory"].current, a1["compulsory"].capacity, a1["compulsory"].rate) == (80, 160, 50.0)
    assert (a1["voluntary"].rate, a1["voluntary"].over) == (125.0, True)
    assert (a1["detox"].rate, a1["detox"].over) == (100.0, False)
    assert a1["substitution"].empty and a1["substitution"].rate is None
    assert rows["CS-A1"].census_date == date(2026, 11, 10)
    # on 11/11 the capacity was still 100, and FA2 had no census yet
    earlier = by_code(capacity_report(Scope(world.admin), date(2026, 11, 11)))
    assert earlier["CS-A1"].figures["compulsory"].rate == 80.0
    assert earlier["CS-A2"].census_date is None and earlier["CS-A2"].figures["compulsory"].current is None


def test_a_corrected_census_counts_with_the_figures_of_its_correction(world):
    a2 = by_code(capacity_report(Scope(world.admin), TODAY))["CS-A2"]
    assert a2.census_date == date(2026, 11, 12)
    assert (a2.figures["compulsory"].current, a2.figures["compulsory"].rate) == (30, 60.0)
    # no places: no rate, but occupants beyond none are over capacity
    substitution = a2.figures["substitution"]
    assert (substitution.capacity, substitution.current, substitution.rate, substitution.over) == (0, 3, None, True)


def test_province_totals_count_the_facilities_with_a_figure_and_show_the_other_places_apart(world):
    report = capacity_report(Scope(world.admin), TODAY)
    assert [total.name for total in report.provinces] == ["Tỉnh An Thử", "Tỉnh Bình Thử"]
    a, b = totals(report)[world.province_a.code], totals(report)[world.province_b.code]
    # compulsory in A: (80 + 30) / (160 + 50) = 52.38 %; FA3's 20 places have no census
    assert (a["compulsory"].current, a["compulsory"].capacity, a["compulsory"].rate) == (110, 210, 52.4)
    assert (a["compulsory"].unreported_capacity, a["compulsory"].unreported_facilities) == (20, 1)
    assert (a["voluntary"].rate, a["detox"].rate) == (125.0, 100.0)
    assert (a["substitution"].rate, a["substitution"].over) == (None, True)
    assert (b["compulsory"].current, b["compulsory"].capacity, b["compulsory"].rate) == (210, 200, 105.0)
    assert b["voluntary"].empty and b["voluntary"].rate is None
    assert report.provinces[0].facilities == 3


def test_open_facility_flags_are_counted_per_facility_and_listed_errors_first(world):
    report = capacity_report(Scope(world.admin), TODAY)
    rows = by_code(report)
    assert (rows["CS-A1"].errors, rows["CS-A1"].warnings) == (1, 0)  # F01-voluntary
    assert (rows["CS-A3"].errors, rows["CS-A3"].warnings) == (0, 1)  # F03: no census
    flags = open_facility_flags(Scope(world.steward_a))
    assert [(flag.facility.code, flag.rule) for flag in flags] == [
        ("CS-A1", "F01-voluntary"), ("CS-A2", "F01-substitution"), ("CS-A3", "F03")]
    assert {flag.facility.code for flag in open_facility_flags(Scope(world.admin))} >= {"CS-B1"}
    assert [flag.facility.code for flag in open_facility_flags(Scope(world.admin), world.province_b)] == ["CS-B1"]


def test_the_report_of_a_scope_and_of_a_province_holds_only_their_facilities(world):
    steward = Scope(world.steward_a)
    assert [unit.id for unit in report_provinces(steward)] == [world.province_a.id]
    assert set(by_code(capacity_report(steward, TODAY))) == {"CS-A1", "CS-A2", "CS-A3"}
    assert set(by_code(capacity_report(Scope(world.admin), TODAY, world.province_b))) == {"CS-B1"}
    assert set(by_code(capacity_report(Scope(world.manager), TODAY))) == {"CS-A1"}


def test_the_report_takes_the_same_number_of_queries_for_few_or_many_facilities(world, db, make_facility):
    def statements():
        seen = []

        def count(*args):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            capacity_report(Scope(world.admin), TODAY)
            open_facility_flags(Scope(world.admin))
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    few = statements()
    for number in range(12):
        facility = make_facility(world.commune_b, code=f"CS-X{number}", facility_type="commune_group")
        set_capacity(world.admin, facility, {"detox": 5}, date(2026, 1, 1), today=TODAY)
        census(world.admin, facility, date(2026, 11, 19), detox=number)
    assert len(capacity_report(Scope(world.admin), TODAY).rows) == 16
    assert statements() == few


# --- the page ----------------------------------------------------------------------------------------------


def svg_of(html):
    match = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert match, "no inline chart"
    return match.group(0)


def test_the_page_shows_the_chart_per_province_the_totals_and_the_facilities(client, login, world):
    login(world.admin)
    response = client.get("/admin/capacity/", query_string=ON)
    assert response.status_code == 200
    html = response.text
    svg = svg_of(html)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    # drawn by the service: no external file, no script, no link
    assert not re.search(r"(href|src)=|url\(|<script", svg)
    assert re.findall(r"https?://[^\"' ]+", svg) == ["http://www.w3.org/2000/svg"]
    assert "Tỉnh An Thử" in svg and "Tỉnh Bình Thử" in svg and "52,4 %" in svg and "105,0 %" in svg
    assert 'class="bar over"' in svg  # B's compulsory rate is above the 100 line
    totals_table = html.split('id="province-totals"')[1].split("</table>")[0]
    row_a = totals_table.split(f'id="province-{world.province_a.id}"')[1].split("</tr>")[0]
    assert 'data-rate="52.4"' in row_a and "+ 20" in row_a
    row = html.split(f'id="facility-{world.fa1.id}"')[1].split("</tr>")[0]
    assert '<span class="occupants">80</span> / <span class="places">160</span>' in row
    assert 'modality-voluntary table-danger over" data-rate="125.0"' in row
    substitution = html.split(f'id="facility-{world.fa2.id}"')[1].split("</tr>")[0]
    assert 'modality-substitution table-danger over" data-rate=""' in substitution and "—" in substitution
    assert f'id="facility-{world.fa4.id}"' not in html
    assert "Cảnh báo của các cơ sở" in html


def test_one_province_is_charted_per_facility(client, login, world):
    login(world.admin)
    html = client.get("/admin/capacity/", query_string={**ON, "province": world.province_a.id}).text
    svg = svg_of(html)
    assert "CS-A1 – Cơ sở An Một" in svg and "Tỉnh Bình Thử" not in svg and "CS-B1" not in html
    # places but no census: no bar, a label that says so
    a3 = next(group for group in svg.split('<g class="group">') if "CS-A3 – " in group).split("</g>")[0]
    assert "<rect" not in a3 and "chưa có số liệu điều tra" in a3
    assert f'id="facility-{world.fa3.id}"' in html


def test_a_steward_sees_every_facility_flag_of_their_province_and_nothing_of_another(client, login, world, db):
    from service.flags.models import Flag

    login(world.steward_a)
    response = client.get("/admin/capacity/", query_string=ON)
    assert response.status_code == 200
    html = response.text
    for facility in (world.fa1, world.fa2, world.fa3):
        assert f'id="facility-{facility.id}"' in html
    assert "CS-B1" not in html and "Bình" not in html
    flags = html.split('id="flags"')[1].split("</table>")[0]
    for flag in open_facility_flags(Scope(world.steward_a)):
        assert f'href="/admin/flags/details/?id={flag.id}"' in flags
        assert flag.message_vi in flags
    assert flags.index("F01-voluntary") < flags.index("F03")
    other = db.session.scalars(open_query_for(Flag, world.fb1)).one()
    assert f'id="flag-{other.id}"' not in html
    # another province is not even a choice
    assert client.get("/admin/capacity/", query_string={**ON, "province": world.province_b.id}).status_code == 404
    assert client.get("/admin/capacity/export.csv",
                      query_string={**ON, "province": world.province_b.id}).status_code == 404


def open_query_for(flag_model, facility):
    from sqlalchemy import select

    return select(flag_model).where(flag_model.subject == "facility", flag_model.facility_id == facility.id,
                                    flag_model.status == "open")


def test_a_training_coordinator_reads_the_report_without_links_to_the_flags(client, login, world):
    login(world.coordinator_a)
    html = client.get("/admin/capacity/", query_string=ON).text
    assert f'id="facility-{world.fa1.id}"' in html and "F01-voluntary" in html
    assert "/admin/flags/details" not in html


def test_a_facility_manager_gets_403_on_the_page_and_the_exports(client, login, world):
    login(world.manager)
    for url in ("/admin/capacity/", "/admin/capacity/export.xlsx", "/admin/capacity/export.csv"):
        assert client.get(url, query_string=ON).status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, world):
    response = client.get("/admin/capacity/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


# --- the exports -------------------------------------------------------------------------------------------


def read_csv(response):
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def read_xlsx(response):
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(response.data))


def test_the_csv_export_holds_the_rows_of_the_page_with_vietnamese_headers(client, login, world):
    login(world.steward_a)
    response = client.get("/admin/capacity/export.csv", query_string=ON)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    header = rows[0]
    assert header[:3] == ["Mã cơ sở", "Tên cơ sở", "Loại hình cơ sở"]
    assert "Cai nghiện bắt buộc: tỷ lệ sử dụng (%)" in header
    assert [row[0] for row in rows[1:]] == ["CS-A1", "CS-A2", "CS-A3"]
    a1 = dict(zip(header, rows[1], strict=True))
    assert a1["Ngày điều tra"] == "10/11/2026"
    compulsory = [column for column in header if column.startswith("Cai nghiện bắt buộc")]
    assert [a1[column] for column in compulsory] == ["160", "80", "50.0"]
    a2 = dict(zip(header, rows[2], strict=True))
    substitution = [column for column in header if column.startswith("Điều trị thay thế")]
    assert [a2[column] for column in substitution] == ["0", "3", ""]
    text = response.data.decode("utf-8-sig")
    assert "CS-B1" not in text and "Bình" not in text


def test_the_xlsx_export_keeps_numbers_as_numbers_and_the_scope_of_the_page(client, login, world):
    login(world.steward_a)
    response = client.get("/admin/capacity/export.xlsx", query_string=ON)
    assert response.status_code == 200
    book = read_xlsx(response)
    assert len(book.worksheets) == 3
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    a1 = dict(zip(header, [cell.value for cell in sheet[2]], strict=True))
    assert a1["Mã cơ sở"] == "CS-A1"
    assert a1["Ngày điều tra"].date() == date(2026, 11, 10)
    compulsory = [column for column in header if column.startswith("Cai nghiện bắt buộc")]
    assert [a1[column] for column in compulsory] == [160, 80, 50.0]
    provinces = book.worksheets[1]
    assert [cell.value for cell in provinces[2]][:3] == [world.province_a.code, "Tỉnh An Thử", 3]
    flags = book.worksheets[2]
    assert [row[2] for row in flags.iter_rows(min_row=2, values_only=True)] == ["F01-voluntary", "F01-substitution",
                                                                               "F03"]
    values = [str(cell) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for cell in row]
    assert not any("CS-B1" in value or "Bình" in value for value in values)


def test_text_that_looks_like_a_formula_is_neutralised_in_both_exports(client, login, world):
    login(world.admin)
    rows = read_csv(client.get("/admin/capacity/export.csv", query_string=ON))
    names = {row[0]: row[1] for row in rows[1:]}
    assert names["CS-A2"] == "'@Trạm An Hai" and names["CS-A3"] == "'=1+2 Trung tâm An Ba"
    sheet = read_xlsx(client.get("/admin/capacity/export.xlsx", query_string=ON)).worksheets[0]
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert cells["CS-A3"].value == "'=1+2 Trung tâm An Ba" and cells["CS-A3"].data_type == "s"
    assert cells["CS-A2"].value == "'@Trạm An Hai"


def test_the_export_helpers_neutralise_text_only():
    assert [neutralise(value) for value in ("=A1", "+1", "-2", "@x", "\tx", "ok", -3, 2.5, None)] == [
        "'=A1", "'+1", "'-2", "'@x", "'\tx", "ok", -3, 2.5, None]
    assert csv_bytes(["a", "b"], [["-x", -1]]) == "\ufeffa,b\r\n'-x,-1\r\n".encode()
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx_bytes([("T", ["a", "b"], [["=1", -1], ["bad\x01", None]])]))).active
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [["a", "b"], ["'=1", -1], ["bad", None]]


def test_an_export_above_the_row_cap_is_refused_with_a_message(client, login, world, monkeypatch):
    import admin.facilities.report

    monkeypatch.setattr(admin.facilities.report, "EXPORT_MAX_ROWS", 2)
    login(world.admin)
    for url in ("/admin/capacity/export.csv", "/admin/capacity/export.xlsx"):
        response = client.get(url, query_string=ON)
        assert response.status_code == 302 and "/admin/capacity/" in response.headers["Location"]
    response = client.get("/admin/capacity/export.csv", query_string={**ON, "province": world.province_b.id})
    assert response.status_code == 200


def test_a_long_facility_table_is_paged_and_the_totals_still_count_every_facility(client, login, world,
                                                                                  monkeypatch):
    import admin.facilities.report

    login(world.admin)
    every = client.get("/admin/capacity/", query_string=ON).text
    listed = re.findall(r'<tr id="facility-(\d+)"', every)
    totals = every.split('id="province-totals"')[1].split("</table>")[0]
    monkeypatch.setattr(admin.facilities.report, "FACILITY_PAGE", 2)
    pages = [client.get("/admin/capacity/", query_string={**ON, "page": page}).text
             for page in range(1, -(-len(listed) // 2) + 1)]
    assert [found for html in pages for found in re.findall(r'<tr id="facility-(\d+)"', html)] == listed
    assert all(html.split('id="province-totals"')[1].split("</table>")[0] == totals for html in pages)
    assert 'id="page-next"' in pages[0] and 'id="page-next"' not in pages[-1]


def test_only_the_first_open_facility_flags_are_listed_with_a_way_to_all(client, login, world, monkeypatch):
    import admin.facilities.report

    login(world.admin)
    count = len(re.findall(r'<tr id="flag-', client.get("/admin/capacity/", query_string=ON).text))
    assert count >= 2
    monkeypatch.setattr(admin.facilities.report, "FLAGS_SHOWN", 1)
    html = client.get("/admin/capacity/", query_string=ON).text
    assert len(re.findall(r'<tr id="flag-', html)) == 1 and 'id="more-flags"' in html


def test_the_page_and_the_exports_follow_the_language_of_the_user(client, login, world, db):
    world.admin.language = "en"
    db.session.flush()
    login(world.admin)
    html = client.get("/admin/capacity/", query_string=ON).text
    assert "Facility flags" in html and "52.4 %" in svg_of(html)
    header = read_csv(client.get("/admin/capacity/export.csv", query_string=ON))[0]
    assert header[:2] == ["Facility code", "Facility name"] and "Compulsory rehab: rate (%)" in header
