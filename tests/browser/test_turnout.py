"""Turnout in a real browser at phone size: the convening lead gives an area's population
after voting opens, follows the manage page's link to the turnout page, and both pages fit
a 360 px screen and pass axe."""

import re

from playwright.sync_api import expect

from pb.rounds.models import Round
from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_round, open_voting, user

LEAD = "lead@council.example"
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.right > 361 || r.left < -1; })
  .slice(0, 8).map(e => `${e.tagName}.${e.className}: ${(e.innerText || '').slice(0, 40)}`)"""


def fits_a_phone(page, where):
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, (
        f"{where} is wider than 360 px: {page.evaluate(TOO_WIDE)}"
    )


def test_the_lead_corrects_a_population_and_reads_turnout_on_a_phone(app, db, make_user, live_server, phone):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(
        app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes", "email", "declared", "paper", "sms")
    )
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member="chair@park.example", group="Friends of the Park")
    with app.test_request_context(), db() as session:
        assert session.get(Round, ids["round"]).phase == "voting"
        assert user(session, LEAD)

    lead = phone()
    sign_in(lead, live_server, LEAD)
    lead.goto(f"{live_server}/rounds/{ids['round']}/manage")
    lead.get_by_role("link", name="Correct the population figures of North").click()
    lead.wait_for_url(re.compile(r"/areas/\d+$"))
    assert_accessible(lead, "the area's figures form")
    fits_a_phone(lead, "the area's figures form")
    lead.get_by_label("Population (optional)").fill("12345")
    lead.get_by_label("Electorate (optional)").fill("99999")
    lead.get_by_role("button", name="Save").click()
    expect(lead.locator(".error-summary")).to_be_visible()
    expect(lead.locator("main")).to_contain_text(
        "The electorate cannot be larger than the population.", use_inner_text=True
    )
    assert_accessible(lead, "the area's figures form with an error")
    lead.get_by_label("Electorate (optional)").fill("9876")
    lead.get_by_role("button", name="Save").click()
    lead.wait_for_url(re.compile(r"/manage$"))
    assert "population 12,345, electorate 9,876" in lead.locator("main").inner_text()

    lead.get_by_role("link", name=re.compile("^Turnout")).click()
    lead.wait_for_url(re.compile(r"/turnout$"))
    expect(lead.get_by_role("table", name="Voters by area, and turnout")).to_be_visible()
    assert_accessible(lead, "the turnout page")
    fits_a_phone(lead, "the turnout page")
    screenshot(lead, "turnout")
