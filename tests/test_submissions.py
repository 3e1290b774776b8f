"""Commune reports: periods and deadlines, the web form, the API, versions, idempotency, locks, completeness,
reminders, and concurrent submissions."""
import re
import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from service.accounts.operations import issue_token
from service.approval.operations import lock_period
from service.extensions import db as _db
from service.forms.periods import Period, PeriodError
from service.forms.registry import get_form
from service.submissions.jobs import remind_late_communes
from service.submissions.models import Reminder, Submission
from service.submissions.operations import SubmissionError, submit
from tests.conftest import csrf_token_from, live_app_with_commune

FORM = "commune_rehab"


def good_values(**changes):
    values = {
        "addicts_with_record": 40, "users_with_record": 60, "treated_total": 20, "treated_compulsory": 8,
        "treated_voluntary_facility": 4, "treated_community": 5, "treated_substitution": 3,
        "counselled_screened": 30, "completed": 10, "post_rehab_managed": 9, "vocational_supported": 5,
        "employed_after_rehab": 3, "relapsed": 1, "prevention_reached": 50, "key_commune_class": "II",
        "drug_free": False, "community_model": True,
    }
    values.update(changes)
    return values


class Place:
    pass


@pytest.fixture
def place(make_unit, make_user):
    """Đắk Lắk (66, 2025 list) with two communes, another province, a reporter and a steward."""
    p = Place()
    p.province = make_unit("province", edition=2025, code="66", name="Tỉnh Đắk Lắk")
    p.commune = make_unit("commune", p.province, code="24001")
    p.commune_2 = make_unit("commune", p.province, code="24002")
    p.other_province = make_unit("province", edition=2025, code="86")
    p.other_commune = make_unit("commune", p.other_province, code="29001")
    p.reporter = make_user("commune_reporter", scope=p.commune)
    p.steward = make_user("data_steward", scope=p.province)
    p.form = get_form(FORM)
    return p


def api(client, user, method, path, **kwargs):
    token = issue_token(user)
    headers = kwargs.pop("headers", {})
    headers["Authorization"] = f"Bearer {token}"
    return getattr(client, method)(path, headers=headers, **kwargs)


# --- periods and deadlines -------------------------------------------------------------------------------

def test_period_codes_dates_editions_and_neighbours():
    q3 = Period.parse("2026Q3")
    assert (q3.start, q3.end, q3.edition) == (date(2026, 7, 1), date(2026, 9, 30), 2025)
    assert Period.parse("2025Q2").edition == 2024 and Period.parse("2025").edition == 2025
    assert Period.parse("2026Q1").previous().code == "2025Q4" and Period.parse("2026S1").previous().code == "2025S2"
    assert Period.parse("2026").next().code == "2027"
    for bad in ("2026Q5", "26Q1", "2026-Q1", "2026S3", ""):
        with pytest.raises(PeriodError):
            Period.parse(bad)


class Province:
    def __init__(self, edition, code):
        self.edition, self.code = edition, code


@pytest.mark.parametrize("province,period,due", [
    # Buôn Ma Thuột (Đắk Lắk): quarter before the 15th of its last month, half-year before 20/05, year before 15/11
    (Province(2025, "66"), "2026Q3", date(2026, 9, 14)),
    (Province(2025, "66"), "2026Q1", date(2026, 3, 14)),
    (Province(2025, "66"), "2026S1", date(2026, 5, 19)),
    (Province(2025, "66"), "2026", date(2026, 11, 14)),
    (Province(2024, "66"), "2025Q2", date(2025, 6, 14)),
    # Vĩnh Long: half-year by 09/06, year by 09/12
    (Province(2025, "86"), "2026S1", date(2026, 6, 9)),
    (Province(2025, "86"), "2026", date(2026, 12, 9)),
    # Bà Rịa – Vũng Tàu: half-year before 10/06, year before 10/12
    (Province(2024, "77"), "2024S1", date(2024, 6, 9)),
    (Province(2024, "77"), "2024", date(2024, 12, 9)),
    # elsewhere the form's default: the 10th of the month after the period
    (Province(2025, "01"), "2026Q3", date(2026, 10, 10)),
    (None, "2026", date(2027, 1, 10)),
    # a province without its own quarter rule falls back to the default for quarters
    (Province(2025, "86"), "2026Q2", date(2026, 7, 10)),
])
def test_deadline_rules_express_each_calendar_of_the_plans(app, province, period, due):
    with app.app_context():
        assert get_form(FORM).due_date(Period.parse(period), province) == due


