"""Rate-limit records name nobody and do not outlive their window (issue 17, in part)."""

import json
import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from pb.clock import now
from pb.throttle import ThrottleAttempt
from tests.conftest import BACKENDS, FormClient


def test_rate_limit_rows_keep_keyed_hashes_only_and_are_purged_after_their_window(app, db, make_user):
    make_user("lee@example.org")
    client = FormClient(app)
    client.submit("/sign-in", {"email": "lee@example.org", "password": "wrong password!"})
    with db() as session:
        rows = session.exec(select(ThrottleAttempt)).all()
        assert len(rows) == 2  # one for the address, one for the client
        for row in rows:
            assert re.fullmatch(r"[0-9a-f]{64}", row.key), row.key
            assert "lee@example.org" not in row.key
            assert "127.0.0.1" not in row.key
        stale = ThrottleAttempt(key="0" * 64, at=now() - timedelta(hours=2))
        session.add(stale)
    client.submit("/sign-in", {"email": "lee@example.org", "password": "wrong again!!"})
    with db() as session:
        keys = [row.key for row in session.exec(select(ThrottleAttempt))]
    assert "0" * 64 not in keys
    assert len(keys) == 4


# ---------------------------------------------------------------- no way back from a ballot to a person

LEAD, MEMBER, GROUP = "lead@council.example", "chair@park.example", "Friends of the Park"


def _email_vote(app, ids, email, picks):
    """An email voter, through the pages: ask for a code, type it, vote on North."""
    base = f"/rounds/{ids['round']}"
    resident = FormClient(app)
    asked = resident.submit(f"{base}/vote/email", {"email": email, "postcode": "LS6 1AA"}, page=f"{base}/vote")
    assert asked.status_code == 302, asked.get_data(as_text=True)
    with app.app_context():
        from pb.mail import outbox

        body = [m for m in outbox() if m.to == email][-1].body
    code = re.search(r"\b(\d{6})\b", body).group(1)
    assert resident.submit(f"{base}/vote/email/code", {"code": code}).status_code == 302
    url = f"{base}/vote/{ids['contests']['North']}"
    assert resident.submit(url, {"project": [str(p) for p in picks], "confirm": "1"}).status_code == 302


def _code_vote(app, ids, code, picks):
    base = f"/rounds/{ids['round']}"
    resident = FormClient(app)
    assert resident.submit(f"{base}/vote/code", {"code": code}, page=f"{base}/vote").status_code == 302
    url = f"{base}/vote/{ids['contests']['North']}"
    assert resident.submit(url, {"project": [str(p) for p in picks], "confirm": "1"}).status_code == 302


def test_rotating_the_session_key_mid_round_does_not_make_an_email_voter_new(
    app, db, make_user, database_url, tmp_path
):
    from pb import create_app
    from pb.voting.models import Ballot, Voter
    from tests.factories import make_round, open_voting

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("email",))
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        from pb.proposals.models import Project

        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    _email_vote(app, ids, "sam@example.org", north[:1])
    rotated = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "a-new-secret",
            "DATABASE_URL": database_url,
            "SERVER_NAME": "localhost",
            "INSTANCE_PATH": str(tmp_path / "rotated"),
        }
    )
    _email_vote(rotated, ids, "sam@example.org", north[1:2])
    rotated.extensions["pb_engine"].dispose()
    with db(write=False) as session:
        assert len(session.exec(select(Voter)).all()) == 1
        assert len(session.exec(select(Ballot).where(Ballot.is_current)).all()) == 1


