"""The access-controlled base views every admin page is built on.

- `AdminForm`: Flask-WTF's CSRF token on every Flask-Admin form (create, edit, delete, actions), checked by the
  application-wide CSRFProtect as well.
- `RoleAccessMixin`: which roles may open a view and what each may do there (`access`); anything else is a 403.
- `ScopedModelView`: the rows of a view are filtered by the user's org-unit scope in `get_query`,
  `get_count_query` and `get_one` (so list, details, edit, delete, actions and export all go through it); an
  out-of-scope id is a 404; relation dropdowns and ajax lookups are scoped the same way. The edit form of a
  row-versioned model (service.common.versioning) carries the version it was read at: saving over a newer version
  (someone else saved in between) is refused with a conflict message, the form kept and nothing written.
- A view whose rows change through its area's operations names them (`create_record`, `update_record`,
  `delete_record`); each runs in one admin.changes.unit_of_work.
- Exports: a view of personal data (`personal_data = True`) is exported only by `PERSONAL_DATA_EXPORTERS`; an
  export larger than `EXPORT_MAX_ROWS` is refused with a message (never silently cut); text cells a
  spreadsheet would run as a formula are neutralised.
"""
from datetime import datetime

from flask import abort, current_app, flash, g, has_request_context, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.babel import Translations
from flask_admin.babel import gettext as admin_gettext
from flask_admin.babel import lazy_gettext as admin_lazy_gettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.helpers import get_redirect_target
from flask_admin.model import typefmt
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields import HiddenField
from wtforms.validators import DataRequired, ValidationError

from admin.changes import edit_conflict_message, unit_of_work
from service.accounts.scope import Scope
from service.common.export import neutralise
from service.common.text import fold
from service.common.time import format_local
from service.extensions import db
from service.forms.registry import all_forms, get_form

ALL_RIGHTS = frozenset({"list", "details", "export", "create", "edit", "delete"})
READ = frozenset({"list", "details", "export"})
# Flask-Admin endpoints → the right they need.
ENDPOINT_RIGHTS = {
    "index_view": "list", "details_view": "details", "export": "export", "create_view": "create",
    "edit_view": "edit", "delete_view": "delete", "action_view": "edit", "ajax_update": "edit",
    "ajax_lookup": None,
}
# Roles that may take lists naming people (staff, qualifications, certificates, users, audit) out of the service:
# administrators, training coordinators (who keep the roster) and a facility manager (their own facility's staff,
# for the inspection file of Decree 116). Others read those lists in the service only.
PERSONAL_DATA_EXPORTERS = frozenset({"admin", "training_coordinator", "facility_manager"})


class AdminForm(FlaskForm):
    """Flask-Admin's BaseForm behaviour (translations, `_obj` for its Unique validator) on a Flask-WTF form."""

    class Meta(FlaskForm.Meta):
        _translations = Translations()

        def get_translations(self, form):
            return self._translations

    def __init__(self, *args, obj=None, **kwargs):
        self._obj = obj
        super().__init__(*args, obj=obj, **kwargs)


def current_scope():
    """The signed-in user's Scope, built once per request (its other-edition ids cost two queries)."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if not has_request_context():
        return Scope(user)
    scope = g.get("scope_of_request")
    if scope is None or scope.user is not user:
        scope = g.scope_of_request = Scope(user)
    return scope


class RoleAccessMixin:
    """`access` maps a role to the set of rights it has in this view; a role not listed cannot open it."""

    access: dict = {}
    # True for a view whose rows name people: exported only by PERSONAL_DATA_EXPORTERS.
    personal_data = False

    def rights(self):
        if not has_request_context():
            # Flask-Admin reads can_* once at start-up to build its caches: build them all.
            return ALL_RIGHTS
        if not current_user.is_authenticated or not current_user.is_active:
            return frozenset()
        rights = frozenset(self.access.get(current_user.role, ()))
        if self.personal_data and current_user.role not in PERSONAL_DATA_EXPORTERS:
            rights -= {"export"}
        return rights

    def is_accessible(self):
        return bool(self.rights())

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("admin.login_view", next=request.full_path))
        abort(403)


class SecureView(RoleAccessMixin, BaseView):
    """A custom (non-model) admin page."""


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """An ajax lookup (select2) that only offers, and only accepts, rows in the user's scope."""

    def __init__(self, name, model, scope_clause, fold_term=False, **options):
        options.setdefault("page_size", 20)
        super().__init__(name, db, model, **options)
        self.scope_clause = scope_clause
        self.fold_term = fold_term

    def get_list(self, term, offset=0, limit=20):
        return super().get_list(fold(term) if self.fold_term else term, offset, limit)

    def get_query(self):
        return super().get_query().filter(self.scope_clause(current_scope()))

    def get_one(self, pk):
        column = getattr(self.model, self.pk)
        try:
            pk = column.type.python_type(pk)
        except (TypeError, ValueError):
            return None
        with db.session.no_autoflush:
            return self.get_query().filter(column == pk).one_or_none()

    def format(self, model):
        if model is None:
            return None
        edition = getattr(model, "edition", None)
        label = f"{model} [{edition}]" if edition else str(model)
        return getattr(model, self.pk), label


