"""Residents' questions on proposals, the groups' answers, and their moderation.

Questions are asked while a round's proposals are public and before voting opens (the
phases "proposals open" and "screening"), on proposals that may still reach the ballot;
from the opening of voting nobody asks or answers, and what was said stays on the page,
read-only. Anyone signed in asks at once; a resident without an account proves an email
address with a one-time code (pb.voting's EmailChallenge, purpose "question"): the
question waits, unseen, until the code is entered, and the challenge, address and all,
is then deleted, with the keyed hash of its inbox that tied the code to the question. The
limit on questions per asker counts in pb.throttle, under a keyed hash kept for an hour.

The leads of the convening anchor hide a question or an answer with a reason shown in
its place and written to the round's audit log, and may show it again; that stays
possible after voting opens, so abusive text can always be removed.
"""

import hashlib
import hmac
import unicodedata
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pb.accounts.models import Organisation, User
from pb.accounts.services import is_member_of
from pb.clock import now
from pb.db import savepoint
from pb.notices import services as notices
from pb.proposals.models import Proposal, Status
from pb.questions.models import ProposalQuestion, QuestionAnswer
from pb.rounds.models import Phase, Round
from pb.rounds.services import audit_round
from pb.throttle import mailbox, note_attempt, reached
from pb.voting.models import EmailChallenge
from pb.voting.services import EMAIL_CODE_MINUTES, check_email_code, new_email_challenge

PURPOSE = "question"  # EmailChallenge.purpose of a code that confirms a question
MAX_QUESTION = 1000
MAX_ANSWER = 2000
MAX_NAME = 60
MAX_REASON = 300
QUESTIONS_PER_HOUR = 10  # from one asker (an account, or an inbox)
NOTICES_PER_HOUR = 10  # questions on one proposal emailed to its group; the rest wait on the page

# Phases in which a round's proposals are public and questions are taken.
ASKING_PHASES = (Phase.PROPOSALS_OPEN.value, Phase.SCREENING.value)
# Proposals that may still reach the ballot; a proposal screened out keeps its questions, read-only.
ASKABLE_STATUSES = (Status.SUBMITTED.value, Status.RETURNED.value, Status.ELIGIBLE.value)


class QuestionError(ValueError):
    """Something the rules for questions do not allow; nothing was saved."""

    status = 400


class QuestionsClosed(QuestionError):
    status = 409


def round_of(session: Session, proposal: Proposal) -> Round:
    return session.get_one(Round, proposal.round_id)


def asking_open(round_: Round, proposal: Proposal) -> bool:
    """Whether residents may ask about this proposal now."""
    return round_.phase in ASKING_PHASES and proposal.status in ASKABLE_STATUSES


def answering_open(round_: Round) -> bool:
    """Whether groups may answer (and change their answers) now: until voting opens."""
    return round_.phase in ASKING_PHASES


def why_asking_is_closed(round_: Round, proposal: Proposal) -> str | None:
    """Why residents may not ask about this proposal now, or None if they may."""
    if asking_open(round_, proposal):
        return None
    if round_.is_frozen:
        return _("Questions are closed: voting has opened. The questions asked and their answers stay on this page.")
    return _("This proposal is not taking questions.")


def _check_asking(round_: Round, proposal: Proposal) -> None:
    closed = why_asking_is_closed(round_, proposal)
    if closed is not None:
        raise QuestionsClosed(closed)


ANSWERS_CLOSED = _l("Answers are closed: voting has opened. Your answers stay on the proposal's page as they are.")


def _check_answering(round_: Round) -> None:
    if not answering_open(round_):
        raise QuestionsClosed(str(ANSWERS_CLOSED))


def _clean_text(text: str, *, limit: int, empty: str, long: str) -> str:
    text = (text or "").strip()
    if not text:
        raise QuestionError(empty)
    if len(text) > limit:
        raise QuestionError(long)
    return text


DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _question_content(text: str, name: str) -> tuple[str, str]:
    text = _clean_text(
        text,
        limit=MAX_QUESTION,
        empty=_("Write your question."),
        long=_("Keep your question to %(n)d characters.", n=MAX_QUESTION),
    )
    # One line, in a sentence: no control characters, and no direction embedding, override
    # or isolate, which would run on over the rest of the sentence (marks and joiners stay).
    name = "".join(" " if unicodedata.category(c) == "Cc" else c for c in name or "" if c not in DIRECTION_CONTROLS)
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise QuestionError(_("Keep the name to %(n)d characters.", n=MAX_NAME))
    return text, name