def test_a_published_rounds_database_and_the_letters_cannot_link_a_resident_to_a_ballot(app, db, make_user):
    """The operator's whole database after publication, plus the list of letters (codes and
    references, as the returning officer printed them), plus the voters' email addresses and
    what a resident declared: nothing leads from a resident to a ballot."""
    import hashlib
    import hmac

    from sqlalchemy import inspect, text

    from pb.proposals.models import Project
    from pb.voting.models import Ballot, EmailChallenge, RoundKey, Voter, VotingCode
    from tests.factories import declare, make_codes, make_round, open_voting, publish

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes", "email", "declared"))
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=4)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
        letters = {c.letter: c.code_hash for c in session.exec(select(VotingCode))}
    emails = ["ann@example.org", "bob@example.org"]
    for n, code in enumerate(codes[:3]):
        _code_vote(app, ids, code, north[n % 3 : n % 3 + 1])
    _code_vote(app, ids, codes[0], north[1:3])  # comes back and changes their vote
    for n, email in enumerate(emails):
        _email_vote(app, ids, email, north[n : n + 2])
    declared = {"name": "Dora Declared", "address": "7 Mill Lane"}
    for picks in (north[:1], north[1:2]):  # declares, votes, comes back and changes the vote
        resident = FormClient(app)
        assert declare(resident, ids["round"], "LS6 1AA", **declared).status_code == 302
        url = f"/rounds/{ids['round']}/vote/{ids['contests']['North']}"
        assert resident.submit(url, {"project": [str(p) for p in picks], "confirm": "1"}).status_code == 302
    publish(app, db, ids["round"], LEAD)
    # The results say how many voters proved eligibility each way, online or on paper, and their ballots.
    results = FormClient(app).get(f"/rounds/{ids['round']}/results").get_data(as_text=True)
    table = results.split("Voters by how they proved they may vote")[1].split("</table>")[0]
    cells = r'</td><td>Online</td><td class="num">{}</td><td class="num">{}<'
    assert re.search("Voting codes on printed letters" + cells.format(3, 3), table)
    assert re.search("A one-time code sent by email" + cells.format(2, 2), table)
    assert re.search("Residents declare who they are \\(low-stakes rounds\\)" + cells.format(1, 1), table)

    with db(write=False) as session:
        voters = session.exec(select(Voter).where(Voter.round_id == ids["round"])).all()
        assert len(voters) == 6
        assert all(v.code_id is None for v in voters)  # no voter points to a code, so none to a letter
        assert session.get(RoundKey, ids["round"]).voter_secret is None  # no address can become a voter again
        assert session.exec(select(EmailChallenge)).all() == []
        # The email voters' identities cannot be found from their addresses, under the session key either.
        for email in emails:
            for secret in (app.config["SECRET_KEY"],):
                for text_ in (f"voter:{ids['round']}:{email}", f"voter:{email}"):
                    guess = hmac.new(secret.encode(), text_.encode(), hashlib.sha256).hexdigest()
                    assert guess not in {v.identity for v in voters}
        # Times keep the day only: a code's use, a voter's start and a ballot's casting cannot be matched.
        stamps = [c.used_at for c in session.exec(select(VotingCode)) if c.used_at]
        stamps += [v.created_at for v in voters]
        stamps += [t for b in session.exec(select(Ballot)) for t in (b.cast_at, b.superseded_at) if t]
        assert stamps
        assert all((t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0) for t in stamps)
        # Nothing in any table holds a code, a code's hash beside a voter, or an address.
        engine = session.get_bind()
    needles = set(codes) | {c.replace("-", "") for c in codes} | set(emails) | set(declared.values())
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                cells = " ".join(str(value) for value in row)
                assert not any(needle in cells for needle in needles), (table, row)
                if table in ("voter", "ballot", "ballot_choice"):
                    assert not any(digest in cells for digest in letters.values()), (table, row)


# ---------------------------------------------------------------- voting state on the server


def _session_of(app, client):
    """What the browser's signed session cookie says (it is readable, only not forgeable)."""
    from flask.sessions import SecureCookieSessionInterface

    cookie = client.http.get_cookie(app.config["SESSION_COOKIE_NAME"])
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(cookie.value)


def _copy(app, client):
    twin = FormClient(app)
    cookie = client.http.get_cookie(app.config["SESSION_COOKIE_NAME"])
    twin.http.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value)
    return twin


