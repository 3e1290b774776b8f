"""Attainment of the plans' training targets, computed from the live roster on any date.

denominator = active staff of the target's role in the unit on that date (started, not left, not merged);
numerator = those of them who meet the metric on that date:
- trained: completed a class of a course of the topic that ended by then, or hold a certificate of such a course;
- certified: hold a certificate (of the topic, if the target names one) issued by then, not expired, not revoked;
- fully_qualified: hold every qualification their role requires, issued by then and not expired.
gap in persons = people still needed to reach the percentage.
"""
import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, func, or_, select

from service.extensions import db
from service.training.models import (
    Attendance,
    Certificate,
    Course,
    Qualification,
    RoleRequirement,
    StaffMember,
    TrainingClass,
    TrainingTarget,
)
from service.units.models import AdminUnit


def active_on(day):
    return and_(StaffMember.merged_into_id.is_(None),
                or_(StaffMember.start_date.is_(None), StaffMember.start_date <= day),
                or_(StaffMember.end_date.is_(None), StaffMember.end_date > day),
                or_(StaffMember.employment_status == "active", StaffMember.end_date.is_not(None)))


def in_unit(unit):
    """Staff of a unit: a province, district or commune (and everything under it) or a facility."""
    if unit.__tablename__ == "facility":
        return StaffMember.facility_id == unit.id
    below = select(AdminUnit.id).where(or_(AdminUnit.id == unit.id, AdminUnit.province_id == unit.id,
                                           AdminUnit.district_id == unit.id))
    return StaffMember.org_unit_id.in_(below)


def meets(metric, topic, day):
    """A clause on StaffMember: meets the metric on `day`."""
    valid_certificate = and_(Certificate.staff_id == StaffMember.id, Certificate.issued_on <= day,
                             Certificate.revoked_at.is_(None),
                             or_(Certificate.expires_on.is_(None), Certificate.expires_on > day))
    if metric == "certified":
        query = select(Certificate.id).where(valid_certificate)
        if topic:
            query = query.join(Course, Course.id == Certificate.course_id).where(Course.topic == topic)
        return exists(query.correlate(StaffMember))
    if metric == "trained":
        completed = select(Attendance.id).join(TrainingClass, TrainingClass.id == Attendance.class_id).join(
            Course, Course.id == TrainingClass.course_id).where(
            Attendance.staff_id == StaffMember.id, Attendance.status == "completed", TrainingClass.ends_on <= day)
        certified = select(Certificate.id).join(Course, Course.id == Certificate.course_id).where(
            Certificate.staff_id == StaffMember.id, Certificate.issued_on <= day, Certificate.revoked_at.is_(None))
        if topic:
            completed = completed.where(Course.topic == topic)
            certified = certified.where(Course.topic == topic)
        return or_(exists(completed.correlate(StaffMember)), exists(certified.correlate(StaffMember)))
    if metric == "fully_qualified":
        missing = select(RoleRequirement.id).where(
            RoleRequirement.role_category_id == StaffMember.role_category_id,
            ~exists(select(Qualification.id).where(
                Qualification.staff_id == StaffMember.id,
                Qualification.qualification_type_id == RoleRequirement.qualification_type_id,
                Qualification.issued_on <= day,
                or_(Qualification.expires_on.is_(None), Qualification.expires_on > day))
                .correlate(StaffMember, RoleRequirement))).correlate(StaffMember)
        return ~exists(missing)
    raise ValueError(metric)


@dataclass
class Attainment:
    target: TrainingTarget
    unit: object
    on_date: date
    numerator: int
    denominator: int

    @property
    def percent(self):
        return round(100 * self.numerator / self.denominator, 1) if self.denominator else None

    @property
    def target_percent(self):
        return float(self.target.percent)

    @property
    def gap_persons(self):
        needed = math.ceil(self.target_percent * self.denominator / 100 - 1e-9)
        return max(0, needed - self.numerator)

    @property
    def met(self):
        return self.denominator > 0 and self.gap_persons == 0


def attainment(target, on_date, unit=None):
    """The target's attainment on a date, for its own scope or a unit inside it."""
    unit = unit or target.scope_unit
    base = select(func.count(StaffMember.id)).where(
        StaffMember.role_category_id == target.role_category_id, active_on(on_date), in_unit(unit))
    denominator = db.session.scalar(base)
    numerator = db.session.scalar(base.where(meets(target.metric, target.topic, on_date))) if denominator else 0
    return Attainment(target, unit, on_date, numerator, denominator)


def breakdown(target, on_date):
    """The target's attainment in each unit one level below its scope (districts or communes)."""
    scope = target.scope_unit
    children = db.session.scalars(select(AdminUnit).where(AdminUnit.parent_id == scope.id)
                                  .order_by(AdminUnit.sort_name)).all()
    rows = [attainment(target, on_date, child) for child in children]
    return [row for row in rows if row.denominator]


def projection(target, today, unit=None):
    """The attainment expected at the deadline: today's active staff, counted on the deadline, so certificates
    and licences that expire before it no longer count, while people registered in classes of the target's
    topic that end by the deadline count as if they complete them. None once the deadline has passed."""
    if target.deadline < today:
        return None
    unit = unit or target.scope_unit
    day = target.deadline
    base = select(func.count(StaffMember.id)).where(
        StaffMember.role_category_id == target.role_category_id, active_on(today), in_unit(unit))
    denominator = db.session.scalar(base)
    if not denominator:
        return Attainment(target, unit, day, 0, 0)
    meeting = meets(target.metric, target.topic, day)
    if target.metric in ("trained", "certified"):
        scheduled = select(Attendance.id).join(TrainingClass, TrainingClass.id == Attendance.class_id).join(
            Course, Course.id == TrainingClass.course_id).where(
            Attendance.staff_id == StaffMember.id, Attendance.status.in_(("registered", "attended")),
            TrainingClass.ends_on >= today, TrainingClass.ends_on <= day)
        if target.topic:
            scheduled = scheduled.where(Course.topic == target.topic)
        if target.metric == "certified":
            scheduled = scheduled.where(Course.certifies.is_(True))
        meeting = or_(meeting, exists(scheduled.correlate(StaffMember)))
    return Attainment(target, unit, day, db.session.scalar(base.where(meeting)), denominator)
