"""Rounds: two anchors set up a round with pots in two areas; it freezes when voting opens."""

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from pb.audit.models import AuditEvent, chain_key
from pb.rounds import services
from pb.rounds.freeze import RoundFrozen
from pb.rounds.models import Area, Contest, Partner, Pot, Round
from pb.verify.chain import verify_chain
from tests.conftest import FormClient
from tests.factories import eligible_proposals

PASSWORD = "correct horse battery"


@pytest.fixture
def anchors(app, make_user):
    make_user("lead@council.example", name="Cllr Ada", organisation="Eastshire Council", kind="anchor")
    make_user("lead@nhs.example", name="Dr Ben", organisation="Eastshire NHS Trust", kind="anchor")
    make_user("lead@police.example", name="Insp Cai", organisation="Eastshire Police", kind="anchor")
    make_user("chair@group.example", name="Dee", organisation="Friends of the Park", kind="group")
    make_user("officer@independent.example", name="Olu Officer")
    clients = {}
    for key, email in [
        ("council", "lead@council.example"),
        ("nhs", "lead@nhs.example"),
        ("police", "lead@police.example"),
        ("group", "chair@group.example"),
    ]:
        clients[key] = FormClient(app)
        clients[key].sign_in(email, PASSWORD)
    return clients


def org_id(db, name):
    from pb.accounts.models import Organisation

    with db() as session:
        return session.exec(select(Organisation).where(Organisation.name == name)).one().id


def user_id(db, email):
    from pb.accounts.models import User

    with db() as session:
        return session.exec(select(User).where(User.email == email)).one().id


