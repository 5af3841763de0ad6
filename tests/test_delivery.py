"""After the vote: delivery updates (history, statuses and their reasons, spending against
the allocation), residents' verdicts (eligible residents only, one each, replaceable),
moderation, and the reports whose totals must reconcile with pots, results and updates."""

import csv
import io
import json
import random
import re
from fractions import Fraction

import pytest
from sqlmodel import col, select

from pb import lifecycle
from pb.audit.models import AuditEvent, chain_key
from pb.delivery import services as delivery
from pb.delivery import verdicts
from pb.delivery.models import (
    NEEDS_REASON,
    NEXT_STATUSES,
    DeliveryStatus,
    DeliveryUpdate,
    SpendLine,
    Verdict,
)
from pb.proposals.models import Project, Proposal, ProposalObjective
from pb.results.models import ContestResult
from pb.rounds import services as rounds
from pb.rounds.models import Contest, Pot, Round
from pb.voting import services as voting
from pb.voting.models import Voter
from tests.conftest import FormClient
from tests.factories import let_voting_close, make_codes, make_round, open_voting, organisation, user

PASSWORD = "correct horse battery"
COUNCIL, TRUST = "lead@council.example", "lead@trust.example"
MEMBER, OUTSIDER = "chair@park.example", "chair@other.example"
VOTER_EMAIL = "resident@example.org"


@pytest.fixture
def published(app, db, make_user):
    """A round with two areas whose results are published: North is funded by the
    council and a partner trust, South by the council. Residents voted with letters'
    codes and by email; one North code and one South code were never used."""
    make_user(COUNCIL, organisation="Eastshire Council", kind="anchor")
    make_user(TRUST, organisation="Eastshire NHS Trust", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    make_user(OUTSIDER, organisation="Other Group", kind="group")
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council", methods=("codes", "email"))
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        council, trust = user(session, COUNCIL), organisation(session, "Eastshire NHS Trust")
        rounds.invite_partner(session, round_, actor=council, organisation=trust)
        north = session.get(Contest, ids["contests"]["North"])
        rounds.pledge_pot(
            session,
            round_,
            actor=user(session, TRUST),
            organisation=trust,
            contest=north,
            name="Trust fund",
            amount=20_000_01,
        )
    ids["codes"] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=3)
    ids["south_code"] = make_codes(app, db, ids["round"], ids["areas"]["South"], count=1)[0]
    open_voting(
        app, db, ids, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park", per_contest=6
    )
    rng = random.Random(11)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        # Categories and objectives, so the report has something to break down by.
        for n, proposal in enumerate(
            session.exec(select(Proposal).where(Proposal.round_id == round_.id).order_by(Proposal.id))
        ):
            proposal.category_id = list(ids["categories"].values())[n % 2] if n % 3 else None
            session.add(proposal)
            for k, objective in enumerate(ids["objectives"].values()):
                if (n + k) % 3 == 0:
                    session.add(ProposalObjective(proposal_id=proposal.id, objective_id=objective))
        voters = [voting.voter_by_code(session, round_, code, client="test") for code in ids["codes"][:2]]
        challenge, code = voting.start_email_challenge(
            session, round_, email=VOTER_EMAIL, postcode="LS11 5AA", client="test"
        )
        voters.append(voting.voter_by_email_code(session, round_, challenge.id, code, client="test"))
        for n in range(40):
            area = "North" if n % 2 else "South"
            voter = Voter(round_id=round_.id, area_id=ids["areas"][area], method="declared", identity=f"v{n}")
            session.add(voter)
            voters.append(voter)
        session.flush()
        for voter in voters:
            contest = session.get(
                Contest, ids["contests"]["North" if voter.area_id == ids["areas"]["North"] else "South"]
            )
            projects = [
                p.id for p in session.exec(select(Project).where(Project.contest_id == contest.id).order_by(Project.id))
            ]
            picks = {rng.choices(projects, [9, 7, 5, 4, 2, 1])[0] for _ in range(3)}
            voting.cast_ballot(session, voter, contest, {pid: None for pid in picks})
        lead = user(session, COUNCIL)
        let_voting_close(session, round_)
        lifecycle.move_to_next_phase(session, round_, actor=lead)  # publish
        funded = delivery.funded_project_ids(session, round_)
        everything = [p.id for p in session.exec(select(Project).join(Contest).where(Contest.round_id == round_.id))]
    ids["funded"] = sorted(funded)
    ids["unfunded"] = sorted(set(everything) - funded)
    assert ids["funded"]
    assert ids["unfunded"]
    return ids


