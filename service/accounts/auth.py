"""Flask-Login glue: a session names the user *and* their session version, so that a password change or a
disabled account ends every session at once."""
from service.accounts.models import User
from service.extensions import db


def load_user(session_id):
    user_id, _, version = (session_id or "").partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != version:
        return None
    return user
