"""How the admin pages write numbers and dates for people (Vietnamese by default) and read the dates they type."""
from datetime import datetime

from flask import flash, request
from flask_babel import get_locale
from flask_babel import gettext as _

from service.common.time import local_today


def language():
    return str(get_locale() or "vi")[:2]


def percent_text(value, exact=False):
    """50.0 → "50,0 %" in Vietnamese, "50.0 %" in English (exact: 80 → "80 %"); "—" when nobody is counted."""
    if value is None:
        return "—"
    text = f"{value:g}" if exact else f"{value:.1f}"
    return (text.replace(".", ",") if language() == "vi" else text) + " %"


def day_text(value):
    return value.strftime("%d/%m/%Y") if value else ""


def day_formatter(view, value, name=None):
    """Flask-Admin type formatter: a date as dd/mm/yyyy."""
    return day_text(value)


def parse_day(raw, default=None):
    """A date typed in a form or a query string: 2025-07-01 (the browser's date input) or 01/07/2025; `default`
    when empty, None when it is neither."""
    raw = (raw or "").strip()
    if not raw:
        return default
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None


def requested_day(argument="on"):
    """The date a report page is asked for (?on=YYYY-MM-DD), today by default; a bad one is said and replaced."""
    raw = request.args.get(argument)
    day = parse_day(raw, local_today())
    if day is None:
        flash(_("%(value)s is not a date; showing today.", value=raw), "warning")
        day = local_today()
    return day


def requested_page(total, per_page):
    """(page, pages, first row) for a long table of `total` rows, `per_page` a page: the page asked for in
    `?page=` (anything else is the first), kept within 1..pages."""
    pages = max(1, -(-total // per_page))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return page, pages, (page - 1) * per_page
