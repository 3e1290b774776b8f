"""Read-side queries of the facilities: the capacity report (occupancy per modality per facility and per
province on a day) and the open facility flags of a scope.

The figures of a facility on a day are the places in force on that day (its capacity history) and the current
counts of its latest census on or before that day that still counts (a corrected census is replaced by its
correction). A rate is current / places, None when there are no places. A province total counts, per modality,
the facilities with a current count for it: places and occupants of those, so that its rate is their ratio;
places of facilities without a count are shown apart. Closed facilities are left out.

Every query is set-based: a fixed number of queries whatever the number of facilities (chunked IN lists)."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased, contains_eager

from service.extensions import db
from service.facilities.checks import capacities_on, latest_censuses
from service.facilities.models import FACILITY_TYPES, MODALITIES, Facility
from service.units.models import AdminUnit
from service.validation.models import OPEN_STATUSES, Flag

CHUNK = 5000


def rate(current, capacity):
    """Occupancy in per cent, one decimal; None without places or without a count."""
    if current is None or not capacity:
        return None
    return round(current * 100 / capacity, 1)


@dataclass
class Figures:
    """One modality of one facility: places on the day (None: never recorded) and current count (None: the
    census has no count for it, or there is no census)."""

    capacity: int | None = None
    current: int | None = None

    @property
    def rate(self):
        return rate(self.current, self.capacity)

    @property
    def over(self):
        """More occupants than places (also when there are no places at all)."""
        return self.current is not None and self.current > (self.capacity or 0)

    @property
    def empty(self):
        return self.capacity is None and self.current is None


@dataclass
class Totals:
    """One modality of one province: places and occupants of the facilities with a count, and the places of
    those without one."""

    capacity: int = 0
    current: int = 0
    facilities: int = 0
    unreported_capacity: int = 0
    unreported_facilities: int = 0

    @property
    def rate(self):
        return rate(self.current, self.capacity) if self.facilities else None

    @property
    def over(self):
        return self.facilities > 0 and self.current > self.capacity

    @property
    def empty(self):
        return not self.facilities and not self.unreported_facilities

    def add(self, figures):
        if figures.current is not None:
            self.capacity += figures.capacity or 0
            self.current += figures.current
            self.facilities += 1
        elif figures.capacity:
            self.unreported_capacity += figures.capacity
            self.unreported_facilities += 1


@dataclass
class FacilityRow:
    facility_id: int
    code: str
    name: str
    facility_type: str
    status: str
    unit_code: str
    unit_name: str
    province_id: int | None
    province_name: str
    census_date: date | None = None
    figures: dict = field(default_factory=dict)  # modality → Figures
    errors: int = 0
    warnings: int = 0

    @property
    def type_label(self):
        return FACILITY_TYPES.get(self.facility_type, self.facility_type)

    @property
    def has_figures(self):
        return any(not figures.empty for figures in self.figures.values())


@dataclass
class ProvinceTotal:
    province_id: int | None
    code: str
    name: str
    edition: int | None
    facilities: int = 0
    totals: dict = field(default_factory=lambda: {modality: Totals() for modality in MODALITIES})
    errors: int = 0
    warnings: int = 0


@dataclass
class CapacityReport:
    day: date
    province: AdminUnit | None
    rows: list
    provinces: list  # ProvinceTotal, in the order of the rows
    truncated: bool = False

    def modalities(self):
        """The modalities any facility of the report has places or a count for (all of them when none has)."""
        used = [modality for modality in MODALITIES
                if any(not row.figures[modality].empty for row in self.rows)]
        return used or list(MODALITIES)


def _province_key():
    """The province of a unit: itself for a province, its province_id below."""
    return case((AdminUnit.level == "province", AdminUnit.id), else_=AdminUnit.province_id)


def _facility_filter(query, scope, province):
    query = query.where(scope.facility_clause(Facility), Facility.status != "closed")
    if province is not None:
        query = query.where(_province_key() == province.id)
    return query


def report_provinces(scope):
    """The provinces (of either edition) holding a facility of the scope that is not closed, by name."""
    key = _province_key()
    ids = select(key).select_from(Facility).join(AdminUnit, AdminUnit.id == Facility.org_unit_id)
    ids = _facility_filter(ids, scope, None).distinct()
    return db.session.scalars(select(AdminUnit).where(AdminUnit.id.in_(ids))
                              .order_by(AdminUnit.sort_name, AdminUnit.edition.desc())).all()


def _chunks(ids):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _flag_counts(scope, ids):
    """facility id → {"error": n, "warning": n} of its open (or explained) flags."""
    counts = {}
    for chunk in _chunks(ids):
        query = (select(Flag.facility_id, Flag.severity, func.count())
                 .where(Flag.subject == "facility", Flag.status.in_(OPEN_STATUSES), Flag.facility_id.in_(chunk),
                        scope.flag_clause(Flag))
                 .group_by(Flag.facility_id, Flag.severity))
        for facility_id, severity, count in db.session.execute(query):
            counts.setdefault(facility_id, {})[severity] = count
    return counts


def capacity_report(scope, day, province=None, limit=None):
    """The capacity report of the facilities of `scope` (of one province when given) on `day`. With `limit`,
    at most that many facilities, and `truncated` says whether there were more."""
    province_unit = aliased(AdminUnit)
    key = _province_key()
    query = (select(Facility.id, Facility.code, Facility.name, Facility.facility_type, Facility.status,
                    AdminUnit.code, AdminUnit.name, key, province_unit.code, province_unit.name,
                    province_unit.edition)
             .join(AdminUnit, AdminUnit.id == Facility.org_unit_id)
             .outerjoin(province_unit, province_unit.id == key))
    query = _facility_filter(query, scope, province).order_by(province_unit.sort_name, province_unit.edition.desc(),
                                                              Facility.code)
    if limit is not None:
        query = query.limit(limit + 1)
    records = db.session.execute(query).all()
    truncated = limit is not None and len(records) > limit
    records = records[:limit] if truncated else records

    ids = [record[0] for record in records]
    censuses, capacities = {}, {}
    for chunk in _chunks(ids):
        censuses.update(latest_censuses(chunk, day))
        capacities.update(capacities_on(chunk, day))
    flags = _flag_counts(scope, ids)

    rows, provinces = [], {}
    for (facility_id, code, name, facility_type, status, unit_code, unit_name, province_id, province_code,
         province_name, edition) in records:
        census = censuses.get(facility_id)
        counts = census.counts if census is not None else {}
        places = capacities.get(facility_id, {})
        row = FacilityRow(
            facility_id, code, name, facility_type, status, unit_code, unit_name, province_id, province_name or "",
            census_date=census.census_date if census is not None else None,
            figures={modality: Figures(places.get(modality),
                                       counts[modality].current_count if modality in counts else None)
                     for modality in MODALITIES},
            errors=flags.get(facility_id, {}).get("error", 0), warnings=flags.get(facility_id, {}).get("warning", 0))
        rows.append(row)
        total = provinces.get(province_id)
        if total is None:
            total = provinces[province_id] = ProvinceTotal(province_id, province_code or "", province_name or "",
                                                           edition)
        total.facilities += 1
        total.errors += row.errors
        total.warnings += row.warnings
        for modality, figures in row.figures.items():
            total.totals[modality].add(figures)
    return CapacityReport(day, province, rows, list(provinces.values()), truncated)


def open_facility_flags(scope, province=None, limit=None):
    """Every open or explained facility flag of the scope (of one province when given; at most `limit`),
    facility loaded: errors first, then by facility code and rule."""
    query = (select(Flag).join(Facility, Facility.id == Flag.facility_id)
             .join(AdminUnit, AdminUnit.id == Facility.org_unit_id)
             .where(Flag.subject == "facility", Flag.status.in_(OPEN_STATUSES), scope.flag_clause(Flag),
                    scope.facility_clause(Facility))
             .options(contains_eager(Flag.facility))
             .order_by(case((Flag.severity == "error", 0), else_=1), Facility.code, Flag.rule, Flag.id))
    if province is not None:
        query = query.where(_province_key() == province.id)
    if limit is not None:
        query = query.limit(limit)
    return db.session.scalars(query).all()
