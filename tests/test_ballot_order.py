"""The order of the projects on each ballot paper: drawn when voting opens from a fresh
seed, recorded in the round's public audit log, re-checkable by anyone with a few lines of
their own, and then the one order of the ballot page, the review page, the results and the
published ballot file (whose order breaks ties in the count).

The draw is re-derived here with this file's own code, as the "Recount it yourself" page
tells the public to, never with the app's function.
"""

import ast
import csv
import hashlib
import html
import io
import json
import re
import subprocess
import sys

import pytest
from sqlmodel import select

from pb.proposals.models import Project
from pb.rounds.models import Contest
from pb.voting import services as voting
from pb.voting.models import Voter
from tests.conftest import FormClient
from tests.factories import close_voting, declare, make_round, open_voting

PASSWORD = "correct horse battery"


def redraw(seed: str, proposal_ids) -> list[int]:
    """Sort proposal numbers by the SHA-256 of "SEED:NUMBER" in hexadecimal, smallest first."""
    return sorted(proposal_ids, key=lambda number: hashlib.sha256(f"{seed}:{number}".encode()).hexdigest())


def audited_draw(client, round_id: int) -> dict:
    """The draw as anyone reads it: the one event of its kind in the round's public audit log."""
    response = client.get(f"/rounds/{round_id}/audit.csv?action=ballot.order_drawn")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1
    return json.loads(rows[0]["data"])


def projects_section(ballot_file: str) -> list[int]:
    """The project ids in the order a Pabulib file's PROJECTS section lists them."""
    section = ballot_file.split("\nPROJECTS\n", 1)[1].split("\nVOTES\n", 1)[0]
    rows = list(csv.reader(io.StringIO(section), delimiter=";"))
    assert rows[0][0] == "project_id"
    return [int(row[0]) for row in rows[1:]]


@pytest.fixture
def opened(app, db, make_user):
    """A round with six proposals on each of two ballot papers (one ranked), voting open."""
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(
        app,
        db,
        convener="lead@council.example",
        anchor="Eastshire Council",
        methods=("declared",),
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
        per_contest=6,
    )
    with db(write=False) as session:
        ids["proposals_of"] = {
            area: sorted(p.proposal_id for p in session.exec(select(Project).where(Project.contest_id == cid)))
            for area, cid in ids["contests"].items()
        }
        ids["project_of"] = {p.proposal_id: p.id for p in session.exec(select(Project))}
    return ids


def test_opening_voting_draws_an_order_that_anyone_can_check(app, db, opened, client):
    draw = audited_draw(client, opened["round"])
    assert re.fullmatch(r"[0-9a-f]{32}", draw["seed"])
    assert {c["contest"] for c in draw["contests"]} == set(opened["contests"].values())
    drawn_orders = []
    for area, contest_id in opened["contests"].items():
        [recorded] = [c for c in draw["contests"] if c["contest"] == contest_id]
        expected = redraw(draw["seed"], opened["proposals_of"][area])
        assert recorded["proposals"] == expected
        assert recorded["projects"] == [opened["project_of"][p] for p in expected]
        with db(write=False) as session:
            stored = session.exec(
                select(Project).where(Project.contest_id == contest_id).order_by(Project.ballot_position)
            ).all()
        assert [p.proposal_id for p in stored] == expected
        assert [p.ballot_position for p in stored] == list(range(1, 7))
        drawn_orders.append(expected)
    # Drawn, not the order of proposal numbers (a chance of 1 in 518,400 of failing wrongly).
    assert any(order != sorted(order) for order in drawn_orders)

    # The audit log names it in words, and the recount page shows the seed and the orders.
    log = client.get(f"/rounds/{opened['round']}/audit").get_data(as_text=True)
    assert "Order of the projects on the ballot drawn" in log


def test_the_ballot_and_review_pages_follow_the_drawn_order(app, db, opened):
    order = {
        area: [opened["project_of"][p] for p in redraw(audited_draw(FormClient(app), opened["round"])["seed"], ids)]
        for area, ids in opened["proposals_of"].items()
    }
    resident = FormClient(app)
    start = f"/rounds/{opened['round']}/vote"
    assert declare(resident, opened["round"], "LS6 1AA").status_code == 302
    url = f"{start}/{opened['contests']['North']}"
    page = resident.get(url).get_data(as_text=True)
    assert [int(n) for n in re.findall(r'id="project-(\d+)"', page)] == order["North"]
    assert "drawn at random when voting opened" in page
    # The review lists the chosen projects in the same order, whatever order they were ticked in.
    picked = [order["North"][4], order["North"][0], order["North"][2]]
    review = resident.submit(url, {"project": picked}).get_data(as_text=True)
    with db(write=False) as session:
        titles = {p.id: p.title for p in session.exec(select(Project))}
    listed = review.split("You chose:", 1)[1].split("</ul>", 1)[0]
    positions = [listed.index(html.escape(titles[pid])) for pid in sorted(picked, key=order["North"].index)]
    assert positions == sorted(positions)


def test_the_published_ballot_file_lists_the_projects_in_the_audited_order(app, db, opened, client):
    with app.test_request_context(), db() as session:
        for area in ("North", "South"):
            contest = session.get(Contest, opened["contests"][area])
            projects = sorted(opened["project_of"][p] for p in opened["proposals_of"][area])
            for n in range(8):
                voter = Voter(
                    round_id=opened["round"], area_id=opened["areas"][area], method="declared", identity=f"{area}{n}"
                )
                session.add(voter)
                session.flush()
                picks = [projects[n % 6], projects[(n + 1) % 6]]
                voting.cast_ballot(
                    session,
                    voter,
                    contest,
                    {pid: (None if area == "North" else rank) for rank, pid in enumerate(picks, start=1)},
                )
    lead = FormClient(app)
    lead.sign_in("lead@council.example", PASSWORD)
    close_voting(app, db, opened["round"])  # time passes: voting closes at its published time
    assert lead.submit(f"/rounds/{opened['round']}/phase", {"confirm": "y"}).status_code == 302  # publish

    draw = audited_draw(client, opened["round"])
    seed = draw["seed"]
    recount_page = client.get(f"/rounds/{opened['round']}/results/recount").get_data(as_text=True)
    assert seed in recount_page
    assert "SHA-256" in recount_page
    # The page's own few lines redraw the first ballot paper's order from the seed.
    redraw_program = re.search(
        r'aria-label="To draw the order again"><code>(.*?)</code></pre>', recount_page, re.S
    ).group(1)
    ran = subprocess.run(
        [sys.executable, "-c", html.unescape(redraw_program)], capture_output=True, text=True, timeout=60
    )
    assert ast.literal_eval(ran.stdout.strip()) == draw["contests"][0]["proposals"]
    for area, contest_id in opened["contests"].items():
        expected = [opened["project_of"][p] for p in redraw(seed, opened["proposals_of"][area])]
        base = f"/rounds/{opened['round']}/results/{contest_id}"
        assert projects_section(client.get(f"{base}/ballots.pb").get_data(as_text=True)) == expected
        rows = list(
            csv.DictReader(io.StringIO(client.get(f"{base}/results.csv").get_data(as_text=True).lstrip("\ufeff")))
        )
        assert [int(row["project_id"]) for row in rows] == expected
        published = json.loads(client.get(f"{base}/results.json").get_data(as_text=True))
        assert [p["project_id"] for p in published["projects"]] == expected
