"""Notices: each message reaches the people it concerns, and nobody else, once.

Groups hear screening decisions (with the reason), that their projects are on the ballot
and whether they were funded; partner anchors that they were invited; screeners and
returning officers that they were appointed. Residents who asked, and confirmed from
their inbox, hear that voting opened, that it closes soon (once, however often the
scheduler runs), that results are out and that a project was delivered; every message
to them stops them with a signed link. Forged or expired links change nothing."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, update
from sqlmodel import select

from pb import lifecycle
from pb.cli import main
from pb.clock import now
from pb.delivery import services as delivery
from pb.mail import OutgoingMail
from pb.notices import services as notices
from pb.notices.models import NoticeSent, Subscription
from pb.proposals import services as proposals
from pb.proposals.models import Project, Proposal
from pb.rounds import services as rounds
from pb.rounds.models import Contest, Phase, Round
from pb.voting import services as voting
from pb.voting.models import Voter
from tests.factories import make_round, open_voting, organisation, publish, user

PASSWORD = "correct horse battery"
LEAD, TRUST_LEAD, REVIEWER = "lead@council.example", "lead@trust.example", "reviewer@example.org"
CHAIR, TREASURER, OTHER = "chair@park.example", "treasurer@park.example", "chair@allotments.example"
COUNCIL, TRUST, PARK, ALLOTMENTS = (
    "Eastshire Council",
    "Eastshire NHS Trust",
    "Friends of the Park",
    "Allotment Society",
)
RESIDENT, LURKER, LEAVER = "resident@example.org", "lurker@example.org", "leaver@example.org"


@pytest.fixture
def setup(app, db, make_user):
    """A round taking proposals, convened by the council; two groups (the park's with two members)."""
    make_user(LEAD, organisation=COUNCIL)
    make_user(TRUST_LEAD, organisation=TRUST)
    make_user(REVIEWER)
    make_user(CHAIR, organisation=PARK, kind="group")
    make_user(TREASURER, organisation=PARK, kind="group")
    make_user(OTHER, organisation=ALLOTMENTS, kind="group")
    return make_round(app, db, convener=LEAD, anchor=COUNCIL, methods=("declared",))


def mails(app, to: str, subject: str = "") -> list:
    """Messages delivered to `to` (whose subject contains `subject`)."""
    return [m for m in app.extensions["pb_outbox"] if m.to == to and subject in m.subject]


def everyone_mailed(app, subject: str) -> list[str]:
    return sorted(m.to for m in app.extensions["pb_outbox"] if subject in m.subject)


def propose(app, db, round_id: int, member: str, group: str, title: str) -> int:
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        contest = rounds.contests_of(session, round_)[0]
        content = proposals.ProposalContent(
            contest_id=contest.id,
            title=title,
            summary="A summary.",
            description="",
            beneficiaries="",
            category_id=None,
            postcode=None,
            cost_lines=[("Everything", 5_000_00)],
            objective_ids=[],
        )
        proposal = proposals.create_proposal(
            session, round_, actor=user(session, member), organisation=organisation(session, group), content=content
        )
        proposals.submit_proposal(session, proposal, actor=user(session, member))
        return proposal.id


def link_in(body: str, path: str) -> str:
    found = re.search(rf"http://localhost({path}\S*)", body)
    assert found, f"no link to {path} in:\n{body}"
    return found.group(1)


def ask(client, round_id: int, email: str):
    """A resident asks for news on the round's page (the form is on it)."""
    return client.submit(f"/rounds/{round_id}/news", {"email": email}, page=f"/rounds/{round_id}")


def confirm(app, client, round_id: int, email: str):
    """Ask, and confirm from the mailed link. Returns the confirming POST's response."""
    assert ask(client, round_id, email).status_code == 302
    # by its link, not its subject: the subject is in the resident's language
    [mail] = [m for m in mails(app, email) if "/news/confirm/" in m.body][-1:]
    link = link_in(mail.body, "/news/confirm/")
    return client.submit(link, {})


def subscriptions(db) -> list[tuple[int, str]]:
    with db(write=False) as session:
        return [(s.round_id, s.email) for s in session.exec(select(Subscription).order_by(Subscription.id))]


# ---------------------------------------------------------------- groups, anchors, appointees


def test_a_screening_decision_reaches_the_groups_members_with_its_reason_and_nobody_else(app, client, db, setup):
    ours = propose(app, db, setup["round"], CHAIR, PARK, "Pond dipping platform")
    propose(app, db, setup["round"], OTHER, ALLOTMENTS, "Shared tool shed")
    client.sign_in(LEAD, PASSWORD)  # the convening anchor's lead screens
    reason = "The pond belongs to the water company, not the council."
    response = client.submit(f"/proposals/{ours}/screen", {"decision": "not_eligible", "reason": reason})
    assert response.status_code == 302, response.get_data(as_text=True)

    told = everyone_mailed(app, "not eligible")
    assert told == sorted([CHAIR, TREASURER])  # both members, once each; not the other group, not the screener
    for member in (CHAIR, TREASURER):
        [mail] = mails(app, member, "not eligible")
        assert "Pond dipping platform" in mail.subject
        assert reason in mail.body
        assert link_in(mail.body, "/proposals/") == f"/proposals/{ours}"

    note = "Please split the cost of the platform from the nets."
    client.submit(f"/proposals/{ours}/screen", {"decision": "returned", "reason": note})
    assert everyone_mailed(app, "returned for changes") == sorted([CHAIR, TREASURER])
    assert note in mails(app, CHAIR, "returned for changes")[0].body
    client.submit(f"/proposals/{ours}/screen", {"decision": "eligible", "reason": ""})
    assert everyone_mailed(app, "is eligible") == sorted([CHAIR, TREASURER])
    assert mails(app, OTHER) == []


def test_partner_anchors_screeners_and_the_returning_officer_are_told(app, db, setup):
    round_id = setup["round"]
    with app.test_request_context(), db() as session:
        round_, lead = session.get(Round, round_id), user(session, LEAD)
        rounds.invite_partner(session, round_, actor=lead, organisation=organisation(session, TRUST))
        proposals.appoint_screener(session, round_, actor=lead, user=user(session, REVIEWER))
    [invited] = mails(app, TRUST_LEAD, "invites")
    assert TRUST in invited.subject
    assert link_in(invited.body, "/rounds/") == f"/rounds/{round_id}/manage"
    [appointed] = mails(app, REVIEWER, "screener")
    assert link_in(appointed.body, "/rounds/") == f"/rounds/{round_id}/screening"

    from pb.accounts.services import create_user

    with app.test_request_context(), db() as session:
        officer = create_user(session, email="officer@independent.example", name="Olu Officer", password=PASSWORD)
        rounds.appoint_returning_officer(session, session.get(Round, round_id), actor=user(session, LEAD), user=officer)
    [told] = mails(app, "officer@independent.example", "returning officer")
    assert link_in(told.body, "/rounds/") == f"/rounds/{round_id}"
    assert everyone_mailed(app, "invites") == [TRUST_LEAD]
    assert everyone_mailed(app, "You are a screener") == [REVIEWER]
    assert everyone_mailed(app, "You are the returning officer") == ["officer@independent.example"]


def test_an_action_that_rolls_back_sends_nothing(app, db, setup):
    proposal_id = propose(app, db, setup["round"], CHAIR, PARK, "Pond dipping platform")
    with app.test_request_context(), pytest.raises(RuntimeError), db() as session:
        proposals.screen_proposal(
            session,
            session.get(Proposal, proposal_id),
            actor=user(session, LEAD),
            decision="not_eligible",
            reason="Not ours to fund.",
        )
        raise RuntimeError("something later in the request failed")
    with app.app_context():
        assert mails(app, CHAIR) == []
        assert mails(app, TREASURER) == []
    with db(write=False) as session:
        assert session.exec(select(OutgoingMail)).all() == []
        assert session.get(Proposal, proposal_id).status == "submitted"


# ---------------------------------------------------------------- residents who asked


def test_residents_who_confirmed_hear_voting_open_and_results_once_and_nobody_else(app, client, db, setup):
    round_id = setup["round"]
    assert ask(client, round_id, RESIDENT).status_code == 302
    assert subscriptions(db) == []  # nothing kept before the address's owner confirms
    [asking] = mails(app, RESIDENT, "Confirm")
    link = link_in(asking.body, "/news/confirm/")
    assert client.get(link).status_code == 200
    assert subscriptions(db) == []  # a link scanner's GET keeps nothing
    response = client.submit(link, {})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/rounds/{round_id}"
    assert client.submit(link, {}).status_code == 302  # confirming twice keeps one
    assert subscriptions(db) == [(round_id, RESIDENT)]

    assert ask(client, round_id, LURKER).status_code == 302  # asks, never confirms
    confirm(app, client, round_id, LEAVER)
    leaving = client.submit(f"/news/stop/{notices_stop_token(app, round_id, LEAVER)}", {"scope": "round"})
    assert leaving.status_code == 200

    open_voting(app, db, setup, convener=LEAD, screener=LEAD, member=CHAIR, group=PARK, per_contest=2)
    assert everyone_mailed(app, "Voting has opened:") == [RESIDENT]
    [opened] = mails(app, RESIDENT, "Voting has opened:")
    assert link_in(opened.body, "/rounds/") == f"/rounds/{round_id}/vote"
    stop = link_in(opened.body, "/news/stop/")
    with db(write=False) as session:
        closes = session.get(Round, round_id).voting_closes_at
        titles = [p.title for p in session.exec(select(Project).join(Contest).where(Contest.round_id == round_id))]
    with app.test_request_context():
        from pb.i18n import when

        assert when(closes) in opened.body
    # The group whose projects are on the ballot hears it, each member once; the other group does not.
    assert everyone_mailed(app, "Voting has opened in") == sorted([CHAIR, TREASURER])
    ballot_news = mails(app, CHAIR, "Voting has opened in")[0].body
    assert all(title in ballot_news for title in titles)

    publish(app, db, round_id, LEAD)
    assert everyone_mailed(app, "The results are out") == [RESIDENT]
    assert link_in(mails(app, RESIDENT, "The results are out")[0].body, "/rounds/") == f"/rounds/{round_id}/results"
    assert everyone_mailed(app, "are published") == sorted([CHAIR, TREASURER])
    with db(write=False) as session:
        funded = delivery.funded_project_ids(session, session.get(Round, round_id))
        projects = session.exec(select(Project).join(Contest).where(Contest.round_id == round_id)).all()
    results_news = mails(app, CHAIR, "are published")[0].body
    for project in projects:
        said = "funded" if project.id in funded else "not funded"
        assert f"- {project.title}: {said}\n" in results_news + "\n"

    # A move seen again (a race, a retry) tells nobody twice.
    before = len(app.extensions["pb_outbox"])
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        notices.phase_changed(session, round_, Phase.VOTING)
        notices.phase_changed(session, round_, Phase.RESULTS_PUBLISHED)
    assert len(app.extensions["pb_outbox"]) == before
    assert client.get(stop).status_code == 200  # the link in the message works without signing in


def notices_stop_token(app, round_id: int, email: str) -> str:
    with app.test_request_context():
        return notices.stop_token(round_id, email)


def without(page: str, address: str) -> str:
    """A page with the address and the CSRF token's value taken out."""
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "csrf", page).replace(address, "X")


