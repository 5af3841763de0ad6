"""Points (cumulative) ballots: the lead's contest form, the ballot page and its refusals
(through HTTP, on both backends), the count and its published cumulative Pabulib file,
recounted by pabutools alone, and the demo's points round."""

import ast
import json
import random
import re
from fractions import Fraction
from math import floor

import pytest
from pabutools.election import Additive_Cardinal_Sat, CardinalBallot, CardinalProfile, parse_pabulib
from pabutools.rules import BudgetAllocation, greedy_utilitarian_welfare
from pabutools.rules.mes import method_of_equal_shares_scheme
from pabutools.tiebreaking import TieBreakingRule
from sqlmodel import col, select

from pb.audit.models import AuditEvent, chain_key
from pb.proposals.models import Project
from pb.rounds.models import Contest, Round
from pb.voting.models import Ballot, BallotChoice
from tests.conftest import FormClient
from tests.factories import declare, make_round, open_voting, publish
from tests.test_results import published, run_program, run_programs

LEAD = "lead@council.example"
PASSWORD = "correct horse battery"


@pytest.fixture
def points(app, db, make_user):
    """A round in voting whose South ballot paper is a points ballot (10 points, at most 5
    on one project, counted greedily), with four projects on it."""
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",), south_ballot="points")
    open_voting(
        app,
        db,
        ids,
        convener=LEAD,
        screener=LEAD,
        member="chair@park.example",
        group="Friends of the Park",
        per_contest=4,
    )
    with db() as session:
        contest = session.get_one(Contest, ids["contests"]["South"])
        assert (contest.ballot_kind, contest.points_total, contest.points_max) == ("points", 10, 5)
        ids["projects"] = [
            p.id for p in session.exec(select(Project).where(Project.contest_id == contest.id).order_by(Project.id))
        ]
    return ids


def paper_url(ids) -> str:
    return f"/rounds/{ids['round']}/vote/{ids['contests']['South']}"


def resident(app, ids) -> FormClient:
    client = FormClient(app)
    assert declare(client, ids["round"], "LS11 9ZZ").status_code == 302
    return client


def points_of(ids, given: dict[int, str]) -> dict[str, str]:
    return {f"points_{pid}": value for pid, value in given.items()}


def cast(client, ids, data) -> object:
    """Fill in the ballot paper, review it and cast it; the last response."""
    review = client.submit(paper_url(ids), data)
    if review.status_code != 200 or "Check your vote" not in review.get_data(as_text=True):
        return review
    return client.submit(paper_url(ids), {**data, "confirm": "1"})


def ballots(db) -> list[Ballot]:
    with db(write=False) as session:
        return list(session.exec(select(Ballot).order_by(Ballot.id)))


def choices(db, ballot_id: int) -> dict[int, tuple]:
    with db(write=False) as session:
        return {
            c.project_id: (c.rank, c.points)
            for c in session.exec(select(BallotChoice).where(BallotChoice.ballot_id == ballot_id))
        }


# ---------------------------------------------------------------- the ballot page


def test_the_points_ballot_page_has_a_labelled_number_box_per_project(app, db, points):
    page = resident(app, points).get(paper_url(points)).get_data(as_text=True)
    assert "You have 10 points to share out between the projects you want, at most 5 on one project." in page
    for pid in points["projects"]:
        box = re.search(rf'<input[^>]*id="points_{pid}"[^>]*>', page).group(0)
        assert 'type="number"' in box
        assert 'inputmode="numeric"' in box
        assert 'min="0"' in box
        assert 'max="5"' in box
        assert f'<label for="points_{pid}">' in page
    assert 'aria-live="polite"' in page  # the running total, shown by the script
    assert "ballot.js" in page


def test_a_points_ballot_is_reviewed_cast_and_stored_with_its_points(app, db, points):
    first, second, third, _fourth = points["projects"]
    client = resident(app, points)
    data = points_of(points, {first: "5", second: "3", third: "0"})  # 0 is no points
    review = client.submit(paper_url(points), data)
    assert review.status_code == 200
    text = review.get_data(as_text=True)
    assert "5 points" in text
    assert "3 points" in text
    assert "You gave 8 of your 10 points." in text
    assert f'name="points_{third}"' not in text  # only the projects given points go on
    response = client.submit(paper_url(points), {**data, "confirm": "1"})
    assert response.status_code == 302
    assert client.get(response.headers["Location"]).status_code == 200  # the receipt
    [ballot] = ballots(db)
    assert choices(db, ballot.id) == {first: (None, 5), second: (None, 3)}
    # The ballot paper shows the current choices again, to change them.
    again = client.get(paper_url(points)).get_data(as_text=True)
    assert re.search(rf'id="points_{first}"[^>]*value="5"', again)


