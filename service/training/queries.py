"""Attainment of the plans' training targets, computed from the live roster on any date.

denominator = active staff of the target's role in the unit on that date (started, not left, not merged);
numerator = those of them who meet the metric on that date:
- trained: completed a class of a course of the topic that ended by then, or hold a certificate of such a course;
- certified: hold a certificate (of the topic, if the target names one) issued by then, not expired, not revoked;
- fully_qualified: hold every qualification their role requires, issued by then and not expired.
gap in persons = people still needed to reach the percentage.
"""
import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, and_, case, exists, func, literal, or_, select, text, true, union, union_all
from sqlalchemy.orm import joinedload

from service.common import figures
from service.extensions import db
from service.training.models import (
    Attendance,
    Certificate,
    Course,
    Qualification,
    RoleRequirement,
    StaffMember,
    TrainingClass,
    TrainingTarget,
)
from service.units.models import AdminUnit


def active_on(day):
    return and_(StaffMember.merged_into_id.is_(None),
                or_(StaffMember.start_date.is_(None), StaffMember.start_date <= day),
                or_(StaffMember.end_date.is_(None), StaffMember.end_date > day),
                or_(StaffMember.employment_status == "active", StaffMember.end_date.is_not(None)))


def in_unit(unit):
    """Staff of a unit: a province, district or commune (and everything under it) or a facility."""
    if unit.__tablename__ == "facility":
        return StaffMember.facility_id == unit.id
    # three indexed look-ups rather than one OR over admin_unit (which the databases answer with a full scan)
    below = union(select(AdminUnit.id).where(AdminUnit.id == unit.id),
                  select(AdminUnit.id).where(AdminUnit.province_id == unit.id),
                  select(AdminUnit.id).where(AdminUnit.district_id == unit.id))
    return StaffMember.org_unit_id.in_(below)


def meets(metric, topic, day):
    """A clause on StaffMember: meets the metric on `day`."""
    valid_certificate = and_(Certificate.staff_id == StaffMember.id, Certificate.issued_on <= day,
                             Certificate.revoked_at.is_(None),
                             or_(Certificate.expires_on.is_(None), Certificate.expires_on > day))
    if metric == "certified":
        query = select(Certificate.id).where(valid_certificate)
        if topic:
            query = query.join(Course, Course.id == Certificate.course_id).where(Course.topic == topic)
        return exists(query.correlate(StaffMember))
    if metric == "trained":
        completed = select(Attendance.id).join(TrainingClass, TrainingClass.id == Attendance.class_id).join(
            Course, Course.id == TrainingClass.course_id).where(
            Attendance.staff_id == StaffMember.id, Attendance.status == "completed", TrainingClass.ends_on <= day)
        certified = select(Certificate.id).join(Course, Course.id == Certificate.course_id).where(
            Certificate.staff_id == StaffMember.id, Certificate.issued_on <= day, Certificate.revoked_at.is_(None))
        if topic:
            completed = completed.where(Course.topic == topic)
            certified = certified.where(Course.topic == topic)
        return or_(exists(completed.correlate(StaffMember)), exists(certified.correlate(StaffMember)))
    if metric == "fully_qualified":
        missing = select(RoleRequirement.id).where(
            RoleRequirement.role_category_id == StaffMember.role_category_id,
            ~exists(select(Qualification.id).where(
                Qualification.staff_id == StaffMember.id,
                Qualification.qualification_type_id == RoleRequirement.qualification_type_id,
                Qualification.issued_on <= day,
                or_(Qualification.expires_on.is_(None), Qualification.expires_on > day))
                .correlate(StaffMember, RoleRequirement))).correlate(StaffMember)
        return ~exists(missing)
    raise ValueError(metric)


