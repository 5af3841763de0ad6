"""Residents' questions on proposals: asked before voting opens (signed in, or with an
emailed code, the address kept no longer than the code), answered in public by the group
that made the proposal, moderated by the convening anchor with public, audited reasons,
and closed, read-only, from the opening of voting."""

import json
import re

import pytest
from sqlmodel import select

from pb.audit.models import AuditEvent, chain_key
from pb.proposals import services as proposals
from pb.proposals.models import Proposal
from pb.questions import services as questions
from pb.questions.models import ProposalQuestion, QuestionAnswer
from pb.rounds import services as rounds
from pb.rounds.models import Round
from pb.voting.models import EmailChallenge
from tests.conftest import FormClient
from tests.factories import make_round, open_voting, organisation, user

PASSWORD = "correct horse battery"
COUNCIL, TRUST = "lead@council.example", "lead@trust.example"
MEMBER, SECOND_MEMBER, OUTSIDER = "chair@park.example", "treasurer@park.example", "chair@other.example"
NEIGHBOUR = "neighbour@example.org"  # an account with no organisation
RESIDENT = "resident@example.org"


@pytest.fixture
def asking(app, db, make_user):
    """A round taking proposals, convened by the council with the trust as partner; the
    Friends of the Park (two members) have submitted a proposal, another group exists."""
    make_user(COUNCIL, organisation="Eastshire Council", kind="anchor")
    make_user(TRUST, organisation="Eastshire NHS Trust", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    make_user(OUTSIDER, organisation="Other Group", kind="group")
    make_user(NEIGHBOUR)
    make_user(SECOND_MEMBER)
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council", methods=("codes", "email"))
    with app.test_request_context(), db() as session:
        from pb.accounts import services as accounts

        round_ = session.get(Round, ids["round"])
        rounds.invite_partner(
            session, round_, actor=user(session, COUNCIL), organisation=organisation(session, "Eastshire NHS Trust")
        )
        park, member = organisation(session, "Friends of the Park"), user(session, MEMBER)
        accounts.add_member(session, actor=member, organisation=park, user=user(session, SECOND_MEMBER))
        content = proposals.ProposalContent(
            contest_id=ids["contests"]["North"],
            title="Benches by the pond",
            summary="Six oak benches.",
            description="",
            beneficiaries="",
            category_id=None,
            postcode=None,
            cost_lines=[("Benches", 3_000_00)],
            objective_ids=[],
        )
        proposal = proposals.create_proposal(session, round_, actor=member, organisation=park, content=content)
        proposals.submit_proposal(session, proposal, actor=member)
        ids["proposal"] = proposal.id
    return ids


def signed_in(app, email):
    client = FormClient(app)
    client.sign_in(email, PASSWORD)
    return client


def ask(client, proposal_id, text, **extra):
    return client.submit(f"/proposals/{proposal_id}/ask", {"text": text, **extra})


def all_questions(db, proposal_id) -> list[ProposalQuestion]:
    with db(write=False) as session:
        return list(
            session.exec(
                select(ProposalQuestion)
                .where(ProposalQuestion.proposal_id == proposal_id)
                .order_by(ProposalQuestion.id)
            )
        )


def all_answers(db) -> list[QuestionAnswer]:
    with db(write=False) as session:
        return list(session.exec(select(QuestionAnswer).order_by(QuestionAnswer.id)))


def mails_to(app, address):
    return [m for m in app.extensions["pb_outbox"] if m.to == address]


def page(client, proposal_id) -> str:
    return client.get(f"/proposals/{proposal_id}").get_data(as_text=True)


def code_in(mail) -> str:
    return re.search(r"\b(\d{6})\b", mail.body).group(1)


# ---------------------------------------------------------------- asking


def test_someone_signed_in_asks_and_the_groups_members_are_told(app, db, asking, client):
    pid = asking["proposal"]
    assert "No questions yet." in page(client, pid)
    neighbour = signed_in(app, NEIGHBOUR)
    asked = ask(neighbour, pid, "Will the benches have arm rests?", display_name="Pat from Elm Road")
    assert asked.status_code == 302
    [question] = all_questions(db, pid)
    assert asked.headers["Location"].endswith(f"/proposals/{pid}#question-{question.id}")
    assert question.confirmed_at is not None
    assert question.display_name == "Pat from Elm Road"
    shown = page(client, pid)  # anyone, without an account
    assert "Will the benches have arm rests?" in shown
    assert "Question from Pat from Elm Road" in shown
    assert f'<article class="question" id="question-{question.id}"' in shown
    for member in (MEMBER, SECOND_MEMBER):
        [told] = mails_to(app, member)
        assert "Benches by the pond" in told.subject
        assert "Will the benches have arm rests?" in told.body
        assert f"http://localhost/proposals/{pid}#questions" in told.body
    assert mails_to(app, NEIGHBOUR) == []
    # Without a name, the asker is "A resident"; questions are listed in the order asked.
    assert ask(neighbour, pid, "Where will they go?").status_code == 302
    shown = page(client, pid)
    assert "Question from A resident" in shown
    assert shown.index("arm rests") < shown.index("Where will they go?")


def test_a_resident_asks_with_an_emailed_code_and_the_address_is_not_kept(app, db, asking):
    pid = asking["proposal"]
    resident = FormClient(app)
    form = resident.get(f"/proposals/{pid}/ask").get_data(as_text=True)
    assert 'name="email"' in form  # no account: an address to send the code to
    asked = ask(resident, pid, "Is the pond fenced?", email=RESIDENT.upper(), display_name="")
    assert asked.status_code == 302
    assert asked.headers["Location"].endswith(f"/proposals/{pid}/ask/code")
    [mail] = mails_to(app, RESIDENT)
    code = code_in(mail)
    # Waiting for the code: not public, and the group is not told yet.
    assert "Is the pond fenced?" not in page(FormClient(app), pid)
    assert mails_to(app, MEMBER) == []
    [waiting] = all_questions(db, pid)
    assert waiting.confirmed_at is None
    wrong = resident.submit(f"/proposals/{pid}/ask/code", {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "That code is not right. You have 4 tries left." in wrong.get_data(as_text=True)
    confirmed = resident.submit(f"/proposals/{pid}/ask/code", {"code": code})
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].endswith(f"#question-{waiting.id}")
    shown = page(FormClient(app), pid)
    assert "Is the pond fenced?" in shown
    assert "Question from A resident" in shown
    [told] = mails_to(app, MEMBER)
    assert "Is the pond fenced?" in told.body
    with db(write=False) as session:
        assert session.exec(select(EmailChallenge)).all() == []  # confirmed: the address is deleted
    [question] = all_questions(db, pid)
    assert RESIDENT not in repr(question.model_dump()).lower()
    # Nor its keyed hash: the hourly limit counts in the rate-limit table (gone after an
    # hour); kept here, it would let whoever holds the secret key test any address against
    # the question for ever.
    with app.test_request_context():
        kept = questions.asker_key(RESIDENT)
    assert question.asker == ""
    assert kept not in repr(question.model_dump())
    assert question.asked_by_user_id is None
    # The code works once.
    again = resident.submit(f"/proposals/{pid}/ask/code", {"code": code})
    assert again.status_code == 400
    assert len(all_questions(db, pid)) == 1


def test_wrong_codes_are_limited_and_the_question_never_appears(app, db, asking):
    pid = asking["proposal"]
    resident = FormClient(app)
    assert ask(resident, pid, "A question never confirmed", email=RESIDENT).status_code == 302
    code = code_in(mails_to(app, RESIDENT)[-1])
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        refused = resident.submit(f"/proposals/{pid}/ask/code", {"code": wrong})
        assert refused.status_code == 400
        assert f"You have {left} tr" in refused.get_data(as_text=True)
    # Five wrong guesses: the right code no longer works either.
    too_many = resident.submit(f"/proposals/{pid}/ask/code", {"code": code})
    assert too_many.status_code == 400
    assert "Too many wrong codes. Ask for a new one." in too_many.get_data(as_text=True)
    assert "A question never confirmed" not in page(FormClient(app), pid)
    assert [q.confirmed_at for q in all_questions(db, pid)] == [None]
    assert mails_to(app, MEMBER) == []


def test_questions_never_confirmed_are_forgotten_with_their_address_after_ten_minutes(app, db, asking):
    from datetime import timedelta

    from sqlalchemy import update

    from pb.clock import now

    pid = asking["proposal"]
    assert ask(FormClient(app), pid, "Forgotten question", email="forgetful@example.org").status_code == 302
    assert ask(FormClient(app), pid, "Recent question", email="recent@example.org").status_code == 302
    with db() as session:
        [old] = session.exec(select(EmailChallenge).where(EmailChallenge.email == "forgetful@example.org")).all()
        session.exec(
            update(EmailChallenge).where(EmailChallenge.id == old.id).values(created_at=now() - timedelta(minutes=11))
        )
        session.exec(
            update(ProposalQuestion)
            .where(ProposalQuestion.text == "Forgotten question")
            .values(asked_at=now() - timedelta(minutes=11))
        )
    assert ask(FormClient(app), pid, "Another question", email="another@example.org").status_code == 302
    assert [q.text for q in all_questions(db, pid)] == ["Recent question", "Another question"]
    with db(write=False) as session:
        assert sorted(c.email for c in session.exec(select(EmailChallenge))) == [
            "another@example.org",
            "recent@example.org",
        ]


def test_codes_sent_to_one_inbox_are_limited(app, db, asking):
    pid = asking["proposal"]
    # Three codes a quarter hour to one inbox, however its address is spelt.
    for n, address in enumerate(["sam@example.org", "Sam+pb@example.org", "SAM@example.org"]):
        assert ask(FormClient(app), pid, f"Question {n}", email=address).status_code == 302
    before = all_questions(db, pid)
    refused = ask(FormClient(app), pid, "One too many", email="sam+again@example.org")
    assert refused.status_code == 400
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert all_questions(db, pid) == before  # nothing written
    assert len([m for m in app.extensions["pb_outbox"] if m.to.startswith("sam")]) == 3


def test_a_signed_in_asker_is_limited_per_hour(app, db, asking):
    pid = asking["proposal"]
    neighbour = signed_in(app, NEIGHBOUR)
    for n in range(questions.QUESTIONS_PER_HOUR):
        assert ask(neighbour, pid, f"Question number {n}").status_code == 302
    refused = ask(neighbour, pid, "One more")
    assert refused.status_code == 400
    assert "You have asked many questions in the last hour." in refused.get_data(as_text=True)
    assert len(all_questions(db, pid)) == questions.QUESTIONS_PER_HOUR


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "Write your question."),
        ("   \n ", "Write your question."),
        ("x" * 1001, "Keep your question to 1000 characters."),
    ],
)
def test_a_bad_question_gets_a_clear_message_and_nothing_is_written(app, db, asking, text, message):
    pid = asking["proposal"]
    mails = len(app.extensions["pb_outbox"])
    for client, extra in ((signed_in(app, NEIGHBOUR), {}), (FormClient(app), {"email": RESIDENT})):
        refused = ask(client, pid, text, **extra)
        assert refused.status_code == 400
        body = refused.get_data(as_text=True)
        assert message in body
        assert 'class="error-summary"' in body
    refused = ask(signed_in(app, NEIGHBOUR), pid, "Fine question", display_name="n" * 61)
    assert refused.status_code == 400
    assert "Keep the name to 60 characters." in refused.get_data(as_text=True)
    refused = ask(FormClient(app), pid, "Fine question", email="not an address")
    assert refused.status_code == 400
    assert "Enter an email address like name@example.org." in refused.get_data(as_text=True)
    assert all_questions(db, pid) == []
    assert len(app.extensions["pb_outbox"]) == mails


