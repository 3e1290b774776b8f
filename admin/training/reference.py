"""The reference data of the training area: role categories, qualification types, role requirements."""
from flask_babel import lazy_gettext as _l

from admin.base import ALL_RIGHTS, READ
from admin.training.common import TrainingModelView, everything, localized
from service.training import operations
from service.training.models import QualificationType, RoleCategory

REFERENCE_ACCESS = {"admin": ALL_RIGHTS, "training_coordinator": READ}
NAME_LABELS = {"code": _l("Code"), "name_vi": _l("Name (Vietnamese)"), "name_en": _l("Name (English)")}


class ReferenceView(TrainingModelView):
    """Reference data is national: no scope."""

    access = REFERENCE_ACCESS
    scope_clause = staticmethod(everything)
    update_record = staticmethod(operations.update_reference)
    delete_record = staticmethod(operations.delete_reference)

    def create_record(self, **fields):
        return operations.create_reference(self.model, **fields)


class RoleCategoryView(ReferenceView):
    column_list = ("code", "name_vi", "name_en")
    column_details_list = column_export_list = column_list
    column_default_sort = "id"
    column_labels = NAME_LABELS
    form_columns = ("code", "name_vi", "name_en")


class QualificationTypeView(ReferenceView):
    column_list = ("code", "name_vi", "name_en", "kind")
    column_details_list = column_export_list = column_list
    column_default_sort = "id"
    column_labels = {**NAME_LABELS, "kind": _l("Kind")}
    KINDS = {"diploma": _l("diploma"), "licence": _l("practising licence")}
    column_formatters = {"kind": lambda v, c, m, n: QualificationTypeView.KINDS.get(m.kind, m.kind)}
    form_columns = ("code", "name_vi", "name_en", "kind")
    form_choices = {"kind": list(KINDS.items())}


class RoleRequirementView(ReferenceView):
    column_list = ("role_category", "qualification_type")
    column_details_list = column_list
    column_export_list = ("role_category.code", "qualification_type.code")
    column_labels = {"role_category": _l("Role category"), "qualification_type": _l("Required qualification")}
    column_formatters = {"role_category": lambda v, c, m, n: localized(m.role_category),
                         "qualification_type": lambda v, c, m, n: localized(m.qualification_type)}
    form_columns = ("role_category", "qualification_type")
    relation_scopes = {RoleCategory: everything, QualificationType: everything}

