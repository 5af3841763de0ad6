"""Limits per category on approval ballot papers: the convening lead sets them before voting
opens, every ballot (online or on paper) is checked against them, residents read them on
the ballot, and the published Pabulib file carries them and still recounts."""

import json
import re

import pytest
from pabutools.election import parse_pabulib as pabutools_parse
from sqlalchemy import func, update
from sqlmodel import col, select

from pb.audit.models import AuditEvent, chain_key
from pb.proposals.models import Project, Proposal, ProposalObjective
from pb.rounds.limits import ContestLimit
from pb.rounds.models import Category, Contest, Round
from pb.tally import count, parse_pabulib
from pb.voting.models import Ballot
from tests import factories
from tests.conftest import FormClient
from tests.factories import declare, make_round, open_voting, publish

PASSWORD = "correct horse battery"
LEAD, OTHER_LEAD, MEMBER = "lead@council.example", "lead@fire.example", "chair@park.example"
HELPER = "helper@example.org"
GREEN, YOUNG = "Green spaces", "Young people"


@pytest.fixture
def drafted(app, db, make_user):
    """A round taking proposals (North approval, 1 to 3 picks; South ranked), with the
    categories Green spaces and Young people, and the convening lead signed in."""
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(OTHER_LEAD, organisation="Westshire Fire and Rescue", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    make_user(HELPER, name="Hal Helper")
    ids = make_round(
        app,
        db,
        convener=LEAD,
        anchor="Eastshire Council",
        methods=("codes", "declared", "paper"),
        south_ballot="ranked",
    )
    lead = FormClient(app)
    lead.sign_in(LEAD, PASSWORD)
    ids["lead"] = lead
    ids["limits_url"] = f"/rounds/{ids['round']}/contests/{ids['contests']['North']}/limits"
    return ids


def limits_form(ids, **limits):
    """The limits page's fields: {"Green spaces": (fewest, most)} by category name."""
    data = {}
    for name, (fewest, most) in limits.items():
        category = ids["categories"][name]
        data[f"fewest_{category}"] = "" if fewest is None else str(fewest)
        data[f"most_{category}"] = "" if most is None else str(most)
    return data


def limits_saved(ids, **limits) -> None:
    """The convening lead saves these limits (limits_form's shape), and they are saved."""
    response = ids["lead"].submit(ids["limits_url"], limits_form(ids, **limits))
    assert response.status_code == 302, response.get_data(as_text=True)


def eligible(app, db, ids, *, per_contest: int) -> list[int]:
    """Eligible proposals from Friends of the Park, `per_contest` on each ballot paper."""
    return factories.eligible_proposals(
        app, db, ids["round"], screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=per_contest
    )


def stored_limits(db, contest_id):
    with db() as session:
        return {
            (row.category_id, row.min_picks, row.max_picks)
            for row in session.exec(select(ContestLimit).where(ContestLimit.contest_id == contest_id))
        }


def events(db, round_id, action):
    with db() as session:
        return [
            json.loads(e.data)
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.chain == chain_key(round_id), AuditEvent.action == action)
                .order_by(col(AuditEvent.seq))
            )
        ]


def at_most_one_green_at_least_one_young(ids):
    response = ids["lead"].submit(ids["limits_url"], limits_form(ids, **{GREEN: (None, 1), YOUNG: (1, None)}))
    assert response.status_code == 302, response.get_data(as_text=True)


def vote_open_with_categories(app, db, ids):
    """Four projects on North (two Green spaces, two Young people), four on South; voting open."""
    group = "Friends of the Park"
    factories.eligible_proposals(app, db, ids["round"], screener=LEAD, member=MEMBER, group=group, per_contest=4)
    with db() as session:
        north = session.exec(
            select(Proposal.id).where(Proposal.contest_id == ids["contests"]["North"]).order_by(col(Proposal.id))
        ).all()
        category = {proposal_id: GREEN if n < 2 else YOUNG for n, proposal_id in enumerate(north)}
        for proposal_id, name in category.items():
            session.exec(
                update(Proposal).where(col(Proposal.id) == proposal_id).values(category_id=ids["categories"][name])
            )
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=group, per_contest=0)
    with db() as session:
        projects = session.exec(
            select(Project.id, Project.proposal_id)
            .where(Project.contest_id == ids["contests"]["North"])
            .order_by(col(Project.ballot_position))
        ).all()
    ids["green"] = [pid for pid, proposal_id in projects if category[proposal_id] == GREEN]
    ids["young"] = [pid for pid, proposal_id in projects if category[proposal_id] == YOUNG]