def asker_key(email: str) -> str:
    """Who asked, by email, as kept: a keyed hash of the inbox the address reaches."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"question-asker:{mailbox(email)}".encode(), hashlib.sha256).hexdigest()


def _count_question(session: Session, asker: str) -> None:
    """At most QUESTIONS_PER_HOUR questions an hour from one asker (a burst waits its turn)."""
    key = f"question:asker:{asker}"
    if reached(session, key, limit=QUESTIONS_PER_HOUR, window_seconds=3600):
        raise QuestionError(_("You have asked many questions in the last hour. Please wait a while and ask again."))
    note_attempt(session, key)


def _tell_group(session: Session, proposal: Proposal, question: ProposalQuestion) -> None:
    """Email the group a question, unless NOTICES_PER_HOUR on this proposal already went
    this hour: many askers together must not flood its inboxes with text they chose. The
    rest are on the proposal's page and counted on the group's home."""
    key = f"question:notice:{proposal.id}"
    if reached(session, key, limit=NOTICES_PER_HOUR, window_seconds=3600):
        return
    note_attempt(session, key)
    notices.question_asked(session, proposal, text=question.text, asked_by=question.display_name)


# ---------------------------------------------------------------- asking


def ask(session: Session, proposal: Proposal, *, user: User, text: str, name: str = "") -> ProposalQuestion:
    """A question from someone signed in: public at once, and the group is told."""
    _check_asking(round_of(session, proposal), proposal)
    text, name = _question_content(text, name)
    _count_question(session, f"user:{user.id}")
    question = ProposalQuestion(
        proposal_id=proposal.id, text=text, display_name=name, asked_by_user_id=user.id, confirmed_at=now()
    )
    session.add(question)
    session.flush()
    _tell_group(session, proposal, question)
    return question


def forget_unconfirmed(session: Session, round_: Round, *, before: datetime | None = None) -> None:
    """Delete the round's questions never confirmed, and the addresses given for them
    (those asked before `before`, or all: when voting opens, none can be confirmed)."""
    challenges = delete(EmailChallenge).where(
        col(EmailChallenge.round_id) == round_.id, col(EmailChallenge.purpose) == PURPOSE
    )
    waiting = delete(ProposalQuestion).where(
        col(ProposalQuestion.confirmed_at).is_(None),
        col(ProposalQuestion.proposal_id).in_(select(Proposal.id).where(Proposal.round_id == round_.id)),
    )
    if before is not None:
        challenges = challenges.where(col(EmailChallenge.created_at) < before)
        waiting = waiting.where(col(ProposalQuestion.asked_at) < before)
    session.exec(challenges)
    session.exec(waiting)


def start_asking_by_email(
    session: Session, proposal: Proposal, *, email: str, text: str, name: str, client: str
) -> tuple[ProposalQuestion, EmailChallenge, str]:
    """A resident's question, waiting for the code sent to their address (which the
    limits on sending codes count). Returns the question, the challenge and the code."""
    round_ = round_of(session, proposal)
    _check_asking(round_, proposal)
    text, name = _question_content(text, name)
    asker = asker_key(email)
    # Attempts never confirmed are not kept beyond the life of their code.
    forget_unconfirmed(session, round_, before=now() - timedelta(minutes=EMAIL_CODE_MINUTES))
    _count_question(session, asker)
    challenge, code = new_email_challenge(session, round_, email=email, client=client, purpose=PURPOSE)
    question = ProposalQuestion(proposal_id=proposal.id, text=text, display_name=name, asker=asker)
    session.add(question)
    session.flush()
    return question, challenge, code


def confirm_by_email(
    session: Session, proposal: Proposal, question_id: int | None, challenge_id: int | None, code: str, *, client: str
) -> ProposalQuestion:
    """The emailed code entered: the question is public, the group is told, and the
    address is deleted. Raises QuestionError, or VotingError (WrongAnswer for a wrong guess)."""
    round_ = round_of(session, proposal)
    _check_asking(round_, proposal)
    question = session.get(ProposalQuestion, question_id) if question_id else None
    if question is None or question.proposal_id != proposal.id or question.confirmed_at is not None:
        raise QuestionError(_("Start again: ask your question again."))
    challenge = check_email_code(session, round_, challenge_id, code, client=client, purpose=PURPOSE)
    if not hmac.compare_digest(asker_key(challenge.email), question.asker):
        raise QuestionError(_("Start again: ask your question again."))
    question.confirmed_at = now()
    # Proved: neither the address nor its keyed hash is kept (the hourly limit counts in
    # pb.throttle, for an hour; a hash kept here would let whoever holds the secret key
    # test any address against the question for ever).
    question.asker = ""
    session.add(question)
    session.delete(challenge)
    session.flush()
    _tell_group(session, proposal, question)
    return question


# ---------------------------------------------------------------- answering


def answer_of(session: Session, question: ProposalQuestion) -> QuestionAnswer | None:
    return session.exec(select(QuestionAnswer).where(QuestionAnswer.question_id == question.id)).first()


def answer(session: Session, question: ProposalQuestion, *, actor: User, text: str) -> QuestionAnswer:
    """The group's answer, given or changed (one per question), until voting opens."""
    proposal = session.get_one(Proposal, question.proposal_id)
    _check_answering(round_of(session, proposal))
    if not is_member_of(session, actor, session.get_one(Organisation, proposal.organisation_id)):
        raise QuestionError(_("Only the group that made the proposal answers its questions."))
    if question.confirmed_at is None:
        raise QuestionError(_("This question has not been confirmed by the person who asked it."))
    if question.hidden_at is not None:
        raise QuestionError(_("This question was removed by the organisers, so it cannot be answered."))
    text = _clean_text(
        text,
        limit=MAX_ANSWER,
        empty=_("Write your answer."),
        long=_("Keep your answer to %(n)d characters.", n=MAX_ANSWER),
    )
    given = answer_of(session, question)
    if given is None:
        try:
            with savepoint(session):
                given = QuestionAnswer(question_id=question.id, text=text, answered_by_user_id=actor.id)
                session.add(given)
            return given
        except IntegrityError:  # another member answered at the same moment: this one replaces it
            given = answer_of(session, question)
            assert given is not None, "the other answer is what the insert ran into"
    if text != given.text:  # a changed answer is judged afresh; the same text stays as it was
        given.hidden_at, given.hidden_reason = None, ""
    given.text, given.answered_by_user_id, given.updated_at = text, actor.id, now()
    session.add(given)
    session.flush()
    return given


