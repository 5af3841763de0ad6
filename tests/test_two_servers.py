"""Two gunicorn servers (different ports, the same secret key) in front of one PostgreSQL
database, as behind a load balancer: ballots cast through either are counted once,
sessions made on one work on the other, and the sign-in limit counts attempts made on both.

This is about PostgreSQL (several servers sharing one SQLite file is not a deployment
pb supports), so it runs on PostgreSQL only, whatever the rest of the suite runs on.
"""

import itertools
import os
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from pb.config import Defaults
from pb.proposals.models import Project
from pb.results.models import ContestResult
from pb.rounds.models import Phase, Round
from pb.voting.models import Ballot, BallotChoice
from tests.conftest import BACKENDS
from tests.factories import let_voting_close, make_codes, make_round, open_voting
from tests.servers import Browser, Gunicorn, cast, prove_with_code, sign_in

pytestmark = pytest.mark.slow

LEAD = "lead@council.example"
PASSWORD = "correct horse battery"
_counter = itertools.count()


@pytest.fixture
def database_url(request):
    """A fresh PostgreSQL database from the migrated template (as conftest's database_url
    does), never SQLite: `app`, `db` and `make_user` use it."""
    if "postgresql" not in BACKENDS:
        pytest.skip("two servers share one PostgreSQL database; PB_TEST_BACKENDS leaves PostgreSQL out")
    server = request.getfixturevalue("postgres_server")
    name = f"pb_two_servers_{os.getpid()}_{next(_counter)}"
    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE pb_template"))
        yield server.url(name)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


@pytest.fixture
def servers(database_url, tmp_path):
    """Servers A and B: the same database and secret key, separate processes and ports."""
    pair = [
        Gunicorn(
            database_url=database_url,
            instance_path=str(tmp_path / f"served-{name}"),
            log_path=str(tmp_path / f"gunicorn-{name}.log"),
        )
        for name in "AB"
    ]
    try:
        for server in pair:
            server.launch()
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()
    for server in pair:
        assert "Traceback" not in server.log_text(), server.log_tail()


@pytest.fixture
def voting_round(app, db, make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    ids["codes"] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=30)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member="chair@park.example", group="Friends of the Park")
    with db(write=False) as session:
        ids["projects"] = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    return ids


