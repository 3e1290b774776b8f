"""Validation in the admin: the flag list (filters, bulk accept), a flag's page (explain, accept, reopen),
the list of runs, a run's report and its Great Expectations Data Docs."""
from datetime import date

from flask import abort, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select, true

from admin.base import READ, ScopedModelView, choice_filter, current_scope, form_choices, form_name
from admin.changes import unit_of_work
from service.common.urls import safe_next
from service.extensions import db
from service.facilities.models import MODALITIES
from service.flags import operations
from service.flags.models import FLAG_STATUSES, SEVERITIES, Flag
from service.forms.registry import get_form
from service.validation import queries
from service.validation.consistency import COLUMN_LABELS as CENSUS_COLUMN_LABELS
from service.validation.docs import unpack
from service.validation.models import RUN_STATUSES, TRIGGERS, ValidationRun

SUBJECTS = {"report": _l("commune report"), "facility": _l("facility"), "staff": _l("staff member")}

DERIVED_LABELS = {
    "modalities_sum": _l("sum of the modalities"),
    "completed_to_date": _l("completed rehab to date"),
    "addicts_plus_users": _l("addicts and users with a record together"),
    "is_commune_in_edition": _l("is a commune of the period's unit list (1 = yes)"),
    "current_versions": _l("current versions"),
    "missing_required": _l("required values missing"),
    "invalid_numbers": _l("counts that are not whole non-negative numbers"),
    "invalid_choices": _l("values outside their lists"),
    "staff_code": _l("Staff code"),
    "expires_on": _l("Expires on"),
    # facility checks
    "modality": _l("Modality"),
    "census_date": _l("Census date"),
    "capacity": _l("Capacity"),
    "current_count": _l("Current count"),
    "max_age_days": _l("Census older than (days)"),
    "licence_number": _l("Licence number"),
    "licence_expires_on": _l("Licence expires on"),
    "role": _l("Role category"),
    "qualification": _l("Required qualification"),
    "required": _l("Required (people)"),
    "present": _l("Present (people)"),
}
DERIVED_LABELS.update(CENSUS_COLUMN_LABELS)
DATE_VALUES = ("census_date", "licence_expires_on", "expires_on")


def observed_label(form, code):
    """A reader's name for an observed value: the form field's label, or what a derived column means."""
    for suffix, text in (("_mod_z", _l("modified z-score")), ("_previous", _l("previous period"))):
        if code.endswith(suffix):
            item = form.field(code[: -len(suffix)]) if form else None
            return f"{item.label if item else code[: -len(suffix)]} — {text}"
    item = form.field(code) if form else None
    return item.label if item else str(DERIVED_LABELS.get(code, code))


def _reference_names(kind):
    """code → name of the role categories or qualification types (read once per request)."""
    from service.training.models import QualificationType, RoleCategory

    key = f"observed_{kind}_names"
    if key not in g:
        model = RoleCategory if kind == "role" else QualificationType
        english = str(get_locale() or "vi")[:2] == "en"
        setattr(g, key, {item.code: item.name_en if english else item.name_vi
                         for item in db.session.scalars(select(model))})
    return g.get(key)


def _observed_value(code, value):
    """A value as a reader says it: a modality by its name, a date as dd/mm/yyyy."""
    if code == "modality":
        return MODALITIES.get(value, value)
    if code in ("role", "qualification"):
        return _reference_names(code).get(value, value)
    if code in DATE_VALUES and isinstance(value, str):
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return value


def _observed(flag):
    form = get_form(flag.form_code) if flag.form_code else None
    parts = []
    for code, value in (flag.observed or {}).items():
        if code.endswith("_jump") or code.endswith("_conflict") or code == "facility_treatment_without_facility":
            continue  # the 0/1 verdict itself; the values it was computed from are shown
        shown = "—" if value is None else _observed_value(code, value)
        parts.append(f"<span class='text-nowrap'>{escape(observed_label(form, code))}: "
                     f"<strong>{escape(shown)}</strong></span>")
    return Markup("<br>".join(parts))


def _facility_link(flag):
    """The facility of a flag, linked to its page (the facility view keeps its own scope)."""
    if flag.facility is None:
        return ""
    from admin.facilities.registry import FacilityView

    if current_user.role not in FacilityView.access:
        return f"{flag.facility.code} – {flag.facility.name}"
    url = url_for("facilities.overview", facility_id=flag.facility_id)
    return Markup(f"<a href='{escape(url)}'>{escape(flag.facility.code)} – {escape(flag.facility.name)}</a>")


