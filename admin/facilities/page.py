"""A facility's own page: its capacity, the latest census and its occupancy, its open flags, the history of
both, and the census and capacity forms (service.facilities.operations, each in one admin.changes.unit_of_work; a
form read at an older revision of the facility is refused). Mixed into the registry view (admin.facilities.
registry), so its endpoints are `facilities.overview`, `facilities.census`, `facilities.capacity`."""
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import HiddenField, StringField, TextAreaField

from admin.base import AdminForm
from admin.changes import unit_of_work
from admin.formats import day_text, language, parse_day, percent_text
from admin.links import filtered_list_url
from service.common.errors import DomainError
from service.common.time import format_local, local_today
from service.extensions import db
from service.facilities import operations
from service.facilities import queries as facility_queries
from service.facilities.models import MODALITIES, MODALITY_UNITS, CapacityChange, Census
from service.facilities.operations import FacilityConflict, FacilityError
from service.facilities.queries import capacity_history, latest_censuses, places_on
from service.flags.models import OPEN_STATUSES, SEVERITIES, Flag

HISTORY_LIMIT = 100
STATUS_BADGES = {"active": "success", "suspended": "warning", "closed": "secondary"}


def open_flags(facility_id):
    """The open and explained flags of a facility (its checks and its staff's credentials), errors first."""
    return db.session.scalars(select(Flag).where(Flag.facility_id == facility_id, Flag.status.in_(OPEN_STATUSES))
                              .order_by(Flag.severity, Flag.rule)).all()


def count_open_flags(facility_id):
    return db.session.scalar(select(func.count()).select_from(Flag).where(
        Flag.facility_id == facility_id, Flag.status.in_(OPEN_STATUSES)))


# --- the forms of the facility page ----------------------------------------------------------------------------

class CensusForm(AdminForm):
    """A census (or the correction of one): the date, and per modality admissions, discharges and the count."""

    census_date = StringField(_l("Census date"))
    revision = HiddenField()
    corrects = HiddenField()
    reason = TextAreaField(_l("What the correction corrects"))


class CapacityForm(AdminForm):
    effective_from = StringField(_l("Effective from"))
    note = StringField(_l("Note (e.g. the decision that sets the capacity)"))
    revision = HiddenField()


for _modality in MODALITIES:
    setattr(CensusForm, f"admissions_{_modality}", StringField(_l("Admissions")))
    setattr(CensusForm, f"discharges_{_modality}", StringField(_l("Discharges")))
    setattr(CensusForm, f"count_{_modality}", StringField(_l("Current count")))
    setattr(CapacityForm, f"places_{_modality}", StringField(_l("Capacity")))


def census_lines(form):
    return {modality: {"admissions": form[f"admissions_{modality}"].data,
                       "discharges": form[f"discharges_{modality}"].data,
                       "current_count": form[f"count_{modality}"].data} for modality in MODALITIES}


class _Unchanged(DomainError):
    """The form asks for what is already so: the unit of work keeps nothing."""


