"""Residents' questions on proposals and the proposing group's answers."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Column, Field, SQLModel

from pb.clock import now


class ProposalQuestion(SQLModel, table=True):
    """A question asked on a proposal's public page before voting opens.

    Asked by someone signed in (`asked_by_user_id`), or by a resident who proved an email
    address with a one-time code: `asker` is then a keyed hash of the inbox, never the
    address, until the code is entered (`confirmed_at`), when it is emptied and the
    question is public. The convening anchor may hide it, with a public reason."""

    __tablename__ = "proposal_question"

    id: int = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    display_name: str = Field(default="", max_length=60)  # shown publicly; "A resident" when empty
    asked_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    asker: str = Field(default="", max_length=64)
    asked_at: datetime = Field(default_factory=now)
    confirmed_at: datetime | None = Field(default=None, index=True)  # None: waiting for the emailed code
    hidden_at: datetime | None = None
    hidden_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class QuestionAnswer(SQLModel, table=True):
    """The proposing group's public answer to a question: one per question, which the
    group may edit until voting opens. The convening anchor may hide it, with a reason."""

    __tablename__ = "question_answer"

    id: int = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="proposal_question.id", unique=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    answered_by_user_id: int = Field(foreign_key="user.id")
    answered_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    hidden_at: datetime | None = None
    hidden_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
