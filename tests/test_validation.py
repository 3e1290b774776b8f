"""Validation: each rule on hand-made reports, parity between Great Expectations and the instant evaluator,
the flag lifecycle, runs and their slots, interrupted runs, two schedulers, the aggregation gate, the API and
the pages that stewards and reporters use."""
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from service.config import PROJECT_DIR
from service.extensions import db as _db
from service.flags import operations
from service.flags.models import Flag
from service.forms.registry import get_form
from service.rules.derive import ReportContext
from service.rules.evaluator import evaluate
from service.rules.suites import rules_for, suites_for
from service.submissions.models import Submission
from service.submissions.operations import submit
from service.submissions.queries import clean_current_submissions
from service.validation.models import RunFailure, RunRuleResult, ValidationRun
from tests.conftest import PASSWORD, csrf_token_from, live_app_with_commune
from tests.test_submissions import FORM, Place, good_values

# --- the suites themselves ------------------------------------------------------------------------------


def test_every_expectation_carries_a_rule_a_severity_and_two_messages(app):
    kinds = {suite.kind for suite in suites_for(FORM)}
    assert kinds == {"completeness", "consistency", "reference", "over_time", "external"}
    rules = rules_for(FORM)
    assert len({rule.rule for rule in rules}) == len(rules)
    for rule in rules:
        assert rule.severity in ("error", "warning") and rule.message_vi and rule.message_en
    warnings = {r.rule for r in rules if r.severity == "warning"}
    assert {rule.rule for rule in rules if rule.kind == "over_time"} <= warnings


def test_the_suite_files_load_in_great_expectations(app):
    import great_expectations as gx

    for suite in suites_for(FORM):
        loaded = gx.ExpectationSuite(**{k: suite.document[k] for k in ("name", "expectations", "meta")})
        assert [e.meta["rule"] for e in loaded.expectations] == [rule.rule for rule in suite.rules]


# --- each rule on hand-made reports ---------------------------------------------------------------------

def context(submission_id=1, values=None, history=None, **changes):
    base = dict(submission_id=submission_id, period="2026Q3", previous_period="2026Q2",
                values=values if values is not None else good_values(), unit_level="commune", unit_edition=2025,
                period_edition=2025, current_versions=1, history=history or [], province_has_facility=True)
    base.update(changes)
    return ReportContext(**base)


def history_of(field, values, periods=("2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1",
                                       "2026Q2")):
    return [(period, good_values(**{field: value})) for period, value in zip(periods[-len(values):], values,
                                                                             strict=True)]


FAILING = {
    "K01": dict(values={k: v for k, v in good_values().items() if k != "completed"}),
    "K02": dict(values=good_values(relapsed=-1)),
    "K03": dict(values=good_values(key_commune_class="IV")),
    "C01": dict(values=good_values(treated_total=45, treated_community=30)),
    "C02": dict(values=good_values(treated_community=6)),
    "C03": dict(values=good_values(post_rehab_managed=11, vocational_supported=5)),
    "C04": dict(values=good_values(employed_after_rehab=10)),
    "C05": dict(values=good_values(relapsed=11)),
    "C06": dict(values=good_values(vocational_supported=10)),
    "C07": dict(values=good_values(counselled_screened=101)),
    "C08": dict(values=good_values(drug_free=True)),
    "R01": dict(unit_level="district"),
    "R02": dict(current_versions=2),
    "T01": dict(history=[("2026Q2", good_values(addicts_with_record=10))]),
    "T02": dict(history=[("2026Q2", good_values(users_with_record=20))]),
    "T03": dict(history=[("2026Q2", good_values(treated_total=5, treated_community=0, treated_compulsory=2,
                                                treated_voluntary_facility=2, treated_substitution=1))]),
    "T04": dict(history=history_of("addicts_with_record", [10, 11, 12, 11, 10, 12])),
    "T05": dict(history=history_of("users_with_record", [20, 21, 19, 20, 22])),
    "T06": dict(history=history_of("treated_total", [8, 9, 8, 10, 9], )),
    "E01": dict(province_has_facility=False),
}


def test_a_good_report_passes_every_rule(app):
    with app.app_context():
        assert evaluate(get_form(FORM), context()) == []


