"""A newcomer's journeys at phone size (issue 21): a group proposes with a mistake and
finds its photo and costs kept, adds a cost line, withdraws after being asked and undoes
it; a resident reads a whole proposal from the ballot paper without losing the choices
made there. axe-core checks the pages on the way."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot, sign_in
from tests.factories import make_codes, make_round, open_voting

LEAD, MEMBER = "lead@council.example", "chair@park.example"


def test_a_resident_reads_a_whole_proposal_from_the_ballot_and_keeps_their_choices(
    app, db, make_user, live_server, phone
):
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
        resident.wait_for_url(re.compile(r"/vote/\d+$"))  # the ballot paper, not still the list of them
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
        # The review page (same address as the ballot paper, which names both projects too).
        expect(resident.locator("h1")).to_contain_text("Check your vote")
        review = resident.locator("main")
        expect(review).to_contain_text("Community garden beds", use_inner_text=True)
        expect(review).to_contain_text("Youth football sessions", use_inner_text=True)


WIDTH = "document.documentElement.scrollWidth"


def test_a_group_proposes_with_a_mistake_adds_a_line_withdraws_and_undoes_it(
    app, db, make_user, live_server, phone, tmp_path
):
    import io

    from PIL import Image

    make_user(LEAD, name="Lena Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Park", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", max_project_cost=20_000_00)
    photo = tmp_path / "meadow.jpg"
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 120, 60)).save(out, "JPEG")
    photo.write_bytes(out.getvalue())

    for javascript in (True, False):
        group = phone(javascript=javascript)
        sign_in(group, live_server, MEMBER)
        group.goto(f"{live_server}/rounds/{ids['round']}/proposals/new")
        if javascript:
            assert_accessible(group, "propose: the form")
        assert "£20,000.00" in group.locator(".costs").inner_text()  # the limit, before any mistake
        group.get_by_label("Summary").fill("A meadow for bees, with paths and benches.")
        group.get_by_label("Postcode of the location").press("Enter")  # Enter in a field saves (as a draft)...
        expect(group.locator(".error-summary")).to_contain_text("Title: This field is required.", use_inner_text=True)
        expect(group.get_by_label("Summary")).to_have_value("A meadow for bees, with paths and benches.")
        expect(group.get_by_label("Item (line 3)")).to_be_visible()
        group.wait_for_load_state()  # the form that came back, all of it, before counting its lines
        assert group.get_by_label("Item (line 4)").count() == 0  # ...not add a line
        group.get_by_label("Item (line 1)").fill("Seed and soil")
        group.get_by_label("Cost (line 1)").fill("2,500")
        group.get_by_label("Photo (optional)").set_input_files(str(photo))
        group.get_by_role("button", name="Add another cost line").click()
        expect(group.get_by_label("Item (line 4)")).to_be_visible()
        expect(group.get_by_label("Item (line 1)")).to_have_value("Seed and soil")
        group.get_by_label("Item (line 4)").fill("Benches")
        group.get_by_label("Cost (line 4)").fill("lots")
        group.get_by_role("button", name="Submit proposal").click()  # no title, and a bad amount

        summary = group.locator(".error-summary")
        expect(summary).to_be_visible()
        # Only the page that comes back says what is wrong with line 4 (the form before had the photo kept too).
        expect(summary).to_contain_text("Cost (line 4): Enter an amount such as", use_inner_text=True)
        expect(summary).to_contain_text("Title: This field is required.", use_inner_text=True)
        expect(group.locator("main form")).to_contain_text("The photo you chose is kept", use_inner_text=True)
        assert group.evaluate(WIDTH) <= 360
        if javascript:
            assert_accessible(group, "propose: the form with mistakes")
            screenshot(group, "group-proposal-with-mistakes")
        summary.get_by_role("link", name="Title: This field is required.").click()
        group.get_by_label("Title").fill("Wildflower meadow")
        group.get_by_label("Cost (line 4)").fill("1,200")
        group.get_by_role("button", name="Submit proposal").click()
        expect(group.locator("h1")).to_have_text("Wildflower meadow", use_inner_text=True)
        expect(group.locator("img.photo")).to_be_visible()  # the photo chosen before the mistake
        group.wait_for_function("document.querySelector('img.photo').complete")  # loaded, before its size is read
        assert group.evaluate("document.querySelector('img.photo').naturalWidth") == 800
        expect(group.locator("table")).to_contain_text("£3,700.00", use_inner_text=True)

        group.get_by_role("link", name="Withdraw proposal").click()
        expect(group.locator("h1")).to_have_text("Withdraw “Wildflower meadow”?", use_inner_text=True)
        if javascript:
            assert_accessible(group, "withdraw: the question")
        group.get_by_role("link", name="No, keep it").click()
        expect(group.locator("h1")).to_have_text("Wildflower meadow", use_inner_text=True)  # back on its page
        expect(group.locator(".tag")).to_contain_text("Submitted", use_inner_text=True)
        group.get_by_role("link", name="Withdraw proposal").click()
        group.get_by_role("button", name="Yes, withdraw it").click()
        expect(group.locator(".tag")).to_contain_text("Withdrawn", use_inner_text=True)
        if javascript:
            assert_accessible(group, "a withdrawn proposal")
        group.get_by_role("button", name="Undo the withdrawal").click()
        expect(group.locator(".tag")).to_contain_text("Draft", use_inner_text=True)
        expect(group.get_by_role("button", name="Submit proposal")).to_be_visible()
