"""Residents vote: eligibility methods, approval and ranked ballots, receipts, replacement,
refusal of every bad ballot, one current ballot under concurrency, and secrecy while open."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import func, select

from pb.proposals.models import Project
from pb.rounds.models import Contest, Round
from pb.voting import services
from pb.voting.models import Ballot, BallotChoice, EmailChallenge, Voter
from tests import factories
from tests.conftest import FormClient
from tests.factories import declare, make_round, open_voting, user
from tests.test_turnout import everyone  # noqa: F401 (a fixture)

PASSWORD = "correct horse battery"


@pytest.fixture
def voting(app, db, make_user):
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    make_user("helper@example.org", name="Hal Helper")
    ids = make_round(
        app,
        db,
        convener="lead@council.example",
        anchor="Eastshire Council",
        methods=("codes", "email", "declared", "paper"),
        south_ballot="ranked",
    )
    ids["codes"] = make_codes(app, db, ids, count=3)
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    with db() as session:
        ids["projects"] = {
            name: [p.id for p in session.exec(select(Project).where(Project.contest_id == cid).order_by(Project.id))]
            for name, cid in ids["contests"].items()
        }
    return ids


def make_codes(app, db, ids, area="North", count=3):
    return factories.make_codes(app, db, ids["round"], ids["areas"][area] if area else None, count=count)


def ballots_in(db, contest_id=None):
    with db() as session:
        query = select(Ballot)
        if contest_id:
            query = query.where(Ballot.contest_id == contest_id)
        return session.exec(query.order_by(Ballot.id)).all()


def choices_of(db, ballot_id):
    with db() as session:
        return {
            c.project_id: c.rank for c in session.exec(select(BallotChoice).where(BallotChoice.ballot_id == ballot_id))
        }


def enter_code(client, ids, code):
    return client.submit(f"/rounds/{ids['round']}/vote/code", {"code": code}, page=f"/rounds/{ids['round']}/vote")


def vote(client, ids, area, data):
    """Fill in a ballot paper, review it, and cast it; returns the final response."""
    url = f"/rounds/{ids['round']}/vote/{ids['contests'][area]}"
    review = client.submit(url, data)
    if review.status_code != 200 or "Check your vote" not in review.get_data(as_text=True):
        return review
    return client.submit(url, {**data, "confirm": "1"})


# ---------------------------------------------------------------- the happy paths


def test_a_resident_votes_with_a_code_and_gets_a_receipt(app, db, voting):
    code = voting["codes"][0]
    resident = FormClient(app)
    start = resident.get(f"/rounds/{voting['round']}/vote?code={code}").get_data(as_text=True)
    assert f'value="{code}"' in start  # the QR code's link fills the code in
    response = enter_code(resident, voting, code.lower().replace("-", " "))  # typed sloppily
    assert response.status_code == 302
    page = resident.get(response.headers["Location"]).get_data(as_text=True)
    assert "North ballot" in page
    assert "South ballot" not in page  # only their own area

    north = voting["projects"]["North"]
    ballot_page = resident.get(f"/rounds/{voting['round']}/vote/{voting['contests']['North']}").get_data(as_text=True)
    assert "Tick between 1 and 3 projects." in ballot_page
    assert "£50,000.00" in ballot_page
    review = resident.submit(f"/rounds/{voting['round']}/vote/{voting['contests']['North']}", {"project": north[:2]})
    assert review.status_code == 200
    assert "Check your vote" in review.get_data(as_text=True)
    assert ballots_in(db) == []  # nothing is stored until the voter confirms
    cast = resident.submit(
        f"/rounds/{voting['round']}/vote/{voting['contests']['North']}", {"project": north[:2], "confirm": "1"}
    )
    assert cast.status_code == 302
    [ballot] = ballots_in(db)
    assert ballot.is_current
    assert ballot.channel == "online"
    assert choices_of(db, ballot.id) == {north[0]: None, north[1]: None}
    receipt_page = resident.get(cast.headers["Location"]).get_data(as_text=True)
    assert ballot.receipt in receipt_page
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", ballot.receipt)
    # Another browser cannot see that receipt page.
    assert FormClient(app).get(cast.headers["Location"]).status_code == 404


def test_a_code_is_one_voter_who_may_come_back_and_change_their_vote(app, db, voting):
    code = voting["codes"][0]
    north = voting["projects"]["North"]
    first = FormClient(app)
    assert enter_code(first, voting, code).status_code == 302
    with db() as session:
        from pb.voting.models import VotingCode

        assert (
            session.exec(select(VotingCode).where(VotingCode.code_hash == services.code_hash(code))).one().used_at
            is None
        )
    assert vote(first, voting, "North", {"project": north[:1]}).status_code == 302
    first.submit(f"/rounds/{voting['round']}/vote/finish", {}, page=f"/rounds/{voting['round']}/vote/ballots")
    # Later, in another browser: the same code is the same voter, who changes their vote.
    again = FormClient(app)
    assert enter_code(again, voting, code).status_code == 302
    assert vote(again, voting, "North", {"project": north[1:3]}).status_code == 302
    with db() as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 1
        current = session.exec(select(Ballot).where(Ballot.is_current)).all()
        used = session.exec(select(VotingCode).where(VotingCode.code_hash == services.code_hash(code))).one().used_at
    assert len(current) == 1
    assert set(choices_of(db, current[0].id)) == set(north[1:3])
    assert used is not None
    assert (used.hour, used.minute, used.second) == (0, 0, 0)  # spent, and only the day is kept


def test_a_code_entered_and_abandoned_still_votes_later(app, db, voting):
    code = voting["codes"][1]
    scanner = FormClient(app)  # the in-app browser a QR scanner opened, closed before voting
    assert enter_code(scanner, voting, code).status_code == 302
    later = FormClient(app)
    assert enter_code(later, voting, code).status_code == 302
    assert vote(later, voting, "North", {"project": voting["projects"]["North"][:1]}).status_code == 302
    assert len(ballots_in(db)) == 1


def test_guessing_codes_is_stopped_but_never_shuts_out_a_right_code(app, db, voting):
    code = voting["codes"][0]
    guesser = FormClient(app)  # a library's shared address: one guesser, many residents
    for n in range(20):
        response = enter_code(guesser, voting, f"AAAA-BBBB-{n:04d}")
        assert response.status_code == 400
        assert "not right" in response.get_data(as_text=True)
    response = enter_code(guesser, voting, "AAAA-BBBB-CCCC")
    assert response.status_code == 400
    assert "Too many attempts" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 0
    # A resident at the same address with a valid, unused code gets in at once.
    assert enter_code(FormClient(app), voting, code).status_code == 302


def test_only_the_returning_officer_makes_codes_and_replacements_are_a_batch_of_their_own(app, db, voting, client):
    lead = FormClient(app)
    lead.sign_in("lead@council.example", PASSWORD)
    assert lead.get(f"/rounds/{voting['round']}/codes").status_code == 403
    assert (
        lead.submit(
            f"/rounds/{voting['round']}/codes",
            {"area": voting["areas"]["North"], "count": "5"},
            page=f"/rounds/{voting['round']}/manage",
        ).status_code
        == 403
    )
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    # During voting, codes made are replacements (a lost letter, a household missed).
    response = officer.submit(f"/rounds/{voting['round']}/codes", {"area": voting["areas"]["North"], "count": "2"})
    assert response.status_code == 200
    codes = re.findall(r'class="code">([0-9A-Z-]{14})<', response.get_data(as_text=True))
    assert len(set(codes)) == 2
    from pb.audit.models import AuditEvent
    from pb.voting.models import CodeBatch

    with db() as session:
        batch = session.exec(select(CodeBatch).order_by(CodeBatch.id.desc())).first()
        assert batch.replacement
        assert batch.size == 2
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "codes.replaced")).one()
        assert not any(code in event.data or services.normalise_code(code) in event.data for code in codes)
    resident = FormClient(app)
    assert enter_code(resident, voting, codes[0]).status_code == 302


def test_letters_before_voting_opens(app, db, make_user):
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council")
    with app.test_request_context(), db() as session:
        factories.officer(session, session.get(Round, ids["round"]), "lead@council.example")
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    response = officer.submit(f"/rounds/{ids['round']}/codes", {"area": ids["areas"]["North"], "count": "5"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    codes = re.findall(r'class="code">([0-9A-Z-]{14})<', page)
    assert len(set(codes)) == 5
    assert page.count("<svg") == 5
    letters = re.findall(r"Letter (\d+-\d{4})\.", page)
    assert len(set(letters)) == 5
    from pb.voting.models import CodeBatch, VotingCode

    with db() as session:
        assert not session.exec(select(CodeBatch)).one().replacement
        assert {c.letter for c in session.exec(select(VotingCode))} == set(letters)
    # Each QR code leads to the voting page with the code in the fragment, which browsers
    # never send (so no server or proxy log holds it): drawn again here from that link, the
    # letter's QR code is the same picture.
    import io

    import segno

    svgs = re.findall(r'<div class="qr">(.*?)</div>', page, re.S)
    for code, svg in zip(codes, svgs, strict=False):
        link = f"http://localhost/rounds/{ids['round']}/vote#code={code}"
        out = io.BytesIO()
        segno.make(link, error="m").save(out, kind="svg", scale=3, xmldecl=False, svgns=True, title="QR code to vote")
        assert svg == out.getvalue().decode()


def test_codes_are_printed_once_and_only_their_hashes_kept(app, db, make_user):
    """A batch's codes are on its letters page and nowhere else, ever: not on the codes page
    afterwards, not on the next batch's letters, not in any table. For each code the database
    keeps its SHA-256 (docs/security.md: unsalted, of the code's twelve symbols)."""
    import hashlib

    from sqlalchemy import inspect, text

    from pb.voting.models import VotingCode

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council")
    with app.test_request_context(), db() as session:
        factories.officer(session, session.get(Round, ids["round"]), "lead@council.example")
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    page = f"/rounds/{ids['round']}/codes"
    batch = {"area": ids["areas"]["North"], "count": "3"}
    first = officer.submit(page, batch).get_data(as_text=True)
    codes = re.findall(r'class="code">([0-9A-Z-]{14})<', first)
    letters = re.findall(r"Letter (\d+-\d{4})\.", first)
    assert len(set(codes)) == 3
    assert len(set(letters)) == 3
    assert [first.count(code) for code in codes] == [1, 1, 1]  # printed once, on its own letter
    # Never shown again: the codes page afterwards counts the batch, the next batch is new codes.
    afterwards = officer.get(page).get_data(as_text=True)
    assert afterwards.count('class="code"') == 0
    assert [code for code in codes if code in afterwards] == []
    second = officer.submit(page, batch).get_data(as_text=True)
    assert len(set(re.findall(r'class="code">([0-9A-Z-]{14})<', second))) == 3
    assert [code for code in codes if code in second] == []
    # Only hashes kept: each letter's row holds the SHA-256 of its code's symbols...
    with db(write=False) as session:
        stored = {row.letter: row.code_hash for row in session.exec(select(VotingCode))}
        engine = session.get_bind()
    assert {letter: stored[letter] for letter in letters} == {
        letter: hashlib.sha256(code.replace("-", "").encode("ascii")).hexdigest()
        for code, letter in zip(codes, letters, strict=True)
    }
    # ...and no column of any table in the database holds a code, however it is written.
    spellings = {
        form for code in codes for form in (code, code.replace("-", ""), code.lower(), code.replace("-", "").lower())
    }
    rows = {}
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            rows[table] = 0
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                rows[table] += 1
                cells = " ".join(str(value) for value in row)
                assert not [form for form in spellings if form in cells], (table, row)
    assert rows["voting_code"] == 6  # the scan read the codes' own rows


def test_email_one_time_code(app, db, voting):
    resident = FormClient(app)
    response = resident.submit(
        f"/rounds/{voting['round']}/vote/email",
        {"email": "Res@Example.org", "postcode": "ls11 2ab"},
        page=f"/rounds/{voting['round']}/vote",
    )
    assert response.status_code == 302
    mail = app.extensions["pb_outbox"][-1]
    assert mail.to == "res@example.org"
    code = re.search(r"\b(\d{6})\b", mail.body).group(1)
    # The code is bound to this attempt: another browser cannot use it.
    other = FormClient(app)
    attempt = other.submit(
        f"/rounds/{voting['round']}/vote/email/code", {"code": code}, page=f"/rounds/{voting['round']}/vote"
    )
    assert attempt.status_code == 400
    response = resident.submit(f"/rounds/{voting['round']}/vote/email/code", {"code": code})
    assert response.status_code == 302
    page = resident.get(f"/rounds/{voting['round']}/vote/ballots").get_data(as_text=True)
    assert "South ballot" in page  # LS11 is in South
    # Coming back by email later finds the same voter, who may replace their ballot.
    with db() as session:
        voter = session.exec(select(Voter)).one()
        assert voter.method == "email"
        assert "example.org" not in voter.identity


def test_email_code_tries_expiry_and_rate_limits(app, db, voting):
    resident = FormClient(app)
    start = f"/rounds/{voting['round']}/vote"
    resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start)
    code = re.search(r"\b(\d{6})\b", app.extensions["pb_outbox"][-1].body).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1, 0):
        response = resident.submit(f"{start}/email/code", {"code": wrong})
        assert response.status_code == 400
        assert f"{left} {'try' if left == 1 else 'tries'} left" in response.get_data(as_text=True)
    response = resident.submit(f"{start}/email/code", {"code": code})
    assert response.status_code == 400
    assert "Too many wrong codes" in response.get_data(as_text=True)

    # A new code, let expire.
    resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start)
    code = re.search(r"\b(\d{6})\b", app.extensions["pb_outbox"][-1].body).group(1)
    with db() as session:
        for challenge in session.exec(select(EmailChallenge)):
            challenge.created_at -= timedelta(minutes=11)
            session.add(challenge)
    response = resident.submit(f"{start}/email/code", {"code": code})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)

    # At most three codes per address per quarter hour.
    response = resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start)
    assert response.status_code == 302
    response = resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start)
    assert response.status_code == 400
    assert "Too many attempts" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 0


