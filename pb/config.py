"""Configuration: defaults, then instance/config.py, then PB_-prefixed environment variables."""

import json
import os
from typing import ClassVar


class Defaults:
    ENV = "development"  # "production": refuses to start without SECRET_KEY, BASE_URL and MAIL_SERVER
    SECRET_KEY = None  # filled in by load_config: generated once and kept in the instance folder (not in production)
    # Where people reach pb, e.g. "https://pb.example.org": every link in mail, on letters and
    # in QR codes is built from it, never from a request's Host header, and requests for any
    # other host are refused (TRUSTED_HOSTS).
    BASE_URL = None
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
    LANGUAGES: ClassVar[list[str]] = ["en_GB", "cy", "pl", "ro", "ur", "bn", "ar"]
    DEFAULT_CURRENCY = "GBP"
    MAIL_SERVER = None  # None: mail is logged and kept in the outbox (pb.mail)
    MAIL_PORT = 587
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_USE_TLS = True
    MAIL_SENDER = "pb@localhost"
    MAIL_TIMEOUT = 10  # seconds to wait on the SMTP server (never inside a request: pb.mail)
    PASSWORD_RESET_MAX_AGE = 60 * 60
    SIGN_UP_MAX_AGE = 24 * 60 * 60  # how long the emailed link to finish signing up works
    NOTICE_CONFIRM_MAX_AGE = 48 * 60 * 60  # how long a resident's link to confirm news of a round works
    NOTICE_STOP_MAX_AGE = 400 * 24 * 60 * 60  # how long the link to stop that news works (longer than a round lasts)
    NOTICE_REMINDER_HOURS = 48  # residents who asked are reminded this long before voting closes
    SIGN_IN_LIMIT = 10  # failed attempts per address, and per client, per window
    SIGN_IN_WINDOW = 15 * 60
    SIGN_IN_SLOW_DOWN = 30  # past the limit, seconds between attempts (never a lock-out)
    DECLARATIONS_PER_HOUR = 20  # declared identities per client: a family or a library's queue, not a script
    PROXIES = 0  # how many reverse proxies (nginx, a load balancer) stand in front of the app
    RATE_LIMIT_STORAGE = "database"  # "database": shared by every worker and server; "memory": this process only
    LOG_FORMAT = None  # "json" (one JSON object per line) or "text"; None: json in production, text otherwise
    LOG_LEVEL = "INFO"  # DEBUG, INFO, WARNING or ERROR
    MAIL_STUCK_AFTER = 60 * 60  # seconds a message may wait undelivered before /readyz reports the outbox stuck
    # GOV.UK Notify: with a key, email goes through Notify instead of SMTP, and so do text
    # messages (which have no other way out in production). Notify sends through templates:
    # one for email with ((subject)) and ((body)), one for text messages with ((body)).
    NOTIFY_API_KEY = None
    NOTIFY_EMAIL_TEMPLATE_ID = None
    NOTIFY_SMS_TEMPLATE_ID = None
    NOTIFY_BASE_URL = "https://api.notifications.service.gov.uk"
    SMS_PER_ROUND_PER_HOUR = (
        500  # voting codes sent by text message in one round in an hour, at most (cost, Notify's daily limit)
    )
    # Who answers for the data and the service: the privacy and accessibility statements
    # (pb.statements) are filled from these. The defaults say plainly that they are examples.
    ORGANISATION_NAME = "Example Council (an example: set PB_ORGANISATION_NAME)"  # the data controller
    ORGANISATION_ADDRESS = "Town Hall, 1 Example Street, Exampletown EX1 1AA (an example address)"
    CONTACT_EMAIL = "pb@example.org"  # an example: questions about the site, its accessibility and your data
    DPO_CONTACT = "dpo@example.org (an example: the data protection officer's address)"
    LAWFUL_BASIS = "public_task"  # "public_task" (councils, NHS, police...), "legitimate_interests" or "consent"
    HOSTING_PROVIDER = "Example Hosting Ltd, UK data centre (an example)"
    MAIL_PROVIDER = "Example Mail Ltd (an example)"
    LOG_RETENTION_DAYS = 14  # how long the operator keeps server logs (journald, nginx); pb does not delete them
    ACCESSIBILITY_COMPLIANCE = "partial"  # "full" or "partial" compliance with WCAG 2.2 AA
    ACCESSIBILITY_TESTED_ON = "2026-12-04"  # when the site was last tested for accessibility (YYYY-MM-DD)


