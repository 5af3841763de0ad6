"""Notices in a real browser at phone size: a resident asks for a round's news on its
page, confirms from the mailed link, and is told when the lead opens voting and when the
results are published, then stops the news from the link in the message; a group hears
that its proposal was screened not eligible, with the screener's reason."""

import re

import pytest
from playwright.sync_api import expect

from pb.rounds.models import Round
from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.browser.test_journeys import move_on
from tests.factories import close_voting, eligible_proposals, make_round

LEAD, MEMBER, RESIDENT = "lead@council.example", "chair@park.example", "resident@example.org"


@pytest.fixture
def people(make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")


def mail_to(app, to: str, subject: str):
    """The latest message to `to` whose subject has `subject`, from the app's outbox."""
    found = [m for m in app.extensions["pb_outbox"] if m.to == to and subject in m.subject]
    assert found, f"no mail to {to} about {subject!r}: {[(m.to, m.subject) for m in app.extensions['pb_outbox']]}"
    return found[-1]


def link(body: str, base: str, path: str) -> str:
    found = re.search(rf"{re.escape(base)}{path}\S*", body)
    assert found, f"no link to {path} in:\n{body}"
    return found.group(0)


def test_a_resident_asks_confirms_and_hears_voting_open_and_results(app, db, people, live_server, phone):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",))
    eligible_proposals(app, db, ids["round"], screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=2)
    round_id, base = ids["round"], live_server

    resident = phone()
    resident.goto(f"{base}/rounds/{round_id}")
    resident.get_by_label("Your email address").fill(RESIDENT)
    resident.get_by_role("button", name="Tell me").click()
    expect(resident.locator(".flashes")).to_contain_text("a link to confirm is on its way", use_inner_text=True)
    assert_accessible(resident, "round page, after asking for news")
    screenshot(resident, "news-asked")

    confirm = link(mail_to(app, RESIDENT, "Confirm").body, base, "/news/confirm/")
    resident.goto(confirm)
    assert_accessible(resident, "confirm news")
    resident.get_by_role("button", name="Yes, email me").click()
    expect(resident.locator(".flashes")).to_contain_text("we will email", use_inner_text=True)

    lead = phone()
    sign_in(lead, base, LEAD)
    move_on(lead, base, round_id, "Screening")
    move_on(lead, base, round_id, "Voting")
    expect(lead.locator(".tag").first).to_contain_text("Voting", use_inner_text=True)
    opened = mail_to(app, RESIDENT, "Voting has opened")
    resident.goto(link(opened.body, base, f"/rounds/{round_id}/vote"))
    assert resident.locator("h1").count() == 1

    close_voting(app, db, round_id)  # time passes: voting closes at its published time, and is counted
    move_on(lead, base, round_id, "Results published")
    results = mail_to(app, RESIDENT, "The results are out")
    resident.goto(link(results.body, base, f"/rounds/{round_id}/results"))
    assert "Greener Eastshire" in resident.locator("main").inner_text()

    # One tap from the message, without signing in, stops the news.
    resident.goto(link(results.body, base, "/news/stop/"))
    assert_accessible(resident, "stop news")
    screenshot(resident, "news-stop")
    resident.get_by_role("button", name="Stop emails").click()
    expect(resident.locator("h1")).to_contain_text(
        "Emails stopped", use_inner_text=True
    )  # done, before the check below
    with db(write=False) as session:
        from sqlmodel import select

        from pb.notices.models import Subscription

        assert session.exec(select(Subscription)).all() == []
        assert session.get(Round, round_id).phase == "results_published"


def test_a_group_hears_its_proposal_is_not_eligible_with_the_reason(app, db, people, live_server, phone):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",))
    round_id, base = ids["round"], live_server

    group = phone()
    sign_in(group, base, MEMBER)
    group.goto(f"{base}/rounds/{round_id}/proposals/new")
    group.get_by_label("Ballot paper (area)").select_option(label="North ballot (North)")
    group.get_by_label("Title").fill("Benches by the pond")
    group.get_by_label("Summary").fill("Four benches so older people can rest on the walk round the pond.")
    group.locator("#cost_lines-0-item").fill("Four benches")
    group.locator("#cost_lines-0-amount").fill("2,400")
    group.get_by_role("button", name="Submit proposal").click()
    expect(group.locator(".flashes")).to_contain_text("has been submitted", use_inner_text=True)

    screener = phone()
    sign_in(screener, base, LEAD)
    screener.goto(f"{base}/rounds/{round_id}/screening")
    screener.get_by_role("link", name="Benches by the pond").click()
    screener.get_by_label("Not eligible").check()
    reason = "The pond is owned by the water company, which already plans new benches."
    screener.get_by_label(re.compile("Reason")).fill(reason)
    screener.get_by_role("button", name="Record decision").click()
    expect(screener.locator(".flashes")).to_contain_text("has been recorded", use_inner_text=True)  # and the group told

    told = mail_to(app, MEMBER, "is not eligible")
    assert "Benches by the pond" in told.subject
    assert reason in told.body
    group.goto(link(told.body, base, "/proposals/"))
    assert reason in group.locator("main").inner_text()
    assert [m.to for m in app.extensions["pb_outbox"] if "is not eligible" in m.subject] == [MEMBER]
