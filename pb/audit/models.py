"""The audit log: append-only, hash-chained events, one chain per round plus the platform's."""

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

GENESIS_HASH = "0" * 64
PLATFORM_CHAIN = "platform"


def chain_key(round_id: int | None) -> str:
    return PLATFORM_CHAIN if round_id is None else f"round:{round_id}"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: int = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40)
    seq: int
    round_id: int | None = Field(default=None, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    action: str = Field(max_length=80)
    data: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON: what anyone may read
    # Format 2: values held only as commitments in the hashed document, with their salts
    # (canonical JSON {key: {"salt", "value", "until"}}; see pb.audit.chain).
    sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    format: int = Field(default=2, sa_column_kwargs={"server_default": "1"})  # of the hashed document
    created_at: datetime
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The last sequence number and hash of each chain.

    Appending locks this row, so appends to one chain are serialised; and it lets
    verification notice events cut off the end of a chain.
    """

    __tablename__ = "audit_chain_head"

    chain: str = Field(primary_key=True, max_length=40)
    seq: int = 0
    head_hash: str = Field(default=GENESIS_HASH, max_length=64)


class WitnessedHead(SQLModel, table=True):
    """A chain's head as it was sent, at a phase change, to the people who watch the round
    (partner anchors' leads, the returning officer, every proposing group), who keep it:
    a later rewrite or cut of the chain cannot match it. Listed on the round's page."""

    __tablename__ = "witnessed_head"

    id: int = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40, index=True)
    seq: int
    hash: str = Field(max_length=64)
    reason: str = Field(max_length=40)  # the phase the round moved to
    at: datetime