# Settings that are text whatever they look like (PB_SECRET_KEY=20251203 is a key, not a number).
TEXT_SETTINGS = {
    "ENV",
    "SECRET_KEY",
    "BASE_URL",
    "DATABASE_URL",
    "MAIL_SERVER",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_SENDER",
    "INSTANCE_PATH",
    "RATE_LIMIT_STORAGE",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "NOTIFY_API_KEY",
    "NOTIFY_EMAIL_TEMPLATE_ID",
    "NOTIFY_SMS_TEMPLATE_ID",
    "NOTIFY_BASE_URL",
}
# The statements' settings are text too (a DPO's phone number is not a number).
TEXT_SETTINGS |= {
    "ORGANISATION_NAME",
    "ORGANISATION_ADDRESS",
    "CONTACT_EMAIL",
    "DPO_CONTACT",
    "LAWFUL_BASIS",
    "HOSTING_PROVIDER",
    "MAIL_PROVIDER",
    "ACCESSIBILITY_COMPLIANCE",
    "ACCESSIBILITY_TESTED_ON",
}
MIN_SECRET_LENGTH = 32


class ConfigError(ValueError):
    """A setting pb cannot start with; the message is one line saying which and why."""


def _parse_env_value(key, raw):
    """Environment values are strings; accept JSON for booleans, numbers and lists, except
    for settings that are always text."""
    if key in TEXT_SETTINGS:
        return raw
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
                app.config[key[3:]] = _parse_env_value(key[3:], raw)
    else:
        app.config.update(test_config)
    _check_settings(app.config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "pb.sqlite")
    if app.config.get("RATE_LIMIT_STORAGE", "database") not in ("database", "memory"):
        raise ConfigError("PB_RATE_LIMIT_STORAGE must be 'database' or 'memory'")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)


