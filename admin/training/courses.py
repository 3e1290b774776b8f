"""Courses."""
from flask import g
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.form.widgets import Select2Widget
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectMultipleField
from wtforms.validators import NumberRange, Optional

from admin.base import ALL_RIGHTS, READ
from admin.training.common import EDIT, TrainingModelView, everything, localized
from service.extensions import db
from service.training import operations
from service.training.models import TOPICS, Course, RoleCategory


def _role_choices():
    return [(role.code, localized(role)) for role in db.session.scalars(select(RoleCategory).order_by(RoleCategory.id))]


class RoleCodesField(SelectMultipleField):
    """The role categories a course is meant for, chosen from their Vietnamese names; stored as the codes
    separated by commas (Course.target_roles)."""

    widget = Select2Widget(multiple=True)

    def process_data(self, value):
        self.data = [code for code in (value or "").split(",") if code] if isinstance(value, str) else value

    def process_formdata(self, valuelist):
        super().process_formdata([value for value in valuelist if value])  # an empty entry chooses nothing

    def populate_obj(self, obj, name):
        setattr(obj, name, ",".join(self.data or []))


def _role_names(view, context, model, name):
    names = g.get("role_names")  # read once per page, not once per row
    if names is None:
        names = g.role_names = dict(_role_choices())
    return ", ".join(names.get(code, code) for code in (model.target_roles or "").split(",") if code)


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
    column_formatters = {"topic": lambda v, c, m, n: TOPICS.get(m.topic, m.topic), "target_roles": _role_names}
    form_overrides = {"target_roles": RoleCodesField}
    form_columns = ("code", "title", "topic", "hours", "certifies", "validity_months", "target_roles")
    form_choices = {"topic": list(TOPICS.items())}
    form_args = {"hours": {"validators": [NumberRange(min=0)]},
                 "target_roles": {"choices": _role_choices, "validators": [Optional()]},
                 "validity_months": {"validators": [Optional(), NumberRange(min=1, max=600)]}}

    create_record = staticmethod(operations.create_course)
    update_record = staticmethod(operations.update_course)
    delete_record = staticmethod(operations.delete_course)

