"""Submitting commune reports: one code path for the web form, a spreadsheet upload and the API.

Every submission is a new version; the previous one stops being current in the same transaction. A partial
unique index allows one current version per commune, form and period, so concurrent submissions cannot both
win: the loser retries and becomes the next version. Nothing is submitted into a locked (approved) period.
"""
import hashlib

from flask_babel import gettext as _
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from service.accounts.scope import Scope
from service.approval.operations import hold_approval_key
from service.approval.queries import lock_for
from service.audit.operations import record
from service.common.errors import DomainError
from service.common.time import VIETNAM, utcnow
from service.extensions import db
from service.forms.periods import PeriodError
from service.submissions.checks import check_submission, check_values
from service.submissions.models import Reminder, Submission, Upload
from service.units.queries import unit_by_code

SUBMITTING_ROLES = ("commune_reporter", "data_steward", "admin")
MAX_ATTEMPTS = 6


class SubmissionError(DomainError):
    """A refused submission: `code` for machines, `message` in Vietnamese, `details` per field or row."""

    def __init__(self, code, message, details=None, status=400):
        super().__init__(message, details, code=code, status=status)


def local_date(moment):
    return moment.astimezone(VIETNAM).date()


def resolve_period(form, period_code):
    try:
        return form.parse_period(period_code)
    except PeriodError as exc:
        raise SubmissionError("invalid_period", str(exc), [{"field": "period", "value": period_code}]) from None


def resolve_commune(user, period, code):
    """The commune with `code` in the period's edition, in the user's scope, or a SubmissionError."""
    unit = unit_by_code(code, period.edition)
    if unit is None:
        raise SubmissionError("unknown_org_unit", _("No commune with code %(code)s in the %(edition)s unit list "
                                                    "(the list in force for %(period)s).", code=code,
                                                    edition=period.edition, period=period.code),
                              [{"field": "org_unit", "value": code}], status=404)
    check_commune(user, unit)
    return unit


def check_commune(user, unit):
    if unit.level != "commune":
        raise SubmissionError("not_a_commune", _("%(name)s is not a commune; reports are sent per commune.",
                                                 name=unit.name), [{"field": "org_unit", "value": unit.code}])
    if not Scope(user).contains_unit(unit):
        raise SubmissionError("out_of_scope", _("Commune %(code)s is outside your scope.", code=unit.code),
                              [{"field": "org_unit", "value": unit.code}], status=403)


def province_of(unit):
    return unit.province if unit.province_id else unit


def _idempotent_replay(user, key, form, period, unit, values):
    if not key:
        return None
    existing = db.session.execute(
        select(Submission).where(Submission.submitted_by_id == user.id, Submission.idempotency_key == key)
    ).scalar_one_or_none()
    if existing is None:
        return None
    if (existing.form_code, existing.period, existing.org_unit_id, existing.values) != (form.code, period.code,
                                                                                      unit.id, values):
        raise SubmissionError("idempotency_conflict", _("This Idempotency-Key was already used for a different "
                                                        "report."), status=409)
    return existing


def open_for_submission(form, period, unit):
    """Hold the approval key of the unit's province shared until commit, then return the lock that closes the
    period for the unit, or None. Checked while the key is held, so no approval slips in before the commit."""
    hold_approval_key(form.code, period.code, unit, shared=True)
    return lock_for(form.code, period.code, unit)


def submit(user, form, period, unit, raw_values, channel, idempotency_key=None, upload=None, now=None,
           checked=False):
    """Store a new version of the commune's report and return it (or, for a repeated Idempotency-Key, the
    version stored the first time). Raises SubmissionError when the report is refused.

    `checked=True`: the caller has checked the row already, as an upload does (`imports.import_table`):
    `raw_values` are the values `form.clean` returned, `unit` is a commune of the period's edition in the user's
    scope (`resolve_commune`), and `open_for_submission` found no lock. Only the role, the idempotency, the new
    version and the instant check are left."""
    if user.role not in SUBMITTING_ROLES:
        raise SubmissionError("forbidden", _("Your role cannot submit reports."), status=403)
    if checked:
        values = raw_values
    else:
        values = _checked_values(user, form, period, unit, raw_values)
    replay = _idempotent_replay(user, idempotency_key, form, period, unit, values)
    if replay is not None:
        replay.verdicts = check_values(form, period, unit, replay.values)
        return replay
    if not checked and open_for_submission(form, period, unit) is not None:
        raise SubmissionError("period_locked", _("Period %(period)s is approved and locked for %(name)s; only the "
                                                 "level above can reopen it.", period=period.code,
                                                 name=unit.name), status=409)
    now = now or utcnow()
    due = form.due_date(period, province_of(unit))
    for _attempt in range(MAX_ATTEMPTS):
        savepoint = db.session.begin_nested()
        try:
            submission = _store_version(user, form, period, unit, values, channel, idempotency_key, upload, now, due)
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            replay = _idempotent_replay(user, idempotency_key, form, period, unit, values)
            if replay is not None:
                return replay
            continue
        submission.verdicts = check_submission(form, period, unit, submission)
        return submission
    raise SubmissionError("conflict", _("The report was being changed by someone else; send it again."), status=409)