def test_the_service_refuses_what_the_form_would_let_through(app, db, asking):
    with app.test_request_context(), db() as session:
        proposal = session.get(Proposal, asking["proposal"])
        with pytest.raises(questions.QuestionError, match="Keep your question to 1000"):
            questions.ask(session, proposal, user=user(session, NEIGHBOUR), text="y" * 1001)
        with pytest.raises(questions.QuestionError, match="Write your question"):
            questions.ask(session, proposal, user=user(session, NEIGHBOUR), text=" \t ")


def test_a_flood_of_questions_does_not_flood_the_groups_inboxes(app, db, asking):
    """Each asker is limited, but many askers together are not: the group's members are
    emailed at most NOTICES_PER_HOUR questions on one proposal an hour (each carrying
    text a stranger chose, in pb's name); the rest wait on the page and the group's home."""
    pid = asking["proposal"]
    many = questions.NOTICES_PER_HOUR + 3
    with app.test_request_context(), db() as session:
        proposal = session.get(Proposal, pid)
        for n in range(many):
            asker = user(session, NEIGHBOUR if n % 2 else OUTSIDER)
            questions.ask(session, proposal, user=asker, text=f"Spam number {n}?")
    assert len(all_questions(db, pid)) == many
    for member in (MEMBER, SECOND_MEMBER):
        assert len(mails_to(app, member)) == questions.NOTICES_PER_HOUR
    home = signed_in(app, MEMBER).get("/group").get_data(as_text=True)
    assert f"{many} questions waiting for your answer" in home


