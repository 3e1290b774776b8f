"""Certificates: the list, recording one by hand, revoking; what expires soon, for the home page."""
from datetime import timedelta

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import DateBetweenFilter, IntEqualFilter
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload
from wtforms import StringField
from wtforms.validators import Optional

from admin.base import READ
from admin.changes import unit_of_work
from admin.links import view_for
from admin.training.common import (
    COMMON_LABELS,
    COORDINATORS,
    EXPIRY_WINDOWS,
    LazyOptions,
    RevokedFilter,
    StaffStatusFilter,
    StaffUnitCodeFilter,
    TrainingModelView,
    course_options,
    everything,
    staff_loader,
)
from service.accounts.scope import Scope
from service.common.text import fold
from service.common.time import format_local, local_today
from service.training import operations
from service.training.models import Certificate, Course, Qualification
from service.training.queries import certificate_clause, expiring_count


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
    details_template = "admin/training/certificate_details.html"
    column_list = ("number", "issuer", "staff", "course", "issued_on", "expires_on", "revoked_at")
    column_details_list = ("number", "issuer", "staff", "course", "training_class", "issued_on", "expires_on",
                           "revoked_at", "revoked_reason", "created_at")
    column_export_list = ("number", "issuer", "staff.staff_code", "staff.full_name", "course.code", "issued_on",
                          "expires_on", "revoked_at", "revoked_reason")
    column_default_sort = [("issued_on", True)]
    column_sortable_list = ("number", "issuer", "issued_on", "expires_on", "revoked_at")
    column_searchable_list = ("number", "staff.staff_code", "staff.search_name")
    column_filters = (
        IntEqualFilter(Certificate.course_id, _l("Course"), options=LazyOptions(course_options)),
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
    form_ajax_refs = {"staff": staff_loader("staff")}
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

    def create_record(self, staff, course, issuer, number, issued_on):
        """By hand (training done elsewhere): numbered and dated like an issued one; only certifying courses."""
        return operations.issue_certificate(staff, course, (issuer or "").strip(), issued_on,
                                            number=(number or "").strip() or None)

    @expose("/revoke/<int:certificate_id>", methods=("GET", "POST"))
    def revoke(self, certificate_id):
        if not self.can_revoke():
            abort(403)
        certificate = self.get_one(str(certificate_id))
        if request.method == "POST":
            if certificate.revoked_at is not None:
                flash(_("This certificate was already revoked."), "warning")
                return redirect(url_for(".details_view", id=certificate.id))
            with unit_of_work(_("Certificate %(number)s revoked.", number=certificate.number)) as work:
                operations.revoke_certificate(certificate, request.form.get("reason"))
            if work.ok:
                return redirect(url_for(".details_view", id=certificate.id))
        return self.render("admin/training/revoke.html", certificate=certificate)


def expiring_url(endpoint, start, end):
    """The list of certificates or qualifications filtered on the same rows as `expiring_count`."""
    view = view_for(endpoint)
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

