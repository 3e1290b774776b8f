"""A person's training record, to print."""
from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from service.common.time import local_today
from service.extensions import db
from service.training.models import ATTENDANCE, EMPLOYMENT, SEXES, Attendance, Certificate, Qualification, TrainingClass


class TranscriptMixin:
    """The training record page of the staff view (staff.transcript)."""

    @expose("/transcript/<int:staff_id>")
    def transcript(self, staff_id):
        self.require("details")
        staff = self.get_one(str(staff_id))
        attendances = db.session.scalars(
            select(Attendance).join(TrainingClass, TrainingClass.id == Attendance.class_id)
            .where(Attendance.staff_id == staff.id).order_by(TrainingClass.starts_on, Attendance.id)
            .options(joinedload(Attendance.training_class).joinedload(TrainingClass.course))).all()
        certificates = db.session.scalars(select(Certificate).where(Certificate.staff_id == staff.id)
                                          .order_by(Certificate.issued_on, Certificate.id)).all()
        qualifications = db.session.scalars(select(Qualification).where(Qualification.staff_id == staff.id)
                                            .order_by(Qualification.issued_on, Qualification.id)).all()
        return self.render("admin/training/transcript.html", staff=staff, attendances=attendances,
                           certificates=certificates, qualifications=qualifications, today=local_today(),
                           attendance_labels=ATTENDANCE, sexes=SEXES, employment=EMPLOYMENT)
