"""Importing the facility registry from a spreadsheet (administrators, within their scope). The whole file is
checked first; errors are listed by row and column; nothing is written unless the file is clean."""
from io import BytesIO

from flask import flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from admin.base import SecureView, current_scope
from admin.changes import unit_of_work
from service.facilities.imports import FacilityImportError, import_facilities
from service.facilities.imports import template as import_template

TEMPLATE_NAME = "co-so.xlsx"


class FacilityImportView(SecureView):
    access = {"admin": {"list"}}

    @expose("/")
    def index(self):
        return self.render("admin/facilities/import.html", errors=None)

    @expose("/template.xlsx")
    def template(self):
        return send_file(BytesIO(import_template()), as_attachment=True, download_name=TEMPLATE_NAME,
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @expose("/upload", methods=("POST",))
    def upload(self):
        file = request.files.get("file")
        if file is None or not file.filename:
            flash(_("Choose a file to send."), "error")
            return redirect(url_for(".index"))
        with unit_of_work(lambda result: _("Facilities imported: %(created)s new, %(updated)s updated, "
                                           "%(unchanged)s unchanged.", **result), flash_error=False) as work:
            work.result = import_facilities(current_scope(), file.read(), user=current_user, filename=file.filename)
        if isinstance(work.error, FacilityImportError):
            flash(_("The file was not imported: %(count)s error(s). Nothing was stored.", count=len(work.error.errors)),
                  "error")
            return self.render("admin/facilities/import.html", errors=work.error.errors, filename=file.filename)
        if work.error is not None and not isinstance(work.error, StaleDataError):
            flash(getattr(work.error, "message", None) or str(work.error), "error")
        return redirect(url_for(".index"))