@dataclass
class Attainment:
    target: TrainingTarget
    unit: object
    on_date: date
    numerator: int
    denominator: int

    @property
    def percent(self):
        return round(100 * self.numerator / self.denominator, 1) if self.denominator else None

    @property
    def target_percent(self):
        return float(self.target.percent)

    @property
    def gap_persons(self):
        needed = math.ceil(self.target_percent * self.denominator / 100 - 1e-9)
        return max(0, needed - self.numerator)

    @property
    def met(self):
        return self.denominator > 0 and self.gap_persons == 0


# --- set-based counting ------------------------------------------------------------------------------------
#
# Every function below counts through `_count`: ONE statement for any number of (unit, role, condition) cells.
# It takes the active staff of the roles asked in the units asked (`pop`: one row per person and unit counting
# them; a unit is an admin unit with everything under it, or a facility), derives each person's training status
# once from their records (`att`, `cert`, `qual`: one row per person, a column per date or topic asked) and
# counts per (unit, role) how many meet each condition. The conditions are those of `meets`:
# - trained on D (topic T): the earliest completed class of T that ended, or certificate of T not revoked, is
#   on or before D;
# - certified on D (T): a certificate of T issued by D, not revoked, not expired on D;
# - fully qualified on D: as many required qualification types valid on D as the role requires;
# and, for a projection, being registered in (or attending) a class of T (certifying, for `certified`) that ends
# between today and D counts as meeting it.


@dataclass(frozen=True)
class Condition:
    """What a numerator counts: `metric` (of `topic`, None for any) met on `day`; with `scheduled_from`, people
    registered in a class of the topic ending between that date and `day` count as well (a projection)."""

    metric: str
    topic: str | None
    day: date
    scheduled_from: date | None = None


def condition(metric, topic, day, scheduled_from=None):
    if metric not in METRIC_NAMES:
        raise ValueError(metric)
    if metric == "fully_qualified":
        return Condition(metric, None, day)
    return Condition(metric, topic or None, day, scheduled_from)


METRIC_NAMES = ("trained", "certified", "fully_qualified")
# From how many provinces on `_count` reads every training record rather than those of the people counted
# (national data set, PostgreSQL: 6 provinces 0.26 s against 0.72 s, 12: 0.43 against 0.72, 20: 0.67 against 0.75).
WIDE_PROVINCES = 16
WIDE_WORK_MEM = "64MB"


def unit_key(unit):
    return ("facility" if unit.__tablename__ == "facility" else "unit", unit.id)


def _topic_is(topic):
    return Course.topic == topic if topic else true()


def _day(value):
    return literal(value, Date())


class _Columns:
    """Named aggregate columns of a per-person status subquery, created once each."""

    def __init__(self, prefix):
        self.prefix, self.columns, self.names = prefix, [], {}

    def add(self, key, expression):
        if key not in self.names:
            self.names[key] = f"{self.prefix}{len(self.names)}"
            self.columns.append(expression.label(self.names[key]))
        return self.names[key]


