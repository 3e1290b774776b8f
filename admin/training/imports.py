"""Importing training records from a spreadsheet: the roster, certificates earned elsewhere, and a class's
attendance sheet. The whole file is checked first; errors are listed by row and column; nothing is written
unless the file is clean."""
from io import BytesIO

from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from sqlalchemy import select

from admin.base import SecureView, current_scope
from admin.changes import unit_of_work
from service.common.errors import DomainError
from service.extensions import db
from service.training.imports import KINDS, TrainingImportError, import_attendance, import_certificates, import_staff
from service.training.imports import template as import_template
from service.training.models import TrainingClass

EDITORS = {"admin": {"list"}, "training_coordinator": {"list"}}


class TrainingImportView(SecureView):
    access = EDITORS

    def _classes(self):
        scope = current_scope()
        return db.session.scalars(select(TrainingClass).where(scope.units_column_clause(TrainingClass.org_unit_id))
                                  .order_by(TrainingClass.starts_on.desc()).limit(200)).all()

    @expose("/")
    def index(self):
        return self.render("admin/training/import.html", classes=self._classes(), errors=None, kind=None)

    @expose("/template/<kind>.xlsx")
    def template(self, kind):
        if kind not in KINDS:
            abort(404)
        return send_file(BytesIO(import_template(kind)), as_attachment=True, download_name=f"{kind}.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @expose("/upload/<kind>", methods=("POST",))
    def upload(self, kind):
        if kind not in KINDS:
            abort(404)
        file = request.files.get("file")
        if file is None or not file.filename:
            flash(_("Choose a file to send."), "error")
            return redirect(url_for(".index"))
        scope = current_scope()
        # the import's own refusal (rows and columns) is shown on the page; a stale row is flashed by unit_of_work
        with unit_of_work(flash_error=False) as work:
            if kind == "staff":
                result = import_staff(scope, file.read(), file.filename)
                work.result = _("Roster imported: %(created)s new, %(updated)s updated.", **result)
            elif kind == "certificates":
                result = import_certificates(scope, file.read(), file.filename)
                work.result = _("%(count)s certificate(s) recorded.", count=result["certificates"])
            else:
                class_id = request.form.get("class_id", "")
                training_class = db.session.get(TrainingClass, int(class_id)) if class_id.isdigit() else None
                if training_class is None or not scope.contains_unit(training_class.org_unit):
                    abort(404)
                result = import_attendance(scope, training_class, file.read(), file.filename)
                work.result = _("Attendance of %(rows)s people saved; %(certificates)s certificate(s) issued.",
                                **result)
        if work.ok:
            flash(work.result, "success")
            return redirect(url_for(".index"))
        errors = getattr(work.error, "errors", [])
        if isinstance(work.error, TrainingImportError):
            flash(_("The file was not imported: %(count)s error(s). Nothing was stored.", count=len(errors)), "error")
        elif isinstance(work.error, DomainError):
            flash(work.error.message, "error")
        return self.render("admin/training/import.html", classes=self._classes(), errors=errors, kind=kind,
                           filename=file.filename)
