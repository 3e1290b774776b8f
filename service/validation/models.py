"""Validation runs: what was checked, with which suites, what failed (the flags they raise are `service.flags`)."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from service.common.time import utcnow
from service.extensions import db

RUN_STATUSES = {"running": _l("running"), "completed": _l("completed"), "failed": _l("failed")}
TRIGGERS = {"schedule": _l("every few minutes"), "nightly": _l("nightly"), "catch_up": _l("catch-up"),
            "manual": _l("by hand")}


class ValidationRun(db.Model):
    """One validation of one or more (form, period) batches. `slot` makes a scheduled job slot run once: a
    second scheduler cannot insert the same slot; a run that died is marked failed and its slot freed."""

    __tablename__ = "validation_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed')", name="status"),
        Index("ix_validation_run_status_heartbeat", "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[str | None] = mapped_column(String(120), unique=True)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule, nightly, manual, catch_up
    form_code: Mapped[str] = mapped_column(String(50))
    periods: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None]
    suite_hashes: Mapped[dict] = mapped_column(JSON, default=dict)
    reports_checked: Mapped[int] = mapped_column(default=0)
    reports_failing: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    flags_opened: Mapped[int] = mapped_column(default=0)
    flags_closed: Mapped[int] = mapped_column(default=0)
    owner: Mapped[str] = mapped_column(String(120), default="")
    error: Mapped[str | None] = mapped_column(Text)
    data_docs: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))

    rule_results = relationship("RunRuleResult", back_populates="run", cascade="all, delete-orphan")

    def __str__(self):
        return f"#{self.id} {self.form_code} {', '.join(self.periods or [])}"

    @property
    def status_label(self):
        return RUN_STATUSES.get(self.status, self.status)

    @property
    def trigger_label(self):
        return TRIGGERS.get(self.trigger, self.trigger)


class RunRuleResult(db.Model):
    __tablename__ = "validation_rule_result"
    __table_args__ = (UniqueConstraint("run_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("validation_run.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    evaluated: Mapped[int]
    failed: Mapped[int]

    run = relationship("ValidationRun", back_populates="rule_results")


class RunFailure(db.Model):
    """A report that failed a rule in a run: every failing report is kept, never a sample."""

    __tablename__ = "validation_failure"
    __table_args__ = (UniqueConstraint("run_id", "submission_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("validation_run.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    rule: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