@pytest.mark.parametrize("rule_id", sorted(FAILING))
def test_each_rule_fails_on_its_own_inconsistency_in_the_evaluator_and_in_great_expectations(app, rule_id):
    from service.validation.runner import validate_contexts

    with app.app_context():
        form = get_form(FORM)
        bad = context(2, **FAILING[rule_id])
        good = context(1)
        assert rule_id in {v.rule for v in evaluate(form, bad)}
        batch = validate_contexts(form, [good, bad])
        assert rule_id in {v.rule for v in batch.failures.get(2, [])}
        assert 1 not in batch.failures


def test_mod_z_uses_median_and_mad_and_needs_history(app):
    from service.rules.derive import mod_z

    spec = {"field": "addicts_with_record", "min_history": 4}
    ctx = context(values=good_values(addicts_with_record=40),
                  history=history_of("addicts_with_record", [10, 12, 14, 16]))
    # median 13, MAD 2 → 0.6745 * 27 / 2 = 9.1058
    row = {}
    mod_z(ctx, spec, "z", row)
    assert row == {"z": 9.1058}
    short = context(history=history_of("addicts_with_record", [10, 12, 14]))
    mod_z(short, spec, "z", row)
    assert row == {"z": None}


# --- parity between the evaluator and Great Expectations ------------------------------------------------

