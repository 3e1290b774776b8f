"""`make audit-deps` (.ci/audit_deps.py): a known vulnerability fails, an unreachable vulnerability service is said
and does not fail (unless DEPS_AUDIT_REQUIRED=1), and every dependency is pinned."""
import importlib.util
import io
import json
import re
import subprocess

from service.config import PROJECT_DIR

spec = importlib.util.spec_from_file_location("audit_deps", PROJECT_DIR / ".ci" / "audit_deps.py")
audit_deps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit_deps)


def fake_run(returncode, stdout="", stderr=""):
    calls = []

    def run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, returncode, stdout, stderr)

    run.calls = calls
    return run


def audit(run, environ=None):
    out = io.StringIO()
    status = audit_deps.main(["--requirements", "constraints.txt", "--pip-audit", "pip-audit"], run=run,
                             environ=environ or {}, out=out)
    return status, out.getvalue()


VULNERABLE = json.dumps({"dependencies": [
    {"name": "flask", "version": "3.1.3", "vulns": []},
    {"name": "werkzeug", "version": "2.0.0", "vulns": [{"id": "PYSEC-2023-58", "fix_versions": ["2.2.3"]}]},
], "fixes": []})
CLEAN = json.dumps({"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []},
                                     {"name": "x-private", "skip_reason": "Dependency not found on PyPI"}]})
NOTHING_ANSWERED = json.dumps({"dependencies": [
    {"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited: flask (3.1.3)"},
    {"name": "werkzeug", "skip_reason": "Dependency not found on PyPI and could not be audited"}]})


def test_a_known_vulnerability_fails_and_names_the_package_and_the_fix():
    run = fake_run(1, VULNERABLE)
    status, output = audit(run)
    assert status == 1
    assert "werkzeug 2.0.0: PYSEC-2023-58 (fixed in 2.2.3)" in output and "flask" not in output.split("FAILED")[1]
    assert run.calls[0][:3] == ["pip-audit", "--requirement", "constraints.txt"] and "--no-deps" in run.calls[0]


def test_a_vulnerability_fails_even_when_offline_runs_are_allowed():
    assert audit(fake_run(1, VULNERABLE), environ={"DEPS_AUDIT_REQUIRED": "0"})[0] == 1


def test_a_clean_audit_passes_and_lists_what_it_could_not_check():
    status, output = audit(fake_run(0, CLEAN))
    assert status == 0 and "no known vulnerabilities" in output and "not audited: x-private" in output


def test_no_answer_for_any_package_is_not_called_clean_and_does_not_fail():
    status, output = audit(fake_run(0, NOTHING_ANSWERED))
    assert status == 0 and "NOT CHECKED" in output and "none of the 2 packages" in output
    assert "no known vulnerabilities" not in output


def test_an_unreachable_service_is_said_and_does_not_fail_unless_required():
    run = fake_run(1, "", "Traceback …\nrequests.exceptions.ConnectionError: Max retries exceeded")
    status, output = audit(run)
    assert status == 0 and "NOT CHECKED" in output and "ConnectionError" in output
    assert audit(run, environ={"DEPS_AUDIT_REQUIRED": "1"})[0] == 1
    assert audit(fake_run(0, NOTHING_ANSWERED), environ={"DEPS_AUDIT_REQUIRED": "true"})[0] == 1


def test_pip_audit_missing_is_said_not_a_crash():
    def missing(args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", args[0])

    status, output = audit(missing)
    assert status == 0 and "could not run" in output


def test_make_test_runs_the_dependency_audit():
    makefile = (PROJECT_DIR / "Makefile").read_text()
    test_target = re.search(r"^test:(.*)$", makefile, re.M).group(1)
    assert "audit-deps" in test_target.split()
    assert ".ci/audit_deps.py" in re.search(r"^audit-deps:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)


def test_every_requirement_is_pinned_and_in_the_constraints():
    pins = {}
    for line in (PROJECT_DIR / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # a comment says why a group of pins is there
        name, _, version = line.partition("==")
        assert version, f"constraints.txt: {line!r} is not pinned"
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    for file in ("requirements.txt", "requirements-dev.txt"):
        for line in (PROJECT_DIR / file).read_text().splitlines():
            line = line.split("#")[0].strip()
            if not line or line.startswith("-r"):
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?==(\S+)", line)
            assert match, f"{file}: {line!r} is not pinned with =="
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            assert pins.get(name) == match.group(3), f"{file}: {name} is not pinned to the same version in constraints"


def test_the_real_pip_audit_accepts_the_wrappers_command_line(tmp_path):
    """The installed pip-audit runs with the wrapper's options: a verdict, never a usage error (exit 2)."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("flask==3.1.3\n")
    pip_audit = PROJECT_DIR / ".venv" / "bin" / "pip-audit"
    done = subprocess.run(audit_deps.command(str(pip_audit), requirements, timeout=5), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    verdict = audit_deps.judge(done.returncode, done.stdout, done.stderr)
    assert verdict.status in ("clean", "unchecked"), verdict
