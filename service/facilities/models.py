"""Facilities: the registry (type, org unit, licence, status), capacity by modality with its history, the
census (occupancy on a date, never overwritten: a correction is a new entry that names what it corrects), and
the staffing conditions of Decree 116/2021 per facility type, as data."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.time import utcnow
from service.common.versioning import RowVersioned
from service.extensions import db

FACILITY_TYPES = {
    "public_rehab": _l("Public rehab facility / provincial centre"),
    "private_rehab": _l("Private rehab facility"),
    "district_health": _l("District health centre (home and community rehab)"),
    "commune_health": _l("Commune health station"),
    "substitution_clinic": _l("Substitution-treatment clinic"),
    "counselling_point": _l("Community counselling and support point"),
    "commune_group": _l("Commune working group"),
}
FACILITY_STATUSES = {"active": _l("active"), "suspended": _l("suspended"), "closed": _l("closed")}
# Capacity and census are kept by modality: places for compulsory and voluntary rehab, detox beds,
# substitution-treatment slots.
MODALITIES = {
    "compulsory": _l("Compulsory rehab"),
    "voluntary": _l("Voluntary rehab"),
    "detox": _l("Detox beds"),
    "substitution": _l("Substitution treatment"),
}
MODALITY_UNITS = {"compulsory": _l("places"), "voluntary": _l("places"), "detox": _l("beds"),
                  "substitution": _l("slots")}


def _in(values):
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


class Facility(RowVersioned, db.Model):
    """A facility of the registry. `revision` counts changes of its capacity and census: a form carries the
    revision it was read at, and a write against an older one is refused as a conflict (no lost update)."""

    __tablename__ = "facility"
    __audited__ = True
    __table_args__ = (
        CheckConstraint(f"facility_type IN {_in(FACILITY_TYPES)}", name="facility_type"),
        CheckConstraint(f"status IN {_in(FACILITY_STATUSES)}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    facility_type: Mapped[str] = mapped_column(String(30), default="public_rehab", index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    licence_number: Mapped[str] = mapped_column(String(80), default="")
    licence_date: Mapped[date | None] = mapped_column(Date)
    licence_issuer: Mapped[str] = mapped_column(String(200), default="")
    licence_expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active")
    closed_on: Mapped[date | None] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(default=0, server_default="0")

    org_unit = relationship("AdminUnit")

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def type_label(self):
        return FACILITY_TYPES.get(self.facility_type, self.facility_type)

    @property
    def status_label(self):
        return FACILITY_STATUSES.get(self.status, self.status)


class CapacityChange(db.Model):
    """The capacity of one modality from a date on. Never updated: a change is a new row, so the history
    says what the capacity was on any day."""

    __tablename__ = "facility_capacity"
    __audited__ = True
    __table_args__ = (
        CheckConstraint(f"modality IN {_in(MODALITIES)}", name="modality"),
        CheckConstraint("places >= 0", name="places"),
        Index("ix_facility_capacity_lookup", "facility_id", "modality", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    modality: Mapped[str] = mapped_column(String(20))
    places: Mapped[int]
    effective_from: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    facility = relationship("Facility")
    recorded_by = relationship("User")

    @property
    def modality_label(self):
        return MODALITIES.get(self.modality, self.modality)


class Census(db.Model):
    """Occupancy of a facility on a date, one line per modality. Never overwritten: a correction is a new
    census whose `corrects_id` names the one it replaces (which then no longer counts); a census is corrected
    at most once, so two people correcting the same entry at once cannot both succeed."""

    __tablename__ = "facility_census"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("corrects_id", name="uq_facility_census_corrects_id"),
        Index("ix_facility_census_latest", "facility_id", "census_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    census_date: Mapped[date] = mapped_column(Date)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("facility_census.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10), default="web")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    facility = relationship("Facility")
    recorded_by = relationship("User")
    corrects = relationship("Census", remote_side=[id])
    lines = relationship("CensusLine", back_populates="census", cascade="all, delete-orphan",
                         order_by="CensusLine.id")

    def __str__(self):
        return f"{self.facility.code if self.facility else ''} {self.census_date:%d/%m/%Y}"

    def line(self, modality):
        return next((line for line in self.lines if line.modality == modality), None)


class CensusLine(db.Model):
    __tablename__ = "facility_census_line"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("census_id", "modality"),
        CheckConstraint(f"modality IN {_in(MODALITIES)}", name="modality"),
        CheckConstraint("admissions >= 0 AND discharges >= 0 AND current_count >= 0", name="counts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    census_id: Mapped[int] = mapped_column(ForeignKey("facility_census.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(20))
    admissions: Mapped[int] = mapped_column(default=0)
    discharges: Mapped[int] = mapped_column(default=0)
    current_count: Mapped[int]

    census = relationship("Census", back_populates="lines")

    @property
    def modality_label(self):
        return MODALITIES.get(self.modality, self.modality)


class StaffingCondition(RowVersioned, db.Model):
    """A staffing condition of a facility type (Decree 116/2021/NĐ-CP): at least `minimum` active staff of a
    role at the facility, each holding `qualification_type` (valid on the day) when one is named."""

    __tablename__ = "staffing_condition"
    __audited__ = True
    __table_args__ = (
        CheckConstraint(f"facility_type IN {_in(FACILITY_TYPES)}", name="facility_type"),
        CheckConstraint("minimum >= 1", name="minimum"),
        CheckConstraint("severity IN ('error', 'warning')", name="severity"),
        UniqueConstraint("facility_type", "role_category_id", "qualification_type_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_type: Mapped[str] = mapped_column(String(30), index=True)
    role_category_id: Mapped[int] = mapped_column(ForeignKey("role_category.id"))
    qualification_type_id: Mapped[int | None] = mapped_column(ForeignKey("qualification_type.id"))
    minimum: Mapped[int] = mapped_column(default=1)
    severity: Mapped[str] = mapped_column(String(10), default="error")
    basis: Mapped[str] = mapped_column(String(300), default="Nghị định 116/2021/NĐ-CP")

    role_category = relationship("RoleCategory")
    qualification_type = relationship("QualificationType")

    def __str__(self):
        what = f"{self.role_category}" + (f" ({self.qualification_type})" if self.qualification_type_id else "")
        return f"≥ {self.minimum} {what}"

    @property
    def type_label(self):
        return FACILITY_TYPES.get(self.facility_type, self.facility_type)