def test_a_declared_identity_is_checked_for_what_the_round_asks(app, db, voting):
    start = f"/rounds/{voting['round']}/vote"
    resident = FormClient(app)
    page = resident.get(start).get_data(as_text=True)
    assert "Your full name" in page
    assert "First line of your address" in page
    assert "Year you were born" not in page
    response = declare(resident, voting["round"], "LS6 1AA", declaration="")
    assert response.status_code == 400
    assert "Please confirm the declaration." in response.get_data(as_text=True)
    response = declare(resident, voting["round"], "LS6 1AA", address="")
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)
    response = declare(resident, voting["round"], "LS6")
    assert response.status_code == 400
    assert "Enter a full postcode, like LS6 1AA." in response.get_data(as_text=True)
    response = declare(resident, voting["round"], "M1 1AA")
    assert response.status_code == 400
    assert "not in any of this round" in response.get_data(as_text=True)
    response = declare(resident, voting["round"], "LS12 1AA")
    assert response.status_code == 400  # LS12 is not LS1-anything of ours: no prefix confusion
    with db(write=False) as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 0
    assert declare(resident, voting["round"], "ls61aa").status_code == 302
    assert "North ballot" in resident.get(f"{start}/ballots").get_data(as_text=True)


def test_the_same_declared_identity_twice_gives_one_current_ballot(app, db, voting):
    """Done-when: the same person declaring again (another browser, typed differently) is
    the same voter, whose second ballot replaces the first; a different person is not."""
    from pb.voting.models import Declaration

    north = voting["projects"]["North"]
    first = FormClient(app)
    assert declare(first, voting["round"], "LS6 1AA", name="Ann O'Neill", address="12 High St.").status_code == 302
    assert vote(first, voting, "North", {"project": [north[0]]}).status_code == 302
    [earlier] = ballots_in(db)
    again = FormClient(app)  # another phone, later, typed another way
    assert (
        declare(again, voting["round"], "ls6 1aa", name="  ann  oneill ", address="12 high street").status_code == 302
    )
    # Whoever declares a resident's details may be someone else: they see neither whether
    # nor how that resident voted.
    page = again.get(f"/rounds/{voting['round']}/vote/ballots").get_data(as_text=True)
    assert "Vote on this ballot paper" in page
    assert "Change my vote" not in page
    assert earlier.receipt not in page
    ballot_page = again.get(f"/rounds/{voting['round']}/vote/{voting['contests']['North']}").get_data(as_text=True)
    assert not re.search(r"\bchecked\b", ballot_page)
    assert vote(again, voting, "North", {"project": [north[1]]}).status_code == 302
    assert "Change my vote" in again.get(f"/rounds/{voting['round']}/vote/ballots").get_data(as_text=True)
    neighbour = FormClient(app)
    assert (
        declare(neighbour, voting["round"], "LS6 1AA", name="Ann O'Neill", address="14 High Street").status_code == 302
    )
    assert vote(neighbour, voting, "North", {"project": [north[2]]}).status_code == 302
    with db(write=False) as session:
        voters = session.exec(select(Voter).where(Voter.round_id == voting["round"])).all()
        assert len(voters) == 2
        assert {v.method for v in voters} == {"declared"}
        current = session.exec(select(Ballot).where(Ballot.is_current)).all()
        assert len(current) == 2
        assert {tuple(choices_of(db, b.id)) for b in current} == {(north[1],), (north[2],)}
        assert len(session.exec(select(Ballot)).all()) == 3  # the first ballot is kept, replaced
        assert sorted(d.address for d in session.exec(select(Declaration))) == ["12 High St.", "14 High Street"]
        # The identity is a keyed hash: neither the name nor the address is in it.
        assert all(len(v.identity) == 64 and "oneill" not in v.identity.lower() for v in voters)


