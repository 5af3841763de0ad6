"""What a newcomer met proposing as a community group and voting as a resident (issue 21):
each test here failed before its fix."""

import re

from sqlmodel import select

from pb.proposals.models import Project
from pb.rounds.models import Round
from tests.conftest import FormClient
from tests.test_proposals import (  # noqa: F401 (fixtures)
    PASSWORD,
    new_proposal,
    people,
    proposal,
    proposal_form,
    screen,
    setup,
)
from tests.test_voting import ballots_in, enter_code, vote, voting  # noqa: F401 (a fixture)


def edit_form(db, setup, **changes):
    data = proposal_form(db, setup, **changes)
    del data["organisation"]
    return data


# ---------------------------------------------------------------- 1. submitting an edited, submitted proposal


def test_submitting_again_after_editing_a_submitted_proposal_saves_the_edits(people, db, setup):
    park = people["park"]
    pid = new_proposal(park, db, setup, action="submit")
    assert proposal(db, pid).status == "submitted"
    response = park.submit(f"/proposals/{pid}/edit", edit_form(db, setup, title="Meadow with benches", action="submit"))
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = proposal(db, pid)
    assert saved.title == "Meadow with benches"
    assert saved.status == "submitted"
    page = park.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your proposal has been submitted" in page


def test_submitting_an_edited_eligible_proposal_sends_it_back_to_screening(people, db, setup):
    park, council = people["park"], people["council"]
    pid = new_proposal(park, db, setup, action="submit")
    assert screen(council, pid, "eligible").status_code == 302
    response = park.submit(f"/proposals/{pid}/edit", edit_form(db, setup, title="A changed meadow", action="submit"))
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = proposal(db, pid)
    assert saved.title == "A changed meadow"
    assert saved.status == "submitted"


# ---------------------------------------------------------------- 7. the receipt of a replaced ballot


def test_the_receipt_page_of_a_replaced_ballot_says_it_was_replaced(app, db, voting):
    ids = voting
    code, north = ids["codes"][0], ids["projects"]["North"]
    phone = FormClient(app)
    assert enter_code(phone, ids, code).status_code == 302
    cast = vote(phone, ids, "North", {"project": north[:1]})
    receipt_url = cast.headers["Location"]
    [first] = ballots_in(db)
    page = phone.get(receipt_url).get_data(as_text=True)
    assert "Your vote is in" in page
    assert first.receipt in page

    # Later, on another device, the same code casts again: that ballot replaces the first.
    laptop = FormClient(app)
    assert enter_code(laptop, ids, code).status_code == 302
    assert vote(laptop, ids, "North", {"project": north[1:2]}).status_code == 302
    later = next(b for b in ballots_in(db) if b.is_current)

    page = phone.get(receipt_url).get_data(as_text=True)  # the phone's receipt page, reloaded
    assert "Your vote is in" not in page
    assert "replaced by a later ballot" in page
    assert first.receipt in page  # it was received...
    assert later.receipt not in page  # ...and nothing of the later ballot is shown


# ---------------------------------------------------------------- 6. from the ballot to the whole proposal


def test_each_project_on_the_ballot_links_to_its_whole_proposal(app, db, voting):
    from pb.proposals.models import CostLine, Proposal

    resident = FormClient(app)
    assert enter_code(resident, voting, voting["codes"][0]).status_code == 302
    page = resident.get(f"/rounds/{voting['round']}/vote/{voting['contests']['North']}").get_data(as_text=True)
    with db() as session:
        projects = session.exec(select(Project).where(Project.contest_id == voting["contests"]["North"])).all()
        details = {
            p.proposal_id: (
                session.get(Proposal, p.proposal_id).title,
                session.exec(select(CostLine).where(CostLine.proposal_id == p.proposal_id)).first().item,
            )
            for p in projects
        }
    links = re.findall(r'<a class="details" href="(/proposals/(\d+))" target="_blank" rel="noopener">', page)
    assert sorted(int(pid) for _url, pid in links) == sorted(details)
    assert page.count("(opens in a new tab)") == len(projects)  # the resident is told the ballot stays open
    for url, pid in links:
        shown = resident.get(url)
        assert shown.status_code == 200
        text = shown.get_data(as_text=True)
        title, item = details[int(pid)]
        assert title in text
        assert item in text  # the whole proposal, with its costs


