"""A round in English and Welsh, in a real browser at phone size: the lead offers Welsh,
a group gives its project a Welsh title and summary, voting opens, and a resident who
chose Cymraeg with the site's language switcher reads the Welsh on the ballot paper,
with a project that has no Welsh shown in English and marked lang="en-GB"."""

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from pb.proposals import services as proposals
from pb.proposals.models import Project, Proposal
from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.factories import OFFICER, eligible_proposals, make_codes, make_round, open_voting, user

LEAD, MEMBER = "lead@council.example", "chair@park.example"
WELSH_TITLE, WELSH_SUMMARY = "Gwelyau gardd cymunedol", "Gwelyau uchel ac offer ar gyfer gardd a rennir."


def fits_a_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.fixture
def people(make_user):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")
    make_user(OFFICER, name="Olu Officer")


def test_a_welsh_speaker_votes_on_the_welsh_text_the_group_gave(app, db, people, live_server, phone):
    base = live_server
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    round_id = ids["round"]
    # Two projects on each ballot paper: the first two are on the same paper.
    translated, untranslated = eligible_proposals(
        app, db, round_id, screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=2
    )[:2]

    # The convening lead offers Welsh besides English.
    lead = phone()
    sign_in(lead, base, LEAD)
    lead.goto(f"{base}/rounds/{round_id}/manage")
    lead.get_by_role("link", name="Languages").click()
    lead.wait_for_url(re.compile(r"/languages$"))
    assert_accessible(lead, "the round's languages")
    lead.get_by_label("Cymraeg").check()
    lead.get_by_role("button", name="Save").click()
    lead.wait_for_url(re.compile(r"/manage$"))  # saved (the form before named Cymraeg too)
    assert "Cymraeg" in lead.locator("main").inner_text()

    # The group gives its project a Welsh title and summary.
    group = phone()
    sign_in(group, base, MEMBER)
    group.goto(f"{base}/proposals/{translated}")
    group.get_by_role("link", name="Translations").click()
    group.wait_for_url(re.compile(r"/translations$"))
    assert_accessible(group, "a proposal's translations")
    assert fits_a_phone(group)
    group.get_by_label("Title").fill(WELSH_TITLE)
    group.get_by_label("Summary").fill(WELSH_SUMMARY)
    group.get_by_role("button", name="Save").click()
    expect(group.locator("main")).to_contain_text("has been saved", use_inner_text=True)
    screenshot(group, "group-welsh-translation")

    # Changed text is screened again; then voting opens.
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session, session.get(Proposal, translated), actor=user(session, LEAD), decision="eligible", reason=""
        )
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park", per_contest=0)
    with db() as session:
        project = session.exec(select(Project).where(Project.proposal_id == translated)).one()
        other = session.exec(select(Project).where(Project.proposal_id == untranslated)).one()
        english_title, contest_id = project.title, project.contest_id
        area = next(name for name, cid in ids["contests"].items() if cid == contest_id)
    code = make_codes(app, db, round_id, ids["areas"][area], count=1)[0]

    # A resident chooses Cymraeg with the site's language switcher, then votes.
    resident = phone()
    resident.goto(f"{base}/rounds/{round_id}/vote")
    resident.select_option("#language", "cy")
    resident.locator("form.language button").click()
    # The switcher brings back the same page, in Welsh: wait for it (its address does not change).
    expect(resident.locator("html")).to_have_attribute("lang", "cy")
    resident.wait_for_load_state()
    resident.locator("#code").fill(code)
    resident.locator("form:has(#code) button[type=submit]").click()
    resident.wait_for_url(re.compile(r"/vote/ballots$"))  # in (a goto sooner could cut the code short)
    resident.goto(f"{base}/rounds/{round_id}/vote/{contest_id}")
    ballot = resident.locator("main")
    assert WELSH_TITLE in ballot.inner_text()
    assert WELSH_SUMMARY in ballot.inner_text()
    assert english_title not in ballot.inner_text()
    marked = resident.locator(f"label[for=project-{other.id}] [lang=en-GB]").first
    assert marked.inner_text() == other.title
    assert marked.get_attribute("dir") == "ltr"
    assert resident.locator(f"label[for=project-{other.id}] .translation-note").count() == 1
    assert resident.locator(f"label[for=project-{project.id}] [lang=en-GB]").count() == 0
    assert_accessible(resident, "a ballot paper in Welsh")
    assert fits_a_phone(resident)
    screenshot(resident, "welsh-ballot")
