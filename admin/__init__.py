"""Flask-Admin: the Vietnamese admin shell, its menu and its views (one module per domain area).

Flask-Admin's own words come from its Vietnamese catalogue with the project's corrections read over it
(translations/vi/LC_MESSAGES/admin.po: "Kỷ lục", "mặt hàng", "sản phẩm nào" and the like are wrong words there).
"""
import flask_admin.babel
import flask_admin.translations
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import Domain
from flask_babel import lazy_gettext as _l

from admin.accounts import AuditLogView, UserView
from admin.aggregation import ApprovalView, DashboardView, PeriodReportView
from admin.facilities import CapacityReportView, FacilityImportView, FacilityView, StaffingConditionView
from admin.home import HomeView
from admin.indicator_targets import IndicatorTargetView
from admin.links import filtered_list_url
from admin.submissions import CompletenessView, ReminderView, ReportEntryView, SubmissionView, UploadView
from admin.training import (
    AttainmentView,
    CertificateView,
    CourseView,
    QualificationTypeView,
    QualificationView,
    RoleCategoryView,
    RoleRequirementView,
    StaffView,
    TrainingClassView,
    TrainingImportView,
    TrainingPlanView,
    TrainingTargetView,
)
from admin.units import UnitBrowserView, UnitView
from admin.validation import FlagView, ValidationRunView
from service.accounts.models import User
from service.aggregation.models import IndicatorTarget
from service.audit.models import AuditLog
from service.config import PROJECT_DIR
from service.facilities.models import Facility, StaffingCondition
from service.flags.models import Flag
from service.security import csp_nonce
from service.submissions.models import Reminder, Submission, Upload
from service.training.models import (
    Certificate,
    Course,
    Qualification,
    QualificationType,
    RoleCategory,
    RoleRequirement,
    StaffMember,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)
from service.units.models import AdminUnit
from service.validation.models import ValidationRun


class _ProjectWordsLast(flask_admin.babel.CustomDomain):
    """Flask-Admin's message domain reading its own catalogue and then the project's corrections over it, on
    every page. (Flask-Admin's `translations_path` would put a project catalogue first, where Flask-Admin's
    words win the merge, and only while a view is current, though the merged catalogue is cached for all.)"""

    @property
    def translation_directories(self):
        return Domain.translation_directories.fget(self)


def use_project_words(directory):
    """Flask-Admin's gettext functions are bound to its one domain object at import: set its catalogues there."""
    domain = flask_admin.babel.domain
    domain.__class__ = _ProjectWordsLast
    domain._translation_directories = [flask_admin.translations.__path__[0], str(directory)]
    domain.cache.clear()


def init_admin(app):
    use_project_words(PROJECT_DIR / "translations")
    admin = Admin(
        name=_l("Drug-rehab data"),
        theme=Bootstrap4Theme(base_template="admin/service_base.html", fluid=True),
        index_view=HomeView(name=_l("Home"), url="/admin"),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(DashboardView(name=_l("Dashboard"), endpoint="dashboard", url="/admin/dashboard"))
    reports = _l("Commune reports")
    admin.add_view(ReportEntryView(name=_l("Enter a report"), category=reports, endpoint="report_entry",
                                   url="/admin/report"))
    admin.add_view(SubmissionView(Submission, name=_l("Submitted reports"), category=reports,
                                  endpoint="submissions"))
    admin.add_view(UploadView(Upload, name=_l("Uploaded files"), category=reports, endpoint="uploads"))
    admin.add_view(CompletenessView(name=_l("Completeness and timeliness"), category=reports,
                                    endpoint="completeness"))
    admin.add_view(ReminderView(Reminder, name=_l("Late communes"), category=reports, endpoint="reminders"))
    admin.add_view(ApprovalView(name=_l("Approval of periods"), category=reports, endpoint="approvals",
                                url="/admin/approvals"))
    admin.add_view(PeriodReportView(name=_l("Periodic report"), category=reports, endpoint="period_report",
                                    url="/admin/period-report"))
    admin.add_view(IndicatorTargetView(IndicatorTarget, name=_l("Programme targets"), category=reports,
                                       endpoint="indicator_targets"))
    training = _l("Training")
    admin.add_view(StaffView(StaffMember, name=_l("Staff roster"), category=training, endpoint="staff"))
    admin.add_view(QualificationView(Qualification, name=_l("Qualifications"), category=training,
                                     endpoint="qualifications"))
    admin.add_view(CourseView(Course, name=_l("Courses"), category=training, endpoint="courses"))
    admin.add_view(TrainingClassView(TrainingClass, name=_l("Classes"), category=training, endpoint="classes"))
    admin.add_view(CertificateView(Certificate, name=_l("Certificates"), category=training, endpoint="certificates"))
    admin.add_view(TrainingPlanView(TrainingPlan, name=_l("Training plans"), category=training,
                                    endpoint="training_plans"))
    admin.add_view(TrainingTargetView(TrainingTarget, name=_l("Training targets"), category=training,
                                      endpoint="training_targets"))
    admin.add_view(AttainmentView(name=_l("Target attainment"), category=training, endpoint="attainment"))
    admin.add_view(TrainingImportView(name=_l("Import from a file"), category=training, endpoint="training_import"))
    admin.add_view(RoleCategoryView(RoleCategory, name=_l("Role categories"), category=training,
                                    endpoint="role_categories"))
    admin.add_view(QualificationTypeView(QualificationType, name=_l("Qualification types"), category=training,
                                         endpoint="qualification_types"))
    admin.add_view(RoleRequirementView(RoleRequirement, name=_l("Role requirements"), category=training,
                                       endpoint="role_requirements"))
    facilities = _l("Facilities")
    admin.add_view(FacilityView(Facility, name=_l("Facilities"), category=facilities, endpoint="facilities"))
    admin.add_view(CapacityReportView(name=_l("Capacity and occupancy"), category=facilities,
                                      endpoint="capacity_report", url="/admin/capacity"))
    admin.add_view(FacilityImportView(name=_l("Import facilities"), category=facilities, endpoint="facility_import",
                                      url="/admin/facility-import"))
    admin.add_view(StaffingConditionView(StaffingCondition, name=_l("Staffing conditions"), category=facilities,
                                         endpoint="staffing_conditions"))
    quality = _l("Data quality")
    admin.add_view(FlagView(Flag, name=_l("Flags"), category=quality, endpoint="flags"))
    admin.add_view(ValidationRunView(ValidationRun, name=_l("Validation runs"), category=quality,
                                     endpoint="validation_runs"))
    reference = _l("Reference data")
    admin.add_view(UnitBrowserView(name=_l("Unit browser"), category=reference, endpoint="unit_browser"))
    admin.add_view(UnitView(AdminUnit, name=_l("Unit list"), category=reference, endpoint="units"))
    system = _l("System")
    admin.add_view(UserView(User, name=_l("Users"), category=system, endpoint="users"))
    admin.add_view(AuditLogView(AuditLog, name=_l("Audit trail"), category=system, endpoint="audit"))
    admin.init_app(app)
    app.jinja_env.globals["filtered_list_url"] = filtered_list_url
    return admin