def test_markup_in_a_question_is_shown_as_text(app, db, asking, client):
    pid = asking["proposal"]
    neighbour = signed_in(app, NEIGHBOUR)
    assert ask(neighbour, pid, "<script>alert(1)</script>", display_name="<b>Bold</b>").status_code == 302
    shown = page(client, pid)
    assert "<script>alert(1)</script>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "<b>Bold</b>" not in shown
    assert "&lt;b&gt;Bold&lt;/b&gt;" in shown


def test_paragraphs_typed_in_a_browser_stay_paragraphs(app, db, asking, client):
    """A browser sends a text area's line breaks as CR LF: they are kept as one line break,
    so a blank line between paragraphs shows two paragraphs (it showed one)."""
    pid = asking["proposal"]
    neighbour = signed_in(app, NEIGHBOUR)
    assert ask(neighbour, pid, "Will it be step-free?\r\n\r\nAnd lit at night?").status_code == 302
    assert [q.text for q in all_questions(db, pid)] == ["Will it be step-free?\n\nAnd lit at night?"]
    shown = page(client, pid)
    assert "<p>Will it be step-free?</p><p>And lit at night?</p>" in shown


def test_a_name_cannot_carry_direction_overrides_or_control_characters(app, db, asking, client):
    """A name sits inside a sentence ("… asked a question about your proposal", in the
    group's email; "Question from …" on the page): an unclosed right-to-left override in it
    would reverse the rest of that line, and a control character has no place in a name."""
    pid = asking["proposal"]
    neighbour = signed_in(app, NEIGHBOUR)
    tricky = "\u202eliocnuoC\u2066 Pat\x07\x1b[31m \u200fعلي\u200c"
    assert ask(neighbour, pid, "Who mows the grass?", display_name=tricky).status_code == 302
    [question] = all_questions(db, pid)
    # Direction marks (U+200E/U+200F) and joiners, which scripts need, stay.
    assert question.display_name == "liocnuoC Pat [31m \u200fعلي\u200c"
    [told] = mails_to(app, MEMBER)
    for character in ("\u202e", "\u2066", "\x07", "\x1b"):
        assert character not in told.body
        assert character not in page(client, pid)


