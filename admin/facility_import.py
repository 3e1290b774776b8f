"""Importing facilities from a spreadsheet (placeholder: filled in by the import work)."""
from flask_admin import expose

from admin.base import SecureView


class FacilityImportView(SecureView):
    access = {"admin": {"list"}}

    @expose("/")
    def index(self):
        return self.render("admin/index.html", scope=None, items=[])
