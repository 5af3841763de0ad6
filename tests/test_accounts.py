"""Signing up, in and out, and resetting a password through the emailed link."""

import re

import pytest
from sqlmodel import select
from werkzeug.security import check_password_hash

from pb import create_app
from pb.accounts import services
from pb.accounts.models import User
from pb.config import ConfigError
from pb.mail import outbox
from tests.conftest import CHEAP_PASSWORD_HASH, FormClient
from tests.factories import sign_up_link

PASSWORD = "correct horse battery"


@pytest.mark.production_hash
def test_sign_up_by_an_emailed_link_creates_the_account_and_signs_in(app, client, db):
    link = sign_up_link(app, client, "Sam@Example.org", name="Sam Green")
    with db(write=False) as session:
        assert session.exec(select(User)).all() == []  # nothing until the link is opened
    page = client.get(link).get_data(as_text=True)
    assert "sam@example.org" in page
    assert 'value="Sam Green"' in page
    response = client.submit(link, {"name": "Sam Green", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    with db() as session:
        user = session.exec(select(User).where(User.email == "sam@example.org")).one()
        assert user.name == "Sam Green"
        assert user.password_hash.startswith("scrypt:")
        assert check_password_hash(user.password_hash, PASSWORD)  # the password's own hash, not the password
    # The link works once.
    client.submit("/sign-out", {}, page="/dashboard")
    assert client.get(link).status_code == 404


def test_sign_up_rejects_bad_input_and_saves_nothing(app, client, db):
    for change in [{"email": "not-an-email"}, {"name": ""}, {"name": "x" * 121}]:
        response = client.submit("/sign-up", {"name": "Sam", "email": "sam@example.org", **change})
        assert response.status_code == 400, change
        assert "There is a problem" in response.get_data(as_text=True)
    assert app.extensions["pb_outbox"] == []
    link = sign_up_link(app, client, "sam@example.org")
    for change in [{"password": "short", "confirm": "short"}, {"confirm": "something else entirely"}, {"name": ""}]:
        response = client.submit(link, {"name": "Sam", "password": PASSWORD, "confirm": PASSWORD, **change})
        assert response.status_code == 400, change
        assert "There is a problem" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(User)).all() == []


def test_sign_up_with_a_taken_address_answers_the_same_and_mails_the_owner(app, client, make_user):
    """Whoever types an address learns nothing about whether it has an account: the same
    answer, and the same work (one message queued); the owner is told how to sign in."""
    make_user("sam@example.org")
    answers = []
    for email in ("SAM@example.org", "new@example.org"):
        response = client.submit("/sign-up", {"name": "Sam", "email": email})
        answers.append((response.status_code, response.headers.get("Location")))
    assert answers[0] == answers[1] == (302, "/sign-up/sent")
    owner, newcomer = app.extensions["pb_outbox"]
    assert owner.to == "sam@example.org"
    assert "already has one" in owner.body
    assert "/sign-up/" not in owner.body
    assert "http://localhost/reset-password" in owner.body
    assert newcomer.to == "new@example.org"
    assert "http://localhost/sign-up/" in newcomer.body
    page = client.get("/sign-up/sent").get_data(as_text=True)
    assert "Check your email" in page


def test_a_forged_altered_or_expired_sign_up_link_is_refused(app, client, db):
    link = sign_up_link(app, client, "sam@example.org")
    token = link.rsplit("/", 1)[1]
    assert client.get("/sign-up/not-a-token").status_code == 404
    assert client.get(f"/sign-up/{token[:-2]}xx").status_code == 404
    with app.test_request_context():
        from itsdangerous import URLSafeTimedSerializer

        other_key = URLSafeTimedSerializer("another server's key, long enough to pass", salt="pb.sign-up")
        assert (
            client.get("/sign-up/" + other_key.dumps({"email": "x@example.org", "name": "X", "next": ""})).status_code
            == 404
        )
    app.config["SIGN_UP_MAX_AGE"] = -1
    assert client.get(link).status_code == 404
    assert (
        client.submit(link, {"name": "Sam", "password": PASSWORD, "confirm": PASSWORD}, page="/sign-up").status_code
        == 404
    )
    with db(write=False) as session:
        assert session.exec(select(User)).all() == []


def test_sign_up_mail_is_limited_per_address_and_per_client(app, client):
    for _ in range(5):
        client.submit("/sign-up", {"name": "Sam", "email": "sam@example.org"})
    assert len(app.extensions["pb_outbox"]) == 3  # no flooding one inbox
    for n in range(10):
        client.submit("/sign-up", {"name": "Sam", "email": f"other{n}@example.org"})
    assert len(app.extensions["pb_outbox"]) == 10  # nor mailing address after address from one client


def test_sign_up_returns_to_where_the_person_was_going(app, client):
    link = sign_up_link(app, client, "sam@example.org", start="/sign-up?next=/group")
    response = client.submit(link, {"name": "Sam", "password": PASSWORD, "confirm": PASSWORD})
    assert response.headers["Location"] == "/group"
    client.submit("/sign-out", {}, page="/dashboard")
    link = sign_up_link(app, client, "kim@example.org", start="/sign-up?next=https://evil.example/")
    response = client.submit(link, {"name": "Kim", "password": PASSWORD, "confirm": PASSWORD})
    assert response.headers["Location"] == "/dashboard"


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
    assert re.search(r"please wait (\d+) seconds", page)
    assert "reset your password" in page
    assert client.get("/dashboard").status_code == 302
    # Time passes (only tests move the clock): one attempt is checked, and the right password works.
    time_passes(app, db)
    response = client.submit("/sign-in", {"email": "lee@example.org", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200


def time_passes(app, db) -> None:
    """SIGN_IN_SLOW_DOWN seconds and one more, for every attempt noted (row by row: on SQLite
    an UPDATE subtracting an interval in SQL made the time a number, outside every window)."""
    from datetime import timedelta

    from pb.throttle import ThrottleAttempt

    with db() as session:
        for row in session.exec(select(ThrottleAttempt)).all():
            row.at = row.at - timedelta(seconds=app.config["SIGN_IN_SLOW_DOWN"] + 1)
            session.add(row)


def test_a_script_guessing_elsewhere_cannot_keep_the_owner_from_signing_in(app, db, make_user):
    """Past the limit, one try every 30 s is allowed for the address, whoever makes it: a
    script polling from one client took each as it came, and the owner was told to wait for
    as long as it ran. A browser that has signed in to the account before is now slowed only
    by its own wrong passwords; a new one still waits, and the script still does."""
    make_user("lead@council.example")
    owner = FormClient(app)
    owner.http.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    owner.sign_in("lead@council.example", PASSWORD)  # a browser the owner uses
    owner.submit("/sign-out", {}, page="/dashboard")
    attacker = FormClient(app)
    attacker.http.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for n in range(app.config["SIGN_IN_LIMIT"]):
        attacker.submit("/sign-in", {"email": "lead@council.example", "password": f"wrong guess {n}"})
    time_passes(app, db)
    polled = attacker.submit("/sign-in", {"email": "lead@council.example", "password": "slow guess"})
    assert "do not match" in polled.get_data(as_text=True)  # the script took the one try...
    assert attacker.submit("/sign-in", {"email": "lead@council.example", "password": "x" * 12}).status_code == 429
    stranger = FormClient(app)
    stranger.http.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    assert stranger.submit("/sign-in", {"email": "lead@council.example", "password": PASSWORD}).status_code == 429
    # The cookie names the account by a keyed hash: its readable content confirms no guess.
    import base64
    import hashlib

    payload = owner.http.get_cookie("pb_device").value.split(".")[0]
    content = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"lead@council.example" not in content
    assert hashlib.sha256(b"device:lead@council.example").hexdigest()[:32].encode() not in content
    # A cookie forged, or another account's, is no help.
    forger = FormClient(app)
    forger.http.environ_base["REMOTE_ADDR"] = "192.0.2.2"
    forger.http.set_cookie("pb_device", owner.http.get_cookie("pb_device").value + "x")
    assert forger.submit("/sign-in", {"email": "lead@council.example", "password": PASSWORD}).status_code == 429
    make_user("other@council.example")
    other = FormClient(app)
    other.http.environ_base["REMOTE_ADDR"] = "192.0.2.3"
    other.sign_in("other@council.example", PASSWORD)
    other.submit("/sign-out", {}, page="/dashboard")
    assert other.submit("/sign-in", {"email": "lead@council.example", "password": PASSWORD}).status_code == 429
    response = owner.submit("/sign-in", {"email": "lead@council.example", "password": PASSWORD})
    assert response.status_code == 302  # ...but the owner's browser signs in
    assert owner.get("/dashboard").status_code == 200


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
    assert unknown.to == "nobody@example.org"
    assert "no account uses it" in unknown.body
    assert "/reset-password/" not in unknown.body
    assert known.to == "lee@example.org"
    assert "/reset-password/" in known.body


def test_forged_reset_token_is_refused(client, make_user):
    make_user("lee@example.org")
    assert client.get("/reset-password/not-a-real-token").status_code == 404


def test_one_link_opened_twice_at_once_makes_one_account(app, db, client):
    """A double click, or two tabs: one account, and the other request told the link is spent (never a 500)."""
    import threading

    from tests.conftest import FormClient

    link = sign_up_link(app, client, "sam@example.org")
    tabs = [FormClient(app) for _ in range(4)]
    tokens = [tab.csrf_token(link) for tab in tabs]
    barrier, statuses = threading.Barrier(len(tabs)), []

    def finish(n):
        barrier.wait()
        data = {"name": "Sam", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": tokens[n]}
        statuses.append(tabs[n].http.post(link, data=data).status_code)

    threads = [threading.Thread(target=finish, args=(n,)) for n in range(len(tabs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302] + [404] * (len(tabs) - 1)
    with db(write=False) as session:
        assert len(session.exec(select(User)).all()) == 1


def test_a_burst_of_sign_ups_cannot_outrun_the_limit(app, db):
    import threading

    from tests.conftest import FormClient

    burst = 12
    browsers = [FormClient(app) for _ in range(burst)]
    tokens = [browser.csrf_token("/sign-up") for browser in browsers]
    barrier = threading.Barrier(burst)

    def ask(n):
        barrier.wait()
        browsers[n].http.post("/sign-up", data={"name": "Sam", "email": "sam@example.org", "csrf_token": tokens[n]})

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(app.extensions["pb_outbox"]) == 3


def test_an_odd_next_gets_the_same_answer_for_a_taken_and_a_free_address(app, client, make_user):
    """urlsplit raised on "/\\t/[" (a 500 for a free address only: enumeration, and no mail
    or count); a line break in `next` made the finished link a 500."""
    make_user("sam@example.org")
    for odd in ("/%09/%5B", "/%09/a%E2%84%80b", "/%0D%0AX-Evil:%201", "/" + "a" * 3000):
        answers = [
            client.submit(f"/sign-up?next={odd}", {"name": "Sam", "email": email}, page="/sign-up")
            for email in ("sam@example.org", f"free-{len(odd)}@example.org")
        ]
        assert [(a.status_code, a.headers.get("Location")) for a in answers] == [(302, "/sign-up/sent")] * 2, odd
    link = sign_up_link(app, client, "kim@example.org", start="/sign-up?next=/%0D%0AX-Evil:%201")
    finished = client.submit(link, {"name": "Kim", "password": PASSWORD, "confirm": PASSWORD})
    assert finished.status_code == 302
    assert finished.headers["Location"] == "/dashboard"
    client.submit("/sign-out", {}, page="/dashboard")
    token = client.csrf_token("/sign-in")
    signed_in = client.post(
        "/sign-in?next=/%09/%5B", data={"email": "sam@example.org", "password": PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/dashboard"


def test_sign_up_and_reset_share_one_limit_per_inbox_however_the_address_is_spelt(app, client, make_user):
    make_user("victim@gmail.com")
    for n, (path, email) in enumerate(
        [
            ("/sign-up", "victim+1@gmail.com"),
            ("/reset-password", "victim@gmail.com"),
            ("/sign-up", "Vic.Tim+2@googlemail.com"),
            ("/reset-password", "v.i.c.t.i.m@gmail.com"),
            ("/sign-up", "victim+3@gmail.com"),
        ]
    ):
        browser = FormClient(app)
        browser.http.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
        browser.submit(path, {"name": "V", "email": email})
    assert len(app.extensions["pb_outbox"]) == 3


def test_ipv4_clients_seen_through_ipv6_are_counted_apart(app, make_user):
    """A server listening on [::] sees IPv4 clients as ::ffff:a.b.c.d: they were all one /64,
    so one client's wrong passwords slowed everyone's sign-in."""
    make_user("lee@example.org")
    attacker, owner = FormClient(app), FormClient(app)
    attacker.http.environ_base["REMOTE_ADDR"] = "::ffff:198.51.100.7"
    owner.http.environ_base["REMOTE_ADDR"] = "::ffff:203.0.113.20"
    for n in range(app.config["SIGN_IN_LIMIT"]):
        attacker.submit("/sign-in", {"email": f"someone{n}@example.org", "password": "guess guess guess"})
    assert attacker.submit("/sign-in", {"email": "lee@example.org", "password": PASSWORD}).status_code == 429
    assert owner.submit("/sign-in", {"email": "lee@example.org", "password": PASSWORD}).status_code == 302


def test_only_a_test_app_may_hash_passwords_cheaply(tmp_path):
    settings = {
        "SECRET_KEY": "k" * 8 + "0123456789abcdefghijklmnopqrstuv",
        "INSTANCE_PATH": str(tmp_path),
        "PASSWORD_HASH_METHOD": CHEAP_PASSWORD_HASH,
    }
    with pytest.raises(ConfigError, match="PASSWORD_HASH_METHOD is for tests only"):
        create_app(settings)
    # Nor by calling production a test: PB_TESTING=true does not unlock it there.
    with pytest.raises(ConfigError, match="PASSWORD_HASH_METHOD is for tests only"):
        create_app({**settings, "TESTING": True, "ENV": "production"})


@pytest.mark.parametrize(
    "method", [pytest.param("scrypt:32768:8:1", marks=pytest.mark.production_hash), CHEAP_PASSWORD_HASH]
)
def test_an_unknown_address_is_checked_against_a_hash_made_the_way_real_ones_are(app, db, make_user, method):
    """The sign-in timing equaliser: a missing account costs what a wrong password costs."""
    make_user("lee@example.org")
    with app.test_request_context(), db(write=False) as session:
        real = services.find_user(session, "lee@example.org").password_hash
        dummy = services._dummy_hash(services._hash_method())
    assert real.split("$")[0] == dummy.split("$")[0] == method
    app.config["TESTING"] = False  # a test app turned into a real one hashes with scrypt whatever it was told
    with app.test_request_context():
        assert services._hash_method() == "scrypt"
