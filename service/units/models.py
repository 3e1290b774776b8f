"""Administrative units of the two editions and the succession between them.

Codes are reused across editions (province 82 is Tiền Giang in 2024 and Đồng Tháp in 2025), so a unit is
keyed by (edition, code). Each unit carries the ids of its province and district so that a scope filter is a
plain indexed comparison, not a recursive query.
"""
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.units import editions

EDITIONS = editions.EDITIONS
LEVELS = ("province", "district", "commune")


class AdminUnit(db.Model):
    __tablename__ = "admin_unit"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("edition", "code"),
        CheckConstraint("level IN ('province', 'district', 'commune')", name="level"),
        Index("ix_admin_unit_edition_level_sort", "edition", "level", "sort_name"),
        Index("ix_admin_unit_parent_sort", "parent_id", "sort_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition: Mapped[int]
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10))
    unit_type: Mapped[str] = mapped_column(String(30))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    province_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    sort_name: Mapped[str] = mapped_column(String(400))
    search_name: Mapped[str] = mapped_column(String(200), index=True)
    synthetic: Mapped[bool] = mapped_column(default=False)

    parent = relationship("AdminUnit", remote_side=[id], foreign_keys=[parent_id])
    province = relationship("AdminUnit", remote_side=[id], foreign_keys=[province_id])
    district = relationship("AdminUnit", remote_side=[id], foreign_keys=[district_id])

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def is_commune(self):
        return self.level == "commune"


class UnitSuccession(db.Model):
    """Old (2024) unit → new (2025) commune. `full`: all of the old unit; `partial`: part of a split unit."""

    __tablename__ = "unit_succession"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("old_unit_id", "new_unit_id"),
        CheckConstraint("relation IN ('full', 'partial')", name="relation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    old_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    new_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    relation: Mapped[str] = mapped_column(String(10))
    confidence: Mapped[str] = mapped_column(String(20), default="")

    old_unit = relationship("AdminUnit", foreign_keys=[old_unit_id])
    new_unit = relationship("AdminUnit", foreign_keys=[new_unit_id])
