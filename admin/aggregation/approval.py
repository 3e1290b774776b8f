"""Approval of a period: the units of the user's scope with their completeness, open error flags and status;
approve (the districts, then the province) or reopen (from a level above), and the period's history. The rules
live in service.approval.operations; this page only asks and shows."""
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from admin.base import SecureView, current_scope
from admin.changes import unit_of_work
from admin.pickers import chosen_form, chosen_period, period_choices
from service.aggregation.approvals import approval_status
from service.aggregation.queries import aggregate_unit
from service.approval import operations
from service.approval import queries as approval_queries
from service.extensions import db
from service.forms.registry import all_forms
from service.units.models import AdminUnit
from service.units.queries import unit_by_code


class ApprovalView(SecureView):
    access = {"admin": {"list"}, "data_steward": {"list"}}

    def _chosen(self):
        """(form, period, scope, filter unit or None) from the query string or the posted form."""
        form = chosen_form()
        scope = current_scope()
        period = chosen_period(form, default="reported", scope=scope)
        parent = None
        if request.values.get("unit"):
            parent = unit_by_code(request.values["unit"], period.edition)
            if parent is not None and parent.level == "commune":  # periods are approved by district or province
                parent = None
            scope.require_unit(parent)
        return form, period, scope, parent

    def _back(self, form, period, parent):
        return redirect(url_for(".index", form=form.code, period=period.code, unit=parent.code if parent else None))

    @expose("/")
    def index(self):
        form, period, scope, parent = self._chosen()
        rows = approval_status(form, period, scope, parent)
        locks = approval_queries.approved_locks(form.code, period.code)
        refusals = {row.unit.id: operations.approval_refusal(current_user, form, period, row.unit, locks)
                    for row in rows if not row.approved}
        reopen_refusals = {row.unit.id: operations.reopen_refusal(current_user, form, period, row.unit, locks)
                           for row in rows if row.approved}
        provinces = db.session.scalars(select(AdminUnit).where(
            AdminUnit.edition == period.edition, AdminUnit.level == "province",
            scope.unit_clause(AdminUnit, period.edition)).order_by(AdminUnit.sort_name)).all()
        return self.render("admin/aggregation/approvals.html", form=form, period=period, parent=parent, rows=rows,
                           refusals=refusals, reopen_refusals=reopen_refusals,
                           history=approval_queries.approval_history(form, period, scope, parent),
                           units=provinces if len(provinces) > 1 or parent else None,
                           period_choices=period_choices(form, chosen=period), forms=all_forms())

    def _posted_unit(self, scope):
        try:
            unit = db.session.get(AdminUnit, int(request.form.get("unit_id", "")))
        except ValueError:
            abort(404)
        scope.require_unit(unit)
        return unit

    @expose("/approve", methods=("POST",))
    def approve(self):
        form, period, scope, parent = self._chosen()
        unit = self._posted_unit(scope)
        found = aggregate_unit(form, period, unit, scope) if unit.edition == period.edition else None
        held_back = found.held_back if found else 0
        missing = (found.communes_total - found.communes_reported) if found else 0
        if (held_back or missing) and not request.form.get("confirm"):
            flash(_("Confirm that the %(held)s held-back report(s) and the %(missing)s commune(s) without a report "
                    "will not be in the official figures of %(name)s.", held=held_back, missing=missing,
                    name=unit.name), "error")
            return self._back(form, period, parent)
        with unit_of_work(_("%(name)s approved for %(period)s: the period is locked.", name=unit.name,
                            period=period.label())):
            operations.approve(current_user, form, period, unit, request.form.get("comment", ""))
        return self._back(form, period, parent)

    @expose("/reopen", methods=("POST",))
    def reopen(self):
        form, period, scope, parent = self._chosen()
        unit = self._posted_unit(scope)
        with unit_of_work(_("%(name)s reopened for %(period)s: reports are accepted again.", name=unit.name,
                            period=period.label())):
            operations.reopen(current_user, form, period, unit, request.form.get("reason", ""))
        return self._back(form, period, parent)
