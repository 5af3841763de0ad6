"""Accessibility in the browser: axe-core finds no serious or critical problem on any
public page (in English and in a right-to-left language), and a resident can vote with
the keyboard alone, always seeing where the focus is."""

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from pb.delivery.services import funded_project_ids
from pb.proposals.models import Proposal
from pb.rounds.models import Contest, Round
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import make_round, open_voting


@pytest.fixture
def demo(app):
    """The demo: a round taking proposals, one in delivery, one archived."""
    from pb.demo import load_demo

    with app.app_context():
        load_demo()
    from pb.db import session_scope

    with session_scope(app.extensions["pb_engine"], write=False) as session:
        rounds = {r.title: r for r in session.exec(select(Round))}
        taking, delivery = rounds["Healthy Neighbourhoods 2027"], rounds["Green Streets 2026"]
        voting = rounds["Safer Streets 2027"]  # open for voting, with a contact, questions and a paper-voting place
        proposal = session.exec(select(Proposal).where(Proposal.round_id == taking.id)).first()
        contest = session.exec(select(Contest).where(Contest.round_id == delivery.id)).first()
        project = min(funded_project_ids(session, delivery))
        anchor = taking.convening_organisation_id
    from pb.accounts.services import sign_up_token
    from pb.notices.services import confirm_token, stop_token

    with app.test_request_context():
        sign_up = sign_up_token("newcomer@example.org", "Nia Newcomer")
        news = confirm_token(taking, "resident@example.org")
        stop_news = stop_token(taking.id, "resident@example.org")
    return {
        "taking": taking.id,
        "delivery": delivery.id,
        "proposal": proposal.id,
        "contest": contest.id,
        "project": project,
        "anchor": anchor,
        "sign_up": sign_up,
        "news": news,
        "stop_news": stop_news,
        "voting": voting.id,
    }


TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.right > 361 || r.left < -1; })
  .slice(0, 8).map(e => `${e.tagName}.${e.className}: ${(e.innerText || '').slice(0, 40)}`)"""


def public_pages(ids) -> list[str]:
    taking, done = ids["taking"], ids["delivery"]
    return [
        "/",
        "/rounds/",
        f"/rounds/{taking}",
        f"/rounds/{taking}/proposals",
        f"/proposals/{ids['proposal']}",
        f"/proposals/{ids['proposal']}/ask",
        f"/rounds/{done}",
        f"/rounds/{done}/results",
        f"/rounds/{done}/results/{ids['contest']}",
        f"/rounds/{done}/results/recount",
        f"/rounds/{done}/results/receipt",
        f"/rounds/{done}/audit",
        f"/rounds/{done}/money",
        f"/rounds/{done}/equality",  # who took part: the demo's residents answered the equality questions
        f"/projects/{ids['project']}",
        f"/rounds/{done}/residents",
        f"/anchors/{ids['anchor']}/report",
        "/audit/platform",
        "/sign-in",
        "/sign-up",
        "/sign-up/sent",
        f"/sign-up/{ids['sign_up']}",
        "/sign-up/not-a-token",
        "/reset-password",
        "/privacy",
        "/accessibility",
        "/no-such-page",
        f"/rounds/{taking}/vote",
        "/dev/outbox",
        f"/rounds/{taking}/news",
        f"/news/confirm/{ids['news']}",
        f"/news/stop/{ids['stop_news']}",
        "/news/stop/not-a-token",
        f"/rounds/{ids['voting']}/help",
        f"/rounds/{ids['voting']}/vote",
    ]


@pytest.mark.parametrize("language", ["en_GB", "cy", "pl", "ro", "ur", "bn", "ar"])
def test_every_public_page_passes_axe(demo, live_server, phone, language):
    page = phone()
    page.context.add_cookies([{"name": "pb_locale", "value": language, "url": live_server}])
    for url in public_pages(demo):
        page.goto(live_server + url)
        assert_accessible(page, f"{url} ({language})")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, (
            f"{url} is wider than a 360 px phone: {page.evaluate(TOO_WIDE)}"
        )
    screenshot(page, f"last-public-page-{language}")


def test_a_form_with_errors_passes_axe(demo, live_server, phone):
    page = phone()
    page.goto(f"{live_server}/sign-up")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, "sign-up with errors")


@pytest.fixture
def voting(app, db, make_user):
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("codes",))
    from tests.factories import make_codes

    ids["code"] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)[0]
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    return ids


FOCUS = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {tag: e.tagName, text: (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 60),
          id: e.id, type: e.type || '', visible: box.width > 0 && box.height > 0,
          ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 || s.boxShadow !== 'none'};
}"""


def tab_to(page, wanted, limit=40) -> list[dict]:
    """Press Tab until the focused element matches `wanted`; every stop on the way must
    show where the focus is."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        stops.append(focus)
        assert focus["visible"], f"focus not visible on {focus}"
        assert focus["ring"], f"focus not visible on {focus}"
        if wanted(focus):
            return stops
    raise AssertionError(f"never reached the wanted element; focus went {stops}")


def test_a_resident_votes_with_the_keyboard_alone(voting, live_server, phone):
    page = phone(is_mobile=False, has_touch=False)
    base = f"{live_server}/rounds/{voting['round']}/vote"
    page.goto(base)
    # The first Tab reaches "Skip to main content", which appears when focused.
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUS)
    assert first["text"] == "Skip to main content"
    assert first["ring"]
    page.keyboard.press("Enter")
    tab_to(page, lambda f: f["id"] == "code")
    page.keyboard.type(voting["code"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/vote/ballots$"))
    tab_to(page, lambda f: f["text"] == "Vote on this ballot paper")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/vote/\d+$"))
    stops = tab_to(page, lambda f: f["type"] == "checkbox")
    page.keyboard.press("Space")
    stops += tab_to(page, lambda f: f["text"] == "Review my vote")
    boxes = [s for s in stops if s["type"] == "checkbox"]
    assert len(boxes) == 3  # every project on the ballot paper is reached, in order
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Check your vote")
    tab_to(page, lambda f: f["text"] == "Cast my vote")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Your vote is in")
    assert re.search(r"[0-9A-Z]{5}-[0-9A-Z]{5}", page.locator(".receipt").inner_text())
    screenshot(page, "keyboard-receipt")


def test_a_letters_qr_link_fills_in_the_code_and_takes_it_out_of_the_address(voting, live_server, phone):
    """The QR code on a letter carries the code in the fragment (never sent to the server);
    the page fills it in and removes it from the address bar and history."""
    page = phone()
    page.goto(f"{live_server}/rounds/{voting['round']}/vote#code={voting['code']}")
    assert page.get_by_label("Your voting code").input_value() == voting["code"]
    assert "#" not in page.url
    assert voting["code"] not in page.url
    page.get_by_role("button", name="Continue").first.click()
    page.wait_for_url(re.compile(r"/vote/ballots$"))
