"""Changes of state of the programme targets (IndicatorTarget): create, change, delete. Flush, never commit."""
from service.aggregation.models import IndicatorTarget
from service.extensions import db


def create_target(**fields):
    """A new target (`fields`: its attributes; plan and scope_unit, or their ids); the baseline note trimmed."""
    target = IndicatorTarget(**fields)
    target.baseline_note = (target.baseline_note or "").strip()
    db.session.add(target)
    db.session.flush()
    return target


def update_target(target, **fields):
    for field, value in fields.items():
        setattr(target, field, value)
    target.baseline_note = (target.baseline_note or "").strip()
    db.session.flush()
    return target


def delete_target(target):
    db.session.delete(target)
    db.session.flush()
