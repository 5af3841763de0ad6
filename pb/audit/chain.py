"""Writing and checking the hash chain. The only code that adds audit events."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from pb.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, chain_key
from pb.clock import now


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_document(event: AuditEvent) -> str:
    """Everything an event says, as the canonical JSON that is hashed."""
    return canonical_json(
        {
            "chain": event.chain,
            "seq": event.seq,
            "round": event.round_id,
            "actor": event.actor_user_id,
            "organisation": event.organisation_id,
            "action": event.action,
            "at": event.created_at.isoformat(timespec="microseconds"),
            "data": json.loads(event.data),
        }
    )


def entry_hash(prev_hash: str, seq: int, document: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{document}".encode()).hexdigest()


def record_event(
    session: Session,
    action: str,
    *,
    actor=None,
    organisation_id: int | None = None,
    round_id: int | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append an event to its chain, in the caller's transaction (flushed, not committed)."""
    chain = chain_key(round_id)
    _ensure_head(session, chain)
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before we
    # read the head, so two appends to one chain cannot both take the same number.
    session.exec(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(seq=AuditChainHead.seq + 1)
    )
    seq, prev_hash = session.exec(
        select(AuditChainHead.seq, AuditChainHead.head_hash).where(AuditChainHead.chain == chain)
    ).one()
    event = AuditEvent(
        chain=chain,
        seq=seq,
        round_id=round_id,
        actor_user_id=actor.id if actor is not None else None,
        organisation_id=organisation_id,
        action=action,
        data=canonical_json(data or {}),
        created_at=now(),
        prev_hash=prev_hash,
        entry_hash="",
    )
    event.entry_hash = entry_hash(prev_hash, seq, event_document(event))
    session.add(event)
    session.exec(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(head_hash=event.entry_hash)
    )
    session.flush()
    return event


def _ensure_head(session: Session, chain: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    session.exec(
        insert(AuditChainHead)
        .values(chain=chain, seq=0, head_hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=["chain"])
    )


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
        select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
    )
    count = 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            return Verification(chain, count, prev_hash, f"event {expected_seq} is missing", expected_seq)
        if event.prev_hash != prev_hash:
            return Verification(chain, count, prev_hash, f"event {event.seq} does not follow the one before it", event.seq)
        try:
            document = event_document(event)
        except ValueError:  # its data is no longer even JSON
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


def all_chains(session: Session) -> list[str]:
    return list(session.exec(select(AuditChainHead.chain).order_by(AuditChainHead.chain)))