def test_a_round_that_asks_for_a_year_of_birth_refuses_the_too_young(app, db, make_user):
    from pb.clock import today

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("declared",))
    with db() as session:
        round_ = session.get(Round, ids["round"])
        round_.declared_fields, round_.minimum_age = "name,birth_year", 16
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    resident = FormClient(app)
    page = resident.get(f"/rounds/{ids['round']}/vote").get_data(as_text=True)
    assert "Year you were born" in page
    assert "First line of your address" not in page
    this_year = today().year
    for year, message in (
        ("", "Enter the year you were born, like 1980."),
        ("nineteen", "Not a valid integer value."),
        (str(this_year + 1), "Enter the year you were born, like 1980."),
        (str(this_year - 10), "You must be 16 or older to vote in this round."),
    ):
        response = declare(resident, ids["round"], "LS6 1AA", birth_year=year)
        assert response.status_code == 400, year
        assert message in response.get_data(as_text=True), year
    with db(write=False) as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 0
    assert declare(resident, ids["round"], "LS6 1AA", name="Kit", birth_year=str(this_year - 16)).status_code == 302
    again = FormClient(app)  # the same name and postcode, another year: another person
    assert declare(again, ids["round"], "LS6 1AA", name="Kit", birth_year=str(this_year - 40)).status_code == 302
    with db(write=False) as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 2


def test_declarations_are_limited_per_client_but_a_returning_declarer_is_not_shut_out(app, db, voting):
    resident = FormClient(app)
    assert declare(resident, voting["round"], "LS6 1AA", name="Rita Returns").status_code == 302
    for _ in range(app.config["DECLARATIONS_PER_HOUR"] - 1):
        assert declare(resident, voting["round"], "LS6 1AA").status_code == 302
    response = declare(resident, voting["round"], "LS6 1AA")
    assert response.status_code == 429
    assert "Too many people have voted from this connection" in response.get_data(as_text=True)
    with db(write=False) as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == app.config["DECLARATIONS_PER_HOUR"]
    # Someone who declared before, from the same library, can still come back to change their vote.
    assert declare(FormClient(app), voting["round"], "LS6 1AA", name="Rita Returns").status_code == 302
    # From another address the same round still takes declarations; an IPv6 client counts by its /64.
    elsewhere = FormClient(app)
    elsewhere.http.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    assert declare(elsewhere, voting["round"], "LS6 1AA").status_code == 302
    for n in range(app.config["DECLARATIONS_PER_HOUR"]):
        phone = FormClient(app)
        phone.http.environ_base["REMOTE_ADDR"] = f"2001:db8:1:2::{n + 1:x}"
        assert declare(phone, voting["round"], "LS6 1AA").status_code == 302
    phone = FormClient(app)
    phone.http.environ_base["REMOTE_ADDR"] = "2001:db8:1:2:ffff::1"  # the same /64
    assert declare(phone, voting["round"], "LS6 1AA").status_code == 429


