"""A realistic demo, so that a newcomer can sign in as each kind of user and click around."""

import os

import click
from flask import current_app
from sqlmodel import col, select

from pb.accounts import services
from pb.accounts.models import Organisation
from pb.db import session_scope

DEMO_PASSWORD = "demo-password-2026"

ORGANISATIONS = [
    ("Riverside and Eastgate NHS Foundation Trust", "anchor", "nhs"),
    ("Northfield Homes Housing Association", "anchor", "housing_association"),
    ("Eastgate Residents' Association", "group", "residents_association"),
    ("Green Corner Community Garden CIC", "group", "cic"),
]

USERS = [
    # email, name, organisation (None for the platform admin), platform admin?
    ("admin@demo.pb.example", "Priya Shah", None, True),
    ("lead@riverside-nhs.example", "Dr Tom Okafor", "Riverside and Eastgate NHS Foundation Trust", False),
    ("lead@northfield-homes.example", "Aisha Rahman", "Northfield Homes Housing Association", False),
    ("chair@eastgate-ra.example", "Margaret Evans", "Eastgate Residents' Association", False),
    ("hello@greencorner.example", "Dewi Jones", "Green Corner Community Garden CIC", False),
    # The returning officer of the Northfield rounds: independent of the anchors that fund them.
    ("officer@northfield-advice.example", "Sam Clarke", None, False),
]
OFFICER = "officer@northfield-advice.example"
CODES_FILE = "demo-voting-codes.txt"  # in the instance folder: the demo's codes, to show them again