def test_form_definition_lists_the_public_field_codes(app):
    with app.app_context():
        form = get_form(FORM)
    assert form.field_codes[:3] == ["addicts_with_record", "users_with_record", "treated_total"]
    assert {"key_commune_class", "drug_free", "community_model", "prevention_reached"} <= set(form.field_codes)
    assert form.field("key_commune_class").type == "choice" and form.field("drug_free").type == "boolean"


# --- versions, idempotency, locks -----------------------------------------------------------------------

def test_a_resubmission_is_a_new_version_and_the_old_one_is_kept(place, db):
    period = place.form.parse_period("2026Q3")
    first = submit(place.reporter, place.form, period, place.commune, good_values(), "web")
    second = submit(place.reporter, place.form, period, place.commune, good_values(relapsed=2), "web")
    assert (first.version, second.version) == (1, 2)
    assert not first.is_current and second.is_current and second.supersedes_id == first.id
    assert first.values["relapsed"] == 1 and second.values["relapsed"] == 2
    rows = db.session.scalar(select(func.count()).select_from(Submission)
                             .where(Submission.org_unit_id == place.commune.id))
    assert rows == 2


def test_timeliness_follows_the_provinces_deadline(place, db):
    period = place.form.parse_period("2026Q3")  # due 14/09/2026 in Đắk Lắk
    on_time = submit(place.reporter, place.form, period, place.commune, good_values(), "web",
                     now=datetime(2026, 9, 14, 16, 0, tzinfo=UTC))  # 23:00 in Vietnam
    assert on_time.on_time and on_time.due_date == date(2026, 9, 14)
    late = submit(place.steward, place.form, period, place.commune_2, good_values(), "web",
                  now=datetime(2026, 9, 14, 17, 30, tzinfo=UTC))  # 00:30 on the 15th in Vietnam
    assert not late.on_time


def test_a_locked_period_refuses_submissions(place, db):
    period = place.form.parse_period("2026Q3")
    lock_period(place.steward, FORM, "2026Q3", place.province)
    with pytest.raises(SubmissionError) as error:
        submit(place.reporter, place.form, period, place.commune, good_values(), "web")
    assert error.value.code == "period_locked" and error.value.status == 409
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


# --- API ------------------------------------------------------------------------------------------------

