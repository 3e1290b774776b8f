"""Commune report submissions (every version kept), spreadsheet uploads, period locks and reminders."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.time import utcnow
from service.extensions import db

CHANNELS = {"web": _l("web form"), "upload": _l("file"), "api": _l("API")}
UPLOAD_STATUSES = {"accepted": _l("accepted"), "rejected": _l("rejected")}
SUBMISSION_STATUSES = {"submitted": _l("received, not yet validated"), "validated": _l("validated")}


class Submission(db.Model):
    """One version of one commune's report for a form and period. A resubmission is a new row with the next
    version; the previous one stops being current. Rows are never updated in their values or deleted."""

    __tablename__ = "submission"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("form_code", "period", "org_unit_id", "version"),
        UniqueConstraint("submitted_by_id", "idempotency_key"),
        # exactly one current version per commune, form and period, whatever races happen
        Index("uq_submission_current", "form_code", "period", "org_unit_id", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        Index("ix_submission_period_form_current", "period", "form_code", "is_current"),
        Index("ix_submission_submitted_at", "submitted_at"),  # the admin list's order (newest first)
        CheckConstraint("channel IN ('web', 'upload', 'api')", name="channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_code: Mapped[str] = mapped_column(String(50))
    form_version: Mapped[int]
    period: Mapped[str] = mapped_column(String(10))
    period_type: Mapped[str] = mapped_column(String(10))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    version: Mapped[int]
    is_current: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    values: Mapped[dict] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    due_date: Mapped[date] = mapped_column(Date)
    on_time: Mapped[bool]
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("upload.id"), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))

    org_unit = relationship("AdminUnit")
    submitted_by = relationship("User")
    upload = relationship("Upload", back_populates="submissions")
    supersedes = relationship("Submission", remote_side=[id])

    def __str__(self):
        return f"{self.form_code} {self.period} {self.org_unit.code if self.org_unit else ''} v{self.version}"

    @property
    def channel_label(self):
        return CHANNELS.get(self.channel, self.channel)


class Upload(db.Model):
    """A spreadsheet sent for a form and period: accepted (all rows stored) or rejected (none, with errors)."""

    __tablename__ = "upload"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("uploaded_by_id", "idempotency_key"),
        CheckConstraint("status IN ('accepted', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_code: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    status: Mapped[str] = mapped_column(String(10))
    rows: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))

    uploaded_by = relationship("User")
    submissions = relationship("Submission", back_populates="upload")


class Reminder(db.Model):
    """A commune that has not reported a period whose deadline has passed (written by the daily job)."""

    __tablename__ = "report_reminder"
    __table_args__ = (UniqueConstraint("form_code", "period", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_code: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    org_unit = relationship("AdminUnit")