def test_a_code_for_one_purpose_never_serves_another(app, db, asking):
    """A code sent to vote does not confirm a question, and a code sent to confirm a
    question does not prove an address to vote: each challenge is for its own purpose."""
    from pb.voting import services as voting

    pid = asking["proposal"]
    with app.test_request_context(), db() as session:
        proposal = session.get(Proposal, pid)
        round_ = session.get(Round, asking["round"])
        question, asked, asked_code = questions.start_asking_by_email(
            session, proposal, email=RESIDENT, text="Mixed up?", name="", client="10.0.0.1"
        )
        to_vote, vote_code = voting.new_email_challenge(session, round_, email=RESIDENT, client="10.0.0.1")
        ids = question.id, asked.id, to_vote.id
    with app.test_request_context(), db() as session:
        proposal = session.get(Proposal, pid)
        round_ = session.get(Round, asking["round"])
        with pytest.raises(voting.VotingError, match="Start again"):
            questions.confirm_by_email(session, proposal, ids[0], ids[2], vote_code, client="10.0.0.1")
        with pytest.raises(voting.VotingError, match="Start again"):
            voting.check_email_code(session, round_, ids[1], asked_code, client="10.0.0.1")
    assert [q.confirmed_at for q in all_questions(db, pid)] == [None]
    with db(write=False) as session:
        assert [c.used_at for c in session.exec(select(EmailChallenge).order_by(EmailChallenge.id))] == [None, None]


