"""Help for residents: a round's organiser contact, its frequently asked questions and
the places where they can vote on paper.

None of it is what residents vote on, so it is not frozen when voting opens: a phone
number that changes, or a library that closes, must be correctable while people vote.
Every change is an audit event in the round's chain, like any other round setting.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from pb.accounts.models import User
from pb.rounds.models import EligibilityMethod, Round, RoundContact, RoundQuestion, VotingPlace
from pb.rounds.services import audit_round


@dataclass
class Help:
    """What a round tells residents who need help."""

    contact: RoundContact | None
    questions: list[RoundQuestion]
    places: list[VotingPlace]  # only where the round takes paper ballots


def help_of(session: Session, round_: Round) -> Help:
    contact = session.exec(select(RoundContact).where(RoundContact.round_id == round_.id)).first()
    questions = session.exec(
        select(RoundQuestion)
        .where(col(RoundQuestion.round_id) == round_.id)
        .order_by(col(RoundQuestion.position), col(RoundQuestion.id))
    ).all()
    places = session.exec(
        select(VotingPlace)
        .where(col(VotingPlace.round_id) == round_.id)
        .order_by(col(VotingPlace.position), col(VotingPlace.id))
    ).all()
    if EligibilityMethod.PAPER not in round_.methods:
        places = []
    return Help(contact=contact if contact and contact.given else None, questions=list(questions), places=list(places))


def set_help(
    session: Session,
    round_: Round,
    *,
    actor: User,
    contact: dict[str, str],
    questions: list[tuple[str, str]],
    places: list[tuple[str, str, str]],
) -> None:
    """Replace the round's contact, questions (in order) and paper-voting places (in order)."""
    contact = {key: (contact.get(key) or "").strip() for key in ("name", "email", "phone", "address", "hours")}
    row = session.exec(select(RoundContact).where(RoundContact.round_id == round_.id)).first() or RoundContact(
        round_id=round_.id
    )
    for key, value in contact.items():
        setattr(row, key, value)
    session.add(row)
    session.exec(delete(RoundQuestion).where(col(RoundQuestion.round_id) == round_.id))
    session.exec(delete(VotingPlace).where(col(VotingPlace.round_id) == round_.id))
    for position, (question, answer) in enumerate(questions, start=1):
        session.add(
            RoundQuestion(round_id=round_.id, position=position, question=question.strip(), answer=answer.strip())
        )
    for position, (name, address, opening_times) in enumerate(places, start=1):
        session.add(
            VotingPlace(
                round_id=round_.id,
                position=position,
                name=name.strip(),
                address=address.strip(),
                opening_times=opening_times.strip(),
            )
        )
    session.flush()
    audit_round(
        session,
        round_,
        "round.help_set",
        actor,
        contact=contact,
        questions=[{"question": q.strip(), "answer": a.strip()} for q, a in questions],
        places=[{"name": n.strip(), "address": a.strip(), "opening_times": t.strip()} for n, a, t in places],
    )


def ballot_languages(round_=None) -> list[tuple[str, str]]:
    """The languages residents can vote in, as (code, name in that language): a round's
    own languages (the one its text is written in first, then those it is translated
    into: pb.languages), or without a round the site's interface languages."""
    from flask import current_app

    from pb.i18n import language_name

    codes = [round_.source_locale, *round_.translated_into] if round_ is not None else current_app.config["LANGUAGES"]
    return [(code, language_name(code)) for code in codes]
