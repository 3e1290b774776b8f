"""Qualifications (diplomas, practising licences) of the staff."""
from flask_admin.contrib.sqla.filters import IntEqualFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from admin.base import ALL_RIGHTS, READ
from admin.training.common import (
    COMMON_LABELS,
    LazyOptions,
    StaffStatusFilter,
    StaffUnitCodeFilter,
    TrainingModelView,
    everything,
    localized,
    qualification_type_options,
    staff_loader,
)
from service.common.text import fold
from service.training import operations
from service.training.models import Qualification, QualificationType
from service.training.queries import qualification_clause


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
                       options=LazyOptions(qualification_type_options)),
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
    form_ajax_refs = {"staff": staff_loader("staff")}
    relation_scopes = {QualificationType: everything}

    def get_query(self):
        return super().get_query().options(joinedload(Qualification.staff),
                                           joinedload(Qualification.qualification_type))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        return super()._apply_search(query, count_query, joins, count_joins, fold(search))

    create_record = staticmethod(operations.record_qualification)
    update_record = staticmethod(operations.update_qualification)
    delete_record = staticmethod(operations.delete_qualification)