class FacilityPageMixin:
    """The facility page of FacilityView (needs its get_one, rights, render and can_edit)."""

    # the facility page --------------------------------------------------------------------------------------
    def _facility(self, facility_id):
        return self.get_one(str(facility_id))

    def _census_form(self, facility, source=None):
        """The census form: empty for a new census (today), or prefilled with the census it corrects."""
        form = CensusForm(formdata=None)
        form.census_date.data = local_today().isoformat()
        form.revision.data = str(facility.revision)
        if source is not None:
            form.census_date.data = source.census_date.isoformat()
            form.corrects.data = str(source.id)
            for line in source.lines:
                form[f"admissions_{line.modality}"].data = str(line.admissions)
                form[f"discharges_{line.modality}"].data = str(line.discharges)
                form[f"count_{line.modality}"].data = str(line.current_count)
        return form

    def _capacity_form(self, facility):
        form = CapacityForm(formdata=None)
        form.effective_from.data = local_today().isoformat()
        form.revision.data = str(facility.revision)
        for modality, places in facility_queries.capacity_on(facility, local_today()).items():
            form[f"places_{modality}"].data = str(places)
        return form

    def _correcting(self, facility, raw):
        """The census a correction names: one of this facility's (else 404)."""
        if not raw:
            return None
        try:
            census_id = int(raw)
        except (TypeError, ValueError):
            abort(404)
        census = db.session.get(Census, census_id)
        if census is None or census.facility_id != facility.id:
            abort(404)
        return census

    def _page(self, facility, census_form=None, capacity_form=None, status=200):
        today = local_today()
        capacity = facility_queries.capacity_on(facility, today)
        latest = latest_censuses([facility.id], today).get(facility.id)
        occupancy = {}
        if latest is not None:  # each modality's latest figure, against the places in force on its date
            history = capacity_history([facility.id])
            for modality, line in latest.counts.items():
                places = places_on(history, facility.id, modality, line.census_date)
                rate = line.current_count * 100 / places if places else None
                occupancy[modality] = {"places": places, "count": line.current_count, "rate": rate,
                                       "rate_text": percent_text(rate), "census_date": line.census_date,
                                       "over": line.current_count > (places or 0)}
        censuses = db.session.scalars(
            select(Census).where(Census.facility_id == facility.id)
            .options(selectinload(Census.lines), joinedload(Census.recorded_by))
            .order_by(Census.census_date.desc(), Census.id.desc()).limit(HISTORY_LIMIT)).all()
        corrected_by = dict(db.session.execute(select(Census.corrects_id, Census.id).where(
            Census.facility_id == facility.id, Census.corrects_id.is_not(None))).all())
        changes = db.session.scalars(
            select(CapacityChange).where(CapacityChange.facility_id == facility.id)
            .options(joinedload(CapacityChange.recorded_by))
            .order_by(CapacityChange.effective_from.desc(), CapacityChange.id.desc()).limit(HISTORY_LIMIT)).all()
        can_write = self.can_write() and facility.status != "closed"
        correcting = None
        if can_write and census_form is None:
            correcting = self._correcting(facility, request.args.get("correct"))
            if correcting is not None and correcting.id in corrected_by:
                flash(_("This census has already been corrected: correct the latest entry instead."), "warning")
                correcting = None
            census_form = self._census_form(facility, correcting)
        elif census_form is not None and census_form.corrects.data:
            correcting = self._correcting(facility, census_form.corrects.data)
        if can_write and capacity_form is None:
            capacity_form = self._capacity_form(facility)
        html = self.render(
            "admin/facilities/page.html", facility=facility, capacity=capacity, latest=latest, occupancy=occupancy,
            flags=open_flags(facility.id), censuses=censuses, corrected_by=corrected_by, changes=changes,
            census_form=census_form if can_write else None, capacity_form=capacity_form if can_write else None,
            correcting=correcting, modalities=MODALITIES, units=MODALITY_UNITS, severities=SEVERITIES,
            status_badges=STATUS_BADGES, day_text=day_text, history_limit=HISTORY_LIMIT,
            all_flags_url=filtered_list_url("flags", **{"facility.code": facility.code}), today=today,
            can_edit_registry=self.can_edit, lang=language(), format_local=format_local)
        return html, status

    @expose("/page/<int:facility_id>")
    def overview(self, facility_id):
        self.require("details")
        return self._page(self._facility(facility_id))

    def _failed(self, facility, exc, census_form=None, capacity_form=None):
        """Nothing was written (the unit of work rolled back); the page comes back with what the user typed and
        the reason."""
        facility = self._facility(facility.id)
        if isinstance(exc, DomainError):
            flash(str(exc), "error")
        if isinstance(exc, FacilityConflict):
            # the page shows the latest figures: entering the same values again is now a deliberate choice
            for form in (census_form, capacity_form):
                if form is not None:
                    form.revision.data = str(facility.revision)
            return self._page(facility, census_form, capacity_form, status=409)
        return self._page(facility, census_form, capacity_form, status=422)

    @staticmethod
    def _revision(form):
        try:
            return int(form.revision.data)
        except (TypeError, ValueError):
            abort(400)

    @expose("/page/<int:facility_id>/census", methods=("POST",))
    def census(self, facility_id):
        self.require("edit")
        facility = self._facility(facility_id)
        form = CensusForm()
        if not form.validate():
            abort(400)
        corrects = self._correcting(facility, form.corrects.data)
        census_date = parse_day(form.census_date.data)
        with unit_of_work(flash_error=False) as work:
            if census_date is None:
                raise FacilityError(_("%(field)s: enter a date.", field=_("Census date")))
            census = operations.record_census(current_user, facility, census_date, census_lines(form),
                                              expected_revision=self._revision(form), corrects=corrects,
                                              reason=form.reason.data)
            open_count = count_open_flags(facility.id)
        if not work.ok:
            return self._failed(facility, work.error, census_form=form)
        if corrects is not None:
            message = _("The census of %(date)s was corrected. Open flags of this facility now: %(count)s.",
                        date=day_text(census.census_date), count=open_count)
        else:
            message = _("The census of %(date)s was saved. Open flags of this facility now: %(count)s.",
                        date=day_text(census.census_date), count=open_count)
        flash(message, "warning" if open_count else "success")
        return redirect(url_for(".overview", facility_id=facility.id))

    @expose("/page/<int:facility_id>/capacity", methods=("POST",))
    def capacity(self, facility_id):
        self.require("edit")
        facility = self._facility(facility_id)
        form = CapacityForm()
        if not form.validate():
            abort(400)
        effective_from = parse_day(form.effective_from.data)
        places = {modality: form[f"places_{modality}"].data for modality in MODALITIES}
        with unit_of_work(flash_error=False) as work:
            if effective_from is None:
                raise FacilityError(_("%(field)s: enter a date.", field=_("Effective from")))
            rows = operations.set_capacity(current_user, facility, places, effective_from, form.note.data,
                                           expected_revision=self._revision(form))
            if not rows:  # nothing to keep, not even the facility's new revision
                raise _Unchanged(_("The capacity was already so: nothing changed."))
            open_count = count_open_flags(facility.id)
        if isinstance(work.error, _Unchanged):
            flash(work.error.message, "info")
            return redirect(url_for(".overview", facility_id=facility.id))
        if not work.ok:
            return self._failed(facility, work.error, capacity_form=form)
        flash(_("The capacity from %(date)s was saved (%(changes)s change(s)). Open flags of this facility now: "
                "%(count)s.", date=day_text(effective_from), changes=len(rows), count=open_count),
              "warning" if open_count else "success")
        return redirect(url_for(".overview", facility_id=facility.id))