# ---------------------------------------------------------------- 3. withdrawing: asked first, and undone


def audit_actions(db, round_id):
    from pb.audit.models import AuditEvent, chain_key

    with db() as session:
        return [
            e.action
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq)
            )
        ]


def test_withdrawing_asks_first_then_can_be_undone_while_proposals_are_open(people, db, setup):
    park = people["park"]
    pid = new_proposal(park, db, setup, action="submit")
    page = park.get(f"/proposals/{pid}").get_data(as_text=True)
    # The proposal's page leads to a question, not to a withdrawal in one tap.
    assert f'<a href="/proposals/{pid}/withdraw"' in page
    assert f'action="/proposals/{pid}/withdraw"' not in page
    question = park.get(f"/proposals/{pid}/withdraw")
    assert question.status_code == 200
    text = question.get_data(as_text=True)
    assert "Withdraw “Wildflower meadow in North Park”?" in text
    assert f'action="/proposals/{pid}/withdraw"' in text
    assert f'href="/proposals/{pid}"' in text  # yes, or keep it
    assert proposal(db, pid).status == "submitted"  # asking changes nothing

    response = park.submit(f"/proposals/{pid}/withdraw", {}, page=f"/proposals/{pid}/withdraw")
    assert response.status_code == 302
    assert proposal(db, pid).status == "withdrawn"
    page = park.get(f"/proposals/{pid}").get_data(as_text=True)
    assert "Undo the withdrawal" in page
    assert f'action="/proposals/{pid}/restore"' in page

    assert people["youth"].submit(f"/proposals/{pid}/restore", {}, page="/dashboard").status_code == 403
    assert proposal(db, pid).status == "withdrawn"
    response = park.submit(f"/proposals/{pid}/restore", {}, page=f"/proposals/{pid}")
    assert response.status_code == 302
    restored = proposal(db, pid)
    assert restored.status == "draft"
    assert restored.title == "Wildflower meadow in North Park"
    assert "submit it again" in park.get(response.headers["Location"]).get_data(as_text=True)
    assert audit_actions(db, setup["round"])[-2:] == ["proposal.withdrawn", "proposal.restored"]


def test_a_withdrawal_cannot_be_undone_after_the_deadline(people, db, setup):
    park = people["park"]
    pid = new_proposal(park, db, setup, action="submit")
    park.submit(f"/proposals/{pid}/withdraw", {}, page=f"/proposals/{pid}/withdraw")
    people["council"].submit(f"/rounds/{setup['round']}/phase", {"confirm": "y"})  # screening: the deadline has passed
    page = park.get(f"/proposals/{pid}").get_data(as_text=True)
    assert "Undo the withdrawal" not in page
    response = park.submit(f"/proposals/{pid}/restore", {}, page=f"/proposals/{pid}")
    assert response.status_code == 303
    assert "deadline for proposals has passed" in park.get(f"/proposals/{pid}").get_data(as_text=True)
    assert proposal(db, pid).status == "withdrawn"
    assert (
        park.submit(f"/proposals/{pid}/restore", {}, page=f"/proposals/{pid}").status_code == 303
    )  # and again: still no


def test_a_proposal_found_not_eligible_cannot_be_withdrawn_off_the_record(people, db, setup):
    """Withdrawing it, bringing it back as a draft and submitting it again would wipe a public
    screening decision and its reason; the decision stays."""
    park, council = people["park"], people["council"]
    pid = new_proposal(park, db, setup, action="submit")
    assert (
        council.submit(f"/proposals/{pid}/screen", {"decision": "not_eligible", "reason": "Private land"}).status_code
        == 302
    )
    response = park.submit(f"/proposals/{pid}/withdraw", {}, page=f"/proposals/{pid}")
    assert response.status_code in (303, 400)
    assert proposal(db, pid).status == "not_eligible"
    assert park.submit(f"/proposals/{pid}/restore", {}, page=f"/proposals/{pid}").status_code in (303, 400)
    shown = FormClient(park.app).get(f"/proposals/{pid}").get_data(as_text=True)
    assert proposal(db, pid).status == "not_eligible"
    assert "Private land" in shown
    assert audit_actions(db, setup["round"])[-1] == "proposal.screened"


