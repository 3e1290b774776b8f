"""Time helpers: the database keeps UTC; people read Vietnam time (Asia/Ho_Chi_Minh)."""
from datetime import datetime, timezone


def utcnow():
    return datetime.now(timezone.utc)


def as_utc(value):
    """SQLite returns naive datetimes for timezone-aware columns: read them as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
