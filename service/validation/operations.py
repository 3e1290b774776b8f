"""Changes of state for validation: flags following their reports' verdicts, a person's step on a flag, and
the bookkeeping of runs (start in a slot, heartbeat, finish, reap the ones that died)."""
import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from service.common.time import utcnow
from service.extensions import db
from service.validation.models import OPEN_STATUSES, Flag, ValidationRun

STALE_AFTER = timedelta(minutes=10)
STEWARD_ROLES = ("data_steward", "admin")


class FlagError(ValueError):
    pass


def values_hash(observed):
    return hashlib.sha256(json.dumps(observed, sort_keys=True, default=str).encode()).hexdigest()


def _plain(value):
    return value.item() if hasattr(value, "item") else str(value)


def _jsonable(observed):
    return json.loads(json.dumps(observed, default=_plain))


def report_flags(form_code, period_code, org_unit_ids=None):
    query = select(Flag).where(Flag.subject == "report", Flag.form_code == form_code, Flag.period == period_code)
    if org_unit_ids is not None:
        query = query.where(Flag.org_unit_id.in_(org_unit_ids))
    return {(flag.org_unit_id, flag.rule): flag for flag in db.session.scalars(query)}


def apply_verdicts(form_code, period_code, reports, run=None, existing=None):
    """Bring the flags of reports in line with their verdicts.

    `reports` maps submission id → (org unit id, [verdicts]) for every report checked, passing or not. A failing
    rule opens a flag (or updates it); a flag accepted for these very values stays accepted, and one accepted
    or resolved for other values opens again; a rule that now passes resolves its flag. Returns (opened,
    closed)."""
    if existing is None:
        existing = report_flags(form_code, period_code, [unit_id for unit_id, _verdicts in reports.values()])
    by_unit = {}
    for (flag_unit, rule), flag in existing.items():
        by_unit.setdefault(flag_unit, {})[rule] = flag
    opened = closed = 0
    now = utcnow()
    for submission_id, (unit_id, verdicts) in reports.items():
        unit_flags = by_unit.setdefault(unit_id, {})
        failing = {verdict.rule: verdict for verdict in verdicts}
        for rule, verdict in failing.items():
            observed = _jsonable(verdict.observed)
            digest = values_hash(observed)
            flag = unit_flags.get(rule)
            if flag is None:
                flag = Flag(subject="report", submission_id=submission_id, org_unit_id=unit_id, form_code=form_code,
                            period=period_code, rule=rule, severity=verdict.severity, status="open",
                            message_vi=verdict.message_vi, message_en=verdict.message_en, observed=observed,
                            values_hash=digest, opened_at=now, first_run_id=run.id if run else None,
                            last_run_id=run.id if run else None)
                db.session.add(flag)
                existing[(unit_id, rule)] = unit_flags[rule] = flag
                opened += 1
                continue
            changed = flag.values_hash != digest or flag.submission_id != submission_id
            if changed:
                flag.submission_id, flag.observed, flag.values_hash = submission_id, observed, digest
            if (flag.severity, flag.message_vi, flag.message_en) != (verdict.severity, verdict.message_vi,
                                                                    verdict.message_en):
                flag.severity, flag.message_vi, flag.message_en = (verdict.severity, verdict.message_vi,
                                                                   verdict.message_en)
            if run is not None and changed:
                flag.last_run_id = run.id
            reopen = (flag.status == "resolved"
                      or (flag.status == "accepted" and flag.accepted_hash != digest))
            if reopen:
                flag.status, flag.opened_at, flag.resolved_at = "open", now, None
                opened += 1
        for rule, flag in unit_flags.items():
            if rule in failing or flag.status == "resolved":
                continue
            flag.status, flag.resolved_at, flag.submission_id = "resolved", now, submission_id
            if run is not None:
                flag.last_run_id = run.id
            closed += 1
    db.session.flush()
    return opened, closed


@dataclass
class Finding:
    """A check that fails now, for a facility or a person: what becomes (or keeps) a flag."""

    rule: str
    severity: str
    message_vi: str
    message_en: str
    observed: dict = field(default_factory=dict)


