"""The life of a round: the one place rounds move between phases, and what each move entails.

Opening voting fills the ballot papers and freezes them; closing it counts the votes in
the same transaction, with the round's row locked so that no ballot is cast meanwhile;
publishing the results forgets residents' email addresses. Moves are made from the edges
only: by hand (the convening lead, after confirming), and by the round's published
timeline (`pb rounds advance`, meant for cron or a systemd timer, and before any request
for a page of the round). No domain service moves a round.

Voting ends at the published closing time, never earlier by anyone's hand. An emergency
suspension is a separate act: public, audited, with its reason; it counts nothing.
"""

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlmodel import Session, col, select

from pb.accounts.models import User
from pb.clock import now
from pb.db import scrub_after_commit, session_scope
from pb.equality.services import forget_who_answered
from pb.i18n import money
from pb.notices import services as notices
from pb.proposals.services import (
    close_screening,
    contests_without_projects,
    limits_below_fewest_picks,
    limits_beyond_projects,
    papers_beyond_budget,
    put_on_ballot,
)
from pb.questions.services import forget_unconfirmed
from pb.refusal import Refusal
from pb.results.services import count_round, freeze_terms
from pb.rounds.models import PHASES, EligibilityMethod, Phase, Round
from pb.rounds.services import MIN_VOTING, RoundError, audit_round, contest_budgets, contests_of, is_returning_officer
from pb.throttle import forget_attempts_before
from pb.verify.witness import witness_head
from pb.voting.declarations import forget_declarations
from pb.voting.services import (
    audit_paper_ballots,
    contests_nobody_can_vote_in,
    forget_codes_of_voters,
    forget_email_addresses,
    forget_voting_sessions,
    make_round_key,
    seal_identities,
)

MAX_REASON = 1000

# What publishing deletes or rewrites, or deleted earlier, that could name a resident beside
# a ballot; wiped from the database's files once publication commits (pb.db.scrub).
FORGOTTEN_AT_PUBLICATION = (
    "declaration",
    "email_challenge",
    "equality_answered",  # deleted when voting closed
    "outgoing_mail",  # receipts mailed to voters, deleted once delivered
    "round_key",  # the voter secret
    "throttle_attempt",
    "voter",
    "voting_code",
    "voting_session",
)


class VotingNotOver(Refusal):
    """Voting ended by hand before its published closing time; refused and logged."""


# ---------------------------------------------------------------- what must be true first


def voting_blockers(session: Session, round_: Round) -> list[str]:
    """What stops voting from opening, in words for the convening lead (empty when ready)."""
    problems = []
    contests = contests_of(session, round_)
    if not contests:
        problems.append(_("The round has no ballot paper (contest) yet."))
    budgets = contest_budgets(session, round_)
    for contest in contests:
        if budgets.get(contest.id, 0) <= 0:
            problems.append(_("No money has been pledged to “%(contest)s”.", contest=contest.name))
    for contest in contests_without_projects(session, round_):
        problems.append(_("No eligible project would be on the ballot paper “%(contest)s”.", contest=contest.name))
    for contest, limit, eligible in limits_beyond_projects(session, round_):
        problems.append(
            ngettext(
                "“%(contest)s” asks voters to tick at least %(num)d project in %(category)s, more than the "
                "eligible projects in it (%(eligible)d): change its limits per category.",
                "“%(contest)s” asks voters to tick at least %(num)d projects in %(category)s, more than the "
                "eligible projects in it (%(eligible)d): change its limits per category.",
                limit.min_picks,
                contest=contest.name,
                category=limit.category,
                eligible=eligible,
            )
        )
    for contest, most, limited in limits_below_fewest_picks(session, round_):
        if limited:
            problems.append(
                ngettext(
                    "“%(contest)s” asks voters to tick at least %(num)d project, but its limits per category let them "
                    "tick at most %(most)d of its eligible projects: change its limits per category.",
                    "“%(contest)s” asks voters to tick at least %(num)d projects, but its limits per category let them "
                    "tick at most %(most)d of its eligible projects: change its limits per category.",
                    contest.fewest_ticks,
                    contest=contest.name,
                    most=most,
                )
            )
        else:
            problems.append(
                ngettext(
                    "“%(contest)s” asks voters to tick at least %(num)d project, but only %(most)d eligible projects "
                    "would be on it: lower its fewest picks.",
                    "“%(contest)s” asks voters to tick at least %(num)d projects, but only %(most)d eligible projects "
                    "would be on it: lower its fewest picks.",
                    contest.fewest_ticks,
                    contest=contest.name,
                    most=most,
                )
            )
    for contest, cheapest in papers_beyond_budget(session, round_, budgets):
        problems.append(
            _(
                "The projects ticked on “%(contest)s” must fit its budget of %(budget)s, but the cheapest ballot "
                "its fewest picks and limits per category allow costs %(cost)s: change them, or the budget rule.",
                contest=contest.name,
                budget=money(budgets[contest.id], round_.currency),
                cost=money(cheapest, round_.currency),
            )
        )
    if round_.voting_closes_at is None:
        problems.append(_("The timeline has no date for voting to close."))
    elif round_.voting_closes_at < now() + MIN_VOTING:
        problems.append(_("Voting must stay open for at least a day: move the closing date later."))
    if {EligibilityMethod.CODES, EligibilityMethod.PAPER} & set(round_.methods):
        officer = session.get(User, round_.returning_officer_id) if round_.returning_officer_id else None
        if officer is None:
            problems.append(_("No returning officer has been appointed to make the voting codes."))
        elif not is_returning_officer(session, round_, officer):
            problems.append(
                _("The returning officer now belongs to an anchor that funds this round: appoint someone independent.")
            )
    for contest in contests_nobody_can_vote_in(session, round_):
        problems.append(
            _(
                "Nobody could vote on “%(contest)s”: no voting codes have been made for its residents, "
                "and no other way of voting reaches them.",
                contest=contest.name,
            )
        )
    return problems


