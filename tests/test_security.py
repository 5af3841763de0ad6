"""CSRF protection, security headers and cookies."""

from sqlmodel import select

from pb.accounts.models import User

PASSWORD = "correct horse battery"


def test_post_without_csrf_token_is_rejected_and_changes_nothing(client, db):
    response = client.post(
        "/sign-up", data={"name": "Sam", "email": "sam@example.org", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 400
    assert "form has expired" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(User)).all() == []


def test_post_with_forged_csrf_token_is_rejected(client, make_user):
    make_user("lee@example.org")
    response = client.post("/sign-in", data={"email": "lee@example.org", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_sign_out_needs_csrf_token(client, make_user):
    make_user("lee@example.org")
    client.sign_in("lee@example.org", PASSWORD)
    assert client.post("/sign-out").status_code == 400
    assert client.get("/dashboard").status_code == 200


def test_security_headers_on_every_page(client):
    for path in ["/", "/sign-in", "/no-such-page"]:
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_secure_httponly_and_samesite(client, make_user):
    make_user("lee@example.org")
    response = client.sign_in("lee@example.org", PASSWORD)
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "could not find that page" in response.get_data(as_text=True)


def test_static_files_carry_a_fingerprint_and_may_be_kept(client):
    """On a slow connection a phone should not ask for the stylesheet again on every page."""
    import hashlib
    import re

    page = client.get("/").get_data(as_text=True)
    href = re.search(r'href="(/static/pb\.css\?v=([0-9a-f]+))"', page)
    assert href, "the stylesheet link has no fingerprint"
    response = client.get(href.group(1))
    assert hashlib.sha256(response.data).hexdigest().startswith(href.group(2))
    assert "max-age=31536000" in response.headers["Cache-Control"]
    response.close()