def test_a_reason_with_markup_is_shown_as_text_on_the_page_and_in_the_audit_log(app, db, asking, client):
    pid = asking["proposal"]
    qid = question_on(app, db, pid)
    lead = signed_in(app, COUNCIL)
    assert moderate(lead, qid, "hide", "question", '<script>alert("x")</script>').status_code == 302
    for shown in (page(client, pid), client.get(f"/rounds/{asking['round']}/audit").get_data(as_text=True)):
        assert '<script>alert("x")</script>' not in shown
        assert "&lt;script&gt;alert(" in shown


def test_questions_are_not_taken_on_drafts_or_screened_out_proposals(app, db, asking):
    pid = asking["proposal"]
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, asking["round"])
        member = user(session, MEMBER)
        draft = proposals.create_proposal(
            session,
            round_,
            actor=member,
            organisation=organisation(session, "Friends of the Park"),
            content=proposals.ProposalContent(
                contest_id=asking["contests"]["North"],
                title="Half an idea",
                summary="Not ready.",
                description="",
                beneficiaries="",
                category_id=None,
                postcode=None,
                cost_lines=[("Things", 1_000_00)],
                objective_ids=[],
            ),
        )
        draft_id = draft.id
    assert FormClient(app).get(f"/proposals/{draft_id}/ask").status_code == 404  # a draft is the group's own
    assert FormClient(app).get("/proposals/999999/ask").status_code == 404
    assert FormClient(app).get("/questions/999999/answer").status_code in (302, 404)
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session,
            session.get(Proposal, pid),
            actor=user(session, COUNCIL),
            decision="not_eligible",
            reason="Outside the round's areas.",
        )
    refused = ask(signed_in(app, NEIGHBOUR), pid, "Why not?")
    assert refused.status_code == 409
    assert "This proposal is not taking questions." in refused.get_data(as_text=True)
    assert "Ask a question" not in page(FormClient(app), pid).split('id="questions"')[1]
    assert all_questions(db, pid) == []


# ---------------------------------------------------------------- answering


def question_on(app, db, proposal_id, text="Will it be accessible?") -> int:
    with app.test_request_context(), db() as session:
        proposal = session.get(Proposal, proposal_id)
        return questions.ask(session, proposal, user=user(session, NEIGHBOUR), text=text).id


def answer(client, question_id, text):
    return client.submit(f"/questions/{question_id}/answer", {"text": text})