def test_the_cookie_holds_nothing_countable_and_finishing_ends_voting_on_the_server(app, db, make_user):
    from pb.proposals.models import Project
    from tests.factories import make_codes, make_round, open_voting

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=2)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    base = f"/rounds/{ids['round']}"
    states = []
    for code in codes:
        resident = FormClient(app)
        assert resident.submit(f"{base}/vote/code", {"code": code}, page=f"{base}/vote").status_code == 302
        states.append(_session_of(app, resident))
    for state in states:
        assert set(state) <= {"voting", "csrf_token", "_flashes", "_fresh"}, state  # _fresh: Flask-Login's flag
        assert not any(isinstance(v, int) and not isinstance(v, bool) for v in state.values())
        assert not state["voting"].isdigit()
    assert states[0]["voting"] != states[1]["voting"]
    # "I have finished" ends the voting on the server: a copy of the cookie made before can no longer cast.
    url = f"{base}/vote/{ids['contests']['North']}"
    assert resident.submit(url, {"project": str(north[0]), "confirm": "1"}).status_code == 302
    thief = _copy(app, resident)
    token = thief.csrf_token(f"{base}/vote")
    resident.submit(f"{base}/vote/finish", {}, page=f"{base}/vote/ballots")
    stolen = thief.post(url, data={"project": str(north[1]), "confirm": "1", "csrf_token": token})
    assert stolen.status_code == 302
    assert stolen.headers["Location"].endswith(f"{base}/vote")
    from pb.voting.models import Ballot

    with db(write=False) as session:
        assert len(session.exec(select(Ballot)).all()) == 1


def test_a_paper_ballot_records_its_helper_and_their_session_is_theirs_alone(app, db, make_user):
    """The ballot keeps who entered it; the log says so only once voting has closed, one
    event per helper with how many they entered (an event per ballot would count and time
    the paper ballots as they came in)."""
    from pb.accounts.models import User
    from pb.audit.chain import person
    from pb.audit.models import AuditEvent
    from pb.proposals.models import Project
    from pb.voting.models import Ballot
    from tests.factories import OFFICER, close_voting, make_codes, make_round, open_voting, user

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    make_user("helper@example.org", name="Hal Helper")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes", "paper"))
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=2)
    officer = FormClient(app)
    officer.sign_in(OFFICER, "correct horse battery")
    assert officer.submit(f"/rounds/{ids['round']}/helpers", {"email": "helper@example.org"}).status_code == 302
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
        helper_id = user(session, "helper@example.org").id
    base = f"/rounds/{ids['round']}"
    helper = FormClient(app)
    helper.sign_in("helper@example.org", "correct horse battery")
    assert helper.submit(f"{base}/paper", {"code": codes[0]}).status_code == 302
    # The helper's voting is bound to the helper: its reference alone, in another browser, is nothing.
    with helper.http.session_transaction() as held:
        reference = held["voting"]
    borrowed = FormClient(app)
    with borrowed.http.session_transaction() as planted:
        planted["voting"] = reference
    assert borrowed.get(f"{base}/vote/ballots").status_code == 302
    url = f"{base}/vote/{ids['contests']['North']}"
    assert helper.submit(url, {"project": str(north[0]), "confirm": "1"}).status_code == 302
    assert helper.submit(f"{base}/paper", {"code": codes[1]}).status_code == 302  # the next paper
    assert helper.submit(url, {"project": str(north[1]), "confirm": "1"}).status_code == 302

    def paper_events(session):
        return session.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("paper."))).all()

    with db(write=False) as session:
        ballots = session.exec(select(Ballot)).all()
        assert [(b.channel, b.entered_by_user_id) for b in ballots] == [("paper", helper_id)] * 2
        assert paper_events(session) == []
    close_voting(app, db, ids["round"])
    with db(write=False) as session:
        [event] = paper_events(session)
        helper_user = session.get(User, helper_id)
    assert event.action == "paper.ballots_entered"
    assert event.actor_user_id is None  # the platform, when voting closed
    assert json.loads(event.data) == {"user": person(helper_user, ids["round"]), "count": 2}


def test_a_receipt_never_travels_in_a_url(app, db, make_user):
    from pb.proposals.models import Project
    from pb.voting.models import Ballot
    from tests.factories import make_codes, make_round, open_voting

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    [code] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        project = session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"])).first()
    base = f"/rounds/{ids['round']}"
    resident = FormClient(app)
    resident.submit(f"{base}/vote/code", {"code": code}, page=f"{base}/vote")
    cast = resident.submit(f"{base}/vote/{ids['contests']['North']}", {"project": str(project), "confirm": "1"})
    with db(write=False) as session:
        [ballot] = session.exec(select(Ballot)).all()
    assert cast.status_code == 302
    assert ballot.receipt not in cast.headers["Location"]
    page = resident.get(cast.headers["Location"]).get_data(as_text=True)
    assert ballot.receipt in page
    assert not re.search(r'(href|action|src)="[^"]*' + re.escape(ballot.receipt), page)  # in no link on the page
    assert resident.get(f"{base}/vote/receipt/{ballot.receipt}").status_code == 404  # and no such address exists


