"""Changes of state for facilities: capacity changes and census entries (each a new row, never an overwrite),
corrections of a census, the registry row itself (create_facility, update_facility: the admin form and the
import) and the staffing conditions of each facility type. Every write to a facility's capacity or census first
takes the facility's revision (an UPDATE that locks the row until commit, so writers of one facility queue),
refuses a form read at an older revision, and re-runs the facility's checks in the same transaction.
Operations flush, never commit."""
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from service.common.errors import DomainError
from service.common.time import local_today
from service.extensions import db
from service.facilities.checks import refresh_facility_flags
from service.facilities.models import MODALITIES, CapacityChange, Census, CensusLine, Facility, StaffingCondition
from service.facilities.queries import capacity_on
from service.flags.models import Flag


class FacilityError(DomainError):
    """Bad input: `errors` are {"field", "message"} dicts (Vietnamese messages)."""

    code = "invalid_census"

    def __init__(self, message, errors=None):
        super().__init__(message, errors or [{"field": None, "message": message}])


class FacilityConflict(FacilityError):
    """Someone else changed the facility's capacity or census since the form was opened."""

    code = "conflict"
    status = 409


def take_revision(facility, expected_revision=None):
    """Bump the facility's revision, which locks its row until the transaction ends (PostgreSQL: concurrent
    writers of this facility wait here; SQLite: one writer at a time anyway). With `expected_revision`, a
    revision other than the one the form was read at is a conflict."""
    query = update(Facility).where(Facility.id == facility.id)
    if expected_revision is not None:
        query = query.where(Facility.revision == expected_revision)
    result = db.session.execute(query.values(revision=Facility.revision + 1).execution_options(
        synchronize_session=False))
    if result.rowcount != 1:
        raise FacilityConflict(_("Someone else changed this facility's capacity or census after you opened the "
                                 "form. Look at the latest figures and enter yours again."))
    db.session.refresh(facility, ["revision"])
    return facility.revision


def _count(value, label):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            text = str(value).strip()
            if not text.isdigit():
                raise ValueError
            value = int(text)
        except ValueError:
            raise FacilityError(_("%(field)s: enter a whole number, 0 or more.", field=label),
                                [{"field": label, "message": _("Enter a whole number, 0 or more.")}]) from None
    if value < 0:
        raise FacilityError(_("%(field)s: enter a whole number, 0 or more.", field=label),
                            [{"field": label, "message": _("Enter a whole number, 0 or more.")}])
    return value


def _check_date(day, label, today):
    if not isinstance(day, date):
        raise FacilityError(_("%(field)s: enter a date.", field=label))
    if day > today:
        raise FacilityError(_("%(field)s cannot be in the future.", field=label))


def _check_active(facility):
    if facility.status == "closed":
        raise FacilityError(_("The facility is closed: its capacity and census can no longer change."))


def set_capacity(user, facility, places, effective_from, note="", expected_revision=None, today=None):
    """Record the capacity of one or more modalities from `effective_from` (a new row for each modality whose
    figure changes; the history stays). `places` maps modality → places. Returns the new rows."""
    today = today or local_today()
    _check_active(facility)
    if not isinstance(effective_from, date):
        raise FacilityError(_("%(field)s: enter a date.", field=_("Effective from")))
    unknown = set(places) - set(MODALITIES)
    if unknown:
        raise FacilityError(_("Unknown modality: %(names)s", names=", ".join(sorted(unknown))))
    figures = {modality: _count(value, str(MODALITIES[modality])) for modality, value in places.items()}
    figures = {modality: value for modality, value in figures.items() if value is not None}
    if not figures:
        raise FacilityError(_("Enter the capacity of at least one modality."))
    take_revision(facility, expected_revision)
    current = capacity_on(facility, effective_from)
    rows = []
    for modality, value in figures.items():
        if current.get(modality) == value:
            continue
        row = CapacityChange(facility_id=facility.id, modality=modality, places=value,
                             effective_from=effective_from, note=(note or "").strip()[:500],
                             recorded_by_id=user.id if user is not None else None)
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    _recheck(facility, today)
    return rows