def test_the_answer_is_the_same_whether_or_not_already_subscribed_and_an_inbox_is_not_flooded(app, client, db, setup):
    round_id = setup["round"]
    confirm(app, client, round_id, RESIDENT)
    known = ask(client, round_id, RESIDENT)
    known_page = client.get(known.headers["Location"]).get_data(as_text=True)
    fresh = ask(client, round_id, "new@example.org")
    fresh_page = client.get(fresh.headers["Location"]).get_data(as_text=True)
    assert (known.status_code, known.headers["Location"]) == (fresh.status_code, fresh.headers["Location"])
    # The pages differ in nothing but the address (and the form's CSRF token, which carries the second it was made).
    assert without(known_page, RESIDENT) == without(fresh_page, "new@example.org")

    # Three links an hour to one inbox, however its address is spelt; then the same answer, and no mail.
    sent = len(mails(app, RESIDENT, "Confirm"))
    assert sent == 2
    ask(client, round_id, "Resident+news@Example.org")  # the third for this inbox
    over = ask(client, round_id, RESIDENT)
    assert over.status_code == 302
    assert over.headers["Location"] == f"/rounds/{round_id}"
    assert len(mails(app, RESIDENT, "Confirm")) == sent
    assert len([m for m in app.extensions["pb_outbox"] if m.to == "resident+news@example.org"]) == 1


