"""Quick ways to arrange data through the service layer (the same code the pages use)."""

from sqlalchemy import update
from sqlmodel import select

from pb import lifecycle
from pb.accounts.models import Membership, Organisation, User
from pb.proposals import services as proposals
from pb.rounds.models import Area, Round
from pb.rounds.services import contests_of
from pb.voting.models import CodeBatch
from pb.voting.services import generate_codes

PROJECT_IDEAS = [
    ("Community garden beds", "Raised beds and tools for a shared garden.", 12_000_00),
    ("Youth football sessions", "Weekly coached sessions for 11 to 16 year olds.", 8_500_00),
    ("Warm space at the library", "Heating, tea and volunteers on winter afternoons.", 6_000_00),
    ("Play area resurfacing", "Safe surfaces under the swings and slide.", 20_000_00),
    ("Community minibus", "A shared minibus for groups taking older people out.", 15_000_00),
    ("Street trees", "Thirty trees along the main road.", 9_000_00),
]


def user(session, email: str) -> User:
    return session.exec(select(User).where(User.email == email)).one()


def organisation(session, name: str) -> Organisation:
    return session.exec(select(Organisation).where(Organisation.name == name)).one()


def eligible_proposals(
    app, db, round_id: int, *, screener: str, member: str, group: str, per_contest: int = 2
) -> list[int]:
    """Propose, submit and screen as eligible a few projects for every contest of a round
    (which must be taking proposals). Returns the proposal ids."""
    made = []
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        author, reviewer, org = user(session, member), user(session, screener), organisation(session, group)
        for contest in contests_of(session, round_):
            for title, summary, cost in PROJECT_IDEAS[:per_contest]:
                content = proposals.ProposalContent(
                    contest_id=contest.id,
                    title=f"{title} ({contest.name})",
                    summary=summary,
                    description="",
                    beneficiaries="",
                    category_id=None,
                    postcode=None,
                    cost_lines=[("Everything", cost)],
                    objective_ids=[],
                )
                proposal = proposals.create_proposal(session, round_, actor=author, organisation=org, content=content)
                proposals.submit_proposal(session, proposal, actor=author)
                proposals.screen_proposal(session, proposal, actor=reviewer, decision="eligible", reason="")
                made.append(proposal.id)
    return made


def make_round(
    app,
    db,
    *,
    convener: str,
    anchor: str,
    max_project_cost: int | None = None,
    methods=("codes",),
    south_ballot: str = "approval",
    north_limit: bool = False,
    north_rule: str = "greedy",
) -> dict:
    """A round taking proposals, with areas North and South, a ballot paper for each with
    money in it, categories and objectives. Returns the ids."""
    from datetime import timedelta

    from pb.clock import now
    from pb.rounds import services as rounds

    with app.test_request_context(), db() as session:
        lead, org = user(session, convener), organisation(session, anchor)
        round_ = rounds.create_round(
            session,
            actor=lead,
            organisation=org,
            title="Greener Eastshire",
            categories=["Green spaces", "Young people"],
            objectives=["Net zero", "Health"],
            methods=methods,
        )
        round_.max_project_cost = max_project_cost
        north = rounds.add_area(session, round_, actor=lead, name="North", postcodes=["LS6"])
        south = rounds.add_area(session, round_, actor=lead, name="South", postcodes=["LS11"])
        ballot = {
            "ballot_kind": "approval",
            "min_picks": 1,
            "max_picks": 3,
            "limit_to_budget": False,
            "rank_depth": 3,
            "rule": "greedy",
        }
        contests = {}
        for area in (north, south):
            kind = {
                **ballot,
                "ballot_kind": south_ballot if area is south else "approval",
                "limit_to_budget": north_limit and area is north,
                "rule": north_rule if area is north else "greedy",
            }
            contest = rounds.add_contest(
                session, round_, actor=lead, name=f"{area.name} ballot", area_id=area.id, **kind
            )
            rounds.pledge_pot(
                session, round_, actor=lead, organisation=org, contest=contest, name="Fund", amount=50_000_00
            )
            contests[area.name] = contest.id
        rounds.set_timeline(
            session,
            round_,
            actor=lead,
            dates={
                "screening_at": now() + timedelta(days=20),
                "voting_opens_at": now() + timedelta(days=30),
                "voting_closes_at": now() + timedelta(days=40),
            },
        )
        lifecycle.move_to_next_phase(session, round_, actor=lead)
        categories = {
            name: id_
            for id_, name in session.exec(
                select(rounds.Category.id, rounds.Category.name).where(rounds.Category.round_id == round_.id)
            )
        }
        objectives = {
            title: id_
            for id_, title in session.exec(
                select(rounds.CharterObjective.id, rounds.CharterObjective.title).where(
                    rounds.CharterObjective.round_id == round_.id
                )
            )
        }
        return {
            "round": round_.id,
            "areas": {"North": north.id, "South": south.id},
            "contests": contests,
            "categories": categories,
            "objectives": objectives,
        }