def signed_in(app, email):
    client = FormClient(app)
    client.sign_in(email, PASSWORD)
    return client


def project(db, project_id) -> Project:
    with db(write=False) as session:
        return session.get(Project, project_id)


def updates(db, project_id) -> list[DeliveryUpdate]:
    with db(write=False) as session:
        return list(
            session.exec(
                select(DeliveryUpdate).where(DeliveryUpdate.project_id == project_id).order_by(DeliveryUpdate.id)
            )
        )


def post(app, db, project_id, status, reason="", spend=(), email=MEMBER):
    """Post an update through the service layer, as the group member."""
    with app.test_request_context(), db() as session:
        return delivery.post_update(
            session,
            session.get(Project, project_id),
            actor=user(session, email),
            content=delivery.UpdateContent(status=status, reason=reason, spend=list(spend)),
        ).id


def update_form(status, reason="", note="", milestones=(), spend=()):
    data = {"status": status, "reason": reason, "note": note}
    for n, (title, due, done) in enumerate(milestones):
        data[f"milestones-{n}-title"], data[f"milestones-{n}-due"] = title, due
        if done:
            data[f"milestones-{n}-done"] = "y"
    for n, (item, amount, local) in enumerate(spend):
        data[f"spend-{n}-item"], data[f"spend-{n}-amount"] = item, amount
        if local:
            data[f"spend-{n}-local"] = "y"
    return data


# ---------------------------------------------------------------- delivery updates


def test_a_group_posts_updates_that_are_kept_as_a_dated_history(app, db, published, client):
    pid = published["funded"][0]
    member = signed_in(app, MEMBER)
    page = f"/projects/{pid}/update"
    first = member.submit(
        page,
        update_form(
            "in_progress",
            note="Diggers arrive on Monday.",
            milestones=[("Order materials", "2027-01-10", True), ("Open day", "2027-03-01", False)],
            spend=[("Timber from Eastshire Sawmill", "1,200.50", True), ("Tools", "300", False)],
        ),
    )
    assert first.status_code == 302, first.get_data(as_text=True)
    second = member.submit(
        page,
        update_form(
            "delivered",
            note="Open to everyone.",
            spend=[
                ("Timber from Eastshire Sawmill", "1,200.50", True),
                ("Tools", "300", False),
                ("Local gardener's wages", "2000", True),
            ],
        ),
    )
    assert second.status_code == 302
    history = updates(db, pid)
    assert [u.status for u in history] == ["in_progress", "delivered"]
    assert (history[0].spent, history[0].spent_locally) == (150_050, 120_050)
    assert (history[1].spent, history[1].spent_locally) == (350_050, 320_050)
    public = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert "Diggers arrive on Monday." in public
    assert "Open to everyone." in public  # the earlier update is still shown
    assert "£3,500.50" in public
    assert "£1,500.50" in public
    with db(write=False) as session:
        events = [
            json.loads(e.data)
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.chain == chain_key(published["round"]), AuditEvent.action == "delivery.updated")
                .order_by(col(AuditEvent.seq))
            )
        ]
    assert [e["status"] for e in events] == ["in_progress", "delivered"]


@pytest.mark.parametrize("current", list(DeliveryStatus))
def test_every_status_transition_is_allowed_or_refused_by_the_rules(current):
    for wanted in DeliveryStatus:
        reason = "The contractor is ill." if wanted in NEEDS_REASON else ""
        if wanted in NEXT_STATUSES[current]:
            assert delivery.check_transition(current, wanted.value, reason) == wanted
        else:
            with pytest.raises(delivery.DeliveryError):
                delivery.check_transition(current, wanted.value, reason)


def test_delivered_and_cancelled_are_final_and_nothing_goes_back_to_not_started():
    for final in (DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED):
        assert NEXT_STATUSES[final] == {final}
    for status in DeliveryStatus:
        if status != DeliveryStatus.NOT_STARTED:
            assert DeliveryStatus.NOT_STARTED not in NEXT_STATUSES[status]
    assert DeliveryStatus.DELIVERED not in NEXT_STATUSES[DeliveryStatus.STALLED]  # restart it first


