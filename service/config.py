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


MIN_SECRET_KEY_LENGTH = 32
PLACEHOLDER_KEYS = {"change-me", "changeme", "secret", "dev"}


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
    DEBUG = False  # never the debugger in production: finalise() refuses FLASK_DEBUG
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or sqlite_url(INSTANCE_DIR / "service.db")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}  # completed for the database by engine_options()
    # Connections each process keeps (PostgreSQL): a gunicorn worker needs about as many as it has threads.
    DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "5"))
    DB_MAX_OVERFLOW = int(os.environ.get("DB_MAX_OVERFLOW", "10"))
    DB_POOL_TIMEOUT = int(os.environ.get("DB_POOL_TIMEOUT", "10"))
    # Reverse proxies in front of the service that append to X-Forwarded-For/-Proto/-Host (nginx: 1). 0 trusts
    # none of those headers, so a client reaching the service directly cannot choose its own address.
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", "0") or 0)
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
    # An admin export longer than this is refused with a message (narrow it with the filters) rather than cut.
    EXPORT_MAX_ROWS = int(os.environ.get("EXPORT_MAX_ROWS", "10000"))
    # Facility checks: a census older than this is stale; a licence expiring within this many days is a warning.
    FACILITY_CENSUS_MAX_AGE_DAYS = int(os.environ.get("FACILITY_CENSUS_MAX_AGE_DAYS", "14"))
    FACILITY_LICENCE_WARN_DAYS = int(os.environ.get("FACILITY_LICENCE_WARN_DAYS", "60"))
    # Figures of the dashboards and reports are kept per worker until the data changes, at most this long
    # (service.common.figures); 0 computes them on every view.
    FIGURES_CACHE_SECONDS = int(os.environ.get("FIGURES_CACHE_SECONDS", "60"))

    @classmethod
    def finalise(cls, config):
        """Check the settings that must not fall back silently."""
        if not config.get("SECRET_KEY"):
            raise ConfigurationError(
                "SECRET_KEY is required: set it in the environment (the embedded `make run` setup makes its own)."
            )
        if len(config["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH or config["SECRET_KEY"] in PLACEHOLDER_KEYS:
            raise ConfigurationError(
                f"SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters: "
                "python3 -c 'import secrets; print(secrets.token_hex(32))'."
            )
        if config.get("DEBUG") or _bool("FLASK_DEBUG"):
            raise ConfigurationError("Debug mode (FLASK_DEBUG / DEBUG) is refused in production: the debugger "
                                     "runs code sent to it. Use SERVICE_MODE=embedded on a development machine.")
        engine_options(config)


def engine_options(config):
    """The engine options for the configured database (kept when the caller set its own).

    PostgreSQL: a pool of the configured size, connections checked before use (the service survives a database
    restart), and JIT compilation off for every connection: the scope filters have cost estimates above
    `jit_above_cost` and compiling them cost up to a second per query on the national data set, for queries that
    run in milliseconds without it."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options.setdefault("pool_size", config.get("DB_POOL_SIZE", 5))
        options.setdefault("max_overflow", config.get("DB_MAX_OVERFLOW", 10))
        options.setdefault("pool_timeout", config.get("DB_POOL_TIMEOUT", 10))
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c jit=off")
        options["connect_args"] = connect_args
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    return options


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
        engine_options(config)


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
    FIGURES_CACHE_SECONDS = 0  # the tests of the cache turn it on
    LANGUAGE = "vi"
    BABEL_DEFAULT_LOCALE = "vi"


def config_from_environment():
    """The configuration class for a process started without an explicit one.

    The embedded default is what runs when no `DATABASE_URL` is given (or `SERVICE_MODE=embedded`): the SQLite
    file of `make run`, so that `flask --app app …` commands work on that machine as they are. With a
    `DATABASE_URL` the service is in production and `SECRET_KEY` is required; `SERVICE_MODE=production` without
    a `DATABASE_URL` is refused rather than silently run on a SQLite file.
    """
    mode = os.environ.get("SERVICE_MODE")
    if mode == "production" and not os.environ.get("DATABASE_URL"):
        raise ConfigurationError("SERVICE_MODE=production needs DATABASE_URL (the PostgreSQL database); "
                                 "the SQLite file is for the embedded `make run` setup only.")
    if mode == "embedded" or (mode != "production" and not os.environ.get("DATABASE_URL")):
        return EmbeddedConfig
    return Config
