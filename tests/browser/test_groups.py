"""A newcomer's journeys at phone size (issue 21): a resident reads a whole proposal from
the ballot paper without losing the choices made there."""

import re

from tests.browser.conftest import assert_accessible
from tests.factories import make_codes, make_round, open_voting

LEAD, MEMBER = "lead@council.example", "chair@park.example"


def test_a_resident_reads_a_whole_proposal_from_the_ballot_and_keeps_their_choices(app, db, make_user, live_server, phone):
    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    [code] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park")
    base = live_server

    for javascript in (True, False):
        resident = phone(javascript=javascript)
        resident.goto(f"{base}/rounds/{ids['round']}/vote?code={code}")
        resident.get_by_role("button", name="Continue").first.click()
        resident.get_by_role("link", name="Vote on this ballot paper").first.click()
        ballot_url = resident.url
        resident.get_by_label(re.compile("Community garden beds")).check()

        with resident.context.expect_page() as opened:
            resident.get_by_role("link", name=re.compile("Full proposal.*Youth football sessions")).click()
        details = opened.value
        details.wait_for_load_state()
        assert "Youth football sessions" in details.locator("h1").inner_text()
        assert "Everything" in details.locator("table").inner_text()  # its cost lines
        if javascript:
            assert_accessible(details, "a proposal opened from the ballot")
        details.close()

        assert resident.url == ballot_url
        assert resident.get_by_label(re.compile("Community garden beds")).is_checked()  # still ticked
        resident.get_by_label(re.compile("Youth football sessions")).check()
        resident.get_by_role("button", name="Review my vote").click()
        review = resident.locator("main").inner_text()
        assert "Community garden beds" in review and "Youth football sessions" in review