class FlagView(ScopedModelView):
    access = {"admin": READ | {"edit"}, "data_steward": READ | {"edit"}, "commune_reporter": {"list", "details"},
              "facility_manager": {"list", "details"}}
    scope_clause = staticmethod(lambda scope: scope.flag_clause(Flag))
    details_template = "admin/validation/flag_details.html"
    column_list = ("period", "org_unit", "facility", "rule", "severity", "status", "message_vi", "observed",
                   "updated_at")
    column_details_list = ("subject", "period", "form_code", "org_unit", "facility", "rule", "severity", "status",
                           "message_vi", "observed", "opened_at", "updated_at", "explanation", "explained_by",
                           "explained_at", "accepted_reason", "accepted_by", "accepted_at", "resolved_at",
                           "submission")
    column_export_list = ("subject", "period", "form_code", "org_unit.code", "org_unit.name", "facility.code",
                          "facility.name", "rule", "severity", "status", "message_vi", "observed", "opened_at",
                          "explanation", "accepted_reason", "resolved_at")
    column_filters = ("period", "rule", choice_filter(Flag.severity, _l("Severity"), SEVERITIES),
                      choice_filter(Flag.status, _l("Status"), FLAG_STATUSES),
                      choice_filter(Flag.form_code, _l("Form"), form_choices), "org_unit.code", "org_unit.name",
                      choice_filter(Flag.subject, _l("Subject"), SUBJECTS), "facility.code",
                      "opened_at")
    column_default_sort = [("updated_at", True)]
    column_labels = {
        "period": _l("Period"), "form_code": _l("Form"), "org_unit": _l("Commune"), "rule": _l("Rule"),
        "severity": _l("Severity"), "status": _l("Status"), "message_vi": _l("Problem"), "observed": _l("Values"),
        "opened_at": _l("Opened"), "updated_at": _l("Updated"), "explanation": _l("Explanation"),
        "explained_by": _l("Explained by"), "explained_at": _l("Explained at"),
        "accepted_reason": _l("Justification"), "accepted_by": _l("Accepted by"), "accepted_at": _l("Accepted at"),
        "resolved_at": _l("Resolved at"), "submission": _l("Report version"), "org_unit.code": _l("Unit code"),
        "org_unit.name": _l("Commune"), "subject": _l("Subject"), "facility": _l("Facility"),
        "facility.code": _l("Facility code"), "facility.name": _l("Facility"),
    }
    column_formatters = {
        "observed": lambda v, c, m, n: _observed(m),
        "severity": lambda v, c, m, n: Markup(
            f"<span class='badge badge-{'danger' if m.severity == 'error' else 'warning'}'>"
            f"{escape(m.severity_label)}</span>"),
        "status": lambda v, c, m, n: m.status_label,
        "subject": lambda v, c, m, n: SUBJECTS.get(m.subject, m.subject),
        "facility": lambda v, c, m, n: _facility_link(m),
        "message_vi": lambda v, c, m, n: m.message(str(get_locale() or "vi")[:2]),
        "form_code": form_name,
    }
    column_formatters_export = {"observed": lambda v, c, m, n: m.observed, "status": lambda v, c, m, n: m.status,
                                "severity": lambda v, c, m, n: m.severity}

    # Flags change through explain / accept / reopen only (service.flags.operations), never Flask-Admin's
    # generic edit form; the "edit" right opens those steps.
    can_edit = False

    def is_action_allowed(self, name):
        """Bulk actions (accepting) are for those who may change flags."""
        return "edit" in self.rights() and super().is_action_allowed(name)

    def get_query(self):
        from sqlalchemy.orm import joinedload

        return super().get_query().options(joinedload(Flag.org_unit), joinedload(Flag.facility))

    def _flag(self, flag_id):
        return self.get_one(str(flag_id))

    def _back(self, flag):
        return redirect(safe_next(request.form.get("next"), url_for(".details_view", id=flag.id)))

    def _step(self, flag_id, step, *args):
        flag = self._flag(flag_id)
        with unit_of_work(lambda _result: _("Flag %(rule)s: %(status)s.", rule=flag.rule, status=flag.status_label)):
            step(current_user, flag, *args)
        return self._back(flag)

    @expose("/explain/<int:flag_id>", methods=("POST",))
    def explain(self, flag_id):
        return self._step(flag_id, operations.explain_flag, request.form.get("explanation"))

    @expose("/accept/<int:flag_id>", methods=("POST",))
    def accept(self, flag_id):
        return self._step(flag_id, operations.accept_flag, request.form.get("reason"))

    @expose("/reopen/<int:flag_id>", methods=("POST",))
    def reopen(self, flag_id):
        return self._step(flag_id, operations.reopen_flag)

    @action("accept", _l("Accept with a justification"), None)
    def action_accept(self, ids):
        return redirect(url_for(".accept_many", ids=",".join(str(i) for i in self.coerce_ids(ids))))

    @expose("/accept-many/", methods=("GET", "POST"))
    def accept_many(self):
        if current_user.role not in operations.STEWARD_ROLES:
            abort(403)
        ids = [int(value) for value in (request.values.get("ids") or "").split(",") if value.isdigit()]
        flags = self.get_query().filter(Flag.id.in_(ids)).all()
        if request.method == "POST":
            with unit_of_work(_("%(count)s flag(s) accepted.", count=len(flags))) as work:
                for flag in flags:
                    operations.accept_flag(current_user, flag, request.form.get("reason"))
            if work.ok:
                return redirect(url_for(".index_view"))
        return self.render("admin/validation/flag_accept_many.html", flags=flags, ids=",".join(map(str, ids)))


