"""Reporting periods: `2026Q3` (quarter), `2026S1` (half-year), `2026` (year), after the common
health-information convention; their dates, the edition of units they are reported in, and deadlines."""
import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from service.common.errors import DomainError
from service.units import editions

PERIOD_TYPES = {"quarter": _l("Quarter"), "half_year": _l("Half-year"), "year": _l("Year")}
REFORM_DATE = editions.REFORM_DATE
_PATTERN = re.compile(r"^(\d{4})(?:(Q)([1-4])|(S)([12]))?$")


class PeriodError(DomainError):
    code = "invalid_period"


def _add_months(year, month, count):
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: str  # quarter, half_year, year
    number: int  # 1-4 for quarters, 1-2 for half-years, 1 for the year

    @classmethod
    def parse(cls, code):
        match = _PATTERN.match((code or "").strip())
        if not match or not 2000 <= int(match.group(1)) <= 2100:
            raise PeriodError(code)
        year = int(match.group(1))
        if match.group(2):
            return cls(year, "quarter", int(match.group(3)))
        if match.group(4):
            return cls(year, "half_year", int(match.group(5)))
        return cls(year, "year", 1)

    @property
    def code(self):
        return {"quarter": f"{self.year}Q{self.number}", "half_year": f"{self.year}S{self.number}",
                "year": f"{self.year}"}[self.kind]

    @property
    def months(self):
        return {"quarter": 3, "half_year": 6, "year": 12}[self.kind]

    @property
    def start(self):
        return date(self.year, (self.number - 1) * self.months + 1, 1)

    @property
    def end(self):
        year, month = _add_months(self.start.year, self.start.month, self.months)
        return date(year, month, 1) - timedelta(days=1)

    @property
    def edition(self):
        """The unit list a period is reported in: the one in force on its last day."""
        return editions.in_force_on(self.end)

    def previous(self):
        per_year = 12 // self.months
        if self.number > 1:
            return Period(self.year, self.kind, self.number - 1)
        return Period(self.year - 1, self.kind, per_year)

    def next(self):
        per_year = 12 // self.months
        if self.number < per_year:
            return Period(self.year, self.kind, self.number + 1)
        return Period(self.year + 1, self.kind, 1)

    def label(self):
        half = "6 tháng đầu năm" if self.number == 1 else "6 tháng cuối năm"
        return {"quarter": f"Quý {self.number}/{self.year}", "half_year": f"{half} {self.year}",
                "year": f"Năm {self.year}"}[self.kind]

    def __str__(self):
        return self.code


def period_containing(day, kind):
    months = {"quarter": 3, "half_year": 6, "year": 12}[kind]
    return Period(day.year, kind, (day.month - 1) // months + 1)


def periods_up_to(period, count):
    """`period` and the `count - 1` periods of its type before it, oldest first (a trend)."""
    periods = [period]
    while len(periods) < count:
        periods.insert(0, periods[0].previous())
    return periods


def recent_periods(kind, today, count):
    """The period of `kind` containing today and the `count - 1` before it, newest first."""
    period = period_containing(today, kind)
    result = []
    for _ in range(count):
        result.append(period)
        period = period.previous()
    return result


@dataclass(frozen=True)
class DeadlineRule:
    """`month` counts from the period's first month (1 = its first month, months + 1 = the month after it);
    `before` means the report must arrive before `day` (so the last on-time day is the day before)."""

    month: int
    day: int
    before: bool = False

    def due_date(self, period):
        year, month = _add_months(period.start.year, period.start.month, self.month - 1)
        due = date(year, month, self.day)
        return due - timedelta(days=1) if self.before else due
