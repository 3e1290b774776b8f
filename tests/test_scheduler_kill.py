"""Nothing lost when the scheduler is killed mid-run: `kill -9` of the process validating two periods, after the first
period's commit and inside the second's transaction. The second period's half-done work is never visible (it was one
transaction); the run left 'running' by the dead process is marked failed at the next start, never counted as
passed, and the next scheduled run validates what the dead one did not finish."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from service.config import PROJECT_DIR
from service.extensions import db as _db
from tests.conftest import live_app_with_commune
from tests.test_submissions import good_values

pytestmark = pytest.mark.live_server

KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {project!r})
    from tests.conftest import make_app
    from service.scheduler import run_job
    from service.validation import operations

    beats = []
    real_heartbeat = operations.heartbeat

    def heartbeat(run):
        beats.append(run.id)
        if len(beats) == 2:  # the second period is validated but not committed: die here, as kill -9 would
            os.kill(os.getpid(), signal.SIGKILL)
        real_heartbeat(run)

    operations.heartbeat = heartbeat
    run_job(make_app({url!r}), "validate_new")
""")


def test_a_scheduler_killed_mid_run_leaves_no_half_written_run_and_the_next_run_redoes_it(databases):
    from service.accounts.models import User
    from service.forms.registry import get_form
    from service.scheduler import run_job
    from service.submissions.models import Submission
    from service.submissions.operations import submit
    from service.units.models import AdminUnit
    from service.validation.models import RunFailure, RunRuleResult, ValidationRun

    app, user_id, commune_id = live_app_with_commune(databases, "killed_run", "lich_bi_giet", "data_steward")
    with app.app_context():
        form = get_form("commune_rehab")
        user, unit = _db.session.get(User, user_id), _db.session.get(AdminUnit, commune_id)
        for period in ("2026Q2", "2026Q3"):
            submit(user, form, form.parse_period(period), unit, good_values(relapsed=2), "api")
        _db.session.commit()
        _db.engine.dispose()

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    process = subprocess.run([sys.executable, "-c", KILLED_RUN.format(project=str(PROJECT_DIR), url=url)],
                             cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "TEST_DATABASE_URL": url})
    assert process.returncode == -signal.SIGKILL, process.stderr[-3000:]

    with app.app_context():
        [dead] = _db.session.scalars(select(ValidationRun)).all()
        assert (dead.status, dead.periods) == ("running", ["2026Q2", "2026Q3"])
        statuses = dict(_db.session.execute(select(Submission.period, Submission.status)).all())
        # the first period was committed whole; nothing of the second one's transaction is visible
        assert statuses == {"2026Q2": "validated", "2026Q3": "submitted"}
        rules_counted = _db.session.scalars(select(RunRuleResult.evaluated).where(RunRuleResult.run_id == dead.id))
        assert set(rules_counted) == {1}  # one report counted per rule: period 1 only, never half of period 2
        assert dead.reports_checked == 1
        _db.session.remove()

        # the next tick of the scheduler: the dead run is failed (its process is gone), the rest is validated
        run_job(app, "validate_new")
        _db.session.expire_all()
        runs = {run.id: run for run in _db.session.scalars(select(ValidationRun))}
        assert runs[dead.id].status == "failed" and "heartbeat" in runs[dead.id].error
        assert not runs[dead.id].slot or "#failed" in runs[dead.id].slot
        assert all(run.status == "completed" for run_id, run in runs.items() if run_id != dead.id)
        redone = [run for run_id, run in runs.items() if run_id != dead.id and "2026Q3" in run.periods]
        assert redone and redone[0].reports_checked >= 1
        assert set(_db.session.scalars(select(Submission.status))) == {"validated"}
        assert not _db.session.scalars(select(ValidationRun).where(ValidationRun.status == "running")).all()
        # every failure row belongs to a run that finished (the dead run's only to its committed period)
        assert all(row.run_id in runs for row in _db.session.scalars(select(RunFailure)))
        _db.session.remove()
        _db.engine.dispose()