def _count(cells, active_day):
    """cells: (unit, role id, Condition or None). Returns ({(unit key, role id): active staff},
    {(unit key, role id, condition): those meeting it}) from one statement (over a few provinces, after a
    look-up of the ids of the units inside those asked)."""
    cells = list(cells)
    if not cells:
        return {}, {}
    unit_ids = sorted({unit.id for unit, _role, _c in cells if unit.__tablename__ != "facility"})
    facility_ids = sorted({unit.id for unit, _role, _c in cells if unit.__tablename__ == "facility"})
    roles = sorted({role for _unit, role, _c in cells})
    conditions = list(dict.fromkeys(c for _unit, _role, c in cells if c is not None))
    roles_of = {}
    for _unit, role, item in cells:
        if item is not None:
            roles_of.setdefault(item, set()).add(role)

    # Over a few provinces, the status subqueries read only the records of the people counted (index look-ups
    # by person, the units' ids listed so that the planner uses the staff indexes); over more of the country,
    # reading every record is cheaper.
    provinces = {getattr(unit, "province_id", None) or unit.id for unit, _r, _c in cells
                 if unit.__tablename__ != "facility"}
    narrow = len(provinces) <= WIDE_PROVINCES

    def members():
        return union(
            select(AdminUnit.id.label("scope"), AdminUnit.id.label("member")).where(AdminUnit.id.in_(unit_ids)),
            select(AdminUnit.province_id, AdminUnit.id).where(AdminUnit.province_id.in_(unit_ids)),
            select(AdminUnit.district_id, AdminUnit.id).where(AdminUnit.district_id.in_(unit_ids)),
        ).subquery("members")

    member_ids = sorted(set(db.session.scalars(select(members().c.member)))) if narrow and unit_ids else []
    working = and_(active_on(active_day), StaffMember.role_category_id.in_(roles))
    parts, inside = [], []  # the population counted; the clauses on StaffMember of being inside a unit asked
    if unit_ids:
        member = members()
        in_units = [StaffMember.org_unit_id.in_(member_ids)] if narrow else []
        parts.append(select(StaffMember.id.label("staff_id"), StaffMember.role_category_id.label("role"),
                            literal(0).label("kind"), member.c.scope.label("scope"))
                     .join(member, member.c.member == StaffMember.org_unit_id).where(working, *in_units))
        inside.extend(in_units)
    if facility_ids:
        parts.append(select(StaffMember.id.label("staff_id"), StaffMember.role_category_id.label("role"),
                            literal(1).label("kind"), StaffMember.facility_id.label("scope"))
                     .where(working, StaffMember.facility_id.in_(facility_ids)))
        inside.append(StaffMember.facility_id.in_(facility_ids))
    pop = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("pop")

    def reading(source, topic_column=None):
        """The clause on StaffMember (and Course) selecting the records a status subquery reads."""
        pairs = []
        for topic, asked in sorted(wanted[source].items(), key=lambda item: item[0] or ""):
            roles_clause = StaffMember.role_category_id.in_(sorted(asked))
            pairs.append(and_(topic_column == topic, roles_clause) if topic and topic_column is not None
                         else roles_clause)
        found = [active_on(active_day), or_(*pairs)]
        if narrow:
            found.append(or_(*inside))
        return and_(*found)

    att, cert, qual = _Columns("a"), _Columns("c"), _Columns("q")
    statuses = set()  # of the attendances read
    wanted = {"a": {}, "c": {}, "q": {}}  # source → topic → roles whose people's records are read
    expressions = []  # per condition: (condition, [(source, column, test)])
    for item in conditions:
        topic, day = item.topic, item.day
        if item.metric == "trained":
            done = att.add(("done", topic), func.min(case(
                (and_(Attendance.status == "completed", _topic_is(topic)), TrainingClass.ends_on))))
            first = cert.add(("first", topic), func.min(case(
                (and_(Certificate.revoked_at.is_(None), _topic_is(topic)), Certificate.issued_on))))
            parts_of = [("a", done, "by"), ("c", first, "by")]
            statuses.add("completed")
        elif item.metric == "certified":
            valid = cert.add(("valid", topic, day), func.max(case(
                (and_(Certificate.issued_on <= _day(day), Certificate.revoked_at.is_(None),
                      or_(Certificate.expires_on.is_(None), Certificate.expires_on > _day(day)),
                      _topic_is(topic)), Certificate.issued_on))))
            parts_of = [("c", valid, "any")]
        else:
            held = qual.add(("held", day), func.count(func.distinct(case(
                (and_(Qualification.issued_on <= _day(day),
                      or_(Qualification.expires_on.is_(None), Qualification.expires_on > _day(day))),
                 Qualification.qualification_type_id)))))
            parts_of = [("q", held, "all")]
        if item.scheduled_from is not None:
            certifying = item.metric == "certified"
            scheduled = att.add(("scheduled", topic, certifying, item.scheduled_from), func.min(case(
                (and_(Attendance.status.in_(("registered", "attended")),
                      TrainingClass.ends_on >= _day(item.scheduled_from), _topic_is(topic),
                      Course.certifies.is_(True) if certifying else true()), TrainingClass.ends_on))))
            parts_of.append(("a", scheduled, "by"))
            statuses.update(("registered", "attended"))
        for source, _name, _test in parts_of:
            wanted[source].setdefault(topic, set()).update(roles_of[item])
        expressions.append((item, parts_of))

    subqueries = {}
    if att.columns:
        subqueries["a"] = select(Attendance.staff_id.label("staff_id"), *att.columns).join(
            StaffMember, StaffMember.id == Attendance.staff_id).join(
            TrainingClass, TrainingClass.id == Attendance.class_id).join(
            Course, Course.id == TrainingClass.course_id).where(
            reading("a", Course.topic), Attendance.status.in_(sorted(statuses))).group_by(
            Attendance.staff_id).subquery("att")
    if cert.columns:
        subqueries["c"] = select(Certificate.staff_id.label("staff_id"), *cert.columns).join(
            StaffMember, StaffMember.id == Certificate.staff_id).join(
            Course, Course.id == Certificate.course_id).where(
            reading("c", Course.topic)).group_by(Certificate.staff_id).subquery("cert")
    if qual.columns:
        subqueries["q"] = select(Qualification.staff_id.label("staff_id"), *qual.columns).join(
            StaffMember, StaffMember.id == Qualification.staff_id).join(
            RoleRequirement, and_(RoleRequirement.role_category_id == StaffMember.role_category_id,
                                  RoleRequirement.qualification_type_id == Qualification.qualification_type_id)).where(
            reading("q")).group_by(Qualification.staff_id).subquery("qual")
        subqueries["r"] = select(RoleRequirement.role_category_id.label("role"),
                                 func.count(RoleRequirement.id).label("required")).group_by(
            RoleRequirement.role_category_id).subquery("required")

    def clause(item, parts_of):
        found = []
        for source, name, test in parts_of:
            column = subqueries[source].c[name]
            if test == "all":  # every required qualification type held
                found.append(func.coalesce(column, 0) >= func.coalesce(subqueries["r"].c.required, 0))
            elif test == "any":  # some record matched
                found.append(column.is_not(None))
            else:  # the earliest date is on or before the day
                found.append(column <= _day(item.day))
        return or_(*found) if len(found) > 1 else found[0]

    counted = [func.sum(case((clause(item, parts_of), 1), else_=0)) for item, parts_of in expressions]
    query = select(pop.c.kind, pop.c.scope, pop.c.role, func.count(), *counted).select_from(pop)
    for source, subquery in subqueries.items():
        on = subquery.c.role == pop.c.role if source == "r" else subquery.c.staff_id == pop.c.staff_id
        query = query.outerjoin(subquery, on)
    query = query.group_by(pop.c.kind, pop.c.scope, pop.c.role)

    if not narrow and db.session.get_bind().dialect.name == "postgresql":
        # the per-person statuses of the whole country (about 150,000 rows) hashed in memory rather than in
        # batches on disk; for this transaction only
        db.session.execute(text(f"SET LOCAL work_mem = '{WIDE_WORK_MEM}'"))
    return _collect(db.session.execute(query), conditions)


