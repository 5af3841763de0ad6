"""Security defaults: CSRF on every form, a strict Content Security Policy, safe headers."""

from flask import request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def configure_security(app) -> None:
    @app.before_request
    def _unreadable_field_names():
        """A multipart body whose field name has a line break in it arrives with a name of
        None, on which the CSRF check itself would fail (a 500): such a request is refused
        first, plainly. Registered before the CSRF check, so it runs before it."""
        from flask import abort, request

        if request.method in ("POST", "PUT", "PATCH", "DELETE") and None in request.form:
            abort(400)

    csrf.init_app(app)
    proxies = int(app.config.get("PROXIES") or 0)
    if proxies:
        # Behind that many reverse proxies: trust their X-Forwarded-For/-Proto/-Host, so that
        # rate limits see each client's address and HTTPS is recognised.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:  # HTTPS, directly or (with PROXIES set) behind a proxy that says so
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static" and _personal():
            # A page for someone signed in, or someone voting: never kept by the browser or a
            # shared cache (the back button on a library computer shows nothing of theirs).
            response.headers["Cache-Control"] = "no-store"
        return response


def token_digest(token: str) -> str:
    """How a random reference given to a browser or in a link (a session's, an invitation's)
    is kept on the server: its SHA-256, so that the table alone opens nothing."""
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def _personal() -> bool:
    from flask import session
    from flask_login import current_user

    return "voting" in session or bool(getattr(current_user, "is_authenticated", False))


def safe_next(target: str | None, fallback: str) -> str:
    """A `next` URL only if it stays on this site (a path, no scheme or host), holds no
    space or control character (which browsers drop, and a redirect header refuses), and is
    of a sensible length. Never raises, whatever it is given."""
    from urllib.parse import urlsplit

    if (
        not target
        or len(target) > 2000
        or target.startswith(("//", "\\"))
        or "\\" in target
        or any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F or c.isspace() for c in target)
    ):
        return fallback
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. "/x/[": an unclosed IPv6 host
        return fallback
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return fallback
    return target
