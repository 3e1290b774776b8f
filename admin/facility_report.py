"""The province-wide capacity report (placeholder: filled in by the capacity-report work)."""
from flask_admin import expose

from admin.base import SecureView


class CapacityReportView(SecureView):
    access = {"admin": {"list"}, "data_steward": {"list"}, "training_coordinator": {"list"}}

    @expose("/")
    def index(self):
        return self.render("admin/index.html", scope=None, items=[])