# ---------------------------------------------------------------- declared identity


def test_the_returning_officer_checks_declarations_until_publication_when_they_are_deleted(app, db, make_user):
    """Declarations go to the returning officer alone (audited), sorted rather than in the
    order people voted, never saying how anyone voted; publication deletes them, and the
    database then holds no declared name or address, and no way to hash one into a voter."""
    import csv
    import io

    from pb.audit.models import AuditEvent
    from pb.proposals.models import Project
    from pb.voting.models import Declaration, RoundKey, Voter
    from tests.factories import OFFICER, declare, make_round, officer, open_voting, publish, user

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",))
    with app.test_request_context(), db() as session:
        from pb.rounds.models import Round

        officer(session, session.get(Round, ids["round"]), LEAD)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    people = [
        ("Zed Young", "9 Mill Lane", "LS6 2BB"),
        ("Ann Old", "1 Park Road", "LS6 1AA"),
        ("=HYPERLINK(1)", "3 Ash Close;=2+2", "LS6 1AA"),
    ]
    base = f"/rounds/{ids['round']}"
    for n, (name, address, postcode) in enumerate(people):
        resident = FormClient(app)
        assert declare(resident, ids["round"], postcode, name=name, address=address).status_code == 302
        if n < 2:  # the third declares but never casts a ballot
            assert (
                resident.submit(
                    f"{base}/vote/{ids['contests']['North']}", {"project": str(north[n]), "confirm": "1"}
                ).status_code
                == 302
            )

    # Nobody but the returning officer gets them: not the convening lead.
    lead = FormClient(app)
    lead.sign_in(LEAD, "correct horse battery")
    assert lead.get(f"{base}/declarations").status_code == 403
    assert lead.post(f"{base}/declarations", data={"csrf_token": lead.csrf_token("/")}).status_code == 403
    returning = FormClient(app)
    returning.sign_in(OFFICER, "correct horse battery")
    assert "3 declarations so far." in returning.get(f"{base}/declarations").get_data(as_text=True)
    download = returning.submit(f"{base}/declarations", {})
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert download.headers["Cache-Control"] == "no-store"
    text = download.get_data(as_text=True)
    assert text.startswith('\ufeff"Name","First line')  # spreadsheets read any script; every cell quoted
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Name", "First line of the address", "Postcode", "Year of birth", "Area", "Voted"]
    assert rows[1:] == [  # by postcode, then address: not the order they voted in; nothing of how anyone voted
        ["Ann Old", "1 Park Road", "LS6 1AA", "", "North", "yes"],
        ["'=HYPERLINK(1)", "3 Ash Close;'=2+2", "LS6 1AA", "", "North", "no"],  # no formula, in any list separator
        ["Zed Young", "9 Mill Lane", "LS6 2BB", "", "North", "yes"],
    ]
    with db(write=False) as session:
        [exported] = session.exec(select(AuditEvent).where(AuditEvent.action == "declarations.exported")).all()
        assert json.loads(exported.data) == {"count": 3}
        assert exported.actor_user_id == user(session, OFFICER).id

    publish(app, db, ids["round"], LEAD)
    assert "deleted when the results were published" in returning.get(f"{base}/declarations").get_data(as_text=True)
    gone = returning.submit(f"{base}/declarations", {}, page="/")
    assert gone.status_code == 410
    assert "deleted when the results were published" in gone.get_data(as_text=True)
    with db(write=False) as session:
        assert session.exec(select(Declaration)).all() == []
        assert session.get(RoundKey, ids["round"]).voter_secret is None
        assert len(session.exec(select(Voter)).all()) == 3
        [deleted] = session.exec(select(AuditEvent).where(AuditEvent.action == "residents.declarations_deleted")).all()
        assert json.loads(deleted.data) == {"count": 3}
        engine = session.get_bind()
    from sqlalchemy import inspect
    from sqlalchemy import text as sql

    needles = {"Zed Young", "9 Mill Lane", "Ann Old", "1 Park Road", "HYPERLINK", "Ash Close"}
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            if table == "audit_event":
                continue  # holds what leads and groups typed (proposals), never a resident's declaration
            for row in conn.execute(sql(f'SELECT * FROM "{table}"')):
                cells = " ".join(str(value) for value in row)
                assert not any(needle in cells for needle in needles), (table, row)
        events = " ".join(str(row) for row in conn.execute(sql("SELECT data FROM audit_event")))
        assert not any(needle in events for needle in needles)