def test_ballots_cast_through_both_servers_are_counted_once(app, db, voting_round, servers):
    ids = voting_round
    round_id, contest_id, projects = ids["round"], ids["contests"]["North"], ids["projects"]
    voters = 24
    casts: dict[int, list] = {n: [] for n in range(voters)}  # voter -> [(receipt, projects, port)]
    failures: list[str] = []

    def vote(n: int) -> None:
        # Voter n proves eligibility on one server (A for even n, B for odd), and casts
        # 1, 2 or 3 times, each time through the other server: every voter with more
        # than one cast replaces a ballot through the server they did not start on.
        home = servers[n % 2].port
        browser = Browser(home)
        try:
            token = prove_with_code(browser, round_id, ids["codes"][n])
            for k in range(1 + n % 3):
                port = servers[(n + k) % 2].port
                picks = projects[: 1 + (n + k) % len(projects)]
                response, receipt = cast(browser, round_id, contest_id, picks, token, port=port)
                if receipt is None:
                    failures.append(f"voter {n}, cast {k} on port {port}: {response.status} {response.body[:300]!r}")
                    return
                casts[n].append((receipt, picks, port))
                # The receipt page answers on both servers.
                for other in servers:
                    page = browser.get(f"/rounds/{round_id}/vote/receipt", port=other.port)
                    if page.status != 200 or receipt not in page.body:
                        failures.append(f"voter {n}: receipt {receipt} page on port {other.port}: {page.status}")
        except Exception as error:  # noqa: BLE001 (reported below, with the voter)
            failures.append(f"voter {n}: {error!r}")

    threads = [threading.Thread(target=vote, args=(n,)) for n in range(voters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "voters still casting after 120 s"
    assert not failures, "\n".join(failures)
    ports = {port for made in casts.values() for _r, _p, port in made}
    assert ports == {servers[0].port, servers[1].port}
    assert sum(len(made) > 1 and len({p for _r, _p2, p in made}) == 2 for made in casts.values()) >= voters // 2

    with db(write=False) as session:
        ballots = {b.receipt: b for b in session.exec(select(Ballot).where(Ballot.contest_id == contest_id))}
        chosen: dict[int, set] = {}
        for choice in session.exec(select(BallotChoice)):
            chosen.setdefault(choice.ballot_id, set()).add(choice.project_id)
    acknowledged = [(receipt, picks) for made in casts.values() for receipt, picks, _port in made]
    assert len(ballots) == len(acknowledged), "every cast, and only those, is stored"
    for receipt, picks in acknowledged:
        assert receipt in ballots, f"acknowledged ballot {receipt} is missing"
        assert chosen[ballots[receipt].id] == set(picks), receipt
    last = {made[-1][0] for made in casts.values()}
    current = {receipt for receipt, b in ballots.items() if b.is_current}
    assert current == last, "each voter's current ballot is their last one, wherever it was cast"
    assert len({ballots[r].voter_id for r in current}) == voters

    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        let_voting_close(session, round_)
        assert round_.phase == Phase.COUNTED.value
    with db(write=False) as session:
        results = {r.contest_id: r.ballots for r in session.exec(select(ContestResult))}
    print(
        f"\ntwo servers: {len(acknowledged)} ballots cast by {voters} voters through ports "
        f"{servers[0].port} and {servers[1].port}, counted {results.get(contest_id)}"
    )
    assert results.get(contest_id) == voters, results
    assert sum(results.values()) == voters, results


def test_a_session_made_on_one_server_works_on_the_other(voting_round, servers):
    a, b = servers
    ids = voting_round

    # An anchor lead signs in on A; B knows them.
    lead = Browser(a.port)
    response = sign_in(lead, LEAD, PASSWORD, port=a.port)
    assert response.status == 302, response.status
    assert response.location.endswith("/dashboard"), response.status
    page = lead.get("/dashboard", port=b.port)
    assert page.status == 200, page.status
    assert "Hello, Lena Lead" in page.body, page.status
    stranger = Browser(b.port).get("/dashboard", port=b.port)
    assert stranger.status == 302, "B must not let a stranger in"
    assert "/sign-in" in stranger.location, "B must not let a stranger in"
    # Signing out on B signs out on A too.
    token = lead.csrf_token("/dashboard", port=b.port)
    assert lead.post("/sign-out", {"csrf_token": token}, port=b.port).status == 302
    after = lead.get("/dashboard", port=a.port)
    assert after.status == 302
    assert "/sign-in" in after.location

    # A resident proves eligibility on A and casts on B; the receipt is known to A.
    resident = Browser(a.port)
    token = prove_with_code(resident, ids["round"], ids["codes"][0], port=a.port)
    ballot_page = resident.get(f"/rounds/{ids['round']}/vote/{ids['contests']['North']}", port=b.port)
    assert ballot_page.status == 200, ballot_page.status
    assert 'name="project"' in ballot_page.body, ballot_page.status
    response, receipt = cast(resident, ids["round"], ids["contests"]["North"], ids["projects"][:2], token, port=b.port)
    assert receipt, (response.status, response.location, response.body[:500])
    shown = resident.get(f"/rounds/{ids['round']}/vote/receipt", port=a.port)
    assert shown.status == 200
    assert receipt in shown.body


def test_the_sign_in_limit_counts_attempts_on_both_servers(make_user, servers):
    a, b = servers
    make_user("someone@example.org", name="Sam Someone")
    limit = Defaults.SIGN_IN_LIMIT
    browser = Browser(a.port)
    seen = []
    for attempt in range(limit):
        server = servers[attempt % 2]  # A, B, A, B...: each server sees only half of them
        response = sign_in(browser, "someone@example.org", "wrong password", port=server.port)
        seen.append(response.status)
        assert response.status == 200, (attempt, response.status)
        assert "do not match" in response.body, (attempt, response.status)
    # The limit is reached, though neither server alone saw that many attempts.
    for server in (a, b):
        response = sign_in(browser, "someone@example.org", "wrong password", port=server.port)
        assert response.status == 429, (server.port, response.status, seen)
        # Sign-in has slowed down on both servers: even the right password waits its turn.
        response = sign_in(browser, "someone@example.org", PASSWORD, port=server.port)
        assert response.status == 429, (server.port, response.status)
        assert "Too many wrong passwords: please wait" in response.body
    for server in (a, b):
        assert browser.get("/dashboard", port=server.port).status == 302, "nobody was signed in"
