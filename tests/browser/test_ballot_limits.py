"""Limits per category in a phone's browser: the lead's limits page and a ballot with limits,
refused and corrected without JavaScript, with no serious accessibility problem."""

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
    assert_accessible(page, "limits page")
    page.get_by_label(f"Most to tick in {GREEN}").fill("1")
    page.get_by_label(f"Fewest to tick in {YOUNG}").fill("4")
    page.get_by_role("button", name="Save").click()
    assert "Young people: a voter may tick at most 3 projects" in page.content()
    assert_accessible(page, "limits page, refused")
    page.get_by_label(f"Fewest to tick in {YOUNG}").fill("1")
    page.get_by_role("button", name="Save").click()
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
    page.goto(f"{live_server}/rounds/{limited['round']}/vote/{limited['contests']['North']}")
    assert "Green spaces: tick at most 1 project." in page.content()
    for pid in limited["green"]:
        page.locator(f"#project-{pid}").check()
    page.get_by_role("button", name="Review my vote").click()
    assert "Choose at most 1 project in Green spaces." in page.locator(".error-summary").inner_text()
    assert all(page.locator(f"#project-{pid}").is_checked() for pid in limited["green"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "ballot-limits-refused")
    page.locator(f"#project-{limited['green'][1]}").uncheck()
    page.locator(f"#project-{limited['young'][0]}").check()
    page.get_by_role("button", name="Review my vote").click()
    assert "Check your vote" in page.content()
