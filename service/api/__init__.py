"""The HTTP API under /api/v1: bearer tokens, JSON errors in Vietnamese, paginated lists, OpenAPI document.

Each domain area adds its routes in its own api.py (`service.units.api`, …) on this blueprint; `app.py` imports
them all (`API_AREAS`) before it registers the blueprint, so this module imports no area.
"""
import functools
import re

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from service.accounts.operations import user_for_token
from service.accounts.scope import Scope
from service.audit.operations import act_as
from service.common.time import utcnow
from service.extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI_PATHS = {}


class ApiError(Exception):
    def __init__(self, status, code, message, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_response(status, code, message, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    response.status_code = status
    return response


@bp.errorhandler(ApiError)
def _api_error(exc):
    return error_response(exc.status, exc.code, exc.message, exc.details)


@bp.errorhandler(HTTPException)
def http_error(exc):
    """An HTTP error as the API's JSON error, in Vietnamese (also used by the app-wide error pages for /api/)."""
    messages = {
        400: _("Bad request."),
        401: _("Authentication required: send Authorization: Bearer <token>."),
        403: _("You do not have the right to do this."),
        404: _("Not found (or outside your scope)."),
        405: _("Method not allowed."),
        413: _("The request is too large."),
    }
    return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                          messages.get(exc.code, exc.description or ""))


@bp.before_request
def _authenticate():
    g.api_locale = "vi"
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    user = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        with force_locale("vi"):
            return error_response(401, "unauthorized",
                                  _("Authentication required: send Authorization: Bearer <token>."))
    g.api_user = user
    g.scope = Scope(user)
    act_as(user.id, user.username, "api")


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}}}},
}
LIST_SCHEMA = {
    "type": "object", "required": ["items", "total", "page", "per_page"],
    "properties": {"items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"},
                   "page": {"type": "integer"}, "per_page": {"type": "integer"}},
}
ERROR_STATUSES = {"400": "Bad request", "401": "No or bad token", "403": "Not allowed", "404": "Not found",
                  "409": "Conflict", "413": "Too large", "503": "Database unavailable"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
_PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_operation(rule, summary, method, params, body, response):
    """The OpenAPI entry of one route: path and query parameters, request body, the success shape and the error
    shape every 4xx/503 has."""
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer"} if converter == "int" else {"type": "string"}}
                  for converter, name in _PATH_PARAMETER.findall(rule)]
    parameters += [{"name": name, "in": "query", "schema": {"type": "string"}} for name in params]
    success = "201" if method == "POST" else "200"
    operation = {
        "summary": summary,
        "parameters": parameters,
        "security": [{"bearer": []}],
        "responses": {success: {"description": "OK", "content": {"application/json": {
            "schema": response or (LIST_SCHEMA if "page" in params else {"type": "object"})}}}}
        | {status: {"description": text, "content": {"application/json": {"schema": ERROR_REF}}}
           for status, text in ERROR_STATUSES.items()},
    }
    if body is not None:
        content_type = "multipart/form-data" if body.get("format") == "multipart" else "application/json"
        schema = {key: value for key, value in body.items() if key != "format"}
        operation["requestBody"] = {"required": True, "content": {content_type: {"schema": schema}}}
    return operation


def api_route(rule, summary, methods=("GET",), roles=None, params=(), body=None, response=None):
    """Register a route and its OpenAPI entry; `roles` limits it to those roles; `body` and `response` are the
    JSON schemas of the request body and of the success answer (a list when the route pages)."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if roles and g.api_user.role not in roles:
                raise ApiError(403, "forbidden", _("You do not have the right to do this."))
            with force_locale("vi"):
                return func(*args, **kwargs)

        for method in methods:
            OPENAPI_PATHS.setdefault(rule, {})[method.lower()] = _openapi_operation(rule, summary, method, params,
                                                                                   body, response)
        return bp.route(rule, methods=list(methods), endpoint=func.__name__)(wrapper)

    return decorator


MAX_PAGE = 1_000_000  # far beyond any list, and an OFFSET the databases can still take
MAX_ID = 2**31 - 1  # the largest integer key a row can have


def requested_page():
    """(page, per_page) from the query string; a 400 for anything but whole numbers in range."""
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(current_app.config["API_PER_PAGE_MAX"], max(1, int(request.args.get("per_page", 50))))
    except ValueError:
        raise ApiError(400, "bad_request", _("page and per_page must be whole numbers.")) from None
    if page > MAX_PAGE:
        raise ApiError(400, "bad_request", _("page must be at most %(max)s.", max=MAX_PAGE))
    return page, per_page


def paginate(select_query, schema):
    """Run a SELECT with page / per_page from the query string; returns the list shape clients rely on."""
    page, per_page = requested_page()
    # counted over the query as a subquery: with_only_columns(count()) would lose the FROM of an unfiltered query
    total = db.session.scalar(select(db.func.count()).select_from(select_query.order_by(None).subquery()))
    items = db.session.scalars(select_query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": schema.dump(items, many=True), "total": total, "page": page, "per_page": per_page}


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of every route (authenticated like the rest of the API)."""
    return jsonify({
        "openapi": "3.0.3",
        "info": {"title": "Drug-rehab data quality and training records API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": ERROR_SCHEMA}},
        "paths": {_PATH_PARAMETER.sub(r"{\2}", rule): spec
                  for rule, spec in OPENAPI_PATHS.items()},
        "x-generated-at": utcnow().isoformat(),
    })

