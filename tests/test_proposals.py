"""Community groups propose projects; screening is public and reasoned."""

import gc
import io
import json
import os
import re

import pytest
from PIL import Image
from sqlmodel import func, select

from pb.accounts.models import Membership, Organisation
from pb.audit.models import AuditEvent, chain_key
from pb.proposals.models import Project, Proposal
from pb.rounds.models import Round
from tests.conftest import FormClient
from tests.factories import make_codes, make_round, organisation, sign_up, user

PASSWORD = "correct horse battery"


@pytest.fixture
def people(app, make_user):
    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("lead@police.example", organisation="Eastshire Police", kind="anchor")
    make_user("chair@park.example", name="Pat", organisation="Friends of the Park", kind="group")
    make_user("chair@youth.example", name="Yan", organisation="Eastshire Youth Club", kind="group")
    make_user("reviewer@example.org", name="Rhi Reviewer")
    clients = {}
    for key, email in [
        ("council", "lead@council.example"),
        ("police", "lead@police.example"),
        ("park", "chair@park.example"),
        ("youth", "chair@youth.example"),
        ("reviewer", "reviewer@example.org"),
    ]:
        clients[key] = FormClient(app)
        clients[key].sign_in(email, PASSWORD)
    return clients


@pytest.fixture
def setup(app, db, people):
    return make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", max_project_cost=20_000_00)


def group_id(db, name):
    with db() as session:
        return organisation(session, name).id


def proposal_form(db, setup, group="Friends of the Park", **changes):
    data = {
        "organisation": group_id(db, group),
        "contest": setup["contests"]["North"],
        "title": "Wildflower meadow in North Park",
        "summary": "Turn a mown field into a meadow for bees, with paths and benches.",
        "description": "We will sow native seed in spring and build two benches.",
        "category": setup["categories"]["Green spaces"],
        "objectives": [setup["objectives"]["Net zero"]],
        "cost_lines-0-item": "Seed and soil",
        "cost_lines-0-amount": "2,500",
        "cost_lines-1-item": "Two benches",
        "cost_lines-1-amount": "1,200.50",
        "beneficiaries": "Families, schools, pollinators.",
        "postcode": "ls6 1aa",
        "action": "save",
    }
    data.update(changes)
    return data


def new_proposal(client, db, setup, **changes):
    response = client.submit(f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, **changes))
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def proposal(db, proposal_id):
    with db() as session:
        return session.get(Proposal, proposal_id)


def count_proposals(db):
    with db() as session:
        return session.exec(select(func.count()).select_from(Proposal)).one()


# ---------------------------------------------------------------- groups


def test_group_registers_and_invites_a_member(app, client, db, make_user):
    make_user("founder@example.org", name="Fola")
    client.sign_in("founder@example.org", PASSWORD)
    response = client.submit(
        "/groups/new",
        {
            "name": "Riverside Allotment Society",
            "subtype": "residents_association",
            "registered_number": "",
            "contact_email": "Hello@Allotments.example",
            "area_served": "Riverside",
        },
    )
    assert response.status_code == 302
    with db() as session:
        group = organisation(session, "Riverside Allotment Society")
        assert group.kind == "group"
        assert group.contact_email == "hello@allotments.example"
        assert session.exec(select(Membership).where(Membership.organisation_id == group.id)).one()

    client.submit(f"/groups/{group.id}", {"email": "friend@example.org"})
    mail = app.extensions["pb_outbox"][-1]
    assert mail.to == "friend@example.org"
    link = re.search(r"http://localhost(/groups/invitations/\S+)", mail.body).group(1)

    # Someone else cannot use the invitation.
    make_user("stranger@example.org")
    stranger = FormClient(app)
    stranger.sign_in("stranger@example.org", PASSWORD)
    assert stranger.submit(link, {}).status_code == 403

    friend = FormClient(app)
    sign_up(app, friend, "friend@example.org", PASSWORD, name="Fran")
    assert friend.submit(link, {}).status_code == 302
    assert friend.get("/group").status_code == 200
    assert friend.submit(link, {}).status_code == 404  # spent


def _inviter(app, db, make_user):
    """A member of a group (anyone can be: an account from a mailed link, and a group)."""
    make_user("inviter@example.org", organisation="Totally Real Group", kind="group")
    with db() as session:
        group_id = organisation(session, "Totally Real Group").id
    inviter = FormClient(app)
    inviter.sign_in("inviter@example.org", PASSWORD)
    return inviter, group_id