# ---------------------------------------------------------------- 2. proposals nobody screened when voting opens


def test_proposals_not_screened_when_voting_opens_are_announced_then_marked_not_eligible(
    app, people, client, db, setup
):
    import json

    from pb.audit.models import AuditEvent, chain_key
    from tests.factories import make_codes

    park, council = people["park"], people["council"]
    north = new_proposal(park, db, setup, title="North meadow", action="submit")
    south = new_proposal(park, db, setup, title="South garden", contest=setup["contests"]["South"], action="submit")
    waiting = new_proposal(park, db, setup, title="Forgotten benches", action="submit")
    returned = new_proposal(park, db, setup, title="Paths to be costed", action="submit")
    draft = new_proposal(park, db, setup, title="Never submitted")
    for pid in (north, south):
        assert screen(council, pid, "eligible").status_code == 302
    assert screen(council, returned, "returned", "Please cost the paths separately.").status_code == 302
    for area in ("North", "South"):
        make_codes(app, db, setup["round"], setup["areas"][area], count=1)
    base = f"/rounds/{setup['round']}"
    council.submit(f"{base}/phase", {"confirm": "y"})  # to screening

    # Before opening voting, the lead is told which proposals nobody has screened.
    page = council.get(f"{base}/phase").get_data(as_text=True)
    assert "2 proposals have not been screened" in page
    assert "Forgotten benches" in page
    assert "Paths to be costed" in page
    assert "North meadow" not in page
    assert f'href="/proposals/{waiting}/screen"' in page

    assert council.submit(f"{base}/phase", {"confirm": "y"}).status_code == 302
    with db() as session:
        assert session.get(Round, setup["round"]).phase == "voting"
        on_ballot = {p.proposal_id for p in session.exec(select(Project))}
        events = [
            json.loads(e.data)
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.chain == chain_key(setup["round"]), AuditEvent.action == "proposal.screened")
                .order_by(AuditEvent.seq)
            )
        ]
        actors = [
            e.actor_user_id
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.chain == chain_key(setup["round"]), AuditEvent.action == "proposal.screened")
                .order_by(AuditEvent.seq)
            )
        ]
    assert on_ballot == {north, south}
    assert (proposal(db, waiting).status, proposal(db, waiting).screening_reason) == (
        "not_eligible",
        "Not screened before voting opened.",
    )
    assert (proposal(db, returned).status, proposal(db, returned).screening_reason) == (
        "not_eligible",
        "Returned for changes, and not submitted and screened again before voting opened.",
    )
    assert proposal(db, draft).status == "draft"  # a draft was never put forward: it stays the group's own
    # The same decision a screener makes, in the audit chain, made by pb itself rather than a person.
    assert [(e["proposal"], e["decision"]) for e in events[-2:]] == [
        (waiting, "not_eligible"),
        (returned, "not_eligible"),
    ]
    assert events[-2]["reason"] == "Not screened before voting opened."
    assert actors[-2:] == [None, None]
    public = client.get(f"{base}/proposals").get_data(as_text=True)
    assert "Forgotten benches" in public
    assert "Not screened before voting opened." in public


# ---------------------------------------------------------------- 4. errors that name their field, once each


def summary_of(page: str) -> list[tuple[str, str]]:
    """The error summary at the top of a page: (target, message) for each link."""
    import html

    box = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert box, "no error summary"
    return [
        (target, html.unescape(re.sub(r"<[^>]+>", "", text)).strip())
        for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', box.group(0), re.S)
    ]


