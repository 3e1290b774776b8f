"""The province-wide capacity report: occupancy per modality per facility and per province on a day, a chart
drawn by the service itself (inline SVG, no script, no CDN), every open facility flag of the scope, and the
same rows as XLSX or CSV. Administrators, data stewards and training coordinators read it, within their scope;
facility managers have their own facility's pages instead."""
from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _

from admin.base import SecureView, current_scope
from admin.formats import day_text, language, percent_text, requested_day, requested_page
from admin.links import view_for
from service.common import figures
from service.common.export import CSV_MIMETYPE, XLSX_MIMETYPE, csv_bytes, xlsx_bytes
from service.common.time import format_local
from service.facilities.models import FACILITY_STATUSES, MODALITIES, MODALITY_UNITS
from service.facilities.queries import Totals, capacity_report, open_facility_flags, report_provinces

EXPORT_MAX_ROWS = 50_000
FACILITY_PAGE = 100  # facilities per page of the table (the province totals and the chart count them all)
FLAGS_SHOWN = 200  # open facility flags listed on the page; the flag list has them all
CHART_MAX_FACILITIES = 60
CHART_CAP = 200


def _view_accessible(endpoint):
    """Whether the current user may open another admin view (to link to it only then)."""
    view = view_for(endpoint)
    return view is not None and view.is_accessible()


def province_label(unit, editions):
    """A province's name, with its unit-list edition when the report holds provinces of both editions."""
    return f"{unit.name} ({unit.edition})" if len(editions) > 1 else unit.name


def _bar(index, figures):
    """A bar of the chart: the rate; "no census" when there are places but no count, a dash when no places."""
    counted = figures.facilities > 0 if isinstance(figures, Totals) else figures.current is not None
    return {"series": index, "value": figures.rate,
            "text": percent_text(figures.rate) if counted else _("no census")}


def _bars(figures_by_modality, modalities):
    return [_bar(index, figures_by_modality[modality]) for index, modality in enumerate(modalities)
            if not figures_by_modality[modality].empty]


def chart_data(report, labels):
    """The chart of a report: per province when it holds several, else per facility (the
    CHART_MAX_FACILITIES fullest when there are more)."""
    modalities = report.modalities()
    series = [str(MODALITIES[modality]) for modality in modalities]
    day = day_text(report.day)
    if len(report.provinces) > 1:
        groups = [{"label": labels.get(total.province_id, total.name), "bars": _bars(total.totals, modalities)}
                  for total in report.provinces]
        title = _("Occupancy rate by modality and province on %(date)s", date=day)
        note = None
    else:
        rows = [row for row in report.rows if row.has_figures]
        note = None
        if len(rows) > CHART_MAX_FACILITIES:
            fullest = sorted(rows, key=lambda row: -max((f.rate or 0) for f in row.figures.values()))
            keep = {row.facility_id for row in fullest[:CHART_MAX_FACILITIES]}
            rows = [row for row in rows if row.facility_id in keep]
            note = _("The chart shows the %(count)d facilities with the highest occupancy; the table shows all.",
                     count=CHART_MAX_FACILITIES)
        groups = [{"label": f"{row.code} – {row.name}", "bars": _bars(row.figures, modalities)} for row in rows]
        name = labels.get(report.provinces[0].province_id, report.provinces[0].name) if report.provinces else ""
        title = _("Occupancy rate by modality and facility, %(province)s, on %(date)s", province=name, date=day)
    description = _("Occupants as a share of places, by modality. The dashed line marks full capacity; a bar "
                    "beyond it is over capacity. A dash means no places. The same figures are in the table.")
    return {"title": title, "description": description, "groups": [g for g in groups if g["bars"]],
            "series": series, "note": note}


