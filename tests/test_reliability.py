"""Idempotent casting, a new session at sign-in, HTTPS-only headers, proxies, and where
rate limits are counted."""

import re
import threading

import pytest
from sqlmodel import select

from pb import create_app
from pb.rounds.models import Contest, Round
from pb.throttle import ThrottleAttempt
from pb.voting import services
from pb.voting.models import Ballot, Voter
from tests.conftest import FormClient
from tests.factories import let_voting_close
from tests.test_voting import ballots_in, enter_code, voting  # noqa: F401  (the fixture: a round in voting)

PASSWORD = "correct horse battery"
SUBMISSION = re.compile(r'name="submission" value="([^"]+)"')


def review(client, ids, data):
    url = f"/rounds/{ids['round']}/vote/{ids['contests']['North']}"
    page = client.submit(url, data)
    assert page.status_code == 200
    assert "Check your vote" in page.get_data(as_text=True)
    return url, SUBMISSION.search(page.get_data(as_text=True)).group(1)


def confirm(client, url, data, submission):
    return client.post(
        url, data={**data, "confirm": "1", "submission": submission, "csrf_token": client.csrf_token(url)}
    )


def shown(client, response) -> str:
    """The receipt the page after a cast shows (receipts never travel in URLs)."""
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].endswith("/vote/receipt"), response.status_code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return re.search(r'class="receipt"><strong>([0-9A-Z-]+)<', page).group(1)


def test_the_same_confirmation_sent_twice_casts_one_ballot_and_shows_its_receipt(app, db, voting):
    resident = FormClient(app)
    enter_code(resident, voting, voting["codes"][0])
    north = voting["projects"]["North"]
    data = {"project": north[:2]}
    url, submission = review(resident, voting, data)
    first = confirm(resident, url, data, submission)
    first_receipt = shown(resident, first)
    again = confirm(resident, url, data, submission)  # double tap, or a retry after a timeout
    assert shown(resident, again) == first_receipt
    assert len(ballots_in(db)) == 1

    # A new review page is a new confirmation: it replaces the ballot, once.
    url, second_submission = review(resident, voting, {"project": north[2:3]})
    assert second_submission != submission
    replaced = confirm(resident, url, {"project": north[2:3]}, second_submission)
    second_receipt = shown(resident, replaced)
    stored = ballots_in(db)
    assert len(stored) == 2
    assert [b.is_current for b in stored] == [False, True]
    assert (first_receipt, second_receipt) == (stored[0].receipt, stored[1].receipt)
    # The back button to the first review page, sent again: nothing new, and the page says
    # that ballot was replaced and shows the receipt of the one that counts.
    back = confirm(resident, url, data, submission)
    assert back.status_code == 302
    page = resident.get(back.headers["Location"]).get_data(as_text=True)
    assert "That ballot was replaced by a later one you cast" in page
    assert second_receipt in page
    assert first_receipt not in page
    assert len(ballots_in(db)) == 2

    # A retry that arrives after voting closed still finds the receipt.
    with app.test_request_context(), db() as session:
        let_voting_close(session, session.get(Round, voting["round"]))
    late = confirm(resident, url, {"project": north[2:3]}, second_submission)
    assert shown(resident, late) == second_receipt


def test_a_confirmation_token_is_the_voters_own(app, db, voting):
    north = voting["projects"]["North"]
    one, two = FormClient(app), FormClient(app)
    enter_code(one, voting, voting["codes"][0])
    enter_code(two, voting, voting["codes"][1])
    url, submission = review(one, voting, {"project": north[:1]})
    mine = confirm(one, url, {"project": north[:1]}, submission)
    theirs = confirm(two, url, {"project": north[1:2]}, submission)  # someone else's token: a ballot of their own
    assert shown(one, mine) != shown(two, theirs)
    assert len(ballots_in(db)) == 2
    forged = confirm(two, url, {"project": north[1:2]}, "<script>")  # not a token: treated as none
    assert forged.status_code == 302
    assert len(ballots_in(db)) == 3


