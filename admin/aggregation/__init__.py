"""Aggregation in the admin, one module per screen: approval of periods (approval.py), the periodic report of a
province or district (period_report.py) and the dashboard (dashboard.py). The programme targets are in
admin/indicator_targets.py."""
from admin.aggregation.approval import ApprovalView
from admin.aggregation.dashboard import DashboardView
from admin.aggregation.period_report import PeriodReportView

__all__ = ["ApprovalView", "DashboardView", "PeriodReportView"]