def test_bad_addresses_are_refused_with_a_clear_error_and_nothing_sent(app, client, db, setup):
    round_id = setup["round"]
    for bad in ["", "not an address", "a@" + "b" * 260 + ".org"]:
        response = client.submit(f"/rounds/{round_id}/news", {"email": bad}, page=f"/rounds/{round_id}/news")
        assert response.status_code == 400
        assert 'class="error-summary"' in response.get_data(as_text=True)
    assert mails(app, "") == []
    assert everyone_mailed(app, "Confirm") == []
    assert subscriptions(db) == []


def test_forged_or_expired_links_are_refused_and_change_nothing(app, client, db, setup, monkeypatch):
    round_id = setup["round"]
    confirm(app, client, round_id, RESIDENT)
    with app.test_request_context(), db(write=False) as session:
        round_ = session.get(Round, round_id)
        good_confirm = notices.confirm_token(round_, LURKER)
        good_stop = notices.stop_token(round_id, RESIDENT)
        with monkeypatch.context() as m:  # links made long ago
            import itsdangerous.timed

            m.setattr(itsdangerous.timed.time, "time", lambda: 1_000_000_000)
            old_confirm = notices.confirm_token(round_, LURKER)
            old_stop = notices.stop_token(round_id, RESIDENT)
    forged_confirm = good_confirm[:-3] + ("AAA" if not good_confirm.endswith("AAA") else "BBB")
    forged_stop = good_stop[:-3] + ("AAA" if not good_stop.endswith("AAA") else "BBB")
    csrf = client.csrf_token(f"/rounds/{round_id}")
    for token in (forged_confirm, old_confirm, good_stop, "not-a-token"):  # a stop link is no confirm link
        assert client.get(f"/news/confirm/{token}").status_code == 404
        response = client.post(f"/news/confirm/{token}", data={"csrf_token": csrf})
        assert response.status_code == 404
        assert "This link does not work" in response.get_data(as_text=True)
    for token in (forged_stop, old_stop, good_confirm, "not-a-token"):
        assert client.get(f"/news/stop/{token}").status_code == 404
        assert client.post(f"/news/stop/{token}", data={"csrf_token": csrf, "scope": "all"}).status_code == 404
    assert subscriptions(db) == [(round_id, RESIDENT)]
    # Without its CSRF token a stop is a bad form: 400, and nothing stops.
    assert client.post(f"/news/stop/{good_stop}", data={"scope": "all"}).status_code == 400
    assert subscriptions(db) == [(round_id, RESIDENT)]


