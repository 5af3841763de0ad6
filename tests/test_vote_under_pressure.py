"""The vote holds under pressure: casts racing the close, an early close by hand, opening
with no way to vote, the returning officer's codes and replacements, suspension, the
timeline run from cron, and no import cycle among the domain services."""

import ast
import random
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import select

from pb.audit.models import AuditEvent, chain_key
from pb.clock import now
from pb.proposals.models import Project
from pb.results.models import ContestResult
from pb.rounds.models import Round
from pb.verify.chain import verify_chain
from pb.voting.models import Ballot
from tests.conftest import FormClient
from tests.factories import OFFICER, make_codes, make_round, officer, open_voting, user
from tests.servers import Browser, cast, prove_with_code

LEAD, MEMBER, GROUP = "lead@council.example", "chair@park.example", "Friends of the Park"
PASSWORD = "correct horse battery"


@pytest.fixture
def people(make_user):
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")


def signed_in(app, email):
    client = FormClient(app)
    client.sign_in(email, PASSWORD)
    return client


def voting_round(app, db, codes=0, methods=("codes",)):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=methods)
    if codes:
        ids["codes"] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=codes)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db(write=False) as session:
        ids["projects"] = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    return ids


def events(db, round_id, action):
    with db(write=False) as session:
        return [
            e
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq)
            )
            if e.action == action
        ]


def pass_the_closing_time(db, round_id):
    """Time passes (only tests move the clock): the published closing time is now behind us."""
    with db() as session:
        session.exec(update(Round).where(Round.id == round_id).values(voting_closes_at=now() - timedelta(seconds=1)))


# ---------------------------------------------------------------- casts racing the close