def _collect(rows, conditions):
    denominators, numerators = {}, {}
    for kind, scope, role, total, *found in rows:
        key = ("facility" if kind == 1 else "unit", scope)
        denominators[(key, role)] = total
        for item, value in zip(conditions, found, strict=True):
            numerators[(key, role, item)] = int(value or 0)
    return denominators, numerators


def _today_condition(target, on_date):
    return condition(target.metric, target.topic, on_date)


def _deadline_condition(target, today):
    """None once the deadline has passed."""
    if target.deadline < today:
        return None
    return condition(target.metric, target.topic, target.deadline,
                     today if target.metric in ("trained", "certified") else None)


def _pairs(pairs):
    return [(target, unit or target.scope_unit) for target, unit in pairs]


def measure(pairs, on_date, projected=True):
    """[(attainment on `on_date`, projection to the deadline or None)] of (target, unit or None: its own scope)
    pairs, in their order, from ONE statement. Both count the staff active on `on_date`; the projection counts
    them on the deadline (see `projection`)."""
    pairs = _pairs(pairs)
    cells = []
    for target, unit in pairs:
        cells.append((unit, target.role_category_id, _today_condition(target, on_date)))
        if projected:
            cells.append((unit, target.role_category_id, _deadline_condition(target, on_date)))
    denominators, numerators = figures.cached(
        "training.count", (tuple((unit_key(unit), role, item) for unit, role, item in cells), on_date),
        lambda: _count(cells, on_date))
    found = []
    for target, unit in pairs:
        key, role = unit_key(unit), target.role_category_id
        denominator = denominators.get((key, role), 0)
        now = Attainment(target, unit, on_date, numerators.get((key, role, _today_condition(target, on_date)), 0),
                         denominator)
        later = None
        ahead = _deadline_condition(target, on_date) if projected else None
        if ahead is not None:
            later = Attainment(target, unit, target.deadline, numerators.get((key, role, ahead), 0) if denominator
                               else 0, denominator)
        found.append((now, later))
    return found