def test_a_burst_of_declarations_cannot_outrun_the_limit(app, db, voting):
    """Thirty new identities declared at the same moment from one address: the limit holds
    (the count is serialised per client, on PostgreSQL by an advisory lock)."""
    burst = 30
    clients = [FormClient(app) for _ in range(burst)]
    tokens = [client.csrf_token(f"/rounds/{voting['round']}/vote") for client in clients]
    barrier, statuses = threading.Barrier(burst), []

    def declare_at_once(n):
        data = {
            "name": f"Burst {n}",
            "address": "1 High Street",
            "postcode": "LS6 1AA",
            "declaration": "y",
            "csrf_token": tokens[n],
        }
        barrier.wait()
        statuses.append(clients[n].http.post(f"/rounds/{voting['round']}/vote/declare", data=data).status_code)

    threads = [threading.Thread(target=declare_at_once, args=(n,)) for n in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limit = app.config["DECLARATIONS_PER_HOUR"]
    assert sorted(statuses) == [302] * limit + [429] * (burst - limit)
    with db(write=False) as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == limit


def test_whoever_declares_a_residents_details_learns_nothing_of_their_vote(app, db, voting):
    """An impostor who declared a resident's details first and keeps that browser open, or
    sends an old confirmation again from a new one, sees neither whether nor how the resident voted."""
    north = voting["projects"]["North"]
    ann = {"name": "Ann Other", "address": "3 Mill Lane"}
    impostor = FormClient(app)
    assert declare(impostor, voting["round"], "LS6 1AA", **ann).status_code == 302
    url = f"/rounds/{voting['round']}/vote/{voting['contests']['North']}"
    review = impostor.submit(url, {"project": [north[0]]}).get_data(as_text=True)
    submission = re.search(r'name="submission" value="([^"]+)"', review).group(1)
    assert impostor.submit(url, {"project": [north[0]], "confirm": "1", "submission": submission}).status_code == 302
    resident = FormClient(app)  # Ann herself, later, on her own phone: her ballot replaces the impostor's
    assert declare(resident, voting["round"], "LS6 1AA", **ann).status_code == 302
    assert vote(resident, voting, "North", {"project": [north[2]]}).status_code == 302
    ann_receipt = next(b.receipt for b in ballots_in(db) if b.is_current)
    # The impostor's open browser: their own ballot is gone from view, Ann's never shows.
    page = impostor.get(f"/rounds/{voting['round']}/vote/ballots").get_data(as_text=True)
    assert "Change my vote" not in page
    assert ann_receipt not in page
    assert not re.search(r"\bchecked\b", impostor.get(url).get_data(as_text=True))
    # The old confirmation sent again, from that browser or a fresh one: no receipt of Ann's.
    fresh = FormClient(app)
    assert declare(fresh, voting["round"], "LS6 1AA", **ann).status_code == 302
    for browser in (impostor, fresh):
        token = browser.csrf_token(f"/rounds/{voting['round']}/vote/ballots")
        replay = browser.post(
            url, data={"project": [str(north[0])], "confirm": "1", "submission": submission, "csrf_token": token}
        )
        assert replay.status_code == 302
        assert replay.headers["Location"].endswith("/vote/ballots")
        page = browser.get(replay.headers["Location"]).get_data(as_text=True)
        assert "That vote was already sent." in page
        assert ann_receipt not in page
    assert [b.receipt for b in ballots_in(db) if b.is_current] == [ann_receipt]  # the replay cast nothing


def test_a_name_or_address_of_punctuation_alone_is_refused(app, db, voting):
    resident = FormClient(app)
    for fields in ({"name": "..."}, {"name": "\u200b\u202e"}, {"address": "-,-"}):
        response = declare(resident, voting["round"], "LS6 1AA", **fields)
        assert response.status_code == 400, fields
    with db(write=False) as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 0


def test_ranked_ballot_without_javascript(app, db, voting):
    resident = FormClient(app)
    assert declare(resident, voting["round"], "LS11 9ZZ").status_code == 302
    south = voting["projects"]["South"]
    page = resident.get(f"/rounds/{voting['round']}/vote/{voting['contests']['South']}").get_data(as_text=True)
    assert "Rank up to 3 projects" in page
    assert f'name="rank_{south[0]}"' in page
    response = vote(resident, voting, "South", {f"rank_{south[2]}": "1", f"rank_{south[0]}": "2"})
    assert response.status_code == 302
    [ballot] = ballots_in(db)
    assert choices_of(db, ballot.id) == {south[2]: 1, south[0]: 2}


def test_approval_ballot_page_carries_the_running_total_enhancement(app, db, make_user):
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(
        app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("declared",), north_limit=True
    )
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    resident = FormClient(app)
    assert declare(resident, ids["round"], "LS6 1AA").status_code == 302
    page = resident.get(f"/rounds/{ids['round']}/vote/{ids['contests']['North']}").get_data(as_text=True)
    assert 'data-limit="yes"' in page
    assert 'data-cost="1200000"' in page
    assert "ballot.js" in page
    assert "must not cost more than" in page


def test_replacing_a_ballot_keeps_only_the_latest(app, db, voting):
    resident = FormClient(app)
    assert declare(resident, voting["round"], "LS6 1AA").status_code == 302
    north = voting["projects"]["North"]
    assert vote(resident, voting, "North", {"project": [north[0]]}).status_code == 302
    page = resident.get(f"/rounds/{voting['round']}/vote/{voting['contests']['North']}").get_data(as_text=True)
    assert re.search(rf'value="{north[0]}" data-cost="\d+"\s+checked', page)  # the ballot shows the current choices
    assert vote(resident, voting, "North", {"project": [north[1], north[2]]}).status_code == 302
    first, second = ballots_in(db)
    assert not first.is_current
    assert first.superseded_at is not None
    assert second.is_current
    assert choices_of(db, second.id) == {north[1]: None, north[2]: None}
    assert first.receipt != second.receipt


# ---------------------------------------------------------------- bad ballots


def declared_voter(app, voting, postcode="LS6 1AA"):
    resident = FormClient(app)
    assert declare(resident, voting["round"], postcode).status_code == 302
    return resident


@pytest.mark.parametrize(
    "area,make_data,message",
    [
        ("North", lambda p: {"project": ["999999"]}, "not on this ballot paper"),
        ("North", lambda p: {"project": [p["South"][0]]}, "not on this ballot paper"),
        ("North", lambda p: {"project": [p["North"][0], p["North"][0]]}, "each project only once"),
        ("North", lambda p: {}, "at least 1"),
        ("North", lambda p: {"project": [*p["North"][:3], p["North"][0]]}, "each project only once"),
        ("North", lambda p: {"project": ["abc"]}, "not on this ballot paper"),
        ("South", lambda p: {f"rank_{p['South'][0]}": "1", f"rank_{p['South'][1]}": "1"}, "each rank to one project"),
        ("South", lambda p: {f"rank_{p['South'][0]}": "4"}, "Ranks go from 1 to 3"),
        ("South", lambda p: {f"rank_{p['South'][0]}": "first"}, "Ranks go from 1 to 3"),
        ("South", lambda p: {f"rank_{p['South'][0]}": "2"}, "without gaps"),
        ("South", lambda p: {}, "Rank at least one"),
    ],
)
def test_bad_ballots_are_refused_and_store_nothing(app, db, voting, area, make_data, message):
    resident = declared_voter(app, voting, "LS6 1AA" if area == "North" else "LS11 1AA")
    data = make_data(voting["projects"])
    for step in ({}, {"confirm": "1"}):  # refused at review, and when cast directly
        response = resident.submit(f"/rounds/{voting['round']}/vote/{voting['contests'][area]}", {**data, **step})
        assert response.status_code == 400, response.status_code
        assert message in response.get_data(as_text=True)
    assert ballots_in(db) == []


def test_too_many_picks_and_over_budget_are_refused(app, db, voting):
    with app.test_request_context(), db() as session:
        contest = session.get(Contest, voting["contests"]["North"])
        voter = Voter(round_id=voting["round"], area_id=voting["areas"]["North"], method="declared", identity="x" * 32)
        session.add(voter)
        session.flush()
        north = voting["projects"]["North"]
        # Direct edits, as the frozen round's pages would refuse them.
        session.exec(update(Project).where(Project.id == north[0]).values(cost=49_000_00))
        contest.max_picks = 2
        with pytest.raises(services.VotingError, match="at most 2"):
            services.cast_ballot(session, voter, contest, {pid: None for pid in north})
        contest.max_picks, contest.limit_to_budget = 3, True
        with pytest.raises(services.VotingError, match="cost more than the budget"):
            services.cast_ballot(session, voter, contest, {north[0]: None, north[1]: None})
        session.rollback()
    assert ballots_in(db) == []


def test_a_ballot_for_another_areas_contest_is_refused(app, db, voting):
    resident = declared_voter(app, voting, "LS6 1AA")  # North
    url = f"/rounds/{voting['round']}/vote/{voting['contests']['South']}"
    assert resident.get(url).status_code == 403
    token = resident.csrf_token(f"/rounds/{voting['round']}/vote/ballots")
    south = voting["projects"]["South"]
    assert resident.post(url, data={f"rank_{south[0]}": "1", "confirm": "1", "csrf_token": token}).status_code == 403
    assert ballots_in(db) == []


def test_casting_after_close_and_before_open_is_refused(app, db, voting):
    resident = declared_voter(app, voting)
    north = voting["projects"]["North"]
    with db() as session:
        round_ = session.get(Round, voting["round"])
        round_.voting_closes_at = round_.voting_opens_at = None
        round_.phase = "closed"
        session.add(round_)
    response = vote(resident, voting, "North", {"project": [north[0]]})
    assert response.status_code == 409
    assert "closed" in response.get_data(as_text=True)
    with db() as session:
        round_ = session.get(Round, voting["round"])
        round_.phase = "screening"
        session.add(round_)
    response = vote(resident, voting, "North", {"project": [north[0]]})
    assert response.status_code == 409
    assert "not opened yet" in response.get_data(as_text=True)
    assert ballots_in(db) == []


# ---------------------------------------------------------------- paper ballots


def test_paper_ballots_use_codes_once(app, db, make_user):
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    make_user("helper@example.org", name="Hal Helper")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("codes", "paper"))
    codes = make_codes(app, db, ids, count=2)
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    lead = FormClient(app)
    lead.sign_in("lead@council.example", PASSWORD)
    helper = FormClient(app)
    helper.sign_in("helper@example.org", PASSWORD)
    paper = f"/rounds/{ids['round']}/paper"
    assert helper.get(paper).status_code == 403
    assert lead.get(f"/rounds/{ids['round']}/helpers").status_code == 403  # the returning officer appoints helpers
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    assert officer.submit(f"/rounds/{ids['round']}/helpers", {"email": "helper@example.org"}).status_code == 302

    assert helper.submit(paper, {"code": codes[0]}).status_code == 302
    with db() as session:
        north = [p.id for p in session.exec(select(Project).where(Project.contest_id == ids["contests"]["North"]))]
    assert "entering a paper ballot" in helper.get(f"/rounds/{ids['round']}/vote/ballots").get_data(as_text=True)
    assert vote(helper, ids, "North", {"project": north[:1]}).status_code == 302
    [ballot] = ballots_in(db)
    assert ballot.channel == "paper"
    # The same code is the same voter, on paper or online: a second paper ballot replaces the first.
    assert helper.submit(paper, {"code": codes[0]}).status_code == 302
    assert vote(helper, ids, "North", {"project": north[1:2]}).status_code == 302
    assert [b.channel for b in ballots_in(db) if b.is_current] == ["paper"]
    assert len(ballots_in(db)) == 2
    # A resident cannot enter paper ballots.
    resident = FormClient(app)
    resident.get("/")
    assert resident.get(paper).status_code == 302  # sent to sign in


