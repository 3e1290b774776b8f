"""The facilities area in the admin, one module per screen: the registry (registry.py) with each facility's page
(page.py), the staffing conditions (staffing.py), the capacity report (report.py) and the registry import
(imports.py). Templates in templates/admin/facilities/."""
from admin.facilities.imports import FacilityImportView
from admin.facilities.registry import FacilityView
from admin.facilities.report import CapacityReportView
from admin.facilities.staffing import StaffingConditionView

__all__ = ["CapacityReportView", "FacilityImportView", "FacilityView", "StaffingConditionView"]