class ValidationRunView(ScopedModelView):
    access = {"admin": {"list", "details"}, "data_steward": {"list", "details"}}
    scope_clause = staticmethod(lambda scope: true())
    can_view_details = False
    column_list = ("id", "trigger", "form_code", "periods", "status", "started_at", "duration_s",
                   "reports_checked", "reports_failing", "flags_opened", "flags_closed")
    column_details_list = column_list
    column_default_sort = [("id", True)]
    column_filters = (choice_filter(ValidationRun.status, _l("Status"), RUN_STATUSES),
                      choice_filter(ValidationRun.trigger, _l("Trigger"), TRIGGERS),
                      choice_filter(ValidationRun.form_code, _l("Form"), form_choices))
    column_labels = {
        "id": _l("Run"), "trigger": _l("Trigger"), "form_code": _l("Form"), "periods": _l("Periods"),
        "status": _l("Status"), "started_at": _l("Started"), "duration_s": _l("Seconds"),
        "reports_checked": _l("Reports checked"), "reports_failing": _l("Reports failing"),
        "flags_opened": _l("Flags opened"), "flags_closed": _l("Flags closed"),
    }
    column_formatters = {
        "id": lambda v, c, m, n: Markup(f"<a href='{url_for('.report', run_id=m.id)}'>#{m.id}</a>"),
        "periods": lambda v, c, m, n: ", ".join(m.periods or []),
        "status": lambda v, c, m, n: m.status_label,
        "trigger": lambda v, c, m, n: m.trigger_label,
        "form_code": form_name,
    }

    @expose("/report/<int:run_id>")
    def report(self, run_id):
        run = db.session.get(ValidationRun, run_id) or abort(404)
        scope = current_scope()
        return self.render("admin/validation/run.html", run=run, report=queries.run_report(run, scope),
                           docs_allowed=queries.run_within_scope(run, scope), severities=SEVERITIES)

    @expose("/docs/<int:run_id>/<period>")
    def docs(self, run_id, period):
        run = db.session.get(ValidationRun, run_id) or abort(404)
        if not queries.run_within_scope(run, current_scope()):
            abort(403)
        pages = unpack(db.session.scalar(select(ValidationRun.data_docs).where(ValidationRun.id == run_id)))
        if period not in pages:
            abort(404)
        stylesheet = url_for("admin.static", filename="bootstrap/bootstrap4/css/bootstrap.min.css")
        html = pages[period].replace("<head>", f'<head><link rel="stylesheet" href="{stylesheet}">', 1)
        response = self.app.response_class(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self' 'unsafe-inline'; "
                                                       "img-src 'self' data:; frame-ancestors 'none'")
        return response

    @property
    def app(self):
        from flask import current_app

        return current_app



