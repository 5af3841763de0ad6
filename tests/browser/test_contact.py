"""Help for residents in a real browser at phone size: the lead fills in the round's
contact, questions and paper-voting places; the round's help page and the printed voting
letters that carry them fit a 360 px screen and pass axe; letters print one to a page."""

import re

import pytest
from playwright.sync_api import expect

from pb.rounds.models import Round
from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.factories import OFFICER, make_round, officer

LEAD = "lead@council.example"
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.right > 361 || r.left < -1; })
  .slice(0, 8).map(e => `${e.tagName}.${e.className}: ${(e.innerText || '').slice(0, 40)}`)"""


@pytest.fixture
def round_id(app, db, make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(OFFICER, name="Olu Officer")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes", "paper"))
    with app.test_request_context(), db() as session:
        officer(session, session.get(Round, ids["round"]), LEAD)
    return ids["round"]


def fits_a_phone(page, where):
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, (
        f"{where} is wider than 360 px: {page.evaluate(TOO_WIDE)}"
    )


def test_the_lead_fills_in_help_and_residents_read_it_on_a_phone(round_id, live_server, phone):
    lead = phone()
    sign_in(lead, live_server, LEAD)
    lead.goto(f"{live_server}/rounds/{round_id}/manage")
    lead.get_by_role("link", name="Contact, questions and paper voting").click()
    lead.wait_for_url(re.compile(r"/help/edit$"))
    assert_accessible(lead, "the help form")
    fits_a_phone(lead, "the help form")
    lead.get_by_label("Name or team").fill("Eastshire Council participatory budgeting team, Community Engagement")
    lead.get_by_label("Email address").fill("participatory-budgeting-enquiries@eastshire-council.example")
    lead.get_by_label("Phone number").fill("01632 960 123")
    lead.locator("#questions-0-question").fill("Who can vote?")
    lead.locator("#questions-0-answer").fill("Everyone who lives in Eastshire and is 11 or older.")
    lead.locator("#places-0-name").fill("Eastshire Central Library and Community Information Hub")
    lead.locator("#places-0-address").fill("1 Library Way\nEastshire ES1 1AA")
    lead.locator("#places-0-opening_times").fill("Saturdays 10am to 4pm")
    lead.get_by_role("button", name="Save").click()
    lead.wait_for_url(re.compile(r"/manage$"))

    resident = phone()
    resident.goto(f"{live_server}/rounds/{round_id}")
    resident.get_by_role("link", name=re.compile("Help, common questions")).click()
    expect(resident.get_by_role("heading", name="Who can vote?")).to_be_visible()
    expect(resident.locator("main")).to_contain_text("Saturdays 10am to 4pm", use_inner_text=True)
    assert_accessible(resident, "the round's help page")
    fits_a_phone(resident, "the round's help page")
    screenshot(resident, "round-help")


def test_letters_fit_a_phone_pass_axe_and_print_one_to_a_page(app, db, round_id, live_server, phone):
    from pb.rounds.help import set_help

    with app.test_request_context(), db() as session:
        set_help(
            session,
            session.get(Round, round_id),
            actor=officer(session, session.get(Round, round_id)),
            contact={
                "name": "Eastshire Council participatory budgeting team",
                "phone": "01632 960 123",
                "email": "participatory-budgeting-enquiries@eastshire-council.example",
                "address": "Town Hall\nHigh Street\nEastshire ES1 1AA",
                "hours": "Monday to Friday, 9am to 5pm",
            },
            questions=[],
            places=[("Eastshire Central Library", "1 Library Way", "Saturdays 10am to 4pm")],
        )
    page = phone()
    sign_in(page, live_server, OFFICER)
    page.goto(f"{live_server}/rounds/{round_id}/codes")
    page.get_by_label("For residents of").select_option(label="North")
    page.get_by_label("How many codes").fill("3")
    page.get_by_role("button", name="Make codes and letters").click()
    page.wait_for_selector("article.letter")
    page.wait_for_load_state()  # the letters page, all of it, before counting its letters
    assert page.locator("article.letter").count() == 3
    text = page.locator("body").inner_text()
    assert "Eastshire Central Library" in text
    assert "01632 960 123" in text
    assert "You can vote in: English" in text
    fits_a_phone(page, "the letters")
    assert_accessible(page, "the letters")
    screenshot(page, "letters-phone")
    # Printed on A4: one letter to a page, each starting a new page.
    page.emulate_media(media="print")
    assert not page.locator(".screen-only").is_visible()
    breaks = page.evaluate(
        "() => [...document.querySelectorAll('article.letter')].map(e => getComputedStyle(e).breakAfter)"
    )
    assert breaks == ["page", "page", "auto"]
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 3  # each letter fits on its own page
