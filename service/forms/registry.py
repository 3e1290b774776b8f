"""Reporting forms as versioned data: one JSON file per form in service/forms/definitions/, loaded at start.

A form names its fields (integer / boolean / choice, required), the period types it is reported for and its
deadline rules (a default per period type, overridden per province: keys "<edition>:<province code>").
`Form.clean(values)` is the one place raw values from the web form, a spreadsheet row or the API become typed
values, with errors per field in Vietnamese.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import get_locale
from flask_babel import gettext as _

from service.common.errors import DomainError
from service.forms.periods import PERIOD_TYPES, DeadlineRule, Period, PeriodError

DEFINITIONS = Path(__file__).parent / "definitions"
FIELD_TYPES = ("integer", "boolean", "choice")
TRUE_WORDS = {"true", "1", "yes", "y", "có", "co", "x", "đúng", "dung"}
FALSE_WORDS = {"false", "0", "no", "n", "không", "khong", "sai"}
MAX_INTEGER = 10_000_000


class FormDefinitionError(DomainError):
    code = "invalid_form_definition"


def _localised(item):
    locale = str(get_locale() or "vi")
    return item.get(locale[:2]) or item.get("vi") or ""


@dataclass(frozen=True)
class Field:
    code: str
    type: str
    required: bool
    labels: dict
    section: str = ""
    choices: tuple = ()

    @property
    def label(self):
        return _localised(self.labels)

    def choice_label(self, value):
        for choice in self.choices:
            if choice["value"] == value:
                return _localised(choice)
        return value

    def clean(self, raw):
        """Raw value (str, int, float, bool, None) → (typed value or None, error message or None)."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, (_("required") if self.required else None)
        if self.type == "integer":
            return _clean_integer(raw)
        if self.type == "boolean":
            if isinstance(raw, bool):
                return raw, None
            if isinstance(raw, (int, float)) and raw in (0, 1):
                return bool(raw), None
            word = str(raw).strip().lower()
            if word in TRUE_WORDS:
                return True, None
            if word in FALSE_WORDS:
                return False, None
            return None, _("«%(value)s» is not yes or no (có / không).", value=raw)
        values = [choice["value"] for choice in self.choices]
        text = str(raw).strip()
        for choice in self.choices:
            if text == choice["value"] or text.lower() in (choice["value"].lower(), choice["vi"].lower(),
                                                           choice["en"].lower()):
                return choice["value"], None
        return None, _("«%(value)s» is not one of: %(choices)s.", value=raw, choices=", ".join(values))


def _clean_integer(raw):
    if isinstance(raw, bool):
        return None, _("«%(value)s» is not a whole number.", value=raw)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float):
        if not raw.is_integer():
            return None, _("«%(value)s» is a decimal; a whole number is needed.", value=raw)
        value = int(raw)
    else:
        text = str(raw).strip().replace("\u00a0", "").replace(" ", "")
        if text.lstrip("+-").isdigit():
            value = int(text)
        else:
            try:
                number = float(text.replace(",", "."))
            except ValueError:
                number = None
            if number is not None and not number.is_integer():
                return None, _("«%(value)s» is a decimal; a whole number is needed.", value=raw)
            return None, _("«%(value)s» is not a whole number (write digits only, no separators).", value=raw)
    if value < 0:
        return None, _("%(value)s is negative; counts cannot be.", value=value)
    if value > MAX_INTEGER:
        return None, _("%(value)s is too large.", value=value)
    return value, None


@dataclass(frozen=True)
class Form:
    code: str
    version: int
    names: dict
    period_types: tuple
    fields: tuple
    sections: tuple
    deadlines: dict = field(hash=False, compare=False, default_factory=dict)

    @property
    def name(self):
        return _localised(self.names)

    def field(self, code):
        for item in self.fields:
            if item.code == code:
                return item
        return None

    @property
    def field_codes(self):
        return [item.code for item in self.fields]

    def parse_period(self, code):
        """A period code of a type this form is reported for, or PeriodError with a Vietnamese message."""
        try:
            period = Period.parse(code)
        except PeriodError:
            raise PeriodError(_("«%(code)s» is not a period (examples: 2026Q3, 2026S1, 2026).", code=code)) from None
        if period.kind not in self.period_types:
            raise PeriodError(_("This form is not reported by %(kind)s.", kind=PERIOD_TYPES[period.kind]))
        return period

    def deadline_rule(self, period, province=None):
        """The rule for the period's type: the province's own when it has one, else the form's default."""
        if province is not None:
            rules = self.deadlines.get("provinces", {}).get(f"{province.edition}:{province.code}", {})
            if period.kind in rules:
                return DeadlineRule(**rules[period.kind])
        return DeadlineRule(**self.deadlines["default"][period.kind])

    def due_date(self, period, province=None):
        return self.deadline_rule(period, province).due_date(period)

    def clean(self, raw_values, partial=False):
        """Raw values by field code → (typed values, {field code: message}). Unknown codes are errors."""
        values, errors = {}, {}
        for code in raw_values:
            if self.field(code) is None:
                errors[code] = _("unknown field")
        for item in self.fields:
            if partial and item.code not in raw_values:
                continue
            value, error = item.clean(raw_values.get(item.code))
            if error:
                errors[item.code] = error
            elif value is not None:
                values[item.code] = value
        return values, errors


def load_form(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        fields = []
        for item in data["fields"]:
            if item["type"] not in FIELD_TYPES:
                raise FormDefinitionError(f"{path}: field {item['code']}: unknown type {item['type']}")
            fields.append(Field(code=item["code"], type=item["type"], required=bool(item.get("required")),
                                labels={"vi": item["vi"], "en": item["en"]}, section=item.get("section", ""),
                                choices=tuple(item.get("choices", ()))))
        if len({f.code for f in fields}) != len(fields):
            raise FormDefinitionError(f"{path}: a field code repeats")
        for kind in data["period_types"]:
            if kind not in PERIOD_TYPES or kind not in data["deadlines"]["default"]:
                raise FormDefinitionError(f"{path}: period type {kind} needs a default deadline rule")
        return Form(code=data["code"], version=int(data["version"]), names=data["name"],
                    period_types=tuple(data["period_types"]), fields=tuple(fields),
                    sections=tuple(data.get("sections", ())), deadlines=data["deadlines"])
    except KeyError as exc:
        raise FormDefinitionError(f"{path}: missing {exc}") from None


_FORMS = {}


def load_all(directory=DEFINITIONS):
    """Load every form definition (called by create_app); a broken file stops the start with its name."""
    forms = {}
    for path in sorted(Path(directory).glob("*.json")):
        form = load_form(path)
        if form.code in forms:
            raise FormDefinitionError(f"{path}: form code {form.code} is defined twice")
        forms[form.code] = form
    _FORMS.clear()
    _FORMS.update(forms)
    return forms


def get_form(code):
    if not _FORMS:
        load_all()
    return _FORMS.get(code)


def all_forms():
    if not _FORMS:
        load_all()
    return list(_FORMS.values())