small = st.integers(min_value=0, max_value=30)
FIELDS = [f for f in good_values() if isinstance(good_values()[f], int) and not isinstance(good_values()[f], bool)]
report_values = st.fixed_dictionaries({
    **{code: small for code in FIELDS},
    "key_commune_class": st.sampled_from(["none", "I", "II", "III"]),
    "drug_free": st.booleans(),
    "community_model": st.booleans(),
})
history_strategy = st.lists(report_values, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(reports=st.lists(st.tuples(report_values, history_strategy, st.booleans(), st.booleans()), min_size=1,
                        max_size=12))
def test_the_instant_evaluator_and_great_expectations_give_identical_verdicts(app, reports):
    from service.validation.runner import validate_contexts

    periods = ["2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    with app.app_context():
        form = get_form(FORM)
        contexts = [context(index + 1, values=values,
                            history=list(zip(periods[len(periods) - len(history):], history, strict=True)),
                            province_has_facility=facility, unit_level="commune" if commune else "district")
                    for index, (values, history, facility, commune) in enumerate(reports)]
        by_evaluator = {(c.submission_id, v.rule) for c in contexts for v in evaluate(form, c)}
        batch = validate_contexts(form, contexts)
        by_gx = {(sid, v.rule) for sid, verdicts in batch.failures.items() for v in verdicts}
        assert by_evaluator == by_gx


# --- flags through submissions --------------------------------------------------------------------------

@pytest.fixture
def place(make_unit, make_user, make_facility):
    p = Place()
    p.province = make_unit("province", edition=2025, code="66", name="Tỉnh Đắk Lắk")
    p.commune = make_unit("commune", p.province, code="24001")
    make_facility(p.province)  # a registered facility: treatment at a facility is plausible here (rule E01)
    p.other_province = make_unit("province", edition=2025, code="86")
    p.other_commune = make_unit("commune", p.other_province, code="29001")
    p.reporter = make_user("commune_reporter", scope=p.commune)
    p.steward = make_user("data_steward", scope=p.province)
    p.form = get_form(FORM)
    p.period = p.form.parse_period("2026Q3")
    return p


def flag_of(rule, unit):
    return _db.session.execute(select(Flag).where(Flag.rule == rule, Flag.org_unit_id == unit.id)).scalar_one_or_none()


INCONSISTENT = good_values(treated_total=45, treated_community=30)  # C01: more treated than addicts


def test_an_inconsistent_report_is_stored_and_flagged_at_once(place, db):
    submission = submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    assert submission.id and {v.rule for v in submission.verdicts} == {"C01"}
    flag = flag_of("C01", place.commune)
    assert flag.status == "open" and flag.severity == "error" and flag.submission_id == submission.id
    assert flag.observed == {"addicts_with_record": 40, "treated_total": 45}


def test_flag_lifecycle_explained_then_resolved_by_a_passing_version(place, db):
    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    flag = flag_of("C01", place.commune)
    operations.explain_flag(place.reporter, flag, "Nhập nhầm số người điều trị; sẽ sửa.")
    assert flag.status == "explained"
    submit(place.reporter, place.form, place.period, place.commune, good_values(), "web")
    assert flag.status == "resolved" and flag.resolved_at is not None
    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    assert flag.status == "open"


def test_an_accepted_flag_stays_quiet_for_the_same_values_and_reappears_when_they_change(place, db):
    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    flag = flag_of("C01", place.commune)
    with pytest.raises(operations.FlagError):
        operations.accept_flag(place.reporter, flag, "tôi đồng ý")  # a reporter cannot accept
    with pytest.raises(operations.FlagError):
        operations.accept_flag(place.steward, flag, "  ")  # a justification is required
    operations.accept_flag(place.steward, flag, "Xã nhận người điều trị từ xã khác chuyển đến.")
    assert flag.status == "accepted"
    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "api")  # same values again
    assert flag.status == "accepted"
    changed = dict(INCONSISTENT, treated_total=47, treated_community=32)
    submit(place.reporter, place.form, place.period, place.commune, changed, "api")
    assert flag.status == "open" and flag.observed["treated_total"] == 47


def test_every_step_of_a_flag_is_audited(place, db):
    from service.audit.models import AuditLog

    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    flag = flag_of("C01", place.commune)
    operations.explain_flag(place.reporter, flag, "giải trình")
    operations.accept_flag(place.steward, flag, "chấp nhận")
    operations.reopen_flag(place.steward, flag)
    _db.session.flush()
    steps = [row.new_values.get("status") for row in _db.session.scalars(
        select(AuditLog).where(AuditLog.table_name == "flag", AuditLog.row_id == str(flag.id))
        .order_by(AuditLog.id)) if row.new_values]
    assert steps == ["open", "explained", "accepted", "open"]


def test_the_gate_holds_back_reports_with_an_open_error_flag_only(place, db, make_unit):
    second = make_unit("commune", place.province, code="24002")
    submit(place.steward, place.form, place.period, place.commune, INCONSISTENT, "web")
    submit(place.steward, place.form, place.period, second, good_values(drug_free=True), "web")  # warning only
    clean = {s.org_unit_id for s in _db.session.scalars(clean_current_submissions(FORM, "2026Q3"))}
    assert clean == {second.id}
    operations.accept_flag(place.steward, flag_of("C01", place.commune), "đã xác minh")
    clean = {s.org_unit_id for s in _db.session.scalars(clean_current_submissions(FORM, "2026Q3"))}
    assert clean == {second.id, place.commune.id}


# --- runs -----------------------------------------------------------------------------------------------

def test_a_run_validates_the_period_keeps_every_failure_and_marks_reports_validated(place, db, make_unit):
    from service.validation.runner import run_validation

    communes = [make_unit("commune", place.province) for _ in range(5)]
    for index, unit in enumerate(communes):
        values = INCONSISTENT if index % 2 == 0 else good_values()
        submit(place.steward, place.form, place.period, unit, values, "api")
    run = run_validation(place.form, [place.period], "manual", data_docs=True)
    assert run.status == "completed" and run.reports_checked == 5 and run.reports_failing == 3
    failing = set(_db.session.scalars(select(RunFailure.org_unit_id).where(RunFailure.run_id == run.id)))
    assert failing == {communes[0].id, communes[2].id, communes[4].id}
    c01 = _db.session.execute(select(RunRuleResult).where(RunRuleResult.run_id == run.id,
                                                          RunRuleResult.rule == "C01")).scalar_one()
    assert (c01.evaluated, c01.failed) == (5, 3)
    statuses = set(_db.session.scalars(select(Submission.status).where(Submission.period == "2026Q3")))
    assert statuses == {"validated"}
    assert run.suite_hashes and all(len(h) == 64 for h in run.suite_hashes.values())
    assert run.data_docs


def test_a_version_superseded_while_the_run_validates_is_left_to_its_successor(place, db, monkeypatch):
    from service.validation import runner

    old = submit(place.steward, place.form, place.period, place.commune, INCONSISTENT, "api")
    validate = runner.validate_contexts

    def submit_meanwhile(form, contexts):
        batch = validate(form, contexts)  # the run has read and judged the old version...
        submit(place.steward, place.form, place.period, place.commune, good_values(), "api")  # ...now replaced
        return batch

    monkeypatch.setattr(runner, "validate_contexts", submit_meanwhile)
    run = runner.run_validation(place.form, [place.period], "manual", data_docs=False)
    assert run.status == "completed" and run.reports_checked == 0 and run.reports_failing == 0
    assert flag_of("C01", place.commune).status == "resolved"  # the new version's verdict stands
    statuses = dict(_db.session.execute(select(Submission.id, Submission.status)
                                        .where(Submission.period == "2026Q3")).all())
    assert statuses[old.id] == "submitted" and sorted(statuses.values()) == ["submitted", "submitted"]
    assert not _db.session.scalars(select(RunFailure).where(RunFailure.run_id == run.id)).all()


def test_a_slot_runs_once(place, db):
    from service.validation.runner import run_validation

    submit(place.steward, place.form, place.period, place.commune, good_values(), "api")
    first = run_validation(place.form, [place.period], "schedule", slot="validate_new:1:commune_rehab",
                           data_docs=False)
    assert first is not None
    assert run_validation(place.form, [place.period], "schedule", slot="validate_new:1:commune_rehab",
                          data_docs=False) is None


def test_a_run_that_breaks_is_marked_failed_never_completed(place, db, monkeypatch):
    from service.validation import runner

    submit(place.steward, place.form, place.period, place.commune, good_values(), "api")

    def explode(*args, **kwargs):
        raise RuntimeError("mất điện")

    monkeypatch.setattr(runner, "validate_contexts", explode)
    with pytest.raises(RuntimeError):
        runner.run_validation(place.form, [place.period], "manual", data_docs=False)
    run = _db.session.scalars(select(ValidationRun).order_by(ValidationRun.id.desc())).first()
    assert run.status == "failed" and "mất điện" in run.error


def test_a_run_that_died_is_reaped_and_its_nightly_slot_redone(place, db):
    from service.validation.jobs import nightly_done, validate_new

    submit(place.steward, place.form, place.period, place.commune, good_values(), "api")
    day = datetime(2026, 11, 22, 1, 40, tzinfo=timezone(timedelta(hours=7)))
    dead = ValidationRun(slot=f"nightly:{day.date().isoformat()}:{FORM}", trigger="nightly", form_code=FORM,
                         periods=["2026Q3"], status="running",
                         heartbeat_at=datetime(2026, 11, 21, 18, 0, tzinfo=UTC),
                         started_at=datetime(2026, 11, 21, 18, 0, tzinfo=UTC))
    _db.session.add(dead)
    _db.session.flush()
    assert nightly_done(day.date())
    validate_new(now=day.astimezone(UTC))
    _db.session.refresh(dead)
    assert dead.status == "failed" and dead.slot.endswith(f"#failed-{dead.id}")
    redone = _db.session.execute(select(ValidationRun).where(
        ValidationRun.slot == f"nightly:{day.date().isoformat()}:{FORM}")).scalar_one()
    assert redone.status == "completed" and redone.trigger == "catch_up" and redone.id != dead.id


@pytest.mark.live_server
def test_two_schedulers_never_run_the_same_slot_twice(databases):
    from service.accounts.models import User
    from service.units.models import AdminUnit
    from service.validation.jobs import validate_new

    app, user_id, commune_id = live_app_with_commune(databases, "schedulers", "lich", "admin")
    with app.app_context():
        form = get_form(FORM)
        submit(_db.session.get(User, user_id), form, form.parse_period("2026Q3"),
               _db.session.get(AdminUnit, commune_id), good_values(), "api")
        _db.session.commit()
    moment = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam: the nightly slot is due too
    barrier, errors = threading.Barrier(2), []

    def scheduler():
        with app.app_context():
            try:
                barrier.wait()
                validate_new(now=moment)
                _db.session.commit()
            except Exception as exc:  # pragma: no cover - reported by the assertion
                errors.append(repr(exc))
                _db.session.rollback()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        slots = _db.session.scalars(select(ValidationRun.slot)).all()
        assert errors == []
        assert len(slots) == len(set(slots)) == 2  # one validate_new slot and one nightly slot, each once
        assert _db.session.scalar(select(func.count()).select_from(ValidationRun).where(
            ValidationRun.status != "completed")) == 0
        _db.engine.dispose()


@pytest.mark.live_server
@pytest.mark.only_postgresql
def test_a_submission_during_a_run_neither_deadlocks_nor_is_lost(databases, monkeypatch):
    """The order that deadlocked under load: the submission holds the old version's row and is about to update
    the commune's flags while the run, having judged the old version, goes on to its flags and statuses."""
    from service.accounts.models import User
    from service.submissions import operations as entry  # submit calls its check_submission
    from service.units.models import AdminUnit
    from service.validation import runner

    app, user_id, commune_id = live_app_with_commune(databases, "runrace", "dua", "admin")
    form, period = get_form(FORM), get_form(FORM).parse_period("2026Q3")
    with app.app_context():
        submit(_db.session.get(User, user_id), form, period, _db.session.get(AdminUnit, commune_id), INCONSISTENT,
               "api")
        # the rule was reworded since the flag opened: the run has the flag to update, so it locks it
        _db.session.execute(update(Flag).where(Flag.rule == "C01").values(message_vi="Lời cũ"))
        _db.session.commit()
    row_held, errors = threading.Event(), []
    validate, check = runner.validate_contexts, entry.check_submission

    def judged_then_wait(form_, contexts):
        batch = validate(form_, contexts)
        row_held.wait(10)
        return batch

    def check_later(*args):
        row_held.set()  # the old version is locked by this transaction; let the run go on into its locks
        time.sleep(1.5)  # longer than PostgreSQL's deadlock_timeout
        return check(*args)

    monkeypatch.setattr(runner, "validate_contexts", judged_then_wait)
    monkeypatch.setattr(entry, "check_submission", check_later)

    def in_app(work):
        def body():
            with app.app_context():
                try:
                    work()
                    _db.session.commit()
                except Exception as exc:  # pragma: no cover - reported by the assertion
                    errors.append(repr(exc))
                    _db.session.rollback()
        return threading.Thread(target=body)

    threads = [in_app(lambda: runner.run_validation(form, [period], "manual", data_docs=False)),
               in_app(lambda: submit(_db.session.get(User, user_id), form, period,
                                     _db.session.get(AdminUnit, commune_id), good_values(), "api"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with app.app_context():
        assert errors == []
        versions = _db.session.execute(select(Submission.version, Submission.is_current, Submission.status)
                                       .order_by(Submission.version)).all()
        assert versions == [(1, False, "submitted"), (2, True, "submitted")]
        assert _db.session.scalar(select(Flag.status).where(Flag.rule == "C01")) == "resolved"
        _db.engine.dispose()


# --- API and pages --------------------------------------------------------------------------------------

def test_api_flags_are_scoped_and_runs_are_for_stewards(client, place, db, make_user):
    from service.accounts.operations import issue_token

    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    headers = {"Authorization": f"Bearer {issue_token(place.reporter)}"}
    body = client.get("/api/v1/flags?status=open&severity=error", headers=headers).json
    assert body["total"] == 1 and body["items"][0]["rule"] == "C01"
    assert {"id", "submission_id", "rule", "severity", "status"} <= set(body["items"][0])
    outsider = make_user("data_steward", scope=place.other_province)
    other = {"Authorization": f"Bearer {issue_token(outsider)}"}
    assert client.get("/api/v1/flags", headers=other).json["total"] == 0
    assert client.get("/api/v1/validation-runs", headers=headers).status_code == 403
    assert client.get("/api/v1/validation-runs", headers=other).status_code == 200


def test_api_submission_returns_its_verdicts(client, place, db):
    from service.accounts.operations import issue_token

    response = client.post("/api/v1/submissions", headers={"Authorization": f"Bearer {issue_token(place.reporter)}"},
                           json={"form": FORM, "period": "2026Q3", "org_unit": "24001", "values": INCONSISTENT})
    assert response.status_code == 201
    assert [v["rule"] for v in response.json["verdicts"]] == ["C01"]
    assert "điều trị" in response.json["verdicts"][0]["message"]


def test_the_check_button_shows_verdicts_without_storing(client, login, place, db):
    login(place.reporter)
    page = client.get("/admin/report/?period=2026Q3")
    data = {code: str(value).lower() for code, value in INCONSISTENT.items()}
    data.update(csrf_token=csrf_token_from(page.text), form=FORM, period="2026Q3", commune="24001", action="check")
    response = client.post("/admin/report/?period=2026Q3", data=data)
    assert response.status_code == 200 and 'id="verdicts"' in response.text and "C01" in response.text
    assert _db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_reporter_explains_and_steward_accepts_on_the_flag_page(client, login, place, db, app):
    submit(place.reporter, place.form, place.period, place.commune, INCONSISTENT, "web")
    flag = flag_of("C01", place.commune)
    login(place.reporter)
    home = client.get("/admin/")
    assert f"/admin/flags/details/?id={flag.id}" in home.text
    page = client.get(f"/admin/flags/details/?id={flag.id}")
    assert "accept-form" not in page.text
    client.post(f"/admin/flags/explain/{flag.id}", data={"csrf_token": csrf_token_from(page.text),
                                                         "explanation": "Số liệu đúng, có người chuyển đến."})
    assert flag.status == "explained"
    forbidden = client.post(f"/admin/flags/accept/{flag.id}", data={"csrf_token": csrf_token_from(page.text),
                                                                    "reason": "x"})
    assert forbidden.status_code == 302 and flag.status == "explained"
    other = app.test_client()
    login_page = other.get("/admin/login/")
    other.post("/admin/login/", data={"username": place.steward.username, "password": PASSWORD,
                                      "csrf_token": csrf_token_from(login_page.text)})
    page = other.get(f"/admin/flags/details/?id={flag.id}")
    other.post(f"/admin/flags/accept/{flag.id}", data={"csrf_token": csrf_token_from(page.text),
                                                       "reason": "Đã xác minh với xã."})
    assert flag.status == "accepted" and flag.accepted_by_id == place.steward.id


def test_flag_pages_are_scoped(client, login, place, db, make_user):
    outsider_commune_flag = Flag(subject="report", org_unit_id=place.other_commune.id, form_code=FORM,
                                 period="2026Q3", rule="C01", severity="error", status="open", message_vi="x",
                                 message_en="x", observed={}, values_hash="0" * 64)
    _db.session.add(outsider_commune_flag)
    _db.session.flush()
    login(place.steward)
    assert client.get(f"/admin/flags/details/?id={outsider_commune_flag.id}").status_code == 404
    page = client.get("/admin/flags/")
    response = client.post(f"/admin/flags/accept/{outsider_commune_flag.id}",
                           data={"csrf_token": csrf_token_from(page.text), "reason": "x"})
    assert response.status_code == 404 and outsider_commune_flag.status == "open"


def test_run_report_and_data_docs_are_served_without_any_cdn(client, login, place, db):
    from service.validation.runner import run_validation

    submit(place.steward, place.form, place.period, place.commune, INCONSISTENT, "api")
    run = run_validation(place.form, [place.period], "manual", data_docs=True)
    login(place.steward)
    report = client.get(f"/admin/validation_runs/report/{run.id}")
    assert report.status_code == 200 and "C01" in report.text and place.commune.name in report.text
    docs = client.get(f"/admin/validation_runs/docs/{run.id}/2026Q3")
    assert docs.status_code == 200 and "commune_rehab.all" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert "script-src" not in docs.headers["Content-Security-Policy"]  # no script may run there


def test_the_web_process_never_imports_great_expectations():
    code = (
        "import sys\n"
        "from tests.conftest import make_app, migrate\n"
        "import tempfile, os\n"
        "d = tempfile.mkdtemp()\n"
        "app = make_app('sqlite:///' + os.path.join(d, 'x.db'))\n"
        "migrate(app)\n"
        "c = app.test_client()\n"
        "c.get('/admin/login/'); c.get('/api/v1/forms')\n"
        "import service.submissions.checks, service.rules.evaluator\n"
        "print('great_expectations' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_observed_values_are_named_for_a_reader(app):
    from admin.validation import _observed

    flag = Flag(form_code=FORM, observed={"addicts_with_record": 300, "addicts_with_record_previous": 46,
                                          "addicts_with_record_jump": 1, "modalities_sum": 12})
    with app.test_request_context("/admin/"):
        html = str(_observed(flag))
    assert "Số người nghiện ma túy có hồ sơ quản lý — kỳ trước: <strong>46</strong>" in html
    assert "tổng các hình thức: <strong>12</strong>" in html and "_jump" not in html