def publishing_blockers(session: Session, round_: Round) -> list[str]:
    """What stops a draft from going public (taking proposals), in words for the convening
    lead: groups need a ballot paper to propose to, some money, and dates (empty when ready)."""
    problems = []
    if not contests_of(session, round_):
        problems.append(_("The round has no ballot paper (contest) yet."))
    elif not any(amount > 0 for amount in contest_budgets(session, round_).values()):
        problems.append(_("No money has been pledged to any ballot paper yet."))
    if not any(_schedule(round_).values()):
        problems.append(_("The timeline has no dates yet: say when proposals close and when voting happens."))
    return problems


# ---------------------------------------------------------------- the timeline


def _schedule(round_: Round) -> dict[Phase, datetime | None]:
    """When each phase starts by the round's timeline (phases after closing start by counting)."""
    return {
        Phase.PROPOSALS_OPEN: round_.proposals_open_at,
        Phase.SCREENING: round_.screening_at,
        Phase.VOTING: round_.voting_opens_at,
        Phase.CLOSED: round_.voting_closes_at,
        Phase.RESULTS_PUBLISHED: round_.results_at,
    }


def move_is_due(round_: Round, at: datetime | None = None) -> bool:
    """Whether the timeline says the round should already be in a later phase. A
    suspended vote waits: it closes (and is counted) only once it is resumed."""
    current = Phase(round_.phase)
    if current not in (Phase.DRAFT, Phase.PROPOSALS_OPEN, Phase.SCREENING, Phase.VOTING, Phase.COUNTED):
        return False
    if round_.deleted_at is not None:
        return False
    if current == Phase.VOTING and round_.suspended_at is not None:
        return False
    due = _schedule(round_).get(PHASES[PHASES.index(current) + 1])
    return due is not None and due <= (at or now())


def lock(session: Session, round_id: int) -> Round | None:
    """The round, read afresh with its row locked until the transaction ends. Casting a
    ballot takes a shared lock on the same row, so a move waits for casts in flight and
    casts wait for the move (SQLite: one writer at a time does the same)."""
    return session.get(Round, round_id, with_for_update=True, populate_existing=True)


def _locked(session: Session, round_: Round) -> Round:
    """`round_` read afresh with its row locked, as lock does: a round is never deleted (a
    deleted draft is kept, hidden)."""
    locked = lock(session, round_.id)
    assert locked is not None, "a round is never deleted"
    return locked