def _checked_values(user, form, period, unit, raw_values):
    """The typed values of a report for a commune in the user's scope on the period's edition, or a
    SubmissionError."""
    check_commune(user, unit)
    if unit.edition != period.edition:
        raise SubmissionError("wrong_edition", _("Period %(period)s is reported on the %(edition)s unit list.",
                                                 period=period.code, edition=period.edition))
    values, errors = form.clean(raw_values)
    if errors:
        raise SubmissionError("invalid_values", _("Some values are missing or wrong."),
                              [{"field": code, "message": message} for code, message in errors.items()])
    return values


def _serialise(form_code, period_code, unit_id):
    """PostgreSQL: one writer at a time per commune, form and period (a transaction-scoped advisory lock), so
    concurrent versions queue instead of racing on the unique indexes. SQLite already serialises writers."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"submission|{form_code}|{period_code}|{unit_id}".encode()).digest()
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                       {"key": int.from_bytes(digest[:8], "big", signed=True)})


def _store_version(user, form, period, unit, values, channel, idempotency_key, upload, now, due):
    _serialise(form.code, period.code, unit.id)
    key = (Submission.form_code == form.code, Submission.period == period.code, Submission.org_unit_id == unit.id)
    current = db.session.execute(
        select(Submission).where(*key, Submission.is_current.is_(True)).with_for_update()
    ).scalar_one_or_none()
    last_version = db.session.scalar(select(func.max(Submission.version)).where(*key)) or 0
    if current is not None:
        current.is_current = False
        db.session.flush()
    submission = Submission(
        form_code=form.code, form_version=form.version, period=period.code, period_type=period.kind,
        org_unit=unit, version=last_version + 1, is_current=True, values=values, submitted_at=now,
        submitted_by=user, channel=channel, due_date=due, on_time=local_date(now) <= due,
        idempotency_key=idempotency_key, upload=upload, supersedes=current,
    )
    db.session.add(submission)
    for reminder in db.session.scalars(select(Reminder).where(
            Reminder.form_code == form.code, Reminder.period == period.code, Reminder.org_unit_id == unit.id,
            Reminder.resolved_at.is_(None))):
        reminder.resolved_at = now  # the commune is no longer late: off the late list at once, not at the next job
    db.session.flush()
    return submission


def changes(submission):
    """Fields whose value differs from the version this one superseded: {code: (old, new)}."""
    previous = submission.supersedes.values if submission.supersedes else {}
    codes = set(previous) | set(submission.values)
    return {code: (previous.get(code), submission.values.get(code)) for code in sorted(codes)
            if previous.get(code) != submission.values.get(code)}


# --- what a validation run changes on the reports it judged -----------------------------------------------

LOCK_CHUNK = 5000




def lock_still_current(submission_ids):
    """Lock the reports among `submission_ids` that are still current, in id order, and return their ids.

    A submission locks its commune's current version first and the commune's flags after it; the run takes its
    locks in the same order (all the reports, then the flags), so the two never wait on each other in a circle.
    A version superseded after the run read it drops out here: its flags were already set by the submission that
    replaced it, and it is not marked validated."""
    ids, still = sorted(submission_ids), []
    for start in range(0, len(ids), LOCK_CHUNK):
        still += db.session.scalars(
            select(Submission.id).where(Submission.id.in_(ids[start:start + LOCK_CHUNK]),
                                        Submission.is_current.is_(True))
            .order_by(Submission.id).with_for_update()).all()
    return still


def mark_validated(submission_ids, run_id, form_code, period_code):
    """Mark the reports a run judged (and locked with `lock_still_current`) validated; returns their ids. A bulk
    UPDATE bypasses the flush listener, so one audit row names the reports it changed."""
    validated = []
    for start in range(0, len(submission_ids), LOCK_CHUNK):
        validated += db.session.scalars(update(Submission).where(
            Submission.id.in_(submission_ids[start:start + LOCK_CHUNK]), Submission.status == "submitted"
        ).values(status="validated").returning(Submission.id)).all()
    if validated:
        record("update", "submission", None, old={"status": "submitted"},
               new={"status": "validated", "run_id": run_id, "form": form_code, "period": period_code,
                    "submission_ids": sorted(validated)})
    return validated


def record_upload(user, form, period, filename, data, status, rows=0, errors=None, idempotency_key=None):
    upload = Upload(form_code=form.code, period=period.code if period else "", filename=(filename or "")[:255],
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data), status=status, rows=rows,
                    errors=errors or [], uploaded_by=user, idempotency_key=idempotency_key)
    db.session.add(upload)
    db.session.flush()
    return upload
