"""A resident casts a points ballot at phone size: with JavaScript on, the points left are
counted as they type (the server still decides); with JavaScript off, an over-budget ballot
comes back with the server's message and the numbers kept, is corrected, and is cast.
axe-core checks the points ballot page and its review page."""

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from pb.voting.models import Ballot, BallotChoice
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import make_codes, make_round, open_voting

LEAD, MEMBER = "lead@council.example", "chair@park.example"
RECEIPT = re.compile(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b")
GARDEN, FOOTBALL, LIBRARY = "Community garden beds", "Youth football sessions", "Warm space at the library"


@pytest.fixture
def points(app, db, make_user):
    """A round in voting whose South ballot paper is a points ballot (10 points, at most 5
    on one project), with two voting codes for South."""
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",), south_ballot="points")
    ids["codes"] = make_codes(app, db, ids["round"], ids["areas"]["South"], count=2)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park")
    return ids


def open_ballot(page, base, ids, code) -> None:
    page.goto(f"{base}/rounds/{ids['round']}/vote")
    page.get_by_label("Your voting code").fill(code)
    page.get_by_role("button", name="Continue").first.click()
    page.get_by_role("link", name="Vote on this ballot paper").first.click()
    page.wait_for_url(re.compile(r"/vote/\d+$"))  # the ballot paper, loaded (not still the list of them)


def box(page, title):
    return page.get_by_label(re.compile(re.escape(title)))


def stored_points(db) -> list[dict[int, int | None]]:
    with db(write=False) as session:
        return [
            {c.project_id: c.points for c in session.exec(select(BallotChoice).where(BallotChoice.ballot_id == b.id))}
            for b in session.exec(select(Ballot).order_by(Ballot.id))
        ]


def test_a_resident_shares_out_points_with_the_running_total(app, db, points, live_server, phone):
    page = phone()
    open_ballot(page, live_server, points, points["codes"][0])
    left = page.locator(".points-left")
    expect(left).to_be_visible()
    assert left.get_attribute("aria-live") == "polite"
    expect(left).to_have_text("Points left: 10 of 10", use_inner_text=True)
    assert_accessible(page, "points ballot")
    # The script counts as they type: each figure is waited for, not read at once.
    counter = page.locator("#points-left")
    box(page, GARDEN).fill("4")
    expect(counter).to_have_text("6", use_inner_text=True)
    box(page, FOOTBALL).fill("5")
    expect(counter).to_have_text("1", use_inner_text=True)
    box(page, LIBRARY).fill("3")  # over: shown, but not stopped
    expect(counter).to_have_text("-2", use_inner_text=True)
    expect(left).to_have_class(re.compile("over"))
    box(page, LIBRARY).fill("1")
    expect(counter).to_have_text("0", use_inner_text=True)
    # Nothing sticks out of a 360 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "points-ballot")
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator("h1")).to_contain_text("Check your vote", use_inner_text=True)
    review = page.locator("main")
    expect(review).to_contain_text(f"{GARDEN} (South ballot) – 4 points", use_inner_text=True)
    expect(review).to_contain_text(f"{FOOTBALL} (South ballot) – 5 points", use_inner_text=True)
    expect(review).to_contain_text("You gave 10 of your 10 points.", use_inner_text=True)
    assert_accessible(page, "points review")
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)  # cast, before the check below
    assert RECEIPT.search(page.locator(".receipt").inner_text())
    [given] = stored_points(db)
    assert sorted(given.values()) == [1, 4, 5]


def test_without_javascript_an_over_budget_ballot_is_refused_then_corrected(app, db, points, live_server, phone):
    page = phone(javascript=False)
    open_ballot(page, live_server, points, points["codes"][1])
    assert page.locator(".points-left").is_hidden()  # the script's extra stays away
    box(page, GARDEN).fill("5")
    box(page, FOOTBALL).fill("5")
    box(page, LIBRARY).fill("2")
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator(".error-summary")).to_contain_text(
        "You have 10 points; these add up to 12.", use_inner_text=True
    )
    expect(box(page, GARDEN)).to_have_value("5")  # the numbers typed are kept
    expect(box(page, LIBRARY)).to_have_value("2")
    assert stored_points(db) == []
    screenshot(page, "points-ballot-no-js-refused")
    box(page, LIBRARY).fill("")
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator("h1")).to_contain_text("Check your vote", use_inner_text=True)
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)  # cast, before the check below
    [given] = stored_points(db)
    assert sorted(given.values()) == [5, 5]