def load_demo(*, if_empty: bool = False) -> None:
    with session_scope() as session:
        if session.exec(select(Organisation)).first() is not None:
            if if_empty:
                click.echo("The database already has data; demo not loaded again.")
                _print_credentials()
                return
            raise click.ClickException("The database already has organisations; use a fresh database for the demo.")
        admin = None
        by_name = {}
        for email, name, _org, is_admin in USERS:
            if is_admin:
                admin = services.create_user(
                    session, email=email, name=name, password=DEMO_PASSWORD, is_platform_admin=True
                )
        assert admin is not None, "USERS has a platform admin"
        for name, kind, subtype in ORGANISATIONS:
            by_name[name] = services.create_organisation(session, actor=admin, name=name, kind=kind, subtype=subtype)
        for email, name, org, is_admin in USERS:
            if not is_admin:
                user = services.create_user(session, email=email, name=name, password=DEMO_PASSWORD, actor=admin)
                if org:
                    services.add_member(session, actor=admin, organisation=by_name[org], user=user)
        _demo_round(session, admin, by_name)
        verdict_codes = _demo_rounds_after_the_vote(session, by_name)
        # Counted with points: its published ballot file is a cumulative Pabulib file.
        _demo_finished_round(
            session, by_name, title=POINTS_ROUND, days_ago=120, projects=POINTS_PROJECTS, voters=150, points=True
        )
        open_round, voting_codes = _demo_open_round(session, by_name)
    lines = [f"{open_round.title} (voting now), round {open_round.id}: vote at /rounds/{open_round.id}/vote"]
    lines += [f"  {code}" for code, _letter in voting_codes]
    lines += ["Green Streets 2026 (in delivery): give a resident's verdict on its projects"]
    lines += [f"  {code}" for code, _letter in verdict_codes]
    with open(os.path.join(current_app.instance_path, CODES_FILE), "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    click.echo("Demo loaded.")
    _print_credentials()
    show_codes()


def show_codes() -> None:
    """Print the demo's voting codes again (a real round's codes are shown only once, to
    its returning officer; the demo keeps its own in the instance folder), each marked
    once it has been used."""
    from pb.voting.models import VotingCode
    from pb.voting.services import code_hash

    path = os.path.join(current_app.instance_path, CODES_FILE)
    if not os.path.exists(path):
        raise click.ClickException("No demo codes here: load the demo first (pb demo).")
    with open(path, encoding="utf-8") as codes, session_scope(write=False) as session:
        click.echo("Demo voting codes (each is one resident: enter it again later to change that vote):")
        for line in codes.read().splitlines():
            if line.startswith("  "):
                row = session.exec(select(VotingCode).where(VotingCode.code_hash == code_hash(line))).first()
                line += " (used)" if row is not None and row.used_at is not None else ""
            click.echo(line)


def _demo_round(session, admin, by_name) -> None:
    """A round two anchors fund together, with a ballot paper for each of two areas."""
    from datetime import timedelta

    from flask import current_app

    from pb.accounts.models import User
    from pb.clock import now
    from pb.lifecycle import advance
    from pb.rounds import services as rounds

    nhs = by_name["Riverside and Eastgate NHS Foundation Trust"]
    homes = by_name["Northfield Homes Housing Association"]
    nhs_lead = session.exec(select(User).where(User.email == "lead@riverside-nhs.example")).one()
    homes_lead = session.exec(select(User).where(User.email == "lead@northfield-homes.example")).one()
    with current_app.test_request_context():
        round_ = rounds.create_round(
            session,
            actor=nhs_lead,
            organisation=nhs,
            title="Healthy Neighbourhoods 2027",
            purpose=(
                "The NHS trust and Northfield Homes are putting £120,000 into projects that help "
                "people in Riverside and Eastgate live healthier lives.\n\n"
                "Community groups propose projects; residents aged 11 and over decide which are funded."
            ),
            eligibility="People who live, work or study in Riverside or Eastgate.",
            minimum_age=11,
            categories=["Health and wellbeing", "Green spaces", "Young people", "Older people", "Food"],
            objectives=["Reduce health inequalities", "Net zero", "Local jobs and suppliers"],
        )
        rounds.invite_partner(session, round_, actor=nhs_lead, organisation=homes)
        riverside = rounds.add_area(
            session,
            round_,
            actor=nhs_lead,
            name="Riverside",
            postcodes=["RV1", "RV2 4"],
            population=8_240,
            electorate=6_310,
        )
        eastgate = rounds.add_area(
            session,
            round_,
            actor=nhs_lead,
            name="Eastgate",
            postcodes=["RV3", "RV4"],
            population=11_905,
            electorate=8_870,
        )
        ballot = {"ballot_kind": "approval", "min_picks": 1, "max_picks": 4, "limit_to_budget": False, "rank_depth": 3}
        riverside_ballot = rounds.add_contest(
            session,
            round_,
            actor=nhs_lead,
            name="Riverside projects",
            area_id=riverside.id,
            rule="equalshares/add1",
            **ballot,
        )
        eastgate_ballot = rounds.add_contest(
            session,
            round_,
            actor=nhs_lead,
            name="Eastgate projects",
            area_id=eastgate.id,
            rule="equalshares/add1",
            **{**ballot, "ballot_kind": "ranked"},
        )
        for lead, org, contest, name, pounds in [
            (nhs_lead, nhs, riverside_ballot, "NHS Trust health inequalities fund", 40_000),
            (nhs_lead, nhs, eastgate_ballot, "NHS Trust health inequalities fund", 40_000),
            (homes_lead, homes, riverside_ballot, "Northfield Homes community chest", 15_000),
            (homes_lead, homes, eastgate_ballot, "Northfield Homes community chest", 25_000),
        ]:
            rounds.pledge_pot(
                session, round_, actor=lead, organisation=org, contest=contest, name=name, amount=pounds * 100
            )
        start = now().replace(hour=9, minute=0, second=0, microsecond=0)
        rounds.set_timeline(
            session,
            round_,
            actor=nhs_lead,
            dates={
                "proposals_open_at": start - timedelta(days=1),
                "screening_at": start + timedelta(days=28),
                "voting_opens_at": start + timedelta(days=42),
                "voting_closes_at": start + timedelta(days=56),
                "results_at": start + timedelta(days=57),
            },
            move_now=True,
        )
        advance(session, round_.id)
        _demo_proposals(session, round_, nhs_lead, {"Riverside": riverside_ballot, "Eastgate": eastgate_ballot})
        _demo_questions(session, round_)


# (group, area, title, summary, category, objectives, cost lines in pounds, decision)
PROPOSALS = [
    (
        "Green Corner Community Garden CIC",
        "Riverside",
        "Riverside community growing beds",
        "Twelve raised beds by the tower blocks, with tools, seeds and a weekly growing club.",
        "Food",
        ["Reduce health inequalities", "Net zero"],
        [("Timber and soil", 4200), ("Tools and seeds", 900), ("Club leader, 40 sessions", 3200)],
        "eligible",
    ),
    (
        "Green Corner Community Garden CIC",
        "Riverside",
        "Walking group for new mums",
        "Weekly buggy walks along the river with a health visitor, and tea afterwards.",
        "Health and wellbeing",
        ["Reduce health inequalities"],
        [("Health visitor time", 2600), ("Refreshments", 400)],
        "eligible",
    ),
    (
        "Eastgate Residents' Association",
        "Riverside",
        "Benches on the river path",
        "Six benches so that older residents can rest on the walk to the GP surgery.",
        "Older people",
        ["Reduce health inequalities", "Local jobs and suppliers"],
        [("Six benches from a local joiner", 7200), ("Installation", 1800)],
        "eligible",
    ),
    (
        "Green Corner Community Garden CIC",
        "Riverside",
        "Tool library",
        "A shed of shared tools that residents can borrow instead of buying.",
        "Green spaces",
        ["Net zero"],
        [("Shed", 2500), ("Tools", 3000), ("Booking system", 600)],
        "submitted",
    ),
    (
        "Eastgate Residents' Association",
        "Riverside",
        "Car park resurfacing",
        "Resurface the residents' car park behind Mill Court.",
        "Green spaces",
        [],
        [("Tarmac", 18000)],
        "not_eligible",
    ),
    (
        "Eastgate Residents' Association",
        "Riverside",
        "Youth boxing club",
        "Two evening sessions a week at the community centre for 11 to 18 year olds.",
        "Young people",
        ["Reduce health inequalities"],
        [("Coach", 6500), ("Equipment", 2200), ("Hall hire", 1800)],
        "eligible",
    ),
    (
        "Eastgate Residents' Association",
        "Eastgate",
        "Eastgate warm hub",
        "A warm, welcoming room with hot drinks and advice on winter afternoons.",
        "Older people",
        ["Reduce health inequalities"],
        [("Heating and room hire", 3800), ("Volunteer expenses", 1200), ("Refreshments", 900)],
        "eligible",
    ),
    (
        "Eastgate Residents' Association",
        "Eastgate",
        "Cook and eat sessions",
        "Families learn to cook cheap, healthy meals together, then eat them.",
        "Food",
        ["Reduce health inequalities", "Local jobs and suppliers"],
        [("Cook tutor", 4800), ("Ingredients", 2400)],
        "eligible",
    ),
    (
        "Green Corner Community Garden CIC",
        "Eastgate",
        "Eastgate pocket park",
        "Turn the empty corner of Station Road into a small park with trees and seats.",
        "Green spaces",
        ["Net zero"],
        [("Trees and planting", 6400), ("Seats", 3100), ("Landscaping contractor", 9800)],
        "eligible",
    ),
    (
        "Green Corner Community Garden CIC",
        "Eastgate",
        "Bike repair cafe",
        "Monthly sessions where volunteers teach residents to fix their bikes.",
        "Health and wellbeing",
        ["Net zero", "Local jobs and suppliers"],
        [("Tools and stands", 2100), ("Mechanic", 2900)],
        "eligible",
    ),
    (
        "Eastgate Residents' Association",
        "Eastgate",
        "Chair-based exercise",
        "Gentle weekly exercise classes for people with limited mobility.",
        "Older people",
        ["Reduce health inequalities"],
        [("Instructor", 3600), ("Hall hire", 1400)],
        "submitted",
    ),
    (
        "Eastgate Residents' Association",
        "Eastgate",
        "Summer holiday activities",
        "Free sports and arts days for children in the summer holidays, with lunch.",
        "Young people",
        ["Reduce health inequalities"],
        [("Activity leaders", 7800), ("Lunches", 3400), ("Materials", 1100)],
        "eligible",
    ),
]


def _demo_proposals(session, round_, screener, contests) -> None:
    from pb.accounts.models import Membership, User
    from pb.proposals import services as proposals
    from pb.rounds.models import Category, CharterObjective

    categories = {c.name: c.id for c in session.exec(select(Category).where(Category.round_id == round_.id))}
    objectives = {
        o.title: o.id for o in session.exec(select(CharterObjective).where(CharterObjective.round_id == round_.id))
    }
    for group_name, area, title, summary, category, aims, costs, decision in PROPOSALS:
        group = session.exec(select(Organisation).where(Organisation.name == group_name)).one()
        member_id = session.exec(select(Membership.user_id).where(Membership.organisation_id == group.id)).first()
        member = session.get(User, member_id)
        content = proposals.ProposalContent(
            contest_id=contests[area].id,
            title=title,
            summary=summary,
            description=summary,
            beneficiaries="",
            category_id=categories[category],
            postcode=None,
            cost_lines=[(item, pounds * 100) for item, pounds in costs],
            objective_ids=[objectives[a] for a in aims],
        )
        proposal = proposals.create_proposal(session, round_, actor=member, organisation=group, content=content)
        proposals.submit_proposal(session, proposal, actor=member)
        if decision == "not_eligible":
            proposals.screen_proposal(
                session,
                proposal,
                actor=screener,
                decision=decision,
                reason="Resurfacing a private car park is the landlord's repair duty, not a community project.",
            )
        elif decision == "eligible":
            proposals.screen_proposal(session, proposal, actor=screener, decision=decision, reason="")


def _demo_questions(session, round_) -> None:
    """Residents' questions on the first proposal, asked with an emailed code as a resident
    would, one answered by the group."""
    from pb.accounts.models import Membership, User
    from pb.proposals.models import Proposal
    from pb.questions import services as questions

    proposal = session.exec(select(Proposal).where(Proposal.round_id == round_.id).order_by(col(Proposal.id))).first()
    asked = []
    for email, name, text in [
        ("maya@example.org", "Maya, Riverside", "Will the growing club run in the school holidays too?"),
        ("", "", "Can people in wheelchairs reach the raised beds?"),
    ]:
        question, challenge, code = questions.start_asking_by_email(
            session, proposal, email=email or "resident@example.org", text=text, name=name, client="demo"
        )
        asked.append(questions.confirm_by_email(session, proposal, question.id, challenge.id, code, client="demo"))
    member_id = session.exec(
        select(Membership.user_id).where(Membership.organisation_id == proposal.organisation_id)
    ).first()
    questions.answer(
        session,
        asked[0],
        actor=session.get_one(User, member_id),
        text="Yes: the club meets every Saturday all year, and twice a week in the summer holidays.",
    )


FINISHED_PROJECTS = [
    # group, title, summary, cost in pounds, category, charter objectives
    (
        "Green Corner Community Garden CIC",
        "Hedges along Northfield Road",
        "Native hedging to clean the air by the school.",
        6400,
        "Green spaces",
        ["Net zero", "Reduce health inequalities"],
    ),
    (
        "Green Corner Community Garden CIC",
        "Rain gardens",
        "Planted dips that soak up storm water on three streets.",
        9800,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Safer crossing by the shops",
        "A raised table crossing and better lighting.",
        14500,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
    (
        "Eastgate Residents' Association",
        "Bench and shade trees at the bus stop",
        "Somewhere to sit and shade in summer.",
        3900,
        "Green spaces",
        [],
    ),
    (
        "Green Corner Community Garden CIC",
        "Community composting",
        "Three shared compost bays and a volunteer rota.",
        2700,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Play street Sundays",
        "Road closures and play kit for monthly play streets.",
        4200,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
    (
        "Green Corner Community Garden CIC",
        "Wildflower verges",
        "Sowing and care of wildflowers on council verges.",
        3100,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Cycle parking",
        "Secure cycle hangars for flats without storage.",
        11200,
        "Safer streets",
        ["Net zero"],
    ),
]


def _demo_voting_round(
    session,
    by_name,
    *,
    title: str,
    days_ago: int,
    projects: list,
    voters: int,
    codes: int = 0,
    closes_in=None,
    points: bool = False,
):
    """A round whose vote is under way: proposals screened, voting codes made by the
    returning officer, voting opened by its timeline and some ballots cast. Returns it,
    its ballot paper and the codes made (each with its letter's reference).

    `points`: a points ballot (10 points, at most 5 on one project, as Aarau gave its
    residents) instead of ticks."""
    import random
    from datetime import timedelta

    from pb.accounts.models import Membership, User
    from pb.clock import now
    from pb.equality import services as equality
    from pb.lifecycle import advance, move_to_next_phase
    from pb.proposals import services as proposals
    from pb.rounds import services as rounds
    from pb.voting import services as voting
    from pb.voting.models import Channel, Voter

    homes = by_name["Northfield Homes Housing Association"]
    nhs = by_name["Riverside and Eastgate NHS Foundation Trust"]
    lead = session.exec(select(User).where(User.email == "lead@northfield-homes.example")).one()
    nhs_lead = session.exec(select(User).where(User.email == "lead@riverside-nhs.example")).one()
    officer = session.exec(select(User).where(User.email == OFFICER)).one()
    with current_app.test_request_context():
        round_ = rounds.create_round(
            session,
            actor=lead,
            organisation=homes,
            title=title,
            purpose="Residents of Northfield choose how to spend £40,000 on greener, safer streets.",
            eligibility="Residents of Northfield aged 11 and over.",
            minimum_age=11,
            categories=["Green spaces", "Safer streets"],
            objectives=["Net zero", "Reduce health inequalities"],
            methods=["codes", "declared", "paper"],
        )
        rounds.invite_partner(session, round_, actor=lead, organisation=nhs)
        rounds.appoint_returning_officer(session, round_, actor=lead, user=officer)
        contest = rounds.add_contest(
            session,
            round_,
            actor=lead,
            name="Clean Air" if points else "Green Streets",
            area_id=None,
            ballot_kind="points" if points else "approval",
            min_picks=1,
            max_picks=4,
            limit_to_budget=False,
            rank_depth=3,
            points_total=10,
            points_max=5,
            rule="equalshares/add1",
        )
        rounds.pledge_pot(
            session,
            round_,
            actor=lead,
            organisation=homes,
            contest=contest,
            name="Northfield Homes community chest",
            amount=30_000_00,
        )
        rounds.pledge_pot(
            session,
            round_,
            actor=nhs_lead,
            organisation=nhs,
            contest=contest,
            name="NHS Trust healthy streets fund",
            amount=10_000_00,
        )
        # A round goes public only with dates: the closing date first, the rest once proposals are in.
        rounds.set_timeline(
            session, round_, actor=lead, dates={"voting_closes_at": now() + (closes_in or timedelta(days=2))}
        )
        move_to_next_phase(session, round_, actor=lead)  # proposals open
        categories = {
            c.name: c.id for c in session.exec(select(rounds.Category).where(rounds.Category.round_id == round_.id))
        }
        objectives = {
            o.title: o.id
            for o in session.exec(select(rounds.CharterObjective).where(rounds.CharterObjective.round_id == round_.id))
        }
        for group_name, project_title, summary, pounds, category, serves in projects:
            group = session.exec(select(Organisation).where(Organisation.name == group_name)).one()
            member = session.get(
                User, session.exec(select(Membership.user_id).where(Membership.organisation_id == group.id)).first()
            )
            content = proposals.ProposalContent(
                contest_id=contest.id,
                title=project_title,
                summary=summary,
                description=summary,
                beneficiaries="",
                category_id=categories[category],
                postcode=None,
                cost_lines=[("Everything", pounds * 100)],
                objective_ids=[objectives[o] for o in serves],
            )
            proposal = proposals.create_proposal(session, round_, actor=member, organisation=group, content=content)
            proposals.submit_proposal(session, proposal, actor=member)
            proposals.screen_proposal(session, proposal, actor=lead, decision="eligible", reason="")
        made = voting.generate_codes(session, round_, actor=officer, area=None, count=codes) if codes else []
        equality.set_monitoring(session, round_, actor=lead, on=True)  # residents are asked after they vote
        start = now() - timedelta(days=days_ago)
        rounds.set_timeline(
            session,
            round_,
            actor=lead,
            dates={
                "proposals_open_at": start,
                "screening_at": start + timedelta(days=28),
                "voting_opens_at": start + timedelta(days=42),
                "voting_closes_at": now() + (closes_in or timedelta(days=2)),
                "results_at": now() + (closes_in or timedelta(days=2)) + timedelta(hours=1),
            },
            move_now=True,
        )
        advance(session, round_.id)  # screening, then voting
        assert round_.phase == "voting", "the demo round did not open for voting"
        # Residents' tastes follow the projects as proposed, whatever order the ballot drew.
        on_ballot = sorted(voting.projects_for(session, contest), key=lambda project: project.proposal_id)
        rng = random.Random(days_ago)
        asked = random.Random(days_ago + 1)  # its own draws: the ballots stay as they were
        popularity = [8, 6, 9, 5, 3, 4, 2, 6][: len(on_ballot)]
        for n in range(voters):
            voter = Voter(round_id=round_.id, area_id=None, method="declared", identity=f"demo-{round_.id}-{n}")
            session.add(voter)
            session.flush()
            channel = Channel.PAPER if n % 10 == 0 else Channel.ONLINE
            if points:
                choices = _shared_out(rng, on_ballot, popularity)
            else:
                picks: set[int] = set()
                while len(picks) < rng.randint(1, 4):
                    picks.add(rng.choices(on_ballot, popularity)[0].id)
                choices = {pid: None for pid in picks}
            voting.cast_ballot(session, voter, contest, choices, channel=channel)
            if channel == Channel.ONLINE and asked.random() < 0.6:  # most online voters answer
                equality.record_answers(session, round_, voter.id, _demo_equality_answers(asked))
    return round_, made


def _demo_equality_answers(rng) -> dict[str, str | None]:
    """One resident's answers to the equality questions, some skipped (pb.equality)."""
    from pb.equality.questions import QUESTIONS

    weights = {
        "age": [1, 10, 14, 16, 15, 13, 10, 6, 3],
        "disability": [2, 4, 18, 2],
        "ethnic_group": [3, 1, 4, 5, 1, 3, 3, 1, 1, 1, 1, 1, 50, 2, 1, 1, 6, 1, 1, 3],
    }
    answers: dict[str, str | None] = {}
    for question in QUESTIONS:
        choices = [a.id for a in question.answers]
        answers[question.id] = None if rng.random() < 0.05 else rng.choices(choices, weights[question.id])[0]
    return answers


def _shared_out(rng, on_ballot: list, popularity: list[int]) -> dict[int, int | None]:
    """One resident's points ballot: 10 points or a few fewer, at most 5 on one project,
    given a point at a time to the projects they like (some put all 5 on a favourite)."""
    given: dict[int, int | None] = {}
    favourite = rng.choices(on_ballot, popularity)[0].id
    if rng.random() < 0.3:
        given[favourite] = 5
    for _point in range(rng.choice([10, 10, 10, 8, 6]) - sum(p or 0 for p in given.values())):
        for _try in range(20):
            pid = rng.choices(on_ballot, popularity)[0].id
            if (given.get(pid) or 0) < 5:
                given[pid] = (given.get(pid) or 0) + 1
                break
    return given


def _demo_finished_round(
    session,
    by_name,
    *,
    title: str,
    days_ago: int,
    projects: list,
    voters: int,
    codes: int = 0,
    points: bool = False,
):
    """A round that has run its course: voted on, counted and published. Returns it and
    any voting codes made for it (shown once, for trying residents' verdicts)."""
    from pb.accounts.models import User
    from pb.clock import now
    from pb.lifecycle import advance, move_to_next_phase

    round_, made = _demo_voting_round(
        session, by_name, title=title, days_ago=days_ago, projects=projects, voters=voters, codes=codes, points=points
    )
    lead = session.exec(select(User).where(User.email == "lead@northfield-homes.example")).one()
    with current_app.test_request_context():
        # The demo's history: the published closing time comes (only the demo moves time).
        round_.voting_closes_at = now()
        session.add(round_)
        session.flush()
        advance(session, round_.id)  # close: the count follows
        move_to_next_phase(session, round_, actor=lead)  # publish the results
    return round_, made


def _demo_open_round(session, by_name):
    """This year's second round, open for voting for two weeks, with ten voting codes."""
    from datetime import timedelta

    from pb.accounts.models import User
    from pb.rounds.help import set_help

    round_, made = _demo_voting_round(
        session,
        by_name,
        title="Safer Streets 2027",
        days_ago=45,
        projects=OPEN_PROJECTS,
        voters=30,
        codes=10,
        closes_in=timedelta(days=14),
    )
    lead = session.exec(select(User).where(User.email == "lead@northfield-homes.example")).one()
    with current_app.test_request_context():
        set_help(
            session,
            round_,
            actor=lead,
            contact={
                "name": "Northfield Homes community team",
                "email": "pb@northfield-homes.example",
                "phone": "01632 960 000",
                "address": "Northfield Homes, 2 Mill Lane, Northfield NF1 2AB",
                "hours": "Monday to Friday, 9am to 5pm",
            },
            questions=[
                ("Who can vote?", "Everyone who lives in Northfield and is 11 or older."),
                (
                    "I lost my letter. What do I do?",
                    "Call us: the returning officer can cancel it and send you a new code.",
                ),
                ("Can anyone see how I voted?", "No. Your ballot is kept without anything that says who you are."),
            ],
            places=[("Northfield Library", "14 High Street, Northfield NF1 1AA", "Tuesday to Saturday, 10am to 4pm")],
        )
    return round_, made


# What each funded project of the round in delivery reports, in turn: a list of updates,
# each (status, reason, note, milestones [(title, days from now, done)], spend [(item, pounds, local)]).
DELIVERY_STORIES = [
    [
        (
            "in_progress",
            "",
            "Work has started; the first deliveries arrived this week.",
            [("Order materials", -40, True), ("Volunteer planting days", -10, True), ("Finished", 20, False)],
            [("Plants and materials from Northfield Nurseries", 2100, True)],
        ),
        (
            "delivered",
            "",
            "Finished and open to everyone. Thank you to the 40 volunteers who helped. "
            "The groundworks cost £150 more than planned; our group paid the difference from its own funds.",
            [("Order materials", -40, True), ("Volunteer planting days", -10, True), ("Finished", -2, True)],
            [
                ("Plants and materials from Northfield Nurseries", 2100, True),
                ("Contractor for groundworks", 3650, False),
                ("Local apprentice's wages", 800, True),
            ],
        ),
    ],
    [
        (
            "delayed",
            "The council's highways team has not yet approved the design; we expect a decision next month.",
            "Design drawn up with residents at two drop-in sessions.",
            [
                ("Design agreed with residents", -30, True),
                ("Highways approval", 30, False),
                ("Construction", 90, False),
            ],
            [("Design drop-in sessions (hall hire, local)", 240, True)],
        )
    ],
    [
        (
            "in_progress",
            "",
            "Half of the work is done.",
            [("Start", -20, True), ("Halfway", -1, True), ("Finished", 40, False)],
            [("Materials", 1500, False), ("Local joiner", 900, True)],
        )
    ],
    [
        (
            "stalled",
            "Our supplier went out of business and the deposit is being recovered; we are looking for another.",
            "",
            [("Order equipment", -25, True), ("Install", 10, False)],
            [("Deposit to supplier", 1200, False)],
        )
    ],
    [
        (
            "cancelled",
            "The landowner withdrew permission. The money not spent goes back to the round's partners.",
            "",
            [],
            [],
        )
    ],
    [
        (
            "delivered",
            "",
            "Delivered, but the final bill came in above the budget; our group covered the difference from its own funds.",
            [("Buy", -50, True), ("Install", -5, True)],
            [("Equipment", 3500, False), ("Installation by a local firm", 900, True)],
        )
    ],
]

OPEN_PROJECTS = [
    (
        "Eastgate Residents' Association",
        "Zebra crossing by the shops",
        "A safe crossing where children walk to school.",
        14500,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
    (
        "Green Corner Community Garden CIC",
        "Pocket park on Wharf Street",
        "Benches, planting and shade on a bare corner.",
        9800,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Alley gates for Canal Row",
        "Lockable gates to stop fly-tipping in the back alleys.",
        6200,
        "Safer streets",
        [],
    ),
    (
        "Green Corner Community Garden CIC",
        "Bike repair workshops",
        "Monthly free repair sessions with a local mechanic.",
        3400,
        "Safer streets",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Brighter underpass",
        "Lighting and a mural in the station underpass.",
        11000,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
]

POINTS_ROUND = "Clean Air 2026"
POINTS_PROJECTS = [
    (
        "Green Corner Community Garden CIC",
        "Trees on the bus route",
        "Forty street trees along the number 12 bus route.",
        9800,
        "Green spaces",
        ["Net zero", "Reduce health inequalities"],
    ),
    (
        "Eastgate Residents' Association",
        "School streets",
        "Planters and signs that close two school roads to cars at drop-off time.",
        6200,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
    (
        "Green Corner Community Garden CIC",
        "Green wall at the health centre",
        "A living wall of plants on the health centre's car park side.",
        12500,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Bike hangars",
        "Four lockable bike sheds on terraced streets with no room for bikes.",
        7400,
        "Safer streets",
        ["Net zero"],
    ),
    (
        "Green Corner Community Garden CIC",
        "Air quality sensors",
        "Ten sensors that show the air on each street, with a public map.",
        4300,
        "Green spaces",
        ["Reduce health inequalities"],
    ),
    (
        "Eastgate Residents' Association",
        "No idling campaign",
        "Volunteers and signs asking drivers to switch off outside schools.",
        1600,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
]

OLD_PROJECTS = [
    (
        "Green Corner Community Garden CIC",
        "School gate planters",
        "Planters and seating outside two primary schools.",
        5200,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Street lights on Mill Lane",
        "Brighter, low-energy lights on a dark lane.",
        12800,
        "Safer streets",
        ["Reduce health inequalities"],
    ),
    (
        "Green Corner Community Garden CIC",
        "Tree planting weekend",
        "Sixty street trees planted by residents.",
        7400,
        "Green spaces",
        ["Net zero"],
    ),
    (
        "Eastgate Residents' Association",
        "Community speed watch",
        "Training and kit for a residents' speed watch.",
        2600,
        "Safer streets",
        [],
    ),
    (
        "Green Corner Community Garden CIC",
        "Allotment water butts",
        "Rainwater collection for the allotments.",
        1900,
        "Green spaces",
        ["Net zero"],
    ),
]


def _demo_rounds_after_the_vote(session, by_name) -> list[tuple[str, str]]:
    """Last year's round, delivered and archived, and this year's, in delivery with a mix of
    statuses, spending, residents' verdicts and one hidden comment. Returns voting codes
    of this year's round (to try giving a verdict)."""
    from datetime import timedelta

    from flask import current_app

    from pb.accounts.models import Membership, User
    from pb.clock import now
    from pb.delivery import services as delivery
    from pb.delivery import verdicts
    from pb.delivery.models import Verdict
    from pb.lifecycle import move_to_next_phase
    from pb.proposals.models import Project

    lead = session.exec(select(User).where(User.email == "lead@northfield-homes.example")).one()

    def member_of(project):
        group = delivery.group_of(session, project)
        return session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(Membership.organisation_id == group.id)
        ).first()

    def report(project, story):
        for status, reason, note, milestones, spend in story:
            delivery.post_update(
                session,
                project,
                actor=member_of(project),
                content=delivery.UpdateContent(
                    status=status,
                    reason=reason,
                    note=note,
                    milestones=[
                        (title, (now() + timedelta(days=days)).date(), done) for title, days, done in milestones
                    ],
                    spend=[(item, pounds * 100, local) for item, pounds, local in spend],
                ),
            )

    old, _codes = _demo_finished_round(
        session, by_name, title="Green Streets 2025", days_ago=420, projects=OLD_PROJECTS, voters=180
    )
    with current_app.test_request_context():
        move_to_next_phase(session, old, actor=lead)  # delivery
        for project in session.exec(
            select(Project).where(col(Project.id).in_(delivery.funded_project_ids(session, old)))
        ):
            report(
                project,
                [
                    (
                        "delivered",
                        "",
                        "Done.",
                        [("Finished", -200, True)],
                        [
                            ("Everything, from local firms", project.cost // 100 - 300, True),
                            ("Hire of equipment", 300, False),
                        ],
                    )
                ],
            )
        move_to_next_phase(session, old, actor=lead)  # archived

    current, codes = _demo_finished_round(
        session, by_name, title="Green Streets 2026", days_ago=90, projects=FINISHED_PROJECTS, voters=240, codes=5
    )
    with current_app.test_request_context():
        move_to_next_phase(session, current, actor=lead)  # delivery
        funded = list(
            session.exec(
                select(Project)
                .where(col(Project.id).in_(delivery.funded_project_ids(session, current)))
                .order_by(col(Project.id))
            )
        )
        for project, story in zip(funded, DELIVERY_STORIES, strict=False):
            report(project, story)
        answers = ["yes", "yes", "partly", "no", "yes", "partly", "yes"]
        for n, project in enumerate(funded):
            for k in range(6 + n):
                comment = ""
                if k == 0:
                    comment = (
                        "Lovely to see this finished." if n % 2 == 0 else "Slower than promised, but getting there."
                    )
                verdicts.give_verdict(
                    session,
                    project,
                    resident=f"demo-resident-{k}",
                    answer=answers[(n + k) % len(answers)],
                    comment=comment,
                )
        rude = verdicts.give_verdict(
            session, funded[0], resident="demo-resident-rude", answer="no", comment="(an abusive comment)"
        )
        verdicts.hide_comment(session, rude, actor=lead, reason="Abusive language about a volunteer.")
        assert session.exec(select(Verdict).where(Verdict.id == rude.id)).one().hidden_at is not None
    return codes


def _print_credentials() -> None:
    click.echo(f"Demo users (password for all: {DEMO_PASSWORD}):")
    for email, name, org, is_admin in USERS:
        role = "platform admin" if is_admin else org
        click.echo(f"  {email:34} {name} – {role}")
    if not current_app.config.get("MAIL_SERVER"):
        click.echo("Mail is not sent without PB_MAIL_SERVER: what the site would send (sign-up links, one-time codes,")
        click.echo(
            "receipts) is printed here and kept at /dev/outbox, e.g. http://127.0.0.1:5000/dev/outbox with make run,"
        )
        click.echo("linked from every page's footer when you browse from this machine.")
