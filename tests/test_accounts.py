"""Signing up, in and out, and resetting a password through the emailed link."""

import re

from sqlmodel import select

from pb.accounts.models import User
from pb.mail import outbox

PASSWORD = "correct horse battery"


def sign_up(client, email="sam@example.org", password=PASSWORD, confirm=None, name="Sam Green"):
    return client.submit(
        "/sign-up", {"name": name, "email": email, "password": password, "confirm": confirm or password}
    )


def test_sign_up_creates_account_and_signs_in(client, db):
    response = sign_up(client, email="Sam@Example.org")
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    with db() as session:
        user = session.exec(select(User).where(User.email == "sam@example.org")).one()
        assert user.name == "Sam Green"
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


def test_sign_up_rejects_bad_input_and_saves_nothing(client, db):
    cases = [
        {"email": "not-an-email"},
        {"password": "short", "confirm": "short"},
        {"confirm": "something else entirely"},
        {"name": ""},
        {"name": "x" * 121},
    ]
    for change in cases:
        data = {"name": "Sam", "email": "sam@example.org", "password": PASSWORD, "confirm": PASSWORD, **change}
        response = client.submit("/sign-up", data)
        assert response.status_code == 400, change
        assert "There is a problem" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(User)).all() == []


def test_sign_up_with_taken_address_is_refused(client, make_user):
    make_user("sam@example.org")
    response = sign_up(client, email="SAM@example.org")
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_sign_in_and_out(client, make_user):
    make_user("lee@example.org")
    assert client.get("/dashboard").status_code == 302  # not signed in yet
    client.sign_in("lee@example.org", PASSWORD)
    assert client.get("/dashboard").status_code == 200
    response = client.submit("/sign-out", {}, page="/dashboard")
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_is_refused(client, make_user):
    make_user("lee@example.org")
    response = client.submit("/sign-in", {"email": "lee@example.org", "password": "wrong password!"})
    assert response.status_code == 200
    assert "do not match" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_repeated_wrong_passwords_slow_sign_in_down_but_never_lock_the_owner_out(app, db, client, make_user):
    make_user("lee@example.org")
    for _ in range(app.config["SIGN_IN_LIMIT"]):
        client.submit("/sign-in", {"email": "lee@example.org", "password": "guess guess guess"})
    # Past the limit, the next attempt must wait, whatever the password; the page says how
    # long, and offers a reset.
    response = client.submit("/sign-in", {"email": "lee@example.org", "password": PASSWORD})
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert re.search(r"please wait (\d+) seconds", page) and "reset your password" in page
    assert client.get("/dashboard").status_code == 302
    # Time passes (only tests move the clock): one attempt is checked, and the right password works.
    from datetime import timedelta

    from sqlalchemy import update

    from pb.throttle import ThrottleAttempt

    with db() as session:
        session.exec(update(ThrottleAttempt).values(at=ThrottleAttempt.at - timedelta(seconds=app.config["SIGN_IN_SLOW_DOWN"] + 1)))
    response = client.submit("/sign-in", {"email": "lee@example.org", "password": PASSWORD})
    assert response.status_code == 302 and client.get("/dashboard").status_code == 200


def test_next_only_redirects_within_the_site(client, make_user):
    make_user("lee@example.org")
    token = client.csrf_token("/sign-in")
    data = {"email": "lee@example.org", "password": PASSWORD, "csrf_token": token}
    response = client.post("/sign-in?next=https://evil.example/steal", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    client.submit("/sign-out", {}, page="/dashboard")
    token = client.csrf_token("/sign-in")
    response = client.post("/sign-in?next=/admin/organisations", data={**data, "csrf_token": token})
    assert response.headers["Location"] == "/admin/organisations"


def reset_link(app):
    with app.app_context():
        mails = outbox()
    assert mails, "no mail was sent"
    match = re.search(r"https?://\S+/reset-password/\S+", mails[-1].body)
    assert match, mails[-1].body
    return match.group(0).replace("http://localhost", "")


def test_password_reset_through_the_outbox(app, client, make_user):
    make_user("lee@example.org")
    response = client.submit("/reset-password", {"email": "lee@example.org"})
    assert response.status_code == 302
    assert app.extensions["pb_outbox"][-1].to == "lee@example.org"
    link = reset_link(app)

    new_password = "a brand new passphrase"
    response = client.submit(link, {"password": new_password, "confirm": new_password})
    assert response.status_code == 302

    # The old password no longer works; the new one does; the link is spent.
    response = client.submit("/sign-in", {"email": "lee@example.org", "password": PASSWORD})
    assert "do not match" in response.get_data(as_text=True)
    client.sign_in("lee@example.org", new_password)
    assert client.get(link).status_code == 404


def test_password_reset_for_unknown_address_sends_no_link_and_says_the_same(app, client, make_user):
    """Known or not, the same answer and the same work (one message queued): neither the page
    nor the time it takes tells whether an account uses the address."""
    make_user("lee@example.org")
    answers = []
    for email in ("nobody@example.org", "lee@example.org"):
        response = client.submit("/reset-password", {"email": email})
        answers.append((response.status_code, response.headers.get("Location")))
    assert answers[0] == answers[1]
    unknown, known = app.extensions["pb_outbox"]
    assert unknown.to == "nobody@example.org" and "no account uses it" in unknown.body and "/reset-password/" not in unknown.body
    assert known.to == "lee@example.org" and "/reset-password/" in known.body


def test_forged_reset_token_is_refused(client, make_user):
    make_user("lee@example.org")
    assert client.get("/reset-password/not-a-real-token").status_code == 404
