"""Courses."""
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from wtforms.validators import NumberRange, Optional

from admin.base import ALL_RIGHTS, READ
from admin.training.common import EDIT, TrainingModelView, everything
from service.training import operations
from service.training.models import TOPICS, Course


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

    create_record = staticmethod(operations.create_course)
    update_record = staticmethod(operations.update_course)
    delete_record = staticmethod(operations.delete_course)