def test_the_group_answers_in_public_once_and_may_change_its_answer(app, db, asking, client):
    pid = asking["proposal"]
    qid = question_on(app, db, pid)
    member = signed_in(app, MEMBER)
    assert "1 question waiting for your answer" in member.get("/group").get_data(as_text=True)
    assert f"/questions/{qid}/answer" in page(member, pid)  # the group is offered the form
    assert f"/questions/{qid}/answer" not in page(client, pid)  # nobody else is
    given = answer(member, qid, "Yes: step-free paths to every bench.")
    assert given.status_code == 302
    assert given.headers["Location"].endswith(f"#question-{qid}")
    assert "waiting for your answer" not in member.get("/group").get_data(as_text=True)
    shown = page(client, pid)
    assert "Answer from Friends of the Park" in shown
    assert "Yes: step-free paths to every bench." in shown
    # Another member changes it: still one answer, now theirs.
    assert answer(signed_in(app, SECOND_MEMBER), qid, "Yes, and two benches have arm rests.").status_code == 302
    [only] = all_answers(db)
    assert only.text == "Yes, and two benches have arm rests."
    with db(write=False) as session:
        assert only.answered_by_user_id == user(session, SECOND_MEMBER).id
    shown = page(client, pid)
    assert "step-free paths" not in shown
    assert "two benches have arm rests" in shown
    refused = answer(member, qid, "z" * 2001)
    assert refused.status_code == 400
    assert "Keep your answer to 2000 characters." in refused.get_data(as_text=True)
    assert [a.text for a in all_answers(db)] == ["Yes, and two benches have arm rests."]


def test_nobody_but_the_proposing_group_answers(app, db, asking):
    pid = asking["proposal"]
    qid = question_on(app, db, pid)
    anonymous = FormClient(app)
    assert anonymous.get(f"/questions/{qid}/answer").status_code == 302  # to sign in
    for email in (OUTSIDER, NEIGHBOUR, COUNCIL, TRUST):
        someone = signed_in(app, email)
        assert someone.get(f"/questions/{qid}/answer").status_code == 403, email
        posted = someone.post(
            f"/questions/{qid}/answer", data={"text": "I answer", "csrf_token": someone.csrf_token("/")}
        )
        assert posted.status_code == 403, email
    with app.test_request_context(), db() as session:
        question = session.get(ProposalQuestion, qid)
        with pytest.raises(questions.QuestionError, match="Only the group"):
            questions.answer(session, question, actor=user(session, OUTSIDER), text="I answer")
    assert all_answers(db) == []


# ---------------------------------------------------------------- moderation


def moderate(client, qid, action, part, reason):
    url = f"/questions/{qid}/{action}/{part}"
    return client.submit(url, {"reason": reason})


def events(db, action) -> list[AuditEvent]:
    with db(write=False) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_the_convening_anchor_removes_a_question_with_a_public_audited_reason(app, db, asking, client):
    pid = asking["proposal"]
    qid = question_on(app, db, pid, "The chair of this group is (something abusive).")
    answer(signed_in(app, MEMBER), qid, "We would rather not reply to that.")
    # Nobody but the convening anchor's leads: not the partner anchor, the group, or anyone else.
    for email in (TRUST, MEMBER, OUTSIDER, NEIGHBOUR):
        someone = signed_in(app, email)
        assert someone.get(f"/questions/{qid}/hide/question").status_code == 403, email
        posted = someone.post(
            f"/questions/{qid}/hide/question", data={"reason": "No.", "csrf_token": someone.csrf_token("/")}
        )
        assert posted.status_code == 403, email
    assert "/hide/question" not in page(signed_in(app, TRUST), pid)
    lead = signed_in(app, COUNCIL)
    assert f"/questions/{qid}/hide/question" in page(lead, pid)
    refused = moderate(lead, qid, "hide", "question", " ")
    assert refused.status_code == 400
    assert "Say why: the reason is public." in refused.get_data(as_text=True)
    assert all_questions(db, pid)[0].hidden_at is None
    assert events(db, "question.hidden") == []
    assert moderate(lead, qid, "hide", "question", "Abuse of a named volunteer.").status_code == 302
    shown = page(client, pid)
    assert "(something abusive)" not in shown
    assert "We would rather not reply" not in shown  # the answer goes with its question
    assert "Removed by the organisers: Abuse of a named volunteer." in shown
    [event] = events(db, "question.hidden")
    assert event.chain == chain_key(asking["round"])
    assert json.loads(event.data) == {"proposal": pid, "question": qid, "reason": "Abuse of a named volunteer."}
    with db(write=False) as session:
        assert event.actor_user_id == user(session, COUNCIL).id
    assert "Abuse of a named volunteer." in client.get(f"/rounds/{asking['round']}/audit").get_data(as_text=True)
    # Hidden twice is refused; the group cannot answer a removed question.
    assert moderate(lead, qid, "hide", "question", "Again.").status_code == 400
    assert answer(signed_in(app, MEMBER), qid, "Changed").status_code == 400
    # Shown again, with a reason, also in the log.
    assert moderate(lead, qid, "show", "question", "The volunteer asked for it back.").status_code == 302
    assert "(something abusive)" in page(client, pid)
    [shown_event] = events(db, "question.shown")
    assert json.loads(shown_event.data)["reason"] == "The volunteer asked for it back."