def test_errors_in_the_summary_name_their_field_and_link_to_it(people, db, setup):
    response = people["park"].submit(
        f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, title="", summary="")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert summary_of(page) == [
        ("title", "Title: This field is required."),
        ("summary", "Summary: This field is required."),
    ]
    assert 'id="title"' in page
    assert 'id="summary"' in page  # each link has somewhere to go


def test_one_bad_cost_gives_one_message_naming_its_line(people, db, setup):
    response = people["park"].submit(
        f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, **{"cost_lines-1-amount": "lots"})
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    [(target, message)] = summary_of(page)
    assert target == "cost_lines-1-amount"
    assert message.startswith("Cost (line 2): Enter an amount such as")
    assert "Give an amount" not in page
    assert page.count("Enter an amount such as") == 2  # in the summary, and beside the amount


def test_a_too_long_cost_item_is_shown_beside_it(people, db, setup):
    response = people["park"].submit(
        f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, **{"cost_lines-0-item": "x" * 121})
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert summary_of(page) == [("cost_lines-0-item", "Item (line 1): Field cannot be longer than 120 characters.")]
    assert re.search(r'<p class="error" id="cost_lines-0-item-error">', page)


# ---------------------------------------------------------------- 5. as many cost lines as needed, and the limit up front


def cost_rows(page: str) -> list[int]:
    return sorted(int(n) for n in re.findall(r'name="cost_lines-(\d+)-item"', page))


def test_the_cost_limit_is_shown_before_any_mistake(people, db, setup):
    from babel.numbers import format_currency

    page = people["park"].get(f"/rounds/{setup['round']}/proposals/new").get_data(as_text=True)
    limit = format_currency(20_000, "GBP", locale="en_GB")  # the round's limit, as Babel writes it
    assert f"at most {limit}" in page
    assert "error-summary" not in page


def test_a_group_adds_cost_lines_without_javascript_and_keeps_what_it_typed(people, db, setup):
    park, url = people["park"], f"/rounds/{setup['round']}/proposals/new"
    first = park.get(url).get_data(as_text=True)
    assert cost_rows(first) == [0, 1, 2]  # a few lines to start with
    assert 'name="action" value="add_line"' in first
    data = proposal_form(db, setup, **{"cost_lines-2-item": "Paint", "cost_lines-2-amount": "80", "action": "add_line"})
    response = park.submit(url, data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert cost_rows(page) == [0, 1, 2, 3]
    for value in ("Seed and soil", "1,200.50", "Paint", "Wildflower meadow in North Park"):
        assert f'value="{value}"' in page
    assert "error-summary" not in page
    assert "This field is required" not in page  # adding a line is not a mistake
    from tests.test_proposals import count_proposals

    assert count_proposals(db) == 0  # nor a save


def test_a_proposal_can_have_more_than_eight_cost_lines_but_not_endless(people, db, setup):
    park = people["park"]
    lines = {
        f"cost_lines-{n}-{key}": value for n in range(10) for key, value in (("item", f"Thing {n}"), ("amount", "10"))
    }
    pid = new_proposal(park, db, setup, **lines)
    assert proposal(db, pid).total_cost == 10 * 10_00
    edit = park.get(f"/proposals/{pid}/edit").get_data(as_text=True)
    assert cost_rows(edit) == list(range(11))  # every line, and one empty for another

    from pb.proposals.forms import MAX_COST_LINES

    many = {
        f"cost_lines-{n}-{key}": value
        for n in range(MAX_COST_LINES)
        for key, value in (("item", f"Thing {n}"), ("amount", "1"))
    }
    page = park.submit(
        f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, **many, action="add_line")
    ).get_data(as_text=True)
    assert cost_rows(page) == list(range(MAX_COST_LINES))  # no more lines than that
    assert 'value="add_line"' not in page


# ---------------------------------------------------------------- 4. a chosen photo survives a mistake