@pytest.mark.parametrize("status", ["delayed", "stalled", "cancelled"])
def test_delayed_stalled_and_cancelled_need_a_reason(app, db, published, status):
    pid = published["funded"][0]
    member = signed_in(app, MEMBER)
    refused = member.submit(f"/projects/{pid}/update", update_form(status, reason="   "))
    assert refused.status_code == 400
    assert "residents are owed a reason" in refused.get_data(as_text=True)
    assert updates(db, pid) == []
    # The service refuses too, whatever page or script calls it.
    with pytest.raises(delivery.DeliveryError):
        post(app, db, pid, status, reason="")
    assert updates(db, pid) == []
    accepted = member.submit(
        f"/projects/{pid}/update", update_form(status, reason="Waiting for the landowner's permission.")
    )
    assert accepted.status_code == 302
    assert [(u.status, u.reason) for u in updates(db, pid)] == [(status, "Waiting for the landowner's permission.")]
    assert "Waiting for the landowner&#39;s permission." in FormClient(app).get(
        f"/rounds/{published['round']}/money"
    ).get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        ["in_progress", "delayed", "in_progress", "delivered"],
        ["delayed", "stalled", "in_progress", "delivered"],
        ["stalled", "cancelled"],
        ["not_started", "in_progress", "cancelled"],
    ],
)
def test_a_project_moves_through_its_statuses_in_order(app, db, published, path):
    pid = published["funded"][0]
    for status in path:
        post(app, db, pid, status, reason="A reason." if status in {s.value for s in NEEDS_REASON} else "")
    assert [u.status for u in updates(db, pid)] == path


@pytest.mark.parametrize(
    "final, wanted, why",
    [
        ("delivered", "in_progress", "; that is final."),
        ("cancelled", "in_progress", "; that is final."),
        ("in_progress", "not_started", "A project cannot go from"),
        ("stalled", "delivered", "A project cannot go from"),
    ],
)
def test_a_transition_the_rules_forbid_is_refused_over_http_and_changes_nothing(app, db, published, final, wanted, why):
    pid = published["funded"][0]
    post(app, db, pid, final, reason="A reason.")
    member = signed_in(app, MEMBER)
    refused = member.submit(f"/projects/{pid}/update", update_form(wanted, reason="A reason."))
    assert refused.status_code == 400
    assert why in refused.get_data(as_text=True)
    assert [u.status for u in updates(db, pid)] == [final]


def test_a_follow_up_update_sends_back_the_amounts_it_was_given_in_any_language(app, db, published):
    """The form starts from the latest update; its amounts must read back unchanged in a
    language that writes 1250,50 (Romanian) as well as 1250.50."""
    pid = published["funded"][0]
    post(app, db, pid, "in_progress", spend=[("Timber", 1_250_50, True)])
    member = signed_in(app, MEMBER)
    member.http.set_cookie("pb_locale", "ro", domain="localhost")
    page = member.get(f"/projects/{pid}/update").get_data(as_text=True)
    amount = re.search(r'id="spend-0-amount"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*id="spend-0-amount"', page)
    value = amount.group(1) or amount.group(2)
    assert value == "1250,50"
    again = member.submit(f"/projects/{pid}/update", update_form("in_progress", spend=[("Timber", value, True)]))
    assert again.status_code == 302
    assert [u.spent for u in updates(db, pid)] == [1_250_50, 1_250_50]


def test_spending_beyond_the_allocation_is_kept_and_flagged(app, db, published, client):
    pid = published["funded"][0]
    cost = project(db, pid).cost
    post(app, db, pid, "in_progress", spend=[("Materials", cost, True)])
    assert "Over the allocation" not in client.get(f"/projects/{pid}").get_data(as_text=True)
    member = signed_in(app, MEMBER)
    over = cost + 1
    response = member.submit(
        f"/projects/{pid}/update",
        update_form("delivered", spend=[("Materials", f"{cost / 100:.2f}", True), ("A last invoice", "0.01", False)]),
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "more spent than the project was given" in response.get_data(as_text=True)
    latest = updates(db, pid)[-1]
    assert latest.spent == over
    assert delivery.is_over_allocation(project(db, pid), latest)
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert "Over the allocation" in page
    with app.test_request_context(), db(write=False) as session:
        from pb.reports.services import round_report

        report = round_report(session, session.get(Round, published["round"]))
    assert [line.project.id for line in report.overspent] == [pid]
    assert "Over the allocation" in client.get(f"/rounds/{published['round']}/money").get_data(as_text=True)
    with db(write=False) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "delivery.updated").order_by(AuditEvent.id.desc())
        ).first()
    assert json.loads(event.data)["over_allocation"] is True


