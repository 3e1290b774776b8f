"""Classes: the list and the form; attendance and the roster are in attendance.py."""
from flask import url_for
from flask_admin.contrib.sqla.filters import IntEqualFilter
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload, selectinload
from wtforms.validators import NumberRange

from admin.base import ALL_RIGHTS, READ
from admin.training.attendance import AttendanceMixin
from admin.training.common import (
    COMMON_LABELS,
    LazyOptions,
    TrainingModelView,
    UnitCodeFilter,
    course_options,
    everything,
    unit_loader,
)
from service.training import operations
from service.training.models import Course, TrainingClass
from service.training.queries import class_clause


def _attendee_count(view, context, model, name):
    count = len(model.attendances)
    if "details" not in view.rights():
        return count
    return Markup(f"<a href='{escape(url_for('.attendance', class_id=model.id))}'>{count} / {model.capacity}</a>")


class TrainingClassView(AttendanceMixin, TrainingModelView):
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
    column_filters = (IntEqualFilter(TrainingClass.course_id, _l("Course"), options=LazyOptions(course_options)),
                      UnitCodeFilter(TrainingClass.org_unit_id, _l("Unit code (and the units under it)")),
                      "starts_on", "ends_on")
    column_labels = {
        **COMMON_LABELS, "organiser": _l("Organiser"), "place": _l("Place"), "starts_on": _l("Starts on"),
        "ends_on": _l("Ends on"), "trainers": _l("Trainers"), "capacity": _l("Capacity"),
        "attendees": _l("Attendees"), "course.title": _l("Course"),
    }
    column_formatters = {"attendees": _attendee_count}
    details_template = "admin/training/class_details.html"  # with the links to its attendance and roster
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-users", ".attendance", _l("Attendance"), id_arg="class_id"),
        EndpointLinkRowAction("fa fa-print", ".roster", _l("Class roster"), id_arg="class_id"),
    ]
    form_columns = ("course", "org_unit", "organiser", "place", "starts_on", "ends_on", "trainers", "capacity")
    form_args = {"capacity": {"validators": [NumberRange(min=1, max=10000)]}}
    form_ajax_refs = {"org_unit": unit_loader("org_unit")}
    relation_scopes = {Course: everything}

    def get_query(self):
        return super().get_query().options(joinedload(TrainingClass.course), joinedload(TrainingClass.org_unit),
                                           selectinload(TrainingClass.attendances))

    create_record = staticmethod(operations.create_class)
    update_record = staticmethod(operations.update_class)
    delete_record = staticmethod(operations.delete_class)  # refused while the class has attendees
