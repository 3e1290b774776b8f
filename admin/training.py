"""Training records in the admin: the staff roster (duplicates, transcripts), qualifications, the reference data of
roles and qualifications, courses, classes (attendance, roster), certificates (issue, revoke), the plans' targets and
their attainment.

Scope: staff are in scope through their org unit (a facility manager: through their facility); qualifications and
certificates through their staff member; classes through the class's unit; targets through their scope unit.
"""
import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.babel import lazy_gettext as admin_lazy_gettext
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, DateBetweenFilter, FilterEqual, IntEqualFilter
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import joinedload, selectinload
from wtforms import StringField
from wtforms.validators import NumberRange, Optional, ValidationError

from admin.base import ALL_RIGHTS, READ, ScopedAjaxLoader, ScopedModelView, SecureView, current_scope
from admin.formats import day_formatter, day_text, language, percent_text, requested_day
from service.accounts.scope import Scope
from service.common.export import neutralise
from service.common.text import fold
from service.common.time import format_local, local_today
from service.extensions import db
from service.facilities.models import Facility
from service.training import operations, queries
from service.training.models import (
    ATTENDANCE,
    EMPLOYMENT,
    METRICS,
    SEXES,
    TOPICS,
    Attendance,
    Certificate,
    Course,
    Qualification,
    QualificationType,
    RoleCategory,
    StaffMember,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)
from service.training.operations import TrainingError
from service.training.queries import (
    ALL_PROVINCES,
    AttainmentRow,
    attainment_rows,
    certificate_clause,
    class_clause,
    expiring_count,
    listed_staff_clause,
    qualification_clause,
    select_attainment,
    staff_clause,
    target_clause,
    visible_targets,
)
from service.units.models import AdminUnit

EDIT = READ | {"create", "edit"}
# Who may merge duplicate people, revoke certificates and register attendance.
COORDINATORS = ("admin", "training_coordinator")
CANDIDATE_LIMIT = 300
EXPIRY_WINDOWS = (30, 7)


# --- scope -------------------------------------------------------------------------------------------------

def unit_choice_clause(scope):
    return scope.unit_clause(AdminUnit)


def everything(scope):
    return true()


# --- small helpers -----------------------------------------------------------------------------------------


def localized(item):
    """The name of a role category or a qualification type in the interface language."""
    if item is None:
        return ""
    return item.name_en if language() == "en" else item.name_vi


def lower_first(text):
    text = str(text)
    return text[:1].lower() + text[1:]







class LazyOptions:
    """Filter options read from the database on each page (Flask-Admin builds its filters once, at start)."""

    def __init__(self, load):
        self.load = load

    def __iter__(self):
        return iter(self.load())

    def __bool__(self):
        return True


def _role_options():
    return [(str(role.id), localized(role)) for role in db.session.scalars(select(RoleCategory).order_by(
        RoleCategory.id))]


def _course_options():
    return [(str(course.id), str(course)) for course in db.session.scalars(select(Course).order_by(Course.code))]


def _qualification_type_options():
    return [(str(item.id), localized(item)) for item in db.session.scalars(select(QualificationType).order_by(
        QualificationType.id))]


def _units_with_code(code):
    """The ids of the units with this code and of every unit under them (both editions)."""
    parents = select(AdminUnit.id).where(AdminUnit.code == code)
    return select(AdminUnit.id).where(or_(AdminUnit.code == code, AdminUnit.province_id.in_(parents),
                                          AdminUnit.district_id.in_(parents)))


class UnitCodeFilter(BaseSQLAFilter):
    """The org unit's code: a province or district code takes in every unit under it."""

    def __init__(self, column, name):
        super().__init__(column, name)

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias).in_(_units_with_code(value.strip())))

    def operation(self):
        return admin_lazy_gettext("equals")


class StaffUnitCodeFilter(BaseSQLAFilter):
    """The unit code of the staff member a row belongs to (a qualification, a certificate)."""

    def __init__(self, column, name):
        super().__init__(column, name)

    def apply(self, query, value, alias=None):
        staff = select(StaffMember.id).where(StaffMember.org_unit_id.in_(_units_with_code(value.strip())))
        return query.filter(self.get_column(alias).in_(staff))

    def operation(self):
        return admin_lazy_gettext("equals")


class StaffStatusFilter(BaseSQLAFilter):
    """Whether the staff member a row belongs to is still working (and not a merged duplicate)."""

    def __init__(self, column, name):
        super().__init__(column, name, options=list(EMPLOYMENT.items()))

    def apply(self, query, value, alias=None):
        if value == "active":
            staff = select(StaffMember.id).where(StaffMember.employment_status == "active",
                                                 StaffMember.merged_into_id.is_(None))
        else:
            staff = select(StaffMember.id).where(StaffMember.employment_status != "active")
        return query.filter(self.get_column(alias).in_(staff))

    def operation(self):
        return admin_lazy_gettext("equals")


