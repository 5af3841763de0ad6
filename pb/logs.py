"""What pb writes to its log: one line per request (request id, method, route, status,
duration), warnings and errors; JSON lines in production, readable lines in development.

Nothing secret reaches a line: a request is logged by its route's pattern
(`/reset-password/<token>`), never its path or query; the database engines hide SQL
parameters (pb.db); and every line is passed through `redact`, which masks anything shaped
like an email address or a mobile number, as a last line of defence (an SMTP server's
refusal quotes the recipient, for instance).
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import g, has_request_context, request

EMAIL = re.compile(r"[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[^\s@<>()\[\]\"',;:]+")
# Numbers as pb sends text messages to them (E.164, +447700900123), and UK mobiles written
# without the +: not any run of digits, which a time or a count can be.
PHONE = re.compile(r"\+\d{7,15}(?!\d)|(?<![\w+])(?:0|44|0044)7\d{9}(?!\w)")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
FIELDS = ("request_id", "method", "route", "status", "duration_ms")


def redact(text: str) -> str:
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


class _RequestContext(logging.Filter):
    """Adds the request id to every line written while a request is handled."""

    def filter(self, record):
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


class JsonLines(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        entry.update({key: getattr(record, key) for key in FIELDS if getattr(record, key, None) is not None})
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class ReadableLines(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record):
        line = super().format(record)
        extra = " ".join(f"{key}={getattr(record, key)}" for key in FIELDS if getattr(record, key, None) is not None)
        return redact(f"{line} [{extra}]" if extra else line)


class _NoRequestLines(logging.Filter):
    """Drops the development server's own line per request, which names the path (and so a
    reset link's token): pb logs each request itself, by its route."""

    def filter(self, record):
        return record.msg != '"%s" %s %s'


class _PbHandler(logging.StreamHandler):
    """pb's own handler: a second app in one process (tests) finds and replaces the first's."""


def configure_logging(app) -> None:
    """pb's loggers (the app's, named "pb", and the modules' below it) write to standard
    error in the configured format; gunicorn and systemd's journal take it from there."""
    style = app.config.get("LOG_FORMAT") or ("json" if app.config.get("ENV") == "production" else "text")
    handler = _PbHandler(sys.stderr)
    handler.setFormatter(JsonLines() if style == "json" else ReadableLines())
    handler.addFilter(_RequestContext())
    logger = logging.getLogger("pb")
    for old in [h for h in logger.handlers if isinstance(h, _PbHandler)]:
        logger.removeHandler(old)  # a second app in one process (tests) replaces the first's
    logger.addHandler(handler)
    logger.setLevel(app.config.get("LOG_LEVEL") or "INFO")
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, _NoRequestLines) for f in werkzeug.filters):
        werkzeug.addFilter(_NoRequestLines())

    @app.before_request
    def _start():
        g.request_started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "") if app.config.get("PROXIES") else ""
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]

    @app.after_request
    def _finish(response):
        request_id = g.get("request_id") or uuid.uuid4().hex[:16]
        response.headers["X-Request-Id"] = request_id
        started = g.get("request_started")
        route = request.url_rule.rule if request.url_rule else None  # the pattern: never a token or a query
        logging.getLogger("pb.requests").info(
            "%s %s %s",
            request.method,
            route or "(no route)",
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            },
        )
        return response