# ---------------------------------------------------------------- what publication forgets is gone, traces included


def _published_round(app, db, make_user, methods, *, codes=0):
    from tests.factories import make_codes, make_round, open_voting

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=methods)
    made = make_codes(app, db, ids["round"], ids["areas"]["North"], count=codes) if codes else []
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    from pb.proposals.models import Project

    with db(write=False) as session:
        north = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    return ids, made, north


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PB_TEST_BACKENDS leaves PostgreSQL out")
def test_after_publication_no_row_version_links_a_letter_to_its_ballot(app, db, make_user):
    """A code is spent in the transaction that stores its first ballot, and PostgreSQL
    stamps each row version with the transaction that wrote it (xmin, readable by any
    SELECT). After publication no code's row shares it with a ballot's choices, and the
    codes keep no letter: the returning officer's list of letters leads to no ballot."""
    from sqlalchemy import text

    from tests.factories import publish

    ids, codes, north = _published_round(app, db, make_user, ("codes",), codes=4)
    for n, code in enumerate(codes[:3]):
        _code_vote(app, ids, code, [north[n]])
    publish(app, db, ids["round"], LEAD)
    with db(write=False) as session:
        conn = session.connection()
        codes_by_version = dict(
            conn.execute(
                text("SELECT xmin::text, letter FROM voting_code WHERE round_id = :r"), {"r": ids["round"]}
            ).all()
        )
        ballots_by_version = {xmin for (xmin,) in conn.execute(text("SELECT xmin::text FROM ballot_choice"))}
        letters = conn.execute(
            text(
                "SELECT count(*) FROM voting_code WHERE letter <> '' OR used_at IS NOT NULL OR cancelled_at IS NOT NULL"
            )
        ).scalar()
    assert len(codes_by_version) == 1  # every code of the round was written by the publication
    assert set(codes_by_version) & ballots_by_version == set()
    assert letters == 0
    # A resident still proves with their letter's code that they may give verdicts.
    verdicts = FormClient(app)
    page = f"/rounds/{ids['round']}/residents"
    assert verdicts.submit(f"{page}/code", {"code": codes[0]}, page=page).status_code == 302


def _files_after_publication(app, db, make_user):
    """A round where an email voter (mailed a receipt) and a declared voter vote, then
    publication: what each left that publication deletes."""
    from tests.factories import declare, publish

    ids, _codes, north = _published_round(app, db, make_user, ("email", "declared"))
    _email_vote(app, ids, "ann.resident@example.org", north[:2])
    with app.app_context():
        from pb.mail import deliver_pending

        deliver_pending()  # the receipt mailed: its row is deleted
    resident = FormClient(app)
    assert declare(resident, ids["round"], "LS6 1AA", name="Dora Declared", address="7 Mill Lane").status_code == 302
    url = f"/rounds/{ids['round']}/vote/{ids['contests']['North']}"
    assert resident.submit(url, {"project": [str(north[2])], "confirm": "1"}).status_code == 302
    publish(app, db, ids["round"], LEAD)
    return ("Dora Declared", "7 Mill Lane", "ann.resident@example.org")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.skipif("sqlite" not in BACKENDS, reason="PB_TEST_BACKENDS leaves SQLite out")
def test_on_sqlite_what_publication_deletes_is_gone_from_the_database_files(app, db, make_user, database_url):
    """A DELETE on SQLite only marks space free unless secure_delete is on, and the
    write-ahead log keeps the pages as they were: neither file holds what was deleted."""
    import os

    needles = _files_after_publication(app, db, make_user)
    path = database_url.removeprefix("sqlite:///")
    blob = b""
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            with open(name, "rb") as f:
                blob += f.read()
    assert blob
    assert [needle for needle in needles if needle.encode() in blob] == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PB_TEST_BACKENDS leaves PostgreSQL out")
