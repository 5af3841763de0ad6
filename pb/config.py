"""Configuration: defaults, then instance/config.py, then PB_-prefixed environment variables."""

import json
import os


class Defaults:
    SECRET_KEY = None  # filled in by load_config: generated once and kept in the instance folder
    DATABASE_URL = None  # None means a SQLite file in the instance folder
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    SEND_FILE_MAX_AGE_DEFAULT = 365 * 24 * 3600  # static URLs carry a fingerprint of their content (pb.views)
    WTF_CSRF_TIME_LIMIT = 60 * 60 * 4
    BABEL_DEFAULT_LOCALE = "en_GB"
    BABEL_DEFAULT_TIMEZONE = "Europe/London"
    LANGUAGES = ["en_GB", "cy", "pl", "ro", "ur", "bn", "ar"]
    DEFAULT_CURRENCY = "GBP"
    MAIL_SERVER = None  # None: mail is logged and kept in the outbox (pb.mail)
    MAIL_PORT = 587
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_USE_TLS = True
    MAIL_SENDER = "pb@localhost"
    MAIL_TIMEOUT = 10  # seconds to wait on the SMTP server (never inside a request: pb.mail)
    PASSWORD_RESET_MAX_AGE = 60 * 60
    SIGN_IN_LIMIT = 10  # failed attempts per address, and per client, per window
    SIGN_IN_WINDOW = 15 * 60
    SIGN_IN_SLOW_DOWN = 30  # past the limit, seconds between attempts (never a lock-out)
    DECLARATIONS_PER_HOUR = 20  # declared identities per client: a family or a library's queue, not a script
    PROXIES = 0  # how many reverse proxies (nginx, a load balancer) stand in front of the app
    RATE_LIMIT_STORAGE = "database"  # "database": shared by every worker and server; "memory": this process only


def _parse_env_value(raw):
    """Environment values are strings; accept JSON for booleans, numbers and lists."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def load_config(app, test_config=None):
    app.config.from_object(Defaults)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for key, raw in os.environ.items():
            if key.startswith("PB_") and len(key) > 3:
                app.config[key[3:]] = _parse_env_value(raw)
    else:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "pb.sqlite")
    if app.config.get("RATE_LIMIT_STORAGE", "database") not in ("database", "memory"):
        raise ValueError("RATE_LIMIT_STORAGE must be 'database' or 'memory'")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)


def _instance_secret(instance_path):
    """A random key made on first start and kept, so sessions survive restarts."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        import secrets

        key = secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            return _instance_secret(instance_path)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
