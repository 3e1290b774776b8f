"""What the training screens share: who may do what, labels in the interface language, the filters of
their lists, the relation loaders and the base view.

Scope: staff are in scope through their org unit (a facility manager: through their facility); qualifications and
certificates through their staff member; classes through the class's unit; targets through their scope unit (the
clauses are in service.training.queries).
"""
import logging
from datetime import date

from flask import abort
from flask_admin.babel import lazy_gettext as admin_lazy_gettext
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, true

from admin.base import READ, ScopedAjaxLoader, ScopedModelView
from admin.formats import day_formatter, day_text, language
from service.extensions import db
from service.training.models import EMPLOYMENT, TOPICS, Course, QualificationType, RoleCategory, StaffMember
from service.training.queries import listed_staff_clause
from service.units.models import AdminUnit

log = logging.getLogger(__name__)
EDIT = READ | {"create", "edit"}
# Who may merge duplicate people, revoke certificates and register attendance.
COORDINATORS = ("admin", "training_coordinator")
EXPIRY_WINDOWS = (30, 7)


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


def role_options():
    return [(str(role.id), localized(role)) for role in db.session.scalars(select(RoleCategory).order_by(
        RoleCategory.id))]


def course_options():
    return [(str(course.id), str(course)) for course in db.session.scalars(select(Course).order_by(Course.code))]


def qualification_type_options():
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


def staff_loader(name):
    return ScopedAjaxLoader(name, StaffMember, lambda scope: and_(listed_staff_clause(scope),
                                                                  StaffMember.employment_status == "active"),
                            fields=("staff_code", "search_name"), order_by="search_name", fold_term=True)


def unit_loader(name):
    return ScopedAjaxLoader(name, AdminUnit, unit_choice_clause, fields=("code", "search_name"),
                            order_by="sort_name", fold_term=True)


COMMON_LABELS = {
    "staff": _l("Staff member"), "staff.staff_code": _l("Staff code"), "staff.full_name": _l("Full name"),
    "org_unit": _l("Org unit"), "org_unit.code": _l("Unit code"), "org_unit.name": _l("Org unit"),
    "course": _l("Course"), "course.code": _l("Course code"), "issued_on": _l("Issued on"),
    "expires_on": _l("Expires on"), "number": _l("Number"), "issuer": _l("Issued by"),
}


def topic_label(topic):
    return TOPICS.get(topic, topic) if topic else ""

