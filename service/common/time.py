"""Time helpers: the database keeps UTC; people read Vietnam time (Asia/Ho_Chi_Minh)."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow():
    return datetime.now(UTC)


def as_utc(value):
    """SQLite returns naive datetimes for timezone-aware columns: read them as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def format_local(value, pattern="%d/%m/%Y %H:%M"):
    """A stored UTC moment as Vietnam time, e.g. 14/09/2026 16:05."""
    if value is None:
        return ""
    return as_utc(value).astimezone(VIETNAM).strftime(pattern)


def local_today():
    return datetime.now(VIETNAM).date()
