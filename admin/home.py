"""The home page (what needs the user's attention, per role), login and logout."""
from flask import flash, g, redirect, request, session, url_for
from flask_admin import AdminIndexView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from admin.base import AdminForm, current_scope
from service.accounts.operations import authenticate
from service.audit.operations import act_as, record
from service.common.urls import safe_next
from service.extensions import db


class LoginForm(AdminForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


def attention_items(user):
    """What needs this user's attention on their home page, per role. Each later area adds its items here
    (open flags for stewards, expiring certificates for coordinators, capacity checks for managers…)."""
    return []


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
            user, error = authenticate(form.username.data, form.password.data, request.remote_addr or "unknown")
            db.session.commit()
            if user is not None:
                session.clear()  # a new session (and CSRF token) at login: no fixation
                g.pop("csrf_token", None)
                login_user(user)
                if user.language:
                    session["language"] = user.language
                return redirect(safe_next(request.args.get("next"), url_for(".index")))
            flash(error, "error")
        return self.render("admin/login.html", form=form)

    @expose("/logout/", methods=("POST",))
    def logout_view(self):
        if current_user.is_authenticated:
            act_as(current_user.id, current_user.username, "admin")
            record("logout", "user_account", current_user.id)
            db.session.commit()
        logout_user()
        session.clear()
        flash(_("You have logged out."), "info")
        return redirect(url_for(".login_view"))
