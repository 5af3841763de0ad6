"""What a count produced: per contest the exact ballot file, its hash and the outcome."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Column, Field, SQLModel

from pb.clock import now


class ContestResult(SQLModel, table=True):
    __tablename__ = "contest_result"

    id: int = Field(default=None, primary_key=True)
    contest_id: int = Field(foreign_key="contest.id", unique=True)
    rule: str = Field(max_length=40)
    ballot_file: str = Field(sa_column=Column(Text, nullable=False))  # Pabulib .pb, with `selected`
    file_sha256: str = Field(max_length=64)
    outcome: str = Field(sa_column=Column(Text, nullable=False))  # pb.tally Outcome.to_dict() as JSON
    ballots: int
    # The secret order in which the anonymised ballots were written; kept so that a
    # recount writes the same file byte for byte, never published (it would let a
    # receipt holder find their line).
    shuffle_seed: str = Field(max_length=64)
    counted_at: datetime = Field(default_factory=now)


class RoundTurnout(SQLModel, table=True):
    """How many people voted, by area and channel, taken when the round was counted."""

    __tablename__ = "round_turnout"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", unique=True)
    figures: str = Field(
        sa_column=Column(Text, nullable=False)
    )  # JSON [{"area": id|null, "channel": ..., "voters": n}]
    # JSON [{"batch": id, "area": id|null, "replacement": bool, "sent": n, "used": n, "cancelled": n}]
    codes: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