def create_round(council, db):
    response = council.submit(
        "/rounds/new",
        {
            "organisation": org_id(db, "Eastshire Council"),
            "title": "Eastshire Together 2027",
            "purpose": "Local people decide how to spend money on health and green spaces.",
            "eligibility": "People who live, work or study in Eastshire.",
            "minimum_age": "11",
            "methods": ["codes", "email"],
            "categories": "Health\nGreen spaces\nYoung people",
            "objectives": "Reduce health inequalities\nNet zero",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[2])


def set_up_round(council, nhs, db):
    """The walk from draft to ready-to-vote, through the pages, as two anchors would."""
    round_id = create_round(council, db)
    base = f"/rounds/{round_id}"
    assert council.submit(f"{base}/timeline", {"voting_closes_at": "2099-01-01T12:00"}).status_code == 302
    assert council.submit(f"{base}/areas/new", {"name": "North", "postcodes": "ls6, ls7 3"}).status_code == 302
    assert council.submit(f"{base}/areas/new", {"name": "South", "postcodes": "LS11\nls10 1aa"}).status_code == 302
    with db() as session:
        areas = {a.name: a.id for a in session.exec(select(Area).where(Area.round_id == round_id))}
        assert session.get(Area, areas["North"]).postcode_list == ["LS6", "LS7 3"]
        assert session.get(Area, areas["South"]).postcode_list == ["LS11", "LS10 1AA"]
    contest = {
        "ballot_kind": "approval",
        "min_picks": "1",
        "max_picks": "3",
        "rank_depth": "3",
        "rule": "equalshares/add1",
    }
    assert (
        council.submit(f"{base}/contests/new", {**contest, "name": "North ballot", "area": areas["North"]}).status_code
        == 302
    )
    assert (
        council.submit(
            f"{base}/contests/new",
            {**contest, "name": "South ballot", "area": areas["South"], "ballot_kind": "ranked", "rule": "greedy"},
        ).status_code
        == 302
    )
    with db() as session:
        contests = {c.name: c.id for c in session.exec(select(Contest).where(Contest.round_id == round_id))}

    nhs_id, council_id = org_id(db, "Eastshire NHS Trust"), org_id(db, "Eastshire Council")
    assert nhs.get(f"{base}/manage").status_code == 403  # not a partner yet
    assert council.submit(f"{base}/partners", {"organisation": nhs_id}).status_code == 302
    assert nhs.get(f"{base}/manage").status_code == 200
    # The returning officer belongs to none of the funding anchors (a lead of one cannot be it).
    refused = council.submit(f"{base}/returning-officer", {"email": "lead@nhs.example"})
    assert refused.status_code == 400
    assert "cannot belong to an anchor that funds" in refused.get_data(as_text=True)
    assert council.submit(f"{base}/returning-officer", {"email": "officer@independent.example"}).status_code == 302

    pledges = [
        (council, council_id, "North ballot", "Council green spaces fund", "30,000"),
        (nhs, nhs_id, "North ballot", "NHS Trust health inequalities fund", "£20,000.50"),
        (nhs, nhs_id, "South ballot", "NHS Trust healthy South fund", "25000"),
    ]
    for client, organisation, contest_name, name, amount in pledges:
        response = client.submit(
            f"{base}/pots/new",
            {"organisation": organisation, "contest": contests[contest_name], "name": name, "amount": amount},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
    return round_id, areas, contests


def open_voting(app, council, db, round_id):
    """Draft -> proposals open -> (eligible proposals) -> screening -> voting, by hand."""
    move_on(council, round_id)
    eligible_proposals(
        app, db, round_id, screener="lead@council.example", member="chair@group.example", group="Friends of the Park"
    )
    move_on(council, round_id, 2)
    assert phase_of(db, round_id) == "voting"


def move_on(council, round_id, times=1):
    for _ in range(times):
        response = council.submit(f"/rounds/{round_id}/phase", {"confirm": "y"})
        assert response.status_code == 302


def phase_of(db, round_id):
    with db() as session:
        return session.get(Round, round_id).phase


def test_round_walks_from_draft_to_voting_with_two_anchors(app, anchors, db, client):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, _areas, contests = set_up_round(council, nhs, db)

    with db() as session:
        round_ = session.get(Round, round_id)
        budgets = services.contest_budgets(session, round_)
    assert budgets == {contests["North ballot"]: 30_000_00 + 20_000_50, contests["South ballot"]: 25_000_00}

    # A draft is hidden from the public.
    assert client.get(f"/rounds/{round_id}").status_code == 404
    assert phase_of(db, round_id) == "draft"
    move_on(council, round_id)  # proposals open: now public
    page = client.get(f"/rounds/{round_id}").get_data(as_text=True)
    assert "Eastshire Together 2027" in page
    assert "£50,000.50" in page  # North: the sum of its two pots
    assert "£25,000.00" in page
    assert "NHS Trust health inequalities fund" in page
    assert "Eastshire NHS Trust" in page
    assert "Rank up to 3 projects" in page
    assert "Tick between 1 and 3 projects." in page

    eligible_proposals(
        app, db, round_id, screener="lead@nhs.example", member="chair@group.example", group="Friends of the Park"
    )
    move_on(council, round_id, 2)  # screening, then voting
    assert phase_of(db, round_id) == "voting"
    with db() as session:
        moves = [
            e
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(col(AuditEvent.seq))
            )
            if e.action == "round.phase_changed"
        ]
        assert [m.data for m in moves][-1].count('"to":"voting"') == 1
        assert verify_chain(session, chain_key(round_id)).ok


def test_voting_cannot_open_while_a_contest_has_no_money(anchors, db):
    council = anchors["council"]
    round_id = create_round(council, db)
    ballot = {"ballot_kind": "approval", "min_picks": "1", "max_picks": "2", "rank_depth": "3", "rule": "greedy"}
    council.submit(f"/rounds/{round_id}/contests/new", {**ballot, "name": "Everyone", "area": "0"})
    # To go public a round needs some money and dates: the North ballot has money, Everyone none.
    assert council.submit(f"/rounds/{round_id}/areas/new", {"name": "North", "postcodes": "LS6"}).status_code == 302
    with db() as session:
        north = session.exec(select(Area).where(Area.round_id == round_id)).one().id
    assert (
        council.submit(
            f"/rounds/{round_id}/contests/new", {**ballot, "name": "North ballot", "area": north}
        ).status_code
        == 302
    )
    with db() as session:
        north_ballot = session.exec(select(Contest).where(Contest.area_id == north)).one().id
    assert (
        council.submit(
            f"/rounds/{round_id}/pots/new",
            {
                "organisation": org_id(db, "Eastshire Council"),
                "contest": north_ballot,
                "name": "Fund",
                "amount": "1000",
            },
        ).status_code
        == 302
    )
    assert council.submit(f"/rounds/{round_id}/timeline", {"voting_closes_at": "2099-01-01T12:00"}).status_code == 302
    move_on(council, round_id, 2)
    response = council.submit(f"/rounds/{round_id}/phase", {"confirm": "y"})
    page = council.get(response.headers["Location"]).get_data(as_text=True)
    assert "No money has been pledged to" in page
    assert phase_of(db, round_id) == "screening"


def frozen_attempts(round_id, areas, contests, pot_id, ids):
    base = f"/rounds/{round_id}"
    contest = {
        "name": "North ballot",
        "area": areas["North"],
        "ballot_kind": "approval",
        "min_picks": "1",
        "max_picks": "9",
        "rank_depth": "3",
        "rule": "greedy",
    }
    return [
        (
            "council",
            f"{base}/edit",
            {
                "title": "Eastshire Together 2027",
                "purpose": "p",
                "eligibility": "Anyone at all",
                "minimum_age": "11",
                "methods": ["codes", "email"],
                "categories": "Health\nGreen spaces\nYoung people",
                "objectives": "Reduce health inequalities\nNet zero",
            },
        ),
        ("council", f"{base}/timeline", {"voting_closes_at": "2030-01-01T12:00"}),
        ("council", f"{base}/areas/new", {"name": "West", "postcodes": "LS12"}),
        ("council", f"{base}/areas/{areas['North']}", {"name": "North", "postcodes": "LS6"}),
        ("council", f"{base}/contests/new", {**contest, "name": "Extra", "area": "0"}),
        ("council", f"{base}/contests/{contests['North ballot']}", contest),
        ("council", f"{base}/partners", {"organisation": ids["police"]}),
        (
            "council",
            f"{base}/pots/new",
            {"organisation": ids["council"], "contest": contests["South ballot"], "name": "Late", "amount": "5"},
        ),
        ("nhs", f"{base}/pots/{pot_id}", {"amount": "999,999"}),
    ]


def snapshot(db, round_id):
    """Everything residents vote on, to show that refused changes changed nothing."""
    with db() as session:
        round_ = session.get(Round, round_id)
        return (
            (round_.eligibility, round_.minimum_age, round_.voting_closes_at, round_.phase),
            sorted((a.name, a.postcodes) for a in session.exec(select(Area).where(Area.round_id == round_id))),
            sorted(
                tuple(c.model_dump().items()) for c in session.exec(select(Contest).where(Contest.round_id == round_id))
            ),
            sorted(
                (p.id, p.amount) for p in session.exec(select(Pot).join(Contest).where(Contest.round_id == round_id))
            ),
            services.names_of(session, round_, services.Category, "name"),
            sorted(services.funding_organisation_ids(session, round_)),
        )


def refusals(db, round_id):
    with db() as session:
        return [
            e
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq)
            )
            if e.action == "round.change_refused"
        ]


