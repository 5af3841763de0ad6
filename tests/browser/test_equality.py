"""The equality-monitoring questions in a real browser: offered on the receipt, answered at
360 px with the keyboard or not at all, accessible (axe) with and without an error, and
working without JavaScript."""

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from pb.equality.models import EqualityCount
from pb.equality.services import set_monitoring
from pb.rounds.models import Round
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import make_codes, make_round, open_voting, user

LEAD = "lead@council.example"


@pytest.fixture
def voting(app, db, make_user):
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    with app.test_request_context(), db() as session:
        set_monitoring(session, session.get(Round, ids["round"]), actor=user(session, LEAD), on=True)
    ids["codes"] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=2)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member="chair@park.example", group="Friends of the Park")
    return ids


def cast(page, base, code) -> None:
    page.goto(f"{base}/vote")
    page.get_by_label("Your voting code").fill(code)
    page.get_by_role("button", name="Continue").first.click()
    page.wait_for_url(re.compile(r"/vote/ballots$"))
    page.get_by_role("link", name="Vote on this ballot paper").first.click()
    page.locator("input[type=checkbox]").first.check()
    page.get_by_role("button", name="Review my vote").click()
    page.get_by_role("button", name="Cast my vote").click()
    page.wait_for_selector("text=Your vote is in")


def counted(db) -> dict:
    with db(write=False) as session:
        return {(c.question, c.answer): c.count for c in session.exec(select(EqualityCount)) if c.count}


@pytest.mark.parametrize("javascript", [True, False])
def test_a_resident_answers_on_a_phone(voting, live_server, phone, db, javascript):
    page = phone(javascript=javascript)
    base = f"{live_server}/rounds/{voting['round']}"
    cast(page, base, voting["codes"][0])
    expect(page.get_by_role("heading", name="Help us see who took part (optional)")).to_be_visible()
    if javascript:  # axe and the width are measured by scripts in the page
        assert_accessible(page, "receipt with the equality questions offered")
    page.get_by_role("link", name="Answer three short questions").click()
    page.wait_for_url(re.compile(r"/vote/about-you$"))
    if javascript:
        assert_accessible(page, "equality questions")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Each answer is reached by its label; the ethnic groups are fieldsets with legends.
    page.get_by_role("group", name="What is your age?").get_by_label("35 to 44").check()
    page.get_by_role("group", name="Black, Black British, Black Welsh, Caribbean or African").get_by_label(
        "Caribbean", exact=True
    ).check()
    screenshot(page, f"equality-questions-js-{javascript}")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/vote/receipt$"))
    expect(page.get_by_text("Thank you. Your answers have been counted")).to_be_visible()
    assert page.get_by_role("heading", name="Help us see who took part (optional)").count() == 0
    assert counted(db) == {
        ("age", "35_44"): 1,
        ("disability", "not_answered"): 1,
        ("ethnic_group", "black_caribbean"): 1,
    }


def test_a_tampered_answer_shows_an_accessible_error_summary(voting, live_server, phone, db):
    page = phone()
    base = f"{live_server}/rounds/{voting['round']}"
    cast(page, base, voting["codes"][1])
    page.goto(f"{base}/vote/about-you")
    page.evaluate("document.querySelector('input[value=white_roma]').value = 'martian'")
    page.get_by_role("group", name="White").get_by_label("Roma").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert "That answer is not one of those offered" in page.locator(".error-summary").inner_text()
    assert_accessible(page, "equality questions with an error")
    assert counted(db) == {}