def test_stopping_one_round_or_every_round_without_signing_in(app, client, db, setup):
    first = setup["round"]
    second = make_round(app, db, convener=LEAD, anchor=COUNCIL, methods=("declared",))["round"]
    for round_id in (first, second):
        confirm(app, client, round_id, RESIDENT)
    confirm(app, client, first, LURKER)
    token = notices_stop_token(app, first, RESIDENT)
    page = client.get(f"/news/stop/{token}")
    assert page.status_code == 200
    assert "Stop emails" in page.get_data(as_text=True)
    assert len(subscriptions(db)) == 3  # opening the link stops nothing by itself
    assert client.submit(f"/news/stop/{token}", {"scope": "round"}).status_code == 200
    assert subscriptions(db) == [(second, RESIDENT), (first, LURKER)]
    confirm(app, client, first, RESIDENT)
    assert client.submit(f"/news/stop/{token}", {"scope": "all"}).status_code == 200
    assert subscriptions(db) == [(first, LURKER)]


def test_the_reminder_before_voting_closes_goes_once_however_often_the_scheduler_runs(app, client, runner, db, setup):
    round_id = setup["round"]
    confirm(app, client, round_id, RESIDENT)
    ask(client, round_id, LURKER)
    open_voting(app, db, setup, convener=LEAD, screener=LEAD, member=CHAIR, group=PARK, per_contest=1)
    engine = app.extensions["pb_engine"]
    with app.app_context():
        assert notices.send_due_reminders(engine) == []  # closing in 40 days: too early
    with db() as session:
        session.exec(update(Round).where(Round.id == round_id).values(voting_closes_at=now() + timedelta(hours=47)))
    for _run in range(2):
        assert runner.invoke(main, ["rounds", "advance"]).exit_code == 0
    with app.app_context():
        lifecycle.advance_due_rounds(engine)
    assert everyone_mailed(app, "Voting closes soon") == [RESIDENT]
    [reminder] = mails(app, RESIDENT, "Voting closes soon")
    assert link_in(reminder.body, "/rounds/") == f"/rounds/{round_id}/vote"
    assert "/news/stop/" in reminder.body
    with db(write=False) as session:
        assert session.exec(
            select(NoticeSent.topic).where(NoticeSent.round_id == round_id, NoticeSent.topic == "voting_closing")
        ).all() == ["voting_closing"]


