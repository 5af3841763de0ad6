"""Limits per category in a phone's browser: the lead's limits page and a ballot with limits,
refused and corrected without JavaScript, with no serious accessibility problem."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.test_ballot_limits import (  # noqa: F401 (fixtures)
    GREEN,
    LEAD,
    YOUNG,
    drafted,
    limited,
)


def test_the_lead_sets_limits_on_a_phone(app, db, drafted, live_server, phone):
    page = phone()
    sign_in(page, live_server, LEAD)
    page.goto(f"{live_server}/rounds/{drafted['round']}/manage")
    page.locator(f'a[href="{drafted["limits_url"]}"]').click()
    page.wait_for_url(f"{live_server}{drafted['limits_url']}")
    assert_accessible(page, "limits page")
    page.get_by_label(f"Most to tick in {GREEN}").fill("1")
    page.get_by_label(f"Fewest to tick in {YOUNG}").fill("4")
    page.get_by_role("button", name="Save").click()
    # Refused: the form comes back at the same address, with the reason.
    expect(page.locator("body")).to_contain_text("Young people: a voter may tick at most 3 projects")
    assert_accessible(page, "limits page, refused")
    page.get_by_label(f"Fewest to tick in {YOUNG}").fill("1")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/manage$"))  # saved: back to the round's manage page
    assert "Green spaces: tick at most 1 project." in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "limits-manage")


def test_a_resident_meets_the_limits_on_the_ballot_without_javascript(app, db, limited, live_server, phone):
    page = phone(javascript=False)
    page.goto(f"{live_server}/rounds/{limited['round']}/vote")
    declare = page.locator("section[aria-labelledby=with-declaration]")
    declare.get_by_label("Your full name").fill("Ada Resident")
    declare.get_by_label("First line of your address").fill("1 High Street")
    declare.get_by_label("Your postcode").fill("LS6 1AA")
    declare.locator("input[name=declaration]").check()
    declare.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/vote/ballots$"))  # in (a goto sooner could cut the declaration short)
    page.goto(f"{live_server}/rounds/{limited['round']}/vote/{limited['contests']['North']}")
    assert "Green spaces: tick at most 1 project." in page.content()
    for pid in limited["green"]:
        page.locator(f"#project-{pid}").check()
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator(".error-summary")).to_contain_text(
        "Choose at most 1 project in Green spaces.", use_inner_text=True
    )
    assert all(page.locator(f"#project-{pid}").is_checked() for pid in limited["green"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "ballot-limits-refused")
    page.locator(f"#project-{limited['green'][1]}").uncheck()
    page.locator(f"#project-{limited['young'][0]}").check()
    page.get_by_role("button", name="Review my vote").click()
    expect(page.locator("h1")).to_contain_text("Check your vote")
