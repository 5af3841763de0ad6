"""A resident votes with a code sent by text message, in a real browser at phone size: the
app sends through GOV.UK Notify (the stand-in on loopback, tests/notify_server.py, spoken
to by Notify's own client), and the resident reads the code from what Notify was asked
to send. axe-core checks every page on the way; the same journey works without JavaScript."""

import re
import time

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from pb.voting.models import Ballot
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import make_round, open_voting
from tests.notify_server import NotifyServer

LEAD, MEMBER = "lead@council.example", "chair@park.example"
RECEIPT = re.compile(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b")
WIDTH = "document.documentElement.scrollWidth"


@pytest.fixture
def texting(app, db, make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("sms", "email"))
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=2)
    return ids


@pytest.fixture
def notify(app):
    with NotifyServer() as server:
        app.config.update(server.config())
        yield server


def texted_code(notify, number: str) -> str:
    """The code in the latest text message Notify was asked to send to `number`."""
    for _ in range(100):
        texts = notify.texts_to(number)
        if texts:
            return re.search(r"\b(\d{6})\b", texts[-1]).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no text message reached Notify for {number}")


def vote_by_text(page, base, round_id, notify, *, check: bool) -> str:
    """Ask for a code by text, enter it, vote on the resident's ballot paper; returns the receipt."""
    page.goto(f"{base}/rounds/{round_id}/vote")
    if check:
        assert_accessible(page, "vote: start, with text messages")
    assert page.evaluate(WIDTH) <= 360
    page.get_by_label("Your mobile number").fill("0113 496 0000")  # a landline, by mistake
    page.locator("#sms-postcode").fill("LS11 2AB")
    page.get_by_role("button", name="Text me a code").click()
    expect(page.locator("main")).to_contain_text("That is a landline number", use_inner_text=True)
    assert notify.requests == 0
    if check:
        assert_accessible(page, "vote: start, a landline refused")
        # The error summary's link leads to the mobile number's own field.
        page.locator(".error-summary a").first.click()
        expect(page.locator("#sms-mobile")).to_be_focused()
    page.get_by_label("Your mobile number").fill("07700 900123")
    page.get_by_role("button", name="Text me a code").click()
    expect(page.locator("h1")).to_contain_text("Check your text messages", use_inner_text=True)
    if check:
        assert_accessible(page, "vote: enter the texted code")
        screenshot(page, "sms-code")
    assert page.evaluate(WIDTH) <= 360
    page.get_by_label("The six-digit code we texted you").fill(texted_code(notify, "+447700900123"))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Vote on this ballot paper").first.click()
    page.locator("input[name=project]").first.check()
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator("h1")).to_contain_text("Check your vote", use_inner_text=True)
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("h1")).to_contain_text("Your vote is in", use_inner_text=True)
    if check:
        assert_accessible(page, "vote: receipt, by text message")
        screenshot(page, "sms-receipt")
    return RECEIPT.search(page.locator(".receipt").inner_text()).group(0)


def test_a_resident_votes_with_a_code_texted_through_notify(app, db, texting, notify, live_server, phone):
    receipt = vote_by_text(phone(), live_server, texting["round"], notify, check=True)
    with db() as session:
        [ballot] = session.exec(select(Ballot)).all()
    assert ballot.receipt == receipt
    [text] = [n for n in notify.sent if n.kind == "sms"]
    assert text.to == "+447700900123"
    assert len(text.body) <= 160


def test_the_same_journey_works_without_javascript(app, db, texting, notify, live_server, phone):
    receipt = vote_by_text(phone(javascript=False), live_server, texting["round"], notify, check=False)
    with db() as session:
        assert [b.receipt for b in session.exec(select(Ballot))] == [receipt]