def post_submission(client, user, body, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return api(client, user, "post", "/api/v1/submissions", json=body, headers=headers)


def body(commune="24001", period="2026Q3", **changes):
    return {"form": FORM, "period": period, "org_unit": commune, "values": good_values(**changes)}


def test_api_submission_returns_id_version_status_and_a_second_is_version_two(client, place, db):
    response = post_submission(client, place.reporter, body())
    assert response.status_code == 201, response.json
    assert {"id", "version", "status"} <= set(response.json) and response.json["version"] == 1
    again = post_submission(client, place.reporter, body(relapsed=4))
    assert again.json["version"] == 2
    listing = api(client, place.steward, "get", "/api/v1/submissions?period=2026Q3").json
    assert listing["total"] == 1 and listing["items"][0]["values"]["relapsed"] == 4
    everything = api(client, place.steward, "get", "/api/v1/submissions?period=2026Q3&all_versions=1").json
    assert everything["total"] == 2


def test_api_idempotency_key_stores_one_version(client, place, db):
    first = post_submission(client, place.reporter, body(), key="abc-123")
    second = post_submission(client, place.reporter, body(), key="abc-123")
    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"]
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 1
    conflict = post_submission(client, place.reporter, body(relapsed=9), key="abc-123")
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "idempotency_conflict"


@pytest.mark.parametrize("payload,status,code,field", [
    (body(commune="99999"), 404, "unknown_org_unit", "org_unit"),
    (body(commune="29001"), 403, "out_of_scope", "org_unit"),
    (body(treated_total="mười"), 400, "invalid_values", "treated_total"),
    (body(treated_total=12.5), 400, "invalid_values", "treated_total"),
    (body(treated_total="12,5"), 400, "invalid_values", "treated_total"),
    (body(relapsed=-1), 400, "invalid_values", "relapsed"),
    (body(key_commune_class="IV"), 400, "invalid_values", "key_commune_class"),
    (body(drug_free="maybe"), 400, "invalid_values", "drug_free"),
    (body(unknown_field=3), 400, "invalid_values", "unknown_field"),
    (body(period="2026Q5"), 400, "invalid_period", "period"),
    ({"form": FORM, "period": "2026Q3", "org_unit": "24001"}, 400, "invalid_request", "values"),
])
def test_api_refuses_bad_input_with_a_code_a_vietnamese_message_and_the_field(client, place, db, payload,
                                                                              status, code, field):
    response = post_submission(client, place.steward, payload)
    assert response.status_code == status, response.json
    error = response.json["error"]
    assert error["code"] == code and error["message"]
    assert any(item.get("field") == field for item in error["details"]), error
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_api_missing_required_value_names_the_field(client, place, db):
    payload = body()
    del payload["values"]["completed"]
    response = post_submission(client, place.reporter, payload)
    assert response.status_code == 400
    assert {"field": "completed", "message": "bắt buộc"} in response.json["error"]["details"]


def test_api_reporter_cannot_submit_for_another_commune_of_the_province(client, place, db):
    response = post_submission(client, place.reporter, body(commune="24002"))
    assert response.status_code == 403 and response.json["error"]["code"] == "out_of_scope"


def test_api_locked_period_is_a_conflict(client, place, db):
    lock_period(place.steward, FORM, "2026Q3", place.province)
    response = post_submission(client, place.reporter, body())
    assert response.status_code == 409 and response.json["error"]["code"] == "period_locked"


def test_api_get_is_scoped(client, place, db, make_user):
    created = post_submission(client, place.steward, body()).json
    assert api(client, place.reporter, "get", f"/api/v1/submissions/{created['id']}").status_code == 200
    outsider = make_user("data_steward", scope=place.other_province)
    assert api(client, outsider, "get", f"/api/v1/submissions/{created['id']}").status_code == 404
    assert api(client, outsider, "get", "/api/v1/submissions").json["total"] == 0


def test_api_forms_and_openapi_list_the_submission_routes(client, place, db):
    forms = api(client, place.reporter, "get", "/api/v1/forms").json
    assert forms["items"][0]["code"] == FORM
    assert {f["code"] for f in forms["items"][0]["fields"]} >= {"treated_total", "drug_free"}
    spec = api(client, place.reporter, "get", "/api/v1/openapi.json").json
    assert {"/submissions", "/submissions/upload", "/submissions/{submission_id}", "/forms"} <= set(spec["paths"])
    assert "post" in spec["paths"]["/submissions"] and "get" in spec["paths"]["/submissions"]


def test_api_upload_of_a_bad_csv_lists_rows_and_stores_nothing(client, place, db):
    header = "commune_code,period," + ",".join(place.form.field_codes)
    good = ",".join(["24001", "2026Q3"] + [str(v).lower() for v in good_values().values()])
    bad = ",".join(["24002", "2026Q3"] + [str(v).lower() for v in good_values(relapsed="-3").values()])
    data = (header + "\n" + good + "\n" + bad + "\n").encode()
    response = api(client, place.steward, "post", "/api/v1/submissions/upload",
                   data={"form": FORM, "period": "2026Q3", "file": (__import__("io").BytesIO(data), "xa.csv")})
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_file"
    assert any(d["row"] == 3 and d["column"] == "relapsed" for d in response.json["error"]["details"])
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    fixed = data.replace(b"-3", b"3")
    response = api(client, place.steward, "post", "/api/v1/submissions/upload",
                   data={"form": FORM, "period": "2026Q3", "file": (__import__("io").BytesIO(fixed), "xa.csv")})
    assert response.status_code == 201 and len(response.json["submissions"]) == 2


# --- web form -------------------------------------------------------------------------------------------

def test_reporter_sees_the_previous_period_and_submits_by_web_form(client, login, place, db):
    submit(place.reporter, place.form, place.form.parse_period("2026Q2"), place.commune,
           good_values(addicts_with_record=37), "web")
    login(place.reporter)
    page = client.get("/admin/report/?period=2026Q3")
    assert page.status_code == 200
    assert place.commune.name in page.text and "37" in page.text  # the previous period beside the field
    data = {code: str(value).lower() for code, value in good_values().items()}
    data.update(csrf_token=csrf_token_from(page.text), form=FORM, period="2026Q3", commune="24001")
    response = client.post("/admin/report/?period=2026Q3", data=data)
    assert response.status_code == 302 and "/admin/report/history/" in response.headers["Location"]
    stored = db.session.execute(select(Submission).where(Submission.period == "2026Q3")).scalar_one()
    assert stored.channel == "web" and stored.values["treated_total"] == 20 and stored.values["drug_free"] is False
    history = client.get(response.headers["Location"])
    assert "v1" in history.text


def test_web_form_shows_field_errors_and_stores_nothing(client, login, place, db):
    login(place.reporter)
    page = client.get("/admin/report/?period=2026Q3")
    data = {code: str(value).lower() for code, value in good_values(treated_total="abc").items()}
    data.pop("completed")
    data.update(csrf_token=csrf_token_from(page.text), form=FORM, period="2026Q3", commune="24001")
    response = client.post("/admin/report/?period=2026Q3", data=data)
    assert response.status_code == 200
    assert "«abc»" in response.text and "bắt buộc" in response.text
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_web_form_refuses_a_commune_outside_scope(client, login, place):
    login(place.reporter)
    assert client.get("/admin/report/?period=2026Q3&commune=24002").status_code == 404
    assert client.get("/admin/report/history/?period=2026Q3&commune=24002").status_code == 404


def test_history_shows_who_sent_what_and_what_changed(client, login, place, db):
    period = place.form.parse_period("2026Q3")
    submit(place.reporter, place.form, period, place.commune, good_values(), "web")
    submit(place.steward, place.form, period, place.commune, good_values(relapsed=6), "api")
    login(place.steward)
    page = client.get("/admin/report/history/?period=2026Q3&commune=24001")
    assert place.reporter.username in page.text and place.steward.username in page.text
    assert "1 → <strong>6</strong>" in page.text


def test_template_download_lists_the_communes_in_scope(client, login, place):
    from io import BytesIO

    from openpyxl import load_workbook

    login(place.steward)
    response = client.get("/admin/report/template.xlsx?period=2026Q3")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).worksheets[0]
    codes = {row[0] for row in sheet.iter_rows(min_row=3, values_only=True) if row[0]}
    assert codes == {"24001", "24002"}