def test_every_frozen_field_refuses_change_over_http_and_is_logged(app, anchors, db):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, areas, contests = set_up_round(council, nhs, db)
    with db() as session:
        pot_id = session.exec(select(Pot).where(Pot.name == "NHS Trust healthy South fund")).one().id
    ids = {"council": org_id(db, "Eastshire Council"), "police": org_id(db, "Eastshire Police")}
    open_voting(app, council, db, round_id)
    before = snapshot(db, round_id)

    attempts = frozen_attempts(round_id, areas, contests, pot_id, ids)
    for who, url, data in attempts:
        # A crafted POST: the token comes from a page the user may see, not from the form.
        client = anchors[who]
        token = client.csrf_token(f"/rounds/{round_id}/manage")
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 409, (url, response.status_code)
        assert "Voting has opened" in response.get_data(as_text=True)

    assert snapshot(db, round_id) == before
    logged = refusals(db, round_id)
    assert len(logged) == len(attempts)
    assert {json.loads(e.data)["attempted"] for e in logged} == {
        "round.updated",
        "round.timeline_set",
        "area.added",
        "area.updated",
        "contest.added",
        "contest.updated",
        "partner.invited",
        "pot.pledged",
        "pot.raised",
    }
    assert {e.actor_user_id for e in logged} == {user_id(db, "lead@council.example"), user_id(db, "lead@nhs.example")}
    with db() as session:
        assert verify_chain(session, chain_key(round_id)).ok