def attainments(pairs, on_date):
    """The attainment of each (target, unit or None) pair on a date, in one statement."""
    return [now for now, _later in measure(pairs, on_date, projected=False)]


def projections(pairs, today):
    """The projection of each (target, unit or None) pair (None past its deadline), in one statement."""
    return [later for _now, later in measure(pairs, today)]


def attainment(target, on_date, unit=None):
    """The target's attainment on a date, for its own scope or a unit inside it."""
    return attainments([(target, unit)], on_date)[0]


def breakdown(target, on_date):
    """The target's attainment in each unit one level below its scope (districts or communes), and a row for the
    staff attached to the scope unit itself (a province's own department and centres), so that the rows add up
    to the target's total. Units without staff of the role are left out."""
    scope = target.scope_unit
    children = db.session.scalars(select(AdminUnit).where(AdminUnit.parent_id == scope.id)
                                  .order_by(AdminUnit.sort_name)).all()
    total, *rows = attainments([(target, None)] + [(target, child) for child in children], on_date)
    own = Attainment(target, scope, on_date, total.numerator - sum(row.numerator for row in rows),
                     total.denominator - sum(row.denominator for row in rows))
    if own.numerator < 0 or own.denominator < 0:  # the units below overlap (never in one edition's tree)
        raise ValueError(f"breakdown of target {target.id}: the units below count more than the total")
    return [row for row in [own, *rows] if row.denominator]


def projection(target, today, unit=None):
    """The attainment expected at the deadline: today's active staff, counted on the deadline, so certificates
    and licences that expire before it no longer count, while people registered in classes of the target's
    topic that end by the deadline count as if they complete them. None once the deadline has passed."""
    return projections([(target, unit)], today)[0]


# --- scope: which training rows a user may read ------------------------------------------------------------
# Staff are in scope through their org unit (a facility manager: through their facility); qualifications and
# certificates through their staff member; classes through the class's unit; targets through their scope unit.

def staff_clause(scope):
    return scope.staff_clause(StaffMember)


def listed_staff_clause(scope):
    """Staff in scope who have not been merged into another record."""
    return and_(staff_clause(scope), StaffMember.merged_into_id.is_(None))


def _through_staff(column):
    def clause(scope):
        if scope.national:
            return true()
        return column.in_(select(StaffMember.id).where(staff_clause(scope)))

    return clause


qualification_clause = _through_staff(Qualification.staff_id)
certificate_clause = _through_staff(Certificate.staff_id)


def class_clause(scope):
    return scope.units_column_clause(TrainingClass.org_unit_id)


def target_clause(scope):
    return scope.units_column_clause(TrainingTarget.scope_unit_id)


# --- the targets a user reads and their attainment ---------------------------------------------------------

@dataclass
class AttainmentRow:
    target: TrainingTarget
    result: Attainment
    projected: Attainment | None = None


