"""Training records (iHRIS-style): the staff roster, qualifications and the requirements of each role, the course
catalogue, classes and attendance, certificates, and the plans' targets."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.time import utcnow
from service.common.versioning import RowVersioned
from service.extensions import db

TOPICS = {
    "basic_treatment": _l("Basic addiction-treatment knowledge"),
    "counselling": _l("Counselling"),
    "case_management": _l("Case management"),
    "social_work": _l("Social work in rehab"),
    "synthetic_drugs": _l("Treatment of synthetic-drug disorders"),
    "substitution": _l("Substitution treatment"),
    "caregiver": _l("Caregiver skills"),
    "legal": _l("Legal procedures"),
    "security": _l("Security operations"),
    "management": _l("State management of drug rehab"),
}
METRICS = {"trained": _l("trained"), "certified": _l("certified"), "fully_qualified": _l("fully qualified")}
EMPLOYMENT = {"active": _l("working"), "left": _l("left")}
ATTENDANCE = {"registered": _l("registered"), "attended": _l("attended"), "completed": _l("completed"),
              "failed": _l("failed")}
SEXES = {"F": _l("female"), "M": _l("male")}


class RoleCategory(RowVersioned, db.Model):
    """A role category of the plans (counselling staff, medical staff at treatment facilities, …); data."""

    __tablename__ = "role_category"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))

    requirements = relationship("RoleRequirement", back_populates="role_category", cascade="all, delete-orphan")

    def __str__(self):
        return self.name_vi


class QualificationType(RowVersioned, db.Model):
    """A diploma or practising licence a role may require."""

    __tablename__ = "qualification_type"
    __audited__ = True
    __table_args__ = (CheckConstraint("kind IN ('diploma', 'licence')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))

    def __str__(self):
        return self.name_vi


class RoleRequirement(RowVersioned, db.Model):
    """A qualification every member of a role must hold to be "fully qualified"."""

    __tablename__ = "role_requirement"
    __audited__ = True
    __table_args__ = (UniqueConstraint("role_category_id", "qualification_type_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role_category_id: Mapped[int] = mapped_column(ForeignKey("role_category.id", ondelete="CASCADE"), index=True)
    qualification_type_id: Mapped[int] = mapped_column(ForeignKey("qualification_type.id"), index=True)

    role_category = relationship("RoleCategory", back_populates="requirements")
    qualification_type = relationship("QualificationType")


class StaffMember(RowVersioned, db.Model):
    """A person on the roster. One who leaves stays in history (end date) but leaves the denominator."""

    __tablename__ = "staff_member"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("employment_status IN ('active', 'left')", name="employment_status"),
        CheckConstraint("sex IN ('F', 'M')", name="sex"),
        Index("ix_staff_role_unit", "role_category_id", "org_unit_id"),
        Index("ix_staff_name_birth", "search_name", "date_of_birth"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_code: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200), default="")
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    role_category_id: Mapped[int] = mapped_column(ForeignKey("role_category.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    position: Mapped[str] = mapped_column(String(200), default="")
    employment_status: Mapped[str] = mapped_column(String(10), default="active")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"))

    role_category = relationship("RoleCategory")
    org_unit = relationship("AdminUnit")
    facility = relationship("Facility")
    qualifications = relationship("Qualification", back_populates="staff")
    certificates = relationship("Certificate", back_populates="staff")

    def __str__(self):
        return f"{self.full_name} ({self.staff_code})"


class Qualification(RowVersioned, db.Model):
    __tablename__ = "qualification"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"), index=True)
    qualification_type_id: Mapped[int] = mapped_column(ForeignKey("qualification_type.id"), index=True)
    number: Mapped[str] = mapped_column(String(80), default="")
    issuer: Mapped[str] = mapped_column(String(200), default="")
    issued_on: Mapped[date]
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)

    staff = relationship("StaffMember", back_populates="qualifications")
    qualification_type = relationship("QualificationType")

    def __str__(self):
        return f"{self.qualification_type} {self.number}"


class Course(RowVersioned, db.Model):
    __tablename__ = "course"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(40), index=True)
    hours: Mapped[int] = mapped_column(default=0)
    certifies: Mapped[bool] = mapped_column(default=False)
    validity_months: Mapped[int | None]
    target_roles: Mapped[str] = mapped_column(String(400), default="")  # role category codes, comma-separated

    def __str__(self):
        return f"{self.code} – {self.title}"


class TrainingClass(RowVersioned, db.Model):
    """A class (lớp tập huấn) of a course."""

    __tablename__ = "training_class"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    organiser: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str] = mapped_column(String(300), default="")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    trainers: Mapped[str] = mapped_column(String(400), default="")
    capacity: Mapped[int] = mapped_column(default=30)

    course = relationship("Course")
    org_unit = relationship("AdminUnit")
    attendances = relationship("Attendance", back_populates="training_class", cascade="all, delete-orphan")

    def __str__(self):
        return f"{self.course.code if self.course else ''} {self.starts_on:%d/%m/%Y}"


class Attendance(db.Model):
    __tablename__ = "attendance"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("class_id", "staff_id"),
        CheckConstraint("status IN ('registered', 'attended', 'completed', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_class.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="registered")
    pre_score: Mapped[float | None] = mapped_column(Numeric(5, 2))
    post_score: Mapped[float | None] = mapped_column(Numeric(5, 2))

    training_class = relationship("TrainingClass", back_populates="attendances")
    staff = relationship("StaffMember")


class Certificate(db.Model):
    """Issued by completing a certifying course, or recorded by hand (training done elsewhere); revoked with a
    reason, never deleted."""

    __tablename__ = "certificate"
    __audited__ = True
    __table_args__ = (UniqueConstraint("issuer", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("training_class.id"), index=True)
    number: Mapped[str] = mapped_column(String(80))
    issuer: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date]
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    staff = relationship("StaffMember", back_populates="certificates")
    course = relationship("Course")
    training_class = relationship("TrainingClass")

    def __str__(self):
        return f"{self.number} ({self.issuer})"


class TrainingPlan(RowVersioned, db.Model):
    __tablename__ = "training_plan"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    number: Mapped[str] = mapped_column(String(80), default="")
    issued_on: Mapped[date | None] = mapped_column(Date)

    targets = relationship("TrainingTarget", back_populates="plan", cascade="all, delete-orphan")

    def __str__(self):
        return f"{self.number} – {self.name}" if self.number else self.name


class TrainingTarget(RowVersioned, db.Model):
    """A target of a plan: `percent` of the active staff of a role in a scope meet `metric` by `deadline`."""

    __tablename__ = "training_target"
    __audited__ = True
    __table_args__ = (CheckConstraint("metric IN ('trained', 'certified', 'fully_qualified')", name="metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plan.id", ondelete="CASCADE"), index=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    role_category_id: Mapped[int] = mapped_column(ForeignKey("role_category.id"), index=True)
    metric: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(40))
    percent: Mapped[float] = mapped_column(Numeric(5, 2))
    deadline: Mapped[date]

    plan = relationship("TrainingPlan", back_populates="targets")
    scope_unit = relationship("AdminUnit")
    role_category = relationship("RoleCategory")

    def __str__(self):
        return f"{self.plan.code if self.plan else ''}: {self.percent}% {self.metric}"
