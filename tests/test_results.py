"""Count at close, publication, open data that recounts to the same result (with pb.tally
and with pabutools), receipts, and refusal of any other count."""

import hashlib
import json
import random
import re

import pytest
from pabutools.election import Cost_Sat, parse_pabulib
from pabutools.rules import method_of_equal_shares
from sqlmodel import select

from pb.audit.models import AuditEvent, chain_key
from pb.proposals.models import Project
from pb.results import services as results
from pb.results.models import ContestResult
from pb.rounds.models import Contest, Round
from pb.tally import count, parse_pabulib as pb_parse
from pb.voting import services as voting
from pb.voting.models import Voter
from tests.conftest import FormClient
from tests.factories import make_round, open_voting

PASSWORD = "correct horse battery"


@pytest.fixture
def finished(app, db, make_user):
    """A round whose two contests (approval with equal shares/add1, ranked with greedy)
    got 120 ballots, one voter replacing theirs; voting still open."""
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("postcode",),
                     south_ballot="ranked", north_rule="equalshares/add1")
    open_voting(app, db, ids, convener="lead@council.example", screener="lead@council.example",
                member="chair@park.example", group="Friends of the Park", per_contest=6)
    rng = random.Random(7)
    ids["receipts"] = {}
    with app.test_request_context(), db() as session:
        for area in ("North", "South"):
            contest = session.get(Contest, ids["contests"][area])
            projects = [p.id for p in session.exec(select(Project).where(Project.contest_id == contest.id).order_by(Project.id))]
            weights = [9, 7, 5, 4, 2, 1]
            for n in range(60):
                voter = Voter(round_id=ids["round"], area_id=ids["areas"][area], method="postcode", identity=f"{area}{n}")
                session.add(voter)
                session.flush()
                picks = []
                while len(picks) < (3 if area == "North" else rng.randint(1, 3)):
                    pid = rng.choices(projects, weights)[0]
                    if pid not in picks:
                        picks.append(pid)
                choices = {pid: (None if area == "North" else rank) for rank, pid in enumerate(picks, start=1)}
                ballot = voting.cast_ballot(session, voter, contest, choices)
                ids["receipts"].setdefault(area, []).append(ballot.receipt)
                if area == "North" and n == 0:  # the first North voter changes their mind
                    ids["superseded"] = ballot.receipt
                    ids["receipts"]["North"].pop()
                    ids["receipts"]["North"].append(voting.cast_ballot(session, voter, contest, {projects[5]: None, projects[4]: None, projects[3]: None}).receipt)
    return ids


def lead_client(app):
    lead = FormClient(app)
    lead.sign_in("lead@council.example", PASSWORD)
    return lead


def move_on(lead, ids):
    response = lead.submit(f"/rounds/{ids['round']}/phase", {}, page=f"/rounds/{ids['round']}/manage")
    assert response.status_code == 302


def stored(db):
    with db(write=False) as session:
        return {r.contest_id: r for r in session.exec(select(ContestResult))}


def test_closing_counts_with_the_frozen_rules_and_results_wait_for_publication(app, db, finished, client):
    lead = lead_client(app)
    base = f"/rounds/{finished['round']}"
    move_on(lead, finished)  # close voting: the count follows at once
    with db() as session:
        assert session.get(Round, finished["round"]).phase == "counted"
        counted = [json.loads(e.data) for e in session.exec(select(AuditEvent).where(
            AuditEvent.chain == chain_key(finished["round"]), AuditEvent.action == "round.counted"))]
    assert len(counted) == 1 and len(counted[0]["contests"]) == 2
    results_by_contest = stored(db)
    assert {r.rule for r in results_by_contest.values()} == {"equalshares/add1", "greedy"}
    assert results_by_contest[finished["contests"]["North"]].ballots == 60

    # Counted, but nobody sees anything before publication: not the public, not the lead.
    north = finished["contests"]["North"]
    for who in (client, lead):
        for url in (f"{base}/results", f"{base}/results/{north}", f"{base}/results/{north}/ballots.pb",
                    f"{base}/results/{north}/results.json", f"{base}/results/recount", f"{base}/results/receipt"):
            assert who.get(url).status_code == 404, url

    move_on(lead, finished)  # publish
    page = client.get(f"{base}/results").get_data(as_text=True)
    assert "60 ballots" in page
    assert "<svg" in page and "role=\"img\"" in page


def publish(app, db, ids):
    lead = lead_client(app)
    move_on(lead, ids)
    move_on(lead, ids)
    return lead