def appoint_helper(app, round_id, email="helper@example.org"):
    """The returning officer appoints a polling helper; returns the helper, signed in."""
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    assert officer.submit(f"/rounds/{round_id}/helpers", {"email": email}).status_code == 302
    helper = FormClient(app)
    helper.sign_in(email, PASSWORD)
    return helper


def test_a_polling_helper_sees_the_paper_never_the_ballot_cast_online_with_its_code(app, db, voting):
    """A resident who voted online with their letter's code then hands in a paper ballot
    with it: the helper who types the code in sees neither the online ballot's ticks nor
    its receipt, and the paper replaces it, as a later ballot does. The resident's own
    browser still shows them their ballot."""
    code, north = voting["codes"][0], voting["projects"]["North"]
    base, url = f"/rounds/{voting['round']}", f"/rounds/{voting['round']}/vote/{voting['contests']['North']}"
    resident = FormClient(app)
    assert enter_code(resident, voting, code).status_code == 302
    assert vote(resident, voting, "North", {"project": north[1:3]}).status_code == 302
    [online] = ballots_in(db)
    assert online.receipt in resident.get(f"{base}/vote/ballots").get_data(as_text=True)
    assert len(re.findall(r"\bchecked\b", resident.get(url).get_data(as_text=True))) == 2

    helper = appoint_helper(app, voting["round"])
    assert helper.submit(f"{base}/paper", {"code": code}).status_code == 302
    for page in (f"{base}/vote", f"{base}/vote/ballots", url):
        shown = helper.get(page).get_data(as_text=True)
        assert online.receipt not in shown, page
        assert "Change my vote" not in shown, page
        assert not re.search(r"\bchecked\b", shown), page
    assert vote(helper, voting, "North", {"project": north[:1]}).status_code == 302
    [paper] = [b for b in ballots_in(db) if b.is_current]
    assert (paper.channel, choices_of(db, paper.id)) == ("paper", {north[0]: None})  # the paper replaced it
    # The helper sees the paper they entered, and only that.
    assert re.findall(r'name="project" value="(\d+)"[^>]*\schecked', helper.get(url).get_data(as_text=True)) == [
        str(north[0])
    ]
    assert online.receipt not in helper.get(f"{base}/vote/ballots").get_data(as_text=True)
    # The resident, in their own browser, sees the ballot that now counts.
    assert paper.receipt in resident.get(f"{base}/vote/ballots").get_data(as_text=True)


# ---------------------------------------------------------------- integrity and secrecy


def test_fifty_concurrent_casts_by_one_voter_leave_one_current_ballot(app, db, voting):
    with db() as session:
        voter = Voter(round_id=voting["round"], area_id=voting["areas"]["North"], method="declared", identity="c" * 32)
        session.add(voter)
        session.flush()
        voter_id = voter.id
    north = voting["projects"]["North"]
    errors, barrier = [], threading.Barrier(50)

    def cast(n):
        try:
            barrier.wait()
            with app.test_request_context(), db() as session:
                services.cast_ballot(
                    session,
                    session.get(Voter, voter_id),
                    session.get(Contest, voting["contests"]["North"]),
                    {north[n % 3]: None},
                )
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=cast, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = ballots_in(db)
    assert len(stored) == 50
    assert sum(b.is_current for b in stored) == 1


def without_tokens(text):
    """A page less its CSRF tokens, which are new in each session (and nothing else)."""
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*" name="csrf_token"', "", text)


# Routes of the app that the secrecy tests do not ask for, and why: each needs a secret sent
# to one person or a thing that does not exist while voting is open. Every other GET route is
# asked for by every role, with the ids below filled in.
NOT_ASKED = {
    "accounts.finish_sign_up": "a sign-up token, mailed to one address",
    "accounts.reset_password": "a password reset token, mailed to one address",
    "groups.accept": "an invitation token, mailed to one address",
    "notices.confirm": "a news subscription token, mailed to one address",
    "notices.stop": "a news unsubscription token, mailed to one address",
    "delivery.photo": "a delivery update's photo: no project has delivery updates while voting is open",
    "static": "files on disk, the same for everyone",
}