@pytest.mark.parametrize(
    "given, message",
    [
        ({0: "5", 1: "5", 2: "3"}, "You have 10 points; these add up to 13."),
        ({0: "6"}, "Give at most 5 points to one project."),
        ({0: "-1", 1: "4"}, "Give each project a whole number of points, or leave it blank."),
        ({0: "two"}, "Give each project a whole number of points, or leave it blank."),
        ({0: "2.5"}, "Give each project a whole number of points, or leave it blank."),
        ({0: "²"}, "Give each project a whole number of points, or leave it blank."),
        ({0: "9" * 5000}, "Give each project a whole number of points, or leave it blank."),
        ({0: "", 1: "0"}, "Give at least one point to a project."),
        ({0: "3", "elsewhere": "4"}, "Your ballot names a project that is not on this ballot paper."),
    ],
)
@pytest.mark.parametrize("step", ["review", "confirm"])
def test_a_bad_points_ballot_is_refused_with_a_clear_message_and_nothing_written(app, db, points, given, message, step):
    projects = points["projects"]
    with db(write=False) as session:  # a project on another ballot paper: North's
        elsewhere = session.exec(
            select(Project.id).where(Project.contest_id == points["contests"]["North"]).order_by(Project.id)
        ).first()
    data = {f"points_{elsewhere if key == 'elsewhere' else projects[key]}": value for key, value in given.items()}
    client = resident(app, points)
    if step == "confirm":  # the review page's hidden fields, sent back changed
        data["confirm"] = "1"
    response = client.submit(paper_url(points), data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'class="error-summary"' in page
    for key, value in given.items():  # the numbers typed are kept, to correct them
        if key != "elsewhere" and value:
            assert re.search(rf'id="points_{projects[key]}"[^>]*value="{re.escape(value)}"', page)
    assert ballots(db) == []


def test_a_points_ballot_within_the_rules_after_a_refusal_is_cast(app, db, points):
    first, second, *_rest = points["projects"]
    client = resident(app, points)
    assert cast(client, points, points_of(points, {first: "5", second: "6"})).status_code == 400
    assert cast(client, points, points_of(points, {first: "5", second: "5"})).status_code == 302
    [ballot] = ballots(db)
    assert choices(db, ballot.id) == {first: (None, 5), second: (None, 5)}


# ---------------------------------------------------------------- counting and recounting


def test_points_ballots_cast_through_http_are_published_as_cumulative_and_recount_with_pabutools(
    app, db, points, client, tmp_path
):
    projects = points["projects"]
    rng = random.Random(23)
    for _voter in range(9):
        given: dict[int, int] = {}
        for _point in range(rng.choice([10, 7, 4])):
            pid = rng.choices(projects, [6, 4, 3, 1])[0]
            if given.get(pid, 0) < 5:
                given[pid] = given.get(pid, 0) + 1
        response = cast(resident(app, points), points, points_of(points, {p: str(x) for p, x in given.items()}))
        assert response.status_code == 302
    publish(app, db, points["round"], LEAD)
    contest = points["contests"]["South"]
    result = published(client, points["round"], contest)
    text = client.get(f"/rounds/{points['round']}/results/{contest}/ballots.pb").get_data(as_text=True)
    meta = dict(line.split(";", 1) for line in text.split("\nPROJECTS\n")[0].splitlines()[2:])
    assert meta["vote_type"] == "cumulative"
    assert meta["max_sum_points"] == "10"
    assert meta["max_points"] == "5"
    assert meta["min_length"] == "1"
    assert meta["max_length"] == "4"  # four projects, each given at least one point
    assert text.split("\nVOTES\n")[1].splitlines()[0].split(";")[:3] == ["voter_id", "vote", "points"]

    path = tmp_path / "points.pb"
    path.write_text(text, encoding="utf-8")
    instance, profile = parse_pabulib(str(path))
    assert sum(len(ballot) for ballot in profile) > 0
    listed = [line.split(";")[0] for line in text.split("\nPROJECTS\n", 1)[1].split("\nVOTES\n", 1)[0].splitlines()[1:]]
    file_order = TieBreakingRule(lambda _instance, _profile, project: listed.index(project.name))
    instance.intersection_update({p for ballot in profile for p in ballot})  # pb funds no project without points
    # Greedy by points: pabutools' greedy takes satisfaction per unit of cost, so each point is worth the cost.
    by_points = CardinalProfile(
        [CardinalBallot({p: x * p.cost for p, x in ballot.items()}) for ballot in profile], instance=instance
    )
    funded = greedy_utilitarian_welfare(instance, by_points, sat_class=Additive_Cardinal_Sat, tie_breaking=file_order)
    assert {int(p.name) for p in funded} == set(result["selected"])
    assert result["selected"]
    # The scores on the results page are the points given.
    page = client.get(f"/rounds/{points['round']}/results/{contest}").get_data(as_text=True)
    for project in result["projects"]:
        if project["supporters"]:
            assert f"{project['score']} points from {project['supporters']} voter" in page
    assert "in order of how many points they got" in page
    assert run_program(client, points["round"], contest, tmp_path) == set(result["selected"])


def test_the_demo_points_round_publishes_a_cumulative_file_that_pabutools_recounts(app, db, client, tmp_path):
    from pb.cli import main
    from pb.demo import POINTS_ROUND

    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    with db(write=False) as session:
        round_ = session.exec(select(Round).where(Round.title == POINTS_ROUND)).one()
        [contest] = session.exec(select(Contest).where(Contest.round_id == round_.id)).all()
        assert round_.phase == "results_published"
        assert (contest.ballot_kind, contest.points_total, contest.points_max) == ("points", 10, 5)
        assert contest.rule == "equalshares/add1"
    result = published(client, round_.id, contest.id)
    text = client.get(f"/rounds/{round_.id}/results/{contest.id}/ballots.pb").get_data(as_text=True)
    path = tmp_path / "clean-air.pb"
    path.write_text(text, encoding="utf-8")

    # pabutools alone: the file's cumulative ballots, points as utilities, the Method of Equal
    # Shares raised one unit at a time from floor(budget / voters), ties to the project listed first.
    instance, profile = parse_pabulib(str(path))
    assert instance.meta["vote_type"] == "cumulative"
    assert (instance.meta["max_sum_points"], instance.meta["max_points"]) == ("10", "5")
    assert max(sum(ballot.values()) for ballot in profile) == 10
    assert max(max(ballot.values()) for ballot in profile) == 5
    assert any(sum(ballot.values()) < 10 for ballot in profile)  # not everyone spends every point
    listed = [p.name for p in instance.project_meta]
    ties = TieBreakingRule(lambda _instance, _profile, project: listed.index(project.name))
    instance.intersection_update({p for ballot in profile for p in ballot})
    start = floor(Fraction(instance.budget_limit) / profile.num_ballots())
    funded = method_of_equal_shares_scheme(
        instance,
        profile,
        profile.as_sat_profile(Additive_Cardinal_Sat),
        start,
        BudgetAllocation(),
        ties,
        voter_budget_increment=1,
        binary_sat=False,
    )
    assert {int(p.name) for p in funded} == set(result["selected"])
    assert 0 < len(result["selected"]) < len(result["projects"])  # the budget does not fund everything

    # And pb's own recount of its published results, with the audit chain, agrees.
    assert app.test_cli_runner().invoke(main, ["audit", "verify", str(round_.id)]).exit_code == 0
    with db(write=False) as session:
        [counted] = session.exec(
            select(AuditEvent).where(AuditEvent.chain == chain_key(round_.id), AuditEvent.action == "round.counted")
        ).all()
    assert counted is not None


def test_the_program_for_every_points_rule_agrees_with_the_count(tmp_path):
    """Each rule offered for points ballots, as the recount page prints its program, funds
    what pb.tally funds, on small seeded cumulative elections with ties and a project given
    no points."""
    from pb.results.programs import pabutools_snippet
    from pb.rounds.models import POINTS_RULES
    from pb.tally import count, make_election, write_pabulib

    expected, jobs = {}, []
    for seed in range(10):
        rng = random.Random(f"points-programs-{seed}")
        projects = [(str(n + 1), rng.choice([300, 600])) for n in range(rng.randint(4, 6))]
        ballots = []
        for _voter in range(rng.randint(3, 9)):
            given: dict[str, int] = {}
            for _point in range(rng.randint(1, 6)):
                pid = rng.choice(projects[:-1])[0]
                given[pid] = min(given.get(pid, 0) + 1, 3)
            ballots.append(given)
        election = make_election(
            budget=sum(cost for _, cost in projects) // 2, projects=projects, ballots=ballots, vote_type="cumulative"
        )
        name = f"election-{seed}.pb"
        (tmp_path / name).write_text(write_pabulib(election), encoding="utf-8")
        for rule in POINTS_RULES:
            expected[(seed, rule)] = sorted(int(pid) for pid in count(election, rule).selected)
            jobs.append((seed, rule, pabutools_snippet(rule, "points", name)))
    printed_by = run_programs(tmp_path, [program for _s, _r, program in jobs])
    for (seed, rule, _program), printed in zip(jobs, printed_by, strict=True):
        assert ast.literal_eval(printed.strip()) == expected[(seed, rule)], (seed, rule)


# ---------------------------------------------------------------- the lead's contest form


def contest_form(**overrides) -> dict:
    return {
        "name": "Points paper",
        "area": "0",
        "ballot_kind": "points",
        "min_picks": "1",
        "max_picks": "5",
        "rank_depth": "3",
        "points_total": "10",
        "points_max": "4",
        "rule": "equalshares/add1",
        **overrides,
    }


@pytest.fixture
def drafting(app, db, make_user):
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",))
    lead = FormClient(app)
    lead.sign_in(LEAD, PASSWORD)
    return ids, lead


def contests_named(db, name: str) -> list[Contest]:
    with db(write=False) as session:
        return list(session.exec(select(Contest).where(Contest.name == name)))


def test_a_lead_sets_up_a_points_ballot_paper(app, db, drafting):
    ids, lead = drafting
    url = f"/rounds/{ids['round']}/contests/new"
    form = lead.get(url).get_data(as_text=True)
    assert "Points: share out points between the projects" in form
    assert 'name="points_total"' in form
    assert lead.submit(url, contest_form()).status_code == 302
    [contest] = contests_named(db, "Points paper")
    assert (contest.ballot_kind, contest.points_total, contest.points_max) == ("points", 10, 4)
    page = lead.get(f"/rounds/{ids['round']}").get_data(as_text=True)
    assert "You have 10 points to share out between the projects you want, at most 4 on one project." in page
    with db(write=False) as session:
        [added] = session.exec(
            select(AuditEvent)
            .where(AuditEvent.chain == chain_key(ids["round"]), AuditEvent.action == "contest.added")
            .order_by(col(AuditEvent.seq))
        ).all()[-1:]
    assert json.loads(added.data)["points_total"] == 10
    # Changing it back to approval keeps the points as they were, unused.
    edit = f"/rounds/{ids['round']}/contests/{contest.id}"
    assert lead.submit(edit, contest_form(ballot_kind="approval", points_total="", points_max="")).status_code == 302
    [contest] = contests_named(db, "Points paper")
    assert (contest.ballot_kind, contest.points_total, contest.points_max) == ("approval", 10, 4)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"points_max": "11"}, "The most points on one project cannot be more than the points each voter has."),
        ({"points_total": ""}, "Enter how many points each voter has."),
        ({"points_max": ""}, "Enter the most points a voter may give one project."),
        ({"points_total": "0"}, "Give each voter between 1 and 100 points."),
        ({"points_total": "101", "points_max": "5"}, "Give each voter between 1 and 100 points."),
        ({"points_total": "ten"}, "Points each voter has (points ballots)"),
        ({"rule": "equalshares/add1-comparison"}, "Points ballots cannot be counted with the comparison step"),
    ],
)
def test_a_points_ballot_paper_that_makes_no_sense_is_refused(app, db, drafting, overrides, message):
    ids, lead = drafting
    response = lead.submit(f"/rounds/{ids['round']}/contests/new", contest_form(**overrides))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert contests_named(db, "Points paper") == []


