"""Turnout for equity: areas' population and electorate, the turnout page for the round's
leads and returning officer while voting is open (voters, never votes), and the same
table published with the results."""

import json
import re
from fractions import Fraction

import pytest
from babel.numbers import format_decimal
from sqlmodel import col, select

from pb.audit.models import AuditEvent
from pb.proposals import services as proposals
from pb.proposals.models import Project
from pb.rounds import services as rounds
from pb.rounds.models import Area, Round
from pb.voting import services as voting
from tests import factories
from tests.conftest import FormClient
from tests.factories import declare, make_round, open_voting, organisation, publish, user

PASSWORD = "correct horse battery"
LEAD, PARTNER, OTHER_LEAD = "lead@council.example", "lead@trust.example", "lead@fire.example"
MEMBER, SCREENER, RESIDENT_USER = "chair@park.example", "reviewer@example.org", "someone@example.org"
HELPER = "helper@example.org"
COUNCIL, TRUST, FIRE, GROUP = (
    "Eastshire Council",
    "Eastshire NHS Trust",
    "Westshire Fire and Rescue",
    "Friends of the Park",
)


@pytest.fixture
def everyone(app, db, make_user):
    """A round in voting (areas North and South, ranked South ballot) convened by the council
    with the NHS trust as partner, a community reviewer, a returning officer and codes for
    North; plus a lead of an anchor with no part in it and a signed-up resident."""
    make_user(LEAD, organisation=COUNCIL, kind="anchor")
    make_user(PARTNER, organisation=TRUST, kind="anchor")
    make_user(OTHER_LEAD, organisation=FIRE, kind="anchor")
    make_user(MEMBER, organisation=GROUP, kind="group")
    make_user(SCREENER)
    make_user(RESIDENT_USER)
    ids = make_round(
        app, db, convener=LEAD, anchor=COUNCIL, methods=("codes", "email", "declared", "paper"), south_ballot="ranked"
    )
    with app.test_request_context(), db() as session:
        round_, lead = session.get(Round, ids["round"]), user(session, LEAD)
        rounds.invite_partner(session, round_, actor=lead, organisation=organisation(session, TRUST))
        proposals.appoint_screener(session, round_, actor=lead, user=user(session, SCREENER))
    ids["codes"] = factories.make_codes(app, db, ids["round"], ids["areas"]["North"], count=3)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    with db() as session:
        ids["projects"] = {
            name: list(session.exec(select(Project.id).where(Project.contest_id == cid).order_by(col(Project.id))))
            for name, cid in ids["contests"].items()
        }
    return ids


def signed_in(app, email):
    client = FormClient(app)
    client.sign_in(email, PASSWORD)
    return client