def _invitations(app, db, to) -> tuple[int, int]:
    from pb.accounts.models import Invitation

    with db() as session:
        rows = session.exec(select(func.count()).select_from(Invitation)).one()
    return len([m for m in app.extensions["pb_outbox"] if to(m.to)]), rows


def test_invitations_cannot_flood_one_inbox(app, db, make_user):
    """An invitation is mail a member has pb send, in words partly theirs: like sign-up mail,
    a few an hour reach one inbox however its address is spelt (it was one per request)."""
    inviter, group_id = _inviter(app, db, make_user)
    answers = [
        inviter.submit(f"/groups/{group_id}", {"email": email})
        for email in ["victim@example.org"] * 5 + ["Victim+x@example.org"]
    ]
    assert [a.status_code for a in answers] == [302] * 3 + [400] * 3
    assert "Too many attempts. Please wait a while and try again." in answers[-1].get_data(as_text=True)
    assert _invitations(app, db, lambda to: to.lower().startswith("victim")) == (3, 3)


def test_invitations_cannot_mail_address_after_address(app, db, make_user):
    """One account cannot make pb mail a list of strangers: 10 an hour from one client, 20
    from one account however many clients it uses; refused ones leave no row (nor an audit
    event naming the address)."""
    inviter, group_id = _inviter(app, db, make_user)
    for n in range(15):
        inviter.submit(f"/groups/{group_id}", {"email": f"stranger{n}@example.org"})
    assert _invitations(app, db, lambda to: to.startswith("stranger")) == (10, 10)
    for n in range(15, 40):
        address = {"REMOTE_ADDR": f"198.51.100.{n}"}
        token = inviter.csrf_token(f"/groups/{group_id}")
        inviter.post(
            f"/groups/{group_id}",
            data={"email": f"stranger{n}@example.org", "csrf_token": token},
            environ_base=address,
        )
    assert _invitations(app, db, lambda to: to.startswith("stranger")) == (20, 20)
    with db() as session:
        named = session.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "organisation.member_invited")
        ).one()
    assert named == 20


def test_group_registration_rejects_bad_input(client, db, make_user):
    make_user("founder@example.org")
    client.sign_in("founder@example.org", PASSWORD)
    for change in [{"name": "x" * 201}, {"contact_email": "nope"}, {"subtype": "nhs"}, {"name": ""}]:
        data = {"name": "Good Group", "subtype": "charity", "contact_email": "a@b.example", **change}
        assert client.submit("/groups/new", data).status_code == 400, change
    with db() as session:
        assert session.exec(select(Organisation).where(Organisation.kind == "group")).all() == []


def test_a_non_member_cannot_see_or_invite_to_a_group(people, db):
    gid = group_id(db, "Friends of the Park")
    assert people["youth"].get(f"/groups/{gid}").status_code == 403


# ---------------------------------------------------------------- drafting and the deadline


def test_draft_submit_edit_and_refusal_after_the_deadline(app, people, client, db, setup):
    park = people["park"]
    pid = new_proposal(park, db, setup)
    saved = proposal(db, pid)
    assert saved.status == "draft"
    assert saved.total_cost == 3_700_50
    assert saved.postcode == "LS6 1AA"
    assert client.get(f"/proposals/{pid}").status_code == 404  # drafts are private
    assert "Wildflower" not in client.get(f"/rounds/{setup['round']}/proposals").get_data(as_text=True)

    assert park.submit(f"/proposals/{pid}/submit", {}, page=f"/proposals/{pid}").status_code == 302
    assert proposal(db, pid).status == "submitted"
    listing = client.get(f"/rounds/{setup['round']}/proposals").get_data(as_text=True)
    assert "Wildflower meadow in North Park" in listing
    assert "£3,700.50" in listing

    edit = proposal_form(db, setup, title="Wildflower meadow and benches")
    del edit["organisation"]
    assert park.submit(f"/proposals/{pid}/edit", edit).status_code == 302
    assert proposal(db, pid).title == "Wildflower meadow and benches"
    assert proposal(db, pid).status == "submitted"

    draft_id = new_proposal(park, db, setup, title="Late idea")
    people["council"].submit(f"/rounds/{setup['round']}/phase", {"confirm": "y"})  # deadline
    with db() as session:
        assert session.get(Round, setup["round"]).phase == "screening"
    response = park.submit(f"/proposals/{pid}/edit", {**edit, "title": "Too late"})
    assert response.status_code == 409
    assert "deadline for proposals has passed" in response.get_data(as_text=True)
    assert proposal(db, pid).title == "Wildflower meadow and benches"
    assert park.submit(f"/proposals/{draft_id}/submit", {}, page=f"/proposals/{draft_id}").status_code == 303
    assert proposal(db, draft_id).status == "draft"
    assert park.submit(f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup)).status_code == 409


