"""Aggregation in the admin (placeholders, filled in by the aggregation work): approval of periods, the
periodic report of a province or district, the dashboard, and the indicator targets."""
from flask_admin import expose

from admin.base import SecureView


class _Placeholder(SecureView):
    @expose("/")
    def index(self):
        return self.render("admin/index.html", scope=None, items=[])


class ApprovalView(_Placeholder):
    access = {"admin": {"list"}, "data_steward": {"list"}}


class PeriodReportView(_Placeholder):
    access = {"admin": {"list"}, "data_steward": {"list"}}


class DashboardView(_Placeholder):
    access = {role: {"list"} for role in ("admin", "data_steward", "training_coordinator", "facility_manager")}
