"""The freeze: from the opening of voting, what residents vote on cannot change.

A pure check on the round's state as it is stored. Moving a round on when its dates
come is pb.lifecycle's work, done before any page reads the round.
"""

from flask_babel import gettext as _
from sqlmodel import Session

from pb.audit.chain import record_event
from pb.refusal import Refusal
from pb.rounds.models import Round


class RoundFrozen(Refusal):
    """A change to what residents vote on, tried after voting opened."""


def guard_unfrozen(session: Session, round_: Round, *, actor, attempted: str, detail: dict | None = None) -> None:
    """Refuse any change to a frozen round, recording the attempt (pb.refusal: the rest
    of the transaction is undone first). Call before changing anything."""
    if not round_.is_frozen:
        return
    round_id, phase = round_.id, round_.phase
    raise RoundFrozen(
        _("Voting has opened, so this can no longer be changed. The attempt has been recorded in the audit log."),
        record=lambda session: record_event(
            session,
            "round.change_refused",
            actor=actor,
            round_id=round_id,
            organisation_id=None,
            data={"attempted": attempted, "phase": phase, **(detail or {})},
        ),
    )