def _local_datetime(view, value, name=None):
    return format_local(value)


# The hidden field of an edit form holding the row version the form was read at.
VERSION_FIELD = "row_version_seen"


class VersionField(HiddenField):
    """The row version an edit form was read at: compared with the row's, never written to it."""

    def populate_obj(self, obj, name):
        pass


def _no_choice_made(form, always=()):
    """A required choice of a new record (a role, a sex, a course…) starts on "— choose —" and must be made: a
    list with no empty entry would have the browser pick its first option for the user. A field with a default
    of its own (a model default such as "working") keeps it, unless it is named in `always`."""
    for field in form:
        if getattr(field, "allow_blank", True) or not (field.flags.required or field.name in always):
            continue
        if field.default is not None:
            if field.name not in always:
                continue
            if not field.raw_data:  # the form as opened, not as posted
                field.data = None
        field.allow_blank = True
        field.blank_text = _l("— choose —")
        field.validators = [*field.validators, DataRequired()]
    return form


def choice_filter(column, label, choices):
    """A list filter on a column with closed choices: a select of their Vietnamese labels, never free text
    expecting a code. `choices`: a {code: label} dict, or a function returning (code, label) pairs (read when the
    list is shown, for choices such as the forms)."""
    if callable(choices):
        return FilterEqual(column, label, options=lambda: list(choices()))
    return FilterEqual(column, label, options=lambda: list(choices.items()))


def form_choices():
    """(code, name) of every report form, for a filter or a choice."""
    return [(form.code, form.name) for form in all_forms()]


def form_name(view, context, model, name):
    """A list formatter: the form's title where its code is stored (never `commune_rehab` on a page)."""
    form = get_form(getattr(model, name))
    return form.name if form is not None else getattr(model, name)


def labelled(labels):
    """A list formatter showing the Vietnamese label of a stored code (`labels`: {code: label})."""
    return lambda view, context, model, name: labels.get(getattr(model, name), getattr(model, name))