class RevokedFilter(BaseSQLAFilter):
    def __init__(self, column, name):
        super().__init__(column, name, options=(("1", admin_lazy_gettext("Yes")), ("0", admin_lazy_gettext("No"))))

    def apply(self, query, value, alias=None):
        column = self.get_column(alias)
        return query.filter(column.is_not(None) if value == "1" else column.is_(None))

    def operation(self):
        return admin_lazy_gettext("equals")


# --- base view ---------------------------------------------------------------------------------------------

class TrainingModelView(ScopedModelView):
    column_type_formatters = {**ScopedModelView.column_type_formatters, date: day_formatter}
    column_type_formatters_detail = column_type_formatters

    def require(self, right):
        if right not in self.rights():
            abort(403)

    def render(self, template, **kwargs):
        kwargs.setdefault("day_text", day_text)
        kwargs.setdefault("localized", localized)
        return super().render(template, **kwargs)

    def _create_failed(self, exc):
        if not self.handle_view_exception(exc):
            flash(admin_gettext("Failed to create record. %(error)s", error=str(exc)), "error")
        db.session.rollback()
        return False


def _staff_loader(name):
    return ScopedAjaxLoader(name, StaffMember, lambda scope: and_(listed_staff_clause(scope),
                                                                  StaffMember.employment_status == "active"),
                            fields=("staff_code", "search_name"), order_by="search_name", fold_term=True)


def _unit_loader(name):
    return ScopedAjaxLoader(name, AdminUnit, unit_choice_clause, fields=("code", "search_name"),
                            order_by="sort_name", fold_term=True)


COMMON_LABELS = {
    "staff": _l("Staff member"), "staff.staff_code": _l("Staff code"), "staff.full_name": _l("Full name"),
    "org_unit": _l("Org unit"), "org_unit.code": _l("Unit code"), "org_unit.name": _l("Org unit"),
    "course": _l("Course"), "course.code": _l("Course code"), "issued_on": _l("Issued on"),
    "expires_on": _l("Expires on"), "number": _l("Number"), "issuer": _l("Issued by"),
}


# --- staff -------------------------------------------------------------------------------------------------