def cast(client, ids, area, data):
    """Fill in a ballot paper, review it and cast it, as a resident does."""
    url = f"/rounds/{ids['round']}/vote/{ids['contests'][area]}"
    assert client.submit(url, data).status_code == 200
    response = client.submit(url, {**data, "confirm": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def declared(app, ids, postcode):
    resident = FormClient(app)
    assert declare(resident, ids["round"], postcode).status_code == 302
    return resident


def with_code(app, ids, code):
    resident = FormClient(app)
    start = f"/rounds/{ids['round']}/vote"
    assert resident.submit(f"{start}/code", {"code": code}, page=start).status_code == 302
    return resident


def set_figures(app, db, area_id, population, electorate):
    with app.test_request_context(), db() as session:
        rounds.correct_area_figures(
            session, session.get(Area, area_id), actor=user(session, LEAD), population=population, electorate=electorate
        )


def cells(page, caption):
    """The table with that caption as rows of cell texts (tags dropped, spaces squeezed)."""
    table = re.search(rf"<caption[^>]*>{re.escape(caption)}</caption>(.*?)</table>", page, re.S)
    assert table, f"no table {caption!r}"
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    ]


def test_turnout_counts_each_voter_once_as_cast_over_http(app, db, everyone, make_user):
    ids, north, south = everyone, everyone["projects"]["North"], everyone["projects"]["South"]
    set_figures(app, db, ids["areas"]["North"], 1200, 800)
    set_figures(app, db, ids["areas"]["South"], 900, None)
    lead = signed_in(app, LEAD)
    url = f"/rounds/{ids['round']}/turnout"
    empty = lead.get(url).get_data(as_text=True)
    assert cells(empty, "Voters by area, and turnout")[1:] == [
        ["North", "0", "0% of the electorate", "1,200", "800"],
        ["South", "0", "0% of the population", "900", "–"],
        ["The whole round", "0", "0% of the population", "2,100", "–"],
    ]
    # North: two declared residents (one votes twice, replacing), one with a voting code;
    # South: one declared resident.
    first, second = declared(app, ids, "LS6 1AA"), declared(app, ids, "LS6 2BB")
    cast(first, ids, "North", {"project": north[:1]})
    cast(first, ids, "North", {"project": north[1:3]})  # a replacement: still one voter
    cast(second, ids, "North", {"project": north[:2]})
    cast(with_code(app, ids, ids["codes"][0]), ids, "North", {"project": north[2:3]})
    cast(declared(app, ids, "LS11 1AA"), ids, "South", {f"rank_{south[0]}": "1"})
    # ...and a polling helper enters a North resident's paper ballot against their letter's code.
    make_user(HELPER, name="Hal Helper")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        voting.appoint_helper(session, round_, actor=user(session, factories.OFFICER), user=user(session, HELPER))
    helper = signed_in(app, HELPER)
    assert helper.submit(f"/rounds/{ids['round']}/paper", {"code": ids["codes"][1]}).status_code == 302
    cast(helper, ids, "North", {"project": north[:1]})
    # A resident who proved eligibility but cast nothing is not a voter.
    declared(app, ids, "LS11 2CC")

    page = lead.get(url).get_data(as_text=True)
    assert cells(page, "Voters by area, and turnout")[1:] == [
        ["North", "4", "0.5% of the electorate", "1,200", "800"],
        ["South", "1", "0.1% of the population", "900", "–"],
        ["The whole round", "5", "0.2% of the population", "2,100", "–"],
    ]
    assert cells(page, "Voters by area and by how they proved they may vote") == [
        ["Area", "Voting code", "Email", "Declared", "Paper"],
        ["North", "1", "0", "2", "1"],
        ["South", "0", "0", "1", "0"],
        ["The whole round", "1", "0", "3", "1"],
    ]
    # Voters only: no count of ballots per paper, nor of votes for any project.
    assert "ballot" not in re.sub(r"<[^>]+>", "", page.split("<table", 1)[1]).lower()
    # The partner's lead and the returning officer see the same table.
    for email in (PARTNER, factories.OFFICER):
        assert cells(signed_in(app, email).get(url).get_data(as_text=True), "Voters by area, and turnout") == cells(
            page, "Voters by area, and turnout"
        )


def test_the_turnout_page_is_for_the_rounds_leads_and_returning_officer_only(app, db, everyone):
    url = f"/rounds/{everyone['round']}/turnout"
    for email in (LEAD, PARTNER, factories.OFFICER):
        assert signed_in(app, email).get(url).status_code == 200, email
    for email in (OTHER_LEAD, SCREENER, RESIDENT_USER, MEMBER):
        assert signed_in(app, email).get(url).status_code == 403, email
    anonymous = FormClient(app).get(url)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/sign-in")
    # ...and the published results, with their turnout, do not exist while voting is open.
    assert FormClient(app).get(f"/rounds/{everyone['round']}/results").status_code == 404
    # The leads' page and the returning officer's page link to it.
    assert url in signed_in(app, PARTNER).get(f"/rounds/{everyone['round']}/manage").get_data(as_text=True)
    assert url in signed_in(app, factories.OFFICER).get(f"/rounds/{everyone['round']}/codes").get_data(as_text=True)


@pytest.mark.parametrize(
    "data,message",
    [
        ({"population": "-1"}, "Enter the number of people as a whole number, 0 or more."),
        ({"electorate": "-5"}, "Enter the number of people as a whole number, 0 or more."),
        ({"population": "many"}, "Not a valid integer value."),
        ({"population": "100", "electorate": "101"}, "The electorate cannot be larger than the population."),
    ],
)
def test_an_areas_figures_are_checked_with_a_clear_message(app, db, make_user, data, message):
    make_user(LEAD, organisation=COUNCIL, kind="anchor")
    ids = make_round(app, db, convener=LEAD, anchor=COUNCIL)
    lead = signed_in(app, LEAD)
    url = f"/rounds/{ids['round']}/areas/{ids['areas']['North']}"
    response = lead.submit(url, {"name": "North", "postcodes": "LS6", **data})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with db() as session:
        area = session.get(Area, ids["areas"]["North"])
        assert (area.population, area.electorate) == (None, None)


def test_figures_are_set_with_the_area_and_corrected_after_voting_opens_audited(app, db, everyone):
    lead = signed_in(app, LEAD)
    url = f"/rounds/{everyone['round']}/areas/{everyone['areas']['North']}"
    form = lead.get(url).get_data(as_text=True)
    assert 'name="population"' in form
    assert 'name="postcodes"' not in form
    assert 'name="name"' not in form
    # The name cannot be changed this way once voting has opened: refused and logged, as any
    # change to what residents vote on is, and the figures sent with it are not kept either.
    refused = lead.submit(url, {"name": "Renamed", "population": "1", "electorate": ""})
    assert refused.status_code == 409
    assert "Voting has opened" in refused.get_data(as_text=True)
    with db() as session:
        area = session.get(Area, everyone["areas"]["North"])
        assert (area.name, area.population) == ("North", None)
        [attempt] = session.exec(select(AuditEvent).where(AuditEvent.action == "round.change_refused")).all()
        assert json.loads(attempt.data)["attempted"] == "area.updated"
    response = lead.submit(url, {"population": "12345", "electorate": "9000"})
    assert response.status_code == 302
    with db() as session:
        area = session.get(Area, everyone["areas"]["North"])
        assert (area.name, area.population, area.electorate) == ("North", 12345, 9000)
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "area.figures_corrected").order_by(col(AuditEvent.id).desc())
        ).first()
        assert event is not None
        assert json.loads(event.data) == {
            "area": everyone["areas"]["North"],
            "name": "North",
            "population": 12345,
            "electorate": 9000,
            "population_was": None,
            "electorate_was": None,
        }
    manage = lead.get(f"/rounds/{everyone['round']}/manage").get_data(as_text=True)
    assert f"population {format_decimal(12345, locale='en_GB')}" in manage
    # A partner's lead cannot correct them.
    assert signed_in(app, PARTNER).get(url).status_code == 403


