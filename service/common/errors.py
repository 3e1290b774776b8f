"""The domain's refusals, and what a request gets when the database fails under it: a clear answer, never a
traceback.

- `DomainError`: the base of every refusal a domain area raises (a report out of scope, a file with bad rows, a
  period already approved…): a Vietnamese `message`, `details` (one dict per field or row: `row`, `column`,
  `field`, `message`), an HTTP `status` and a machine `code`. Each edge translates it in one place: the API and
  the web pages here (`register_database_errors`), the admin in `admin.changes.unit_of_work`, the CLI in
  `cli_transaction`. Subclasses only name their default `code` / `status` and, where useful, their constructor.

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
from contextlib import contextmanager

from flask import current_app, jsonify, render_template, request, session
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from service.extensions import db

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class DomainError(ValueError):
    """A refusal by the domain: nothing of the change may be kept (the edge rolls back)."""

    code = "bad_request"
    status = 400

    def __init__(self, message="", details=None, *, code=None, status=None):
        super().__init__(message)
        self.message = str(message)
        self.details = list(details or [])
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def errors(self):
        """The row/field lines (the imports' word for `details`)."""
        return self.details


def detail_lines(details):
    """Each row/field line as text: "Dòng 3, cột period: …" (row and column left out when unknown)."""
    lines = []
    for item in details:
        row, column, message = item.get("row"), item.get("column") or item.get("field"), item.get("message", "")
        if row is not None and column:
            lines.append(_("Row %(row)s, column %(column)s: %(message)s", row=row, column=column,
                                   message=message))
        elif row is not None:
            lines.append(_("Row %(row)s: %(message)s", row=row, message=message))
        elif column:
            lines.append(_("Column %(column)s: %(message)s", column=column, message=message))
        else:
            lines.append(message)
    return lines


@contextmanager
def cli_transaction(failure=None):
    """The CLI's edge: the block's changes committed together, or, on a DomainError, rolled back, its lines
    printed to stderr and the command failed with its message (or `failure`, a text or a function of the error);
    any other error rolls back too."""
    import click

    try:
        yield
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        for line in detail_lines(exc.details):
            click.echo(line, err=True)
        message = failure(exc) if callable(failure) else failure
        raise click.ClickException(message or exc.message) from None
    except BaseException:
        db.session.rollback()
        raise


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


def _domain_error(exc):
    """A refusal that no edge caught on its way out: its status and message, nothing kept."""
    _rollback()
    with force_locale("vi" if request.path.startswith("/api/") else _language()):
        if request.path.startswith("/api/"):
            response = jsonify({"error": {"code": exc.code, "message": exc.message, "details": exc.details}})
            response.status_code = exc.status
            return response
        return _answer(exc.status, exc.code, _("Not done"), exc.message)


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
    app.register_error_handler(DomainError, _domain_error)