def test_on_postgresql_what_publication_deletes_is_gone_from_the_tables_pages(app, db, make_user):
    """A DELETE on PostgreSQL leaves the row in its page (a dead tuple) until a vacuum:
    the pages of the tables publication deletes from hold none of it."""

    needles = _files_after_publication(app, db, make_user)
    assert [needle for needle in needles if needle.encode() in _pages(db)] == []


def _pages(db) -> bytes:
    """The raw pages of the PostgreSQL tables publication deletes from."""
    from sqlalchemy import text

    blob = b""
    with db() as session:
        conn = session.connection()
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        try:
            for table in ("declaration", "email_challenge", "outgoing_mail", "voter", "voting_session"):
                pages = conn.execute(
                    text("SELECT pg_relation_size(:t) / current_setting('block_size')::int"), {"t": table}
                ).scalar()
                for page in range(pages):
                    blob += bytes(conn.execute(text("SELECT get_raw_page(:t, :p)"), {"t": table, "p": page}).scalar())
        finally:
            conn.execute(text("DROP EXTENSION pageinspect"))
    return blob


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PB_TEST_BACKENDS leaves PostgreSQL out")
def test_a_snapshot_open_during_publication_makes_the_scrub_say_so(
    app, db, make_user, database_url, monkeypatch, caplog
):
    """VACUUM FULL keeps, and says nothing of, what a transaction begun earlier may still
    see (a report, pg_dump): a review found the scrub silently left the resident's name,
    address and email in the pages, and could hold the publishing request 10 s per table
    (a resident's page view may publish). pb now waits 2 s for such transactions, then
    gives up saying so, quickly; `pb scrub`, once they have ended, wipes it."""
    import logging
    import time

    from sqlalchemy import create_engine

    from pb.cli import main
    from tests import factories

    other = create_engine(database_url)
    reader = other.connect()
    real_publish, took = factories.publish, []

    def publish_while_a_report_reads_the_voters(app_, db_, round_id, convener):
        reader.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.exec_driver_sql("SELECT count(*) FROM voter").scalar()  # its snapshot is taken, and kept
        started = time.monotonic()
        real_publish(app_, db_, round_id, convener)
        took.append(time.monotonic() - started)

    monkeypatch.setattr(factories, "publish", publish_while_a_report_reads_the_voters)
    try:
        with caplog.at_level(logging.ERROR, logger="pb.db"):
            needles = _files_after_publication(app, db, make_user)
    finally:
        reader.exec_driver_sql("ROLLBACK")
        reader.close()
        other.dispose()
    assert [r for r in caplog.records if r.name == "pb.db" and "run `pb scrub` later" in r.getMessage()]
    assert took[0] < 9, f"publishing took {took[0]:.1f} s"  # it waits 2 s; it took 13 s before
    assert [needle for needle in needles if needle.encode() in _pages(db)]  # still there: it said so
    scrubbed = app.test_cli_runner().invoke(main, ["scrub"])
    assert scrubbed.exit_code == 0, scrubbed.output
    assert [needle for needle in needles if needle.encode() in _pages(db)] == []


def test_publication_leaves_no_rate_limit_row_that_times_a_residents_request_for_a_code(app, db, make_user):
    """Asking for a code to vote notes rate-limit rows under keyed hashes of the inbox and
    the client's address, timed to the microsecond. The operator holds the key: after
    publication no such row is left to say when, or from where, a resident asked."""
    import hashlib
    import hmac

    from pb.throttle import mailbox
    from tests.factories import publish

    ids, _codes, north = _published_round(app, db, make_user, ("email",))
    _email_vote(app, ids, "ann.resident@example.org", north[:1])
    secret = app.config["SECRET_KEY"].encode()
    keys = {
        hmac.new(secret, f"throttle:{key}".encode(), hashlib.sha256).hexdigest()
        for key in (f"otp-send:email:{mailbox('ann.resident@example.org')}", "otp-send:ip:127.0.0.1")
    }
    with db(write=False) as session:
        assert keys <= {row.key for row in session.exec(select(ThrottleAttempt))}  # the guesses are right
    publish(app, db, ids["round"], LEAD)
    with db(write=False) as session:
        assert session.exec(select(ThrottleAttempt).where(col(ThrottleAttempt.key).in_(keys))).all() == []