def ballots_cast(db) -> int:
    with db() as session:
        return session.exec(select(func.count()).select_from(Ballot)).one()


# ---------------------------------------------------------------- the lead's page


def test_the_convening_lead_sets_limits_before_voting_and_the_log_records_them(app, db, drafted):
    lead = drafted["lead"]
    manage = lead.get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert drafted["limits_url"] in manage  # linked where ballot papers are managed
    page = lead.get(drafted["limits_url"]).get_data(as_text=True)
    assert "Fewest to tick in Green spaces" in page
    assert "Most to tick in Young people" in page

    at_most_one_green_at_least_one_young(drafted)
    green, young = drafted["categories"][GREEN], drafted["categories"][YOUNG]
    assert stored_limits(db, drafted["contests"]["North"]) == {(green, 0, 1), (young, 1, None)}
    [event] = events(db, drafted["round"], "contest.limits_set")
    assert event["contest"] == drafted["contests"]["North"]
    assert event["limits"] == ["Green spaces: 0-1", "Young people: 1-"]
    log = lead.get(f"/rounds/{drafted['round']}/audit").get_data(as_text=True)
    assert "Limits per category set on a ballot paper" in log
    assert "Green spaces: 0-1, Young people: 1-" in log
    manage = lead.get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert "Green spaces: tick at most 1 project." in manage
    assert "Young people: tick at least 1 project." in manage
    # The page shows what is set; emptying both fields of a category removes its limit.
    page = lead.get(drafted["limits_url"]).get_data(as_text=True)
    assert f'name="most_{green}" type="number" value="1"' in page
    response = lead.submit(drafted["limits_url"], limits_form(drafted, **{GREEN: (None, None), YOUNG: (1, 2)}))
    assert response.status_code == 302
    assert stored_limits(db, drafted["contests"]["North"]) == {(young, 1, 2)}
    assert len(events(db, drafted["round"], "contest.limits_set")) == 2


@pytest.mark.parametrize(
    "limits, message",
    [
        ({GREEN: (2, 1)}, "Green spaces: the most cannot be fewer than the fewest."),
        # North lets a voter tick at most 3 projects.
        ({GREEN: (2, None), YOUNG: (2, 3)}, "The fewest in each category add up to 4, but a voter may tick at most 3"),
        ({YOUNG: (4, None)}, "Young people: a voter may tick at most 3 projects on this ballot paper"),
        ({GREEN: ("two", None)}, "Not a valid integer value."),
        ({GREEN: (-1, None)}, "Number must be between 0 and 100."),
    ],
)
def test_limits_that_cannot_be_kept_are_refused_with_the_reason(app, db, drafted, limits, message):
    response = drafted["lead"].submit(drafted["limits_url"], limits_form(drafted, **limits))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stored_limits(db, drafted["contests"]["North"]) == set()
    assert events(db, drafted["round"], "contest.limits_set") == []


def test_only_approval_ballot_papers_have_limits(app, db, drafted):
    south = f"/rounds/{drafted['round']}/contests/{drafted['contests']['South']}/limits"
    response = drafted["lead"].submit(south, limits_form(drafted, **{GREEN: (None, 1)}))
    assert response.status_code == 400
    assert "Only approval ballot papers can have limits per category." in response.get_data(as_text=True)
    assert stored_limits(db, drafted["contests"]["South"]) == set()


