"""Equality monitoring: the convening lead's switch, residents' answers counted apart from
their ballots, and the figures shown (small numbers suppressed, pb.equality.disclosure).

What an answer writes, and why nothing in it leads back to a ballot or a voter: see
pb.equality.models and docs/equality.md."""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pb.db import savepoint
from pb.equality.disclosure import THRESHOLD, Hidden, protect
from pb.equality.models import EqualityAnswered, EqualityCount
from pb.equality.questions import BY_ID, NOT_ANSWERED, QUESTIONS, UNDER_16, Question, asks_under_16, cells
from pb.rounds.freeze import guard_unfrozen
from pb.rounds.models import Phase, Round
from pb.rounds.services import audit_round


class EqualityError(ValueError):
    status = 400


# ---------------------------------------------------------------- the convening lead's switch


def set_monitoring(session: Session, round_: Round, *, actor, on: bool) -> None:
    """Ask residents the equality questions after they vote, or not: chosen before voting
    opens (refused, and the attempt logged, after), and audited."""
    if bool(round_.equality_monitoring) == on:
        return
    guard_unfrozen(session, round_, actor=actor, attempted="equality.monitoring_set", detail={"on": on})
    round_.equality_monitoring = on
    session.add(round_)
    session.flush()
    audit_round(session, round_, "equality.monitoring_set", actor, on=on)


# ---------------------------------------------------------------- residents' answers


def offered_answers(round_: Round, question: Question) -> list[str]:
    """The answer ids a resident of this round may choose for a question."""
    ids = [a.id for a in question.answers]
    if question.id == "age" and not asks_under_16(round_.minimum_age):
        ids.remove(UNDER_16)
    return ids


def has_answered(session: Session, round_: Round, voter_id: int) -> bool:
    return (
        session.exec(
            select(EqualityAnswered.voter_id).where(
                EqualityAnswered.round_id == round_.id, EqualityAnswered.voter_id == voter_id
            )
        ).first()
        is not None
    )


class AlreadyAnswered(EqualityError):
    """A voter's second set of answers: not counted (the first stands)."""

    status = 409


def record_answers(session: Session, round_: Round, voter_id: int, answers: dict[str, str | None]) -> None:
    """Count one voter's answers (question id -> answer id, None or absent: not answered).

    Writes that the voter has answered, and adds one to a counter per question, in one
    statement that rewrites every counter of the round: the rows it adds to look like all
    the others afterwards (on PostgreSQL every row gets the same transaction id; on
    SQLite every row is written in place). Nothing else is written: no audit event, no log
    line, no time. Raises EqualityError for an answer not offered, AlreadyAnswered if the
    voter has answered before."""
    if round_.phase != Phase.VOTING.value or not round_.equality_monitoring:
        raise EqualityError(_("These questions are not being asked in this round."))
    unknown = set(answers) - set(BY_ID)
    if unknown:
        raise EqualityError(_("That question is not one we ask."))
    chosen = []
    for question in QUESTIONS:
        answer = answers.get(question.id) or NOT_ANSWERED
        if answer != NOT_ANSWERED and answer not in offered_answers(round_, question):
            raise EqualityError(_("That answer is not one of those offered. Choose one of the answers listed."))
        chosen.append((question.id, answer))
    # Read again under a share lock on the round's row, as a cast does: closing takes that
    # row for update, so an answer is either in before the close forgets who answered, or
    # refused after it.
    phase = session.exec(select(Round.phase).where(Round.id == round_.id).with_for_update(read=True)).one()
    if phase != Phase.VOTING.value:
        raise EqualityError(_("Voting has closed, so these questions are no longer asked."))
    try:
        with savepoint(session):
            session.add(EqualityAnswered(round_id=round_.id, voter_id=voter_id))
            session.flush()
    except IntegrityError:
        raise AlreadyAnswered(_("You have already answered these questions. Thank you.")) from None
    _make_counters(session, round_)
    # Concurrent answers queue here, taking the counters' locks in one order (PostgreSQL;
    # SQLite has one writer at a time), so that their updates cannot deadlock.
    session.exec(
        select(EqualityCount.answer)
        .where(EqualityCount.round_id == round_.id)
        .order_by(col(EqualityCount.question), col(EqualityCount.answer))
        .with_for_update()
    ).all()
    added = or_(*(and_(col(EqualityCount.question) == q, col(EqualityCount.answer) == a) for q, a in chosen))
    session.exec(
        update(EqualityCount)
        .where(col(EqualityCount.round_id) == round_.id)
        .values(count=EqualityCount.count + case((added, 1), else_=0))
    )


def _make_counters(session: Session, round_: Round) -> None:
    """Every counter of the round, at zero, in one fixed order (a no-op once made): made
    together, so the order of rows says nothing of who answered what first."""
    statement = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.exec(
        statement(EqualityCount)
        .values([{"round_id": round_.id, "question": q, "answer": a, "count": 0} for q, a in cells()])
        .on_conflict_do_nothing()
    )


def forget_who_answered(session: Session, round_: Round) -> int:
    """When voting closes nobody may answer any more: delete the record of which voters
    answered. Returns how many there were (a count, the same as the figures' total)."""
    return session.exec(delete(EqualityAnswered).where(col(EqualityAnswered.round_id) == round_.id)).rowcount


# ---------------------------------------------------------------- figures


@dataclass
class Cell:
    label: object
    shown: int | Hidden


@dataclass
class QuestionFigures:
    question: Question
    groups: list[tuple[object, list[Cell]]]  # (heading, cells) in the question's order
    prefer_not: Cell
    not_answered: Cell

    @property
    def withheld(self) -> bool:
        """Whether none of the question's counts is shown (pb.equality.disclosure)."""
        return self.not_answered.shown == Hidden.WITHHELD


@dataclass
class Figures:
    respondents: int
    too_few: bool  # fewer than THRESHOLD answered: no figures are shown at all
    questions: list[QuestionFigures]

    @property
    def any_protected(self) -> bool:
        """Whether a count of 10 or more is hidden somewhere (the page then says why)."""
        return any(
            cell.shown == Hidden.PROTECTED
            for q in self.questions
            for cell in (*(c for _heading, cells in q.groups for c in cells), q.prefer_not, q.not_answered)
        )


def figures(session: Session, round_: Round) -> Figures:
    """The round's equality figures, as they may be shown."""
    counts = {
        (row.question, row.answer): row.count
        for row in session.exec(select(EqualityCount).where(EqualityCount.round_id == round_.id))
    }
    first = QUESTIONS[0]
    respondents = sum(counts.get((first.id, a), 0) for a in first.counted)
    if respondents < THRESHOLD:
        return Figures(respondents=respondents, too_few=True, questions=[])
    shown_questions = []
    for question in QUESTIONS:
        offered = set(offered_answers(round_, question))
        ids = [a for a in question.counted if a in offered or a == NOT_ANSWERED or counts.get((question.id, a))]
        shown = protect({a: counts.get((question.id, a), 0) for a in ids})
        labels = {a.id: a.label for a in question.answers}
        groups = [
            (group.label, [Cell(a.label, shown[a.id]) for a in group.answers if a.id in shown])
            for group in question.groups
        ]
        shown_questions.append(
            QuestionFigures(
                question=question,
                groups=groups,
                prefer_not=Cell(labels["prefer_not_to_say"], shown["prefer_not_to_say"]),
                not_answered=Cell(_("Not answered"), shown[NOT_ANSWERED]),
            )
        )
    return Figures(respondents=respondents, too_few=False, questions=shown_questions)
