"""Writing the audit trail.

Every flush of an audited model (a class with `__audited__ = True`) writes its audit rows in the same
transaction, whatever path made the change: an admin form, an API call, a CLI command or a scheduled job.
Bulk writes that bypass the ORM (unit imports) call `record_bulk` themselves. The edge (request, command, job)
says who is acting with `act_as`.
"""
import contextlib
import datetime
import decimal
import getpass
from dataclasses import dataclass

from flask import g, has_app_context
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from service.audit.models import AuditLog
from service.common.time import utcnow

SECRET = "***"


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    channel: str  # admin, api, web, cli, job, system


def act_as(user_id, name, channel):
    """Declare who is acting for the rest of this app context (called at the edge)."""
    g.audit_actor = Actor(user_id, name, channel)


@contextlib.contextmanager
def acting_as(user_id, name, channel):
    previous = g.get("audit_actor")
    act_as(user_id, name, channel)
    try:
        yield
    finally:
        g.audit_actor = previous


def cli_actor():
    """The operating-system user running a CLI command."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # pragma: no cover - no passwd entry
        return "cli:unknown"


def current_actor():
    if has_app_context() and g.get("audit_actor") is not None:
        return g.audit_actor
    return Actor(None, "system", "system")


def _jsonable(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return value


def _values(attrs, secret):
    return {key: (SECRET if key in secret else _jsonable(value)) for key, value in attrs.items()}


def _row(actor, action, table, row_id, old, new):
    return {
        "at": utcnow(),
        "user_id": actor.user_id,
        "actor": actor.name[:120],
        "channel": actor.channel,
        "action": action,
        "table_name": table,
        "row_id": None if row_id is None else str(row_id),
        "old_values": old,
        "new_values": new,
    }


def _collect(session):
    """Audit rows for the objects of this flush (run in after_flush: ids are known, history still there)."""
    actor = current_actor()
    rows = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        cls = type(obj)
        if not getattr(cls, "__audited__", False):
            continue
        secret = getattr(cls, "__audit_secret__", set())
        ignored = getattr(cls, "__audit_ignore__", set())
        state = inspect(obj)
        mapper = state.mapper
        table = mapper.local_table.name
        columns = [prop.key for prop in mapper.column_attrs if prop.key not in ignored]
        if obj in session.deleted:
            old = {key: state.attrs[key].loaded_value for key in columns}
            rows.append(_row(actor, "delete", table, state.identity and state.identity[0], _values(old, secret), None))
        elif obj in session.new:
            new = {key: state.dict.get(key) for key in columns}
            rows.append(_row(actor, "create", table, new.get("id"), None, _values(new, secret)))
        else:
            old, new = {}, {}
            for key in columns:
                history = state.attrs[key].history
                if history.has_changes() and history.deleted != history.added:
                    old[key] = history.deleted[0] if history.deleted else None
                    new[key] = history.added[0] if history.added else None
            if new:
                rows.append(_row(actor, "update", table, state.identity and state.identity[0],
                                 _values(old, secret), _values(new, secret)))
    return rows


@event.listens_for(Session, "after_flush")
def _audit_after_flush(session, _flush_context):
    rows = _collect(session)
    if rows:
        session.connection().execute(insert(AuditLog.__table__), rows)


def record(action, table, row_id=None, old=None, new=None):
    """An audit row for a change that is not an ORM flush of an audited model (login, import summary)."""
    from service.extensions import db

    db.session.execute(insert(AuditLog.__table__), [_row(current_actor(), action, table, row_id, old, new)])


def record_bulk(action, table, changes):
    """Audit rows for a bulk write: `changes` is a list of (row_id, old_values, new_values)."""
    from service.extensions import db

    actor = current_actor()
    rows = [_row(actor, action, table, row_id, old, new) for row_id, old, new in changes]
    if rows:
        db.session.execute(insert(AuditLog.__table__), rows)