class StaffView(TrainingModelView):
    personal_data = True
    access = {
        "admin": EDIT,
        "training_coordinator": EDIT,
        "data_steward": READ,
        "facility_manager": READ | {"edit"},
    }
    scope_clause = staticmethod(listed_staff_clause)
    column_list = ("staff_code", "full_name", "date_of_birth", "sex", "role_category", "org_unit", "facility",
                   "position", "employment_status", "start_date", "end_date")
    column_details_list = column_list
    column_export_list = ("staff_code", "full_name", "date_of_birth", "sex", "role_category.code", "org_unit.code",
                          "org_unit.name", "facility.code", "position", "employment_status", "start_date",
                          "end_date")
    column_searchable_list = ("staff_code", "full_name", "search_name")
    column_sortable_list = ("staff_code", ("full_name", "search_name"), "date_of_birth", "sex",
                            ("org_unit", "org_unit.sort_name"), "employment_status", "start_date", "end_date")
    column_default_sort = "search_name"
    column_filters = (
        IntEqualFilter(StaffMember.role_category_id, _l("Role category"), options=LazyOptions(_role_options)),
        FilterEqual(StaffMember.employment_status, _l("Employment status"), options=list(EMPLOYMENT.items())),
        UnitCodeFilter(StaffMember.org_unit_id, _l("Unit code (and the units under it)")),
        "org_unit.name",
        FilterEqual(StaffMember.sex, _l("Sex"), options=list(SEXES.items())),
    )
    column_labels = {
        **COMMON_LABELS,
        "staff_code": _l("Staff code"), "full_name": _l("Full name"), "date_of_birth": _l("Date of birth"),
        "sex": _l("Sex"), "role_category": _l("Role category"), "role_category.code": _l("Role category"),
        "facility": _l("Facility"), "facility.code": _l("Facility"), "position": _l("Position"),
        "employment_status": _l("Employment status"), "start_date": _l("Start date"), "end_date": _l("End date"),
        "search_name": _l("Full name"),
    }
    column_formatters = {
        "sex": lambda v, c, m, n: SEXES.get(m.sex, m.sex),
        "employment_status": lambda v, c, m, n: EMPLOYMENT.get(m.employment_status, m.employment_status),
        "role_category": lambda v, c, m, n: localized(m.role_category),
    }
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-file-alt", ".transcript", _l("Training record"), id_arg="staff_id"),
    ]
    form_columns = ("staff_code", "full_name", "date_of_birth", "sex", "role_category", "org_unit", "facility",
                    "position", "employment_status", "start_date", "end_date")
    form_choices = {"sex": list(SEXES.items()), "employment_status": list(EMPLOYMENT.items())}
    form_ajax_refs = {
        "org_unit": _unit_loader("org_unit"),
        "facility": ScopedAjaxLoader("facility", Facility, lambda scope: scope.facility_clause(Facility),
                                     fields=("code", "name"), order_by="code"),
    }
    relation_scopes = {RoleCategory: everything}
    list_template = "admin/training_staff_list.html"

    def get_query(self):
        return super().get_query().options(joinedload(StaffMember.org_unit), joinedload(StaffMember.role_category),
                                           joinedload(StaffMember.facility))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Accent-free and case-free: 'nguyen van an' finds 'Nguyễn Văn An'."""
        return super()._apply_search(query, count_query, joins, count_joins, fold(search))

    def create_model(self, form):
        """Through the operation, so the person gets their search name like any other way in."""
        try:
            data = form.data
            model = operations.create_staff(
                data["staff_code"] or "", data["full_name"] or "", data["role_category"], data["org_unit"],
                data["sex"], date_of_birth=data["date_of_birth"], facility=data["facility"],
                position=data["position"] or "", start_date=data["start_date"])
            model.employment_status = data.get("employment_status") or "active"
            model.end_date = data.get("end_date")
            self._on_model_change(form, model, True)
            db.session.commit()
        except Exception as exc:
            return self._create_failed(exc)
        self.after_model_change(form, model, True)
        return model

    def on_model_change(self, form, model, is_created):
        model.full_name = " ".join((model.full_name or "").split())
        model.search_name = fold(model.full_name)
        if model.start_date and model.end_date and model.end_date < model.start_date:
            raise ValidationError(_("The end date is before the start date."))
        if model.employment_status == "left" and model.end_date is None:
            raise ValidationError(_("Give the date the person left."))
        super().on_model_change(form, model, is_created)

    # duplicates ------------------------------------------------------------------------------------------
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
        return self.render("admin/training_duplicates.html", groups=groups, classes=classes)

    @expose("/duplicates/merge", methods=("POST",))
    def merge(self):
        if not self.can_merge():
            abort(403)
        keep, duplicate = self._staff(request.form.get("keep")), self._staff(request.form.get("duplicate"))
        try:
            operations.merge_staff(keep, duplicate)
            db.session.commit()
            flash(_("%(duplicate)s was merged into %(keep)s: the classes, certificates and qualifications now "
                    "belong to %(keep)s.", duplicate=duplicate.staff_code, keep=keep.staff_code), "success")
        except TrainingError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        return redirect(url_for(".duplicates"))

    # transcript -------------------------------------------------------------------------------------------
    @expose("/transcript/<int:staff_id>")
    def transcript(self, staff_id):
        self.require("details")
        staff = self.get_one(str(staff_id))
        attendances = db.session.scalars(
            select(Attendance).join(TrainingClass, TrainingClass.id == Attendance.class_id)
            .where(Attendance.staff_id == staff.id).order_by(TrainingClass.starts_on, Attendance.id)
            .options(joinedload(Attendance.training_class).joinedload(TrainingClass.course))).all()
        certificates = db.session.scalars(select(Certificate).where(Certificate.staff_id == staff.id)
                                          .order_by(Certificate.issued_on, Certificate.id)).all()
        qualifications = db.session.scalars(select(Qualification).where(Qualification.staff_id == staff.id)
                                            .order_by(Qualification.issued_on, Qualification.id)).all()
        return self.render("admin/training_transcript.html", staff=staff, attendances=attendances,
                           certificates=certificates, qualifications=qualifications, today=local_today(),
                           attendance_labels=ATTENDANCE, sexes=SEXES, employment=EMPLOYMENT)


# --- qualifications ----------------------------------------------------------------------------------------

class QualificationView(TrainingModelView):
    personal_data = True
    access = {
        "admin": ALL_RIGHTS,
        "training_coordinator": ALL_RIGHTS,
        "facility_manager": ALL_RIGHTS,
        "data_steward": READ,
    }
    scope_clause = staticmethod(qualification_clause)
    column_list = ("staff", "qualification_type", "number", "issuer", "issued_on", "expires_on")
    column_details_list = column_list
    column_export_list = ("staff.staff_code", "staff.full_name", "qualification_type.code", "number", "issuer",
                          "issued_on", "expires_on")
    column_default_sort = [("expires_on", False)]
    column_sortable_list = ("number", "issuer", "issued_on", "expires_on")
    column_searchable_list = ("number", "staff.staff_code", "staff.search_name")
    column_filters = (
        IntEqualFilter(Qualification.qualification_type_id, _l("Qualification"),
                       options=LazyOptions(_qualification_type_options)),
        "expires_on",
        StaffStatusFilter(Qualification.staff_id, _l("Employment status")),
        StaffUnitCodeFilter(Qualification.staff_id, _l("Unit code (and the units under it)")),
    )
    column_labels = {
        **COMMON_LABELS, "qualification_type": _l("Qualification"), "qualification_type.code": _l("Qualification"),
        "staff.search_name": _l("Full name"),
    }
    column_formatters = {"qualification_type": lambda v, c, m, n: localized(m.qualification_type)}
    form_columns = ("staff", "qualification_type", "number", "issuer", "issued_on", "expires_on")
    form_ajax_refs = {"staff": _staff_loader("staff")}
    relation_scopes = {QualificationType: everything}

    def get_query(self):
        return super().get_query().options(joinedload(Qualification.staff),
                                           joinedload(Qualification.qualification_type))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        return super()._apply_search(query, count_query, joins, count_joins, fold(search))

    def on_model_change(self, form, model, is_created):
        if model.expires_on and model.issued_on and model.expires_on <= model.issued_on:
            raise ValidationError(_("The expiry date must come after the issue date."))
        super().on_model_change(form, model, is_created)


# --- reference data ----------------------------------------------------------------------------------------

REFERENCE_ACCESS = {"admin": ALL_RIGHTS, "training_coordinator": READ}
NAME_LABELS = {"code": _l("Code"), "name_vi": _l("Name (Vietnamese)"), "name_en": _l("Name (English)")}


class RoleCategoryView(TrainingModelView):
    access = REFERENCE_ACCESS
    scope_clause = staticmethod(everything)
    column_list = ("code", "name_vi", "name_en")
    column_details_list = column_export_list = column_list
    column_default_sort = "id"
    column_labels = NAME_LABELS
    form_columns = ("code", "name_vi", "name_en")


class QualificationTypeView(TrainingModelView):
    access = REFERENCE_ACCESS
    scope_clause = staticmethod(everything)
    column_list = ("code", "name_vi", "name_en", "kind")
    column_details_list = column_export_list = column_list
    column_default_sort = "id"
    column_labels = {**NAME_LABELS, "kind": _l("Kind")}
    KINDS = {"diploma": _l("diploma"), "licence": _l("practising licence")}
    column_formatters = {"kind": lambda v, c, m, n: QualificationTypeView.KINDS.get(m.kind, m.kind)}
    form_columns = ("code", "name_vi", "name_en", "kind")
    form_choices = {"kind": list(KINDS.items())}


class RoleRequirementView(TrainingModelView):
    access = REFERENCE_ACCESS
    scope_clause = staticmethod(everything)
    column_list = ("role_category", "qualification_type")
    column_details_list = column_list
    column_export_list = ("role_category.code", "qualification_type.code")
    column_labels = {"role_category": _l("Role category"), "qualification_type": _l("Required qualification")}
    column_formatters = {"role_category": lambda v, c, m, n: localized(m.role_category),
                         "qualification_type": lambda v, c, m, n: localized(m.qualification_type)}
    form_columns = ("role_category", "qualification_type")
    relation_scopes = {RoleCategory: everything, QualificationType: everything}


# --- courses -----------------------------------------------------------------------------------------------

class CourseView(TrainingModelView):
    access = {
        "admin": ALL_RIGHTS,
        "training_coordinator": EDIT,
        "data_steward": READ,
        "facility_manager": READ,
    }
    scope_clause = staticmethod(everything)
    column_list = ("code", "title", "topic", "hours", "certifies", "validity_months", "target_roles")
    column_details_list = column_list
    column_export_list = column_list
    column_default_sort = "code"
    column_searchable_list = ("code", "title")
    column_filters = (FilterEqual(Course.topic, _l("Topic"), options=list(TOPICS.items())), "certifies")
    column_labels = {
        "code": _l("Code"), "title": _l("Title"), "topic": _l("Topic"), "hours": _l("Hours"),
        "certifies": _l("Leads to a certificate"), "validity_months": _l("Certificate valid (months)"),
        "target_roles": _l("For role categories"),
    }
    column_descriptions = {"target_roles": _l("Role category codes separated by commas, e.g. counselling,medical")}
    column_formatters = {"topic": lambda v, c, m, n: TOPICS.get(m.topic, m.topic)}
    form_columns = ("code", "title", "topic", "hours", "certifies", "validity_months", "target_roles")
    form_choices = {"topic": list(TOPICS.items())}
    form_args = {"hours": {"validators": [NumberRange(min=0)]},
                 "validity_months": {"validators": [Optional(), NumberRange(min=1, max=600)]}}

    def on_model_change(self, form, model, is_created):
        codes = [code.strip() for code in (model.target_roles or "").replace(";", ",").split(",") if code.strip()]
        known = set(db.session.scalars(select(RoleCategory.code)))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ValidationError(_("Unknown role category code(s): %(codes)s. Known codes: %(known)s.",
                                    codes=", ".join(unknown), known=", ".join(sorted(known))))
        model.target_roles = ",".join(dict.fromkeys(codes))
        super().on_model_change(form, model, is_created)


# --- classes -----------------------------------------------------------------------------------------------

def _attendee_count(view, context, model, name):
    count = len(model.attendances)
    if "details" not in view.rights():
        return count
    return Markup(f"<a href='{escape(url_for('.attendance', class_id=model.id))}'>{count} / {model.capacity}</a>")


@dataclass
class Candidates:
    people: list
    truncated: bool
    role: str
    unit_code: str
    untrained: bool
    unit: object


class TrainingClassView(TrainingModelView):
    access = {
        "admin": ALL_RIGHTS,
        "training_coordinator": ALL_RIGHTS,
        "data_steward": READ,
    }
    scope_clause = staticmethod(class_clause)
    column_list = ("course", "org_unit", "organiser", "place", "starts_on", "ends_on", "trainers", "attendees")
    column_details_list = ("course", "org_unit", "organiser", "place", "starts_on", "ends_on", "trainers",
                           "capacity", "attendees")
    column_export_list = ("course.code", "course.title", "org_unit.code", "org_unit.name", "organiser", "place",
                          "starts_on", "ends_on", "trainers", "capacity")
    column_default_sort = [("starts_on", True)]
    column_sortable_list = ("organiser", "place", "starts_on", "ends_on")
    column_searchable_list = ("organiser", "place", "trainers")
    column_filters = (IntEqualFilter(TrainingClass.course_id, _l("Course"), options=LazyOptions(_course_options)),
                      UnitCodeFilter(TrainingClass.org_unit_id, _l("Unit code (and the units under it)")),
                      "starts_on", "ends_on")
    column_labels = {
        **COMMON_LABELS, "organiser": _l("Organiser"), "place": _l("Place"), "starts_on": _l("Starts on"),
        "ends_on": _l("Ends on"), "trainers": _l("Trainers"), "capacity": _l("Capacity"),
        "attendees": _l("Attendees"), "course.title": _l("Course"),
    }
    column_formatters = {"attendees": _attendee_count}
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-users", ".attendance", _l("Attendance"), id_arg="class_id"),
        EndpointLinkRowAction("fa fa-print", ".roster", _l("Class roster"), id_arg="class_id"),
    ]
    form_columns = ("course", "org_unit", "organiser", "place", "starts_on", "ends_on", "trainers", "capacity")
    form_args = {"capacity": {"validators": [NumberRange(min=1, max=10000)]}}
    form_ajax_refs = {"org_unit": _unit_loader("org_unit")}
    relation_scopes = {Course: everything}

    def get_query(self):
        return super().get_query().options(joinedload(TrainingClass.course), joinedload(TrainingClass.org_unit),
                                           selectinload(TrainingClass.attendances))

    def on_model_change(self, form, model, is_created):
        if model.starts_on and model.ends_on and model.ends_on < model.starts_on:
            raise ValidationError(_("The class ends before it starts."))
        super().on_model_change(form, model, is_created)

    def on_model_delete(self, model):
        """A class that has attendees is history (transcripts, certificates): it is kept."""
        if model.attendances:
            raise ValidationError(_("This class has attendees and is part of their training records: it cannot "
                                    "be deleted."))

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
        return self.render("admin/training_attendance.html", training_class=training_class, course=course,
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
        try:
            added = operations.add_attendees(training_class, people)
            db.session.commit()
            flash(_("%(count)s person(s) registered in the class.", count=added), "success")
        except TrainingError as exc:
            db.session.rollback()
            flash(str(exc), "error")
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
        try:
            for attendance, status, pre, post in changes:
                operations.set_attendance(attendance, status, pre, post)
            issued = sum(len(items) for items in self._certificates(training_class).values()) - before
            db.session.commit()
        except TrainingError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".attendance", class_id=training_class.id))
        flash(_("Attendance saved."), "success")
        if issued:
            flash(_("%(count)s certificate(s) issued.", count=issued), "success")
        return redirect(url_for(".attendance", class_id=training_class.id))

    @expose("/roster/<int:class_id>")
    def roster(self, class_id):
        self.require("details")
        training_class = self._class(class_id)
        return self.render("admin/training_roster.html", training_class=training_class,
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


# --- certificates ------------------------------------------------------------------------------------------

def _revoked(view, context, model, name):
    if model.revoked_at is None:
        return ""
    return Markup(f"<span class='badge badge-danger' title='{escape(model.revoked_reason or '')}'>"
                  f"{escape(_('revoked'))}</span> {escape(format_local(model.revoked_at, '%d/%m/%Y'))}")


class CertificateView(TrainingModelView):
    personal_data = True
    access = {
        "admin": READ | {"create"},
        "training_coordinator": READ | {"create"},
        "data_steward": READ,
        "facility_manager": READ,
    }
    scope_clause = staticmethod(certificate_clause)
    details_template = "admin/training_certificate_details.html"
    column_list = ("number", "issuer", "staff", "course", "issued_on", "expires_on", "revoked_at")
    column_details_list = ("number", "issuer", "staff", "course", "training_class", "issued_on", "expires_on",
                           "revoked_at", "revoked_reason", "created_at")
    column_export_list = ("number", "issuer", "staff.staff_code", "staff.full_name", "course.code", "issued_on",
                          "expires_on", "revoked_at", "revoked_reason")
    column_default_sort = [("issued_on", True)]
    column_sortable_list = ("number", "issuer", "issued_on", "expires_on", "revoked_at")
    column_searchable_list = ("number", "staff.staff_code", "staff.search_name")
    column_filters = (
        IntEqualFilter(Certificate.course_id, _l("Course"), options=LazyOptions(_course_options)),
        "expires_on",
        RevokedFilter(Certificate.revoked_at, _l("Revoked")),
        StaffStatusFilter(Certificate.staff_id, _l("Employment status")),
        StaffUnitCodeFilter(Certificate.staff_id, _l("Unit code (and the units under it)")),
    )
    column_labels = {
        **COMMON_LABELS, "training_class": _l("Class"), "revoked_at": _l("Revoked"),
        "revoked_reason": _l("Reason for revoking"), "created_at": _l("Recorded at"),
        "staff.search_name": _l("Full name"),
    }
    column_formatters = {"revoked_at": _revoked}
    form_columns = ("staff", "course", "issuer", "number", "issued_on")
    form_extra_fields = {
        "number": StringField(_l("Number"), validators=[Optional()],
                              description=_l("Leave empty to number it automatically (year/sequence).")),
    }
    form_ajax_refs = {"staff": _staff_loader("staff")}
    relation_scopes = {Course: everything}

    def get_query(self):
        return super().get_query().options(joinedload(Certificate.staff), joinedload(Certificate.course))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        return super()._apply_search(query, count_query, joins, count_joins, fold(search))

    def can_revoke(self):
        return current_user.is_authenticated and current_user.role in COORDINATORS

    def get_list_row_actions(self):
        actions = super().get_list_row_actions()
        if self.can_revoke():
            actions.append(EndpointLinkRowAction("fa fa-ban", ".revoke", _l("Revoke"), id_arg="certificate_id"))
        return actions

    def create_model(self, form):
        """By hand (training done elsewhere): numbered and dated like an issued one; only certifying courses."""
        try:
            certificate = operations.issue_certificate(
                form.staff.data, form.course.data, (form.issuer.data or "").strip(), form.issued_on.data,
                number=(form.number.data or "").strip() or None)
            self._on_model_change(form, certificate, True)
            db.session.commit()
        except TrainingError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        except Exception as exc:
            return self._create_failed(exc)
        self.after_model_change(form, certificate, True)
        return certificate

    @expose("/revoke/<int:certificate_id>", methods=("GET", "POST"))
    def revoke(self, certificate_id):
        if not self.can_revoke():
            abort(403)
        certificate = self.get_one(str(certificate_id))
        if request.method == "POST":
            if certificate.revoked_at is not None:
                flash(_("This certificate was already revoked."), "warning")
                return redirect(url_for(".details_view", id=certificate.id))
            try:
                operations.revoke_certificate(certificate, request.form.get("reason"))
                db.session.commit()
                flash(_("Certificate %(number)s revoked.", number=certificate.number), "success")
                return redirect(url_for(".details_view", id=certificate.id))
            except TrainingError as exc:
                db.session.rollback()
                flash(str(exc), "error")
        return self.render("admin/training_revoke.html", certificate=certificate)


# --- plans and targets -------------------------------------------------------------------------------------

class TrainingPlanView(TrainingModelView):
    access = {"admin": ALL_RIGHTS, "training_coordinator": EDIT}
    scope_clause = staticmethod(everything)
    column_list = ("code", "name", "number", "issued_on")
    column_details_list = column_export_list = column_list
    column_default_sort = "code"
    column_searchable_list = ("code", "name", "number")
    column_labels = {"code": _l("Code"), "name": _l("Name"), "number": _l("Document number"),
                     "issued_on": _l("Issued on")}
    form_columns = ("code", "name", "number", "issued_on")


def _topic_label(topic):
    return TOPICS.get(topic, topic) if topic else ""


class TrainingTargetView(TrainingModelView):
    access = {"admin": ALL_RIGHTS, "training_coordinator": ALL_RIGHTS}
    scope_clause = staticmethod(target_clause)
    column_list = ("plan", "scope_unit", "role_category", "metric", "topic", "percent", "deadline")
    column_details_list = column_list
    column_export_list = ("plan.code", "scope_unit.code", "scope_unit.name", "role_category.code", "metric", "topic",
                          "percent", "deadline")
    column_default_sort = "deadline"
    column_sortable_list = ("metric", "topic", "percent", "deadline")
    column_filters = ("plan.code", UnitCodeFilter(TrainingTarget.scope_unit_id,
                                                  _l("Unit code (and the units under it)")),
                      IntEqualFilter(TrainingTarget.role_category_id, _l("Role category"),
                                     options=LazyOptions(_role_options)),
                      FilterEqual(TrainingTarget.metric, _l("Metric"), options=list(METRICS.items())))
    column_labels = {
        "plan": _l("Plan"), "plan.code": _l("Plan"), "scope_unit": _l("Scope"), "scope_unit.code": _l("Unit code"),
        "scope_unit.name": _l("Scope"), "role_category": _l("Role category"),
        "role_category.code": _l("Role category"), "metric": _l("Metric"), "topic": _l("Topic"),
        "percent": _l("Target (%)"), "deadline": _l("Deadline"),
    }
    column_formatters = {
        "role_category": lambda v, c, m, n: localized(m.role_category),
        "metric": lambda v, c, m, n: METRICS.get(m.metric, m.metric),
        "topic": lambda v, c, m, n: _topic_label(m.topic),
    }
    form_columns = ("plan", "scope_unit", "role_category", "metric", "topic", "percent", "deadline")
    form_choices = {"metric": list(METRICS.items()), "topic": list(TOPICS.items())}
    form_args = {"percent": {"validators": [NumberRange(min=0, max=100)]}}
    form_ajax_refs = {"scope_unit": _unit_loader("scope_unit")}
    relation_scopes = {TrainingPlan: everything, RoleCategory: everything}

    def on_model_change(self, form, model, is_created):
        model.topic = model.topic or None
        super().on_model_change(form, model, is_created)


# --- attainment --------------------------------------------------------------------------------------------

def gap_sentence(result):
    """The gap as a sentence: "12 more counselling staff need to be certified"."""
    target = result.target
    if result.denominator == 0:
        return _("No active staff of this role in the unit.")
    if result.gap_persons == 0:
        return _("Target reached.")
    role = lower_first(localized(target.role_category))
    count = result.gap_persons
    topic = lower_first(_topic_label(target.topic)) if target.topic else ""
    if target.metric == "trained":
        if topic:
            return _("%(count)s more %(role)s need to be trained in %(topic)s", count=count, role=role, topic=topic)
        return _("%(count)s more %(role)s need to be trained", count=count, role=role)
    if target.metric == "certified":
        if topic:
            return _("%(count)s more %(role)s need to be certified in %(topic)s", count=count, role=role,
                     topic=topic)
        return _("%(count)s more %(role)s need to be certified", count=count, role=role)
    return _("%(count)s more %(role)s need to hold every required qualification", count=count, role=role)


class AttainmentView(SecureView):
    access = {role: {"list"} for role in ("admin", "training_coordinator", "data_steward", "facility_manager")}

    def _date(self):
        return requested_day()

    def _plan(self):
        raw = request.args.get("plan") or ""
        return int(raw) if raw.isdigit() else None

    def _selection(self, plan_id, paginate=True):
        return select_attainment(current_scope(), plan_id, request.args.get("province") or "", paginate,
                                 page=request.args.get("page", 1, type=int))

    @expose("/")
    def index(self):
        on_date, plan_id = self._date(), self._plan()
        selection = self._selection(plan_id)
        rows = attainment_rows(current_scope(), on_date, pairs=selection.pairs)
        plans = db.session.scalars(select(TrainingPlan).order_by(TrainingPlan.code)).all()
        return self.render("admin/training_attainment.html", rows=rows, on_date=on_date, plan_id=plan_id,
                           plans=plans, selection=selection, all_provinces=ALL_PROVINCES,
                           page_size=queries.ATTAINMENT_PAGE_SIZE, metrics=METRICS,
                           topic_label=_topic_label, gap_sentence=gap_sentence, localized=localized, day_text=day_text,
                           percent_text=percent_text)

    @expose("/target/<int:target_id>")
    def target(self, target_id):
        on_date = self._date()
        scope = current_scope()
        found = [(target, unit) for target, unit in visible_targets(scope) if target.id == target_id]
        if not found:
            abort(404)
        target, unit = found[0]
        result = queries.attainment(target, on_date, unit)
        below = []
        if unit is target.scope_unit:
            below = sorted(queries.breakdown(target, on_date), key=lambda row: (-row.gap_persons, row.unit.sort_name))
        return self.render("admin/training_target.html", target=target, unit=unit, result=result,
                           row=AttainmentRow(target, result), below=below, on_date=on_date, metrics=METRICS,
                           topic_label=_topic_label, localized=localized, day_text=day_text,
                           gap_sentence=gap_sentence, percent_text=percent_text)

    def _table(self):
        """The attainment table as a header and rows of cells (formula-like text neutralised)."""
        on_date, plan_id = self._date(), self._plan()
        header = [_("Plan"), _("Unit code"), _("Unit"), _("Role category"), _("Metric"), _("Topic"),
                  _("Target (%)"), _("Deadline"), _("Meeting the target"), _("Active staff"),
                  _("Attained (%)"), _("Persons still needed"), _("Met"), _("Gap")]
        rows = []
        for row in attainment_rows(current_scope(), on_date, pairs=self._selection(plan_id, paginate=False).pairs):
            target, result = row.target, row.result
            unit = result.unit
            rows.append([neutralise(value) for value in (
                target.plan.code, getattr(unit, "code", ""), getattr(unit, "name", ""),
                localized(target.role_category), str(METRICS.get(target.metric, target.metric)),
                str(_topic_label(target.topic)), result.target_percent, target.deadline.isoformat(),
                result.numerator, result.denominator, "" if result.percent is None else result.percent,
                result.gap_persons, _("yes") if result.met else _("no"), gap_sentence(result))])
        return on_date, header, rows

    @expose("/export.csv")
    def export(self):
        on_date, header, rows = self._table()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        name = f"attainment_{on_date.isoformat()}.csv"
        return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})

    @expose("/export.xlsx")
    def export_xlsx(self):
        from openpyxl import Workbook

        on_date, header, rows = self._table()
        book = Workbook()
        sheet = book.active
        sheet.title = "Chi tieu dao tao"
        sheet.append([str(cell) for cell in header])
        for row in rows:
            sheet.append([cell if isinstance(cell, (int, float)) else str(cell) for cell in row])
        buffer = io.BytesIO()
        book.save(buffer)
        return Response(buffer.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=attainment_{on_date.isoformat()}.xlsx"})


# --- the home page -----------------------------------------------------------------------------------------

def expiring_url(endpoint, start, end):
    """The list of certificates or qualifications filtered on the same rows as `expiring_count`."""
    from flask import current_app

    view = next(v for v in current_app.extensions["admin"][0]._views if getattr(v, "endpoint", None) == endpoint)
    if view._filters is None:
        view._refresh_filters_cache()
    args, position = {}, 0
    for index, item in enumerate(view._filters or []):
        value = None
        if type(item) is DateBetweenFilter and getattr(item.column, "key", None) == "expires_on":
            value = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
        elif isinstance(item, RevokedFilter):
            value = "0"
        elif isinstance(item, StaffStatusFilter):
            value = "active"
        if value is not None:
            args[f"flt{position}_{index}"] = value
            position += 1
    return url_for(f"{endpoint}.index_view", **args)


def expiring(user, today=None):
    """[(kind, days, count, url)] of what expires within 30 and within 7 days for the user's staff."""
    today = today or local_today()
    scope = Scope(user)
    found = []
    for model, endpoint in ((Certificate, "certificates"), (Qualification, "qualifications")):
        for days in EXPIRY_WINDOWS:
            end = today + timedelta(days=days)
            found.append((endpoint, days, expiring_count(model, scope, today, end), expiring_url(endpoint, today, end)))
    return found
