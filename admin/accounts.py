"""Users (administrators only; a scoped administrator manages the users of their scope) and the audit trail."""
from flask import flash
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, true
from wtforms import PasswordField
from wtforms.validators import Optional, Regexp, ValidationError

from admin.base import READ, ScopedAjaxLoader, ScopedModelView, choice_filter, current_scope
from admin.changes import unit_of_work
from service.accounts.models import ROLES, User
from service.accounts.operations import MIN_PASSWORD_LENGTH, AccountError, create_user, issue_token, update_user
from service.facilities.models import Facility
from service.units.models import AdminUnit


class UserView(ScopedModelView):
    access = {"admin": {"list", "details", "create", "edit"}}
    scope_clause = staticmethod(lambda scope: scope.user_clause(User))
    form_columns = ("username", "full_name", "email", "role", "scope_unit", "facility", "active", "new_password")
    form_choices = {"role": list(ROLES.items())}
    form_extra_fields = {
        "new_password": PasswordField(_l("New password"), description=_l("Leave empty to keep the current password.")),
    }
    form_args = {"email": {"validators": [
        Optional(), Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Not an e-mail address."))]}}
    column_list = ("username", "full_name", "role", "scope_unit", "facility", "active", "last_login_at")
    column_details_list = ("username", "full_name", "email", "role", "scope_unit", "facility", "active",
                           "created_at", "last_login_at")
    column_export_list = column_list
    personal_data = True
    column_searchable_list = ("username", "full_name")
    column_filters = (choice_filter(User.role, _l("Role"), ROLES), "active")
    column_default_sort = "username"
    column_labels = {
        "username": _l("Username"), "full_name": _l("Full name"), "email": _l("E-mail"), "role": _l("Role"),
        "scope_unit": _l("Scope"), "facility": _l("Facility"), "active": _l("Active"),
        "created_at": _l("Created"), "last_login_at": _l("Last login"),
    }
    column_formatters = {"role": lambda v, c, m, n: m.role_label}
    form_ajax_refs = {
        "scope_unit": ScopedAjaxLoader("scope_unit", AdminUnit, lambda scope: scope.unit_clause(AdminUnit),
                                       fields=("code", "search_name"), order_by="sort_name", fold_term=True),
        "facility": ScopedAjaxLoader("facility", Facility, lambda scope: scope.facility_clause(Facility),
                                     fields=("code", "name")),
    }

    def create_form(self, obj=None):
        """A new user has no current password to keep: the field is the password, and it is required."""
        form = super().create_form(obj)
        form.new_password.label.text = _("Password")
        form.new_password.description = _("At least %(n)d characters; not the username, not a common password.",
                                           n=MIN_PASSWORD_LENGTH)
        form.new_password.flags.required = True
        return form

    def _save(self, form, change):
        """Run an account operation for the form: scope rules first, one commit, errors shown on the form."""
        with unit_of_work() as work:
            self._check_scope(form)
            work.result = change()
        return work.result if work.ok else False

    def create_model(self, form):
        """Creation goes through the same operation as `flask users create` (policy, audit, scope rules)."""

        def create():
            user = create_user(form.username.data, form.role.data, form.new_password.data or "",
                               scope_unit=form.scope_unit.data, facility=form.facility.data,
                               full_name=form.full_name.data, email=form.email.data)
            if not form.active.data:
                update_user(user, user.role, user.scope_unit, user.facility, user.full_name, user.email, False)
            return user

        return self._save(form, create)

    def update_model(self, form, model):
        def update():
            if form.username.data != model.username:
                raise AccountError(_("A username cannot be changed."))
            update_user(model, form.role.data, form.scope_unit.data, form.facility.data, form.full_name.data,
                        form.email.data, form.active.data, form.new_password.data or None)
            return True

        return self._save(form, update)

    def _check_scope(self, form):
        scope = current_scope()
        if not scope.national and form.scope_unit.data is None:
            raise ValidationError(_("Choose a scope inside your own."))
        if form.role.data == "admin" and form.scope_unit.data is None and not scope.national:
            raise ValidationError(_("Only a national administrator can create national administrators."))

    @action("issue_token", _l("Issue API token"), _l("Issue a new API token for the selected user?"))
    def action_issue_token(self, ids):
        users = self.get_query().filter(User.id.in_(self.coerce_ids(ids))).all()
        with unit_of_work() as work:
            work.result = [(user.username, issue_token(user)) for user in users]
        for username, token in work.result if work.ok else ():
            flash(_("API token for %(user)s (shown once): %(token)s", user=username, token=token), "success")


class AuditLogView(ScopedModelView):
    access = {"admin": READ}
    personal_data = True
    scope_clause = staticmethod(lambda scope: true() if scope.national else false())
    can_set_page_size = True
    column_list = ("at", "actor", "channel", "action", "table_name", "row_id")
    column_details_list = ("at", "actor", "user_id", "channel", "action", "table_name", "row_id", "old_values",
                           "new_values")
    column_export_list = column_details_list
    column_filters = ("actor", "channel", "action", "table_name", "row_id", "at")
    column_default_sort = ("id", True)
    column_labels = {
        "at": _l("Time"), "actor": _l("Who"), "channel": _l("Channel"), "action": _l("Action"),
        "table_name": _l("Table"), "row_id": _l("Row"), "old_values": _l("Old values"),
        "new_values": _l("New values"), "user_id": _l("User id"),
    }