def every_page(app, ids):
    """Every GET route of the app with each id it takes filled in from the round (the
    council for an organisation, and the group for a group's page)."""
    from pb.accounts.models import Organisation
    from pb.clock import now
    from pb.db import session_scope
    from pb.questions.models import ProposalQuestion
    from pb.rounds.models import Pot

    with session_scope(app.extensions["pb_engine"], write=True) as session:
        # A resident's question, asked before voting opened, so that its pages have an id.
        question = ProposalQuestion(proposal_id=ids["proposals"][0], text="Is it step-free?", confirmed_at=now())
        session.add(question)
        session.flush()
        council = session.exec(select(Organisation.id).where(Organisation.name == "Eastshire Council")).one()
        group = session.exec(select(Organisation.id).where(Organisation.name == "Friends of the Park")).one()
        pot = session.exec(select(Pot.id).where(Pot.contest_id == ids["contests"]["North"])).first()
    values = {
        "round_id": ids["round"],
        "proposal_id": ids["proposals"][0],
        "contest_id": ids["contests"]["North"],
        "area_id": ids["areas"]["North"],
        "pot_id": pot,
        "project_id": ids["projects"]["North"][0],
        "organisation_id": council,
        "question_id": question.id,
        "action": "hide",
        "part": "question",
    }
    urls, asked = [], set()
    with app.test_request_context():
        from flask import url_for

        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_ASKED:
                continue
            needed = set(rule.arguments) - set(rule.defaults or {})
            assert needed <= set(values), (
                f"{rule.endpoint} ({rule.rule}) needs {needed - set(values)}: fill it or say why not"
            )
            urls.append(url_for(rule.endpoint, **{name: values[name] for name in needed}, _external=False))
            if rule.endpoint == "groups.show":
                urls.append(url_for(rule.endpoint, organisation_id=group, _external=False))
            asked.add(rule.endpoint)
    assert not set(NOT_ASKED) & asked
    assert set(NOT_ASKED) <= {rule.endpoint for rule in app.url_map.iter_rules()}, "a route in NOT_ASKED is gone"
    return urls


# The one other thing found to differ between two requests for the same page: the audit
# log's export says when it was exported (the time of the request, to the second), which
# changes with the clock, not with anything cast.
EXPORTED_AT = re.compile(r'"exported_at":"[^"]*"')


def snapshot(clients, urls):
    """What each role gets for each page: status, where a redirect goes, and the body
    less its CSRF tokens (and the audit export's time of export)."""
    taken = {}
    for role, client in clients.items():
        for url in urls:
            with client.get(url) as response:  # closes a file sent from disk (the favicon)
                taken[(role, url)] = (
                    response.status_code,
                    response.headers.get("Location"),
                    EXPORTED_AT.sub("", without_tokens(response.get_data(as_text=True))),
                )
    return taken


def differences(before, after):
    return sorted(key for key in before if before[key] != after[key])


def secrecy_clients(app):
    from tests.factories import OFFICER
    from tests.test_turnout import LEAD, PARTNER, SCREENER, signed_in

    return {
        "public": FormClient(app),
        "lead": signed_in(app, LEAD),
        "partner": signed_in(app, PARTNER),
        "officer": signed_in(app, OFFICER),
        "screener": signed_in(app, SCREENER),
    }


def turnout_pages(everyone):
    return {f"/rounds/{everyone['round']}/turnout"}


def test_no_page_changes_when_ballots_are_cast(app, db, everyone):
    """Secrecy while open: if any page showed a count of ballots or votes, casting would
    change it. Every GET page of the app, as the public, the convening lead, a partner's lead,
    the returning officer and a community reviewer. Only the turnout page changes: a voter
    counts there once they have cast a ballot (that is its job; voters, never votes)."""
    from tests.test_turnout import declared, with_code

    ids, north, south = everyone, everyone["projects"]["North"], everyone["projects"]["South"]
    # Residents prove they may vote first: what that changes (the returning officer's list of
    # declarations to check against the register) is not a count of ballots.
    residents = [declared(app, ids, "LS6 1AA"), declared(app, ids, "LS6 2BB"), with_code(app, ids, ids["codes"][0])]
    southerner = declared(app, ids, "LS11 1AA")
    clients = secrecy_clients(app)
    urls = every_page(app, ids)
    before = snapshot(clients, urls)
    for n, resident in enumerate(residents):
        assert vote(resident, ids, "North", {"project": north[: n + 1]}).status_code == 302
    assert vote(southerner, ids, "South", {f"rank_{south[1]}": "1"}).status_code == 302
    changed = differences(before, snapshot(clients, urls))
    turnout = turnout_pages(ids)
    assert [key for key in changed if key[1] not in turnout] == []
    assert {("lead", url) for url in turnout} <= set(changed)  # the turnout page did its job


def test_no_page_changes_when_paper_ballots_are_entered(app, db, everyone, make_user):
    """The same for paper ballots a polling helper enters, the audit log included (its
    page and both exports): while voting is open nothing counts or times them, except the
    turnout page counting their voters."""
    ids, north = everyone, everyone["projects"]["North"]
    make_user("helper@example.org", name="Hal Helper")
    helper = appoint_helper(app, ids["round"])
    clients = secrecy_clients(app)
    urls = every_page(app, ids)
    audit = [f"/rounds/{ids['round']}/audit{end}" for end in ("", ".jsonl", ".csv")]
    assert set(audit) <= set(urls)
    before = snapshot(clients, urls)
    for code, project in zip(ids["codes"][1:], north, strict=False):
        assert helper.submit(f"/rounds/{ids['round']}/paper", {"code": code}).status_code == 302
        assert vote(helper, ids, "North", {"project": [project]}).status_code == 302
    assert [b.channel for b in ballots_in(db)] == ["paper", "paper"]
    changed = differences(before, snapshot(clients, urls))
    turnout = turnout_pages(ids)
    assert [key for key in changed if key[1] not in turnout] == []
    assert {("lead", url) for url in turnout} <= set(changed)


def test_the_same_voters_casting_other_choices_change_no_page_at_all(app, db, everyone):
    """Two sets of ballots by the same voters (same areas, same ways of proving) but with
    other choices give byte-identical pages everywhere, the turnout page included: each
    voter replaces every ballot with a different one, and nothing any role sees changes."""
    from tests.test_turnout import declared, with_code

    ids, north, south = everyone, everyone["projects"]["North"], everyone["projects"]["South"]
    residents = [declared(app, ids, "LS6 1AA"), declared(app, ids, "LS6 2BB"), with_code(app, ids, ids["codes"][0])]
    southerner = declared(app, ids, "LS11 1AA")
    for n, resident in enumerate(residents):
        assert vote(resident, ids, "North", {"project": north[: n + 1]}).status_code == 302
    assert vote(southerner, ids, "South", {f"rank_{south[0]}": "1", f"rank_{south[1]}": "2"}).status_code == 302
    clients = secrecy_clients(app)
    urls = every_page(app, ids)
    before = snapshot(clients, urls)
    for n, resident in enumerate(residents):
        assert vote(resident, ids, "North", {"project": north[n + 1 :] or north[:1]}).status_code == 302
    assert vote(southerner, ids, "South", {f"rank_{south[2]}": "1"}).status_code == 302
    assert differences(before, snapshot(clients, urls)) == []


