"""The validation suites: Great Expectations 1.x suite files in expectations/, read here as plain JSON.

Both the scheduled runner (which hands them to Great Expectations) and the instant evaluator at entry (which
never imports Great Expectations) read the same files, so their verdicts come from one definition. A suite's
`meta.derived` declares the columns its expectations need that are not form fields (sums, history, joins with
reference data); service/rules/derive.py computes them.
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from service.common.errors import DomainError
from service.config import PROJECT_DIR

SUITES_DIR = PROJECT_DIR / "expectations"
SEVERITIES = ("error", "warning")
KINDS = ("completeness", "consistency", "reference", "over_time", "external")
SUPPORTED = {
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal",
}


class SuiteError(DomainError):
    code = "invalid_suite"


@dataclass(frozen=True)
class Rule:
    rule: str
    severity: str
    type: str
    kwargs: dict
    message_vi: str
    message_en: str
    columns: tuple
    suite: str
    kind: str

    def message(self, language="vi"):
        return self.message_en if language == "en" else self.message_vi


@dataclass(frozen=True)
class Suite:
    name: str
    form: str
    kind: str
    derived: dict
    rules: tuple
    document: dict
    sha256: str


def load_suite(path):
    raw = Path(path).read_bytes()
    document = json.loads(raw)
    meta = document.get("meta", {})
    rules = []
    for index, item in enumerate(document.get("expectations", [])):
        expectation_meta = item.get("meta", {})
        where = f"{path}: expectation {index}"
        if item.get("type") not in SUPPORTED:
            raise SuiteError(f"{where}: type {item.get('type')} is not supported by the instant evaluator")
        if expectation_meta.get("severity") not in SEVERITIES:
            raise SuiteError(f"{where}: meta.severity must be error or warning")
        for key in ("rule", "message_vi", "message_en"):
            if not expectation_meta.get(key):
                raise SuiteError(f"{where}: meta.{key} is required")
        rules.append(Rule(rule=expectation_meta["rule"], severity=expectation_meta["severity"], type=item["type"],
                          kwargs=item["kwargs"], message_vi=expectation_meta["message_vi"],
                          message_en=expectation_meta["message_en"],
                          columns=tuple(expectation_meta.get("columns", ())), suite=document["name"],
                          kind=meta.get("kind", "")))
    return Suite(name=document["name"], form=meta.get("form", ""), kind=meta.get("kind", ""),
                 derived=meta.get("derived", {}), rules=tuple(rules), document=document,
                 sha256=hashlib.sha256(raw).hexdigest())


_CACHE = {}


def suites_for(form_code, directory=SUITES_DIR):
    """Every suite of a form, read once per process (files change with a deploy)."""
    key = (str(directory), form_code)
    if key not in _CACHE:
        suites = [load_suite(path) for path in sorted(Path(directory).glob(f"{form_code}.*.json"))]
        seen = {}
        for suite in suites:
            for rule in suite.rules:
                if rule.rule in seen:
                    raise SuiteError(f"rule id {rule.rule} appears in {seen[rule.rule]} and {suite.name}")
                seen[rule.rule] = suite.name
        _CACHE[key] = suites
    return _CACHE[key]


def rules_for(form_code):
    return [rule for suite in suites_for(form_code) for rule in suite.rules]


def rule(form_code, rule_id):
    for item in rules_for(form_code):
        if item.rule == rule_id:
            return item
    return None


def derived_specs(form_code):
    """Every derived column of a form's suites (one dict per process; do not modify it)."""
    key = ("derived", form_code)
    if key not in _CACHE:
        specs = {}
        for suite in suites_for(form_code):
            specs.update(suite.derived)
        _CACHE[key] = specs
    return _CACHE[key]


def suite_hashes(form_code):
    return {suite.name: suite.sha256 for suite in suites_for(form_code)}