def test_a_chosen_photo_is_kept_when_the_form_comes_back_with_a_mistake(app, people, client, db, setup):
    import io

    from PIL import Image

    from tests.test_proposals import count_proposals, jpeg_with_location, upload, uploads

    park, url = people["park"], f"/rounds/{setup['round']}/proposals/new"
    before = uploads(app)
    response = park.submit(
        url,
        proposal_form(db, setup, title="", photo=upload(jpeg_with_location(), "meadow.jpg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The photo you chose is kept" in page
    assert count_proposals(db) == 0
    assert uploads(app) == before  # held for the next attempt, not saved
    token = re.search(r'name="kept_photo" type="hidden" value="([^"]+)"', page).group(1)

    # Someone else cannot use that reference.
    youth = people["youth"]
    other = youth.submit(url, proposal_form(db, setup, group="Eastshire Youth Club", kept_photo=token, action="submit"))
    assert other.status_code == 302
    other_id = int(other.headers["Location"].rsplit("/", 1)[1])
    assert proposal(db, other_id).photo is None

    # The title is put right, and no file is chosen again: the photo is saved with the proposal.
    response = park.submit(url, proposal_form(db, setup, kept_photo=token, action="submit"))
    assert response.status_code == 302
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    served = client.get(f"/proposals/{pid}/photo")
    assert served.status_code == 200
    assert max(Image.open(io.BytesIO(served.data)).size) == 1600
    served.close()
    again = park.submit(url, proposal_form(db, setup, title="", kept_photo=token)).get_data(as_text=True)
    assert "The photo you chose is kept" not in again  # it is the proposal's now, held no more


def test_a_person_holds_at_most_one_photo_and_none_once_voting_opens(app, people, db, setup):
    """Photos are held for a form's next attempt only: sending the form with a mistake again
    and again replaces the held photo instead of filling the disk, and once voting opens
    (when no proposal can change) nothing is held at all."""
    import os

    from tests.test_proposals import jpeg_with_location, upload

    park, url = people["park"], f"/rounds/{setup['round']}/proposals/new"
    held = os.path.join(app.instance_path, "uploads", "held-photos")
    for _ in range(5):
        response = park.submit(
            url,
            proposal_form(db, setup, title="", photo=upload(jpeg_with_location(), "meadow.jpg")),
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
        assert "The photo you chose is kept" in response.get_data(as_text=True)
    assert len(os.listdir(held)) == 1
    people["youth"].submit(
        url,
        proposal_form(
            db, setup, group="Eastshire Youth Club", title="", photo=upload(jpeg_with_location(), "club.jpg")
        ),
        content_type="multipart/form-data",
    )
    assert len(os.listdir(held)) == 2  # one each

    with db() as session:
        session.get(Round, setup["round"]).phase = "voting"
    for name in os.listdir(held):
        os.remove(os.path.join(held, name))
    response = park.submit(
        url,
        proposal_form(db, setup, title="", photo=upload(jpeg_with_location(), "meadow.jpg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert os.listdir(held) == []


def test_a_photo_is_kept_when_a_cost_line_is_added(app, people, db, setup):
    from tests.test_proposals import jpeg_with_location, upload

    response = people["park"].submit(
        f"/rounds/{setup['round']}/proposals/new",
        proposal_form(db, setup, action="add_line", photo=upload(jpeg_with_location(), "m.jpg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "The photo you chose is kept" in response.get_data(as_text=True)


def test_after_the_deadline_the_question_says_a_withdrawal_is_for_good(people, db, setup):
    park = people["park"]
    pid = new_proposal(park, db, setup, action="submit")
    people["council"].submit(f"/rounds/{setup['round']}/phase", {"confirm": "y"})  # screening
    question = park.get(f"/proposals/{pid}/withdraw").get_data(as_text=True)
    assert "cannot be undone" in question
    assert "you can undo this" not in question
    response = park.submit(f"/proposals/{pid}/withdraw", {}, page=f"/proposals/{pid}/withdraw")
    assert response.status_code == 302
    page = park.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your proposal has been withdrawn." in page
    assert "You can undo this" not in page
