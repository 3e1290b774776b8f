"""The capacity checks of a facility, run on every capacity change and census entry (for that facility) and
by a daily job (for every facility). Each failing check is a flag of the shared flag model (subject
"facility", one per facility and rule) with the same lifecycle as a report's flags:

- F01-<modality>: occupancy above capacity (compulsory, voluntary, substitution) on the latest census;
- F02: detox beds occupied beyond capacity;
- F03: no census, or the latest is older than FACILITY_CENSUS_MAX_AGE_DAYS (for facilities with capacity);
- F04-<condition>: a staffing condition of the facility's type not met (the missing role or qualification
  named), evaluated against the live roster and the qualifications valid today;
- F05: licence expired (error) or expiring within FACILITY_LICENCE_WARN_DAYS (warning).

A closed facility has no checks: its flags are resolved.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from service.common.time import local_today
from service.extensions import db
from service.facilities.models import Facility, StaffingCondition
from service.facilities.queries import capacities_on, capacity_history, latest_censuses, places_on
from service.flags.models import Flag
from service.flags.operations import Finding, sync_flags
from service.training.models import Qualification, StaffMember
from service.training.queries import active_on

MODALITY_VI = {"compulsory": "cai nghiện bắt buộc", "voluntary": "cai nghiện tự nguyện",
               "detox": "giường cắt cơn, giải độc", "substitution": "điều trị thay thế"}
MODALITY_EN = {"compulsory": "compulsory rehab", "voluntary": "voluntary rehab", "detox": "detox beds",
               "substitution": "substitution treatment"}


def _setting(name, default):
    return int(current_app.config.get(name, default))


def _occupancy_findings(census, history):
    findings = []
    for modality, line in sorted(census.counts.items()):
        places = places_on(history, census.facility_id, modality, line.census_date)
        if line.current_count <= places:
            continue
        rule = "F02" if modality == "detox" else f"F01-{modality}"
        date_text = f"{line.census_date:%d/%m/%Y}"
        if modality == "detox":
            vi = (f"Số người cắt cơn, giải độc ({line.current_count}) vượt số giường ({places}) "
                  f"theo điều tra ngày {date_text}.")
            en = f"Detox beds occupied ({line.current_count}) beyond the beds ({places}) on the census of {date_text}."
        else:
            vi = (f"Số người {MODALITY_VI[modality]} ({line.current_count}) vượt công suất ({places}) "
                  f"theo điều tra ngày {date_text}.")
            en = (f"Occupancy for {MODALITY_EN[modality]} ({line.current_count}) is above capacity ({places}) "
                  f"on the census of {date_text}.")
        findings.append(Finding(rule, "error", vi, en, {
            "modality": modality, "census_date": line.census_date.isoformat(), "capacity": places,
            "current_count": line.current_count}))
    return findings


def _stale_finding(census, has_capacity, today, max_age):
    if not has_capacity:
        return None
    if census is None:
        return Finding("F03", "warning", "Cơ sở chưa nhập số liệu điều tra (số người đang điều trị) lần nào.",
                       "The facility has never entered a census.", {"census_date": None})
    age = (today - census.census_date).days
    if age <= max_age:
        return None
    date_text = f"{census.census_date:%d/%m/%Y}"
    return Finding("F03", "warning",
                   f"Số liệu điều tra mới nhất là ngày {date_text} (đã {age} ngày, quá {max_age} ngày).",
                   f"The latest census is of {date_text} ({age} days old, more than {max_age}).",
                   {"census_date": census.census_date.isoformat(), "max_age_days": max_age})


def _licence_finding(facility, today, warn_days):
    expires = facility.licence_expires_on
    if expires is None or expires > today + timedelta(days=warn_days):
        return None
    date_text = f"{expires:%d/%m/%Y}"
    observed = {"licence_number": facility.licence_number, "licence_expires_on": expires.isoformat()}
    if expires < today:
        return Finding("F05", "error", f"Giấy phép hoạt động {facility.licence_number} đã hết hạn ngày {date_text}.",
                       f"Operating licence {facility.licence_number} expired on {date_text}.", observed)
    days = (expires - today).days
    return Finding("F05", "warning",
                   f"Giấy phép hoạt động {facility.licence_number} hết hạn ngày {date_text} (còn {days} ngày).",
                   f"Operating licence {facility.licence_number} expires on {date_text} ({days} days left).",
                   observed)


def staffing_counts(facility_ids, today):
    """(facility id, role id) → active staff; (facility id, role id, qualification type id) → active staff
    holding that qualification valid today."""
    active = select(StaffMember.id, StaffMember.facility_id, StaffMember.role_category_id).where(
        StaffMember.facility_id.in_(facility_ids), active_on(today)).subquery()
    by_role = {(f, r): n for f, r, n in db.session.execute(
        select(active.c.facility_id, active.c.role_category_id, func.count())
        .group_by(active.c.facility_id, active.c.role_category_id))}
    holders = (select(active.c.facility_id, active.c.role_category_id, Qualification.qualification_type_id,
                      Qualification.staff_id)
               .join(Qualification, Qualification.staff_id == active.c.id)
               .where(Qualification.issued_on <= today,
                      or_(Qualification.expires_on.is_(None), Qualification.expires_on >= today))
               .distinct().subquery())
    by_qualification = {(f, r, q): n for f, r, q, n in db.session.execute(
        select(holders.c.facility_id, holders.c.role_category_id, holders.c.qualification_type_id, func.count())
        .group_by(holders.c.facility_id, holders.c.role_category_id, holders.c.qualification_type_id))}
    return by_role, by_qualification


def _staffing_findings(facility, conditions, by_role, by_qualification):
    findings = []
    for condition in conditions:
        role = condition.role_category
        if condition.qualification_type_id is None:
            have = by_role.get((facility.id, condition.role_category_id), 0)
            vi_what, en_what = role.name_vi.lower(), role.name_en.lower()
        else:
            have = by_qualification.get((facility.id, condition.role_category_id, condition.qualification_type_id), 0)
            qualification = condition.qualification_type
            vi_what = f"{role.name_vi.lower()} có {qualification.name_vi.lower()} còn hiệu lực"
            en_what = f"{role.name_en.lower()} holding a valid {qualification.name_en.lower()}"
        if have >= condition.minimum:
            continue
        missing = condition.minimum - have
        findings.append(Finding(
            f"F04-{condition.id}", condition.severity,
            f"Thiếu {missing} {vi_what} (cần ít nhất {condition.minimum}, hiện có {have}; {condition.basis}).",
            f"Missing {missing} {en_what} (at least {condition.minimum} needed, {have} now; {condition.basis}).",
            {"role": role.code, "qualification": condition.qualification_type.code
             if condition.qualification_type_id else None, "required": condition.minimum, "present": have}))
    return findings


def facility_findings(facilities, today):
    """facility id → [Finding] for every failing check of these facilities today."""
    ids = [facility.id for facility in facilities]
    censuses = latest_censuses(ids, today)
    history = capacity_history(ids)
    capacity_today = capacities_on(ids, today)
    conditions = {}
    for condition in db.session.scalars(select(StaffingCondition).order_by(StaffingCondition.id)):
        conditions.setdefault(condition.facility_type, []).append(condition)
    by_role, by_qualification = staffing_counts(ids, today)
    max_age = _setting("FACILITY_CENSUS_MAX_AGE_DAYS", 14)
    warn_days = _setting("FACILITY_LICENCE_WARN_DAYS", 60)
    result = {}
    for facility in facilities:
        if facility.status == "closed":
            result[facility.id] = []
            continue
        census = censuses.get(facility.id)
        findings = _occupancy_findings(census, history) if census else []
        has_capacity = any(places > 0 for places in capacity_today.get(facility.id, {}).values())
        findings += [item for item in (_stale_finding(census, has_capacity, today, max_age),
                                       _licence_finding(facility, today, warn_days)) if item]
        findings += _staffing_findings(facility, conditions.get(facility.facility_type, []), by_role,
                                       by_qualification)
        result[facility.id] = findings
    return result


def refresh_facility_flags(facility_ids=None, today=None, chunk=500):
    """Re-run the checks of some facilities (all of them by default) and bring their flags in line.
    Returns {"facilities", "opened", "closed"}."""
    today = today or local_today()
    query = select(Facility).order_by(Facility.id)
    if facility_ids is not None:
        query = query.where(Facility.id.in_(list(facility_ids)))
    facilities = db.session.scalars(query).all()
    opened = closed = 0
    for start in range(0, len(facilities), chunk):
        batch = facilities[start:start + chunk]
        by_id = {facility.id: facility for facility in batch}
        findings = facility_findings(batch, today)
        wanted = {(facility_id, finding.rule): finding
                  for facility_id, items in findings.items() for finding in items}
        existing = {(flag.facility_id, flag.rule): flag for flag in db.session.scalars(select(Flag).where(
            Flag.subject == "facility", Flag.facility_id.in_(list(by_id))))}

        def subject_of(key, by_id=by_id):
            facility = by_id[key[0]]
            return {"subject": "facility", "facility_id": facility.id, "org_unit_id": facility.org_unit_id}

        batch_opened, batch_closed = sync_flags(existing, wanted, subject_of)
        opened, closed = opened + batch_opened, closed + batch_closed
    return {"facilities": len(facilities), "opened": opened, "closed": closed}