class CapacityReportView(SecureView):
    access = {"admin": {"list"}, "data_steward": {"list"}, "training_coordinator": {"list"}}

    def _day(self):
        return requested_day()

    def _province(self, provinces):
        """The chosen province, one of those of the scope; any other id is a 404."""
        raw = request.args.get("province") or ""
        if not raw:
            return None
        found = next((unit for unit in provinces if str(unit.id) == raw), None)
        if found is None:
            abort(404)
        return found

    def _report(self, limit=None):
        scope = current_scope()
        day = self._day()
        provinces = report_provinces(scope)
        province = self._province(provinces)
        report = figures.cached(
            "capacity_report", (figures.scope_key(scope), day, province.id if province else None, limit),
            lambda: capacity_report(scope, day, province, limit=limit))
        return scope, provinces, report

    @expose("/")
    def index(self):
        scope, provinces, report = self._report()
        editions = {unit.edition for unit in provinces}
        labels = {unit.id: province_label(unit, editions) for unit in provinces}
        flags = open_facility_flags(scope, report.province, limit=FLAGS_SHOWN + 1)
        page, pages, first = requested_page(len(report.rows), FACILITY_PAGE)
        return self.render("admin/facilities/capacity_report.html", report=report, provinces=provinces, labels=labels,
                           chart=chart_data(report, labels), flags=flags[:FLAGS_SHOWN],
                           more_flags=len(flags) > FLAGS_SHOWN, page=page, pages=pages,
                           page_rows=report.rows[first:first + FACILITY_PAGE],
                           modalities=MODALITIES,
                           modality_units=MODALITY_UNITS, flag_links=_view_accessible("flags"),
                           facility_links=_view_accessible("facilities"), language=language(),
                           day_text=day_text, percent_text=percent_text, chart_cap=CHART_CAP,
                           args=self._args(report))

    @staticmethod
    def _args(report):
        return {"on": report.day.isoformat(), "province": report.province.id if report.province else None}

    # --- exports -----------------------------------------------------------------------------------------
    def _exported(self):
        """The report for a download (a redirect back when it holds more than EXPORT_MAX_ROWS facilities)."""
        scope, provinces, report = self._report(limit=EXPORT_MAX_ROWS)
        if report.truncated:
            flash(_("The report holds more than %(count)d facilities: choose a province to export it.",
                    count=EXPORT_MAX_ROWS), "warning")
            return scope, provinces, report, redirect(url_for(".index", **self._args(report)))
        return scope, provinces, report, None

    @staticmethod
    def _filename(report, extension):
        suffix = f"_{report.province.code}" if report.province else ""
        return f"cong_suat_{report.day.isoformat()}{suffix}.{extension}"

    @expose("/export.csv")
    def export_csv(self):
        _scope, _provinces, report, refused = self._exported()
        if refused:
            return refused
        header, rows = facility_table(report)
        return Response(csv_bytes(header, rows), mimetype=CSV_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename={self._filename(report, 'csv')}"})

    @expose("/export.xlsx")
    def export_xlsx(self):
        scope, provinces, report, refused = self._exported()
        if refused:
            return refused
        editions = {unit.edition for unit in provinces}
        labels = {unit.id: province_label(unit, editions) for unit in provinces}
        flags = open_facility_flags(scope, report.province, limit=EXPORT_MAX_ROWS)
        sheets = [(_("Facilities"), *facility_table(report)), (_("By province"), *province_table(report, labels)),
                  (_("Facility flags"), *flag_table(flags))]
        return Response(xlsx_bytes(sheets), mimetype=XLSX_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename={self._filename(report, 'xlsx')}"})


# --- the exported tables (the cells are neutralised when written) --------------------------------------------

def _modality_header(extra=False):
    header = []
    for label in MODALITIES.values():
        header += [_("%(modality)s: places", modality=label), _("%(modality)s: occupants", modality=label),
                   _("%(modality)s: rate (%%)", modality=label)]
        if extra:
            header.append(_("%(modality)s: places without a census", modality=label))
    return header


def facility_table(report):
    header = [_("Facility code"), _("Facility name"), _("Facility type"), _("Status"), _("Unit code"), _("Org unit"),
              _("Province"), _("Census date"), *_modality_header(), _("Open errors"), _("Open warnings")]
    rows = []
    for row in report.rows:
        cells = [row.code, row.name, str(row.type_label), _status_label(row.status), row.unit_code, row.unit_name,
                 row.province_name, row.census_date]
        for modality in MODALITIES:
            figures = row.figures[modality]
            cells += [figures.capacity, figures.current, figures.rate]
        rows.append(cells + [row.errors, row.warnings])
    return header, rows


def province_table(report, labels):
    header = [_("Province code"), _("Province"), _("Facilities"), *_modality_header(extra=True), _("Open errors"),
              _("Open warnings")]
    rows = []
    for total in report.provinces:
        cells = [total.code, labels.get(total.province_id, total.name), total.facilities]
        for modality in MODALITIES:
            figures = total.totals[modality]
            cells += [figures.capacity if figures.facilities else None,
                      figures.current if figures.facilities else None, figures.rate,
                      figures.unreported_capacity]
        rows.append(cells + [total.errors, total.warnings])
    return header, rows


def flag_table(flags):
    header = [_("Facility code"), _("Facility name"), _("Rule"), _("Severity"), _("Status"), _("Problem"), _("Opened")]
    rows = [[flag.facility.code, flag.facility.name, flag.rule, str(flag.severity_label), str(flag.status_label),
             flag.message(language()), format_local(flag.opened_at)] for flag in flags]
    return header, rows


def _status_label(status):
    return str(FACILITY_STATUSES.get(status, status))