def test_a_delivered_project_is_told_once_and_archiving_forgets_the_subscribers(app, client, db, setup):
    round_id = setup["round"]
    confirm(app, client, round_id, RESIDENT)
    open_voting(app, db, setup, convener=LEAD, screener=LEAD, member=CHAIR, group=PARK, per_contest=1)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        for area, contest_id in setup["contests"].items():
            project = session.exec(select(Project).where(Project.contest_id == contest_id)).first()
            voter = Voter(round_id=round_id, area_id=setup["areas"][area], method="declared", identity=f"voter-{area}")
            session.add(voter)
            session.flush()
            voting.cast_ballot(session, voter, session.get(Contest, contest_id), {project.id: None})
    publish(app, db, round_id, LEAD)
    with db(write=False) as session:
        funded = sorted(delivery.funded_project_ids(session, session.get(Round, round_id)))
    assert funded
    done = delivery.UpdateContent(status="delivered", note="Opened on Saturday.")
    with app.test_request_context(), db() as session:
        project = session.get(Project, funded[0])
        delivery.post_update(
            session, project, actor=user(session, CHAIR), content=delivery.UpdateContent(status="in_progress")
        )
        delivery.post_update(session, project, actor=user(session, CHAIR), content=done)
        delivery.post_update(
            session, project, actor=user(session, CHAIR), content=done
        )  # a later note: not delivered again
        title = project.title
    assert everyone_mailed(app, "Delivered:") == [RESIDENT]
    [news] = mails(app, RESIDENT, "Delivered:")
    assert title in news.subject
    assert link_in(news.body, "/projects/") == f"/projects/{funded[0]}"

    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        lifecycle.move_to_next_phase(session, round_, actor=user(session, LEAD))  # delivery
        lifecycle.move_to_next_phase(session, round_, actor=user(session, LEAD))  # archived
        assert round_.phase == "archived"
    assert subscriptions(db) == []
    assert client.get(f"/rounds/{round_id}/news").status_code == 404  # nothing more to tell


def test_a_subscription_is_linked_to_no_voter_ballot_or_receipt(app, db):
    columns = {column["name"] for column in inspect(app.extensions["pb_engine"]).get_columns("notice_subscription")}
    assert columns == {"id", "round_id", "email", "locale"}  # no voter, ballot, receipt, code or time
    keys = inspect(app.extensions["pb_engine"]).get_foreign_keys("notice_subscription")
    assert [(key["constrained_columns"], key["referred_table"]) for key in keys] == [(["round_id"], "round")]


def test_a_resident_is_written_to_in_the_language_they_asked_in(app, client, db, setup):
    from babel.dates import get_month_names

    round_id = setup["round"]
    client.http.set_cookie("pb_locale", "pl", domain="localhost")
    confirm(app, client, round_id, RESIDENT)
    with db(write=False) as session:
        assert session.exec(select(Subscription.locale)).all() == ["pl"]
    open_voting(app, db, setup, convener=LEAD, screener=LEAD, member=CHAIR, group=PARK, per_contest=1)
    with db(write=False) as session:
        closes = session.get(Round, round_id).voting_closes_at
    [opened] = [m for m in app.extensions["pb_outbox"] if m.to == RESIDENT and "/news/stop/" in m.body]
    polish = get_month_names("wide", locale="pl", context="format")[closes.month]
    assert polish in opened.body


def test_a_message_really_leaves_by_smtp(app, client, db, setup):
    from tests.servers import free_port
    from tests.test_mail_outbox import SmtpServer, courier_done, use_mail_server

    round_id = setup["round"]
    confirm(app, client, round_id, RESIDENT)
    with SmtpServer(free_port()) as server:
        use_mail_server(app, server.controller.port)
        open_voting(app, db, setup, convener=LEAD, screener=LEAD, member=CHAIR, group=PARK, per_contest=1)
        with app.app_context():
            courier_done(app)
        received = [message for to, message in server.received if to == [RESIDENT]]
    assert [message["Subject"] for message in received] == ["Voting has opened: Greener Eastshire"]
    assert f"/rounds/{round_id}/vote" in received[0].get_content()


def test_the_receipt_page_offers_news_in_a_request_of_its_own(app, client, db, setup):
    from tests.factories import declare

    round_id = setup["round"]
    open_voting(app, db, setup, convener=LEAD, screener=LEAD, member=CHAIR, group=PARK, per_contest=1)
    assert declare(client, round_id, "LS6 1AA").status_code == 302
    with db(write=False) as session:
        project = session.exec(select(Project.id).where(Project.contest_id == setup["contests"]["North"])).first()
    url = f"/rounds/{round_id}/vote/{setup['contests']['North']}"
    client.submit(url, {"project": str(project)})
    cast = client.submit(url, {"project": str(project), "confirm": "1"})
    receipt = client.get(cast.headers["Location"]).get_data(as_text=True)
    assert "Your vote is in" in receipt
    assert (
        f'action="/rounds/{round_id}/news"' in receipt
    )  # the form posts elsewhere: casting and asking never share a request
    assert ask(client, round_id, RESIDENT).status_code == 302
    assert subscriptions(db) == []  # and nothing is kept until the inbox's owner confirms, later, from the mail