def test_every_id_on_the_start_page_is_unique_with_every_method_offered(app, db, make_user):
    """A label names its field by id: two fields with one id (every form's CSRF field, or a
    postcode asked for by two methods) and the label focuses the wrong one."""
    from collections import Counter
    from html.parser import HTMLParser

    from pb.rounds.models import EligibilityMethod

    class Ids(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.labelled = [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "id" in attrs:
                self.ids.append(attrs["id"])
            if tag == "label" and "for" in attrs:
                self.labelled.append(attrs["for"])

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    every = [method.value for method in EligibilityMethod]
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=every)
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    start = f"/rounds/{ids['round']}/vote"
    resident = FormClient(app)
    pages = [resident.get(start)]
    # Refused forms too: their error messages and summaries carry ids of their own.
    for method, url, data in (
        ("email", "email", {"email": "nobody"}),
        ("sms", "sms", {"mobile": "12"}),
        ("declared", "declare", {"postcode": "x"}),
        ("codes", "code", {"code": ""}),
    ):
        if method in every:
            pages.append(resident.submit(f"{start}/{url}", data, page=start))
    for page in pages:
        parsed = Ids()
        parsed.feed(page.get_data(as_text=True))
        repeated = [name for name, count in Counter(parsed.ids).items() if count > 1]
        assert repeated == [], f"ids used more than once on the start page: {repeated}"
        assert set(parsed.labelled) <= set(parsed.ids)  # every label names a field that is there


# ---------------------------------------------------------------- one-time codes by text message

MOBILE = "+447700900123"


@pytest.fixture
def texting(app, db, make_user):
    """A round in voting where residents prove eligibility by a code sent by text message (or email)."""
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(
        app,
        db,
        convener="lead@council.example",
        anchor="Eastshire Council",
        methods=("sms", "email"),
        south_ballot="ranked",
    )
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    with db() as session:
        ids["projects"] = {
            name: [p.id for p in session.exec(select(Project).where(Project.contest_id == cid).order_by(Project.id))]
            for name, cid in ids["contests"].items()
        }
    return ids


def ask_for_text(client, ids, mobile, postcode="LS11 2AB"):
    start = f"/rounds/{ids['round']}/vote"
    return client.submit(f"{start}/sms", {"mobile": mobile, "postcode": postcode}, page=start)


def texted_code(app, number=MOBILE) -> str:
    [text] = [m for m in app.extensions["pb_outbox"] if m.to == number][-1:]
    assert text.channel == "sms"
    assert len(text.body) <= 160  # one text message
    return re.search(r"\b(\d{6})\b", text.body).group(1)


def test_a_resident_votes_with_a_code_sent_by_text_message(app, db, texting):
    resident = FormClient(app)
    start = f"/rounds/{texting['round']}/vote"
    page = resident.get(start).get_data(as_text=True)
    assert "Vote with your mobile phone" in page
    assert 'type="tel"' in page
    response = ask_for_text(resident, texting, "07700 900123", postcode="ls11 2ab")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/vote/sms/code")
    code = texted_code(app)
    with db() as session:
        [challenge] = session.exec(select(EmailChallenge)).all()
        assert (challenge.channel, challenge.email) == ("sms", MOBILE)
    # The code is bound to this attempt: another browser, or the email code page, cannot use it.
    assert FormClient(app).submit(f"{start}/sms/code", {"code": code}, page=start).status_code == 400
    assert resident.submit(f"{start}/email/code", {"code": code}).status_code == 400
    response = resident.submit(f"{start}/sms/code", {"code": code})
    assert response.status_code == 302
    south = texting["projects"]["South"]
    cast = vote(resident, texting, "South", {f"rank_{south[0]}": "1"})
    assert cast.status_code == 302
    [ballot] = ballots_in(db)
    receipt_page = resident.get(cast.headers["Location"]).get_data(as_text=True)
    assert ballot.receipt in receipt_page
    assert "emailing" not in receipt_page  # not texted: each text costs
    with db() as session:
        voter = session.exec(select(Voter)).one()
        assert voter.method == "sms"
        assert "7700" not in voter.identity
    # The same number written another way, later, in another browser: the same voter.
    again = FormClient(app)
    assert ask_for_text(again, texting, "+44 (0)7700 900 123").status_code == 302
    assert again.submit(f"{start}/sms/code", {"code": texted_code(app)}).status_code == 302
    assert vote(again, texting, "South", {f"rank_{south[1]}": "1"}).status_code == 302
    with db() as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 1
        assert len(session.exec(select(Ballot).where(Ballot.is_current)).all()) == 1
    # The numbers are forgotten with the email addresses; only email addresses are kept for verdicts.
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, texting["round"])
        assert services.seal_identities(session, round_) == 0
        assert services.forget_email_addresses(session, round_) == 2
        assert session.exec(select(EmailChallenge)).all() == []


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0113 496 0000", "That is a landline number."),
        ("+44 20 7946 0000", "That is a landline number."),
        ("07700 90012", "Enter a UK mobile number, like 07700 900123."),
        ("+1 202 555 0100", "Enter a UK mobile number, like 07700 900123."),
        ("call me", "Enter a UK mobile number, like 07700 900123."),
        ("", "Enter your mobile number."),
    ],
)
def test_a_number_that_is_not_a_uk_mobile_is_refused_and_nothing_is_sent(app, db, texting, typed, message):
    response = ask_for_text(FormClient(app), texting, typed)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert [m for m in app.extensions["pb_outbox"] if m.channel == "sms"] == []
    with db() as session:
        assert session.exec(select(EmailChallenge)).all() == []


def test_every_way_of_writing_a_uk_mobile_is_one_number():
    from pb.voting.phones import NotAMobile, uk_mobile

    for typed in (
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900123",
        "447700900123",
        "+44 (0)7700 900123",
        "(07700) 900-123",
        "\u0660\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663",
    ):
        assert uk_mobile(typed) == MOBILE, typed
    assert uk_mobile("07624 123456") == "+447624123456"  # Isle of Man
    for typed in (
        "07000 123456",
        "07600 123456",
        "0113 496 0000",
        "7700 900123",
        "+33 6 12 34 56 78",
        "07700 9001234",
        "+",
    ):
        with pytest.raises(NotAMobile):
            uk_mobile(typed)


def test_text_message_codes_have_the_email_codes_limits(app, db, texting):
    resident = FormClient(app)
    start = f"/rounds/{texting['round']}/vote"
    ask_for_text(resident, texting, "07700 900123")
    code = texted_code(app)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1, 0):
        response = resident.submit(f"{start}/sms/code", {"code": wrong})
        assert response.status_code == 400
        assert f"{left} {'try' if left == 1 else 'tries'} left" in response.get_data(as_text=True)
    response = resident.submit(f"{start}/sms/code", {"code": code})
    assert response.status_code == 400
    assert "Too many wrong codes" in response.get_data(as_text=True)

    ask_for_text(resident, texting, "+44 7700 900123")
    code = texted_code(app)
    with db() as session:
        for challenge in session.exec(select(EmailChallenge)):
            challenge.created_at -= timedelta(minutes=11)
            session.add(challenge)
    response = resident.submit(f"{start}/sms/code", {"code": code})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)

    # Three codes per number per quarter hour, however it is written, from any browser.
    assert ask_for_text(FormClient(app), texting, "0044 7700 900123").status_code == 302
    response = ask_for_text(FormClient(app), texting, "07700900123")
    assert response.status_code == 400
    assert "Too many attempts" in response.get_data(as_text=True)
    # Ten codes per client (test clients all come from one address), by text and by email together.
    for n in range(7):
        assert ask_for_text(resident, texting, f"07700 90020{n}").status_code == 302
    start_email = resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start)
    assert start_email.status_code == 400
    assert "Too many attempts" in start_email.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(func.count()).select_from(Voter)).one() == 0


def _at_once(app, ids, way: str, requests: list[tuple[str, dict]]) -> list[int]:
    """Ask for codes (`way`: "sms" or "email") for (client address, form) pairs all at the
    same moment; the statuses."""
    start = f"/rounds/{ids['round']}/vote"
    clients = [FormClient(app) for _ in requests]
    for client, (address, _form) in zip(clients, requests, strict=False):
        client.http.environ_base["REMOTE_ADDR"] = address
    tokens = [client.csrf_token(start) for client in clients]
    barrier, statuses = threading.Barrier(len(requests)), []

    def ask(n):
        data = {**requests[n][1], "postcode": "LS11 2AB", "csrf_token": tokens[n]}
        barrier.wait()
        statuses.append(clients[n].http.post(f"{start}/{way}", data=data).status_code)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def texts_to(app, number=None) -> list:
    return [m for m in app.extensions["pb_outbox"] if m.channel == "sms" and (number is None or m.to == number)]


