"""Questions on a proposal in a real browser at phone size, without JavaScript: a resident
asks with an emailed code, the group answers from the link it is mailed, the convening
lead removes an abusive question with a reason shown in its place, and once voting opens
the page keeps the questions and answers but offers no way to add any."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.browser.test_journeys import move_on
from tests.factories import eligible_proposals, make_round

LEAD, MEMBER, RESIDENT = "lead@council.example", "chair@park.example", "resident@example.org"


@pytest.fixture
def people(make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")


def mail_to(app, to: str, subject: str):
    found = [m for m in app.extensions["pb_outbox"] if m.to == to and subject in m.subject]
    assert found, f"no mail to {to} about {subject!r}: {[(m.to, m.subject) for m in app.extensions['pb_outbox']]}"
    return found[-1]


def test_a_resident_asks_the_group_answers_and_the_lead_moderates(app, db, people, live_server, phone):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("declared",))
    [proposal, *_] = eligible_proposals(
        app, db, ids["round"], screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=1
    )
    base = live_server
    page_url = f"{base}/proposals/{proposal}"

    # A resident, no account, no JavaScript: asks, with a mistake first.
    resident = phone(javascript=False)
    resident.goto(page_url)
    resident.get_by_role("link", name="Ask a question").click()
    resident.get_by_label("Your question").fill("Will the garden be open at weekends?")
    resident.get_by_label("Name to show (optional)").fill("Sam from Elm Road")
    resident.get_by_role("button", name="Email me a code").click()
    expect(resident.locator(".error-summary")).to_contain_text("Enter your email address", use_inner_text=True)
    resident.get_by_label("Your email address").fill(RESIDENT)
    resident.get_by_role("button", name="Email me a code").click()
    expect(resident.locator("h1")).to_contain_text("Check your email", use_inner_text=True)  # sent, before reading it
    code = re.search(r"\b(\d{6})\b", mail_to(app, RESIDENT, "confirm your question").body).group(1)
    resident.get_by_label("The six-digit code we emailed you").fill(code)
    resident.get_by_role("button", name="Confirm my question").click()
    expect(resident.locator(".flashes")).to_contain_text("your question is on the proposal's page", use_inner_text=True)
    question = resident.locator("article.question")
    expect(question.locator("h3")).to_contain_text("Question from Sam from Elm Road", use_inner_text=True)
    expect(question).to_contain_text("open at weekends", use_inner_text=True)
    # Checked with axe (which needs JavaScript) in a reader's browser: the page, and the form with a mistake.
    reader = phone()
    reader.goto(page_url)
    assert_accessible(reader, "proposal page with a question")
    assert reader.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(reader, "question-asked")
    reader.goto(f"{page_url}/ask")
    reader.get_by_role("button", name="Email me a code").click()
    expect(reader.locator(".error-summary")).to_contain_text("Write your question.", use_inner_text=True)
    assert_accessible(reader, "ask, with mistakes")

    # The group is told, follows the link, and answers.
    told = mail_to(app, MEMBER, "A question about")
    link = re.search(rf"{re.escape(base)}/proposals/\d+#questions", told.body).group(0)
    member = phone(javascript=False)
    sign_in(member, base, MEMBER)
    member.goto(link)
    member.get_by_role("link", name="Answer this question").click()
    member.get_by_label("Your group's answer").fill("Yes, from 10 till 4 on Saturdays and Sundays.")
    member.get_by_role("button", name="Publish the answer").click()
    expect(member.locator("article.question")).to_contain_text("Answer from Friends of the Park", use_inner_text=True)

    # The convening lead removes the question, saying why.
    lead = phone()
    sign_in(lead, base, LEAD)
    lead.goto(page_url)
    lead.get_by_role("link", name="Remove this question").click()
    lead.wait_for_url(re.compile(r"/questions/\d+/hide/question$"))
    assert_accessible(lead, "remove a question")
    lead.get_by_role("button", name="Remove").click()
    expect(lead.locator(".error-summary")).to_contain_text("Say why", use_inner_text=True)
    lead.get_by_label("Reason").fill("Testing moderation: nothing wrong with it.")
    lead.get_by_role("button", name="Remove").click()
    lead.wait_for_url(re.compile(r"/proposals/\d+#question-\d+$"))  # removed: back on the proposal's page
    shown = lead.locator("article.question").inner_text()
    assert "Removed by the organisers: Testing moderation: nothing wrong with it." in shown
    assert "open at weekends" not in shown
    lead.get_by_role("link", name="Show this question again").click()
    lead.get_by_label("Reason").fill("Shown again after the test.")
    lead.get_by_role("button", name="Show again").click()
    lead.wait_for_url(re.compile(r"/proposals/\d+#question-\d+$"))  # shown again: back on the proposal's page
    assert "open at weekends" in lead.locator("article.question").inner_text()

    # Voting opens: the questions and answers stay; nobody can add to them.
    move_on(lead, base, ids["round"], "Screening")
    move_on(lead, base, ids["round"], "Voting")
    resident.goto(page_url)
    questions = resident.locator("#questions")
    assert "Yes, from 10 till 4" in questions.inner_text()
    assert "Questions closed when voting opened." in questions.inner_text()
    assert questions.get_by_role("link", name="Ask a question").count() == 0
    resident.goto(f"{page_url}/ask")
    assert "Questions are closed: voting has opened." in resident.locator(".error-summary").inner_text()
    member.goto(page_url)
    assert member.get_by_role("link", name="Change your group's answer").count() == 0
    reader.goto(page_url)
    screenshot(reader, "questions-closed")
