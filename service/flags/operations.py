"""Changes of state of flags, the only place that writes them.

One lifecycle for every subject (report, facility, staff, province): `sync_flags` brings a subject's flags in line
with the checks that fail now (raise, keep, resolve, keep an acceptance for the same values, raise again for other
values); `apply_verdicts` is its use for commune reports. A person's steps: `explain_flag`, `accept_flag`,
`reopen_flag`. Operations flush, never commit.
"""
import hashlib
import json
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from service.accounts.scope import Scope
from service.approval.queries import lock_for
from service.common.errors import DomainError
from service.common.time import utcnow
from service.extensions import db
from service.flags.models import OPEN_STATUSES, Flag

STEWARD_ROLES = ("data_steward", "admin")


class FlagError(DomainError):
    pass


def values_hash(observed):
    return hashlib.sha256(json.dumps(observed, sort_keys=True, default=str).encode()).hexdigest()


def _plain(value):
    return value.item() if hasattr(value, "item") else str(value)


def _jsonable(observed):
    return json.loads(json.dumps(observed, default=_plain))


@dataclass
class Finding:
    """A check that fails now, on any subject: what becomes (or keeps) a flag. `links` are columns of the flag that
    follow the finding (a report's flag follows the version that was checked: `{"submission_id": …}`)."""

    rule: str
    severity: str
    message_vi: str
    message_en: str
    observed: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)


def sync_flags(existing, wanted, subject_of, run=None, resolved_links=None):
    """Bring the flags of the subjects checked in line with the checks that fail now: the lifecycle engine.

    `existing` maps a key to its Flag (any status) for the subjects checked, `wanted` maps a key to the Finding
    that fails now, `subject_of(key)` gives the subject columns of a new flag (`{"subject": "facility", …}`).
    A new failure opens a flag; a flag resolved, or accepted for other values, opens again; an accepted flag for
    the same values stays accepted; a flag whose check passes now is resolved (and takes `resolved_links(key)`).
    With a validation `run`, new flags record it as their first run, and flags whose values, links or status
    changed as their last. New flags are added to `existing`. Returns (opened, closed)."""
    now = utcnow()
    run_id = run.id if run is not None else None
    opened = closed = 0
    for key, finding in wanted.items():
        observed = _jsonable(finding.observed)
        digest = values_hash(observed)
        flag = existing.get(key)
        if flag is None:
            flag = Flag(**subject_of(key))
            flag.rule, flag.status, flag.opened_at = finding.rule, "open", now
            flag.severity, flag.message_vi, flag.message_en = finding.severity, finding.message_vi, finding.message_en
            flag.observed, flag.values_hash = observed, digest
            for column, value in finding.links.items():
                setattr(flag, column, value)
            if run_id is not None:
                flag.first_run_id = flag.last_run_id = run_id
            db.session.add(flag)
            existing[key] = flag
            opened += 1
            continue
        changed = flag.values_hash != digest or any(getattr(flag, column) != value
                                                    for column, value in finding.links.items())
        if changed:
            flag.observed, flag.values_hash = observed, digest
            for column, value in finding.links.items():
                setattr(flag, column, value)
        wording = (finding.severity, finding.message_vi, finding.message_en)
        if (flag.severity, flag.message_vi, flag.message_en) != wording:
            flag.severity, flag.message_vi, flag.message_en = wording
        reopened = flag.status == "resolved" or (flag.status == "accepted" and flag.accepted_hash != digest)
        if reopened:
            flag.status, flag.opened_at, flag.resolved_at = "open", now, None
            opened += 1
        if run_id is not None and (changed or reopened):
            flag.last_run_id = run_id
    for key, flag in existing.items():
        if key in wanted or flag.status == "resolved":
            continue
        flag.status, flag.resolved_at = "resolved", now
        for column, value in (resolved_links(key) if resolved_links else {}).items():
            setattr(flag, column, value)
        if run_id is not None:
            flag.last_run_id = run_id
        closed += 1
    db.session.flush()
    return opened, closed


def report_flags(form_code, period_code, org_unit_ids=None):
    """{(commune id, rule): Flag} of a period's reports (of these communes), any status: what `apply_verdicts`
    brings in line."""
    query = select(Flag).where(Flag.subject == "report", Flag.form_code == form_code, Flag.period == period_code)
    if org_unit_ids is not None:
        query = query.where(Flag.org_unit_id.in_(org_unit_ids))
    return {(flag.org_unit_id, flag.rule): flag for flag in db.session.scalars(query)}


def apply_verdicts(form_code, period_code, reports, run=None, existing=None):
    """Bring the flags of reports in line with their verdicts (`sync_flags` on the reports checked).

    `reports` maps submission id → (org unit id, [verdicts]) for every report checked, passing or not; `existing`
    is `report_flags(...)` of the period when the caller has it (new flags are added to it). A failing rule opens
    a flag on the commune's report (or updates it to the version checked); a rule that now passes resolves its
    flag. Returns (opened, closed)."""
    if existing is None:
        existing = report_flags(form_code, period_code, [unit_id for unit_id, _verdicts in reports.values()])
    submission_of = {unit_id: submission_id for submission_id, (unit_id, _verdicts) in reports.items()}
    checked = {key: flag for key, flag in existing.items() if key[0] in submission_of}
    wanted = {}
    for submission_id, (unit_id, verdicts) in reports.items():
        for verdict in verdicts:
            wanted[(unit_id, verdict.rule)] = Finding(verdict.rule, verdict.severity, verdict.message_vi,
                                                      verdict.message_en, verdict.observed,
                                                      {"submission_id": submission_id})

    def subject_of(key):
        return {"subject": "report", "org_unit_id": key[0], "form_code": form_code, "period": period_code}

    opened, closed = sync_flags(checked, wanted, subject_of, run=run,
                                resolved_links=lambda key: {"submission_id": submission_of[key[0]]})
    existing.update(checked)
    return opened, closed


# --- a person's steps -------------------------------------------------------------------------------------


def _can_touch(user, flag):
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
