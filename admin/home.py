"""The home page (what needs the user's attention, per role), login and logout."""
from dataclasses import dataclass

from flask import flash, g, redirect, request, session, url_for
from flask_admin import AdminIndexView, expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from admin.base import AdminForm, current_scope
from admin.changes import unit_of_work
from admin.links import filtered_list_url
from service.accounts.operations import MIN_PASSWORD_LENGTH, authenticate, change_own_password
from service.accounts.scope import Scope
from service.audit.operations import act_as, record
from service.common.time import local_today
from service.common.urls import safe_next
from service.extensions import db
from service.flags.models import Flag
from service.flags.queries import count_holding_back, count_open, open_report_flags
from service.forms.registry import all_forms
from service.submissions.models import Reminder
from service.submissions.queries import owed_periods


class LoginForm(AdminForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


@dataclass
class AttentionItem:
    label: str
    url: str
    count: int | None = None
    level: str = "secondary"


def _flag_item(flag, label):
    """An open flag as a link to answer it: red for an error, yellow for a warning, grey once explained."""
    level = "danger" if flag.severity == "error" else "warning"
    if flag.status == "explained":
        label += " " + _("(explained)")
        level = "secondary"
    return AttentionItem(label, url_for("flags.details_view", id=flag.id), None, level)


def _flag_items(user):
    """The reporter's open flags, each a link to answer it."""
    unit = user.scope_unit
    if unit is None:
        return []
    language = str(get_locale() or "vi")[:2]
    return [_flag_item(flag, _("%(period)s · %(rule)s: %(message)s", period=flag.period, rule=flag.rule,
                                message=flag.message(language)))
            for flag in open_report_flags(unit.id)]


def _report_items(user):
    """A commune reporter's open and last periods: reported or not, and by when."""
    items = []
    unit = user.scope_unit
    if unit is None or unit.level != "commune":
        return items
    today = local_today()
    for form in all_forms():
        for period, due, current in owed_periods(form, unit, today):
            url = url_for("report_entry.index", form=form.code, period=period.code, commune=unit.code)
            if current is None:
                label = _("%(period)s: not reported yet, due %(date)s", period=period.label(),
                          date=due.strftime("%d/%m/%Y"))
                items.append(AttentionItem(label, url, None, "danger" if due < today else "warning"))
            else:
                label = _("%(period)s: version %(version)s received", period=period.label(), version=current.version)
                items.append(AttentionItem(label, url, None, "success"))
    return items


def _steward_items(user):
    scope = Scope(user)
    # error flags of reports hold them back from aggregation; those of facilities and staff are listed apart
    errors = count_holding_back(scope)
    warnings = count_open(scope, "warning")
    late = db.session.scalar(select(func.count()).select_from(Reminder).where(
        Reminder.resolved_at.is_(None), scope.units_column_clause(Reminder.org_unit_id)))
    items = []
    if errors:
        items.append(AttentionItem(_("Open error flags (they hold reports back from aggregation)"),
                                   filtered_list_url("flags", status="open", severity="error", subject="report"),
                                   errors, "danger"))
    if warnings:
        items.append(AttentionItem(_("Open warnings to look at"),
                                   filtered_list_url("flags", status="open", severity="warning"), warnings, "warning"))
    items.append(AttentionItem(_("Validation runs"), url_for("validation_runs.index_view"), None))
    if late:
        items.append(AttentionItem(_("Communes late with a report"), url_for("reminders.index_view"),
                                   late, "danger"))
    items.append(AttentionItem(_("Completeness and timeliness of the current period"),
                               url_for("completeness.index"), None))
    return items


def _training_items(user):
    """Certificates and qualifications of the staff in the user's scope that expire within 30 days (7: urgent),
    each a link to the list filtered on exactly those rows, and the attainment of the training targets."""
    from admin.training.certificates import expiring

    labels = {
        ("certificates", 30): _("Certificates expiring within 30 days"),
        ("certificates", 7): _("Certificates expiring within 7 days"),
        ("qualifications", 30): _("Qualifications expiring within 30 days"),
        ("qualifications", 7): _("Qualifications expiring within 7 days"),
    }
    items = []
    for endpoint, days, count, url in expiring(user):
        if count:
            items.append(AttentionItem(labels[endpoint, days], url, count, "danger" if days <= 7 else "warning"))
    items.append(AttentionItem(_("Attainment of the training targets"), url_for("attainment.index"), None))
    return items


def _facility_items(user):
    """A facility manager's facility page and the open flags of their facility, each a link to answer it."""
    from admin.facilities.page import open_flags

    facility = user.facility
    if facility is None:
        return []
    items = [AttentionItem(_("Your facility: %(name)s (capacity, census and checks)", name=facility.name),
                         url_for("facilities.overview", facility_id=facility.id), None, "secondary")]
    language = str(get_locale() or "vi")[:2]
    items += [_flag_item(flag, _("%(rule)s: %(message)s", rule=flag.rule, message=flag.message(language)))
              for flag in open_flags(facility.id)]
    return items


def _facility_oversight_items(user):
    """For stewards and administrators: the open flags of the facilities in scope, and the capacity report."""
    scope = Scope(user)
    count = db.session.scalar(select(func.count()).select_from(Flag).where(
        Flag.subject == "facility", Flag.status == "open", scope.flag_clause(Flag)))
    items = []
    if count:
        items.append(AttentionItem(_("Flags of the facilities in your scope"),
                                   filtered_list_url("flags", subject="facility", status="open"), count, "warning"))
    items.append(AttentionItem(_("Capacity and occupancy of the facilities"), url_for("capacity_report.index"), None))
    return items


def _dashboard_item():
    """The dashboard of the user's scope (charts and tables of every area)."""
    return AttentionItem(_("Dashboard of your scope"), url_for("dashboard.index"), None)


def attention_items(user):
    """What needs this user's attention on their home page, per role. Each area adds its items here
    (open flags for stewards, expiring certificates for coordinators, capacity checks for managers…)."""
    if user.role == "commune_reporter":
        return _flag_items(user) + _report_items(user)
    if user.role == "admin":
        return _steward_items(user) + _facility_oversight_items(user) + _training_items(user) + [_dashboard_item()]
    if user.role == "data_steward":
        return _steward_items(user) + _facility_oversight_items(user) + [_dashboard_item()]
    if user.role == "facility_manager":
        return _facility_items(user) + _training_items(user) + [_dashboard_item()]
    if user.role == "training_coordinator":
        return _training_items(user) + [_dashboard_item()]
    return []


class PasswordForm(AdminForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired()])
    repeated = PasswordField(_l("New password again"), validators=[DataRequired()])