def test_a_ballot_paper_or_category_its_limits_need_cannot_change_under_them(app, db, drafted):
    lead, north = drafted["lead"], drafted["contests"]["North"]
    response = lead.submit(drafted["limits_url"], limits_form(drafted, **{GREEN: (1, None), YOUNG: (1, 2)}))
    assert response.status_code == 302
    contest = {
        "name": "North ballot",
        "area": str(drafted["areas"]["North"]),
        "ballot_kind": "ranked",
        "min_picks": "1",
        "max_picks": "3",
        "rank_depth": "3",
        "rule": "greedy",
    }
    response = lead.submit(f"/rounds/{drafted['round']}/contests/{north}", contest)
    assert response.status_code == 400
    assert "only approval ballots can have: remove them first" in response.get_data(as_text=True)
    response = lead.submit(
        f"/rounds/{drafted['round']}/contests/{north}",
        {**contest, "ballot_kind": "approval", "min_picks": "1", "max_picks": "1"},
    )
    assert response.status_code == 400
    assert "add up to 2, but a voter may tick at most 1 project on" in response.get_data(as_text=True)
    response = lead.submit(
        f"/rounds/{drafted['round']}/edit",
        {
            "title": "Greener Eastshire",
            "methods": ["codes", "declared", "paper"],
            "declares": ["name", "address"],
            "currency": "GBP",
            "categories": GREEN,
        },
        page=f"/rounds/{drafted['round']}/edit",
    )
    assert response.status_code == 400
    assert "limits for the category “Young people”: remove them first" in response.get_data(as_text=True)
    with db() as session:
        assert session.get(Round, drafted["round"]).title == "Greener Eastshire"
        assert session.get(Contest, north).ballot_kind == "approval"
        assert session.get(Contest, north).max_picks == 3
    assert len(stored_limits(db, north)) == 2


def test_only_the_convening_lead_may_set_limits(app, db, drafted):
    other = FormClient(app)
    other.sign_in(OTHER_LEAD, PASSWORD)
    assert other.get(drafted["limits_url"]).status_code == 403
    assert other.submit(drafted["limits_url"], limits_form(drafted, **{GREEN: (None, 1)}), page="/").status_code == 403
    assert stored_limits(db, drafted["contests"]["North"]) == set()
    # Another round's ballot paper is not this round's.
    theirs = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    url = f"/rounds/{drafted['round']}/contests/{theirs['contests']['North']}/limits"
    assert drafted["lead"].get(url).status_code == 404
    # A resident with no account is sent to sign in.
    visitor = FormClient(app)
    assert visitor.get(drafted["limits_url"]).status_code == 302


def test_limits_freeze_when_voting_opens(app, db, drafted):
    at_most_one_green_at_least_one_young(drafted)
    vote_open_with_categories(app, db, drafted)
    before = stored_limits(db, drafted["contests"]["North"])
    manage = drafted["lead"].get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert drafted["limits_url"] not in manage
    response = drafted["lead"].submit(drafted["limits_url"], limits_form(drafted, **{GREEN: (None, 3)}))
    assert response.status_code == 409
    assert "Voting has opened, so this can no longer be changed." in response.get_data(as_text=True)
    assert stored_limits(db, drafted["contests"]["North"]) == before
    [refused] = events(db, drafted["round"], "round.change_refused")
    assert refused["attempted"] == "contest.limits_set"


# ---------------------------------------------------------------- ballots


def ballot_url(ids):
    return f"/rounds/{ids['round']}/vote/{ids['contests']['North']}"


@pytest.fixture
def limited(app, db, drafted):
    at_most_one_green_at_least_one_young(drafted)
    vote_open_with_categories(app, db, drafted)
    return drafted


def test_residents_read_the_limits_on_the_ballot(app, db, limited):
    resident = FormClient(app)
    assert declare(resident, limited["round"]).status_code == 302
    page = resident.get(ballot_url(limited)).get_data(as_text=True)
    assert "Green spaces: tick at most 1 project." in page
    assert "Young people: tick at least 1 project." in page
    assert page.count("Category: Green spaces") == 2
    assert page.count("Category: Young people") == 2


