"""Writing the hash chain. The only code that adds audit events (pb.verify.chain checks them).

What each hash covers is specified in docs/audit-format.md, and checked without pb by
static/pb-verify-audit.py. In short: an event's document is canonical JSON; format 2
(every event written since it exists) names the person acting by a stable pseudonym
(User.audit_ref), never their account number, and holds some values only as commitments
(a salted SHA-256): notes kept private to a group, and figures embargoed until the
round's results are published, which are revealed then, salt and all, so anyone can
check them against the chain.
"""

import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from pb.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, chain_key
from pb.clock import now

FORMAT = 2
PRIVATE = "never"  # a sealed value never published (a note to a group)
UNTIL_RESULTS = "results"  # a sealed value published with the round's results


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def commitment(salt: str, value: Any) -> str:
    """What the chain holds for a sealed value: it proves the value once revealed, and
    says nothing about it before (the salt is random)."""
    return hashlib.sha256(f"{salt}\n{canonical_json(value)}".encode()).hexdigest()


def pseudonym(audit_ref: str | None, chain: str) -> str | None:
    """How a person appears in one chain: stable within it, unlinkable across chains (and
    to their account) without their secret User.audit_ref."""
    if audit_ref is None:
        return None
    return hashlib.sha256(f"{audit_ref}:{chain}".encode()).hexdigest()[:16]


def person(user, round_id: int | None) -> str | None:
    """A user as a round's public log names them (in data, as the document names the actor)."""
    return pseudonym(user.audit_ref, chain_key(round_id))


def sealed_of(event: AuditEvent) -> dict:
    """An event's sealed values with their salts ({} if none, or if they no longer parse:
    its hash then fails to verify)."""
    try:
        sealed = json.loads(event.sealed) if event.sealed else {}
    except ValueError:
        return {}
    return sealed if isinstance(sealed, dict) else {}


def event_document(event: AuditEvent, actor_ref: str | None = None) -> str:
    """Everything an event says, as the canonical JSON that is hashed. Format 2 needs the
    acting person's User.audit_ref, from which their pseudonym in this chain is made."""
    if event.format == 1:  # events written before format 2: the account number, and all data in the open
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
    return canonical_json(
        {
            "v": FORMAT,
            "chain": event.chain,
            "seq": event.seq,
            "round": event.round_id,
            "actor": pseudonym(actor_ref, event.chain),
            "organisation": event.organisation_id,
            "action": event.action,
            "at": event.created_at.isoformat(timespec="microseconds"),
            "data": json.loads(event.data),
            "sealed": {key: commitment(entry["salt"], entry["value"]) for key, entry in sealed_of(event).items()},
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
    private: dict | None = None,
    until_results: dict | None = None,
) -> AuditEvent:
    """Append an event to its chain, in the caller's transaction (flushed, not committed).

    `private` values are sealed for good (only their commitment is public); `until_results`
    values are sealed until the round's results are published."""
    chain = chain_key(round_id)
    _ensure_head(session, chain)
    # The no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before we
    # read the head, so two appends to one chain cannot both take the same number.
    session.exec(update(AuditChainHead).where(col(AuditChainHead.chain) == chain).values(seq=col(AuditChainHead.seq)))
    head_seq, prev_hash = session.exec(
        select(AuditChainHead.seq, AuditChainHead.head_hash).where(AuditChainHead.chain == chain)
    ).one()
    sealed = {
        key: {"salt": secrets.token_hex(16), "value": value, "until": until}
        for values, until in ((private, PRIVATE), (until_results, UNTIL_RESULTS))
        for key, value in (values or {}).items()
    }
    event = AuditEvent(
        chain=chain,
        seq=head_seq + 1,
        round_id=round_id,
        actor_user_id=actor.id if actor is not None else None,
        organisation_id=organisation_id,
        action=action,
        data=canonical_json(data or {}),
        sealed=canonical_json(sealed) if sealed else None,
        format=FORMAT,
        created_at=now(),
        prev_hash=prev_hash,
        entry_hash="",
    )
    event.entry_hash = entry_hash(
        prev_hash, event.seq, event_document(event, actor.audit_ref if actor is not None else None)
    )
    session.add(event)
    session.flush()
    # The database's own trigger moves the head too (for anyone inserting by hand); this
    # sets it to the same, so the chain holds where the trigger does not exist.
    session.exec(
        update(AuditChainHead)
        .where(col(AuditChainHead.chain) == chain)
        .values(seq=event.seq, head_hash=event.entry_hash)
    )
    return event


def _ensure_head(session: Session, chain: str) -> None:
    dialect = session.get_bind().dialect.name
    statement = postgresql.insert(AuditChainHead) if dialect == "postgresql" else sqlite.insert(AuditChainHead)
    session.exec(
        statement.values(chain=chain, seq=0, head_hash=GENESIS_HASH).on_conflict_do_nothing(index_elements=["chain"])
    )


def extends(session: Session, chain: str, seq: int, hash_: str) -> bool:
    """Whether the chain still holds, at `seq`, the event whose hash someone was given
    (a witnessed head): a rewritten or cut chain does not."""
    found = session.exec(select(AuditEvent.entry_hash).where(AuditEvent.chain == chain, AuditEvent.seq == seq)).first()
    return found == hash_


def all_chains(session: Session) -> list[str]:
    return list(session.exec(select(AuditChainHead.chain).order_by(AuditChainHead.chain)))
