"""Language: Vietnamese by default, English on request (per user, per session, or LANGUAGE)."""
from flask import Blueprint, current_app, has_request_context, redirect, request, session
from flask_login import current_user
from sqlalchemy.exc import PendingRollbackError

from service.common.urls import safe_next
from service.extensions import db

LANGUAGES = ("vi", "en")
bp = Blueprint("i18n", __name__)


def select_locale():
    if not has_request_context():
        return current_app.config.get("LANGUAGE", "vi")
    if current_user and getattr(current_user, "is_authenticated", False):
        try:
            language = current_user.language
        except PendingRollbackError:  # a flush of this request failed: the error message needs a language now
            language = session.get("language")
        if language in LANGUAGES:
            return language
    if session.get("language") in LANGUAGES:
        return session["language"]
    return current_app.config.get("LANGUAGE", "vi")


@bp.get("/language/<code>")
def switch_language(code):
    """Switch the interface language and go back where the user was."""
    if code in LANGUAGES:
        session["language"] = code
        if current_user.is_authenticated and current_user.language != code:
            current_user.language = code
            db.session.commit()
    return redirect(safe_next(request.args.get("next"), "/admin/"))
