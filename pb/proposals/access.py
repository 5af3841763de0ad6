"""Who may see and change a proposal, and screen a round's: object-level checks, on top of
the role decorator (the loaders' shape is described in pb.rounds.access)."""

from flask import abort
from flask_login import current_user

from pb.accounts.models import Organisation
from pb.accounts.services import is_member_of
from pb.db import db_session
from pb.proposals.models import PUBLIC_STATUSES, Proposal, Status
from pb.proposals.services import is_screener
from pb.rounds.access import existing_round
from pb.rounds.models import Phase, Round


def is_group_member(proposal: Proposal) -> bool:
    """Whether the current user belongs to the group that proposed it."""
    return current_user.is_authenticated and is_member_of(
        db_session(), current_user, db_session().get_one(Organisation, proposal.organisation_id)
    )


def can_screen(round_: Round) -> bool:
    """Whether the current user screens the round's proposals (see is_screener)."""
    return current_user.is_authenticated and is_screener(db_session(), round_, current_user)


def _visible(proposal: Proposal, round_: Round) -> bool:
    if proposal.status in PUBLIC_STATUSES and round_.phase != Phase.DRAFT.value:
        return True
    return is_group_member(proposal) or (proposal.status != Status.DRAFT.value and can_screen(round_))


def _proposal_or_404(proposal_id: int) -> tuple[Proposal, Round]:
    """A proposal and its round; 404 if either is gone (a deleted draft round's proposals with it)."""
    db = db_session()
    proposal = db.get(Proposal, proposal_id)
    if proposal is None:
        abort(404)
    return proposal, existing_round(proposal.round_id)


def load_proposal(proposal_id: int) -> tuple[Proposal, Round]:
    """A proposal the current user may read, and its round: anyone once it is public and
    its round out of draft, its group always, the screeners once it is submitted; else 404."""
    proposal, round_ = _proposal_or_404(proposal_id)
    if not _visible(proposal, round_):
        abort(404)
    return proposal, round_


def load_proposal_as_group(proposal_id: int) -> tuple[Proposal, Round]:
    """A proposal, and its round, for the members of the group that proposed it; else 404 or 403."""
    proposal, round_ = _proposal_or_404(proposal_id)
    if not is_group_member(proposal):
        abort(403)
    return proposal, round_


def load_proposal_as_screener(proposal_id: int) -> tuple[Proposal, Round]:
    """A proposal, and its round, for the round's screeners once it is submitted (nobody
    screens a draft); else 404 or 403."""
    proposal, round_ = _proposal_or_404(proposal_id)
    if not can_screen(round_) or proposal.status == Status.DRAFT.value:
        abort(403)
    return proposal, round_


def load_round_as_screener(round_id: int) -> Round:
    """The round, for its screeners; else 404 (also for a deleted draft) or 403."""
    round_ = existing_round(round_id)
    if not can_screen(round_):
        abort(403)
    return round_
