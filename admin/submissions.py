"""Commune reports in the admin: entry by web form or spreadsheet, version history, submitted reports,
uploads, completeness and timeliness, and the reminder list."""
from io import BytesIO

from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select, true
from sqlalchemy.orm import joinedload

from admin.base import (
    READ,
    ScopedModelView,
    SecureView,
    choice_filter,
    current_scope,
    form_choices,
    form_name,
    labelled,
)
from admin.changes import unit_of_work
from admin.formats import requested_page
from admin.pickers import chosen_form, chosen_period, period_choices
from service.accounts.models import User
from service.approval.queries import lock_for
from service.common.errors import detail_lines
from service.extensions import db
from service.flags.queries import flags_of_report
from service.forms.registry import all_forms, get_form
from service.submissions import imports, operations, queries
from service.submissions.checks import check_values
from service.submissions.models import CHANNELS, SUBMISSION_STATUSES, UPLOAD_STATUSES, Reminder, Submission, Upload
from service.units.models import AdminUnit
from service.units.queries import unit_by_code

MAX_SELECT_COMMUNES = 400


class ReportEntryView(SecureView):
    """Enter one commune's report for a period: the form, the previous period beside each field, or a file."""

    access = {role: {"list"} for role in operations.SUBMITTING_ROLES}

    def _commune(self, period, communes):
        code = request.values.get("commune")
        if code:
            for unit in communes:
                if unit.code == code:
                    return unit
            abort(404)
        return communes[0] if len(communes) == 1 else None

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = chosen_form()
        period = chosen_period(form)
        scope = current_scope()
        communes = queries.communes_under(scope, None, period.edition)
        unit = self._commune(period, communes) if communes else None
        raw, errors, previous, current, lock = {}, {}, None, None, None
        if unit is not None:
            current = queries.current_submission(form.code, period.code, unit)
            previous = queries.current_submission(form.code, period.previous().code, unit)
            lock = lock_for(form.code, period.code, unit)
            raw = {code: value for code, value in (current.values.items() if current else ())}
        verdicts = None
        if request.method == "POST" and unit is not None and request.form.get("action") == "check":
            raw = {item.code: request.form.get(item.code, "") for item in form.fields}
            values, field_errors = form.clean(raw)
            errors = field_errors
            if not field_errors:
                verdicts = check_values(form, period, unit, values)
        elif request.method == "POST" and unit is not None:
            raw = {item.code: request.form.get(item.code, "") for item in form.fields}
            with unit_of_work(lambda submission: _(
                    "Report received: %(commune)s, %(period)s, version %(version)s.", commune=unit.name,
                    period=period.label(), version=submission.version)) as work:
                work.result = submission = operations.submit(current_user, form, period, unit, raw, "web")
            if work.ok:
                if submission.verdicts:
                    flash(_("The report is stored; %(count)s check(s) need an answer: see the flags below.",
                            count=len(submission.verdicts)), "warning")
                return redirect(url_for(".history", form=form.code, period=period.code, commune=unit.code))
            errors = {item["field"]: item.get("message", "") for item in getattr(work.error, "details", ())
                      if "field" in item}
        return self.render(
            "admin/submissions/report_entry.html", form=form, period=period, unit=unit, communes=communes,
            many=len(communes) > MAX_SELECT_COMMUNES, raw=raw, errors=errors, previous=previous,
            current=current, lock=lock, period_choices=period_choices(form), forms=all_forms(),
            due=form.due_date(period, operations.province_of(unit)) if unit else None,
            upload=None, upload_lines=[], verdicts=verdicts)

    @expose("/template.xlsx")
    def template(self):
        form = chosen_form()
        period = chosen_period(form)
        communes = queries.communes_under(current_scope(), None, period.edition)
        data = imports.build_template(form, period, communes)
        return send_file(BytesIO(data), as_attachment=True, download_name=f"{form.code}_{period.code}.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @expose("/upload", methods=("POST",))
    def upload(self):
        form = chosen_form()
        period = chosen_period(form)
        file = request.files.get("file")
        if file is None or not file.filename:
            flash(_("Choose a file to send."), "error")
            return redirect(url_for(".index", form=form.code, period=period.code))
        with unit_of_work() as work:
            upload, submissions = imports.import_table(current_user, form, period, file.filename, file.read())
        if not work.ok:
            return redirect(url_for(".index", form=form.code, period=period.code))
        if upload.status == "accepted":
            flash(_("File accepted: %(count)s report(s) stored for %(period)s.", count=len(submissions),
                    period=period.label()), "success")
            flagged = sum(1 for submission in submissions if getattr(submission, "verdicts", None))
            if flagged:
                flash(_("%(count)s of these reports break a check and are flagged; each has to be answered.",
                        count=flagged), "warning")
            return redirect(url_for("submissions.index_view", flt0_0=period.code))
        flash(_("The file was not imported: %(count)s error(s). Nothing was stored.", count=len(upload.errors)),
              "error")
        communes = queries.communes_under(current_scope(), None, period.edition)
        return self.render(
            "admin/submissions/report_entry.html", form=form, period=period, unit=None, communes=communes,
            many=len(communes) > MAX_SELECT_COMMUNES, raw={}, errors={}, previous=None,
            current=None, lock=None, period_choices=period_choices(form), forms=all_forms(),
            due=None, upload=upload, upload_lines=upload.errors, verdicts=None)

    @expose("/history/")
    def history(self):
        form = chosen_form()
        period = chosen_period(form)
        unit = unit_by_code(request.args.get("commune"), period.edition)
        current_scope().require_unit(unit)
        versions = queries.history(form.code, period.code, unit)
        return self.render(
            "admin/submissions/report_history.html", form=form, period=period, unit=unit, versions=versions,
            changes={v.id: operations.changes(v) for v in versions},
            flags=flags_of_report(form.code, period.code, unit.id))


COMPLETENESS_PAGE = 200  # communes per page (the country has 3,321; the summaries above count them all)


class CompletenessView(SecureView):
    """Which communes of a district or province have reported a period, on time or late, and which have not."""

    access = {"admin": {"list"}, "data_steward": {"list"}}

    @expose("/")
    def index(self):
        form = chosen_form()
        period = chosen_period(form)
        scope = current_scope()
        parent = None
        if request.args.get("unit"):
            parent = unit_by_code(request.args["unit"], period.edition)
            scope.require_unit(parent)
        elif scope.unit is not None and scope.unit.edition == period.edition:
            parent = scope.unit
        report = queries.completeness(form, period, parent, scope)
        units = db.session.scalars(select(AdminUnit).where(
            AdminUnit.edition == period.edition, AdminUnit.level != "commune",
            scope.unit_clause(AdminUnit, period.edition)).order_by(AdminUnit.level.desc(), AdminUnit.sort_name)
        ).all()
        status = request.args.get("status")
        rows = [row for row in report.rows if not status or row.status == status]
        page, pages, first = requested_page(len(rows), COMPLETENESS_PAGE)
        return self.render(
            "admin/submissions/completeness.html", form=form, period=period, parent=parent, report=report,
            rows=rows[first:first + COMPLETENESS_PAGE], matching=len(rows),
            page=page, pages=pages, status=status, units=units, period_choices=period_choices(form),
            forms=all_forms())


def _submission_scope(scope):
    return scope.units_column_clause(Submission.org_unit_id)


class SubmissionView(ScopedModelView):
    access = {"admin": READ, "data_steward": READ, "commune_reporter": READ, "training_coordinator": READ}
    scope_clause = staticmethod(_submission_scope)
    can_set_page_size = True
    column_list = ("period", "form_code", "org_unit", "version", "is_current", "on_time", "channel",
                   "submitted_at", "submitted_by")
    column_details_list = ("period", "form_code", "form_version", "org_unit", "version", "is_current", "status",
                           "values", "submitted_at", "submitted_by", "channel", "due_date", "on_time", "upload")
    column_export_list = ("period", "form_code", "org_unit.code", "org_unit.name", "version", "is_current",
                          "on_time", "channel", "submitted_at", "submitted_by.username", "values")
    column_filters = ("period", choice_filter(Submission.form_code, _l("Form"), form_choices), "is_current", "on_time",
                      choice_filter(Submission.channel, _l("Channel"), CHANNELS), "version")
    column_searchable_list = ("period",)
    column_default_sort = [("submitted_at", True)]
    column_labels = {
        "period": _l("Period"), "form_code": _l("Form"), "form_version": _l("Form version"),
        "org_unit": _l("Commune"), "version": _l("Version"), "is_current": _l("Current"),
        "on_time": _l("On time"), "channel": _l("Channel"), "submitted_at": _l("Submitted at"),
        "submitted_by": _l("Submitted by"), "status": _l("Status"), "values": _l("Values"),
        "due_date": _l("Due date"), "upload": _l("Upload"), "org_unit.code": _l("Unit code"),
        "org_unit.name": _l("Commune"), "submitted_by.username": _l("Submitted by"),
    }
    column_formatters = {
        "submitted_by": lambda v, c, m, n: m.submitted_by.username,
        "values": lambda v, c, m, n: _format_values(m),
        "channel": lambda v, c, m, n: m.channel_label,
        "form_code": form_name,
        "status": labelled(SUBMISSION_STATUSES),
    }

    def get_query(self):
        return super().get_query().options(joinedload(Submission.org_unit), joinedload(Submission.submitted_by))


def _format_values(submission):
    from markupsafe import Markup, escape

    form = get_form(submission.form_code)
    rows = []
    for code, value in submission.values.items():
        item = form.field(code) if form else None
        label = item.label if item else code
        shown = item.choice_label(value) if item and item.type == "choice" else (
            (_("yes") if value else _("no")) if isinstance(value, bool) else value)
        rows.append(f"<tr><th class='font-weight-normal'>{escape(label)}</th><td>{escape(shown)}</td></tr>")
    return Markup("<table class='table table-sm mb-0'>" + "".join(rows) + "</table>")


def _upload_scope(scope):
    if scope.national:
        return true()
    return or_(Upload.uploaded_by_id == scope.user.id, Upload.uploaded_by_id.in_(
        select(User.id).where(scope.user_clause(User))))


class UploadView(ScopedModelView):
    access = {"admin": READ, "data_steward": READ, "commune_reporter": READ}
    scope_clause = staticmethod(_upload_scope)
    column_list = ("uploaded_at", "uploaded_by", "form_code", "period", "filename", "status", "rows")
    column_details_list = ("uploaded_at", "uploaded_by", "form_code", "period", "filename", "size", "sha256",
                           "status", "rows", "errors")
    column_export_list = ("uploaded_at", "uploaded_by.username", "form_code", "period", "filename", "status", "rows")
    column_filters = (choice_filter(Upload.status, _l("Status"), UPLOAD_STATUSES), "period",
                      choice_filter(Upload.form_code, _l("Form"), form_choices))
    column_default_sort = [("uploaded_at", True)]
    column_labels = {
        "uploaded_at": _l("Uploaded at"), "uploaded_by": _l("Uploaded by"), "form_code": _l("Form"),
        "period": _l("Period"), "filename": _l("File"), "status": _l("Status"), "rows": _l("Rows"),
        "errors": _l("Errors"), "size": _l("Size (bytes)"), "sha256": "SHA-256",
        "uploaded_by.username": _l("Uploaded by"),
    }
    column_formatters = {
        "uploaded_by": lambda v, c, m, n: m.uploaded_by.username,
        "errors": lambda v, c, m, n: "\n".join(detail_lines(m.errors)),
        "form_code": form_name,
        "status": labelled(UPLOAD_STATUSES),
    }


def _reminder_scope(scope):
    return scope.units_column_clause(Reminder.org_unit_id)


class ReminderView(ScopedModelView):
    access = {"admin": READ, "data_steward": READ}
    scope_clause = staticmethod(_reminder_scope)
    column_list = ("period", "form_code", "org_unit", "due_date", "created_at", "resolved_at")
    column_details_list = column_list
    column_formatters = {"form_code": form_name}
    column_export_list = ("period", "form_code", "org_unit.code", "org_unit.name", "due_date", "resolved_at")
    column_filters = ("period", choice_filter(Reminder.form_code, _l("Form"), form_choices), "resolved_at", "due_date")
    column_default_sort = [("due_date", True)]
    column_labels = {
        "period": _l("Period"), "form_code": _l("Form"), "org_unit": _l("Commune"), "due_date": _l("Due date"),
        "created_at": _l("Listed on"), "resolved_at": _l("Reported on"), "org_unit.code": _l("Unit code"),
        "org_unit.name": _l("Commune"),
    }