def advance(session: Session, round_id: int, at: datetime | None = None) -> list[Phase]:
    """Make every move the timeline says is due; each is an audit event. Returns the moves."""
    round_ = lock(session, round_id)
    moves = []
    while round_ is not None and move_is_due(round_, at):
        following = PHASES[PHASES.index(Phase(round_.phase)) + 1]
        if following == Phase.VOTING and voting_blockers(session, round_):
            break
        if following == Phase.PROPOSALS_OPEN and publishing_blockers(session, round_):
            break
        _move(session, round_, following, actor=None, by="timeline")
        moves.append(following)
    return moves


def _can_move(session: Session, round_: Round, at: datetime | None = None) -> bool:
    """A move is due and nothing blocks it (read only: no writer is needed to find out)."""
    if not move_is_due(round_, at):
        return False
    if round_.phase == Phase.DRAFT.value:
        return not publishing_blockers(session, round_)
    return round_.phase != Phase.SCREENING.value or not voting_blockers(session, round_)


def advance_due_rounds(engine=None, at: datetime | None = None) -> dict[int, list[Phase]]:
    """Move on every round that is due, each in a transaction of its own (for cron). A
    round that fails is logged and left for the next run; the others still move. Then
    remind the residents who asked that voting closes soon (pb.notices; once per round)."""
    import logging

    with session_scope(engine, write=False) as session:
        live = session.exec(select(Round).where(col(Round.phase).in_([p.value for p in PHASES[:6]]))).all()
        due = [round_.id for round_ in live if _can_move(session, round_, at)]
    made = {}
    for round_id in due:
        try:
            with session_scope(engine) as session:
                made[round_id] = advance(session, round_id, at)
        except Exception:
            logging.getLogger(__name__).exception("round %s could not be moved on", round_id)
    try:  # residents who asked are reminded before voting closes, once per round
        notices.send_due_reminders(engine, at)
    except Exception:
        logging.getLogger(__name__).exception("reminders before voting closes not sent yet")
    return made


def advance_if_due(round_id: int) -> None:
    """Before a request for a round's page: make the moves its dates say are due, in a
    transaction of their own, so the page reads the round as it now is."""
    with session_scope(write=False) as session:
        round_ = session.get(Round, round_id)
        due = round_ is not None and _can_move(session, round_)
    if due:
        with session_scope() as session:
            advance(session, round_id)


def configure_lifecycle(app) -> None:
    from flask import request

    @app.before_request
    def _move_round_on_by_its_timeline():
        round_id = (request.view_args or {}).get("round_id")
        if isinstance(round_id, int):
            advance_if_due(round_id)


# ---------------------------------------------------------------- moves


def _move(session: Session, round_: Round, to: Phase, *, actor: User | None, by: str) -> None:
    """The one place a round changes phase, with what the move entails."""
    previous = round_.phase
    if to == Phase.VOTING:
        close_screening(session, round_)  # what nobody screened in time is not eligible, and says why
        put_on_ballot(session, round_)
        freeze_terms(session, round_)  # what the count will depend on, in the log, for `pb audit verify`
        make_round_key(session, round_)
        forget_unconfirmed(session, round_)  # questions close: those never confirmed go, with their addresses
    round_.phase = to.value
    session.add(round_)
    session.flush()
    audit_round(session, round_, "round.phase_changed", actor, **{"from": previous, "to": to.value, "by": by})
    if to in (Phase.RESULTS_PUBLISHED, Phase.ARCHIVED):
        # As residents were told: their email addresses are kept only until the results are
        # final (and those given later to prove a verdict, no longer than the round is open).
        kept = seal_identities(session, round_)
        if kept or to == Phase.RESULTS_PUBLISHED:
            audit_round(session, round_, "residents.identities_sealed", None, verdict_addresses=kept)
        deleted = forget_email_addresses(session, round_)
        audit_round(session, round_, "residents.addresses_deleted", None, count=deleted)
        forget_voting_sessions(session, round_)
        declared = forget_declarations(session, round_)
        if declared:
            audit_round(session, round_, "residents.declarations_deleted", None, count=declared)
        cut = forget_codes_of_voters(session, round_)
        if cut:
            audit_round(session, round_, "residents.codes_unlinked", None, count=cut)
        forget_attempts_before(session, now())  # rate-limit rows: when, and from where, residents asked for codes
        scrub_after_commit(session, FORGOTTEN_AT_PUBLICATION)
    if to == Phase.CLOSED:
        # Nobody may answer the equality questions any more: which voters did is forgotten
        # (the counts stay, with nothing that leads back to anyone).
        forget_who_answered(session, round_)
        # How many paper ballots each polling helper entered: logged now, not one by one.
        audit_paper_ballots(session, round_)
        # The frozen rules count the votes at once, in this transaction: nobody chooses
        # when, or how, and no ballot can be cast between the close and the count.
        count_round(session, round_)
        _move(session, round_, Phase.COUNTED, actor=None, by="count")
    notices.phase_changed(session, round_, to)  # who is told of the move, once
    witness_head(session, round_, to)  # the head, to everyone who watches the round


