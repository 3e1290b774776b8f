"""Accounts: users with a role and an org-unit scope, API tokens, and login attempts for the lockout."""
import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.time import utcnow
from service.common.versioning import RowVersioned
from service.extensions import db

ROLES = {
    "admin": _l("Administrator"),
    "training_coordinator": _l("Training coordinator"),
    "data_steward": _l("Data steward"),
    "facility_manager": _l("Facility manager"),
    "commune_reporter": _l("Commune reporter"),
}


class User(RowVersioned, db.Model):
    __tablename__ = "user_account"
    __audited__ = True
    __audit_secret__ = {"password_hash", "session_version"}
    __audit_ignore__ = {"last_login_at"}  # logins are audited as their own "login" event
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'training_coordinator', 'data_steward', 'facility_manager', 'commune_reporter')",
            name="role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(30))
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str | None] = mapped_column(String(5))
    # Changing this value ends every session of the user at once (password change, deactivation).
    session_version: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    scope_unit = relationship("AdminUnit")
    facility = relationship("Facility")

    def __str__(self):
        return self.username

    # Flask-Login protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.active

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return f"{self.id}:{self.session_version}"

    @property
    def role_label(self):
        return ROLES.get(self.role, self.role)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_token"
    __audited__ = True
    __audit_secret__ = {"token_hash"}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user = relationship("User")


class LoginAttempt(db.Model):
    """One login try, kept for the lockout window and then pruned by a scheduled job."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_ip_at", "username", "ip", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    success: Mapped[bool]