def visible_targets(scope, plan_id=None):
    """(target, unit it is measured on) for every target the user may read: those whose scope unit is in the
    user's scope; a facility manager reads the targets covering their facility, measured on the facility."""
    query = select(TrainingTarget).options(joinedload(TrainingTarget.plan), joinedload(TrainingTarget.scope_unit),
                                           joinedload(TrainingTarget.role_category))
    if plan_id is not None:
        query = query.where(TrainingTarget.plan_id == plan_id)
    query = query.order_by(TrainingTarget.plan_id, TrainingTarget.deadline, TrainingTarget.id)
    user = scope.user
    if user is not None and user.role == "facility_manager":
        facility = user.facility
        if facility is None or facility.org_unit is None:
            return []
        unit = facility.org_unit
        covering = [i for i in (unit.id, unit.province_id, unit.district_id) if i is not None]
        return [(target, facility) for target in db.session.scalars(
            query.where(TrainingTarget.scope_unit_id.in_(covering))).unique()]
    return [(target, target.scope_unit) for target in db.session.scalars(
        query.where(target_clause(scope))).unique()]


def attainment_rows(scope, on_date, plan_id=None, pairs=None):
    """The attainment and the projection of every visible target (or of the `pairs` given), in one statement."""
    pairs = visible_targets(scope, plan_id) if pairs is None else pairs
    return [AttainmentRow(target, now, later)
            for (target, _unit), (now, later) in zip(pairs, measure(pairs, on_date), strict=True)]


ATTAINMENT_PAGE_SIZE = 50
ALL_PROVINCES = "all"


def target_province_id(target):
    """The province a target is set in (its scope unit, or the province above it)."""
    unit = target.scope_unit
    return unit.province_id or unit.id


@dataclass
class AttainmentSelection:
    """Which targets the attainment page shows: one province's (by default the first, when the user reads
    several), or all of them a page at a time."""

    pairs: list
    provinces: list
    province: str
    page: int
    pages: int
    total: int
    first: int


def select_attainment(scope, plan_id, province_arg, paginate=True, page=1, page_size=None):
    """The targets of a plan (None: every plan) in one province (`province_arg`: its id, ALL_PROVINCES, or ""
    for the first); with `paginate`, page `page` (kept within 1..pages) of `page_size` targets."""
    pairs = visible_targets(scope, plan_id)
    ids = list(dict.fromkeys(target_province_id(target) for target, _unit in pairs))
    provinces = sorted(db.session.scalars(select(AdminUnit).where(AdminUnit.id.in_(ids))).all(),
                       key=lambda unit: unit.sort_name) if len(ids) > 1 else []
    province = ""
    if provinces:
        known = {str(unit.id) for unit in provinces}
        province = province_arg if province_arg == ALL_PROVINCES or province_arg in known else str(provinces[0].id)
        if province != ALL_PROVINCES:
            pairs = [(target, unit) for target, unit in pairs if str(target_province_id(target)) == province]
    if not paginate:
        return AttainmentSelection(pairs, provinces, province, 1, 1, len(pairs), 0)
    size = page_size or ATTAINMENT_PAGE_SIZE
    pages = max(1, -(-len(pairs) // size))
    page = min(max(page or 1, 1), pages)
    first = (page - 1) * size
    return AttainmentSelection(pairs[first:first + size], provinces, province, page, pages, len(pairs), first)


# --- expiring credentials ----------------------------------------------------------------------------------

def expiring_count(model, scope, start, end):
    """Certificates (not revoked) or qualifications of working staff in scope expiring between two dates."""
    column = model.expires_on
    clause = certificate_clause(scope) if model is Certificate else qualification_clause(scope)
    query = select(func.count()).select_from(model).where(
        clause, column >= start, column <= end,
        model.staff_id.in_(select(StaffMember.id).where(StaffMember.employment_status == "active",
                                                        StaffMember.merged_into_id.is_(None))))
    if model is Certificate:
        query = query.where(Certificate.revoked_at.is_(None))
    return db.session.scalar(query)
