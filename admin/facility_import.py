"""Importing the facility registry from a spreadsheet (administrators, within their scope). The whole file is
checked first; errors are listed by row and column; nothing is written unless the file is clean."""
from io import BytesIO

from flask import flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from admin.base import SecureView, current_scope
from service.extensions import db
from service.facilities.imports import FacilityImportError, import_facilities
from service.facilities.imports import template as import_template

TEMPLATE_NAME = "co-so.xlsx"


class FacilityImportView(SecureView):
    access = {"admin": {"list"}}

    @expose("/")
    def index(self):
        return self.render("admin/facility_import.html", errors=None)

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
        try:
            result = import_facilities(current_scope(), file.read(), user=current_user, filename=file.filename)
            db.session.commit()
        except FacilityImportError as exc:
            db.session.rollback()
            flash(_("The file was not imported: %(count)s error(s). Nothing was stored.", count=len(exc.errors)),
                  "error")
            return self.render("admin/facility_import.html", errors=exc.errors, filename=file.filename)
        flash(_("Facilities imported: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.", **result),
              "success")
        return redirect(url_for(".index"))