def test_withdrawing_a_proposal(people, client, db, setup):
    pid = new_proposal(people["park"], db, setup, action="submit")
    assert people["youth"].submit(f"/proposals/{pid}/withdraw", {}, page="/dashboard").status_code == 403
    assert people["park"].submit(f"/proposals/{pid}/withdraw", {}, page=f"/proposals/{pid}").status_code == 302
    assert proposal(db, pid).status == "withdrawn"
    assert client.get(f"/proposals/{pid}").status_code == 404


def test_only_the_group_edits_its_proposal(people, db, setup):
    pid = new_proposal(people["park"], db, setup)
    assert people["youth"].get(f"/proposals/{pid}/edit").status_code == 403
    # Proposing on behalf of a group one does not belong to is refused.
    response = people["youth"].submit(
        f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, group="Friends of the Park")
    )
    assert response.status_code == 400
    assert count_proposals(db) == 1


# ---------------------------------------------------------------- invalid input


BAD_INPUTS = [
    ({"title": "x" * 121}, "120"),
    ({"summary": "x" * 301}, "300"),
    ({"description": "x" * 5001}, "5000"),
    ({"cost_lines-0-amount": "-50"}, "amount such as"),
    ({"cost_lines-0-amount": "0"}, "more than zero"),
    ({"cost_lines-0-amount": "99,999,999,999"}, "Enter an amount of at most £100,000,000.00."),
    ({"cost_lines-0-amount": "25,000"}, "more than this round allows"),
    ({"cost_lines-0-amount": "lots"}, "amount such as"),
    ({"cost_lines-0-amount": ""}, "Give an amount"),
    ({"cost_lines-1-item": ""}, "Say what each cost is for"),
    (
        {"cost_lines-0-item": "", "cost_lines-0-amount": "", "cost_lines-1-item": "", "cost_lines-1-amount": ""},
        "at least one cost line",
    ),
    ({"postcode": "NOT A POSTCODE"}, "full postcode"),
    ({"organisation": "99999"}, "Not a valid choice"),
    ({"contest": "99999"}, "Not a valid choice"),
    ({"category": "99999"}, "Not a valid choice"),
]


@pytest.mark.parametrize("change,message", BAD_INPUTS)
def test_invalid_proposals_are_refused_with_a_clear_message_and_nothing_saved(people, db, setup, change, message):
    response = people["park"].submit(f"/rounds/{setup['round']}/proposals/new", proposal_form(db, setup, **change))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_proposals(db) == 0


def upload(data: bytes, name: str):
    return (io.BytesIO(data), name)


