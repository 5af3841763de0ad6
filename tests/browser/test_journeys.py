"""The journeys people make, in a real browser at phone size: a group proposes, a lead
screens and opens voting, residents vote with a code (approval and ranked), get a
receipt, replace their ballot, and check it is counted once the results are out; the
same resident journey without JavaScript; an anchor lead sets up a round that a partner
anchor puts money into. axe-core checks every page on the way."""

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from pb.rounds.models import Pot, Round
from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.factories import OFFICER, eligible_proposals, make_round, open_voting, user

LEAD, PARTNER, MEMBER = "lead@council.example", "lead@trust.example", "chair@park.example"
RECEIPT = re.compile(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b")


@pytest.fixture
def people(make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(PARTNER, name="Tariq Trust", organisation="Eastshire NHS Trust", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")
    make_user(OFFICER, name="Olu Officer")  # independent of every anchor


def codes_from_letters(page) -> list[str]:
    return re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", page.locator("body").inner_text())


def move_on(page, base, round_id, phase_label):
    page.goto(f"{base}/rounds/{round_id}/manage")
    page.get_by_role("link", name=re.compile(f"Move to the next phase now: {phase_label}")).click()
    page.wait_for_url(re.compile(r"/phase$"))
    assert_accessible(page, f"confirm the move to {phase_label}")
    page.get_by_label(re.compile("I understand what this move does")).check()
    page.get_by_role("button", name="Move on").click()
    # Back on the manage page once the move is done (a goto or a check sooner would meet the page before).
    page.wait_for_url(re.compile(r"/manage$"))


def vote_approval(page, base, round_id, code, picks, *, check=True, name="resident"):
    """Prove eligibility with a code, tick `picks` on the North ballot paper, review, cast.
    Returns the receipt code."""
    page.goto(f"{base}/rounds/{round_id}/vote")
    if check:
        assert_accessible(page, "vote: start")
    page.get_by_label("Your voting code").fill(code.lower().replace("-", " "))  # forgiving of how it is typed
    page.get_by_role("button", name="Continue").first.click()
    page.get_by_role("link", name="Vote on this ballot paper").first.click()
    page.wait_for_url(re.compile(r"/vote/\d+$"))
    if check:
        assert_accessible(page, "vote: ballot paper")
        screenshot(page, f"{name}-ballot")
    for title in picks:
        page.get_by_label(re.compile(re.escape(title))).check()
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator("h1")).to_contain_text("Check your vote", use_inner_text=True)
    if check:
        assert_accessible(page, "vote: review")
    for title in picks:
        expect(page.locator("main")).to_contain_text(title, use_inner_text=True)
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)
    if check:
        assert_accessible(page, "vote: receipt")
        screenshot(page, f"{name}-receipt")
    return RECEIPT.search(page.locator(".receipt").inner_text()).group(0)


def check_receipt(page, base, round_id, receipt, says: str) -> None:
    """Check `receipt` on the round's receipt page: the answer that comes back says `says`."""
    page.goto(f"{base}/rounds/{round_id}/results/receipt")
    page.get_by_label("Your receipt code").fill(receipt)
    page.get_by_role("button", name="Check").click()
    # The answer comes on the page after the click (same address): wait for it.
    expect(page.locator("main [role=status]")).to_contain_text(says, use_inner_text=True)


def test_propose_screen_vote_replace_and_check_the_receipt(app, db, people, live_server, phone):
    ids = make_round(
        app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",), south_ballot="ranked", north_limit=True
    )
    eligible_proposals(app, db, ids["round"], screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=2)
    round_id, base = ids["round"], live_server

    # A community group proposes a project on its phone.
    group = phone()
    sign_in(group, base, MEMBER)
    group.goto(f"{base}/rounds/{round_id}/proposals/new")
    assert_accessible(group, "proposal form")
    group.get_by_label("Ballot paper (area)").select_option(label="North ballot (North)")
    group.get_by_label("Title").fill("Benches by the pond")
    group.get_by_label("Summary").fill("Four benches so older people can rest on the walk round the pond.")
    group.locator("#cost_lines-0-item").fill("Four benches")
    group.locator("#cost_lines-0-amount").fill("2,400")
    group.get_by_role("button", name="Submit proposal").click()
    expect(group.locator(".flashes")).to_contain_text("has been submitted", use_inner_text=True)
    screenshot(group, "group-proposal-submitted")

    # The convening lead screens it, prints voting codes and opens voting.
    lead = phone()
    sign_in(lead, base, LEAD)
    lead.goto(f"{base}/rounds/{round_id}/screening")
    lead.get_by_role("link", name="Benches by the pond").click()
    lead.wait_for_url(re.compile(r"/proposals/\d+/screen$"))
    assert_accessible(lead, "screening decision")
    lead.get_by_label("Eligible: it goes on the ballot").check()
    lead.get_by_role("button", name="Record decision").click()
    expect(lead.locator(".flashes")).to_contain_text("has been recorded", use_inner_text=True)
    # ...appoints an independent returning officer, who prints the voting letters.
    lead.goto(f"{base}/rounds/{round_id}/returning-officer")
    lead.get_by_label("Email address of the returning officer").fill(OFFICER)
    lead.get_by_role("button", name="Appoint").click()
    expect(lead.locator(".flashes")).to_contain_text("is now the returning officer", use_inner_text=True)
    officer = phone()
    sign_in(officer, base, OFFICER)
    officer.goto(f"{base}/dashboard")
    officer.get_by_role("link", name="Greener Eastshire").click()  # the dashboard lists their rounds
    officer.wait_for_url(re.compile(r"/codes$"))
    assert_accessible(officer, "returning officer: codes")
    codes = {}
    for area, count in (("North", 2), ("South", 1)):
        officer.goto(f"{base}/rounds/{round_id}/codes")
        officer.get_by_label("For residents of").select_option(label=area)
        officer.get_by_label("How many codes").fill(str(count))
        officer.get_by_role("button", name="Make codes and letters").click()
        officer.wait_for_selector("article.letter")  # the letters, not the form before them
        officer.wait_for_load_state()
        codes[area] = codes_from_letters(officer)
        assert len(codes[area]) == count
    move_on(lead, base, round_id, "Screening")
    move_on(lead, base, round_id, "Voting")
    expect(lead.locator(".tag").first).to_contain_text("Voting", use_inner_text=True)
    screenshot(lead, "lead-voting-open")

    # A resident votes on the approval ballot paper, with JavaScript: the running total shows.
    resident = phone()
    resident.goto(f"{base}/rounds/{round_id}/vote")
    resident.get_by_label("Your voting code").fill(codes["North"][0])
    resident.get_by_role("button", name="Continue").first.click()
    resident.get_by_role("link", name="Vote on this ballot paper").first.click()
    total = resident.locator(".running-total")
    total.wait_for(state="visible", timeout=10_000)  # shown by the deferred script, once it has run
    resident.get_by_label(re.compile("Benches by the pond")).check()
    expect(total).to_contain_text("£2,400.00", use_inner_text=True)  # counted by the script as it is ticked
    resident.get_by_role("button", name="Review my vote").click()
    resident.get_by_role("button", name="Cast my vote").click()
    expect(resident.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)
    first = RECEIPT.search(resident.locator(".receipt").inner_text()).group(0)
    assert_accessible(resident, "vote: receipt")

    # ...changes their mind: the new ballot replaces the first.
    resident.get_by_role("link", name="Back to my ballot papers").click()
    resident.get_by_role("link", name="Change my vote").click()
    resident.wait_for_url(re.compile(r"/vote/\d+$"))
    box = resident.get_by_label(re.compile("Benches by the pond"))
    assert box.is_checked()  # their ballot as it stands
    box.uncheck()
    resident.get_by_label(re.compile("Community garden beds")).check()
    resident.get_by_role("button", name="Review my vote").click()
    resident.get_by_role("button", name="Cast my vote").click()
    expect(resident.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)
    second = RECEIPT.search(resident.locator(".receipt").inner_text()).group(0)
    assert second != first

    # Another resident ranks projects on the South ballot paper.
    ranker = phone()
    ranker.goto(f"{base}/rounds/{round_id}/vote")
    ranker.get_by_label("Your voting code").fill(codes["South"][0])
    ranker.get_by_role("button", name="Continue").first.click()
    ranker.get_by_role("link", name="Vote on this ballot paper").first.click()
    ranker.wait_for_url(re.compile(r"/vote/\d+$"))
    assert_accessible(ranker, "vote: ranked ballot paper")
    screenshot(ranker, "resident-ranked-ballot")
    ranker.get_by_label(re.compile("Youth football sessions")).select_option(label="Choice 1")
    ranker.get_by_label(re.compile("Community garden beds")).select_option(label="Choice 2")
    ranker.get_by_role("button", name="Review my vote").click()
    expect(ranker.locator("h1")).to_contain_text("Check your vote", use_inner_text=True)  # same address as the ballot
    ranker.wait_for_load_state()
    assert_accessible(ranker, "vote: ranked review")
    ranking = ranker.locator("main ol").inner_text()
    assert ranking.index("Youth football") < ranking.index("Community garden")
    ranker.get_by_role("button", name="Cast my vote").click()
    expect(ranker.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)
    ranked_receipt = RECEIPT.search(ranker.locator(".receipt").inner_text()).group(0)

    # Nobody can end voting early: the manage page says so and offers no move.
    lead.goto(f"{base}/rounds/{round_id}/manage")
    assert "nobody can end it earlier" in lead.locator("main").inner_text()
    assert lead.get_by_role("link", name=re.compile("Move to the next phase now")).count() == 0
    # The published closing time comes (the count follows) and the results are published.
    with app.test_request_context(), db() as session:
        from tests.factories import let_voting_close

        let_voting_close(session, session.get(Round, round_id))
    move_on(lead, base, round_id, "Results published")
    resident.goto(f"{base}/rounds/{round_id}/results")
    assert resident.locator("h1").inner_text() == "Results"
    assert_accessible(resident, "results")
    screenshot(resident, "resident-results")
    check_receipt(resident, base, round_id, second, says="Your ballot was counted.")
    assert_accessible(resident, "receipt check")
    check_receipt(resident, base, round_id, first, says="replaced by a later one")
    check_receipt(ranker, base, round_id, ranked_receipt, says="Your ballot was counted.")
    check_receipt(resident, base, round_id, "AAAAA-BBBBB", says="no ballot with that receipt")


def test_a_resident_votes_and_replaces_the_ballot_without_javascript(app, db, people, live_server, phone):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",), north_limit=True)
    from tests.factories import make_codes

    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park")
    base, round_id = live_server, ids["round"]

    resident = phone(javascript=False)
    first = vote_approval(
        resident, base, round_id, codes[0], ["Community garden beds (North ballot)"], check=False, name="no-js"
    )
    resident.get_by_role("link", name="Back to my ballot papers").click()
    resident.get_by_role("link", name="Change my vote").click()
    resident.wait_for_url(re.compile(r"/vote/\d+$"))  # the ballot paper, loaded (the list has no total to hide)
    assert resident.locator(
        ".running-total"
    ).is_hidden()  # the JavaScript extra stays away; the server checks the limit
    resident.get_by_label(re.compile("Community garden beds")).uncheck()
    resident.get_by_label(re.compile("Youth football sessions")).check()
    resident.get_by_role("button", name="Review my vote").click()
    # Change of mind on the review page: back to the ballot with the choices kept.
    resident.get_by_role("button", name="Change my choices").click()
    expect(resident.get_by_role("button", name="Review my vote")).to_be_visible()  # the ballot paper again
    assert resident.get_by_label(re.compile("Youth football sessions")).is_checked()
    resident.get_by_role("button", name="Review my vote").click()
    resident.get_by_role("button", name="Cast my vote").click()
    expect(resident.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)
    second = RECEIPT.search(resident.locator(".receipt").inner_text()).group(0)
    screenshot(resident, "no-js-receipt")
    # A mistake without JavaScript gets the server's message.
    resident.get_by_role("link", name="Back to my ballot papers").click()
    resident.get_by_role("link", name="Change my vote").click()
    resident.get_by_label(re.compile("Youth football sessions")).uncheck()
    resident.get_by_role("button", name="Review my vote").click()
    expect(resident.locator(".error-summary")).to_contain_text("Choose at least 1 project.", use_inner_text=True)

    with app.test_request_context(), db() as session:
        from pb.lifecycle import move_to_next_phase
        from tests.factories import let_voting_close

        round_ = session.get(Round, round_id)
        let_voting_close(session, round_)
        move_to_next_phase(session, round_, actor=user(session, LEAD))
    check_receipt(resident, base, round_id, second, says="Your ballot was counted.")
    check_receipt(resident, base, round_id, first, says="replaced by a later one")


def test_an_anchor_lead_sets_up_a_round_with_a_partner_anchors_pot(app, db, people, live_server, phone):
    base = live_server
    lead = phone()
    sign_in(lead, base, LEAD)
    lead.goto(f"{base}/rounds/new")
    assert_accessible(lead, "new round")
    lead.get_by_label("Title").fill("Healthier Eastshire 2027")
    lead.get_by_label("Purpose").fill("Projects that help people in Eastshire live healthier lives.")
    lead.get_by_label("Voting codes on printed letters").check()
    lead.get_by_role("button", name="Create draft round").click()
    lead.wait_for_url(re.compile(r"/rounds/\d+/manage$"))  # created (the form's own address is /rounds/new)
    round_id = int(re.search(r"/rounds/(\d+)", lead.url).group(1))
    lead.goto(f"{base}/rounds/{round_id}/manage")
    assert_accessible(lead, "manage round")

    lead.get_by_role("link", name="Add an area").click()
    lead.get_by_label("Name of the area").fill("Riverside")
    lead.get_by_label("Postcodes").fill("RV1, RV2 4")
    lead.get_by_role("button", name="Save").click()
    lead.wait_for_url(re.compile(r"/manage$"))  # saved (a goto sooner could cut the saving short)
    lead.goto(f"{base}/rounds/{round_id}/manage")
    lead.get_by_role("link", name="Add a ballot paper").click()
    lead.wait_for_url(re.compile(r"/contests/new$"))
    assert_accessible(lead, "ballot paper form")
    lead.get_by_label("Name of the ballot paper").fill("Riverside projects")
    lead.get_by_label("Who votes on it").select_option(label="Riverside")
    lead.get_by_role("button", name="Save").click()
    lead.wait_for_url(re.compile(r"/manage$"))
    lead.goto(f"{base}/rounds/{round_id}/partners")
    lead.get_by_label("Anchor institution").select_option(label="Eastshire NHS Trust")
    lead.get_by_role("button", name="Invite").click()
    lead.wait_for_url(re.compile(r"/manage$"))
    lead.goto(f"{base}/rounds/{round_id}/pots/new")
    lead.get_by_label("Pledged by").select_option(label="Eastshire Council")
    lead.get_by_label("Public name of the pot").fill("Council health fund")
    lead.get_by_label("Amount").fill("30,000")
    lead.get_by_role("button", name="Pledge").click()
    lead.wait_for_url(re.compile(r"/manage$"))

    # The partner anchor's lead pledges its own pot into the same ballot paper.
    partner = phone()
    sign_in(partner, base, PARTNER)
    partner.goto(f"{base}/rounds/{round_id}/manage")
    partner.get_by_role("link", name="Pledge money").click()
    partner.wait_for_url(re.compile(r"/pots/new$"))
    assert_accessible(partner, "pledge form")
    partner.get_by_label("Pledged by").select_option(label="Eastshire NHS Trust")
    partner.get_by_label("Public name of the pot").fill("Trust prevention fund")
    partner.get_by_label("Amount").fill("12,500.50")
    partner.get_by_role("button", name="Pledge").click()
    partner.wait_for_url(re.compile(r"/manage$"))  # pledged, before the lead looks

    lead.goto(f"{base}/rounds/{round_id}/manage")
    money = lead.locator("section.contest").inner_text()
    assert "Council health fund" in money
    assert "Trust prevention fund" in money
    assert "£42,500.50" in money  # the ballot paper's budget is the sum of its pots
    screenshot(lead, "lead-round-with-partner-pot")
    with db(write=False) as session:
        pots = session.exec(select(Pot).order_by(Pot.id)).all()
    assert [p.amount for p in pots] == [30_000_00, 12_500_50]
