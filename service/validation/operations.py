"""Changes of state for validation runs: start in a slot, heartbeat, finish, reap the ones that died. (The flags
they raise are written by `service.flags.operations`.)"""
import os
import socket
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service.common.time import utcnow
from service.extensions import db
from service.validation.models import ValidationRun

STALE_AFTER = timedelta(minutes=10)


def owner_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def _died_here(run):
    """Whether the run's owner is a process of this machine that no longer exists (killed mid-run)."""
    host, _sep, pid = (run.owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def reap_stale_runs(now=None, stale_after=STALE_AFTER):
    """Runs whose process died mid-run are marked failed and their slot is freed so that the slot is run again;
    they never count as passed. A run is dead when its heartbeat stopped, or at once when its owner was a process
    of this machine that is gone (killed). Returns how many were reaped."""
    now = now or utcnow()
    running = db.session.scalars(select(ValidationRun).where(ValidationRun.status == "running")).all()
    stale = [run for run in running if _aware(run.heartbeat_at, now) < now - stale_after or _died_here(run)]
    for run in stale:
        db.session.execute(update(ValidationRun).where(ValidationRun.id == run.id, ValidationRun.status == "running")
                           .values(status="failed", finished_at=now, error="stopped without finishing (heartbeat lost)",
                                   slot=f"{run.slot}#failed-{run.id}" if run.slot else None))
    db.session.flush()
    return len(stale)


def _aware(moment, now):
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def start_run(trigger, form_code, periods, slot=None, suite_hashes=None):
    """Insert a running run; None when the slot is taken (another scheduler has it, or had it)."""
    run = ValidationRun(slot=slot, trigger=trigger, form_code=form_code, periods=list(periods), status="running",
                        suite_hashes=suite_hashes or {}, owner=owner_name())
    savepoint = db.session.begin_nested()
    db.session.add(run)
    try:
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return run


def heartbeat(run):
    run.heartbeat_at = utcnow()
    db.session.flush()


def finish_run(run, status="completed", error=None):
    run.status, run.error = status, error
    run.finished_at = utcnow()
    started = run.started_at if run.started_at.tzinfo else run.started_at.replace(tzinfo=run.finished_at.tzinfo)
    run.duration_s = round((run.finished_at - started).total_seconds(), 3)
    db.session.flush()