def test_only_the_funded_group_reports_and_only_on_funded_published_projects(app, db, published, client):
    pid = published["funded"][0]
    assert client.get(f"/projects/{pid}/update").status_code == 302  # sign in first
    for email in (OUTSIDER, COUNCIL, TRUST):
        someone = signed_in(app, email)
        assert someone.get(f"/projects/{pid}/update").status_code == 403
        token = someone.csrf_token(f"/projects/{pid}")
        assert (
            someone.post(f"/projects/{pid}/update", data={**update_form("delivered"), "csrf_token": token}).status_code
            == 403
        )
    member = signed_in(app, MEMBER)
    assert member.get(f"/projects/{published['unfunded'][0]}/update").status_code == 404
    assert client.get(f"/projects/{published['unfunded'][0]}").status_code == 404
    with pytest.raises(delivery.DeliveryError):
        post(app, db, published["unfunded"][0], "in_progress")
    with pytest.raises(delivery.DeliveryError):
        post(app, db, pid, "in_progress", email=OUTSIDER)
    assert updates(db, pid) == []
    assert updates(db, published["unfunded"][0]) == []


def test_an_archived_round_closes_its_delivery_record(app, db, published):
    pid = published["funded"][0]
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, published["round"])
        lifecycle.move_to_next_phase(session, round_, actor=user(session, COUNCIL))  # delivery
    post(app, db, pid, "in_progress")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, published["round"])
        lifecycle.move_to_next_phase(session, round_, actor=user(session, COUNCIL))  # archived
    member = signed_in(app, MEMBER)
    refused = member.submit(f"/projects/{pid}/update", update_form("delivered"))
    assert refused.status_code == 409
    assert [u.status for u in updates(db, pid)] == ["in_progress"]


