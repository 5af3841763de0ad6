"""The terms a ballot paper is counted with (budget, rule, kind of ballot, projects and
their costs) are recorded in the audit log as voting opens, and `pb audit verify` checks
the counted file and the database against them. Found by an attacker's review: the
operator (or a funder) with pb's own database account, every trigger in place, could cut
a pot, make a project dearer or change the rule during voting, or change what the results
pages show after publication, and nothing noticed.

The round: ballot paper North, greedy, one pot of 50,000; three projects (12,000, 8,500
and 6,000), each voted for by three residents with letter codes (so all three are funded).
"""

import json

import pytest
from sqlalchemy import text
from sqlmodel import select

from pb.cli import main
from pb.proposals.models import Project
from pb.results.models import ContestResult
from pb.voting.models import Ballot
from tests.conftest import FormClient
from tests.factories import make_codes, make_round, open_voting, publish

LEAD, MEMBER, GROUP = "lead@council.example", "chair@park.example", "Friends of the Park"


@pytest.fixture
def voting(app, db, make_user):
    """A round in voting: every North project ticked by every one of three residents."""
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=3)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    north = ids["contests"]["North"]
    with db(write=False) as session:
        ids["north"] = list(session.exec(select(Project.id).where(Project.contest_id == north).order_by(Project.id)))
    start = f"/rounds/{ids['round']}/vote"
    for code in codes:
        resident = FormClient(app)
        assert resident.submit(f"{start}/code", {"code": code}, page=start).status_code == 302
        picks = [str(p) for p in ids["north"]]
        assert resident.submit(f"{start}/{north}", {"project": picks, "confirm": "1"}).status_code == 302
    with db(write=False) as session:
        ids["receipts"] = list(session.exec(select(Ballot.receipt).where(Ballot.contest_id == north)))
    assert len(ids["receipts"]) == 3
    return ids


def plain_sql(db, sql: str, **params) -> None:
    """What the database account pb uses may do, every trigger in place."""
    with db() as session:
        session.exec(text(sql), params=params)


def verify(app, round_id: int):
    return app.test_cli_runner().invoke(main, ["audit", "verify", str(round_id)])


def funded(db, contest_id: int) -> set[int]:
    with db(write=False) as session:
        result = session.exec(select(ContestResult).where(ContestResult.contest_id == contest_id)).one()
        return {int(p) for p in json.loads(result.outcome)["selected"]}


def _cut_the_pot(db, ids):
    plain_sql(db, "UPDATE pot SET amount = :a WHERE contest_id = :c", a=13_000_00, c=ids["contests"]["North"])


def _dearer_project(db, ids):
    plain_sql(db, "UPDATE project SET cost = :c WHERE id = :i", c=45_000_00, i=ids["north"][0])


def _another_rule(db, ids):
    plain_sql(db, "UPDATE contest SET rule = :r WHERE id = :i", r="equalshares/add1", i=ids["contests"]["North"])


def test_an_untouched_round_verifies(app, db, voting):
    publish(app, db, voting["round"], LEAD)
    checked = verify(app, voting["round"])
    assert checked.exit_code == 0, checked.output


@pytest.mark.parametrize(
    "change, named",
    [(_cut_the_pot, "budget"), (_dearer_project, "projects"), (_another_rule, "rule")],
    ids=["cut_the_pot", "dearer_project", "another_rule"],
)
def test_terms_changed_in_the_database_during_voting_are_caught(app, db, voting, change, named):
    """A pot cut (or a project made dearer) before the close funds another set, and the
    ballot file, its SHA-256 in the count's event and a recount all agree with each other:
    only the terms recorded at the opening tell."""
    before = set(voting["north"])
    change(db, voting)
    publish(app, db, voting["round"], LEAD)
    if change is not _another_rule:
        assert funded(db, voting["contests"]["North"]) != before  # the change mattered
    checked = verify(app, voting["round"])
    assert checked.exit_code == 1, checked.output
    assert f"the counted ballot file's {named}" in checked.output


@pytest.mark.parametrize("change", [_cut_the_pot, _dearer_project], ids=["cut_the_pot", "dearer_project"])
def test_results_pages_facts_changed_after_publication_are_caught(app, db, voting, change):
    """After publication the results pages read the budget and costs from the live rows: a
    pot cut (promise 1: a pledge is never reduced) or a cost changed shows there, and
    `pb audit verify` now says so."""
    publish(app, db, voting["round"], LEAD)
    north = voting["contests"]["North"]
    client = FormClient(app)
    shown = client.get(f"/rounds/{voting['round']}/results/{north}").get_data(as_text=True)
    change(db, voting)
    assert client.get(f"/rounds/{voting['round']}/results/{north}").get_data(as_text=True) != shown
    checked = verify(app, voting["round"])
    assert checked.exit_code == 1, checked.output
    assert "in the database are not what was recorded when voting opened" in checked.output


def test_a_title_with_a_line_break_does_not_raise_a_false_alarm(app, db, make_user):
    """The ballot file writes a line break in a title as a space; the recorded terms say the
    title as the file writes it, so an untouched round still verifies."""
    from sqlalchemy import update

    from pb.proposals.models import Proposal
    from tests import factories

    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)
    factories.eligible_proposals(app, db, ids["round"], screener=LEAD, member=MEMBER, group=GROUP, per_contest=2)
    with db() as session:
        session.exec(
            update(Proposal).where(Proposal.contest_id == ids["contests"]["North"]).values(title="Benches\nby the pond")
        )
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP, per_contest=0)
    publish(app, db, ids["round"], LEAD)
    file = FormClient(app).get(f"/rounds/{ids['round']}/results/{ids['contests']['North']}/ballots.pb")
    assert "Benches by the pond" in file.get_data(as_text=True)
    checked = verify(app, ids["round"])
    assert checked.exit_code == 0, checked.output