def test_frozen_round_refuses_changes_through_the_service_layer(app, anchors, db):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, areas, contests = set_up_round(council, nhs, db)
    open_voting(app, council, db, round_id)
    from pb.accounts.models import Organisation, User

    calls = [
        lambda s, r, u: services.update_round(
            s,
            r,
            actor=u,
            title=r.title,
            purpose=r.purpose,
            eligibility="Anyone",
            minimum_age=None,
            categories=[],
            objectives=[],
        ),
        lambda s, r, u: services.set_timeline(s, r, actor=u, dates={}),
        lambda s, r, u: services.add_area(s, r, actor=u, name="West", postcodes=["LS12"]),
        lambda s, r, u: services.update_area(
            s, s.get(Area, areas["North"]), actor=u, name="N", postcodes=[], population=None, electorate=None
        ),
        lambda s, r, u: services.add_contest(
            s,
            r,
            actor=u,
            name="X",
            area_id=None,
            ballot_kind="approval",
            min_picks=1,
            max_picks=2,
            limit_to_budget=False,
            rank_depth=3,
            rule="greedy",
        ),
        lambda s, r, u: services.update_contest(
            s,
            s.get(Contest, contests["North ballot"]),
            actor=u,
            name="X",
            area_id=None,
            ballot_kind="approval",
            min_picks=1,
            max_picks=2,
            limit_to_budget=False,
            rank_depth=3,
            rule="greedy",
        ),
        lambda s, r, u: services.invite_partner(
            s,
            r,
            actor=u,
            organisation=s.exec(select(Organisation).where(Organisation.name == "Eastshire Police")).one(),
        ),
        lambda s, r, u: services.pledge_pot(
            s,
            r,
            actor=u,
            organisation=s.get(Organisation, r.convening_organisation_id),
            contest=s.get(Contest, contests["South ballot"]),
            name="Late",
            amount=500,
        ),
        lambda s, r, u: services.raise_pot(s, s.exec(select(Pot)).first(), actor=u, amount=10**9),
    ]
    before = snapshot(db, round_id)
    for call in calls:
        with pytest.raises(RoundFrozen), app.test_request_context(), db() as session:
            user = session.exec(select(User).where(User.email == "lead@council.example")).one()
            call(session, session.get(Round, round_id), user)
    assert snapshot(db, round_id) == before
    assert len(refusals(db, round_id)) == len(calls)


def test_a_pledge_can_be_raised_but_never_reduced(anchors, db):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, _areas, _contests = set_up_round(council, nhs, db)
    with db() as session:
        pot = session.exec(select(Pot).where(Pot.name == "NHS Trust healthy South fund")).one()
    url = f"/rounds/{round_id}/pots/{pot.id}"
    response = nhs.submit(url, {"amount": "24,999.99"})
    assert response.status_code == 400
    assert "cannot be reduced" in response.get_data(as_text=True)
    assert council.get(url).status_code == 403  # not the council's pledge
    assert nhs.submit(url, {"amount": "30,000"}).status_code == 302
    with db() as session:
        assert session.get(Pot, pot.id).amount == 30_000_00


@pytest.mark.parametrize("amount", ["-5", "0", "abc", "1.005", "99999999999", "1e5"])
def test_bad_amounts_are_refused_and_nothing_is_saved(anchors, db, amount):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, _areas, contests = set_up_round(council, nhs, db)
    with db() as session:
        count = len(session.exec(select(Pot)).all())
    response = council.submit(
        f"/rounds/{round_id}/pots/new",
        {
            "organisation": org_id(db, "Eastshire Council"),
            "contest": contests["South ballot"],
            "name": "Odd",
            "amount": amount,
        },
    )
    assert response.status_code == 400
    with db() as session:
        assert len(session.exec(select(Pot)).all()) == count


