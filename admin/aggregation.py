"""Aggregation in the admin (placeholders, filled in by the aggregation work): approval of periods, the
periodic report of a province or district, the dashboard, and the indicator targets."""
from flask_admin import expose

from admin.base import SecureView
from service.common import figures


class _Placeholder(SecureView):
    @expose("/")
    def index(self):
        return self.render("admin/index.html", scope=None, items=[])


class ApprovalView(SecureView):
    """Approval of a period: the units of the user's scope with their completeness, open error flags and status;
    approve (the districts, then the province) or reopen (from a level above), and the period's history. The
    rules live in service.approval.operations; this page only asks and shows."""

    access = {"admin": {"list"}, "data_steward": {"list"}}

    def _chosen(self):
        """(form, period, scope, filter unit or None) from the query string or the posted form."""
        from flask import abort, request
        from sqlalchemy import select

        from admin.base import current_scope
        from admin.submissions import chosen_form, today
        from service.extensions import db
        from service.forms.periods import PeriodError, period_containing
        from service.submissions.queries import latest_reported_period
        from service.units.models import AdminUnit

        form = chosen_form()
        scope = current_scope()
        code = request.values.get("period")
        if code:
            try:
                period = form.parse_period(code)
            except PeriodError:
                abort(404)
        else:
            period = latest_reported_period(form, scope) or period_containing(today(), form.period_types[0])
        parent = None
        if request.values.get("unit"):
            parent = db.session.execute(select(AdminUnit).where(
                AdminUnit.edition == period.edition, AdminUnit.code == request.values["unit"],
                AdminUnit.level != "commune")).scalar_one_or_none()
            scope.require_unit(parent)
        return form, period, scope, parent

    def _back(self, form, period, parent):
        from flask import redirect, url_for

        return redirect(url_for(".index", form=form.code, period=period.code, unit=parent.code if parent else None))

    @staticmethod
    def _period_choices(form, period):
        from admin.submissions import period_choices

        choices = []
        for label, periods in period_choices(form):
            if period.kind == periods[0].kind and period not in periods:
                periods = sorted([*periods, period], reverse=True)
            choices.append((label, periods))
        return choices

    @expose("/")
    def index(self):
        from flask_login import current_user
        from sqlalchemy import select

        from admin.submissions import all_forms
        from service.aggregation.approvals import approval_status
        from service.approval import operations
        from service.approval import queries as approval_queries
        from service.extensions import db
        from service.units.models import AdminUnit

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
        return self.render("admin/approvals.html", form=form, period=period, parent=parent, rows=rows,
                           refusals=refusals, reopen_refusals=reopen_refusals,
                           history=approval_queries.approval_history(form, period, scope, parent),
                           units=provinces if len(provinces) > 1 or parent else None,
                           period_choices=self._period_choices(form, period), forms=all_forms())

    def _posted_unit(self, scope):
        from flask import abort, request

        from service.extensions import db
        from service.units.models import AdminUnit

        try:
            unit = db.session.get(AdminUnit, int(request.form.get("unit_id", "")))
        except ValueError:
            abort(404)
        scope.require_unit(unit)
        return unit

    @expose("/approve", methods=("POST",))
    def approve(self):
        from flask import flash, request
        from flask_babel import gettext as _
        from flask_login import current_user

        from service.aggregation.queries import aggregate_unit
        from service.approval import operations
        from service.extensions import db

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
        try:
            operations.approve(current_user, form, period, unit, request.form.get("comment", ""))
            db.session.commit()
        except operations.ApprovalError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return self._back(form, period, parent)
        flash(_("%(name)s approved for %(period)s: the period is locked.", name=unit.name, period=period.label()),
              "success")
        return self._back(form, period, parent)

    @expose("/reopen", methods=("POST",))
    def reopen(self):
        from flask import flash, request
        from flask_babel import gettext as _
        from flask_login import current_user

        from service.approval import operations
        from service.extensions import db

        form, period, scope, parent = self._chosen()
        unit = self._posted_unit(scope)
        try:
            operations.reopen(current_user, form, period, unit, request.form.get("reason", ""))
            db.session.commit()
        except operations.ApprovalError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return self._back(form, period, parent)
        flash(_("%(name)s reopened for %(period)s: reports are accepted again.", name=unit.name,
                period=period.label()), "success")
        return self._back(form, period, parent)


