"""Rounds, their areas, contests (ballot papers), pots of money and partner anchors."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Text, UniqueConstraint, false
from sqlmodel import Column, Field, SQLModel

from pb.clock import now
from pb.money import MONEY


class Phase(StrEnum):
    DRAFT = "draft"
    PROPOSALS_OPEN = "proposals_open"
    SCREENING = "screening"
    VOTING = "voting"
    CLOSED = "closed"
    COUNTED = "counted"
    RESULTS_PUBLISHED = "results_published"
    DELIVERY = "delivery"
    ARCHIVED = "archived"


PHASES = list(Phase)
PHASE_LABELS = {
    Phase.DRAFT: _l("Draft"),
    Phase.PROPOSALS_OPEN: _l("Proposals open"),
    Phase.SCREENING: _l("Screening"),
    Phase.VOTING: _l("Voting"),
    Phase.CLOSED: _l("Voting closed"),
    Phase.COUNTED: _l("Counted"),
    Phase.RESULTS_PUBLISHED: _l("Results published"),
    Phase.DELIVERY: _l("Delivery"),
    Phase.ARCHIVED: _l("Archived"),
}


def takes_votes(phase: str, closes_at: datetime | None, suspended_at: datetime | None, at: datetime) -> bool:
    """Whether a ballot may be cast at `at`: voting is open, not suspended, and its
    published closing time has not come (whether or not the round was moved on yet)."""
    return phase == Phase.VOTING.value and suspended_at is None and (closes_at is None or closes_at > at)


class BallotKind(StrEnum):
    APPROVAL = "approval"
    RANKED = "ranked"
    POINTS = "points"  # cumulative: share out a number of points, at most so many on one project


# Counting rules offered for a contest (names as Pabulib's `rule` values), each
# explained to residents in one plain sentence.
RULES = {
    "greedy": _l(
        "Projects are funded in order of how many votes they got. A project that no longer "
        "fits in the money left is skipped, and the next one is tried."
    ),
    "greedy-no-skip": _l(
        "Projects are funded in order of how many votes they got, until the next one does not fit in the money left."
    ),
    "equalshares": _l(
        "Method of Equal Shares: every voter gets an equal share of the budget, and a project "
        "is funded when its supporters can pay for it together, cheapest for each supporter first."
    ),
    "equalshares/add1": _l(
        "Method of Equal Shares: every voter gets an equal share of the budget, and a project "
        "is funded when its supporters can pay for it together. If money is left, each voter's "
        "share is raised by one unit of money (such as £1) at a time, until no other project with "
        "supporters fits in the money left, or the next step would spend more than the budget."
    ),
    "equalshares/add1-comparison": _l(
        "Method of Equal Shares with raised shares, as used in Wieliczka and Assen; the result "
        "is then compared with funding projects in order of votes, and the one more voters "
        "prefer is used."
    ),
}


# The same rules as they read for points ballots, which count points, not votes. The
# comparison step of equalshares/add1-comparison asks which outcome funds more of the projects
# each voter supports, whatever points they gave: it is not offered for points ballots.
POINTS_RULES = {
    "greedy": _l(
        "Projects are funded in order of how many points they got. A project that no longer "
        "fits in the money left is skipped, and the next one is tried."
    ),
    "greedy-no-skip": _l(
        "Projects are funded in order of how many points they got, until the next one does not fit in the money left."
    ),
    "equalshares": _l(
        "Method of Equal Shares: every voter gets an equal share of the budget, and a project "
        "is funded when the voters who gave it points can pay for it together, each in proportion "
        "to the points they gave; the project that costs least per point is funded first."
    ),
    "equalshares/add1": _l(
        "Method of Equal Shares: every voter gets an equal share of the budget, and a project "
        "is funded when the voters who gave it points can pay for it together, each in proportion "
        "to the points they gave. If money is left, each voter's share is raised by one unit of "
        "money (such as £1) at a time, until no other project with points fits in the money left, "
        "or the next step would spend more than the budget."
    ),
}


# What each rule is called where leads and residents read it; the ids above stay for
# Pabulib files and recounts.
RULE_NAMES = {
    "greedy": _l("Most votes first, skipping projects that do not fit"),
    "greedy-no-skip": _l("Most votes first, stopping at the first project that does not fit"),
    "equalshares": _l("Method of Equal Shares"),
    "equalshares/add1": _l("Method of Equal Shares (with raised shares)"),
    "equalshares/add1-comparison": _l("Method of Equal Shares (with raised shares, compared with most votes first)"),
}
POINTS_RULE_NAMES = {
    **RULE_NAMES,
    "greedy": _l("Most points first, skipping projects that do not fit"),
    "greedy-no-skip": _l("Most points first, stopping at the first project that does not fit"),
}


# Currencies a round may be run in (ISO 4217 codes, each with two decimal places, as the
# money fields expect); their names come from Babel in the reader's language.
CURRENCIES = ("GBP", "EUR", "PLN", "USD", "CHF", "SEK", "NOK", "DKK", "CZK", "RON", "CAD", "AUD", "NZD")


class EligibilityMethod(StrEnum):
    CODES = "codes"  # single-use voting codes on printed letters
    EMAIL = "email"  # a one-time code sent by email
    DECLARED = "declared"  # a declared identity (name, address, postcode...), checked afterwards if at all
    PAPER = "paper"  # paper ballots entered by a polling helper against a voting code
    SMS = "sms"  # a one-time code sent by text message (through GOV.UK Notify)


ELIGIBILITY_LABELS = {
    EligibilityMethod.CODES: _l("Voting codes on printed letters"),
    EligibilityMethod.EMAIL: _l("A one-time code sent by email"),
    EligibilityMethod.DECLARED: _l("Residents declare who they are (low-stakes rounds)"),
    EligibilityMethod.PAPER: _l("Paper ballots entered by a polling helper"),
    EligibilityMethod.SMS: _l("A one-time code sent by text message"),
}

# The same, in a word or two: a column heading in the turnout tables.
ELIGIBILITY_SHORT = {
    EligibilityMethod.CODES: _l("Voting code"),
    EligibilityMethod.EMAIL: _l("Email"),
    EligibilityMethod.SMS: _l("Text message"),
    EligibilityMethod.DECLARED: _l("Declared"),
    EligibilityMethod.PAPER: _l("Paper"),
}

# What each way of proving eligibility proves, told plainly to the lead who chooses it.
ELIGIBILITY_PROOFS = {
    EligibilityMethod.CODES: _l(
        "Strong: each code votes once, and the returning officer posts the letters only to residents on "
        "their list. It proves that someone holds the letter, not who they are."
    ),
    EligibilityMethod.EMAIL: _l(
        "Weak: it proves only that someone can read that inbox. Anyone with several addresses can vote "
        "several times, and nothing checks that they live in the area."
    ),
    EligibilityMethod.DECLARED: _l(
        "Weakest: nothing is checked when they vote. Declaring the same details again gives the same voter, "
        "but anyone can declare someone else's details or invent a person. The returning officer can check "
        "the declarations against the electoral register until the results are published."
    ),
    EligibilityMethod.PAPER: _l(
        "As strong as the voting codes the polling helpers check; each paper ballot records which helper entered it."
    ),
    EligibilityMethod.SMS: _l(
        "Weak: it proves only that someone can read text messages to that mobile number. Anyone with several "
        "numbers can vote several times, and nothing checks that they live in the area. Needs GOV.UK Notify."
    ),
}


class DeclaredField(StrEnum):
    """What residents declare to vote by declared identity; the postcode always, to find their area."""

    NAME = "name"
    ADDRESS = "address"  # the first line of the address
    BIRTH_YEAR = "birth_year"


DECLARED_FIELD_LABELS = {
    DeclaredField.NAME: _l("Full name"),
    DeclaredField.ADDRESS: _l("First line of the address"),
    DeclaredField.BIRTH_YEAR: _l("Year of birth"),
}


class Round(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    eligibility: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    minimum_age: int | None = None
    max_project_cost: int | None = Field(default=None, sa_type=MONEY)  # minor units; None: no limit beyond the budget
    eligibility_methods: str = Field(default="codes", max_length=60)  # comma-separated EligibilityMethod values
    # For a declared identity: comma-separated DeclaredField values (the postcode is always declared too).
    declared_fields: str = Field(
        default="name,address", max_length=60, sa_column_kwargs={"server_default": "name,address"}
    )
    currency: str = Field(default="GBP", max_length=3)
    convening_organisation_id: int = Field(foreign_key="organisation.id", index=True)
    phase: str = Field(default=Phase.DRAFT.value, max_length=30)
    proposals_open_at: datetime | None = None
    screening_at: datetime | None = None
    voting_opens_at: datetime | None = None
    voting_closes_at: datetime | None = None
    results_at: datetime | None = None
    created_at: datetime = Field(default_factory=now)
    # Someone who need not belong to any funding anchor, appointed while the round is set
    # up: alone they make voting codes, print letters, replace lost ones and appoint
    # polling helpers. Anchor leads never see a code.
    returning_officer_id: int | None = Field(default=None, foreign_key="user.id")
    # An emergency pause of voting: public, with its reason; it counts and publishes nothing.
    suspended_at: datetime | None = None
    suspension_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The language the round's and its proposals' text is written in, and the other
    # languages it offers that text in (comma-separated site locales; pb.languages).
    source_locale: str = Field(default="en_GB", max_length=10, sa_column_kwargs={"server_default": "en_GB"})
    other_locales: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    # A draft its convening lead deleted: no page shows it, and its audit chain ends there
    # (the chain is append-only, so the row stays).
    deleted_at: datetime | None = None
    # Residents who have voted are asked the optional equality-monitoring questions
    # (pb.equality); chosen by the convening lead, frozen when voting opens.
    equality_monitoring: bool = Field(default=False, sa_column_kwargs={"server_default": false()})

    @property
    def phase_label(self) -> str:
        return str(PHASE_LABELS[Phase(self.phase)])

    def reached(self, phase: Phase) -> bool:
        return PHASES.index(Phase(self.phase)) >= PHASES.index(phase)

    @property
    def methods(self) -> list[EligibilityMethod]:
        return [EligibilityMethod(m) for m in self.eligibility_methods.split(",") if m]

    @property
    def declares(self) -> list[DeclaredField]:
        return [DeclaredField(f) for f in self.declared_fields.split(",") if f]

    @property
    def translated_into(self) -> list[str]:
        """The languages other than its source language that the round offers."""
        return [code for code in self.other_locales.split(",") if code]

    @property
    def is_frozen(self) -> bool:
        """From the opening of voting, what residents vote on cannot change."""
        return self.reached(Phase.VOTING)

    def takes_votes(self, at: datetime) -> bool:
        return takes_votes(self.phase, self.voting_closes_at, self.suspended_at, at)


class Category(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("round_id", "name"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    name: str = Field(max_length=100)


class CharterObjective(SQLModel, table=True):
    """A shared objective the partner anchors agree to pursue (e.g. "net zero")."""

    __tablename__ = "charter_objective"
    __table_args__ = (UniqueConstraint("round_id", "title"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    title: str = Field(max_length=200)


class Area(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("round_id", "name"),
        CheckConstraint("population >= 0", name="population_not_negative"),
        CheckConstraint("electorate >= 0 AND electorate <= population", name="electorate_within_population"),
    )

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    name: str = Field(max_length=120)
    postcodes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # one per line
    # Facts about the area, not ballot rules: how many people live there, and how many of them
    # may vote in the round (None: not known). Turnout is a share of the electorate when it is
    # given, else of the population. Correctable after voting opens, each correction audited
    # (pb.rounds.services.correct_area_figures): they change no ballot and no count.
    population: int | None = None
    electorate: int | None = None

    @property
    def postcode_list(self) -> list[str]:
        return [p for p in self.postcodes.split("\n") if p]


def covers(prefix: str, postcode: str) -> bool:
    """Whether an area's postcode or postcode beginning takes in `postcode` (both
    normalised). "LS6" takes in "LS6 1AA" but "LS1" not "LS12 3AB": a district ends
    where the outward code ends."""
    return (
        postcode.startswith(prefix + " ")
        or postcode == prefix
        or (" " in prefix and postcode.replace(" ", "").startswith(prefix.replace(" ", "")))
    )


# A points ballot unless the lead says otherwise: what Aarau gave its residents.
POINTS_TOTAL, POINTS_MAX = 10, 5
MAX_POINTS = 100  # points each voter has, at most: enough for any real ballot, few to add up


class Contest(SQLModel, table=True):
    """One ballot paper: round-wide (no area) or for one area."""

    __table_args__ = (
        CheckConstraint("min_picks >= 0", name="min_picks_not_negative"),
        CheckConstraint("max_picks >= min_picks", name="max_not_below_min"),
        CheckConstraint("rank_depth >= 1", name="rank_depth_positive"),
        CheckConstraint("points_total >= 1", name="points_total_positive"),
        CheckConstraint("points_max >= 1 AND points_max <= points_total", name="points_max_in_range"),
    )

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    area_id: int | None = Field(default=None, foreign_key="area.id", index=True)
    name: str = Field(max_length=120)
    ballot_kind: str = Field(default=BallotKind.APPROVAL.value, max_length=20)
    min_picks: int = 1
    max_picks: int = 5
    limit_to_budget: bool = False
    rank_depth: int = 3  # ranked: rank up to k projects, worth k, k-1, ..., 1 points
    points_total: int = POINTS_TOTAL  # points: each voter shares out this many points...
    points_max: int = POINTS_MAX  # ...giving at most this many to one project
    rule: str = Field(default="equalshares/add1", max_length=40)

    @property
    def fewest_ticks(self) -> int:
        """The fewest projects an approval ballot on this paper ticks: at least one, also on a
        paper saved with 0 before pb refused it (a ballot with nothing ticked counts for nothing)."""
        return max(self.min_picks, 1)

    @property
    def rule_explanation(self) -> str:
        return str((POINTS_RULES if self.ballot_kind == BallotKind.POINTS.value else RULES)[self.rule])

    @property
    def rule_name(self) -> str:
        return str((POINTS_RULE_NAMES if self.ballot_kind == BallotKind.POINTS.value else RULE_NAMES)[self.rule])


class Partner(SQLModel, table=True):
    """An anchor invited by the convening anchor to fund the round."""

    __table_args__ = (UniqueConstraint("round_id", "organisation_id"),)

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invited_at: datetime = Field(default_factory=now)


class Pot(SQLModel, table=True):
    """Money pledged by one anchor into one contest, in minor units (pence)."""

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: int = Field(default=None, primary_key=True)
    contest_id: int = Field(foreign_key="contest.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=160)
    amount: int = Field(sa_type=MONEY)
    created_at: datetime = Field(default_factory=now)


class RoundContact(SQLModel, table=True):
    """Whom residents ask about a round: on its page, its help page, the ballot and the letters.
    Correctable at any time (a phone number changes), each change audited."""

    __tablename__ = "round_contact"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", unique=True)
    name: str = Field(default="", max_length=200)  # a person or a team
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    hours: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # when the phone is answered

    @property
    def given(self) -> bool:
        return bool(self.name or self.email or self.phone or self.address)


class RoundQuestion(SQLModel, table=True):
    """One entry of a round's frequently asked questions, in the order residents read them."""

    __tablename__ = "round_question"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    position: int
    question: str = Field(max_length=300)
    answer: str = Field(sa_column=Column(Text, nullable=False))


class VotingPlace(SQLModel, table=True):
    """Where residents can vote on paper (a library, a community centre), and when."""

    __tablename__ = "voting_place"

    id: int = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    position: int
    name: str = Field(max_length=200)
    address: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    opening_times: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