@pytest.mark.parametrize("confirmed", [False, True], ids=["review", "cast"])
@pytest.mark.parametrize(
    "picks, message",
    [
        (lambda ids: ids["green"] + ids["young"][:1], "Choose at most 1 project in Green spaces."),
        (lambda ids: ids["green"][:1], "Choose at least 1 project in Young people."),
    ],
    ids=["too-many", "too-few"],
)
def test_a_ballot_breaking_a_limit_is_refused_and_nothing_is_written(app, db, limited, picks, message, confirmed):
    resident = FormClient(app)
    assert declare(resident, limited["round"]).status_code == 302
    chosen = picks(limited)
    data = {"project": [str(pid) for pid in chosen], **({"confirm": "1"} if confirmed else {})}
    response = resident.submit(ballot_url(limited), data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert 'class="error-summary"' in page
    ticked = re.findall(r'<input type="checkbox" id="project-(\d+)"[^>]*\bchecked\b', page)
    assert sorted(map(int, ticked)) == sorted(chosen)  # the ticks are kept, to correct
    assert ballots_cast(db) == 0


def test_a_ballot_within_the_limits_is_cast(app, db, limited):
    resident = FormClient(app)
    assert declare(resident, limited["round"]).status_code == 302
    chosen = [str(limited["green"][0]), *map(str, limited["young"])]
    review = resident.submit(ballot_url(limited), {"project": chosen})
    assert review.status_code == 200
    assert "Check your vote" in review.get_data(as_text=True)
    cast = resident.submit(ballot_url(limited), {"project": chosen, "confirm": "1"})
    assert cast.status_code == 302, cast.get_data(as_text=True)
    assert ballots_cast(db) == 1


def test_paper_ballots_entered_by_a_helper_are_checked_the_same_way(app, db, limited):
    [code] = factories.make_codes(app, db, limited["round"], limited["areas"]["North"])
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    assert officer.submit(f"/rounds/{limited['round']}/helpers", {"email": HELPER}).status_code == 302
    helper = FormClient(app)
    helper.sign_in(HELPER, PASSWORD)
    assert helper.submit(f"/rounds/{limited['round']}/paper", {"code": code}).status_code == 302
    response = helper.submit(ballot_url(limited), {"project": [str(pid) for pid in limited["green"]], "confirm": "1"})
    assert response.status_code == 400
    assert "Choose at most 1 project in Green spaces." in response.get_data(as_text=True)
    assert ballots_cast(db) == 0
    chosen = [str(limited["green"][1]), str(limited["young"][0])]
    assert helper.submit(ballot_url(limited), {"project": chosen, "confirm": "1"}).status_code == 302
    assert ballots_cast(db) == 1


# ---------------------------------------------------------------- the published file


def test_the_published_file_carries_the_limits_and_recounts(app, db, limited, tmp_path):
    for picks in ([limited["green"][0], limited["young"][0]], [limited["young"][1]], limited["young"]):
        resident = FormClient(app)
        assert declare(resident, limited["round"]).status_code == 302
        data = {"project": [str(pid) for pid in picks], "confirm": "1"}
        assert resident.submit(ballot_url(limited), data).status_code == 302
    publish(app, db, limited["round"], LEAD)
    base = f"/rounds/{limited['round']}/results/{limited['contests']['North']}"
    text = FormClient(app).get(f"{base}/ballots.pb").get_data(as_text=True)
    published = json.loads(FormClient(app).get(f"{base}/results.json").get_data(as_text=True))

    election = parse_pabulib(text)
    assert election.meta["category_limits"] == "Green spaces:0-1;Young people:1-3"
    categories = {pid: project.fields["category"] for pid, project in election.projects.items()}
    assert categories == {
        **{str(pid): GREEN for pid in limited["green"]},
        **{str(pid): YOUNG for pid in limited["young"]},
    }
    assert count(election).selected == [str(pid) for pid in published["selected"]]

    path = tmp_path / "north.pb"
    path.write_text(text)
    instance, profile = pabutools_parse(str(path))
    assert instance.meta["category_limits"] == "Green spaces:0-1;Young people:1-3"
    assert instance.categories == {GREEN, YOUNG}
    assert {p.name: p.categories for p in instance} == {pid: {name} for pid, name in categories.items()}
    assert len(profile) == 3


def test_voting_cannot_open_while_a_category_has_fewer_eligible_projects_than_its_fewest(app, db, drafted):
    at_most_one_green_at_least_one_young(drafted)
    eligible(app, db, drafted, per_contest=2)
    blocker = (
        "“North ballot” asks voters to tick at least 1 project in Young people, "
        "more than the eligible projects in it (0): change its limits per category."
    )
    manage = drafted["lead"].get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert blocker in manage
    with db() as session:
        proposal = session.exec(
            select(Proposal).where(Proposal.contest_id == drafted["contests"]["North"]).order_by(col(Proposal.id))
        ).first()
        proposal.category_id = drafted["categories"][YOUNG]
        session.add(proposal)
    manage = drafted["lead"].get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert "asks voters to tick at least" not in manage


def test_voting_cannot_open_while_the_limits_leave_fewer_projects_to_tick_than_the_fewest(app, db, drafted):
    """North asks for at least one tick; at most none of Green spaces, and every project on it
    is Green spaces: no ballot could be cast on it."""
    limits_saved(drafted, **{GREEN: (None, 0)})
    eligible(app, db, drafted, per_contest=2)
    with db() as session:
        north = session.exec(select(Proposal).where(Proposal.contest_id == drafted["contests"]["North"])).all()
        for proposal in north:
            proposal.category_id = drafted["categories"][GREEN]
            session.add(proposal)
    blocker = (
        "“North ballot” asks voters to tick at least 1 project, but its limits per category let them "
        "tick at most 0 of its eligible projects: change its limits per category."
    )
    manage = drafted["lead"].get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert blocker in manage
    with db() as session:
        proposal = session.get(Proposal, north[0].id)
        proposal.category_id = drafted["categories"][YOUNG]
        session.add(proposal)
    manage = drafted["lead"].get(f"/rounds/{drafted['round']}/manage").get_data(as_text=True)
    assert "limits per category let them" not in manage


def test_a_category_a_proposal_is_filed_under_cannot_be_removed(app, db, drafted):
    """Removing a category that a proposal uses is refused with the reason, like one that
    limits name, rather than failing in the database (it answered 500)."""
    group = "Friends of the Park"
    proposal_id = factories.eligible_proposals(
        app, db, drafted["round"], screener=LEAD, member=MEMBER, group=group, per_contest=1
    )[0]
    with db() as session:
        session.exec(
            update(Proposal).where(col(Proposal.id) == proposal_id).values(category_id=drafted["categories"][YOUNG])
        )
    page = f"/rounds/{drafted['round']}/edit"
    form = {
        "title": "A greener Eastshire",
        "methods": ["codes", "declared", "paper"],
        "declares": ["name", "address"],
        "currency": "GBP",
    }
    response = drafted["lead"].submit(page, {**form, "categories": GREEN}, page=page)
    assert response.status_code == 400
    assert "A proposal is filed under the category “Young people”" in response.get_data(as_text=True)
    with db() as session:
        assert session.get_one(Round, drafted["round"]).title == "Greener Eastshire"  # nothing saved
        assert session.get_one(Proposal, proposal_id).category_id == drafted["categories"][YOUNG]
    # An objective a proposal pursues likewise.
    with db() as session:
        session.add(ProposalObjective(proposal_id=proposal_id, objective_id=drafted["objectives"]["Net zero"]))
    response = drafted["lead"].submit(page, {**form, "categories": YOUNG, "objectives": "Health"}, page=page)
    assert response.status_code == 400
    assert "A proposal pursues the objective “Net zero”" in response.get_data(as_text=True)
    # A category nothing uses may go.
    form["objectives"] = "Net zero\nHealth"
    response = drafted["lead"].submit(page, {**form, "categories": YOUNG}, page=page)
    assert response.status_code == 302
    with db() as session:
        names = set(session.exec(select(Category.name).where(Category.round_id == drafted["round"])))
    assert names == {YOUNG}


def manage_page(ids) -> str:
    return ids["lead"].get(f"/rounds/{ids['round']}/manage").get_data(as_text=True)


def north_proposals(db, ids) -> list[int]:
    with db() as session:
        return list(
            session.exec(
                select(Proposal.id).where(Proposal.contest_id == ids["contests"]["North"]).order_by(col(Proposal.id))
            )
        )


def test_voting_cannot_open_while_a_paper_asks_for_more_ticks_than_it_has_projects(app, db, drafted):
    """North asks for at least 3 ticks (no limits per category) and has 2 eligible projects:
    no ballot could be cast on it."""
    eligible(app, db, drafted, per_contest=2)
    with db() as session:
        session.exec(update(Contest).where(col(Contest.id) == drafted["contests"]["North"]).values(min_picks=3))
    blocker = (
        "“North ballot” asks voters to tick at least 3 projects, but only 2 eligible projects would be on it: "
        "lower its fewest picks."
    )
    assert blocker in manage_page(drafted)
    eligible(app, db, drafted, per_contest=1)
    assert "would be on it: lower its fewest picks" not in manage_page(drafted)


def test_voting_cannot_open_while_no_ballot_keeping_the_limits_fits_the_budget(app, db, drafted):
    """North's ticked projects must fit its budget, and it asks for at least 2 Green spaces
    projects: while the two cheapest of them cost more than the budget together, every
    ballot would be refused by one rule or the other (an attacker's review found it opened)."""
    from pb.rounds.services import contest_budgets

    limits_saved(drafted, **{GREEN: (2, None)})
    eligible(app, db, drafted, per_contest=3)
    north = north_proposals(db, drafted)
    with db() as session:
        session.exec(
            update(Contest).where(col(Contest.id) == drafted["contests"]["North"]).values(limit_to_budget=True)
        )
        budget = contest_budgets(session, session.get_one(Round, drafted["round"]))[drafted["contests"]["North"]]
        green = drafted["categories"][GREEN]
        half = budget // 2
        for proposal_id, cost in zip(
            north, (half + 1, half + 100, 1), strict=True
        ):  # the third is cheap, but not green
            session.exec(
                update(Proposal).where(col(Proposal.id) == proposal_id).values(category_id=green, total_cost=cost)
            )
        session.exec(update(Proposal).where(col(Proposal.id) == north[2]).values(category_id=None))
    page = manage_page(drafted)
    assert "The projects ticked on “North ballot” must fit its budget of" in page
    assert "change them, or the budget rule." in page
    # The two greens now fit exactly: a ballot can keep every rule, so nothing is said.
    with db() as session:
        session.exec(update(Proposal).where(col(Proposal.id) == north[1]).values(total_cost=budget - half - 1))
    assert "must fit its budget of" not in manage_page(drafted)


def test_the_fewest_ticks_on_an_approval_paper_is_at_least_one(app, db, drafted):
    """A ballot with nothing ticked counts for nothing (and was lost: an attacker's review cast
    one on a paper set to 0 and got a 500): the contest form and the service refuse 0."""
    from pb.rounds import services as rounds

    north = drafted["contests"]["North"]
    contest = {
        "name": "North ballot",
        "area": str(drafted["areas"]["North"]),
        "ballot_kind": "approval",
        "min_picks": "0",
        "max_picks": "3",
        "rank_depth": "3",
        "rule": "greedy",
    }
    response = drafted["lead"].submit(f"/rounds/{drafted['round']}/contests/{north}", contest)
    assert response.status_code == 400
    assert "Fewest projects a voter must tick" in response.get_data(as_text=True)
    with app.test_request_context(), db() as session:
        paper = session.get_one(Contest, north)
        assert paper.min_picks == 1  # nothing saved
        with pytest.raises(rounds.RoundError, match="Voters must tick at least one project"):
            rounds.update_contest(
                session,
                paper,
                actor=factories.user(session, LEAD),
                name=paper.name,
                area_id=paper.area_id,
                ballot_kind="approval",
                min_picks=0,
                max_picks=3,
                limit_to_budget=False,
                rank_depth=3,
                rule="greedy",
            )


@pytest.mark.parametrize("confirmed", [False, True], ids=["review", "cast"])
def test_an_empty_ballot_is_refused_even_on_a_paper_set_to_none(app, db, drafted, confirmed):
    """A paper saved with 0 as its fewest before pb refused it: a ballot with nothing ticked
    is still refused with the message, 400, and nothing is written (it answered 500)."""
    with db() as session:
        session.exec(update(Contest).where(col(Contest.id) == drafted["contests"]["North"]).values(min_picks=0))
    open_voting(
        app, db, drafted, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=2
    )
    resident = FormClient(app)
    assert declare(resident, drafted["round"]).status_code == 302
    response = resident.submit(ballot_url(drafted), {"confirm": "1"} if confirmed else {})
    assert response.status_code == 400
    assert "Choose at least 1 project." in response.get_data(as_text=True)
    assert ballots_cast(db) == 0


@pytest.mark.parametrize(
    "categories, message",
    [
        ("Parks, trees\nParks trees", "“Parks, trees” and “Parks trees” would read the same in the published"),
        ("Youth; sport\nYouth sport", "“Youth; sport” and “Youth sport” would read the same in the published"),
        (",;", "“,;” cannot be a category: give it a name with letters or digits."),
    ],
    ids=["comma", "semicolon", "nothing-left"],
)
def test_categories_that_would_read_the_same_in_the_published_file_are_refused(app, db, drafted, categories, message):
    """The published file writes a category's commas and semicolons as spaces (they separate
    its fields): two categories written alike could not be told apart there, nor their limits
    (an attacker's review wrote "Parks trees:0-1;Parks trees:1-3")."""
    page = f"/rounds/{drafted['round']}/edit"
    form = {
        "title": "A greener Eastshire",
        "methods": ["codes", "declared", "paper"],
        "declares": ["name", "address"],
        "currency": "GBP",
        "categories": f"{GREEN}\n{YOUNG}\n{categories}",
    }
    response = drafted["lead"].submit(page, form, page=page)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with db() as session:
        assert session.get_one(Round, drafted["round"]).title == "Greener Eastshire"  # nothing saved
        names = set(session.exec(select(Category.name).where(Category.round_id == drafted["round"])))
    assert names == set(drafted["categories"])


def test_the_blockers_say_each_thing_once_and_never_ask_for_none(app, db, drafted):
    """A paper with no eligible project gets that blocker only (it also got 'asks voters to
    tick at least 1 project, but only 0 eligible projects'), and a paper saved with 0 as its
    fewest before pb refused it is said to ask for at least 1 (it read 'at least 0 projects')."""
    eligible(app, db, drafted, per_contest=0)
    page = manage_page(drafted)
    assert "No eligible project would be on the ballot paper “North ballot”." in page
    assert "would be on it: lower its fewest picks" not in page
    limits_saved(drafted, **{GREEN: (None, 0)})
    eligible(app, db, drafted, per_contest=2)
    with db() as session:
        session.exec(update(Contest).where(col(Contest.id) == drafted["contests"]["North"]).values(min_picks=0))
        session.exec(
            update(Proposal)
            .where(col(Proposal.contest_id) == drafted["contests"]["North"])
            .values(category_id=drafted["categories"][GREEN])
        )
    page = manage_page(drafted)
    assert "“North ballot” asks voters to tick at least 1 project, but its limits per category let them" in page
    assert "at least 0" not in page


def test_a_paper_with_loose_limits_but_too_few_projects_is_told_to_lower_its_fewest(app, db, drafted):
    """The limits are not what holds the paper down (they leave every project tickable):
    the lead is told to lower the fewest picks, not to change the limits (a review found it
    said the limits whenever the paper had any)."""
    limits_saved(drafted, **{GREEN: (1, None)})
    eligible(app, db, drafted, per_contest=2)
    north = north_proposals(db, drafted)
    with db() as session:
        session.exec(update(Contest).where(col(Contest.id) == drafted["contests"]["North"]).values(min_picks=3))
        session.exec(
            update(Proposal).where(col(Proposal.id) == north[0]).values(category_id=drafted["categories"][GREEN])
        )
    page = manage_page(drafted)
    assert "asks voters to tick at least 3 projects, but only 2 eligible projects would be on it" in page
    assert "but its limits per category let them" not in page