@pytest.mark.parametrize("way", ["sms", "email"])
def test_a_burst_of_requests_cannot_outrun_the_code_limits(app, db, texting, way):
    """Thirty requests at the same moment for one number or inbox from thirty clients: three
    codes sent; twelve for twelve numbers or inboxes from one client: ten. (On PostgreSQL a
    burst once sent up to eleven codes to one: the counts were read before any was added.)"""
    one = {"mobile": "07700 900123"} if way == "sms" else {"email": "res@example.org"}
    statuses = _at_once(app, texting, way, [(f"203.0.113.{n + 1}", one) for n in range(30)])
    assert sorted(statuses) == [302] * 3 + [400] * 27
    many = [{"mobile": f"07700 9003{n:02d}"} if way == "sms" else {"email": f"res{n}@example.org"} for n in range(12)]
    statuses = _at_once(app, texting, way, [("198.51.100.7", form) for form in many])
    assert sorted(statuses) == [302] * 10 + [400] * 2
    asked = (
        {"+447700900123", "res@example.org"}
        | {f"+4477009003{n:02d}" for n in range(12)}
        | {f"res{n}@example.org" for n in range(12)}
    )
    assert len([m for m in app.extensions["pb_outbox"] if m.channel == way and m.to in asked]) == 13


def test_a_round_sends_at_most_so_many_texts_an_hour_however_many_clients_ask(app, db, texting, caplog):
    """Texts cost money and Notify limits them per day: a script with many addresses and
    numbers stops at the round's hourly limit, and the operator is told in the log."""
    app.config["SMS_PER_ROUND_PER_HOUR"] = 4
    for n in range(6):
        resident = FormClient(app)
        resident.http.environ_base["REMOTE_ADDR"] = f"2001:db8:{n:x}::1"  # each its own /64
        response = ask_for_text(resident, texting, f"07700 9004{n:02d}")
        if n < 4:
            assert response.status_code == 302
        else:
            assert response.status_code == 400
            assert "Too many codes are being sent by text message just now" in response.get_data(as_text=True)
    assert len(texts_to(app)) == 4
    assert "hourly limit of text messages" in caplog.text
    # Email still works for everyone meanwhile.
    resident = FormClient(app)
    start = f"/rounds/{texting['round']}/vote"
    assert (
        resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start).status_code
        == 302
    )


def test_text_messages_need_notify_in_production(app, db, texting):
    from pb.rounds import services as rounds
    from pb.rounds.services import RoundError
    from tests.notify_server import NotifyServer

    start = f"/rounds/{texting['round']}/vote"
    app.config["ENV"] = "production"  # no GOV.UK Notify: no way to send a text message
    with app.test_request_context(), db() as session:
        lead = user(session, "lead@council.example")
        org = factories.organisation(session, "Eastshire Council")
        with pytest.raises(RoundError, match=r"GOV\.UK Notify"):
            rounds.create_round(session, actor=lead, organisation=org, title="Texts", methods=("sms",))
    resident = FormClient(app)
    assert "Vote with your mobile phone" not in resident.get(start).get_data(as_text=True)
    response = ask_for_text(resident, texting, "07700 900123")
    assert response.status_code == 400
    assert "Text messages cannot be sent at the moment" in response.get_data(as_text=True)
    assert [m for m in app.extensions["pb_outbox"] if m.channel == "sms"] == []

    with NotifyServer() as notify:
        app.config.update(notify.config())
        with app.test_request_context(), db() as session:
            lead = user(session, "lead@council.example")
            org = factories.organisation(session, "Eastshire Council")
            assert rounds.create_round(
                session, actor=lead, organisation=org, title="Texts", methods=("sms",)
            ).methods == ["sms"]
        assert "Vote with your mobile phone" in resident.get(start).get_data(as_text=True)
        assert ask_for_text(resident, texting, "07700 900123").status_code == 302
        assert app.extensions["pb_courier"].idle.wait(30)
    [body] = notify.texts_to(MOBILE)
    assert resident.submit(f"{start}/sms/code", {"code": re.search(r"\b(\d{6})\b", body).group(1)}).status_code == 302


@pytest.mark.parametrize("zero", [0x0660, 0x06F0, 0x09E6], ids=["arabic-indic", "eastern-arabic-urdu", "bengali"])
def test_the_right_emailed_code_typed_in_another_scripts_digits_works(app, voting, zero):
    """A phone keyboard in Arabic, Urdu or Bengali (languages pb offers) types its own digits:
    the right code typed so is right (it was refused as wrong, using up a try)."""
    resident = FormClient(app)
    start = f"/rounds/{voting['round']}/vote"
    response = resident.submit(f"{start}/email", {"email": "res@example.org", "postcode": "LS11 2AB"}, page=start)
    assert response.status_code == 302
    code = re.search(r"\b(\d{6})\b", app.extensions["pb_outbox"][-1].body).group(1)
    typed = "".join(chr(zero + int(d)) for d in code)
    response = resident.submit(f"{start}/email/code", {"code": typed})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert resident.get(f"/rounds/{voting['round']}/vote/ballots").status_code == 200


def _email_voter(app, round_id, email) -> FormClient:
    """Prove eligibility by an emailed code, as a resident does."""
    resident = FormClient(app)
    start = f"/rounds/{round_id}/vote"
    response = resident.submit(f"{start}/email", {"email": email, "postcode": "LS11 2AB"}, page=start)
    assert response.status_code == 302, response.get_data(as_text=True)
    code = re.search(r"\b(\d{6})\b", app.extensions["pb_outbox"][-1].body).group(1)
    assert resident.submit(f"{start}/email/code", {"code": code}).status_code == 302
    return resident


def _email_voters(db, round_id) -> int:
    with db() as session:
        return session.exec(
            select(func.count()).select_from(Voter).where(Voter.round_id == round_id, Voter.method == "email")
        ).one()


@pytest.mark.parametrize(
    "spellings",
    [("res+1@example.org", "res+2@example.org", "RES@example.org"), ("resident@gmail.com", "Re.Sident@googlemail.com")],
    ids=["tags", "gmail"],
)
def test_one_inbox_is_one_email_voter_however_its_address_is_spelt(app, db, voting, spellings):
    """Spellings that reach one inbox are one voter (they were one each: one mailbox voted
    as often as it liked, a few tags an hour), as pb's limits on codes already counted them."""
    for email in spellings:
        _email_voter(app, voting["round"], email)
    assert _email_voters(db, voting["round"]) == 1


def test_an_email_voter_keyed_before_by_the_address_in_lower_case_stays_one_voter(app, db, voting):
    """A round voting while pb is upgraded: a voter whose identity was keyed on the address
    in lower case (as before) is found again, not made a second time."""
    with app.test_request_context(), db() as session:
        round_ = session.get_one(Round, voting["round"])
        old = services._keyed(services._voter_secret(session, round_), "voter:res+1@example.org")
        session.add(Voter(round_id=round_.id, method="email", identity=old))
    _email_voter(app, voting["round"], "Res+1@example.org")
    assert _email_voters(db, voting["round"]) == 1