@pytest.mark.parametrize("area", ["North", "South"])
def test_published_ballots_recount_to_the_same_funded_set(app, db, finished, client, tmp_path, area):
    publish(app, db, finished)
    contest_id = finished["contests"][area]
    base = f"/rounds/{finished['round']}/results/{contest_id}"
    text = client.get(f"{base}/ballots.pb").get_data(as_text=True)
    published = json.loads(client.get(f"{base}/results.json").get_data(as_text=True))
    assert hashlib.sha256(text.encode()).hexdigest() == published["ballot_file_sha256"]
    assert published["ballot_file_sha256"] in client.get(base).get_data(as_text=True)

    election = pb_parse(text)
    assert len(election.ballots) == 60
    recounted = count(election)  # with the file's own rule, as `pb tally` does
    assert [int(pid) for pid in recounted.selected] == published["selected"]
    assert election.selected_in_file() == [str(pid) for pid in published["selected"]] or set(
        election.selected_in_file()) == {str(pid) for pid in published["selected"]}

    if area == "North":  # and independently, with pabutools (exhaustive add1 = voter budget +1 at a time)
        path = tmp_path / "north.pb"
        path.write_text(text)
        instance, profile = parse_pabulib(str(path))
        funded = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, voter_budget_increment=1)
        assert {int(p.name) for p in funded} == set(published["selected"])

    # Anonymised: no receipt, no voter number from the database, in the file.
    assert not any(receipt in text for receipt in finished["receipts"][area])
    voter_ids = [line.split(";")[0] for line in text.split("VOTES\n", 1)[1].splitlines()[1:]]
    assert voter_ids == [str(n) for n in range(1, 61)]


def test_counting_twice_gives_byte_identical_files(app, db, finished):
    publish(app, db, finished)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, finished["round"])
        for contest_id, result in stored(db).items():
            again, _outcome = results.ballot_file(session, round_, session.get(Contest, contest_id), result.shuffle_seed)
            assert again == result.ballot_file
    lead = lead_client(app)
    response = lead.submit(f"/rounds/{finished['round']}/recount", {}, page=f"/rounds/{finished['round']}/manage", follow_redirects=True)
    assert "came out exactly the same" in response.get_data(as_text=True)


def test_recounting_with_another_rule_or_changing_ballots_is_refused_and_logged(app, db, finished):
    lead = lead_client(app)
    move_on(lead, finished)
    before = {cid: r.file_sha256 for cid, r in stored(db).items()}
    token = lead.csrf_token(f"/rounds/{finished['round']}/manage")
    response = lead.post(f"/rounds/{finished['round']}/recount", data={"rule": "greedy", "csrf_token": token})
    assert response.status_code == 303
    with db() as session:
        refused = [json.loads(e.data) for e in session.exec(select(AuditEvent).where(AuditEvent.action == "round.change_refused"))]
    assert refused and refused[-1]["attempted"] == "recount.other_rule"
    assert {cid: r.file_sha256 for cid, r in stored(db).items()} == before

    # No ballot can be cast or replaced once voting has closed.
    with app.test_request_context(), db() as session, pytest.raises(voting.VotingClosed):
        voter = session.exec(select(Voter)).first()
        voting.cast_ballot(session, voter, session.get(Contest, finished["contests"]["North"]), {})
    assert {cid: r.file_sha256 for cid, r in stored(db).items()} == before


def test_receipt_check(app, db, finished, client):
    publish(app, db, finished)
    url = f"/rounds/{finished['round']}/results/receipt"
    counted = finished["receipts"]["North"][3]
    page = client.submit(url, {"receipt": counted.lower()}).get_data(as_text=True)
    assert "Your ballot was counted." in page
    page = client.submit(url, {"receipt": finished["superseded"]}).get_data(as_text=True)
    assert "replaced by a later one" in page
    page = client.submit(url, {"receipt": "ZZZZZ-ZZZZZ"}).get_data(as_text=True)
    assert "found no ballot" in page
    receipts = client.get(f"/rounds/{finished['round']}/results/{finished['contests']['North']}/receipts.txt").get_data(as_text=True)
    assert counted in receipts and finished["superseded"] not in receipts


def test_results_pages_explain_each_project_and_attribute_pots(app, db, finished, client):
    publish(app, db, finished)
    contest_id = finished["contests"]["North"]
    page = client.get(f"/rounds/{finished['round']}/results/{contest_id}").get_data(as_text=True)
    published = json.loads(client.get(f"/rounds/{finished['round']}/results/{contest_id}/results.json").get_data(as_text=True))
    assert published["selected"]
    assert "supporters paid" in page  # equal shares: what each group paid
    assert "Which pot pays for what" in page
    turnout = client.get(f"/rounds/{finished['round']}/results").get_data(as_text=True)
    assert re.search(r"North</td><td class=\"num\">60<", turnout)
    assert re.search(r"Online</td><td class=\"num\">120<", turnout)