class HomeView(AdminIndexView):
    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(url_for(".login_view", next=request.full_path))
        scope = current_scope()
        return self.render("admin/index.html", scope=scope, items=attention_items(current_user))

    @expose("/login/", methods=("GET", "POST"))
    def login_view(self):
        form = LoginForm(request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            with unit_of_work() as work:  # the attempt is recorded, whatever its outcome
                user, error = authenticate(form.username.data, form.password.data, request.remote_addr or "unknown")
            if not work.ok:  # not recorded (the message is flashed): no login either
                return self.render("admin/login.html", form=form)
            if user is not None:
                session.clear()  # a new session (and CSRF token) at login: no fixation
                g.pop("csrf_token", None)
                login_user(user)
                if user.language:
                    session["language"] = user.language
                return redirect(safe_next(request.args.get("next"), url_for(".index")))
            flash(error, "error")
        return self.render("admin/login.html", form=form)

    @expose("/password/", methods=("GET", "POST"))
    def password_view(self):
        """A user changes their own password (from the user menu)."""
        if not current_user.is_authenticated:
            return redirect(url_for(".login_view", next=request.full_path))
        form = PasswordForm(request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            user = current_user._get_current_object()
            with unit_of_work(_("Your password was changed; your sessions on other devices have ended.")) as work:
                change_own_password(user, form.current.data, form.new.data, form.repeated.data)
            if work.ok:
                login_user(user)  # this session carries on under the new session version
                return redirect(url_for(".index"))
        return self.render("admin/password.html", form=form, min_length=MIN_PASSWORD_LENGTH)

    @expose("/logout/", methods=("POST",))
    def logout_view(self):
        if current_user.is_authenticated:
            with unit_of_work():
                act_as(current_user.id, current_user.username, "admin")
                record("logout", "user_account", current_user.id)
        logout_user()
        session.clear()
        flash(_("You have logged out."), "info")
        return redirect(url_for(".login_view"))