@pytest.mark.parametrize(
    "data, message",
    [
        (update_form("in_progress", spend=[("Timber", "twelve pounds", False)]), "Enter an amount such as"),
        (update_form("in_progress", spend=[("", "12", False)]), "Say what each amount was spent on."),
        (update_form("in_progress", spend=[("Timber", "", False)]), "Give an amount for “Timber”."),
        (update_form("in_progress", spend=[("Timber", "0", False)]), "Every amount spent must be more than zero."),
        (update_form("in_progress", milestones=[("Open day", "", False)]), "Give a date for “Open day”."),
        (update_form("in_progress", milestones=[("Open day", "31/02/2027", False)]), "Enter a date like 2027-03-31."),
        (update_form("in_progress", milestones=[("", "2027-02-01", False)]), "Give each milestone a name."),
        (update_form("unheard_of"), "Choose the project"),
        (update_form(""), "Choose the project"),
        (update_form("in_progress", note="x" * 2001), "Field cannot be longer than 2000 characters."),
    ],
)
def test_a_bad_update_gets_a_clear_message_and_stores_nothing(app, db, published, data, message):
    pid = published["funded"][0]
    member = signed_in(app, MEMBER)
    response = member.submit(f"/projects/{pid}/update", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert updates(db, pid) == []


def test_an_update_photo_is_checked_and_served(app, db, published, client):
    from PIL import Image

    pid = published["funded"][0]
    member = signed_in(app, MEMBER)
    refused = member.submit(
        f"/projects/{pid}/update",
        {**update_form("in_progress"), "photo": (io.BytesIO(b"not an image"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert updates(db, pid) == []
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(picture, "PNG")
    picture.seek(0)
    accepted = member.submit(
        f"/projects/{pid}/update",
        {**update_form("in_progress"), "photo": (picture, "site.png")},
        content_type="multipart/form-data",
    )
    assert accepted.status_code == 302
    latest = updates(db, pid)[-1]
    served = client.get(f"/projects/{pid}/updates/{latest.id}/photo")
    assert served.status_code == 200
    assert served.data[:2] == b"\xff\xd8"  # re-encoded as JPEG
    served.close()


# ---------------------------------------------------------------- residents' verdicts


def prove_with_code(client, round_id, code, project_id=None):
    query = f"?project={project_id}" if project_id else ""
    return client.submit(
        f"/rounds/{round_id}/residents/code{query}", {"code": code}, page=f"/rounds/{round_id}/residents"
    )


def give(client, project_id, answer, comment=""):
    return client.submit(f"/projects/{project_id}/verdict", {"answer": answer, "comment": comment})


def all_verdicts(db, project_id) -> list[Verdict]:
    with db(write=False) as session:
        return list(session.exec(select(Verdict).where(Verdict.project_id == project_id)))


def test_a_resident_with_a_voting_code_gives_one_verdict_and_can_replace_it(app, db, published):
    pid = published["funded"][0]
    resident = FormClient(app)
    assert resident.get(f"/projects/{pid}/verdict").status_code == 302  # prove eligibility first
    proved = prove_with_code(resident, published["round"], published["codes"][0].lower().replace("-", " "), pid)
    assert proved.status_code == 302
    assert proved.headers["Location"].endswith(f"/projects/{pid}/verdict")
    assert give(resident, pid, "no", "Nothing has happened yet.").status_code == 302
    assert give(resident, pid, "partly", "Started at last.").status_code == 302
    stored = all_verdicts(db, pid)
    assert [(v.answer, v.comment) for v in stored] == [("partly", "Started at last.")]
    page = resident.get(f"/projects/{pid}").get_data(as_text=True)
    assert "Your verdict: Partly." in page
    assert "Started at last." in page
    assert "Nothing has happened yet." not in page
    # The same code in another browser is the same resident: still one verdict.
    again = FormClient(app)
    prove_with_code(again, published["round"], published["codes"][0], pid)
    give(again, pid, "yes")
    assert [v.answer for v in all_verdicts(db, pid)] == ["yes"]


def test_a_resident_sent_a_code_who_never_voted_was_still_eligible(app, db, published):
    pid = published["funded"][0]
    resident = FormClient(app)
    assert prove_with_code(resident, published["round"], published["codes"][2]).status_code == 302  # never used to vote
    assert give(resident, pid, "yes").status_code == 302
    assert len(all_verdicts(db, pid)) == 1


def test_verdicts_are_limited_to_residents_who_were_eligible(app, db, published, make_user):
    pid = published["funded"][0]
    stranger = FormClient(app)
    for code in ("AAAA-BBBB-CCCC", "", "x" * 41):
        response = prove_with_code(stranger, published["round"], code, pid)
        assert response.status_code == 400
    assert "That code is not right" in prove_with_code(stranger, published["round"], "AAAA-BBBB-CCCC").get_data(
        as_text=True
    )
    # A code of another round proves nothing about this one.
    other = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    foreign = make_codes(app, db, other["round"], None, count=1)[0]
    assert prove_with_code(stranger, published["round"], foreign).status_code == 400
    # Without proof, a verdict cannot be given, even by posting straight to it.
    assert stranger.get(f"/projects/{pid}/verdict").status_code == 302
    response = stranger.post(
        f"/projects/{pid}/verdict", data={"answer": "no", "csrf_token": stranger.csrf_token(f"/projects/{pid}")}
    )
    assert response.status_code == 302
    assert "/residents" in response.headers["Location"]
    with app.test_request_context(), db() as session, pytest.raises(voting.VotingError):
        verdicts.resident_by_code(session, session.get(Round, published["round"]), foreign, client="test")
    assert all_verdicts(db, pid) == []


def test_guessing_codes_is_rate_limited(app, db, published):
    stranger = FormClient(app)
    for n in range(20):
        prove_with_code(stranger, published["round"], f"AAAA-BBBB-{n:04d}")
    limited = prove_with_code(stranger, published["round"], published["codes"][0])
    assert limited.status_code == 400
    assert "Too many attempts" in limited.get_data(as_text=True)


def test_email_addresses_are_deleted_when_the_results_are_published(app, db, published):
    """Residents are told their address is kept only until the results are final."""
    from pb.throttle import ThrottleAttempt
    from pb.voting.models import EmailChallenge

    with db(write=False) as session:
        assert session.exec(select(EmailChallenge)).all() == []
        assert all("@" not in a.key for a in session.exec(select(ThrottleAttempt)))
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "residents.addresses_deleted")).all()
    assert json.loads(event.data) == {"count": 1}


def test_a_resident_who_voted_by_email_proves_it_with_an_emailed_code(app, db, published):
    pid = published["funded"][-1]  # any funded project: verdicts are round-wide
    outbox = app.extensions["pb_outbox"]
    base = f"/rounds/{published['round']}/residents"
    resident = FormClient(app)
    before = len(outbox)
    asked = resident.submit(f"{base}/email?project={pid}", {"email": VOTER_EMAIL.upper()}, page=base)
    assert asked.status_code == 302
    assert len(outbox) == before + 1
    assert outbox[-1].to == VOTER_EMAIL
    code = re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)
    wrong = resident.submit(f"{base}/email/code?project={pid}", {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400
    proved = resident.submit(f"{base}/email/code?project={pid}", {"code": code})
    assert proved.status_code == 302
    assert proved.headers["Location"].endswith(f"/projects/{pid}/verdict")
    with db(write=False) as session:
        from pb.voting.models import EmailChallenge

        assert session.exec(select(EmailChallenge)).all() == []  # proved: the address is not kept
    assert give(resident, pid, "yes").status_code == 302
    # Someone who never voted with an address gets no code: one message all the same (the
    # same work, so the answer's time does not tell), and the page says the same.
    stranger = FormClient(app)
    before = len(outbox)
    asked = stranger.submit(f"{base}/email", {"email": "never-voted@example.org"}, page=base)
    assert asked.status_code == 302
    assert len(outbox) == before + 1
    assert outbox[-1].to == "never-voted@example.org"
    assert "was not used to vote" in outbox[-1].body
    assert not re.search(r"\b\d{6}\b", outbox[-1].body)
    page = stranger.get(asked.headers["Location"]).get_data(as_text=True)
    assert "If that address was used to vote in this round" in page
    for guess in ("123456", "654321"):
        assert stranger.submit(f"{base}/email/code", {"code": guess}).status_code == 400
    with db(write=False) as session:
        from pb.voting.models import EmailChallenge

        assert [c.email for c in session.exec(select(EmailChallenge))] == [""]  # a non-voter's address is not kept
    assert len(all_verdicts(db, pid)) == 1


def test_verdict_counts_show_on_the_project_page(app, db, published, client):
    pid = published["funded"][0]
    with app.test_request_context(), db() as session:
        project_ = session.get(Project, pid)
        for n, answer in enumerate(["yes", "yes", "yes", "partly", "no", "no"]):
            verdicts.give_verdict(session, project_, resident=f"r{n}", answer=answer)
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    counts = dict(re.findall(r"<li>(Yes|Partly|No): <strong>(\d+)</strong></li>", page))
    assert counts == {"Yes": "3", "Partly": "1", "No": "2"}


def test_bad_verdicts_get_a_clear_message_and_store_nothing(app, db, published):
    pid = published["funded"][0]
    resident = FormClient(app)
    prove_with_code(resident, published["round"], published["codes"][0])
    for data, message in [
        ({"answer": "maybe"}, "Choose yes, partly or no."),
        ({"answer": ""}, "Choose yes, partly or no."),
        ({"answer": "yes", "comment": "x" * 1001}, "Keep your comment to 1000 characters."),
    ]:
        response = give(resident, pid, **data)
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True)
    assert all_verdicts(db, pid) == []
    # No verdicts on projects that were not funded.
    assert resident.get(f"/projects/{published['unfunded'][0]}/verdict").status_code == 404
    with app.test_request_context(), db() as session, pytest.raises(delivery.DeliveryError):
        verdicts.give_verdict(session, session.get(Project, published["unfunded"][0]), resident="r", answer="yes")


# ---------------------------------------------------------------- moderation


def test_the_convening_anchor_hides_an_abusive_comment_but_the_verdict_still_counts(app, db, published, client):
    pid = published["funded"][0]
    resident = FormClient(app)
    prove_with_code(resident, published["round"], published["codes"][0])
    give(resident, pid, "no", "The volunteers are (something abusive).")
    [verdict] = all_verdicts(db, pid)
    url = f"/verdicts/{verdict.id}/hide"
    # Nobody but the convening anchor's leads may hide it.
    assert client.post(url, data={"reason": "x"}).status_code in (302, 400)  # anonymous: no CSRF token, then sign-in
    for email in (TRUST, MEMBER, OUTSIDER):
        someone = signed_in(app, email)
        assert someone.submit(url, {"reason": "I do not like it."}, page=f"/projects/{pid}").status_code == 403
    lead = signed_in(app, COUNCIL)
    refused = lead.submit(url, {"reason": " "}, page=f"/projects/{pid}")
    assert refused.status_code == 400
    assert "Say why the comment is hidden." in refused.get_data(as_text=True)  # a reason is required
    assert all_verdicts(db, pid)[0].hidden_at is None
    assert lead.submit(url, {"reason": "Abuse of named volunteers."}, page=f"/projects/{pid}").status_code == 302
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert "(something abusive)" not in page
    assert "hidden by the convening anchor: Abuse of named volunteers." in page
    assert re.search(r"<li>No: <strong>1</strong></li>", page)  # the count is untouched
    with db(write=False) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "verdict.comment_hidden")).all()
    assert event.chain == chain_key(published["round"])
    assert json.loads(event.data)["reason"] == "Abuse of named volunteers."
    assert "Abuse of named volunteers." in client.get(f"/rounds/{published['round']}/audit").get_data(as_text=True)
    with app.test_request_context(), db(write=False) as session:
        from pb.reports.services import round_report

        report = round_report(session, session.get(Round, published["round"]))
    assert report.verdicts["no"] == 1
    # Changing the answer keeps the hidden comment hidden (and the form does not offer it back)...
    assert "(something abusive)" not in resident.get(f"/projects/{pid}/verdict").get_data(as_text=True)
    give(resident, pid, "partly", "The volunteers are (something abusive).")
    assert all_verdicts(db, pid)[0].hidden_at is not None
    assert "(something abusive)" not in client.get(f"/projects/{pid}").get_data(as_text=True)
    # ...while a new comment is judged afresh.
    give(resident, pid, "partly", "Better now, thank you.")
    assert "Better now, thank you." in client.get(f"/projects/{pid}").get_data(as_text=True)


# ---------------------------------------------------------------- reports


def test_the_report_reconciles_exactly_with_pots_results_and_updates(app, db, published, client):
    funded = published["funded"]
    stories = [
        ("delivered", "", [("Works", 1_000_00, True), ("Fees", 333_33, False)]),
        ("delayed", "Waiting for permission.", [("Deposit", 50_00, True)]),
        ("stalled", "Supplier closed.", []),
        ("cancelled", "Landowner said no.", [("Survey", 12_34, False)]),
    ]
    for pid, (status, reason, spend) in zip(funded, stories, strict=False):
        post(app, db, pid, "in_progress", spend=[("First invoice", 1_00, True)])
        post(app, db, pid, status, reason=reason, spend=spend)
    with app.test_request_context(), db(write=False) as session:
        from pb.reports.services import anchor_rounds, round_report

        round_ = session.get(Round, published["round"])
        report = round_report(session, round_)
        pots = session.exec(select(Pot).join(Contest).where(Contest.round_id == round_.id)).all()
        selected = {
            int(pid)
            for r in session.exec(select(ContestResult).join(Contest).where(Contest.round_id == round_.id))
            for pid in json.loads(r.outcome)["selected"]
        }
        costs = {p.id: p.cost for p in session.exec(select(Project).where(Project.id.in_(selected)))}
        latest = {}
        for update in session.exec(select(DeliveryUpdate).order_by(DeliveryUpdate.id)):
            latest[update.project_id] = update.id
        lines = session.exec(select(SpendLine).where(SpendLine.update_id.in_(list(latest.values())))).all()
        council = organisation(session, "Eastshire Council")
        trust = organisation(session, "Eastshire NHS Trust")
        by_anchor = {o.name: {row.report.round.id: row for row in anchor_rounds(session, o)} for o in (council, trust)}

    total = report.total
    assert total.pledged == sum(p.amount for p in pots)
    assert total.allocated == sum(costs.values())
    assert total.funded == len(selected)
    assert total.spent == sum(line.amount for line in lines)
    assert total.spent_locally == sum(line.amount for line in lines if line.local)
    assert total.delivered == 1
    assert total.delivered_allocation == costs[funded[0]]
    for breakdown in (report.by_area, report.by_category):
        for figure in ("allocated", "spent", "spent_locally", "funded", "delivered"):
            assert sum(getattr(t, figure) for t in breakdown) == getattr(total, figure), figure
    assert sum(t.pledged for t in report.by_area) == total.pledged
    assert sum(t.funded for t in report.by_status.values()) == total.funded
    assert {line.project.id: (line.status.value, line.reason) for line in report.problems} == {
        funded[1]: ("delayed", "Waiting for permission."),
        funded[2]: ("stalled", "Supplier closed."),
        funded[3]: ("cancelled", "Landowner said no."),
    }
    assert report.voters == 43

    # The CSV carries the same totals, in pounds.
    text = client.get(f"/rounds/{published['round']}/money.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, whole = rows[0], rows[1]
    assert whole[0] == "round"
    figures = dict(zip(header, whole, strict=False))
    assert Fraction(figures["pledged"]) * 100 == total.pledged
    assert Fraction(figures["allocated"]) * 100 == sum(costs.values())
    assert Fraction(figures["spent"]) * 100 == sum(line.amount for line in lines)
    projects = [dict(zip(rows[rows.index([]) + 1], row, strict=False)) for row in rows[rows.index([]) + 2 :]]
    assert sum(Fraction(p["spent"]) * 100 for p in projects) == total.spent
    assert {int(p["project_id"]) for p in projects} == selected

    # The anchors' own reports: what each pledged, and shares of the allocation that add up.
    council_row, trust_row = by_anchor["Eastshire Council"][round_.id], by_anchor["Eastshire NHS Trust"][round_.id]
    assert council_row.convened
    assert not trust_row.convened
    assert council_row.pledged == sum(p.amount for p in pots if p.organisation_id == council.id)
    assert trust_row.pledged == 20_000_01
    assert council_row.allocated + trust_row.allocated == total.allocated  # to the penny
    # ...and each anchor's share is what the results page attributes to its pots.
    with app.test_request_context(), db(write=False) as session:
        from pb.results.services import contest_views

        on_results_page = {"Eastshire Council": 0, "Eastshire NHS Trust": 0}
        for view in contest_views(session, session.get(Round, published["round"])):
            for shares in view.attribution().values():
                for name, amount in shares:
                    on_results_page["Eastshire NHS Trust" if "NHS Trust" in name else "Eastshire Council"] += amount
    assert on_results_page == {"Eastshire Council": council_row.allocated, "Eastshire NHS Trust": trust_row.allocated}

    page = client.get(f"/rounds/{published['round']}/money").get_data(as_text=True)
    assert "<svg" in page
    assert 'role="img"' in page
    assert "Supplier closed." in page
    stylesheet = client.get("/static/pb.css")
    assert "@media print" in stylesheet.get_data(as_text=True)
    stylesheet.close()
    anchor_csv = list(
        csv.reader(io.StringIO(client.get(f"/anchors/{trust.id}/report.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert Fraction(dict(zip(anchor_csv[0], anchor_csv[1], strict=False))["pledged_by_anchor"]) * 100 == 20_000_01
    anchor_page = client.get(f"/anchors/{trust.id}/report")
    assert anchor_page.status_code == 200
    assert "<svg" in anchor_page.get_data(as_text=True)


def test_the_report_compares_with_the_anchors_earlier_rounds(app, db, published, client):
    later = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    page = client.get(f"/rounds/{published['round']}/money").get_data(as_text=True)
    assert "Compared with earlier rounds" not in page  # the first round has nothing to compare with
    with app.test_request_context(), db(write=False) as session:
        from pb.reports.services import round_report

        report = round_report(session, session.get(Round, later["round"]))
    assert report.previous
    assert report.previous[0].round.id == published["round"]


def test_nothing_is_reported_before_the_results_are_published(app, db, make_user, client):
    make_user(COUNCIL, organisation="Eastshire Council", kind="anchor")
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    for url in (
        f"/rounds/{ids['round']}/money",
        f"/rounds/{ids['round']}/money.csv",
        f"/rounds/{ids['round']}/residents",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get("/anchors/999999/report").status_code == 404


def test_the_groups_home_lists_its_funded_projects_to_report_on(app, db, published):
    member = signed_in(app, MEMBER)
    page = member.get("/group").get_data(as_text=True)
    for pid in published["funded"]:
        assert f'href="/projects/{pid}/update"' in page
    for pid in published["unfunded"]:
        assert f'href="/projects/{pid}"' not in page
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, published["round"])
        lifecycle.move_to_next_phase(session, round_, actor=user(session, COUNCIL))  # delivery
        lifecycle.move_to_next_phase(session, round_, actor=user(session, COUNCIL))  # archived
    page = member.get("/group").get_data(as_text=True)
    assert all(
        f'href="/projects/{pid}"' in page and f'href="/projects/{pid}/update"' not in page
        for pid in published["funded"]
    )
