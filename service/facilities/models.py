"""Facilities. The foundation keeps what accounts and scope need (code, name, org unit); the facilities issue
adds type, licence, capacity and census."""
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db


class Facility(db.Model):
    __tablename__ = "facility"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    address: Mapped[str] = mapped_column(String(500), default="")

    org_unit = relationship("AdminUnit")

    def __str__(self):
        return f"{self.code} – {self.name}"
