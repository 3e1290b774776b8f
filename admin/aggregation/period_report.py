"""The periodic report of a province or district for a period, in the interface language (Vietnamese by default):
on screen, as a print-only page (/print, no navigation), as an XLSX workbook (/report.xlsx) and the aggregate
table as CSV (/aggregates.csv?level=). The unit is one of the provinces and districts of the user's scope in the
period's unit list (any other is a 404); by default the user's own unit and the latest period with reports. The
figures come from service.aggregation.reports."""
from flask import Response, abort, current_app, request, send_from_directory
from flask_admin import expose
from flask_babel import gettext as _
from sqlalchemy import select

from admin.base import SecureView, current_scope
from admin.formats import day_text, language, percent_text
from admin.links import view_for
from admin.pickers import chosen_form, chosen_period, period_choices
from service.aggregation.queries import aggregate, approved_unit_ids
from service.aggregation.reports import (
    LEVEL_LABELS,
    STATUS_LABELS,
    aggregate_table,
    approval_of,
    period_report,
    report_filename,
    report_sheets,
    sub_level_of,
    under_approval,
)
from service.common import figures
from service.common.export import CSV_MIMETYPE, XLSX_MIMETYPE, csv_bytes, xlsx_bytes
from service.common.time import format_local, local_today
from service.extensions import db
from service.forms.registry import all_forms
from service.training.models import METRICS, TOPICS
from service.units.models import AdminUnit

# In admin/static/, served at /admin/period-report/report.css (no CDN, no inline style or script).
STYLESHEET = "period_report.css"


class PeriodReportView(SecureView):
    access = {"admin": {"list"}, "data_steward": {"list"}, "training_coordinator": {"list"}}

    def _units(self, scope, edition):
        """The provinces and districts of the scope in a unit list, each province followed by its districts."""
        found = db.session.scalars(select(AdminUnit).where(
            AdminUnit.edition == edition, AdminUnit.level.in_(("province", "district")),
            scope.unit_clause(AdminUnit, edition)).order_by(AdminUnit.sort_name, AdminUnit.code)).all()
        provinces = [unit for unit in found if unit.level == "province"]
        placed = {unit.id for unit in provinces}
        ordered = []
        for province in provinces:
            ordered.append(province)
            ordered += [unit for unit in found if unit.level == "district" and unit.province_id == province.id]
        return ordered + [unit for unit in found if unit.level == "district" and unit.province_id not in placed]

    def _chosen(self):
        """(scope, form, period, units of the picker, chosen unit or None) from the query string."""
        scope = current_scope()
        form = chosen_form(strict=True)
        period = chosen_period(form, default="reported", scope=scope)
        units = self._units(scope, period.edition)
        raw = request.args.get("unit")
        if raw:
            unit = next((item for item in units if str(item.id) == raw), None)
            if unit is None:
                abort(404)
        else:
            own = scope.unit.id if scope.unit is not None else None
            unit = next((item for item in units if item.id == own), units[0] if units else None)
        return scope, form, period, units, unit

    def _report(self, require_unit=True):
        scope, form, period, units, unit = self._chosen()
        if unit is None:
            if require_unit:
                abort(404)
            return scope, form, period, units, None
        today = local_today()
        report = figures.cached("period_report", (form.code, period.code, unit.id, figures.scope_key(scope), today),
                                lambda: period_report(form, period, unit, scope, today))
        return scope, form, period, units, report

    @staticmethod
    def _can_open(endpoint):
        view = view_for(endpoint)
        return view is not None and view.is_accessible()

    @staticmethod
    def _chart(report):
        """The indicators over the last periods, as bar_chart groups (a provisional period says so)."""
        series = [point.period.label() if point.approved else _("%(period)s (provisional)",
                                                                 period=point.period.label())
                  for point in report.trend]
        groups = []
        for row in report.indicators:
            if all(value is None for value in row.trend):
                continue
            groups.append({"label": row.indicator.name, "bars": [
                {"series": index, "value": value, "text": percent_text(value)}
                for index, value in enumerate(row.trend)]})
        title = _("Indicators over the last %(count)s periods, %(unit)s", count=len(report.trend),
                  unit=report.unit.name)
        description = _("Each indicator in each period, in per cent; a dash means a denominator of zero. The "
                        "same figures are in the table of indicators.")
        return {"title": title, "description": description, "series": series, "groups": groups}

    def _page(self, template, require_unit=False, **extra):
        _scope, form, period, units, report = self._report(require_unit=require_unit)
        args = {"form": form.code, "period": period.code, "unit": report.unit.id if report else None}
        return self.render(template, report=report, form=form, period=period, units=units, forms=all_forms(),
                           period_choices=period_choices(form, chosen=period, chosen_apart=True), args=args,
                           chart=self._chart(report) if report else None,
                           levels=self._levels(report.unit) if report else [], level_labels=LEVEL_LABELS,
                           status_labels=STATUS_LABELS, flag_links=self._can_open("flags"), language=language(),
                           metrics=METRICS, topics=TOPICS, percent_text=percent_text, day_text=day_text,
                           format_local=format_local, **extra)

    @staticmethod
    def _levels(unit):
        """The levels whose aggregate table can be exported for a unit: its own and those below it."""
        below = {"province": ["province", "district", "commune"], "district": ["district", "commune"]}
        levels = below.get(unit.level, [unit.level])
        return [level for level in levels if not (unit.edition == 2025 and level == "district")]

    @expose("/")
    def index(self):
        return self._page("admin/aggregation/period_report.html")

    @expose("/print")
    def print_view(self):
        return self._page("admin/aggregation/period_report_print.html", require_unit=True, standalone=True)

    @expose("/report.css")
    def stylesheet_view(self):
        return send_from_directory(current_app.static_folder, STYLESHEET, mimetype="text/css")

    @expose("/report.xlsx")
    def export_xlsx(self):
        report = self._report()[-1]
        return Response(xlsx_bytes(report_sheets(report, language())), mimetype=XLSX_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename={report_filename(report, 'xlsx')}"})

    @expose("/aggregates.csv")
    def export_csv(self):
        """The aggregate table of the units at `level` under the report's unit (default: one level below)."""
        scope, form, period, _units, unit = self._chosen()
        if unit is None:
            abort(404)
        level = request.args.get("level") or sub_level_of(unit)
        if level not in self._levels(unit):
            abort(400)
        approved = approval_of(form, period, unit).approved
        items = aggregate(form, period, level, scope=scope, parent=unit, approved_only=approved)
        locks = approved_unit_ids(form.code, period.code)
        header, rows = aggregate_table(form, items, approved=lambda item: approved or under_approval(locks, item.unit))
        name = f"tong_hop_{form.code}_{period.code}_{unit.code}_{level}.csv"
        return Response(csv_bytes(header, rows), mimetype=CSV_MIMETYPE,
                        headers={"Content-Disposition": f"attachment; filename={name}"})