def test_an_answer_is_removed_and_shown_again_on_its_own(app, db, asking, client):
    pid = asking["proposal"]
    qid = question_on(app, db, pid, "How much is each bench?")
    lead = signed_in(app, COUNCIL)
    assert lead.get(f"/questions/{qid}/hide/answer").status_code == 404  # no answer yet
    answer(signed_in(app, MEMBER), qid, "About £500, and the people who objected are (something abusive).")
    assert moderate(lead, qid, "hide", "answer", "Insults residents.").status_code == 302
    shown = page(client, pid)
    assert "How much is each bench?" in shown  # the question stays
    assert "(something abusive)" not in shown
    assert "Removed by the organisers: Insults residents." in shown
    [event] = events(db, "question.answer_hidden")
    assert json.loads(event.data)["reason"] == "Insults residents."
    # A new answer is judged afresh.
    answer(signed_in(app, MEMBER), qid, "About £500 each.")
    assert "About £500 each." in page(client, pid)
    assert moderate(lead, qid, "show", "answer", "Nothing to show").status_code == 400  # it is not removed


def test_a_removed_question_takes_the_name_it_was_asked_under_with_it(app, db, asking, client):
    """The name to show is the asker's own words too: abuse can be put there as well as in the text."""
    pid = asking["proposal"]
    neighbour = signed_in(app, NEIGHBOUR)
    assert ask(neighbour, pid, "Why?", display_name="The chair is (something abusive)").status_code == 302
    [question] = all_questions(db, pid)
    assert "The chair is (something abusive)" in page(client, pid)
    lead = signed_in(app, COUNCIL)
    assert moderate(lead, question.id, "hide", "question", "Abuse of a named volunteer.").status_code == 302
    shown = page(client, pid)
    assert "(something abusive)" not in shown
    assert "Question from A resident" in shown
    assert "Removed by the organisers: Abuse of a named volunteer." in shown
    # The group's answer page (opened from a link followed before the removal) no longer shows the name either.
    removed = signed_in(app, MEMBER).get(f"/questions/{question.id}/answer").get_data(as_text=True)
    assert "(something abusive)" not in removed
    assert "Question from A resident" in removed
    # Shown again, it is under its name again.
    assert moderate(lead, question.id, "show", "question", "Agreed with the volunteer.").status_code == 302
    assert "Question from The chair is (something abusive)" in page(client, pid)


# ---------------------------------------------------------------- voting opens


