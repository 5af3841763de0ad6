"""Residents' verdicts on funded projects: "was it delivered as promised?".

Only residents who were eligible in the round give verdicts, proving it again with their
voting code or with a code emailed to the address they voted with. A verdict is stored
against a keyed hash of that proof, so one resident has one verdict per project (giving
another replaces it) and nobody can tell from it who they are or how they voted.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pb.audit.chain import record_event
from pb.clock import now
from pb.db import savepoint
from pb.delivery.models import Answer, Verdict
from pb.delivery.services import DeliveryError, NotNow, funded_project_ids, round_of
from pb.proposals.models import Project
from pb.rounds.models import Phase, Round
from pb.throttle import note_attempt
from pb.voting.models import EmailChallenge, VerdictVoter, VotingCode
from pb.voting.services import (
    EMAIL_CODE_MINUTES,
    WrongAnswer,
    check_email_code,
    code_hash,
    new_email_challenge,
    throttled,
    verdict_digest,
)

MAX_COMMENT = 1000
PURPOSE = "verdict"


def _resident_key(round_: Round, kind: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"resident:{round_.id}:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def verdicts_open(round_: Round) -> bool:
    return round_.reached(Phase.RESULTS_PUBLISHED) and not round_.reached(Phase.ARCHIVED)


def _check_open(round_: Round) -> None:
    if not verdicts_open(round_):
        raise NotNow(_("Verdicts on this round's projects are not being collected."))


# ---------------------------------------------------------------- proving eligibility again


def resident_by_code(session: Session, round_: Round, code: str, *, client: str) -> str:
    """The resident holding one of the round's voting codes (used or not: everyone sent
    a code was eligible). Returns their resident key."""
    _check_open(round_)
    key = f"verdict-code:ip:{client}"
    throttled(session, key, limit=20)
    digest = code_hash(code)
    found = session.exec(
        select(VotingCode.id).where(VotingCode.code_hash == digest, VotingCode.round_id == round_.id)
    ).first()
    if found is None:
        raise WrongAnswer(
            _("That code is not right. Check it against your letter and try again."),
            record=lambda session: note_attempt(session, key),
        )
    return _resident_key(round_, "code", digest)


def start_email(session: Session, round_: Round, *, email: str, client: str) -> tuple[EmailChallenge, str | None]:
    """A code to prove by email. Returns the challenge and the code to send, or None when
    nobody voted with that address: the challenge then exists all the same, so the pages
    behave alike and do not tell who voted."""
    _check_open(round_)
    # Addresses of attempts never completed are not kept beyond the life of their code.
    session.exec(
        delete(EmailChallenge).where(
            col(EmailChallenge.round_id) == round_.id,
            col(EmailChallenge.purpose) == PURPOSE,
            col(EmailChallenge.created_at) < now() - timedelta(minutes=EMAIL_CODE_MINUTES),
        )
    )
    challenge, code = new_email_challenge(session, round_, email=email, client=client, purpose=PURPOSE)
    digest = verdict_digest(session, round_, challenge.email)
    voted = (
        digest is not None
        and session.exec(
            select(VerdictVoter.id).where(VerdictVoter.round_id == round_.id, VerdictVoter.digest == digest)
        ).first()
    )
    if voted is None:
        challenge.code_hash = secrets.token_hex(32)  # no code can match
        challenge.email = ""  # and the address of someone who did not vote is not kept
        session.add(challenge)
        session.flush()
        return challenge, None
    return challenge, code


def resident_by_email_code(session: Session, round_: Round, challenge_id: int | None, code: str, *, client: str) -> str:
    _check_open(round_)
    challenge = check_email_code(session, round_, challenge_id, code, client=client, purpose=PURPOSE)
    digest = verdict_digest(session, round_, challenge.email)
    assert digest is not None, "verdicts are open only on a round that was voted in, which has its key"
    key = _resident_key(round_, "email", digest)
    session.delete(challenge)  # proved: the address is not kept
    session.flush()
    return key


# ---------------------------------------------------------------- giving a verdict


def give_verdict(session: Session, project: Project, *, resident: str, answer: str, comment: str = "") -> Verdict:
    """Store or replace a resident's verdict on a funded project."""
    round_ = round_of(session, project)
    _check_open(round_)
    if project.id not in funded_project_ids(session, round_):
        raise DeliveryError(_("Verdicts are given on funded projects only."))
    try:
        answer = Answer(answer).value
    except ValueError:
        raise DeliveryError(_("Choose yes, partly or no.")) from None
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise DeliveryError(_("Keep your comment to %(n)d characters.", n=MAX_COMMENT))
    verdict = _verdict(session, project, resident)
    if verdict is None:
        try:
            with savepoint(session):
                verdict = Verdict(project_id=project.id, resident=resident, answer=answer, comment=comment)
                session.add(verdict)
            return verdict
        except IntegrityError:  # the same resident, at the same moment, in another tab
            verdict = _verdict(session, project, resident)
            assert verdict is not None, "the other tab's verdict is what the insert ran into"
    if comment != verdict.comment:  # a new comment is judged afresh; a hidden one stays hidden
        verdict.hidden_at, verdict.hidden_reason = None, ""
    verdict.answer, verdict.comment, verdict.updated_at = answer, comment, now()
    session.add(verdict)
    session.flush()
    return verdict


def _verdict(session: Session, project: Project, resident: str) -> Verdict | None:
    return session.exec(select(Verdict).where(Verdict.project_id == project.id, Verdict.resident == resident)).first()


def verdict_of(session: Session, project: Project, resident: str | None) -> Verdict | None:
    return _verdict(session, project, resident) if resident else None


def verdict_counts(session: Session, project_ids) -> dict[int, dict[str, int]]:
    """Per project, how many residents answered yes, partly and no. Moderation never changes these."""
    counts = {pid: {a.value: 0 for a in Answer} for pid in project_ids}
    if counts:
        for pid, answer in session.exec(
            select(col(Verdict.project_id), col(Verdict.answer)).where(col(Verdict.project_id).in_(list(counts)))
        ):
            counts[pid][answer] += 1
    return counts


def comments_of(session: Session, project: Project) -> list[Verdict]:
    """Verdicts with a comment, newest first (hidden ones included: the page shows only that one was hidden)."""
    return list(
        session.exec(
            select(Verdict)
            .where(col(Verdict.project_id) == project.id, col(Verdict.comment) != "")
            .order_by(col(Verdict.updated_at).desc())
        )
    )


# ---------------------------------------------------------------- moderation


def hide_comment(session: Session, verdict: Verdict, *, actor, reason: str) -> None:
    """The convening anchor hides an abusive comment; the verdict still counts."""
    project = session.get_one(Project, verdict.project_id)
    round_ = round_of(session, project)
    reason = reason.strip()
    if not reason:
        raise DeliveryError(_("Say why the comment is hidden; the reason is public in the audit log."))
    if verdict.hidden_at is not None:
        raise DeliveryError(_("This comment is already hidden."))
    verdict.hidden_at, verdict.hidden_reason = now(), reason
    session.add(verdict)
    session.flush()
    record_event(
        session,
        "verdict.comment_hidden",
        actor=actor,
        round_id=round_.id,
        organisation_id=round_.convening_organisation_id,
        data={"project": project.id, "verdict": verdict.id, "answer": verdict.answer, "reason": reason},
    )
