"""Configuration read from the environment.

`Config` is the production configuration; `EmbeddedConfig` is what `make run` uses on one machine (SQLite file
under instance/, scheduler in process, a generated secret kept in instance/); `TestConfig` is for the tests.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", PROJECT_DIR / "instance"))


class ConfigurationError(RuntimeError):
    """Raised when the environment does not say what the service needs to start safely."""


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def default_units_dir():
    """`UNITS_DIR`, else ../shared/data beside the project when it exists, else None."""
    if os.environ.get("UNITS_DIR"):
        return Path(os.environ["UNITS_DIR"])
    shared = PROJECT_DIR.parent / "shared" / "data"
    return shared if shared.is_dir() else None


def sqlite_url(path):
    return f"sqlite:///{Path(path).resolve()}"


class Config:
    """Production settings: everything that matters comes from the environment."""

    EMBEDDED = False
    TESTING = False
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or sqlite_url(INSTANCE_DIR / "service.db")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    LANGUAGE = os.environ.get("LANGUAGE", "vi") if os.environ.get("LANGUAGE", "vi") in ("vi", "en") else "vi"
    BABEL_DEFAULT_LOCALE = LANGUAGE
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_DIR / "translations")
    FLASK_ADMIN_SWATCH = "default"
    UNITS_DIR = default_units_dir()
    CURRENT_EDITION = int(os.environ.get("CURRENT_EDITION", "2025"))
    SCHEDULER_IN_PROCESS = _bool("SCHEDULER_IN_PROCESS", False)
    LOGIN_MAX_FAILURES = 5
    LOGIN_WINDOW = timedelta(minutes=15)
    LOGIN_MAX_FAILURES_PER_IP = 30
    API_PER_PAGE_MAX = 500
    # Facility checks: a census older than this is stale; a licence expiring within this many days is a warning.
    FACILITY_CENSUS_MAX_AGE_DAYS = int(os.environ.get("FACILITY_CENSUS_MAX_AGE_DAYS", "14"))
    FACILITY_LICENCE_WARN_DAYS = int(os.environ.get("FACILITY_LICENCE_WARN_DAYS", "60"))

    @classmethod
    def finalise(cls, config):
        """Check the settings that must not fall back silently."""
        if not config.get("SECRET_KEY"):
            raise ConfigurationError(
                "SECRET_KEY is required: set it in the environment (the embedded `make run` setup makes its own)."
            )


class EmbeddedConfig(Config):
    """`make run`: one machine, SQLite file, scheduler in process, plain HTTP on 127.0.0.1."""

    EMBEDDED = True
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SCHEDULER_IN_PROCESS = _bool("SCHEDULER_IN_PROCESS", True)

    @classmethod
    def finalise(cls, config):
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = embedded_secret_key()


def embedded_secret_key():
    """A random key generated once and kept in instance/secret_key (mode 600), so sessions survive restarts."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class TestConfig(Config):
    """Tests: the database comes from TEST_DATABASE_URL (set by tests/conftest.py)."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    SCHEDULER_IN_PROCESS = False
    LANGUAGE = "vi"
    BABEL_DEFAULT_LOCALE = "vi"


def config_from_environment():
    """The configuration class for a process started without an explicit one.

    The embedded default is what runs when no `DATABASE_URL` is given (or `SERVICE_MODE=embedded`): the SQLite
    file of `make run`, so that `flask --app app …` commands work on that machine as they are. With a
    `DATABASE_URL` the service is in production and `SECRET_KEY` is required.
    """
    mode = os.environ.get("SERVICE_MODE")
    if mode == "embedded" or (mode != "production" and not os.environ.get("DATABASE_URL")):
        return EmbeddedConfig
    return Config
