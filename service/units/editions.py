"""The two editions of the official unit list and what differs between them, in one place.

The 2024 list has three levels (province, district, commune); the 2025 list, in force from 1 July 2025, has two
(province, commune). A reported period belongs to the edition in force on its last day. The succession links the
communes of the old edition to those of the new one. Outside `service/units/` (and the demo) no code names an
edition year: it asks here.
"""
from datetime import date

from flask import current_app

OLD = 2024  # before the 2025 reform: provinces, districts, communes
NEW = 2025  # from the reform: provinces and communes
EDITIONS = (OLD, NEW)
REFORM_DATE = date(2025, 7, 1)
LEVELS = {OLD: ("province", "district", "commune"), NEW: ("province", "commune")}


def current():
    """The edition users work in (the setting CURRENT_EDITION; the 2025 list by default)."""
    return current_app.config["CURRENT_EDITION"]


def in_force_on(day):
    """The edition in force on `day`."""
    return NEW if day >= REFORM_DATE else OLD


def has_districts(edition):
    return "district" in LEVELS.get(edition, ())


def levels(edition):
    return LEVELS.get(edition, ())


def is_new(edition):
    """Whether `edition` is the list after the reform (whose old units come to it through the succession)."""
    return edition == NEW


def other(edition):
    """The edition on the other side of the succession."""
    return OLD if edition == NEW else NEW
