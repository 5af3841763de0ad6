"""Equality monitoring: counters of answers, kept apart from ballots and voters.

`EqualityCount` holds one counter per round, question and answer, and nothing else: no
voter, ballot, session, area or time, and no surrogate id that grows in the order of
answering. A round's counters are made all at once, in a fixed order, by its first
answer, and every answer rewrites all of them (pb.equality.services.record_answers), so
neither the order of the rows nor their physical versions tell which ones an answer
added to.

`EqualityAnswered` says only that a voter has answered (so that nobody can answer one
hundred times), never what: it is deleted when voting closes."""

from sqlmodel import Field, SQLModel


class EqualityCount(SQLModel, table=True):
    __tablename__ = "equality_count"

    round_id: int = Field(foreign_key="round.id", primary_key=True)
    question: str = Field(max_length=20, primary_key=True)
    answer: str = Field(max_length=40, primary_key=True)
    count: int = 0


class EqualityAnswered(SQLModel, table=True):
    __tablename__ = "equality_answered"

    round_id: int = Field(foreign_key="round.id", primary_key=True)
    voter_id: int = Field(foreign_key="voter.id", primary_key=True)