def _standalone(app, tmp_path, round_id, contest_id, ballot_file: bytes):
    """The standalone verifier, as anyone runs it, given the export and a ballot file."""
    import subprocess
    import sys
    from pathlib import Path

    verifier = Path(__file__).resolve().parents[1] / "static" / "pb-verify-audit.py"
    export = tmp_path / f"round-{round_id}.jsonl"
    export.write_bytes(FormClient(app).get(f"/rounds/{round_id}/audit.jsonl").get_data())
    ballots = tmp_path / f"contest-{contest_id}.pb"
    ballots.write_bytes(ballot_file)
    args = [sys.executable, str(verifier), str(export), "--ballots", f"{contest_id}={ballots}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_the_standalone_verifier_checks_the_terms_of_a_ballot_file(app, db, voting, tmp_path):
    """Anyone holding the export and the published ballot file can tell that the file was
    counted with other terms than those recorded as voting opened (here a project made
    dearer during voting: the file's hash is the count's, so only the terms tell)."""
    north = voting["contests"]["North"]
    _dearer_project(db, voting)
    publish(app, db, voting["round"], LEAD)
    published = FormClient(app).get(f"/rounds/{voting['round']}/results/{north}/ballots.pb").get_data()
    checked = _standalone(app, tmp_path, voting["round"], north, published)
    assert checked.returncode == 1, checked.stdout
    assert f"the ballot file given for ballot paper {north} says other projects" in checked.stdout


def test_the_standalone_verifier_passes_the_demos_ballot_files_with_their_terms(app, tmp_path):
    """Every published ballot paper of the demo (approval and points; its ranked paper is in a
    round still voting) passes, terms included: no false alarm."""
    from pb.db import session_scope
    from pb.results.models import ContestResult
    from pb.rounds.models import Contest, Round

    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    with app.app_context(), session_scope(write=False) as session:
        papers = session.exec(
            select(Contest.round_id, Contest.id, Contest.ballot_kind)
            .join(Round, Round.id == Contest.round_id)
            .join(ContestResult, ContestResult.contest_id == Contest.id)
            .where(Round.phase.in_(("results_published", "delivery", "archived")))
        ).all()
    assert {kind for _round, _contest, kind in papers} >= {"approval", "points"}
    for round_id, contest_id, _kind in papers:
        published = FormClient(app).get(f"/rounds/{round_id}/results/{contest_id}/ballots.pb").get_data()
        checked = _standalone(app, tmp_path, round_id, contest_id, published)
        assert checked.returncode == 0, (round_id, contest_id, checked.stdout)
        assert "and says the budget, rule and projects recorded when voting opened" in checked.stdout


def test_a_round_with_a_ranked_paper_verifies_with_its_terms(app, db, make_user):
    """A ranked paper's terms (ordinal, its rank depth as max_length) are recorded as its
    file writes them: an untouched round verifies."""
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", south_ballot="ranked")
    codes = make_codes(app, db, ids["round"], ids["areas"]["South"], count=1)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    south = ids["contests"]["South"]
    with db(write=False) as session:
        projects = list(session.exec(select(Project.id).where(Project.contest_id == south).order_by(Project.id)))
    resident = FormClient(app)
    start = f"/rounds/{ids['round']}/vote"
    assert resident.submit(f"{start}/code", {"code": codes[0]}, page=start).status_code == 302
    ranks = {f"rank_{pid}": str(n) for n, pid in enumerate(projects[:2], start=1)}
    response = resident.submit(f"{start}/{south}", {**ranks, "confirm": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    publish(app, db, ids["round"], LEAD)
    with db(write=False) as session:
        result = session.exec(select(ContestResult).where(ContestResult.contest_id == south)).one()
    assert "vote_type;ordinal" in result.ballot_file
    checked = verify(app, ids["round"])
    assert checked.exit_code == 0, checked.output


def test_terms_recorded_again_are_caught(app, db, voting, tmp_path):
    """Someone able to write to the log could record other terms after the opening; the
    first recording is the one that counts, and a second is reported by both verifiers."""
    from pb.audit.chain import record_event
    from pb.results.services import TERMS_FROZEN, paper_terms
    from pb.rounds.models import Contest, Round

    north = voting["contests"]["North"]
    _dearer_project(db, voting)
    with app.test_request_context(), db() as session:
        round_ = session.get_one(Round, voting["round"])
        terms = paper_terms(session, round_, session.get_one(Contest, north))
        record_event(session, TERMS_FROZEN, round_id=round_.id, data={"contests": [{"contest": north, **terms}]})
    publish(app, db, voting["round"], LEAD)
    checked = verify(app, voting["round"])
    assert checked.exit_code == 1, checked.output
    assert "records the terms of the ballot papers 2 times" in checked.output
    published = FormClient(app).get(f"/rounds/{voting['round']}/results/{north}/ballots.pb").get_data()
    standalone = _standalone(app, tmp_path, voting["round"], north, published)
    assert standalone.returncode == 1, standalone.stdout
    assert "records the ballot papers' terms again" in standalone.stdout