def jpeg_with_location() -> bytes:
    image = Image.new("RGB", (2400, 1200), (40, 120, 60))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (53.0, 48.0, 0.0)}  # GPS: where the photo was taken
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG file of a huge, blank image (made row by row: nothing big in memory)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    packer, row, parts = zlib.compressobj(9), b"\0" * (width + 1), []
    for _ in range(height):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def uploads(app):
    folder = os.path.join(app.instance_path, "uploads", "proposals")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.mark.parametrize(
    "content,name,message",
    [
        (b"#!/bin/sh\necho not an image\n", "evil.jpg", "not a photo we can read"),
        (b"GIF89a" + b"\0" * 100, "anim.gif", "JPEG, PNG or WebP"),
        (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024 + 10), "huge.jpg", "at most 5 MB"),
        # 9,400 x 9,400 pixels in about 90 KB: refused from its header, never decoded.
        (png_claiming(9400, 9400), "bomb.png", "too many pixels"),
    ],
)
# Werkzeug's test client spools a large request body to a temporary file it never
# closes; collected at the end of this test, that is its leak, not the app's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_bad_uploads_are_refused_and_nothing_saved(app, people, db, setup, content, name, message):
    before = uploads(app)
    data = proposal_form(db, setup, photo=upload(content, name))
    response = people["park"].submit(
        f"/rounds/{setup['round']}/proposals/new", data, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_proposals(db) == 0
    assert uploads(app) == before
    del response
    gc.collect()


def test_photo_is_shrunk_and_stripped_of_location(app, people, client, db, setup):
    data = proposal_form(db, setup, photo=upload(jpeg_with_location(), "meadow.jpg"), action="submit")
    response = people["park"].submit(
        f"/rounds/{setup['round']}/proposals/new", data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    served = client.get(f"/proposals/{pid}/photo")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(served.data))
    served.close()
    assert max(image.size) == 1600
    assert len(image.getexif()) == 0


# ---------------------------------------------------------------- screening


def screen(client, pid, decision, reason=""):
    return client.submit(f"/proposals/{pid}/screen", {"decision": decision, "reason": reason})


def test_each_screening_outcome_and_who_sees_it(app, people, client, db, setup):
    park, council = people["park"], people["council"]
    eligible = new_proposal(park, db, setup, title="Meadow", action="submit")
    returned = new_proposal(park, db, setup, title="Benches", action="submit")
    rejected = new_proposal(park, db, setup, title="Private car park", action="submit")

    assert screen(council, eligible, "eligible").status_code == 302
    assert (
        screen(council, returned, "returned", "Please split the cost of the benches from the paths.").status_code == 302
    )
    assert screen(council, rejected, "not_eligible").status_code == 400  # a reason is required
    assert (
        screen(council, rejected, "not_eligible", "Parking for a business is not a community project.").status_code
        == 302
    )

    public = client.get(f"/rounds/{setup['round']}/proposals").get_data(as_text=True)
    assert "Meadow" in public
    assert "Parking for a business is not a community project." in public  # reasons for refusals are public
    assert "Please split the cost" not in public  # a message to the group is not
    assert "Please split the cost" not in client.get(f"/proposals/{returned}").get_data(as_text=True)
    assert "Please split the cost" in park.get(f"/proposals/{returned}").get_data(as_text=True)
    assert "Please split the cost" in park.get("/group").get_data(as_text=True)

    # The group can change a returned proposal after the deadline, and submit it again.
    council.submit(f"/rounds/{setup['round']}/phase", {"confirm": "y"})
    edit = proposal_form(db, setup, title="Benches (paths costed separately)")
    del edit["organisation"]
    assert park.submit(f"/proposals/{returned}/edit", {**edit, "action": "submit"}).status_code == 302
    assert proposal(db, returned).status == "submitted"

    with db() as session:
        decisions = [
            json.loads(e.data)
            for e in session.exec(
                select(AuditEvent).where(
                    AuditEvent.chain == chain_key(setup["round"]), AuditEvent.action == "proposal.screened"
                )
            )
        ]
    assert [(d["proposal"], d["decision"]) for d in decisions] == [
        (eligible, "eligible"),
        (returned, "returned"),
        (rejected, "not_eligible"),
    ]
    assert decisions[2]["reason"] == "Parking for a business is not a community project."


def test_screeners_are_the_rounds_leads_and_appointed_reviewers_only(app, people, db, setup):
    pid = new_proposal(people["park"], db, setup, action="submit")
    police, reviewer = people["police"], people["reviewer"]
    assert police.get(f"/proposals/{pid}/screen").status_code == 403
    assert screen(police, pid, "eligible").status_code == 403
    assert reviewer.get(f"/rounds/{setup['round']}/screening").status_code == 403
    assert proposal(db, pid).status == "submitted"

    # The convening lead appoints a community reviewer, who may then screen.
    assert (
        people["council"].submit(f"/rounds/{setup['round']}/screeners", {"email": "reviewer@example.org"}).status_code
        == 302
    )
    assert screen(reviewer, pid, "eligible").status_code == 302
    assert proposal(db, pid).status == "eligible"
    # ...but only in that round: the police convene a round of their own.
    other = make_round(app, db, convener="lead@police.example", anchor="Eastshire Police")
    other_pid = new_proposal(people["park"], db, other, action="submit")
    assert screen(reviewer, other_pid, "eligible").status_code == 403
    assert screen(people["council"], other_pid, "eligible").status_code == 403
    assert proposal(db, other_pid).status == "submitted"


def test_a_screener_cannot_judge_their_own_groups_proposal(app, people, db, setup, make_user):
    pid = new_proposal(people["park"], db, setup, action="submit")
    with app.test_request_context(), db() as session:
        from pb.accounts.services import add_member

        add_member(
            session,
            actor=user(session, "chair@park.example"),
            organisation=organisation(session, "Friends of the Park"),
            user=user(session, "lead@council.example"),
        )
    response = screen(people["council"], pid, "eligible")
    assert response.status_code == 400
    assert "group you belong to" in response.get_data(as_text=True)
    assert proposal(db, pid).status == "submitted"


# ---------------------------------------------------------------- the public list


def test_public_list_filters_and_orders_randomly_per_visitor(app, people, db, setup):
    ids = []
    for n in range(8):
        contest = setup["contests"]["North" if n % 2 else "South"]
        category = setup["categories"]["Young people" if n < 3 else "Green spaces"]
        ids.append(
            new_proposal(
                people["park"],
                db,
                setup,
                title=f"Idea number {n}",
                contest=contest,
                category=category,
                summary=f"Summary {'skatepark' if n == 5 else 'plain'}",
                action="submit",
            )
        )
    url = f"/rounds/{setup['round']}/proposals"

    def titles(client, query=""):
        page = client.get(url + query).get_data(as_text=True)
        return re.findall(r"Idea number (\d)", page)

    visitor = FormClient(app)
    first = titles(visitor)
    assert sorted(first) == [str(n) for n in range(8)]
    assert titles(visitor) == first  # stable for one visitor
    orders = {tuple(titles(FormClient(app))) for _ in range(5)}
    assert len(orders | {tuple(first)}) > 1  # but not the same for everyone
    assert sorted(titles(visitor, f"?area={setup['areas']['North']}")) == ["1", "3", "5", "7"]
    assert sorted(titles(visitor, f"?category={setup['categories']['Young people']}")) == ["0", "1", "2"]
    assert titles(visitor, "?q=SKATEPARK") == ["5"]
    assert titles(visitor, "?area=abc&category=&q=") == first  # nonsense filters are ignored


# ---------------------------------------------------------------- the ballot


def test_eligible_proposals_become_projects_when_voting_opens_and_then_freeze(app, people, db, setup):
    park, council = people["park"], people["council"]
    north = new_proposal(park, db, setup, title="North meadow", action="submit")
    south = new_proposal(park, db, setup, title="South garden", contest=setup["contests"]["South"], action="submit")
    refused = new_proposal(park, db, setup, title="Refused", action="submit")
    screen(council, north, "eligible")
    screen(council, south, "eligible")
    screen(council, refused, "not_eligible", "Outside the round's area.")
    base = f"/rounds/{setup['round']}"
    for area in ("North", "South"):  # the returning officer's letters, so that voting can open
        make_codes(app, db, setup["round"], setup["areas"][area], count=1)
    council.submit(f"{base}/phase", {"confirm": "y"})
    council.submit(f"{base}/phase", {"confirm": "y"})
    with db() as session:
        assert session.get(Round, setup["round"]).phase == "voting"
        projects = {(p.contest_id, p.title, p.cost) for p in session.exec(select(Project))}
    assert projects == {
        (setup["contests"]["North"], "North meadow", 3_700_50),
        (setup["contests"]["South"], "South garden", 3_700_50),
    }

    page = park.get(f"/proposals/{north}/edit").get_data(as_text=True)
    assert "Voting has opened, so proposals can no longer be added or changed." in page
    assert 'enctype="multipart/form-data"' not in page  # no form to fill in for nothing
    edit = proposal_form(db, setup, title="Changed")
    del edit["organisation"]
    assert park.submit(f"/proposals/{north}/edit", edit).status_code == 409
    assert screen(council, refused, "eligible").status_code == 409
    assert park.submit(f"{base}/proposals/new", proposal_form(db, setup)).status_code == 409
    with db() as session:
        assert len(session.exec(select(Project)).all()) == 2
        assert session.get(Proposal, refused).status == "not_eligible"
        refusals = [e for e in session.exec(select(AuditEvent).where(AuditEvent.action == "round.change_refused"))]
    assert len(refusals) == 3
