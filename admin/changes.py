"""Changes of state made from an admin page: each runs in one `unit_of_work` (the area's operation, one commit;
on a domain refusal, service.common.errors.DomainError, or a row someone else saved in between, a rollback and
the message flashed, nothing kept)."""
from flask import flash
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError
from wtforms.validators import ValidationError

from service.common.errors import DomainError
from service.extensions import db


def edit_conflict_message():
    return _("This record was changed by someone else after you opened it; nothing was saved. Reload the page to "
             "see their changes, then make yours again.")


class unit_of_work:  # noqa: N801 - used as a statement: `with unit_of_work(...) as work:`
    """The changes made in the block committed together; a refusal rolls them back and flashes its message.

        with unit_of_work(_("Saved.")) as work:
            operations.change(...)
        if work.ok:
            return redirect(...)

    On a DomainError (or a form's ValidationError) the error is kept in `work.error` and its message flashed; on
    a row someone else saved in between (StaleDataError) the conflict message; any other exception is rolled
    back and raised. `success` is flashed after the commit (a text, or a function of the block's `work.result`).
    """

    def __init__(self, success=None, flash_error=True):
        self.success, self.flash_error = success, flash_error
        self.ok, self.error, self.result = False, None, None

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if kind is None:
            try:
                db.session.commit()
            except StaleDataError as stale:
                return self.__exit__(StaleDataError, stale, None)
            self.ok = True
            message = self.success(self.result) if callable(self.success) else self.success
            if message:
                flash(message, "success")
            return False
        db.session.rollback()
        if issubclass(kind, StaleDataError):
            self.error = exc
            flash(edit_conflict_message(), "error")
            return True
        if issubclass(kind, (DomainError, ValidationError)):
            self.error = exc
            if self.flash_error:
                flash(getattr(exc, "message", None) or str(exc), "error")
            return True
        return False
