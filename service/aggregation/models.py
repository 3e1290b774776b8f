"""The programme indicators' targets of the provincial plans (approval of a period is `service.approval`)."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.versioning import RowVersioned
from service.extensions import db

DIRECTIONS = {"at_least": _l("at least"), "at_most": _l("at most")}


class IndicatorTarget(RowVersioned, db.Model):
    """A programme target of a plan: the indicator in a scope is `direction` `value` % by `deadline`, from an
    optional baseline (e.g. Cà Mau: treated / addicts with a record from 24.97 % to 50 % by 2015)."""

    __tablename__ = "indicator_target"
    __audited__ = True
    __table_args__ = (CheckConstraint("direction IN ('at_least', 'at_most')", name="direction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("training_plan.id", ondelete="CASCADE"), index=True)
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    indicator_code: Mapped[str] = mapped_column(String(40), index=True)
    direction: Mapped[str] = mapped_column(String(10), default="at_least")
    value: Mapped[float] = mapped_column(Numeric(6, 2))
    baseline: Mapped[float | None] = mapped_column(Numeric(6, 2))
    baseline_note: Mapped[str] = mapped_column(String(200), default="")
    deadline: Mapped[date] = mapped_column(Date)

    plan = relationship("TrainingPlan")
    scope_unit = relationship("AdminUnit")

    @property
    def direction_label(self):
        return DIRECTIONS.get(self.direction, self.direction)

    def met(self, value):
        if value is None:
            return None
        return value >= float(self.value) if self.direction == "at_least" else value <= float(self.value)

    def distance(self, value):
        """Percentage points still to go (0 when met), None without a value."""
        if value is None:
            return None
        gap = float(self.value) - value if self.direction == "at_least" else value - float(self.value)
        return round(max(0.0, gap), 2)