def test_questions_and_answers_close_when_voting_opens_and_stay_readable(app, db, asking, client):
    pid = asking["proposal"]
    qid = question_on(app, db, pid, "When would they be installed?")
    member = signed_in(app, MEMBER)
    answer(member, qid, "In the spring.")
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session, session.get(Proposal, pid), actor=user(session, COUNCIL), decision="eligible", reason=""
        )
    neighbour, resident = signed_in(app, NEIGHBOUR), FormClient(app)
    # Forms loaded before voting opens, sent after.
    neighbour_token = neighbour.csrf_token(f"/proposals/{pid}/ask")
    resident_token = resident.csrf_token(f"/proposals/{pid}/ask")
    member_token = member.csrf_token(f"/questions/{qid}/answer")
    open_voting(
        app, db, asking, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park", per_contest=1
    )
    before_questions, before_answers = all_questions(db, pid), all_answers(db)
    mails = len(app.extensions["pb_outbox"])
    closed = neighbour.post(f"/proposals/{pid}/ask", data={"text": "Too late?", "csrf_token": neighbour_token})
    assert closed.status_code == 409
    assert "Questions are closed: voting has opened." in closed.get_data(as_text=True)
    closed = resident.post(
        f"/proposals/{pid}/ask", data={"text": "Too late?", "email": RESIDENT, "csrf_token": resident_token}
    )
    assert closed.status_code == 409
    assert resident.get(f"/proposals/{pid}/ask/code").status_code == 409
    closed = member.post(f"/questions/{qid}/answer", data={"text": "In the summer.", "csrf_token": member_token})
    assert closed.status_code == 409
    assert "Answers are closed: voting has opened." in closed.get_data(as_text=True)
    assert all_questions(db, pid) == before_questions
    assert all_answers(db) == before_answers
    assert len(app.extensions["pb_outbox"]) == mails
    with app.test_request_context(), db() as session:
        with pytest.raises(questions.QuestionsClosed):
            questions.ask(session, session.get(Proposal, pid), user=user(session, NEIGHBOUR), text="Now?")
        with pytest.raises(questions.QuestionsClosed):
            questions.answer(
                session, session.get(ProposalQuestion, qid), actor=user(session, MEMBER), text="In the summer."
            )
    shown = page(client, pid)
    assert "When would they be installed?" in shown
    assert "In the spring." in shown
    assert "Questions closed when voting opened." in shown
    assert f"/proposals/{pid}/ask" not in shown
    assert f"/questions/{qid}/answer" not in page(member, pid)
    # Abusive text can still be removed.
    lead = signed_in(app, COUNCIL)
    assert moderate(lead, qid, "hide", "answer", "Removed after a complaint.").status_code == 302
    assert "Removed by the organisers: Removed after a complaint." in page(client, pid)


def test_a_question_still_waiting_for_its_code_is_forgotten_when_voting_opens(app, db, asking):
    pid = asking["proposal"]
    resident = FormClient(app)
    assert ask(resident, pid, "Last-minute question", email=RESIDENT).status_code == 302
    code = code_in(mails_to(app, RESIDENT)[-1])
    token = resident.csrf_token(f"/proposals/{pid}/ask/code")
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session, session.get(Proposal, pid), actor=user(session, COUNCIL), decision="eligible", reason=""
        )
    open_voting(
        app, db, asking, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park", per_contest=1
    )
    # Voting opened: the question can never be confirmed, so it and its address are gone.
    assert all_questions(db, pid) == []
    with db(write=False) as session:
        assert session.exec(select(EmailChallenge).where(EmailChallenge.purpose == "question")).all() == []
    late = resident.post(f"/proposals/{pid}/ask/code", data={"code": code, "csrf_token": token})
    assert late.status_code == 409
    assert all_questions(db, pid) == []
    assert "Last-minute question" not in page(FormClient(app), pid)


def test_the_demo_shows_questions_and_an_answer_on_a_proposal(app, client):
    from pb.demo import load_demo

    with app.app_context():
        load_demo()
    with app.test_request_context(), app.extensions["pb_engine"].connect() as connection:
        from sqlalchemy import text

        [(pid,)] = connection.execute(
            text("SELECT DISTINCT proposal_id FROM proposal_question WHERE confirmed_at IS NOT NULL")
        ).all()
    shown = page(client, pid)
    assert "Question from Maya, Riverside" in shown
    assert "Question from A resident" in shown
    assert "the club meets every Saturday" in shown
    assert "The group has not answered yet." in shown