def test_figures_can_be_given_when_an_area_is_added(app, db, make_user):
    make_user(LEAD, organisation=COUNCIL, kind="anchor")
    ids = make_round(app, db, convener=LEAD, anchor=COUNCIL)
    lead = signed_in(app, LEAD)
    response = lead.submit(
        f"/rounds/{ids['round']}/areas/new", {"name": "East", "postcodes": "LS7", "population": "500", "electorate": ""}
    )
    assert response.status_code == 302
    with db() as session:
        east = session.exec(select(Area).where(Area.name == "East")).one()
        assert (east.population, east.electorate) == (500, None)


def test_the_published_results_show_turnout_with_population_percentages(app, db, everyone):
    ids, north = everyone, everyone["projects"]["North"]
    set_figures(app, db, ids["areas"]["North"], 50, 40)
    set_figures(app, db, ids["areas"]["South"], 30, None)
    for postcode in ("LS6 1AA", "LS6 2BB"):
        cast(declared(app, ids, postcode), ids, "North", {"project": north[:1]})
    publish(app, db, ids["round"], LEAD)
    page = FormClient(app).get(f"/rounds/{ids['round']}/results").get_data(as_text=True)
    assert cells(page, "Voters by area, and turnout")[1:] == [
        ["North", "2", "5% of the electorate", "50", "40"],
        ["South", "0", "0% of the population", "30", "–"],
        ["The whole round", "2", "2.5% of the population", "80", "–"],
    ]
    # "What happened to the money" tells the round's turnout too.
    money = FormClient(app).get(f"/rounds/{ids['round']}/money").get_data(as_text=True)
    assert "2 (2.5% turnout)" in money
    # The leads' page shows the figures the count took, the same as the public's.
    lead_page = signed_in(app, LEAD).get(f"/rounds/{ids['round']}/turnout").get_data(as_text=True)
    assert cells(lead_page, "Voters by area, and turnout") == cells(page, "Voters by area, and turnout")


def test_a_round_with_no_areas_is_one_area_and_voters_of_no_area_have_a_row(app, db, make_user):
    from pb.voting.turnout import turnout_of

    make_user(LEAD, organisation=COUNCIL, kind="anchor")
    with app.test_request_context(), db() as session:
        lead = user(session, LEAD)
        plain = rounds.create_round(
            session,
            actor=lead,
            organisation=organisation(session, COUNCIL),
            title="One neighbourhood",
            categories=[],
            objectives=[],
            methods=["codes", "declared"],
        )
        table = turnout_of(session, plain, [(None, "codes", 3), (None, "declared", 2)])
        assert table.rows == []
        assert (table.whole.voters, table.whole.by_method, table.whole.share) == (5, {"codes": 3, "declared": 2}, None)
        # With areas, voters of none (a code batch for everyone) are a row of their own, and
        # the round's population is its areas' only when every area has one.
        north = rounds.add_area(session, plain, actor=lead, name="North", postcodes=["LS6"], population=100)
        rounds.add_area(session, plain, actor=lead, name="South", postcodes=["LS11"])
        table = turnout_of(session, plain, [(north.id, "codes", 10), (None, "codes", 1)])
        assert [(row.area.name if row.area else None, row.voters) for row in table.rows] == [
            ("North", 10),
            ("South", 0),
            (None, 1),
        ]
        assert table.rows[0].share == Fraction(10, 100)
        assert (table.whole.voters, table.whole.population) == (11, None)
