"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis): every operation, with generated parameters
and bodies, answers without a server error and with the shape the document promises (the list shape, the error
shape, a created submission's id / version / status)."""
import traceback

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.accounts.operations import issue_token
from tests.test_submissions import good_values

MAX_EXAMPLES = 40


@pytest.fixture
def fuzz_env(db, make_unit, make_user, make_facility):
    """Đắk Lắk with a commune, a facility, one report and a national administrator's token."""
    from service.forms.registry import get_form
    from service.submissions.operations import submit

    province = make_unit("province", edition=2025, code="66", name="Tỉnh Đắk Lắk")
    commune = make_unit("commune", province, code="24001")
    make_facility(commune, code="CS-66-01")
    steward = make_user("data_steward", scope=province)
    form = get_form("commune_rehab")
    submit(steward, form, form.parse_period("2026Q3"), commune, good_values(), "api")
    admin = make_user("admin")
    db.session.commit()
    return {"Authorization": f"Bearer {issue_token(admin)}"}


def load_schema(app, headers):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)


def test_every_operation_is_in_the_document(app, fuzz_env):
    schema = load_schema(app, fuzz_env)
    operations = {(item.ok().method.upper(), item.ok().path) for item in schema.get_all_operations()}
    assert ("POST", "/submissions") in operations and ("GET", "/submissions/{submission_id}") in operations
    assert len(operations) >= 15


def test_no_operation_answers_a_server_error_or_breaks_its_schema(app, fuzz_env):
    schema = load_schema(app, fuzz_env)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.headers = {**(case.headers or {}), **fuzz_env}
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, not just the first
            where = f"{operation.method.upper()} {operation.path}"
            failures.append(f"{where}: {exc}\n{traceback.format_exc(limit=-6)}"[:6000])
    assert not failures, "\n\n".join(failures)