# ---------------------------------------------------------------- reading


def questions_of(session: Session, proposal: Proposal) -> list[tuple[ProposalQuestion, QuestionAnswer | None]]:
    """The proposal's confirmed questions in the order they were asked, each with its answer."""
    questions = list(
        session.exec(
            select(ProposalQuestion)
            .where(ProposalQuestion.proposal_id == proposal.id, col(ProposalQuestion.confirmed_at).is_not(None))
            .order_by(col(ProposalQuestion.confirmed_at), col(ProposalQuestion.id))
        )
    )
    answers = (
        {
            a.question_id: a
            for a in session.exec(
                select(QuestionAnswer).where(col(QuestionAnswer.question_id).in_([q.id for q in questions]))
            )
        }
        if questions
        else {}
    )
    return [(q, answers.get(q.id)) for q in questions]


def waiting_for_answers(session: Session, proposal_ids: list[int]) -> dict[int, int]:
    """Per proposal, how many of its questions the group could answer now and has not
    (confirmed, not removed, in a round that has not opened voting)."""
    if not proposal_ids:
        return {}
    rows = session.exec(
        select(ProposalQuestion.proposal_id, func.count())
        .join(Proposal, col(Proposal.id) == col(ProposalQuestion.proposal_id))
        .join(Round, col(Round.id) == col(Proposal.round_id))
        .outerjoin(QuestionAnswer, col(QuestionAnswer.question_id) == col(ProposalQuestion.id))
        .where(
            col(ProposalQuestion.proposal_id).in_(proposal_ids),
            col(ProposalQuestion.confirmed_at).is_not(None),
            col(ProposalQuestion.hidden_at).is_(None),
            col(QuestionAnswer.id).is_(None),
            col(Round.phase).in_(ASKING_PHASES),
        )
        .group_by(col(ProposalQuestion.proposal_id))
    )
    return dict(rows.all())


# ---------------------------------------------------------------- moderation

MODERATION_EVENTS = {
    ("question", True): "question.hidden",
    ("question", False): "question.shown",
    ("answer", True): "question.answer_hidden",
    ("answer", False): "question.answer_shown",
}


def moderate(session: Session, question: ProposalQuestion, *, actor: User, part: str, hide: bool, reason: str) -> None:
    """The convening anchor hides a question or its answer, with a public reason, or shows
    it again (saying why); either way the round's audit log keeps the reason."""
    proposal = session.get_one(Proposal, question.proposal_id)
    round_ = round_of(session, proposal)
    reason = " ".join((reason or "").split())
    if not reason:
        raise QuestionError(_("Say why: the reason is public."))
    if len(reason) > MAX_REASON:
        raise QuestionError(_("Keep the reason to %(n)d characters.", n=MAX_REASON))
    target: ProposalQuestion | QuestionAnswer | None = question if part == "question" else answer_of(session, question)
    if target is None or question.confirmed_at is None:
        raise QuestionError(_("There is no answer to this question yet."))
    if hide and target.hidden_at is not None:
        raise QuestionError(_("This is already removed."))
    if not hide and target.hidden_at is None:
        raise QuestionError(_("This is not removed."))
    target.hidden_at, target.hidden_reason = (now(), reason) if hide else (None, "")
    session.add(target)
    session.flush()
    audit_round(
        session,
        round_,
        MODERATION_EVENTS[(part, hide)],
        actor,
        proposal=proposal.id,
        question=question.id,
        reason=reason,
    )