class ScopedModelView(RoleAccessMixin, ModelView):
    form_base_class = AdminForm
    column_type_formatters = {**typefmt.BASE_FORMATTERS, datetime: _local_datetime, dict: typefmt.dict_formatter}
    column_type_formatters_export = {**typefmt.EXPORT_FORMATTERS, datetime: _local_datetime}
    page_size = 50
    can_set_page_size = True
    export_types = ["csv"]
    list_template = "admin/model/list.html"
    # Subclasses: a function Scope → SQLAlchemy clause on self.model.
    scope_clause = None
    # Model class → function Scope → clause, for relation dropdowns in forms.
    relation_scopes: dict = {}
    # Required choices that a new record's form starts empty although the model has a default (the model's
    # default serves the imports and the API, where the column may be left out).
    choices_without_default = ()

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, db, *args, **kwargs)

    # rights → Flask-Admin switches
    @property
    def can_create(self):
        return "create" in self.rights()

    @property
    def can_edit(self):
        return "edit" in self.rights()

    @property
    def can_delete(self):
        return "delete" in self.rights()

    @property
    def can_export(self):
        return "export" in self.rights()

    @property
    def can_view_details(self):
        return "details" in self.rights()

    @property
    def export_max_rows(self):
        return current_app.config.get("EXPORT_MAX_ROWS", 10000)

    # export
    @expose("/export/<export_type>/")
    def export(self, export_type):
        """Flask-Admin's export, refused with a message when the (filtered) list is longer than the cap: a cut
        list would pass for the whole one."""
        if export_type in self.export_types and self.can_export:
            view_args = self._get_list_extra_args()
            count, _rows = self.get_list(0, None, False, view_args.search, view_args.filters, page_size=1)
            if count > self.export_max_rows:
                flash(_("The export would hold %(count)s rows, more than the %(limit)s allowed: narrow the list "
                        "with the filters or the search, then export again.", count=count,
                        limit=self.export_max_rows), "error")
                return redirect(get_redirect_target() or self.get_url(".index_view", **request.args))
        return super().export(export_type)

    def get_export_value(self, model, name):
        return neutralise(super().get_export_value(model, name))

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        needed = ENDPOINT_RIGHTS.get(name)
        if needed and needed not in self.rights():
            abort(403)
        return None

    # scope
    def _scoped(self, query):
        clause = type(self).scope_clause
        if clause is None:
            raise NotImplementedError(f"{type(self).__name__} must define scope_clause")
        return query.filter(clause(current_scope()))

    def get_query(self):
        return self._scoped(super().get_query())

    def get_count_query(self):
        return self._scoped(super().get_count_query())

    def get_one(self, id):
        pk = getattr(self.model, self._primary_key)
        try:
            value = pk.type.python_type(id)
        except (TypeError, ValueError):
            abort(404)
        model = self.get_query().filter(pk == value).one_or_none()
        if model is None:
            abort(404)
        return model

    def coerce_ids(self, ids):
        """Row ids from a form are strings; PostgreSQL (psycopg 3) will not compare them with integer keys."""
        python_type = getattr(self.model, self._primary_key).type.python_type
        try:
            return tuple(python_type(value) for value in ids)
        except (TypeError, ValueError):
            abort(404)

    @action("delete", admin_lazy_gettext("Delete"),
            admin_lazy_gettext("Are you sure you want to delete selected records?"))
    def action_delete(self, ids):
        return super().action_delete(self.coerce_ids(ids))

    def _scope_relation_fields(self, form):
        for field in form:
            factory = getattr(field, "query_factory", None)
            if factory is None:
                continue
            query = factory()
            entity = query.column_descriptions[0]["entity"]
            clause = self.relation_scopes.get(entity)
            if clause is None:
                raise RuntimeError(f"{type(self).__name__}.{field.name}: relation to {entity.__name__} has no scope")
            field.query = query.filter(clause(current_scope()))
        return form

    def create_form(self, obj=None):
        return _no_choice_made(self._scope_relation_fields(super().create_form(obj)), self.choices_without_default)

    # optimistic locking of the edit form
    def get_edit_form(self):
        form_class = super().get_edit_form()
        if "row_version" in self.model.__table__.c:
            form_class = type(form_class.__name__, (form_class,), {VERSION_FIELD: VersionField()})
        return form_class

    def edit_form(self, obj=None):
        form = self._scope_relation_fields(super().edit_form(obj))
        field = getattr(form, VERSION_FIELD, None)
        if field is not None and obj is not None and request.method == "GET":
            field.data = str(obj.row_version)
        return form

    def validate_form(self, form):
        """An edit form read at an older row version than the row's now is a conflict (nothing is written)."""
        if not super().validate_form(form):
            return False
        field, model = getattr(form, VERSION_FIELD, None), getattr(form, "_obj", None)
        if field is not None and model is not None and field.data != str(model.row_version):
            flash(edit_conflict_message(), "error")
            return False
        return True

    def handle_view_exception(self, exc):
        """Someone saved the row between our read and our write (caught by the version in the UPDATE)."""
        if isinstance(exc, StaleDataError):
            flash(edit_conflict_message(), "error")
            return True
        return super().handle_view_exception(exc)

    # the form's change of state, through the area's operation
    FAILED = {"create": "Failed to create record. %(error)s", "update": "Failed to update record. %(error)s",
              "delete": "Failed to delete record. %(error)s"}

    def run_operation(self, kind, change):
        """`change()` (the area's operation) in one unit of work: its result, or False when refused (the message
        flashed, nothing kept). An unexpected error is flashed and logged as Flask-Admin's own methods do."""
        try:
            with unit_of_work() as work:
                work.result = change()
        except Exception as exc:
            if not self.handle_view_exception(exc):
                flash(admin_gettext(self.FAILED[kind], error=str(exc)), "error")
                current_app.logger.exception("Failed to %s record.", kind)
            return False
        return work.result if work.ok else False

    # Form wiring: a view whose rows change through its area's operations names them, and Flask-Admin's generic
    # save is then not used: `create_record(**fields)`, `update_record(model, **fields)`, `delete_record(model)`,
    # `fields` being those of the view's `form_columns` that the form shows (a facility manager's form shows
    # fewer). Each runs in one unit of work; the saved row must still be in the user's scope.
    create_record = update_record = delete_record = None

    def record_fields(self, form):
        return {name: form[name].data for name in self.form_columns or () if name in form}

    def create_model(self, form):
        if self.create_record is None:
            return super().create_model(form)

        def create():
            model = self.create_record(**self.record_fields(form))
            self.check_in_scope(model)
            return model

        model = self.run_operation("create", create)
        if model is not False:
            self.after_model_change(form, model, True)
        return model

    def update_model(self, form, model):
        if self.update_record is None:
            return super().update_model(form, model)

        def update():
            self.update_record(model, **self.record_fields(form))
            self.check_in_scope(model)
            return True

        if self.run_operation("update", update) is False:
            return False
        self.after_model_change(form, model, False)
        return True

    def delete_model(self, model):
        if self.delete_record is None:
            return super().delete_model(model)

        def delete():
            self.on_model_delete(model)
            self.delete_record(model)
            return True

        if self.run_operation("delete", delete) is False:
            return False
        self.after_model_delete(model)
        return True

    def on_model_change(self, form, model, is_created):
        self.check_in_scope(model)

    def check_in_scope(self, model):
        """A saved row must still be in the user's scope (no moving a row out of, or into, someone else's)."""
        db.session.flush()
        pk = getattr(self.model, self._primary_key)
        if not self.get_query().filter(pk == getattr(model, self._primary_key)).first():
            raise ValidationError(_l("This record would be outside your scope."))
