"""The application factory: configuration, extensions, blueprints, admin, CLI.

    flask --app app serve          # the embedded service (what `make run` starts)
    flask --app app db upgrade     # schema migrations
"""
import importlib

from flask import Flask, g, redirect, request, url_for
from flask_login import current_user

from service.config import INSTANCE_DIR, config_from_environment
from service.extensions import babel, csrf, db, login_manager, migrate


def _load_config(app, config):
    if config is None:
        config = config_from_environment()
    if isinstance(config, dict):
        base = config_from_environment()
        app.config.from_object(base)
        app.config.update(config)
        base.finalise(app.config)
    else:
        app.config.from_object(config)
        config.finalise(app.config)


def create_app(config=None):
    """Build the service. `config` is a config class (service.config) or a dict of overrides."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), template_folder="admin/templates",
                static_folder="admin/static")
    _load_config(app, config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from service.i18n import select_locale

    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    from service.common.time import format_local

    app.jinja_env.filters["localtime"] = format_local

    _register_models()
    from service.forms.registry import load_all

    app.extensions["forms"] = load_all()
    _register_auth(app)
    _register_blueprints(app)
    _register_cli(app)

    from admin import init_admin

    init_admin(app)

    @app.get("/")
    def root():
        return redirect(url_for("admin.index"))

    _register_error_pages(app)
    if app.config.get("PROXY_FIX_HOPS", 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.get("/favicon.ico")
    def favicon():
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    return app


def _register_error_pages(app):
    from flask import render_template
    from flask_babel import gettext as _
    from flask_wtf.csrf import CSRFError

    pages = {
        403: (lambda: _("Access denied"), lambda: _("You do not have the right to open this page.")),
        404: (lambda: _("Not found"), lambda: _("This page does not exist, or it is outside your scope.")),
        413: (lambda: _("The file is too large"), lambda: _(
            "The service accepts at most %(limit)s MB in one request: send a smaller file (split it if needed).",
            limit=(app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024))),
        CSRFError: (lambda: _("The form has expired"), lambda: _(
            "The form was sent without its security token, or the token has expired. Nothing was changed: "
            "go back, reload the page and send the form again.")),
    }

    def handler(error):
        if request.path.startswith("/api/"):  # an app-wide handler for a code wins over the API's: hand it back
            from service.api import http_error

            return http_error(error)
        title, message = pages[type(error) if isinstance(error, CSRFError) else error.code]
        return render_template("error.html", code=error.code, title=title(), message=message()), error.code

    for code in pages:
        app.register_error_handler(code, handler)

    from service.common.errors import register_database_errors

    register_database_errors(app)


def _register_models():
    """Import every model module so that metadata (and Alembic) sees all tables."""
    import service.accounts.models  # noqa: F401
    import service.aggregation.models  # noqa: F401
    import service.approval.models  # noqa: F401
    import service.audit.models  # noqa: F401
    import service.audit.operations  # noqa: F401  (registers the flush listener)
    import service.facilities.models  # noqa: F401
    import service.flags.models  # noqa: F401
    import service.submissions.models  # noqa: F401
    import service.training.models  # noqa: F401
    import service.units.models  # noqa: F401
    import service.validation.models  # noqa: F401


def _register_auth(app):
    from service.accounts.auth import load_user
    from service.audit.operations import act_as
    from service.security import csp_nonce, set_security_headers

    login_manager.user_loader(load_user)
    login_manager.login_view = "admin.login_view"
    login_manager.session_protection = "basic"

    @app.before_request
    def _declare_actor():
        g.pop("audit_actor", None)
        g.pop("csp_nonce", None)
        csp_nonce()
        if current_user.is_authenticated:
            channel = "admin" if request.path.startswith("/admin") else "web"
            act_as(current_user.id, current_user.username, channel)

    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce


# the areas whose api.py adds routes to the API blueprint, in the order of the OpenAPI document
API_AREAS = ("submissions", "training", "units", "validation", "aggregation", "facilities")


def _register_blueprints(app):
    from service.api import bp as api_bp
    from service.i18n import bp as i18n_bp

    for area in API_AREAS:  # each adds its routes to the blueprint, which must happen before it is registered
        importlib.import_module(f"service.{area}.api")

    app.register_blueprint(i18n_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # the API takes bearer tokens only, never the session cookie


def _register_cli(app):
    from service.accounts.cli import users_cli
    from service.backup.cli import backup_cli
    from service.demo.cli import demo_cli, serve_command
    from service.facilities.cli import facilities_cli
    from service.scheduler import scheduler_cli
    from service.units.cli import units_cli
    from service.validation.cli import validate_cli

    for group in (units_cli, users_cli, demo_cli, scheduler_cli, validate_cli, facilities_cli, backup_cli):
        app.cli.add_command(group)
    app.cli.add_command(serve_command)
