"""The staff roster: the list, the form, the duplicates and the training record of a person."""
from flask_admin.contrib.sqla.filters import FilterEqual, IntEqualFilter
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from admin.base import READ, ScopedAjaxLoader
from admin.training.common import (
    COMMON_LABELS,
    EDIT,
    LazyOptions,
    TrainingModelView,
    UnitCodeFilter,
    everything,
    localized,
    role_options,
    unit_loader,
)
from admin.training.duplicates import DuplicatesMixin
from admin.training.transcript import TranscriptMixin
from service.common.text import fold
from service.facilities.models import Facility
from service.training import operations
from service.training.models import EMPLOYMENT, SEXES, RoleCategory, StaffMember
from service.training.queries import listed_staff_clause


class StaffView(DuplicatesMixin, TranscriptMixin, TrainingModelView):
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
        IntEqualFilter(StaffMember.role_category_id, _l("Role category"), options=LazyOptions(role_options)),
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
        "org_unit": unit_loader("org_unit"),
        "facility": ScopedAjaxLoader("facility", Facility, lambda scope: scope.facility_clause(Facility),
                                     fields=("code", "name"), order_by="code"),
    }
    relation_scopes = {RoleCategory: everything}
    list_template = "admin/training/staff_list.html"

    def get_query(self):
        return super().get_query().options(joinedload(StaffMember.org_unit), joinedload(StaffMember.role_category),
                                           joinedload(StaffMember.facility))

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Accent-free and case-free: 'nguyen van an' finds 'Nguyễn Văn An'."""
        return super()._apply_search(query, count_query, joins, count_joins, fold(search))

    def create_record(self, staff_code, full_name, date_of_birth, sex, role_category, org_unit, facility, position,
                      employment_status, start_date, end_date):
        return operations.create_staff(staff_code or "", full_name or "", role_category, org_unit, sex,
                                       date_of_birth=date_of_birth, facility=facility, position=position or "",
                                       start_date=start_date, employment_status=employment_status or "active",
                                       end_date=end_date)

    update_record = staticmethod(operations.update_staff)
