"""Flags: one failing check on one subject (a commune's report, a facility, a staff member, a province's census
comparison), the same lifecycle for all. Written only through `service.flags.operations`."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.time import utcnow
from service.extensions import db

FLAG_STATUSES = {"open": _l("open"), "explained": _l("explained"), "resolved": _l("resolved"),
                 "accepted": _l("accepted")}
SEVERITIES = {"error": _l("error"), "warning": _l("warning")}
OPEN_STATUSES = ("open", "explained")
SUBJECTS = ("report", "facility", "staff", "province")


class Flag(db.Model):
    """One failing rule on one report (or one facility). Lifecycle: open → explained (a comment) → resolved (a
    new version passes; closed by revalidation) or accepted (a steward's justification, remembered for these
    observed values only: different values raise it again)."""

    __tablename__ = "flag"
    __audited__ = True
    __table_args__ = (
        # one flag per rule per report (commune, form, period) and per rule per facility
        Index("uq_flag_report_rule", "org_unit_id", "form_code", "period", "rule", unique=True,
              sqlite_where=text("subject = 'report'"), postgresql_where=text("subject = 'report'")),
        Index("uq_flag_facility_rule", "facility_id", "rule", unique=True,
              sqlite_where=text("subject = 'facility'"), postgresql_where=text("subject = 'facility'")),
        Index("uq_flag_staff_rule", "staff_id", "rule", unique=True,
              sqlite_where=text("subject = 'staff'"), postgresql_where=text("subject = 'staff'")),
        # and per rule per province and (form, period): the comparison with the facility census
        Index("uq_flag_province_rule", "org_unit_id", "form_code", "period", "rule", unique=True,
              sqlite_where=text("subject = 'province'"), postgresql_where=text("subject = 'province'")),
        CheckConstraint("status IN ('open', 'explained', 'resolved', 'accepted')", name="status"),
        CheckConstraint("severity IN ('error', 'warning')", name="severity"),
        Index("ix_flag_status_severity", "status", "severity"),
        Index("ix_flag_period_form", "period", "form_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(12), default="report")  # report, facility, staff, province
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    form_code: Mapped[str] = mapped_column(String(50), default="")
    period: Mapped[str] = mapped_column(String(10), default="")
    rule: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="open")
    message_vi: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    observed: Mapped[dict] = mapped_column(JSON, default=dict)
    values_hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("validation_run.id", ondelete="SET NULL"))
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("validation_run.id", ondelete="SET NULL"))
    explanation: Mapped[str | None] = mapped_column(Text)
    explained_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    explained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_reason: Mapped[str | None] = mapped_column(Text)
    accepted_hash: Mapped[str | None] = mapped_column(String(64))
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    submission = relationship("Submission")
    facility = relationship("Facility")
    org_unit = relationship("AdminUnit")
    explained_by = relationship("User", foreign_keys=[explained_by_id])
    accepted_by = relationship("User", foreign_keys=[accepted_by_id])

    def __str__(self):
        return f"{self.rule} {self.period} {self.org_unit.code if self.org_unit else ''}"

    @property
    def status_label(self):
        return FLAG_STATUSES.get(self.status, self.status)

    @property
    def severity_label(self):
        return SEVERITIES.get(self.severity, self.severity)

    def message(self, language="vi"):
        return self.message_en if language == "en" else self.message_vi
