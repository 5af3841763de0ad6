"""Links that leave the site (in mail, on printed letters, in QR codes): built from the
configured PB_BASE_URL, never from the Host header of whoever made the request, which an
attacker chooses (a password-reset link to their own site, with a valid token)."""

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def public_url(endpoint: str, **values) -> str:
    """The absolute address of a page, as people outside reach it."""
    base = current_app.config.get("BASE_URL")
    if base:
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
        return adapter.build(endpoint, values, force_external=True)
    # No PB_BASE_URL (development; production refuses to start without it): the request's own
    # address, or http://localhost from a timer.
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context():
        return url_for(endpoint, _external=True, **values)
