"""Who asked to be told about a round, and which once-only messages have gone out.

A resident's subscription holds an address, the language to write in and the round:
nothing links it to a voter, a ballot or a receipt (no key, no time of its own), and it
is written only when the resident confirms from the mailed link, never in the request
that casts a ballot. A round's subscriptions are deleted when it is archived."""

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class Subscription(SQLModel, table=True):
    """A confirmed address that asked to hear when a round's voting opens, when it is
    about to close, when its results are out and when its projects are delivered."""

    __tablename__ = "notice_subscription"
    __table_args__ = (UniqueConstraint("round_id", "email"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    email: str = Field(max_length=254, index=True)
    locale: str = Field(max_length=20)


class NoticeSent(SQLModel, table=True):
    """A message about a round that must go out once only (voting opened, the reminder
    before it closes, results published, a project delivered): its row is written in
    the transaction that sends it, so a second attempt, even a concurrent one, finds it."""

    __tablename__ = "notice_sent"
    __table_args__ = (UniqueConstraint("round_id", "topic"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    topic: str = Field(max_length=60)