def _check_settings(config) -> None:
    """Typed settings, checked before anything starts: each refusal is one line."""
    env = config.get("ENV") or "development"
    if env not in ("development", "production"):
        raise ConfigError(f"PB_ENV must be 'development' or 'production', not {env!r}")
    if config.get("LOG_FORMAT") not in (None, "", "json", "text"):
        raise ConfigError(f"PB_LOG_FORMAT must be 'json' or 'text', not {config['LOG_FORMAT']!r}")
    if str(config.get("LOG_LEVEL") or "INFO").upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"PB_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {config['LOG_LEVEL']!r}")
    config["LOG_LEVEL"] = str(config.get("LOG_LEVEL") or "INFO").upper()
    if config.get("PASSWORD_HASH_METHOD") and (not config.get("TESTING") or env == "production"):
        # Only the tests' app may hash cheaply (pb.accounts.services); nowhere else, not even by mistake.
        raise ConfigError("PASSWORD_HASH_METHOD is for tests only: pb hashes passwords with scrypt")
    _check_statements(config)
    secret = config.get("SECRET_KEY")
    if secret is not None and not isinstance(secret, str):
        raise ConfigError("PB_SECRET_KEY must be text (in instance/config.py, put it in quotes)")
    if secret and not config.get("TESTING") and (len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10):
        raise ConfigError(
            f"PB_SECRET_KEY is too easy to guess: use at least {MIN_SECRET_LENGTH} random characters, "
            "e.g. from: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    base = config.get("BASE_URL")
    if base:
        from urllib.parse import urlsplit

        parts = urlsplit(str(base))
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ConfigError(f"PB_BASE_URL must be an address like https://pb.example.org, not {base!r}")
        config["BASE_URL"] = str(base).rstrip("/")
        config["TRUSTED_HOSTS"] = [parts.hostname] + [
            h for h in (config.get("TRUSTED_HOSTS") or []) if h != parts.hostname
        ]
        config["PREFERRED_URL_SCHEME"] = parts.scheme
    _check_notify(config, env)
    if env == "production":
        missing = [
            name
            for name, key in (
                ("PB_SECRET_KEY", "SECRET_KEY"),
                ("PB_BASE_URL", "BASE_URL"),
                ("PB_MAIL_SERVER", "MAIL_SERVER"),
            )
            if not config.get(key)
        ]
        if config.get("NOTIFY_API_KEY"):  # email goes through GOV.UK Notify instead
            missing = [name for name in missing if name != "PB_MAIL_SERVER"]
        if missing:
            raise ConfigError(
                f"PB_ENV=production needs {', '.join(missing)}: set them in the environment or instance/config.py"
            )
        if not str(config["BASE_URL"]).startswith("https://"):
            raise ConfigError("PB_ENV=production needs PB_BASE_URL to start with https://")


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _check_notify(config, env: str) -> None:
    """GOV.UK Notify's settings: a key as Notify gives it (its name, then the service id and
    the secret, both UUIDs), the email template it needs, and an address to reach it."""
    import re

    key = config.get("NOTIFY_API_KEY")
    for name in ("NOTIFY_EMAIL_TEMPLATE_ID", "NOTIFY_SMS_TEMPLATE_ID"):
        value = config.get(name)
        if value and not re.fullmatch(UUID, str(value).strip().lower()):
            raise ConfigError(
                f"PB_{name} must be the template's ID as Notify shows it, like 3fa85f64-5717-4562-b3fc-2c963f66afa6"
            )
        if value:
            config[name] = str(value).strip().lower()
    if not key:
        return
    if not re.fullmatch(rf".+-{UUID}-{UUID}", str(key).strip()):
        raise ConfigError(
            "PB_NOTIFY_API_KEY must be an API key as GOV.UK Notify shows it: "
            "its name, then two long IDs, all joined by dashes"
        )
    config["NOTIFY_API_KEY"] = str(key).strip()
    if not config.get("NOTIFY_EMAIL_TEMPLATE_ID"):
        raise ConfigError(
            "PB_NOTIFY_API_KEY sends email through GOV.UK Notify, which needs PB_NOTIFY_EMAIL_TEMPLATE_ID: "
            "a template whose subject is ((subject)) and whose message is ((body))"
        )
    base = str(config.get("NOTIFY_BASE_URL") or "")
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or (env == "production" and parts.scheme != "https"):
        raise ConfigError(
            f"PB_NOTIFY_BASE_URL must be an https:// address like https://api.notifications.service.gov.uk, not {base!r}"
        )


def _check_statements(config) -> None:
    """The privacy and accessibility statements' settings that must be one of a few values."""
    from datetime import date

    if config.get("LAWFUL_BASIS", "public_task") not in ("public_task", "legitimate_interests", "consent"):
        raise ConfigError(
            f"PB_LAWFUL_BASIS must be public_task, legitimate_interests or consent, not {config['LAWFUL_BASIS']!r}"
        )
    if config.get("ACCESSIBILITY_COMPLIANCE", "partial") not in ("full", "partial"):
        raise ConfigError(
            f"PB_ACCESSIBILITY_COMPLIANCE must be 'full' or 'partial', not {config['ACCESSIBILITY_COMPLIANCE']!r}"
        )
    try:
        date.fromisoformat(str(config.get("ACCESSIBILITY_TESTED_ON", "2026-12-04")))
    except ValueError:
        raise ConfigError(
            f"PB_ACCESSIBILITY_TESTED_ON must be a date like 2026-12-04, not {config['ACCESSIBILITY_TESTED_ON']!r}"
        ) from None
    days = config.get("LOG_RETENTION_DAYS", 14)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ConfigError(f"PB_LOG_RETENTION_DAYS must be a whole number of days, not {days!r}")


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