def test_an_organisation_or_ballot_paper_not_offered_is_refused_and_nothing_is_saved(anchors, db):
    """The pages take the chosen organisation and ballot paper as certain to exist
    (get_one) because the form accepts only the ids it offered: any other is refused."""
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, _areas, contests = set_up_round(council, nhs, db)
    nhs_id, council_id = org_id(db, "Eastshire NHS Trust"), org_id(db, "Eastshire Council")
    group_id, police_id = org_id(db, "Friends of the Park"), org_id(db, "Eastshire Police")
    with db() as session:
        counts = [len(session.exec(select(model)).all()) for model in (Round, Partner, Pot)]
    base = f"/rounds/{round_id}"
    pot = {"name": "Odd", "amount": "100"}
    attempts = [
        ("/rounds/new", {"organisation": nhs_id, "title": "Not ours", "methods": ["codes"]}),  # not the council's
        ("/rounds/new", {"organisation": "99999", "title": "Nobody's", "methods": ["codes"]}),
        (f"{base}/partners", {"organisation": council_id}),  # already taking part
        (f"{base}/partners", {"organisation": group_id}),  # a group, not an anchor
        (f"{base}/partners", {"organisation": "99999"}),
        (f"{base}/pots/new", {**pot, "organisation": nhs_id, "contest": contests["South ballot"]}),
        (f"{base}/pots/new", {**pot, "organisation": police_id, "contest": contests["South ballot"]}),
        (f"{base}/pots/new", {**pot, "organisation": council_id, "contest": "99999"}),
    ]
    for url, data in attempts:
        response = council.submit(url, data)
        assert response.status_code == 400, (url, data)
        assert "Not a valid choice" in response.get_data(as_text=True), (url, data)
    with db() as session:
        assert [len(session.exec(select(model)).all()) for model in (Round, Partner, Pot)] == counts


def test_access_across_anchors_is_refused(app, anchors, db, client):
    council, nhs = anchors["council"], anchors["nhs"]
    police, group = anchors["police"], anchors["group"]
    round_id, _areas, contests = set_up_round(council, nhs, db)
    base = f"/rounds/{round_id}"
    for url in [
        base,
        f"{base}/manage",
        f"{base}/edit",
        f"{base}/timeline",
        f"{base}/areas/new",
        f"{base}/pots/new",
        f"{base}/contests/{contests['North ballot']}",
    ]:
        assert police.get(url).status_code == 403, url
    # Crafted POST by an outsider changes nothing.
    token = police.csrf_token("/dashboard")
    response = police.post(f"{base}/areas/new", data={"name": "Sneaky", "postcodes": "LS1", "csrf_token": token})
    assert response.status_code == 403
    # A partner may pledge but not reconfigure.
    assert nhs.get(f"{base}/edit").status_code == 403
    assert nhs.get(f"{base}/areas/new").status_code == 403
    # Community groups cannot start rounds; anonymous visitors cannot see drafts.
    assert group.get("/rounds/new").status_code == 403
    assert client.get(base).status_code == 404
    with db() as session:
        assert session.exec(select(Area).where(Area.name == "Sneaky")).first() is None


def test_a_lead_cannot_pledge_for_another_anchor(anchors, db):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, _areas, contests = set_up_round(council, nhs, db)
    response = council.submit(
        f"/rounds/{round_id}/pots/new",
        {
            "organisation": org_id(db, "Eastshire NHS Trust"),
            "contest": contests["South ballot"],
            "name": "Forged",
            "amount": "10",
        },
    )
    assert response.status_code == 400
    with db() as session:
        assert session.exec(select(Pot).where(Pot.name == "Forged")).first() is None


