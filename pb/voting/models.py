"""Voters (eligibility records), voting codes, ballots and receipts.

A ballot points to its voter only so that a replacement can supersede it; the voter
record holds no name, and is anonymised when a round's results are final.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, false, text
from sqlmodel import Column, Field, SQLModel

from pb.clock import now, today


class Channel(StrEnum):
    ONLINE = "online"
    PAPER = "paper"


class CodeBatch(SQLModel, table=True):
    """A print run of voting codes, for one area (or the whole round)."""

    __tablename__ = "code_batch"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    area_id: int | None = Field(default=None, foreign_key="area.id")
    size: int
    # Made after voting opened, to replace lost letters (or reach a household missed).
    replacement: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=now)


class VotingCode(SQLModel, table=True):
    """A single-use code; only its hash is kept."""

    __tablename__ = "voting_code"

    id: int = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="code_batch.id", index=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    # Printed on the letter beside the code ("3-0042": batch 3, letter 42), so that the
    # returning officer can cancel a lost letter's code without ever seeing it again.
    letter: str = Field(default="", max_length=20, index=True, sa_column_kwargs={"server_default": ""})
    used_at: datetime | None = None
    cancelled_at: datetime | None = None


class Voter(SQLModel, table=True):
    """Someone found eligible to vote in a round, and by which method."""

    __table_args__ = (UniqueConstraint("round_id", "identity"), Index("uq_voter_code_id", "code_id", unique=True))

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    area_id: int | None = Field(default=None, foreign_key="area.id")
    method: str = Field(max_length=20)
    # A keyed hash of the email address (email method) or the mobile number (sms) so a
    # returning voter is the same voter; for other methods a random value. Never the
    # address or number itself.
    identity: str = Field(max_length=64)
    # The voting code that made this voter (code method): entering it again resumes the
    # same voter. Cleared when the results are published, so no letter leads to a ballot.
    code_id: int | None = Field(default=None, foreign_key="voting_code.id")
    created_at: datetime = Field(default_factory=today)  # the day only: no order to match against


class EmailChallenge(SQLModel, table=True):
    """One attempt to prove an address by a six-digit code sent to it (valid ten minutes,
    five tries): an email address, or a mobile number by text message (`channel` "sms")."""

    __tablename__ = "email_challenge"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    channel: str = Field(default="email", max_length=5, sa_column_kwargs={"server_default": "email"})
    # Where the code went: the email address, or (channel "sms") the mobile number in E.164.
    # Deleted with the rest of the challenge when the results are published.
    email: str = Field(max_length=254)
    postcode: str = Field(max_length=10)
    code_hash: str = Field(max_length=64)
    # "vote" to vote while voting is open; "verdict" to give verdicts on funded projects;
    # "question" to confirm a question on a proposal (pb.questions), deleted once confirmed.
    purpose: str = Field(default="vote", max_length=10, sa_column_kwargs={"server_default": "vote"})
    tries: int = 0
    created_at: datetime = Field(default_factory=now)
    used_at: datetime | None = None


class PollingHelper(SQLModel, table=True):
    """Someone a lead trusts to enter paper ballots for a round."""

    __tablename__ = "polling_helper"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    appointed_at: datetime = Field(default_factory=now)


class Ballot(SQLModel, table=True):
    __table_args__ = (
        # At most one current ballot per voter per contest, enforced by the database.
        Index(
            "uq_ballot_one_current",
            "voter_id",
            "contest_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
        Index("uq_ballot_voter_submission", "voter_id", "submission", unique=True),
    )

    id: int = Field(default=None, primary_key=True)
    contest_id: int = Field(foreign_key="contest.id", index=True)
    voter_id: int = Field(foreign_key="voter.id", index=True)
    is_current: bool = True
    channel: str = Field(default=Channel.ONLINE.value, max_length=10)
    receipt: str = Field(max_length=20, unique=True)
    # A random token on the review page: the same confirmation sent twice (double tap,
    # back button, retry after a timeout) finds this ballot instead of making another.
    submission: str | None = Field(default=None, max_length=32)
    # Paper ballots: the polling helper who entered it (they saw the paper anyway).
    entered_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    cast_at: datetime = Field(default_factory=today)  # the day only
    superseded_at: datetime | None = None
    # Set by the count, in the same locked transaction that closed voting: the ballots
    # it counted. Receipt checks and receipts.txt read this, never `is_current`.
    counted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class BallotChoice(SQLModel, table=True):
    """A project on a ballot: ticked (rank and points None), ranked 1..k, or given points
    (only projects given at least one point are stored)."""

    __tablename__ = "ballot_choice"
    __table_args__ = (CheckConstraint("points >= 1", name="points_positive"),)

    ballot_id: int = Field(foreign_key="ballot.id", primary_key=True)
    project_id: int = Field(foreign_key="project.id", primary_key=True)
    rank: int | None = None
    points: int | None = None


class RoundKey(SQLModel, table=True):
    """A round's own secrets, made when voting opens: never the session key, never rotated.

    `voter_secret` turns an email address into a voter (a keyed hash); it is deleted when
    the results are published, after which no address can be turned into a voter again.
    `verdict_secret` hashes the addresses that may give verdicts afterwards (see
    VerdictVoter), and lives as long as the round's delivery record."""

    __tablename__ = "round_key"

    round_id: int = Field(foreign_key="round.id", primary_key=True)
    voter_secret: str | None = Field(default=None, max_length=64)
    verdict_secret: str = Field(max_length=64)


class VerdictVoter(SQLModel, table=True):
    """An email address that voted, kept after publication only as a keyed hash, so that
    its owner can prove it again to give verdicts: no link to a voter or a ballot, no time,
    written in random order."""

    __tablename__ = "verdict_voter"
    __table_args__ = (UniqueConstraint("round_id", "digest"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    digest: str = Field(max_length=64)


class VotingSession(SQLModel, table=True):
    """Someone voting in one browser (a resident, or a polling helper entering a paper
    ballot), held on the server. The browser's cookie carries only a random reference,
    of which a hash is kept here: nothing in it counts voters or names one. Ended by
    "I have finished"; all are deleted when the results are published."""

    __tablename__ = "voting_session"

    id: int = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    voter_id: int = Field(foreign_key="voter.id")
    area_id: int | None = Field(default=None, foreign_key="area.id")
    channel: str = Field(default=Channel.ONLINE.value, max_length=10)
    helper_user_id: int | None = Field(default=None, foreign_key="user.id")  # paper: only this helper may use it
    challenge_id: int | None = None  # email voters: where to send the receipt
    # Declared identity and paper: the ids of the ballots cast in this session (comma-separated),
    # the only ones it shows; whoever knows a resident's details may be someone else, and a
    # polling helper sees the paper, never the voter's online ballot. None (other ways of
    # voting, which prove more): every ballot of the voter is shown.
    own_ballots: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Declaration(SQLModel, table=True):
    """What a resident declared to vote by declared identity, as they typed it, kept only
    so that the returning officer can check it against the electoral register: deleted
    when the results are published. The voter's identity is a keyed hash of it, normalised
    (pb.voting.declarations), so declaring the same again gives the same voter."""

    __tablename__ = "declaration"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    voter_id: int = Field(foreign_key="voter.id", unique=True)
    name: str = Field(default="", max_length=120)
    address: str = Field(default="", max_length=120)
    postcode: str = Field(max_length=10)
    birth_year: int | None = None