def test_the_points_of_a_ballot_paper_are_frozen_once_voting_opens(app, db, points):
    lead = FormClient(app)
    lead.sign_in(LEAD, PASSWORD)
    url = f"/rounds/{points['round']}/contests/{points['contests']['South']}"
    response = lead.submit(
        url, contest_form(name="South ballot", area=str(points["areas"]["South"]), points_total="20")
    )
    assert response.status_code == 409
    assert "Voting has opened, so this can no longer be changed." in response.get_data(as_text=True)
    with db(write=False) as session:
        assert session.get_one(Contest, points["contests"]["South"]).points_total == 10
        refused = session.exec(
            select(AuditEvent).where(
                AuditEvent.chain == chain_key(points["round"]), AuditEvent.action == "round.change_refused"
            )
        ).all()
    assert refused


@pytest.mark.parametrize(
    "column, value",
    [("points_max", 11), ("points_max", 0), ("points_total", 0)],
)
def test_the_database_itself_refuses_points_that_make_no_sense(app, db, points, column, value):
    """The checks are in the migrated schema, whoever writes (a contest has 10 points, at most 5 on one)."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db() as session:
        session.connection().execute(
            text(f"UPDATE contest SET {column} = :value WHERE id = :id"),
            {"value": value, "id": points["contests"]["North"]},
        )
    with db(write=False) as session:
        contest = session.get_one(Contest, points["contests"]["North"])
        assert (contest.points_total, contest.points_max) == (10, 5)