@pytest.mark.slow
def test_fifty_casts_racing_the_close_leave_every_receipted_ballot_counted_and_listed(app, db, people):
    ids = voting_round(app, db, codes=50)
    round_id, contest_id = ids["round"], ids["contests"]["North"]
    # A threaded server: every cast is in flight at once, each in its own thread, which
    # is when a cast that checked the phase before the close can write after it.
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = type("Served", (), {"port": httpd.server_port})
    try:
        browsers = [Browser(server.port) for _ in range(50)]
        tokens = [prove_with_code(b, round_id, code) for b, code in zip(browsers, ids["codes"], strict=False)]
        start = threading.Barrier(51)
        outcomes: list = [None] * 50
        closes = now() + timedelta(seconds=1.5)
        with db() as session:  # the published closing time, set here as if published long ago
            session.exec(update(Round).where(Round.id == round_id).values(voting_closes_at=closes))

        def resident(n):
            picks = random.Random(n).sample(ids["projects"], 2)
            start.wait()
            # All in flight at once around the closing time (sent from 150 ms to 50 ms before it).
            time.sleep(max(0.0, (closes - now()).total_seconds() - 0.15 + n * 0.002))
            outcomes[n] = cast(browsers[n], round_id, contest_id, picks, tokens[n])

        def closer():
            start.wait()
            time.sleep(max(0.0, (closes - now()).total_seconds()))
            # The first request for the round after its closing time closes and counts it
            # (as a cast's own request may, or `pb rounds advance`).
            assert Browser(server.port).get(f"/rounds/{round_id}").status == 200

        threads = [threading.Thread(target=resident, args=(n,)) for n in range(50)] + [threading.Thread(target=closer)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "casts still in flight after 120 s"
        acknowledged = {receipt for _response, receipt in outcomes if receipt}
        refused = [response for response, receipt in outcomes if not receipt]
        for response in refused:
            # Refused with a clear message, never a receipt for a ballot left out.
            assert response.status == 409, (response.status, response.body[:500])
            assert "Voting in this round has closed." in response.body, (response.status, response.body[:500])
        with db(write=False) as session:
            assert session.get(Round, round_id).phase == "counted"
            counted = set(session.exec(select(Ballot.receipt).where(Ballot.contest_id == contest_id, Ballot.counted)))
            stored = set(session.exec(select(Ballot.receipt).where(Ballot.contest_id == contest_id)))
            result = session.exec(select(ContestResult).where(ContestResult.contest_id == contest_id)).one()
        assert acknowledged == stored == counted, "every receipted ballot, and only those, was stored and counted"
        assert result.ballots == len(acknowledged)
        print(
            f"\nrace with the close: {len(acknowledged)} ballots receipted and counted, {len(refused)} refused as closed"
        )

        # Published: receipts.txt lists exactly them, and each receipt checks as counted.
        with app.test_request_context(), db() as session:
            from pb.lifecycle import move_to_next_phase

            move_to_next_phase(session, session.get(Round, round_id), actor=user(session, LEAD))
        listed = Browser(server.port).get(f"/rounds/{round_id}/results/{contest_id}/receipts.txt")
        assert set(listed.body.split()) == acknowledged
        checker = FormClient(app)
        for receipt in list(acknowledged)[:10]:
            page = checker.submit(f"/rounds/{round_id}/results/receipt", {"receipt": receipt}).get_data(as_text=True)
            assert "Your ballot was counted." in page
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_cast_after_the_closing_time_is_refused_even_before_the_round_is_moved_on(app, db, people):
    ids = voting_round(app, db, codes=2)
    resident = FormClient(app)
    assert (
        resident.submit(
            f"/rounds/{ids['round']}/vote/code", {"code": ids["codes"][0]}, page=f"/rounds/{ids['round']}/vote"
        ).status_code
        == 302
    )
    url = f"/rounds/{ids['round']}/vote/{ids['contests']['North']}"
    review = resident.submit(url, {"project": str(ids["projects"][0])})
    token = re.search(r'name="submission" value="([^"]+)"', review.get_data(as_text=True)).group(1)
    pass_the_closing_time(db, ids["round"])
    # The cast itself: its before-request step closes and counts first; the cast is refused.
    late = resident.post(
        url,
        data={
            "project": str(ids["projects"][0]),
            "confirm": "1",
            "submission": token,
            "csrf_token": resident.csrf_token(f"/rounds/{ids['round']}"),
        },
    )
    assert late.status_code == 409
    assert "closed" in late.get_data(as_text=True)
    with db(write=False) as session:
        assert session.exec(select(Ballot)).all() == []
        assert session.get(Round, ids["round"]).phase == "counted"


# ---------------------------------------------------------------- nobody ends voting early


def test_voting_cannot_be_ended_early_by_hand_and_the_attempt_is_logged(app, db, people):
    ids = voting_round(app, db)
    lead = signed_in(app, LEAD)
    page = lead.get(f"/rounds/{ids['round']}/phase").get_data(as_text=True)
    assert "nobody can end it earlier" in page
    assert 'name="confirm"' not in page  # no button to press
    response = lead.submit(f"/rounds/{ids['round']}/phase", {"confirm": "y"}, page=f"/rounds/{ids['round']}/manage")
    assert response.status_code == 303
    assert "nobody can end it earlier" in lead.get(response.headers["Location"]).get_data(as_text=True)
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "voting"
        assert session.exec(select(ContestResult)).all() == []
        assert verify_chain(session, chain_key(ids["round"])).ok
    [refusal] = events(db, ids["round"], "round.change_refused")
    assert '"attempted":"voting.closed_early"' in refusal.data


def test_a_suspension_is_public_refuses_votes_and_counts_nothing_until_resumed(app, db, people):
    ids = voting_round(app, db, codes=2)
    lead = signed_in(app, LEAD)
    base = f"/rounds/{ids['round']}"
    assert lead.submit(f"{base}/suspension", {"reason": ""}).status_code == 400  # a reason is required
    assert (
        lead.submit(f"{base}/suspension", {"reason": "Letters to South went to the wrong street."}).status_code == 302
    )
    public = FormClient(app).get(base).get_data(as_text=True)
    assert "Voting is suspended" in public
    assert "Letters to South went to the wrong street." in public
    resident = FormClient(app)
    refused = resident.submit(f"{base}/vote/code", {"code": ids["codes"][0]}, page=f"{base}/vote")
    assert refused.status_code == 409
    assert "Voting is suspended: Letters to South went to the wrong street." in refused.get_data(as_text=True)
    # The closing time passes while suspended: nothing is closed or counted.
    with db() as session:
        suspended_at = session.get(Round, ids["round"]).suspended_at
        session.exec(
            update(Round)
            .where(Round.id == ids["round"])
            .values(suspended_at=suspended_at - timedelta(hours=3), voting_closes_at=now() - timedelta(hours=1))
        )
    assert FormClient(app).get(base).status_code == 200
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "voting"
        assert session.exec(select(ContestResult)).all() == []
    # Resumed: the suspension takes no time away, so voting goes on for the 2 hours that
    # were left when it was suspended (3 hours ago, 2 hours before the old closing time).
    officer_client = signed_in(app, OFFICER)
    assert officer_client.submit(f"{base}/suspension", {"reason": ""}).status_code == 302
    with db(write=False) as session:
        round_ = session.get(Round, ids["round"])
        assert round_.phase == "voting"
        assert round_.suspended_at is None
        left = round_.voting_closes_at - now()
        assert timedelta(hours=1, minutes=58) < left < timedelta(hours=2, minutes=2)
    assert resident.submit(f"{base}/vote/code", {"code": ids["codes"][0]}, page=f"{base}/vote").status_code == 302
    assert len(events(db, ids["round"], "voting.suspended")) == 1
    assert len(events(db, ids["round"], "voting.resumed")) == 1


# ---------------------------------------------------------------- a way to vote, and the returning officer


def test_voting_cannot_open_while_any_contest_has_no_way_to_vote(app, db, people):
    from tests.factories import eligible_proposals

    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    eligible_proposals(app, db, ids["round"], screener=LEAD, member=MEMBER, group=GROUP)
    lead = signed_in(app, LEAD)
    base = f"/rounds/{ids['round']}"
    assert lead.submit(f"{base}/phase", {"confirm": "y"}).status_code == 302  # screening
    manage = lead.get(f"{base}/manage").get_data(as_text=True)
    assert "No returning officer has been appointed" in manage
    with app.test_request_context(), db() as session:
        officer(session, session.get(Round, ids["round"]), LEAD)
    make_codes(app, db, ids["round"], ids["areas"]["North"], count=3)
    page = lead.get(f"{base}/phase").get_data(as_text=True)
    assert "Nobody could vote on “South ballot”" in page
    assert "North ballot" not in page.split("Voting cannot open yet")[1]
    refused = lead.submit(f"{base}/phase", {"confirm": "y"})
    assert refused.status_code == 303
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "screening"
    # The timeline cannot open it either.
    with db() as session:
        session.exec(update(Round).where(Round.id == ids["round"]).values(voting_opens_at=now() - timedelta(minutes=1)))
    assert lead.get(base).status_code == 200
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "screening"
    make_codes(app, db, ids["round"], ids["areas"]["South"], count=3)
    assert lead.get(base).status_code == 200  # now the timeline opens it
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "voting"


def test_lost_letters_are_replaced_during_voting_and_counted_in_the_results(app, db, people):
    ids = voting_round(app, db, codes=3)
    base = f"/rounds/{ids['round']}"
    officer_client = signed_in(app, OFFICER)
    page = officer_client.get(f"{base}/codes").get_data(as_text=True)
    assert "A lost letter" in page
    with db(write=False) as session:
        from pb.voting.models import VotingCode

        letters = [c.letter for c in session.exec(select(VotingCode).order_by(VotingCode.id))]
    lost = letters[2]  # ids["codes"][2]'s letter
    assert officer_client.submit(f"{base}/codes/cancel", {"letter": lost}, page=f"{base}/codes").status_code == 303
    finder = FormClient(app)
    assert finder.submit(f"{base}/vote/code", {"code": ids["codes"][2]}, page=f"{base}/vote").status_code == 400
    made = officer_client.submit(f"{base}/codes", {"area": ids["areas"]["North"], "count": "1"})
    [replacement] = re.findall(r'class="code">([0-9A-Z-]{14})<', made.get_data(as_text=True))
    for code in (ids["codes"][0], replacement):
        resident = FormClient(app)
        assert resident.submit(f"{base}/vote/code", {"code": code}, page=f"{base}/vote").status_code == 302
        url = f"{base}/vote/{ids['contests']['North']}"
        assert resident.submit(url, {"project": str(ids["projects"][0]), "confirm": "1"}).status_code == 302
    from tests.factories import publish

    publish(app, db, ids["round"], LEAD)
    results = FormClient(app).get(f"{base}/results").get_data(as_text=True)
    table = results.split("Voting codes, by batch")[1].split("</table>")[0]
    rows = re.findall(
        r"<tr><td>\d+: (\w+)(.*?)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td></tr>",
        table,
    )
    figures = [(note, area, int(sent), int(used), int(cancelled)) for area, note, sent, used, cancelled in rows]
    assert ("North", 3, 1, 1) in [(area, sent, used, cancelled) for _n, area, sent, used, cancelled in figures]
    replacements = [f for f in figures if "replacements" in f[0]]
    assert [(area, sent, used, cancelled) for _n, area, sent, used, cancelled in replacements] == [("North", 1, 1, 0)]
    # The returning officer's page still says a letter was cancelled, though publication
    # rewrote the codes' records (it said 0, from the rewritten rows, found by a review).
    officer_table = officer_client.get(f"{base}/codes").get_data(as_text=True).split("<tbody>")[1]
    cells = re.findall(r"<td>(\d+)</td><td>(\d+)</td></tr>", officer_table)
    assert ("3", "1") in cells
    for action in ("codes.replaced", "codes.letter_cancelled"):
        [event] = events(db, ids["round"], action)
        assert replacement not in event.data
        assert lost not in event.data  # counts, never codes or letters


def test_a_lead_never_receives_a_code_on_any_page_or_export(app, db, people):
    """Every page and export the convening lead can reach from their dashboard, through a
    round in voting and a published one, is crawled: no voting code appears on any."""
    ids = voting_round(app, db, codes=4)
    with db(write=False) as session:
        round_ = session.get(Round, ids["round"])
    officer_client = signed_in(app, OFFICER)
    made = officer_client.submit(f"/rounds/{ids['round']}/codes", {"area": ids["areas"]["South"], "count": "2"})
    codes = set(ids["codes"]) | set(re.findall(r'class="code">([0-9A-Z-]{14})<', made.get_data(as_text=True)))
    assert len(codes) == 6
    bare = {c.replace("-", "") for c in codes}
    lead = signed_in(app, LEAD)
    seen, queue = set(), ["/dashboard", f"/rounds/{round_.id}/manage", f"/rounds/{round_.id}"]
    while queue and len(seen) < 400:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = lead.get(url)
        body = response.get_data(as_text=True)
        response.close()  # files are streamed: let go of them
        assert not any(code in body for code in codes), url
        assert not any(code in body for code in bare), url
        if response.mimetype == "text/html":
            for link in re.findall(r'href="(/[^"#]*)"', body):
                link = link.replace("&amp;", "&")
                if not link.startswith(("/static", "/sign-out")) and link not in seen:
                    queue.append(link)
    assert lead.get(f"/rounds/{round_.id}/codes").status_code == 403
    assert len(seen) > 20


# ---------------------------------------------------------------- the timeline from cron


def test_pb_rounds_advance_closes_and_counts_a_round_whose_time_has_come(app, db, people):
    from pb.cli import main

    ids = voting_round(app, db, methods=("declared",))
    nothing = app.test_cli_runner().invoke(main, ["rounds", "advance"])
    assert nothing.exit_code == 0
    assert "round" not in nothing.output  # nothing due
    pass_the_closing_time(db, ids["round"])
    result = app.test_cli_runner().invoke(main, ["rounds", "advance"])
    assert result.exit_code == 0
    assert f"round {ids['round']}: closed" in result.output
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "counted"
    [move] = [e for e in events(db, ids["round"], "round.phase_changed") if '"to":"closed"' in e.data]
    assert '"by":"timeline"' in move.data


# ---------------------------------------------------------------- no import cycle


def _imports(path: Path, package_root: Path) -> set[str]:
    """Every pb module a file imports, at the top or inside functions."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pb.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pb"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _path(graph, start):
    """One import cycle from `start` back to it, for the message."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for following in sorted(graph[path[-1]]):
            if following == start:
                return " -> ".join([*path, start])
            if following not in seen:
                seen.add(following)
                paths.append([*path, following])
    return ""


def test_no_import_cycle_among_the_domain_services():
    """pb.lifecycle sits above the services; the services (rounds, proposals, voting,
    results, delivery, accounts, reports) and what they import form no cycle, counting
    imports inside functions too."""
    root = Path(__file__).resolve().parents[1]
    modules = {}
    for path in (root / "pb").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        if path.name == "__init__.py":
            continue  # packages only wire the app together (create_app, configure_*)
        modules[".".join(path.relative_to(root).with_suffix("").parts)] = path
    graph = {name: {m for m in _imports(path, root) if m in modules and m != name} for name, path in modules.items()}
    services = {name for name in modules if name.endswith(".services") or name == "pb.lifecycle"}
    assert {"pb.rounds.services", "pb.voting.services", "pb.results.services", "pb.proposals.services"} <= services

    def reachable(start):
        seen, stack = set(), [start]
        while stack:
            for following in graph[stack.pop()]:
                if following not in seen:
                    seen.add(following)
                    stack.append(following)
        return seen

    cycles = {name: _path(graph, name) for name in sorted(services) if name in reachable(name)}
    assert not cycles, f"import cycles through: {cycles}"
    assert "pb.lifecycle" not in set().union(*(reachable(name) for name in services - {"pb.lifecycle"}))


def test_the_demo_has_a_round_open_for_voting_and_its_codes_are_shown_again(app, db):
    from pb.cli import main

    loaded = app.test_cli_runner().invoke(main, ["demo"])
    assert loaded.exit_code == 0, loaded.output
    codes = re.findall(r"^  ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})$", loaded.output, re.M)
    assert len(codes) == 15  # ten to vote in the open round, five for verdicts
    round_id = int(re.search(r"round (\d+): vote at /rounds/\d+/vote", loaded.output).group(1))
    resident = FormClient(app)
    assert (
        resident.submit(
            f"/rounds/{round_id}/vote/code", {"code": codes[0]}, page=f"/rounds/{round_id}/vote"
        ).status_code
        == 302
    )
    from pb.rounds.models import Contest

    with db(write=False) as session:
        contest = session.exec(select(Contest).where(Contest.round_id == round_id)).one()
        project = session.exec(select(Project.id).where(Project.contest_id == contest.id)).first()
    cast = resident.submit(f"/rounds/{round_id}/vote/{contest.id}", {"project": str(project), "confirm": "1"})
    assert cast.status_code == 302  # the code is spent by its first ballot
    again = app.test_cli_runner().invoke(main, ["demo-codes"])
    assert again.exit_code == 0
    assert f"{codes[0]} (used)" in again.output
    assert f"{codes[1]} (used)" not in again.output
    with db(write=False) as session:
        round_ = session.get(Round, round_id)
        assert round_.phase == "voting"
        assert round_.returning_officer_id is not None


def test_nobody_who_funds_the_round_helps_at_the_polls_or_stays_returning_officer(app, db, people, make_user):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes", "paper"))
    make_user("lead@nhs.example", organisation="Eastshire NHS Trust", kind="anchor")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        officer(session, round_, LEAD)
    officer_client = signed_in(app, OFFICER)
    refused = officer_client.submit(f"/rounds/{ids['round']}/helpers", {"email": LEAD})
    assert refused.status_code == 400
    assert "cannot belong to an anchor that funds" in refused.get_data(as_text=True)
    # An anchor the officer belongs to cannot then be invited to fund the round.
    from pb.accounts import services as accounts
    from pb.accounts.models import Organisation
    from pb.rounds import services as rounds

    with app.test_request_context(), db() as session:
        trust = session.exec(select(Organisation).where(Organisation.name == "Eastshire NHS Trust")).one()
        accounts.add_member(
            session, actor=user(session, "lead@nhs.example"), organisation=trust, user=user(session, OFFICER)
        )
    lead = signed_in(app, LEAD)
    invited = lead.submit(f"/rounds/{ids['round']}/partners", {"organisation": trust.id})
    assert invited.status_code == 400
    assert "returning officer belongs to" in invited.get_data(as_text=True)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        assert rounds.is_returning_officer(session, round_, user(session, OFFICER))


def test_voting_cannot_be_opened_and_closed_before_residents_could_vote(app, db, people):
    from tests.factories import eligible_proposals

    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",))
    eligible_proposals(app, db, ids["round"], screener=LEAD, member=MEMBER, group=GROUP)
    lead = signed_in(app, LEAD)
    base = f"/rounds/{ids['round']}"
    soon = (now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    refused = lead.submit(f"{base}/timeline", {"voting_closes_at": soon})
    assert refused.status_code == 400
    assert "at least a day" in refused.get_data(as_text=True)
    # A closing time that has come close meanwhile blocks opening as well.
    with db() as session:
        session.exec(
            update(Round)
            .where(Round.id == ids["round"])
            .values(
                screening_at=now() - timedelta(minutes=10),
                voting_opens_at=now() - timedelta(minutes=5),
                voting_closes_at=now() + timedelta(hours=1),
            )
        )
    assert lead.get(base).status_code == 200
    page = lead.get(f"{base}/manage").get_data(as_text=True)
    assert "at least a day" in page
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).phase == "screening"