def move_to_next_phase(session: Session, round_: Round, *, actor: User) -> Phase:
    """The convening lead moves the round on by hand, never backwards, and never out of
    voting: voting ends at its published closing time."""
    advance(session, round_.id)
    round_ = _locked(session, round_)
    current = Phase(round_.phase)
    if current == Phase.ARCHIVED:
        raise RoundError(_("This round is archived; there is no later phase."))
    if current == Phase.VOTING:
        closes = round_.voting_closes_at.isoformat() if round_.voting_closes_at else None
        raise VotingNotOver(
            _(
                "Voting ends at the published closing time, and nobody can end it earlier. "
                "The attempt has been recorded in the audit log."
            ),
            record=lambda session: audit_round(
                session,
                round_,
                "round.change_refused",
                actor,
                attempted="voting.closed_early",
                phase=round_.phase,
                closes=closes,
            ),
        )
    following = PHASES[PHASES.index(current) + 1]
    if following in (Phase.PROPOSALS_OPEN, Phase.VOTING):
        problems = (
            publishing_blockers(session, round_)
            if following == Phase.PROPOSALS_OPEN
            else voting_blockers(session, round_)
        )
        if problems:
            raise RoundError(" ".join(problems))
    _move(session, round_, following, actor=actor, by="hand")
    return following


def following_phase(round_: Round) -> Phase | None:
    """The phase a move by hand would go to, or None when no move by hand is allowed."""
    current = Phase(round_.phase)
    if current in (Phase.ARCHIVED, Phase.VOTING, Phase.CLOSED):
        return None
    return PHASES[PHASES.index(current) + 1]


# ---------------------------------------------------------------- emergencies


def suspend_voting(session: Session, round_: Round, *, actor: User, reason: str) -> None:
    """Pause voting in an emergency: casting is refused with the reason, shown on the
    round's page, until voting is resumed. Nothing is counted or published."""
    round_ = _locked(session, round_)
    reason = " ".join((reason or "").split())
    if round_.phase != Phase.VOTING.value:
        raise RoundError(_("Only a round that is taking votes can be suspended."))
    if round_.suspended_at is not None:
        raise RoundError(_("Voting is already suspended."))
    if not reason:
        raise RoundError(_("Give the reason for suspending the vote; it is shown to everyone."))
    if len(reason) > MAX_REASON:
        raise RoundError(_("Keep the reason under %(num)d characters.", num=MAX_REASON))
    round_.suspended_at, round_.suspension_reason = now(), reason
    session.add(round_)
    session.flush()
    audit_round(session, round_, "voting.suspended", actor, reason=reason)


def resume_voting(session: Session, round_: Round, *, actor: User) -> list[Phase]:
    """End a suspension. The closing time moves later by as long as voting was suspended,
    so that a suspension never shortens the vote (and the new time is in the audit log).
    Returns any moves that made."""
    round_ = _locked(session, round_)
    if round_.suspended_at is None:
        raise RoundError(_("Voting is not suspended."))
    assert round_.voting_closes_at is not None, "voting opens only with a closing time"
    closes = round_.voting_closes_at + (now() - round_.suspended_at)
    audit_round(
        session,
        round_,
        "voting.resumed",
        actor,
        suspended_at=round_.suspended_at.isoformat(),
        reason=round_.suspension_reason,
        closes_was=round_.voting_closes_at.isoformat(),
        closes=closes.isoformat(),
    )
    round_.suspended_at, round_.suspension_reason, round_.voting_closes_at = None, None, closes
    session.add(round_)
    session.flush()
    return advance(session, round_.id)