def sync_flags(existing, wanted, new_flag):
    """Bring the flags of one subject (facility, staff) in line with the checks that fail now.

    `existing` maps a key to its Flag (any status), `wanted` maps a key to the Finding that fails now,
    `new_flag(key)` returns a new Flag with its subject columns set. A new failure opens a flag; a flag resolved,
    or accepted for other values, opens again; an accepted flag for the same values stays accepted; a flag whose
    check passes now is resolved. Returns (opened, closed)."""
    now = utcnow()
    opened = closed = 0
    for key, finding in wanted.items():
        observed = _jsonable(finding.observed)
        digest = values_hash(observed)
        flag = existing.get(key)
        if flag is None:
            flag = new_flag(key)
            flag.rule, flag.status, flag.opened_at = finding.rule, "open", now
            flag.severity, flag.message_vi, flag.message_en = finding.severity, finding.message_vi, finding.message_en
            flag.observed, flag.values_hash = observed, digest
            db.session.add(flag)
            existing[key] = flag
            opened += 1
            continue
        current = (finding.severity, finding.message_vi, finding.message_en, digest)
        if (flag.severity, flag.message_vi, flag.message_en, flag.values_hash) != current:
            flag.severity, flag.message_vi, flag.message_en, flag.values_hash = current
            flag.observed = observed
        if flag.status == "resolved" or (flag.status == "accepted" and flag.accepted_hash != digest):
            flag.status, flag.opened_at, flag.resolved_at = "open", now, None
            opened += 1
    for key, flag in existing.items():
        if key not in wanted and flag.status != "resolved":
            flag.status, flag.resolved_at = "resolved", now
            closed += 1
    db.session.flush()
    return opened, closed


def _can_touch(user, flag):
    from service.accounts.scope import Scope

    return Scope(user).contains_flag(flag)


def explain_flag(user, flag, explanation):
    """The reporter's (or a steward's) answer to a flag: open → explained."""
    explanation = (explanation or "").strip()
    if not explanation:
        raise FlagError(_("Write an explanation."))
    if not _can_touch(user, flag):
        raise FlagError(_("This flag is outside your scope."))
    if flag.status not in OPEN_STATUSES:
        raise FlagError(_("Only an open flag can be explained."))
    flag.status, flag.explanation, flag.explained_by_id, flag.explained_at = "explained", explanation, user.id, utcnow()
    db.session.flush()


def _check_not_locked(flag):
    """A report flag of an approved (locked) period cannot be accepted or reopened: that would move the report
    into or out of the approved figures."""
    if flag.subject != "report":
        return
    from service.submissions.operations import lock_for

    if lock_for(flag.form_code, flag.period, flag.org_unit) is not None:
        raise FlagError(_("The period is approved and locked: its flags can change only after the level above "
                          "reopens it."))


def accept_flag(user, flag, reason):
    """A steward accepts the observed values with a justification: not raised again for the same values."""
    reason = (reason or "").strip()
    if user.role not in STEWARD_ROLES:
        raise FlagError(_("Only a data steward can accept a flag."))
    if not reason:
        raise FlagError(_("Write the justification for accepting."))
    if not _can_touch(user, flag):
        raise FlagError(_("This flag is outside your scope."))
    if flag.status not in OPEN_STATUSES:
        raise FlagError(_("Only an open flag can be accepted."))
    _check_not_locked(flag)
    flag.status, flag.accepted_reason, flag.accepted_hash = "accepted", reason, flag.values_hash
    flag.accepted_by_id, flag.accepted_at = user.id, utcnow()
    db.session.flush()


def reopen_flag(user, flag):
    """A steward takes back an acceptance."""
    if user.role not in STEWARD_ROLES or not _can_touch(user, flag):
        raise FlagError(_("Only a data steward can reopen a flag."))
    if flag.status != "accepted":
        raise FlagError(_("Only an accepted flag can be reopened."))
    _check_not_locked(flag)
    flag.status, flag.accepted_hash, flag.opened_at = "open", None, utcnow()
    db.session.flush()


# --- runs ------------------------------------------------------------------------------------------------

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
