"""Likely duplicate people (same name without accents, same date of birth) and merging them."""
from flask import abort, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from admin.base import current_scope
from admin.changes import unit_of_work
from admin.training.common import COORDINATORS
from service.extensions import db
from service.training import operations
from service.training.models import Attendance, StaffMember
from service.training.queries import staff_clause


class DuplicatesMixin:
    """The duplicates pages of the staff view (staff.duplicates, staff.merge)."""

    def can_merge(self):
        return current_user.is_authenticated and current_user.role in COORDINATORS

    def _staff(self, raw):
        return self.get_one(str(raw or ""))

    @expose("/duplicates/")
    def duplicates(self):
        if not self.can_merge():
            abort(403)
        groups = operations.likely_duplicates(select(StaffMember).where(staff_clause(current_scope())))
        ids = [person.id for group in groups for person in group]
        classes = dict(db.session.execute(select(Attendance.staff_id, func.count()).where(
            Attendance.staff_id.in_(ids)).group_by(Attendance.staff_id)).all()) if ids else {}
        return self.render("admin/training/duplicates.html", groups=groups, classes=classes)

    @expose("/duplicates/merge", methods=("POST",))
    def merge(self):
        if not self.can_merge():
            abort(403)
        keep, duplicate = self._staff(request.form.get("keep")), self._staff(request.form.get("duplicate"))
        with unit_of_work(_("%(duplicate)s was merged into %(keep)s: the classes, certificates and qualifications "
                            "now belong to %(keep)s.", duplicate=duplicate.staff_code, keep=keep.staff_code)):
            operations.merge_staff(keep, duplicate)
        return redirect(url_for(".duplicates"))
