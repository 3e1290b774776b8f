"""Programme indicators as data (service/aggregation/indicators.json): a numerator and a denominator over the
aggregated values of a form, and the commune counts they may use. Read once per process."""
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_babel import get_locale

DEFINITIONS = Path(__file__).with_name("indicators.json")


@dataclass(frozen=True)
class Indicator:
    code: str
    names: tuple  # (vi, en)
    numerator: tuple
    denominator: tuple
    unit: str = "percent"

    @property
    def name(self):
        return self.names[1] if str(get_locale() or "vi")[:2] == "en" else self.names[0]

    def value(self, values):
        """100 × numerator / denominator over aggregated values; None when the denominator is 0 (or missing)."""
        numerator, denominator = self.parts(values)
        if not denominator:
            return None
        return round(100.0 * numerator / denominator, 2)

    def parts(self, values):
        # plain loops: this runs for every indicator of every unit of a national table
        numerator = denominator = 0
        for key in self.numerator:
            numerator += values.get(key) or 0
        for key in self.denominator:
            denominator += values.get(key) or 0
        return numerator, denominator


@cache
def _document():
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


@cache
def all_indicators():
    return tuple(Indicator(code=item["code"], names=(item["vi"], item["en"]), numerator=tuple(item["numerator"]),
                           denominator=tuple(item["denominator"]), unit=item.get("unit", "percent"))
                 for item in _document()["indicators"])


def get_indicator(code):
    return next((item for item in all_indicators() if item.code == code), None)


def commune_counts():
    """name → conditions ({"all": [{"field", "in" | "gt" | "eq"}]}) counted over clean commune reports."""
    return _document().get("counts", {})


def holds(condition, values):
    """Whether a report's values meet one condition of a commune count."""
    value = values.get(condition["field"])
    if "in" in condition:
        return value in condition["in"]
    if "gt" in condition:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > condition["gt"]
    if "eq" in condition:
        return value == condition["eq"]
    raise ValueError(f"unknown condition {condition}")
