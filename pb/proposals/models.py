"""Proposals by community groups, their cost lines, screening, and the projects on the ballot."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from pb.clock import now
from pb.money import MONEY


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # sent back to the group for changes
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    WITHDRAWN = "withdrawn"


STATUS_LABELS = {
    Status.DRAFT: _l("Draft"),
    Status.SUBMITTED: _l("Submitted, waiting for screening"),
    Status.RETURNED: _l("Returned for changes"),
    Status.ELIGIBLE: _l("Eligible: on the ballot"),
    Status.NOT_ELIGIBLE: _l("Not eligible"),
    Status.WITHDRAWN: _l("Withdrawn"),
}

# What the public sees: everything a group has put forward, but not drafts or withdrawals.
PUBLIC_STATUSES = (Status.SUBMITTED.value, Status.RETURNED.value, Status.ELIGIBLE.value, Status.NOT_ELIGIBLE.value)


class Proposal(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    contest_id: int = Field(foreign_key="contest.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    created_by_user_id: int = Field(foreign_key="user.id")
    title: str = Field(max_length=120)
    summary: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    beneficiaries: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    category_id: int | None = Field(default=None, foreign_key="category.id")
    postcode: str | None = Field(default=None, max_length=10)
    photo: str | None = Field(default=None, max_length=80)  # file name under instance/uploads
    total_cost: int = Field(default=0, sa_type=MONEY)  # sum of the cost lines, minor units
    status: str = Field(default=Status.DRAFT.value, max_length=20, index=True)
    screening_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    screened_at: datetime | None = None
    screened_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    submitted_at: datetime | None = None
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[Status(self.status)])


class CostLine(SQLModel, table=True):
    __tablename__ = "cost_line"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: int = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    position: int
    item: str = Field(max_length=120)
    amount: int = Field(sa_type=MONEY)


class ProposalObjective(SQLModel, table=True):
    """Which of the round's charter objectives a proposal says it serves."""

    __tablename__ = "proposal_objective"

    proposal_id: int = Field(foreign_key="proposal.id", primary_key=True)
    objective_id: int = Field(foreign_key="charter_objective.id", primary_key=True)


class Screener(SQLModel, table=True):
    """A community reviewer the convening lead appoints to screen a round's proposals."""

    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    appointed_at: datetime = Field(default_factory=now)


class Project(SQLModel, table=True):
    """An eligible proposal as it stands on the ballot, fixed when voting opens."""

    __table_args__ = (
        CheckConstraint("cost > 0", name="cost_positive"),
        Index("uq_project_contest_id_ballot_position", "contest_id", "ballot_position", unique=True),
    )

    id: int = Field(default=None, primary_key=True)
    contest_id: int = Field(foreign_key="contest.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id", unique=True)
    title: str = Field(max_length=120)
    cost: int = Field(sa_type=MONEY)
    # Where it stands on its ballot paper (1 is listed first), drawn when voting opens
    # (pb.proposals.ballot_order). Every list of the contest's projects follows it, and
    # so does the published ballot file, whose order breaks ties in the count.
    ballot_position: int
