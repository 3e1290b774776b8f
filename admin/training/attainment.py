"""The attainment of the training targets: the table, a target's page, the exports."""
import csv
import io

from flask import Response, abort, request
from flask_admin import expose
from flask_babel import gettext as _
from sqlalchemy import select

from admin.base import SecureView, current_scope
from admin.formats import day_text, percent_text, requested_day
from admin.training.common import localized, lower_first, topic_label
from service.common.export import neutralise
from service.extensions import db
from service.training import queries
from service.training.models import METRICS, TrainingPlan
from service.training.queries import ALL_PROVINCES, AttainmentRow, attainment_rows, select_attainment, visible_targets


def gap_sentence(result):
    """The gap as a sentence: "12 more counselling staff need to be certified"."""
    target = result.target
    if result.denominator == 0:
        return _("No active staff of this role in the unit.")
    if result.gap_persons == 0:
        return _("Target reached.")
    role = lower_first(localized(target.role_category))
    count = result.gap_persons
    topic = lower_first(topic_label(target.topic)) if target.topic else ""
    if target.metric == "trained":
        if topic:
            return _("%(count)s more %(role)s need to be trained in %(topic)s", count=count, role=role, topic=topic)
        return _("%(count)s more %(role)s need to be trained", count=count, role=role)
    if target.metric == "certified":
        if topic:
            return _("%(count)s more %(role)s need to be certified in %(topic)s", count=count, role=role,
                     topic=topic)
        return _("%(count)s more %(role)s need to be certified", count=count, role=role)
    return _("%(count)s more %(role)s need to hold every required qualification", count=count, role=role)


class AttainmentView(SecureView):
    access = {role: {"list"} for role in ("admin", "training_coordinator", "data_steward", "facility_manager")}

    def _date(self):
        return requested_day()

    def _plan(self):
        raw = request.args.get("plan") or ""
        return int(raw) if raw.isdigit() else None

    def _selection(self, plan_id, paginate=True):
        return select_attainment(current_scope(), plan_id, request.args.get("province") or "", paginate,
                                 page=request.args.get("page", 1, type=int))

    @expose("/")
    def index(self):
        on_date, plan_id = self._date(), self._plan()
        selection = self._selection(plan_id)
        rows = attainment_rows(current_scope(), on_date, pairs=selection.pairs)
        plans = db.session.scalars(select(TrainingPlan).order_by(TrainingPlan.code)).all()
        return self.render("admin/training/attainment.html", rows=rows, on_date=on_date, plan_id=plan_id,
                           plans=plans, selection=selection, all_provinces=ALL_PROVINCES,
                           page_size=queries.ATTAINMENT_PAGE_SIZE, metrics=METRICS,
                           topic_label=topic_label, gap_sentence=gap_sentence, localized=localized, day_text=day_text,
                           percent_text=percent_text)

    @expose("/target/<int:target_id>")
    def target(self, target_id):
        on_date = self._date()
        scope = current_scope()
        found = [(target, unit) for target, unit in visible_targets(scope) if target.id == target_id]
        if not found:
            abort(404)
        target, unit = found[0]
        result = queries.attainment(target, on_date, unit)
        below = []
        if unit is target.scope_unit:
            below = sorted(queries.breakdown(target, on_date), key=lambda row: (-row.gap_persons, row.unit.sort_name))
        return self.render("admin/training/target.html", target=target, unit=unit, result=result,
                           row=AttainmentRow(target, result), below=below, on_date=on_date, metrics=METRICS,
                           topic_label=topic_label, localized=localized, day_text=day_text,
                           gap_sentence=gap_sentence, percent_text=percent_text)

    def _table(self):
        """The attainment table as a header and rows of cells (formula-like text neutralised)."""
        on_date, plan_id = self._date(), self._plan()
        header = [_("Plan"), _("Unit code"), _("Unit"), _("Role category"), _("Metric"), _("Topic"),
                  _("Target (%)"), _("Deadline"), _("Meeting the target"), _("Active staff"),
                  _("Attained (%)"), _("Persons still needed"), _("Met"), _("Gap")]
        rows = []
        for row in attainment_rows(current_scope(), on_date, pairs=self._selection(plan_id, paginate=False).pairs):
            target, result = row.target, row.result
            unit = result.unit
            rows.append([neutralise(value) for value in (
                target.plan.code, getattr(unit, "code", ""), getattr(unit, "name", ""),
                localized(target.role_category), str(METRICS.get(target.metric, target.metric)),
                str(topic_label(target.topic)), result.target_percent, target.deadline.isoformat(),
                result.numerator, result.denominator, "" if result.percent is None else result.percent,
                result.gap_persons, _("yes") if result.met else _("no"), gap_sentence(result))])
        return on_date, header, rows

    @expose("/export.csv")
    def export(self):
        on_date, header, rows = self._table()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        name = f"attainment_{on_date.isoformat()}.csv"
        return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})

    @expose("/export.xlsx")
    def export_xlsx(self):
        from openpyxl import Workbook

        on_date, header, rows = self._table()
        book = Workbook()
        sheet = book.active
        sheet.title = "Chi tieu dao tao"
        sheet.append([str(cell) for cell in header])
        for row in rows:
            sheet.append([cell if isinstance(cell, (int, float)) else str(cell) for cell in row])
        buffer = io.BytesIO()
        book.save(buffer)
        return Response(buffer.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=attainment_{on_date.isoformat()}.xlsx"})