class PeriodReportView(SecureView):
    """The periodic report of a province or district for a period, in the interface language (Vietnamese by
    default): on screen, as a print-only page (/print, no navigation), as an XLSX workbook (/report.xlsx) and the
    aggregate table as CSV (/aggregates.csv?level=). The unit is one of the provinces and districts of the user's
    scope in the period's unit list (any other is a 404); by default the user's own unit and the latest period
    with reports. The figures come from service.aggregation.reports."""

    access = {"admin": {"list"}, "data_steward": {"list"}, "training_coordinator": {"list"}}
    # Served at /admin/period-report/report.css (no CDN, no inline style or script).
    stylesheet = """
.report-section { margin-bottom: 1.5rem; }
.draft-mark, .approved-mark { display: inline-block; padding: .3rem .6rem; font-weight: bold; border: 2px solid; }
.draft-mark { color: #a4001d; border-color: #a4001d; letter-spacing: .02em; }
.approved-mark { color: #1d6b2f; border-color: #1d6b2f; }
.report-table td.number, .report-table th.number { text-align: right; white-space: nowrap; }
.report-table .indicator-name { min-width: 16rem; }
.report-table .target-column { min-width: 8rem; }
.trend-chart { max-width: 1000px; }
.report-signatures { display: flex; justify-content: space-around; margin-top: 2rem; text-align: center; }
.report-signatures div { min-width: 14rem; min-height: 6rem; }
.print-only { display: none; }
.print-page { padding: 1rem 1.5rem; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  nav.navbar, .no-print, .alert, #period-report-picker { display: none !important; }
  .print-only { display: block; }
  .report-signatures.print-only { display: flex; }
  body { font-size: 10pt; background: #fff; color: #000; }
  a { color: inherit; text-decoration: none; }
  .container, .container-fluid, .print-page { max-width: 100%; padding: 0; }
  .table td, .table th { padding: .15rem .3rem; }
  .table-responsive { overflow: visible; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, .bar-chart { break-inside: avoid; page-break-inside: avoid; }
  .draft-mark { color: #000; border-color: #000; }
}
"""

    def _units(self, scope, edition):
        """The provinces and districts of the scope in a unit list, each province followed by its districts."""
        from sqlalchemy import select

        from service.extensions import db
        from service.units.models import AdminUnit

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
        from flask import abort, request

        from admin.base import current_scope
        from service.common.time import local_today
        from service.forms.periods import PeriodError, period_containing
        from service.forms.registry import get_form
        from service.submissions.queries import latest_reported_period

        scope = current_scope()
        form = get_form(request.args.get("form") or "commune_rehab")
        if form is None:
            abort(404)
        if request.args.get("period"):
            try:
                period = form.parse_period(request.args["period"])
            except PeriodError:
                abort(404)
        else:
            period = latest_reported_period(form, scope) or period_containing(local_today(), form.period_types[0])
            if period.kind not in form.period_types:
                period = period_containing(local_today(), form.period_types[0])
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
        from flask import abort

        from service.aggregation.reports import period_report
        from service.common.time import local_today

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
        from flask import current_app

        view = next((v for v in current_app.extensions["admin"][0]._views
                     if getattr(v, "endpoint", None) == endpoint), None)
        return view is not None and view.is_accessible()

    @staticmethod
    def _chart(report):
        """The indicators over the last periods, as bar_chart groups (a provisional period says so)."""
        from flask_babel import gettext as _

        from admin.formats import percent_text

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
        from admin.formats import day_text, language, percent_text
        from admin.submissions import period_choices
        from service.aggregation.reports import LEVEL_LABELS, STATUS_LABELS
        from service.common.time import format_local
        from service.forms.registry import all_forms
        from service.training.models import METRICS, TOPICS

        _scope, form, period, units, report = self._report(require_unit=require_unit)
        choices = period_choices(form)
        if not any(period in periods for _label, periods in choices):
            choices = [(period.label(), [period]), *choices]
        args = {"form": form.code, "period": period.code, "unit": report.unit.id if report else None}
        return self.render(template, report=report, form=form, period=period, units=units, forms=all_forms(),
                           period_choices=choices, args=args, chart=self._chart(report) if report else None,
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
        return self._page("admin/period_report.html")

    @expose("/print")
    def print_view(self):
        return self._page("admin/period_report_print.html", require_unit=True, standalone=True)

    @expose("/report.css")
    def stylesheet_view(self):
        from flask import Response

        return Response(self.stylesheet, mimetype="text/css")

    @expose("/report.xlsx")
    def export_xlsx(self):
        from flask import Response

        from admin.formats import language
        from service.aggregation.reports import report_filename, report_sheets
        from service.common.export import XLSX_MIMETYPE, xlsx_bytes

        report = self._report()[-1]
        return Response(xlsx_bytes(report_sheets(report, language())), mimetype=XLSX_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename={report_filename(report, 'xlsx')}"})

    @expose("/aggregates.csv")
    def export_csv(self):
        """The aggregate table of the units at `level` under the report's unit (default: one level below)."""
        from flask import Response, abort, request

        from service.aggregation.queries import aggregate, approved_unit_ids
        from service.aggregation.reports import aggregate_table, approval_of, sub_level_of, under_approval
        from service.common.export import CSV_MIMETYPE, csv_bytes

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


class DashboardView(SecureView):
    """The dashboard of the user's scope, drawn by the service itself (inline SVG, no script, no CDN): programme
    indicators against their targets and their trend, the sub-units ranked by gap with their completeness,
    completeness and timeliness, training attainment, open flags by rule and facility occupancy; each chart with
    its table beside it. A coordinator sees training first; a facility manager sees their facility only
    (training, occupancy, its flags), no commune data. The figures come from service.aggregation.dashboard."""

    access = {role: {"list"} for role in ("admin", "data_steward", "training_coordinator", "facility_manager")}
    SECTIONS = {
        "admin": ("indicators", "ranking", "completeness", "flags", "training", "occupancy"),
        "data_steward": ("indicators", "ranking", "completeness", "flags", "training", "occupancy"),
        "training_coordinator": ("training", "indicators", "ranking", "completeness", "flags", "occupancy"),
        "facility_manager": ("training", "occupancy", "flags"),
    }
    CHART_MAX_UNITS = 40

    @staticmethod
    def _accessible(endpoint):
        from flask import current_app

        view = next((v for v in current_app.extensions["admin"][0]._views
                     if getattr(v, "endpoint", None) == endpoint), None)
        return view is not None and view.is_accessible()

    def _period(self, form, scope, today):
        """The requested period (?period=), else the latest with reports in the scope; a bad one is said."""
        from flask import flash, request
        from flask_babel import gettext as _

        from service.aggregation.dashboard import latest_reported_period
        from service.forms.periods import PeriodError

        raw = (request.args.get("period") or "").strip()
        if raw:
            try:
                return form.parse_period(raw)
            except PeriodError as exc:
                flash(_("%(message)s Showing the latest period with reports.", message=exc), "warning")
        return latest_reported_period(form, scope, today)

    @staticmethod
    def _period_choices(form, period, today):
        from admin.submissions import PERIODS_SHOWN
        from service.forms.periods import PERIOD_TYPES, recent_periods

        choices = []
        for kind in form.period_types:
            periods = recent_periods(kind, today, PERIODS_SHOWN[kind])
            if period.kind == kind and period not in periods:
                periods = sorted([*periods, period], reverse=True)
            choices.append((PERIOD_TYPES[kind], periods))
        return choices

    @staticmethod
    def _scope_label(scope):
        from flask_babel import gettext as _

        user = scope.user
        if scope.national:
            return _("the whole country")
        if user is not None and user.role == "facility_manager":
            return user.facility.name if user.facility else _("no facility assigned")
        return scope.unit.name if scope.unit is not None else _("no scope assigned")

    @expose("/")
    def index(self):
        from flask import request, url_for
        from flask_login import current_user

        from admin.base import current_scope
        from admin.facility_report import CHART_CAP, chart_data, province_label
        from admin.formats import day_text, language, percent_text
        from admin.training.common import localized
        from service.aggregation import dashboard
        from service.aggregation.indicators import all_indicators
        from service.common.time import local_today
        from service.facilities.models import MODALITIES, MODALITY_UNITS
        from service.facilities.queries import capacity_report
        from service.flags.models import SEVERITIES
        from service.forms.registry import get_form
        from service.training.models import METRICS
        from service.training.queries import visible_targets

        scope = current_scope()
        role = current_user.role
        sections = self.SECTIONS.get(role, ())
        today = local_today()
        form = get_form("commune_rehab")
        period = programme = None
        if "indicators" in sections and form is not None:
            period = self._period(form, scope, today)
            indicator = request.args.get("indicator")
            programme = figures.cached(
                "dashboard.programme", (form.code, period.code, figures.scope_key(scope), indicator),
                lambda: dashboard.programme(form, period, scope, indicator))
        pairs = visible_targets(scope)
        training, training_cut = dashboard.training_attainment(pairs, today)
        report = figures.cached("capacity_report", (figures.scope_key(scope), today, None, None),
                                lambda: capacity_report(scope, today))
        editions = {total.edition for total in report.provinces}
        labels = {total.province_id: province_label(total, editions) for total in report.provinces}
        flags = dashboard.open_flags_by_rule(scope, period)
        charts = _DashboardCharts(percent_text, self.CHART_MAX_UNITS, localized, METRICS)
        return self.render(
            "admin/dashboard.html", scope=scope, scope_label=self._scope_label(scope),
            rule_messages=_rule_messages(flags), severities=SEVERITIES, sections=sections, form=form, period=period,
            programme=programme, indicators=all_indicators(),
            period_choices=self._period_choices(form, period, today) if period else [],
            training=training, training_cut=training_cut, training_max=dashboard.TRAINING_MAX_TARGETS,
            report=report, occupancy=dashboard.occupancy_totals(report), flags=flags, today=today,
            figures_at=figures.computed_at(), fresh_url=url_for(".index", **{**request.args.to_dict(), "fresh": "1"}),
            occupancy_chart=chart_data(report, labels), chart_cap=CHART_CAP, modalities=MODALITIES,
            modality_units=MODALITY_UNITS, metrics=METRICS, localized=localized, charts=charts,
            percent_text=percent_text, points_text=points_text, day_text=day_text, language=language(),
            links={endpoint: self._accessible(endpoint) for endpoint in
                   ("flags", "completeness", "attainment", "capacity_report", "facilities")})


def _rule_messages(flags):
    """Rule → what it checks (from the expectation suites, in the user's language) for the rules of `flags`."""
    from admin.formats import language
    from service.rules.suites import rule as find_rule

    messages = {}
    for item in flags:
        definition = None
        for form_code in (item.form_code, "facility_census"):
            if form_code and definition is None:
                definition = find_rule(form_code, item.rule)
        if definition is not None:
            messages[item.rule] = definition.message(language())
    return messages


def points_text(value):
    """A distance in percentage points: 12.5 → "12,5" in Vietnamese; "—" without a value."""
    from admin.formats import language

    if value is None:
        return "—"
    text = f"{value:.1f}"
    return text.replace(".", ",") if language() == "vi" else text


class _DashboardCharts:
    """The chart data of the dashboard's sections, in the shape of admin/_charts.html's bar_chart."""

    def __init__(self, percent_text, max_units, localized, metrics):
        self.percent_text = percent_text
        self.max_units = max_units
        self.localized = localized
        self.metrics = metrics

    def _bar(self, series, value, target=None):
        bar = {"series": series, "value": value, "text": self.percent_text(value)}
        if target is not None:
            bar |= {"target": target, "target_text": self.percent_text(target, exact=True)}
        return bar

    def indicators(self, programme):
        return [{"label": item.indicator.name, "bars": [self._bar(0, item.value, item.target_value)]}
                for item in programme.measures]

    def trend(self, programme):
        return [{"label": point.period.label(), "bars": [self._bar(0, point.measure.value,
                                                                   point.measure.target_value)]}
                for point in programme.trend]

    def ranking(self, programme):
        return [{"label": row.unit.name, "bars": [self._bar(0, row.measure.value, row.measure.target_value)]}
                for row in programme.ranking[:self.max_units]]

    def completeness(self, programme):
        return [{"label": row.unit.name, "bars": [self._bar(0, row.aggregate.completeness),
                                                  self._bar(1, row.timeliness)]}
                for row in programme.units[:self.max_units]]

    def training_label(self, row):
        target = row.target
        return (f"{self.localized(target.role_category)} – {self.metrics.get(target.metric, target.metric)}"
                f" ({getattr(row.unit, 'name', '')})")

    def training(self, rows):
        return [{"label": self.training_label(row), "bars": [self._bar(0, row.percent, row.target_percent)]}
                for row in rows]

    @staticmethod
    def flags(flags):
        groups = {}
        for item in flags:
            group = groups.setdefault(item.rule, {"label": item.rule, "bars": []})
            group["bars"].append({"series": 0 if item.severity == "error" else 1, "value": item.count,
                                  "text": str(item.count)})
        return list(groups.values())

    @staticmethod
    def count_step(flags):
        """An axis step for counts: about five ticks."""
        largest = max((item.count for item in flags), default=1)
        for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
            if largest / step <= 6:
                return step
        return 10000
