"""A class's attendance: registering people, marking them (certificates follow), and the class roster to print."""
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from sqlalchemy import case, false, select
from sqlalchemy.orm import joinedload

from admin.base import current_scope
from admin.changes import unit_of_work
from admin.training.common import localized
from service.extensions import db
from service.training import operations, queries
from service.training.models import ATTENDANCE, TOPICS, Attendance, Certificate, RoleCategory, StaffMember
from service.training.queries import listed_staff_clause
from service.units.models import AdminUnit

CANDIDATE_LIMIT = 300


@dataclass
class Candidates:
    people: list
    truncated: bool
    role: str
    unit_code: str
    untrained: bool
    unit: object


class AttendanceMixin:
    """The attendance pages of the class view (classes.attendance, attendance_add, attendance_save, roster)."""

    def can_register(self):
        return "edit" in self.rights()

    def _class(self, class_id):
        return self.get_one(str(class_id))

    # attendance ------------------------------------------------------------------------------------------
    def _candidates(self, training_class, args):
        """Active staff in the user's scope, not yet in the class, filtered by role, unit and training."""
        scope = current_scope()
        filtered = bool(args.get("filtered"))
        role, unit_code = (args.get("role") or "").strip(), (args.get("unit") or "").strip()
        untrained = bool(args.get("untrained")) if filtered else True
        query = select(StaffMember).where(
            listed_staff_clause(scope), StaffMember.employment_status == "active",
            StaffMember.id.not_in(select(Attendance.staff_id).where(Attendance.class_id == training_class.id)))
        if role:
            query = query.where(StaffMember.role_category_id.in_(select(RoleCategory.id).where(
                RoleCategory.code == role)))
        unit = None
        if unit_code:
            edition = training_class.org_unit.edition if training_class.org_unit else None
            unit = db.session.scalars(select(AdminUnit).where(
                AdminUnit.code == unit_code, scope.unit_clause(AdminUnit)).order_by(
                case((AdminUnit.edition == edition, 0), else_=1), AdminUnit.edition.desc())).first()
            if unit is None:
                flash(_("No unit with code %(code)s in your scope.", code=unit_code), "warning")
                query = query.where(false())
            else:
                query = query.where(queries.in_unit(unit))
        if untrained:
            query = query.where(~queries.meets("trained", training_class.course.topic, training_class.ends_on))
        people = db.session.scalars(query.options(joinedload(StaffMember.org_unit),
                                                  joinedload(StaffMember.role_category))
                                    .order_by(StaffMember.search_name, StaffMember.id)
                                    .limit(CANDIDATE_LIMIT + 1)).all()
        return Candidates(people[:CANDIDATE_LIMIT], len(people) > CANDIDATE_LIMIT, role, unit_code, untrained, unit)

    def _attendees(self, training_class):
        return db.session.scalars(select(Attendance).join(StaffMember, StaffMember.id == Attendance.staff_id)
                                  .where(Attendance.class_id == training_class.id)
                                  .options(joinedload(Attendance.staff).joinedload(StaffMember.org_unit),
                                           joinedload(Attendance.staff).joinedload(StaffMember.role_category))
                                  .order_by(StaffMember.search_name, StaffMember.id)).all()

    def _certificates(self, training_class):
        issued = {}
        for certificate in db.session.scalars(select(Certificate).where(Certificate.class_id == training_class.id)
                                              .order_by(Certificate.id)):
            issued.setdefault(certificate.staff_id, []).append(certificate)
        return issued

    @expose("/attendance/<int:class_id>")
    def attendance(self, class_id):
        self.require("details")
        training_class = self._class(class_id)
        candidates = self._candidates(training_class, request.args) if self.can_register() else None
        course = training_class.course
        codes = [code for code in (course.target_roles or "").split(",") if code]
        roles = db.session.scalars(select(RoleCategory).order_by(RoleCategory.id)).all()
        target_roles = [localized(item) for item in roles if item.code in codes]
        return self.render("admin/training/attendance.html", training_class=training_class, course=course,
                           attendees=self._attendees(training_class), issued=self._certificates(training_class),
                           candidates=candidates, statuses=ATTENDANCE, topics=TOPICS,
                           roles=roles, target_roles=target_roles, can_register=self.can_register())

    @expose("/attendance/<int:class_id>/add", methods=("POST",))
    def attendance_add(self, class_id):
        self.require("edit")
        training_class = self._class(class_id)
        back = url_for(".attendance", class_id=training_class.id, filtered=1, role=request.form.get("role") or None,
                       unit=request.form.get("unit") or None, untrained=request.form.get("untrained") or None)
        ids = {int(value) for value in request.form.getlist("staff") if value.isdigit()}
        if not ids:
            flash(_("Tick the people to register."), "warning")
            return redirect(back)
        people = db.session.scalars(select(StaffMember).where(
            StaffMember.id.in_(ids), listed_staff_clause(current_scope()),
            StaffMember.employment_status == "active").order_by(StaffMember.id)).all()
        if len(people) != len(ids):
            abort(404)
        with unit_of_work(lambda added: _("%(count)s person(s) registered in the class.", count=added)) as work:
            work.result = operations.add_attendees(training_class, people)
        return redirect(back)

    @expose("/attendance/<int:class_id>/save", methods=("POST",))
    def attendance_save(self, class_id):
        self.require("edit")
        training_class = self._class(class_id)
        changes, errors = [], []
        for attendance in training_class.attendances:
            status = request.form.get(f"status-{attendance.id}")
            if status is None:
                continue
            try:
                pre = _score(request.form.get(f"pre-{attendance.id}"))
                post = _score(request.form.get(f"post-{attendance.id}"))
            except ValueError:
                errors.append(attendance.staff.full_name)
                continue
            changes.append((attendance, status, pre, post))
        if errors:
            flash(_("A score must be a number from 0 to 100: %(names)s. Nothing was saved.",
                    names=", ".join(errors)), "error")
            return redirect(url_for(".attendance", class_id=training_class.id))
        before = len(self._certificates(training_class))
        with unit_of_work() as work:
            for attendance, status, pre, post in changes:
                operations.set_attendance(attendance, status, pre, post)
            work.result = sum(len(items) for items in self._certificates(training_class).values()) - before
        if not work.ok:
            return redirect(url_for(".attendance", class_id=training_class.id))
        flash(_("Attendance saved."), "success")
        if work.result:
            flash(_("%(count)s certificate(s) issued.", count=work.result), "success")
        return redirect(url_for(".attendance", class_id=training_class.id))

    @expose("/roster/<int:class_id>")
    def roster(self, class_id):
        self.require("details")
        training_class = self._class(class_id)
        return self.render("admin/training/roster.html", training_class=training_class,
                           course=training_class.course, attendees=self._attendees(training_class),
                           issued=self._certificates(training_class), statuses=ATTENDANCE, topics=TOPICS)


def _score(raw):
    raw = (raw or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = Decimal(raw)
        if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
            raise ValueError(raw)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    return value.quantize(Decimal("0.01"))
