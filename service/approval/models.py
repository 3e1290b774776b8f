"""Approval of a period: the lock (present while a district's or province's period is approved: no submission,
edit or import below it is accepted) and the events (who approved or reopened which unit's period, and why)."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.time import utcnow
from service.extensions import db

APPROVAL_ACTIONS = {"approve": _l("approved"), "reopen": _l("reopened")}


class PeriodLock(db.Model):
    """An approved period of a district or province (set by the approval workflow): no submission, edit or
    import for a commune below it is accepted until a higher level reopens it."""

    __tablename__ = "period_lock"
    __audited__ = True
    __table_args__ = (UniqueConstraint("form_code", "period", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_code: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    org_unit = relationship("AdminUnit")


class ApprovalEvent(db.Model):
    """One approval or reopening of a unit's period, kept for ever (the lock comes and goes)."""

    __tablename__ = "approval_event"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("action IN ('approve', 'reopen')", name="action"),
        Index("ix_approval_event_period_unit", "form_code", "period", "org_unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_code: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    org_unit = relationship("AdminUnit")
    user = relationship("User")

    @property
    def action_label(self):
        return APPROVAL_ACTIONS.get(self.action, self.action)
