"""What the proposals' services need of the translations without importing pb.languages.services
(which builds on them): forgetting a screening reason's translations when the reason changes."""

from flask import g, has_app_context
from sqlmodel import Session, select

from pb.languages.models import ProposalTranslation


def cache_key(owner) -> tuple[str, int]:
    """Where this request keeps its copy of an object's translations, in g.translations
    (pb.languages.services reads them once a request)."""
    return type(owner).__name__, owner.id


def forget(owner) -> None:
    """Drop this request's copy of an object's translations."""
    if has_app_context():
        g.get("translations", {}).pop(cache_key(owner), None)


def forget_reason_translations(session: Session, proposal) -> None:
    """A new screening decision gives a new reason: translations of the old one go."""
    for row in session.exec(
        select(ProposalTranslation).where(
            ProposalTranslation.proposal_id == proposal.id, ProposalTranslation.field == "screening_reason"
        )
    ):
        session.delete(row)
    session.flush()
    forget(proposal)
