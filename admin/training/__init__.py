"""Training records in the admin, one module per screen: the staff roster (staff, duplicates, transcript),
qualifications, the reference data (reference), courses, classes (classes, attendance and the roster), certificates
(issue, revoke, what expires soon), plans and targets (plans), their attainment, and the import from a file. What
they share is in common.py; the read models are in service.training.queries, every change of state in
service.training.operations."""
from admin.training.attainment import AttainmentView
from admin.training.certificates import CertificateView
from admin.training.classes import TrainingClassView
from admin.training.courses import CourseView
from admin.training.imports import TrainingImportView
from admin.training.plans import TrainingPlanView, TrainingTargetView
from admin.training.qualifications import QualificationView
from admin.training.reference import QualificationTypeView, RoleCategoryView, RoleRequirementView
from admin.training.staff import StaffView

__all__ = [
    "AttainmentView", "CertificateView", "CourseView", "QualificationTypeView", "QualificationView",
    "RoleCategoryView", "RoleRequirementView", "StaffView", "TrainingClassView", "TrainingImportView",
    "TrainingPlanView", "TrainingTargetView",
]
