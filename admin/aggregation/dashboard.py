"""The dashboard of the user's scope, drawn by the service itself (inline SVG, no script, no CDN): programme
indicators against their targets and their trend, the sub-units ranked by gap with their completeness,
completeness and timeliness, training attainment, open flags by rule and facility occupancy; each chart with its
table beside it. A coordinator sees training first; a facility manager sees their facility only (training,
occupancy, its flags), no commune data. The figures come from service.aggregation.dashboard."""
from flask import request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from admin.base import SecureView, current_scope
from admin.facilities.report import CHART_CAP, chart_data, province_label
from admin.formats import day_text, language, percent_text
from admin.links import view_for
from admin.pickers import DEFAULT_FORM, chosen_period, period_choices
from admin.training.common import localized
from service.aggregation import dashboard
from service.aggregation.indicators import all_indicators
from service.common import figures
from service.common.time import local_today
from service.facilities.models import MODALITIES, MODALITY_UNITS
from service.facilities.queries import capacity_report
from service.flags.models import SEVERITIES
from service.forms.registry import get_form
from service.rules.suites import rule as find_rule
from service.training.models import METRICS
from service.training.queries import visible_targets


class DashboardView(SecureView):
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
        view = view_for(endpoint)
        return view is not None and view.is_accessible()

    @staticmethod
    def _scope_label(scope):
        user = scope.user
        if scope.national:
            return _("the whole country")
        if user is not None and user.role == "facility_manager":
            return user.facility.name if user.facility else _("no facility assigned")
        return scope.unit.name if scope.unit is not None else _("no scope assigned")

    @expose("/")
    def index(self):
        scope = current_scope()
        role = current_user.role
        sections = self.SECTIONS.get(role, ())
        today = local_today()
        form = get_form(DEFAULT_FORM)
        period = programme = None
        if "indicators" in sections and form is not None:
            # The requested period, else the latest that has begun with reports in the scope; a bad one is said.
            period = chosen_period(form, default="begun", scope=scope, lenient=True, on=today)
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
            "admin/aggregation/dashboard.html", scope=scope, scope_label=self._scope_label(scope),
            rule_messages=_rule_messages(flags), severities=SEVERITIES, sections=sections, form=form, period=period,
            programme=programme, indicators=all_indicators(),
            period_choices=period_choices(form, chosen=period, on=today) if period else [],
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