def test_simultaneous_twin_confirmations_make_one_ballot(app, db, voting):
    with db() as session:
        voter = Voter(round_id=voting["round"], area_id=voting["areas"]["North"], method="declared", identity="t" * 32)
        session.add(voter)
        session.flush()
        voter_id = voter.id
    north, token = voting["projects"]["North"], services.new_submission()
    receipts, errors, barrier = [], [], threading.Barrier(12)

    def cast():
        try:
            barrier.wait()
            with app.test_request_context(), db() as session:
                ballot = services.cast_ballot(
                    session,
                    session.get(Voter, voter_id),
                    session.get(Contest, voting["contests"]["North"]),
                    {north[0]: None},
                    submission=token,
                )
                receipts.append(ballot.receipt)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=cast) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(receipts)) == 1
    assert len(receipts) == 12
    with db(write=False) as session:
        assert len(session.exec(select(Ballot).where(Ballot.voter_id == voter_id)).all()) == 1


def test_signing_in_starts_a_new_session(app, client, make_user):
    make_user("lee@example.org")
    client.get("/sign-in")
    with client.http.session_transaction() as session:
        session["planted"] = "by someone who fixed this session in advance"
    client.sign_in("lee@example.org", PASSWORD)
    with client.http.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


def test_hsts_only_over_https(app, client):
    assert "Strict-Transport-Security" not in client.get("/", base_url="http://localhost").headers
    assert client.get("/", base_url="https://localhost").headers["Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_proxy_https_and_client_addresses_are_recognised(database_url, tmp_path, make_user):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "s",
            "DATABASE_URL": database_url,
            "SERVER_NAME": "localhost",
            "INSTANCE_PATH": str(tmp_path / "proxied"),
            "PROXIES": 1,
            "SIGN_IN_LIMIT": 2,
        }
    )
    try:
        http = FormClient(app)
        https = {"X-Forwarded-Proto": "https"}
        assert "Strict-Transport-Security" in http.get("/", headers=https).headers
        assert "Strict-Transport-Security" not in http.get("/").headers

        def attempt(client_address, email):
            headers = {"X-Forwarded-For": client_address}
            token = http.csrf_token("/sign-in")
            return http.post(
                "/sign-in", data={"email": email, "password": "wrong", "csrf_token": token}, headers=headers
            ).status_code

        # Every request comes from the proxy's address; the limit per client still tells them apart.
        assert [attempt("203.0.113.7", f"a{n}@example.org") for n in range(3)] == [200, 200, 429]
        assert attempt("198.51.100.9", "b@example.org") == 200
    finally:
        app.extensions["pb_engine"].dispose()


def test_rate_limits_can_be_kept_in_memory(database_url, tmp_path, db):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "s",
            "DATABASE_URL": database_url,
            "SERVER_NAME": "localhost",
            "INSTANCE_PATH": str(tmp_path / "memory"),
            "RATE_LIMIT_STORAGE": "memory",
            "SIGN_IN_LIMIT": 3,
        }
    )
    try:
        browser = FormClient(app)
        answers = [
            browser.submit("/sign-in", {"email": "nobody@example.org", "password": "wrong"}).status_code
            for _ in range(4)
        ]
        assert answers == [200, 200, 200, 429]
        from pb.db import session_scope

        with session_scope(app.extensions["pb_engine"], write=False) as session:
            assert session.exec(select(ThrottleAttempt)).all() == []  # nothing written to the database
    finally:
        app.extensions["pb_engine"].dispose()


def test_an_unknown_rate_limit_storage_is_refused_at_start(database_url, tmp_path):
    with pytest.raises(ValueError, match="RATE_LIMIT_STORAGE"):
        create_app(
            {
                "SECRET_KEY": "s" * 16 + "0123456789abcdef",
                "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(tmp_path / "x"),
                "RATE_LIMIT_STORAGE": "redis://localhost",
            }
        )
