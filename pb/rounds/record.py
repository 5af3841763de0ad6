"""What a refused change to a round raises, and how a change is written in the round's
audit chain: shared by pb.rounds.services and the modules beside it (pb.rounds.limits)."""

from sqlmodel import Session

from pb.accounts.models import User
from pb.audit.chain import record_event
from pb.rounds.models import Round


class RoundError(ValueError):
    """A change the round's rules do not allow; nothing was saved."""


def audit_round(session: Session, round_: Round, action: str, actor: User | None, organisation_id=None, **data):
    """An audit event in the round's chain, on behalf of the convening anchor unless said."""
    record_event(
        session,
        action,
        actor=actor,
        round_id=round_.id,
        organisation_id=organisation_id if organisation_id is not None else round_.convening_organisation_id,
        data=data,
    )
