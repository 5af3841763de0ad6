"""Checking a hash chain: every event's hash recomputed from its document, in order, up to
the chain's head. What the hashes cover is pb.audit.chain's (docs/audit-format.md); the
documents name the people acting by their pseudonyms, which live on their accounts."""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from pb.accounts.models import User
from pb.audit.chain import entry_hash, event_document
from pb.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent


@dataclass(frozen=True)
class Verification:
    chain: str
    events: int
    head_hash: str
    problem: str | None = None  # None when the chain is intact
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, chain: str) -> Verification:
    """Recompute every hash of a chain; name the first event that does not match."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    events = session.exec(
        select(AuditEvent, User.audit_ref)
        .join(User, col(User.id) == col(AuditEvent.actor_user_id), isouter=True)
        .where(AuditEvent.chain == chain)
        .order_by(col(AuditEvent.seq))
    )
    count = 0
    for event, actor_ref in events:
        count += 1
        if event.seq != expected_seq:
            return Verification(chain, count, prev_hash, f"event {expected_seq} is missing", expected_seq)
        if event.prev_hash != prev_hash:
            return Verification(
                chain, count, prev_hash, f"event {event.seq} does not follow the one before it", event.seq
            )
        try:
            document = event_document(event, actor_ref)
        except (ValueError, KeyError, TypeError):  # its data is no longer even JSON, or its seals are broken
            document = None
        if document is None or entry_hash(prev_hash, event.seq, document) != event.entry_hash:
            return Verification(chain, count, prev_hash, f"event {event.seq} was altered", event.seq)
        prev_hash = event.entry_hash
        expected_seq += 1
    head = session.get(AuditChainHead, chain)
    head_seq, head_hash = (head.seq, head.head_hash) if head else (0, GENESIS_HASH)
    if head_seq != count or head_hash != prev_hash:
        return Verification(
            chain, count, prev_hash, f"the chain should end at event {head_seq} but ends at {count}", count + 1
        )
    return Verification(chain, count, prev_hash)
