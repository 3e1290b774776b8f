"""What a request gets when the database fails under it: a clear answer, never a traceback.

- The database is unreachable or dropped the connection (a PostgreSQL restart, a terminated backend, a failover):
  503 with `{"error": {"code": "database_unavailable", …}}` on the API and a Vietnamese page elsewhere, with
  Retry-After. The dead connection is discarded by the pool, and the next checkout is pinged first
  (`pool_pre_ping`), so the service recovers by itself once the database is back: no restart needed.
- Someone else changed the row between our read and our write (SQLAlchemy's StaleDataError from a row version):
  409 `conflict`, nothing written.

Every handler rolls the session back first, so the request ends with nothing half-written, and renders without
touching the database (the language comes from the session or the configuration, not the user row).
"""
import logging

from flask import current_app, jsonify, render_template, request, session
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from service.extensions import db

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def _language():
    language = session.get("language") if session else None
    return language if language in ("vi", "en") else current_app.config.get("LANGUAGE", "vi")


def _rollback():
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: the pool has already discarded it
        log.debug("rollback after a database failure failed", exc_info=True)


def _answer(status, code, title, message):
    if request.path.startswith("/api/"):
        response = jsonify({"error": {"code": code, "message": message, "details": []}})
        response.status_code = status
    else:
        response = current_app.make_response(
            (render_template("error.html", code=status, title=title, message=message), status))
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_connection_failure(exc):
    """An OperationalError (server gone, connection refused or terminated) or any error the driver flagged as a
    lost connection; not a constraint violation or a bad statement (those are the program's bugs)."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _database_error(exc):
    if not is_connection_failure(exc):
        raise exc
    _rollback()
    log.warning("database unavailable during %s %s: %s", request.method, request.path, exc.orig or exc)
    with force_locale("vi" if request.path.startswith("/api/") else _language()):
        return _answer(503, "database_unavailable", _("Database unavailable"),
                       _("The database is not answering at the moment (it may be restarting). Nothing was saved "
                         "from this request; try again in a few seconds."))


def _stale_row(exc):
    _rollback()
    with force_locale("vi" if request.path.startswith("/api/") else _language()):
        return _answer(409, "conflict", _("Changed by someone else"),
                       _("This record was changed by someone else in the meantime; nothing was saved. Reload it "
                         "and make your change again."))


def _has_nul(values):
    return any(isinstance(value, str) and "\x00" in value for value in values)


def refuse_nul_characters():
    """A NUL character in a query string, a form field or a JSON body is refused with a 400: no text the service
    keeps may hold one, and PostgreSQL refuses to compare with it (a 500 otherwise). Uploaded files are binary
    and are not concerned."""
    from flask import abort

    if _has_nul(request.args.keys()) or _has_nul(request.args.values()):
        abort(400)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if _has_nul(request.form.keys()) or _has_nul(request.form.values()):
            abort(400)
    elif request.content_length or request.is_json:
        data = request.get_data(cache=True)
        if b"\x00" in data or (request.is_json and b"\\u0000" in data):
            abort(400)


def register_database_errors(app):
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_characters)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(StaleDataError, _stale_row)