def test_web_upload_with_errors_lists_them_and_stores_nothing(client, login, place, db):
    from io import BytesIO

    login(place.steward)
    page = client.get("/admin/report/?period=2026Q3")
    header = "commune_code,period," + ",".join(place.form.field_codes)
    row = ",".join(["24001", "2026Q3"] + [str(v).lower() for v in good_values(treated_total='"12,5"').values()])
    response = client.post("/admin/report/upload", data={
        "csrf_token": csrf_token_from(page.text), "form": FORM, "period": "2026Q3",
        "file": (BytesIO((header + "\n" + row + "\n").encode()), "sai.csv")})
    assert response.status_code == 200
    assert "upload-errors" in response.text and "treated_total" in response.text
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


# --- completeness, reminders, home page -------------------------------------------------------------------

def test_completeness_counts_on_time_late_and_missing(client, login, place, db, make_unit):
    make_unit("commune", place.province, code="24003")
    period = place.form.parse_period("2026Q3")
    submit(place.steward, place.form, period, place.commune, good_values(), "web",
           now=datetime(2026, 9, 1, tzinfo=UTC))
    submit(place.steward, place.form, period, place.commune_2, good_values(), "web",
           now=datetime(2026, 9, 20, tzinfo=UTC))
    login(place.steward)
    page = client.get("/admin/completeness/?period=2026Q3")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert 'id="count-on_time">1 / 3' in text and 'id="count-late">1 / 3' in text
    assert 'id="count-missing">1 / 3' in text
    assert place.other_commune.code not in page.text


def test_national_completeness_sums_per_province_and_pages_the_communes(client, login, place, db, make_unit,
                                                                       make_user, monkeypatch):
    from admin import submissions as view

    monkeypatch.setattr(view, "COMPLETENESS_PAGE", 2)
    period = place.form.parse_period("2026Q3")
    submit(place.steward, place.form, period, place.commune, good_values(), "web", now=datetime(2026, 9, 1, tzinfo=UTC))
    login(make_user("admin"))
    text = " ".join(client.get("/admin/completeness/?period=2026Q3").text.split())
    assert "Theo tỉnh" in text  # two provinces: summed per province, every commune counted
    dak_lak = text.split(place.province.name + "</a>")[1].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in dak_lak.split("</td>")[1:5]] == ["2", "1", "0", "1"]
    assert 'id="count-missing">2 / 3' in text and "Trang 1 / 2 (3 dòng)" in text
    assert text.count('<tr class="status-') == 2
    second = " ".join(client.get("/admin/completeness/?period=2026Q3&page=2").text.split())
    assert second.count('<tr class="status-') == 1 and 'id="page-previous"' in second
    assert client.get("/admin/completeness/?period=2026Q3&page=99").status_code == 200  # clamped to the last