def open_voting(
    app, db, ids: dict, *, convener: str, screener: str, member: str, group: str, per_contest: int = 3
) -> None:
    """Put eligible proposals on every ballot paper and open voting (by hand)."""
    ids["proposals"] = eligible_proposals(
        app, db, ids["round"], screener=screener, member=member, group=group, per_contest=per_contest
    )
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        if {"codes", "paper"} & set(round_.eligibility_methods.split(",")):
            # Every area needs codes before voting opens (one spare letter each, if none yet).
            made = {batch.area_id for batch in session.exec(select(CodeBatch).where(CodeBatch.round_id == round_.id))}
            for area_id in set(ids.get("areas", {}).values()) - made:
                generate_codes(
                    session, round_, actor=officer(session, round_, convener), area=session.get(Area, area_id), count=1
                )
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        lead = user(session, convener)
        lifecycle.move_to_next_phase(session, round_, actor=lead)
        lifecycle.move_to_next_phase(session, round_, actor=lead)
        assert round_.phase == "voting", lifecycle.voting_blockers(session, round_)


OFFICER = "officer@independent.example"


def officer(session, round_: Round, convener: str | None = None) -> User:
    """The round's returning officer, appointed now (as someone independent) if it has none."""
    if round_.returning_officer_id is not None:
        return session.get(User, round_.returning_officer_id)
    from pb.accounts.services import create_user
    from pb.rounds import services as rounds

    person = session.exec(select(User).where(User.email == OFFICER)).first() or create_user(
        session, email=OFFICER, name="Olu Officer", password="correct horse battery"
    )
    lead = (
        user(session, convener)
        if convener
        else session.exec(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organisation_id == round_.convening_organisation_id)
        ).first()
    )
    rounds.appoint_returning_officer(session, round_, actor=lead, user=person)
    return person


def make_codes(app, db, round_id: int, area_id: int | None, count: int = 1) -> list[str]:
    """Voting codes made by the round's returning officer (appointed if need be)."""
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        area = session.get(Area, area_id) if area_id else None
        return [
            code
            for code, _letter in generate_codes(session, round_, actor=officer(session, round_), area=area, count=count)
        ]


def let_voting_close(session, round_: Round) -> None:
    """Time passes: the published closing time comes, and the round closes and is counted
    (as `pb rounds advance` or the next request would do). Only tests move the clock."""
    from datetime import timedelta

    from pb.clock import now

    session.exec(update(Round).where(Round.id == round_.id).values(voting_closes_at=now() - timedelta(seconds=1)))
    lifecycle.advance(session, round_.id)
    assert round_.phase == "counted", round_.phase


def close_voting(app, db, round_id: int) -> None:
    """let_voting_close, in a transaction of its own."""
    with app.test_request_context(), db() as session:
        let_voting_close(session, session.get(Round, round_id))


def publish(app, db, round_id: int, convener: str) -> None:
    """Close voting (time passes), count, and publish the results by hand."""
    close_voting(app, db, round_id)
    with app.test_request_context(), db() as session:
        lifecycle.move_to_next_phase(session, session.get(Round, round_id), actor=user(session, convener))


_declared = iter(range(1, 1_000_000))


def declare(
    client,
    round_id: int,
    postcode: str = "LS6 1AA",
    *,
    name: str | None = None,
    address: str = "1 High Street",
    **extra,
):
    """A resident proves eligibility by declaring who they are (the default declaration:
    name, first line of the address and postcode). Without a name, each call is a new
    person. Returns the response."""
    start = f"/rounds/{round_id}/vote"
    data = {
        "name": name or f"Resident {next(_declared)}",
        "address": address,
        "postcode": postcode,
        "declaration": "y",
        **extra,
    }
    return client.submit(f"{start}/declare", data, page=start)


def sign_up_link(app, client, email: str, name: str = "Sam Green", *, start: str = "/sign-up") -> str:
    """Ask for an account over HTTP and return the path of the link mailed to `email`."""
    import re

    from pb.mail import outbox

    response = client.submit(start, {"name": name, "email": email})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        [mail] = [m for m in outbox() if m.to == email.strip().lower()][-1:]
    return re.search(r"http://localhost(/sign-up/\S+)", mail.body).group(1)


def sign_up(app, client, email: str, password: str, name: str = "Sam Green"):
    """Create an account the way a person does: ask, open the mailed link, choose a password.
    Returns the last response."""
    link = sign_up_link(app, client, email, name)
    return client.submit(link, {"name": name, "password": password, "confirm": password})