def record_census(user, facility, census_date, lines, expected_revision=None, corrects=None, reason=None,
                  channel="web", today=None):
    """Record the occupancy of a facility on a date. `lines` maps modality → {"admissions", "discharges",
    "current_count"} (current_count required). With `corrects`, the new census replaces that one (which stays in
    the history, no longer counted), and a reason is required."""
    today = today or local_today()
    _check_active(facility)
    _check_date(census_date, _("Census date"), today)
    unknown = set(lines) - set(MODALITIES)
    if unknown:
        raise FacilityError(_("Unknown modality: %(names)s", names=", ".join(sorted(unknown))))
    clean = {}
    for modality, figures in lines.items():
        label = str(MODALITIES[modality])
        count = _count(figures.get("current_count"), label)
        admissions = _count(figures.get("admissions"), label) or 0
        discharges = _count(figures.get("discharges"), label) or 0
        if count is None:
            if admissions or discharges:
                raise FacilityError(_("%(field)s: enter the current count.", field=label))
            continue
        clean[modality] = (admissions, discharges, count)
    if not clean:
        raise FacilityError(_("Enter the current count of at least one modality."))
    if corrects is not None:
        if corrects.facility_id != facility.id:
            raise FacilityError(_("The census to correct belongs to another facility."))
        if not (reason or "").strip():
            raise FacilityError(_("Say what the correction corrects."))
        if db.session.scalar(select(exists().where(Census.corrects_id == corrects.id))):
            raise FacilityConflict(_("This census has already been corrected: correct the latest entry instead."))
    take_revision(facility, expected_revision)
    census = Census(facility_id=facility.id, census_date=census_date, channel=channel,
                    corrects_id=corrects.id if corrects is not None else None,
                    correction_reason=(reason or "").strip() or None,
                    recorded_by_id=user.id if user is not None else None,
                    lines=[CensusLine(modality=modality, admissions=a, discharges=d, current_count=c)
                           for modality, (a, d, c) in clean.items()])
    savepoint = db.session.begin_nested()
    db.session.add(census)
    try:
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        raise FacilityConflict(_("This census has already been corrected: correct the latest entry "
                                 "instead.")) from None
    savepoint.commit()
    _recheck(facility, today)
    return census


def _recheck(facility, today):
    refresh_facility_flags([facility.id], today=today)


# --- the registry ------------------------------------------------------------------------------------------------

def check_registry(facility):
    """The rules of a registry row: a closed facility has its closing date; a licence expires after its issue."""
    if facility.status == "closed" and facility.closed_on is None:
        raise FacilityError(_("A closed facility needs the date it closed."))
    if facility.licence_date and facility.licence_expires_on and facility.licence_expires_on < facility.licence_date:
        raise FacilityError(_("The licence expires before it was issued."))


def create_facility(code, *, recheck=True, today=None, **fields):
    """A new facility of the registry (`fields`: its attributes, org_unit or org_unit_id for its unit). With
    `recheck`, the facility's checks are run (an import runs them once for all its rows)."""
    facility = Facility(code=code, **fields)
    check_registry(facility)
    db.session.add(facility)
    db.session.flush()
    if recheck:
        refresh_facility_flags([facility.id], today=today)
    return facility


def update_facility(facility, *, recheck=True, today=None, **fields):
    """Change registry fields of a facility (only those given); returns whether any value changed."""
    changed = False
    for field, value in fields.items():
        if getattr(facility, field) != value:
            setattr(facility, field, value)
            changed = True
    check_registry(facility)
    db.session.flush()
    if recheck:
        refresh_facility_flags([facility.id], today=today)
    return changed


# --- staffing conditions (Decree 116/2021) ---------------------------------------------------------------------


def create_staffing_condition(**fields):
    condition = StaffingCondition(**fields)
    db.session.add(condition)
    db.session.flush()
    _recheck_condition(condition)
    return condition


def update_staffing_condition(condition, **fields):
    for field, value in fields.items():
        setattr(condition, field, value)
    db.session.flush()
    _recheck_condition(condition)
    return condition


def delete_staffing_condition(condition):
    condition_id, facility_type = condition.id, condition.facility_type
    db.session.delete(condition)
    db.session.flush()
    _recheck_condition(condition, condition_id, facility_type)


def _recheck_condition(condition, condition_id=None, facility_type=None):
    """Re-run the checks of the facilities of the condition's type, and of those flagged by it (its type may
    just have changed, or it is gone)."""
    condition_id = condition_id or condition.id
    facility_type = facility_type or condition.facility_type
    ids = set(db.session.scalars(select(Facility.id).where(Facility.facility_type == facility_type)))
    ids |= set(db.session.scalars(select(Flag.facility_id).where(
        Flag.subject == "facility", Flag.rule == f"F04-{condition_id}")))
    if ids:
        refresh_facility_flags(sorted(ids))
