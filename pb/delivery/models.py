"""Delivery updates of funded projects (history, never overwritten) and residents' verdicts."""

from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from pb.clock import now
from pb.money import MONEY


class DeliveryStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    STALLED = "stalled"
    CANCELLED = "cancelled"


DELIVERY_LABELS = {
    DeliveryStatus.NOT_STARTED: _l("Not started"),
    DeliveryStatus.IN_PROGRESS: _l("In progress"),
    DeliveryStatus.DELIVERED: _l("Delivered"),
    DeliveryStatus.DELAYED: _l("Delayed"),
    DeliveryStatus.STALLED: _l("Stalled"),
    DeliveryStatus.CANCELLED: _l("Cancelled"),
}

# Statuses that must say why: residents are owed an explanation.
NEEDS_REASON = frozenset({DeliveryStatus.DELAYED, DeliveryStatus.STALLED, DeliveryStatus.CANCELLED})

# Where a project may go from each status. Delivered and cancelled are final (an update
# may still add spending or a note). Nothing goes back to "not started".
NEXT_STATUSES = {
    DeliveryStatus.NOT_STARTED: frozenset(DeliveryStatus),
    DeliveryStatus.IN_PROGRESS: frozenset(DeliveryStatus) - {DeliveryStatus.NOT_STARTED},
    DeliveryStatus.DELAYED: frozenset(DeliveryStatus) - {DeliveryStatus.NOT_STARTED},
    DeliveryStatus.STALLED: frozenset(DeliveryStatus) - {DeliveryStatus.NOT_STARTED, DeliveryStatus.DELIVERED},
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.DELIVERED}),
    DeliveryStatus.CANCELLED: frozenset({DeliveryStatus.CANCELLED}),
}


class DeliveryUpdate(SQLModel, table=True):
    """What a funded group says about its project on one day: the whole picture so far
    (status, milestones, spending), so the latest update is the project's state."""

    __tablename__ = "delivery_update"
    __table_args__ = (
        CheckConstraint("spent >= 0", name="spent_not_negative"),
        CheckConstraint("spent_locally >= 0 AND spent_locally <= spent", name="local_within_spent"),
    )

    id: int = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    status: str = Field(max_length=20)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    photo: str | None = Field(default=None, max_length=80)  # file name under instance/uploads/proposals
    spent: int = Field(default=0, sa_type=MONEY)  # minor units: the sum of the spend lines
    spent_locally: int = Field(
        default=0, sa_type=MONEY
    )  # minor units: the sum of the lines paid to local suppliers or local people's wages
    created_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=now)

    @property
    def status_label(self) -> str:
        return str(DELIVERY_LABELS[DeliveryStatus(self.status)])


class Milestone(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    update_id: int = Field(foreign_key="delivery_update.id", index=True)
    position: int
    title: str = Field(max_length=120)
    due: date
    done: bool = False


class SpendLine(SQLModel, table=True):
    __tablename__ = "spend_line"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: int = Field(default=None, primary_key=True)
    update_id: int = Field(foreign_key="delivery_update.id", index=True)
    position: int
    item: str = Field(max_length=120)
    amount: int = Field(sa_type=MONEY)
    local: bool = False  # paid to a local supplier or as local people's wages


class Answer(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"


ANSWER_LABELS = {
    Answer.YES: _l("Yes"),
    Answer.PARTLY: _l("Partly"),
    Answer.NO: _l("No"),
}


class Verdict(SQLModel, table=True):
    """A resident's answer to "was it delivered as promised?". One per resident and
    project; giving another replaces it. `resident` is a keyed hash of how they proved
    they were eligible, never who they are."""

    __table_args__ = (UniqueConstraint("project_id", "resident"),)

    id: int = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    resident: str = Field(max_length=64)
    answer: str = Field(max_length=10)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    hidden_at: datetime | None = None  # the comment hidden by the convening anchor (never the answer)
    hidden_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    @property
    def answer_label(self) -> str:
        return str(ANSWER_LABELS[Answer(self.answer)])