def test_reminder_job_lists_late_communes_and_closes_them_once_reported(place, db):
    remind_late_communes(today=date(2026, 9, 20))  # 2026Q3 due 14/09 in Đắk Lắk, not yet elsewhere
    open_ids = set(db.session.scalars(select(Reminder.org_unit_id).where(Reminder.period == "2026Q3",
                                                                         Reminder.resolved_at.is_(None))))
    assert {place.commune.id, place.commune_2.id} <= open_ids and place.other_commune.id not in open_ids
    submission = submit(place.reporter, place.form, place.form.parse_period("2026Q3"), place.commune, good_values(),
                        "web")
    closed = db.session.execute(select(Reminder).where(Reminder.period == "2026Q3",
                                                       Reminder.org_unit_id == place.commune.id)).scalar_one()
    resolved_at = closed.resolved_at
    assert resolved_at is not None and submission.id  # off the late list with the report, not at the next job
    still_late = db.session.execute(select(Reminder).where(Reminder.period == "2026Q3",
                                                           Reminder.org_unit_id == place.commune_2.id)).scalar_one()
    assert still_late.resolved_at is None
    result = remind_late_communes(today=date(2026, 9, 21))
    assert result == {"created": 0, "resolved": 0}
    db.session.refresh(closed)
    assert closed.resolved_at == resolved_at


def test_reporters_home_page_says_what_is_still_owed(client, login, place):
    login(place.reporter)
    page = client.get("/admin/")
    assert "chưa nộp" in page.text and "report/?form=commune_rehab" in page.text


# --- concurrency ------------------------------------------------------------------------------------------

@pytest.mark.live_server
def test_concurrent_submissions_end_with_one_current_version_and_none_lost(databases):
    from service.units.models import AdminUnit

    app, user_id, commune_id = live_app_with_commune(databases, "concurrent", "dongthoi", "data_steward")
    clients, barrier, errors = 8, threading.Barrier(8), []

    def worker(number):
        with app.app_context():
            try:
                from service.accounts.models import User

                form = get_form(FORM)
                barrier.wait()
                submit(_db.session.get(User, user_id), form, form.parse_period("2026Q3"),
                       _db.session.get(AdminUnit, commune_id), good_values(relapsed=number), "api")
                _db.session.commit()
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                errors.append(repr(exc))
                _db.session.rollback()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        rows = _db.session.scalars(select(Submission).order_by(Submission.version)).all()
        assert errors == []
        assert [row.version for row in rows] == list(range(1, clients + 1))
        assert [row.is_current for row in rows].count(True) == 1 and rows[-1].is_current
        assert sorted(row.values["relapsed"] for row in rows) == list(range(clients))
        _db.engine.dispose()


def test_lists_show_the_forms_title_and_the_statuses_in_words_not_their_codes(client, login, place, db):
    """#16 item 16: `commune_rehab`, `submitted`, `accepted` reached the pages."""
    period = place.form.parse_period("2026Q3")
    submit(place.reporter, place.form, period, place.commune, good_values(), "web")
    remind_late_communes(today=date(2026, 9, 20))
    login(place.steward)
    for url in ("/admin/submissions/", "/admin/reminders/"):
        html = client.get(url).text
        cells = re.findall(r'<td class="col-form_code">\s*(.*?)\s*</td>', html, re.S)
        assert cells and all(cell == place.form.name for cell in cells), (url, cells)
    status_cells = re.findall(r'<td class="col-status">\s*(.*?)\s*</td>', client.get("/admin/submissions/").text,
                              re.S)
    assert status_cells == [] or all(cell in ("đã nhận, chưa kiểm tra", "đã kiểm tra") for cell in status_cells)
    details = client.get(f"/admin/submissions/details/?id={db.session.scalar(select(Submission.id))}").text
    assert "đã nhận, chưa kiểm tra" in details and ">submitted<" not in details