def test_dates_move_the_round_forward_and_freeze_it(app, anchors, db, client):
    council, nhs = anchors["council"], anchors["nhs"]
    round_id, _areas, _contests = set_up_round(council, nhs, db)
    move_on(council, round_id)
    eligible_proposals(
        app, db, round_id, screener="lead@council.example", member="chair@group.example", group="Friends of the Park"
    )
    now = datetime.now(UTC)
    with app.test_request_context(), db() as session:
        from pb.accounts.models import User

        user = session.exec(select(User).where(User.email == "lead@council.example")).one()
        services.set_timeline(
            session,
            session.get(Round, round_id),
            actor=user,
            dates={
                "proposals_open_at": now - timedelta(days=30),
                "screening_at": now - timedelta(days=10),
                "voting_opens_at": now - timedelta(minutes=1),
                "voting_closes_at": now + timedelta(days=14),
            },
            move_now=True,
        )
    assert phase_of(db, round_id) == "proposals_open"  # nothing has looked at it yet
    assert client.get(f"/rounds/{round_id}").status_code == 200  # a visit makes the due moves
    assert phase_of(db, round_id) == "voting"
    with db() as session:
        moves = [
            e.data
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq)
            )
            if e.action == "round.phase_changed"
        ]
    by_timeline = [m for m in moves if '"by":"timeline"' in m]
    assert len(by_timeline) == 2
    assert '"to":"voting"' in by_timeline[-1]
    response = council.submit(f"/rounds/{round_id}/areas/new", {"name": "West", "postcodes": "LS12"})
    assert response.status_code == 409


def test_timeline_dates_must_be_in_order(anchors, db):
    council = anchors["council"]
    round_id = create_round(council, db)
    response = council.submit(
        f"/rounds/{round_id}/timeline", {"voting_opens_at": "2027-05-10T09:00", "voting_closes_at": "2027-05-01T09:00"}
    )
    assert response.status_code == 400
    assert "must come after" in response.get_data(as_text=True)
    with db() as session:
        assert session.get(Round, round_id).voting_opens_at is None


def test_invalid_postcodes_are_refused(anchors, db):
    council = anchors["council"]
    round_id = create_round(council, db)
    response = council.submit(f"/rounds/{round_id}/areas/new", {"name": "Nowhere", "postcodes": "LS6, 12345, !!"})
    assert response.status_code == 400
    assert "12345" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(Area).where(Area.round_id == round_id)).all() == []


def test_the_lead_is_told_what_each_way_of_voting_proves_and_chooses_what_residents_declare(app, anchors, db):
    council = anchors["council"]
    page = council.get("/rounds/new").get_data(as_text=True)
    proofs = re.findall(r'<p class="hint" id="(methods-\d)-hint">([^<]+)</p>', page)
    assert [text.split(":")[0] for _id, text in proofs] == [
        "Strong",
        "Weak",
        "Weakest",
        "As strong as the voting codes the polling helpers check; each paper ballot records which helper entered it.",
        "Weak",
    ]  # codes, email, declared, paper, text message
    for option_id, _text in proofs:  # each hint is read out with its checkbox
        assert re.search(
            rf'aria-describedby="{option_id}-hint"[^>]*id="{option_id}"|id="{option_id}"[^>]*aria-describedby="{option_id}-hint"',
            page,
        )
    assert "anyone can declare someone else's details" in html.unescape(page)
    data = {
        "organisation": org_id(db, "Eastshire Council"),
        "title": "Declared",
        "methods": ["declared"],
        "declares": ["birth_year"],
    }
    with db() as session:
        rounds_before = len(session.exec(select(Round)).all())
    refused = council.submit("/rounds/new", data)
    assert refused.status_code == 400
    assert "must give their name, their address or both" in refused.get_data(as_text=True)
    with db() as session:
        assert len(session.exec(select(Round)).all()) == rounds_before
    made = council.submit("/rounds/new", {**data, "declares": ["birth_year", "name"]})
    assert made.status_code == 302
    with db() as session:
        round_ = session.get(Round, int(made.headers["Location"].split("/")[2]))
        assert round_.declared_fields == "name,birth_year"
        assert round_.eligibility_methods == "declared"
