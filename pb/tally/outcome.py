"""The result of a count, with its explanation, as plain data.

Every reason has a short machine code (for the results pages to translate) and the
numbers behind it. ``Outcome.to_dict()`` gives JSON-ready data: whole numbers stay
numbers; other exact values become strings (``"2458488.22"`` or ``"1/3"``), so no float
ever stands in for money.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from fractions import Fraction
from typing import Any

from .election import ElectionError, Number, format_number

# Stopping reasons of add1 completion.
EXHAUSTIVE = "exhaustive"
OVER_BUDGET = "over_budget"

# Reason codes for projects that were not funded.
NO_SUPPORT = "no_support"  # nobody voted for it
DOES_NOT_FIT = "does_not_fit"  # greedy: its cost exceeded the money left
BELOW_THRESHOLD = "below_threshold"  # greedy-threshold: score under the minimum
STOPPED = "stopped"  # greedy-no-skip: counting stopped at an earlier project
NOT_AFFORDABLE = "not_affordable"  # equal shares: its supporters had too little money left
GREEDY_PREFERRED = "greedy_preferred"  # comparison step chose the greedy outcome instead


@dataclass
class Reason:
    """Why a project was not funded: a code, an English sentence (for the command line and
    logs) and the figures behind it, for a results page to write its own sentence:

    - ``not_affordable``: ``left`` (what its supporters had between them), ``cost``;
    - ``does_not_fit``: ``left`` (money left when it was considered), ``cost``;
    - ``below_threshold``: ``score``, ``threshold``;
    - ``stopped``: ``at`` (the project at which greedy-no-skip stopped);
    - ``no_support``, ``greedy_preferred``: none.
    """

    code: str
    detail: str
    figures: dict[str, Number | str] = field(default_factory=dict)


@dataclass
class GreedyStep:
    """One project considered by greedy, in the order considered."""

    project_id: str
    score: Number
    cost: Number
    funded: bool
    remaining: Number  # money left after this step
    reason: Reason | None = None  # why it was not funded


@dataclass
class PaymentGroup:
    """Supporters of a winner who paid the same amount."""

    supporters: int
    paid_each: Number
    all_they_had: bool  # they could not pay the full price and paid their whole remaining share


@dataclass
class EqualSharesRound:
    """One winner of the Method of Equal Shares."""

    project_id: str
    cost: Number
    # Price per unit of utility (rho). Utility is the project's cost for approval ballots and
    # the points given otherwise, so a supporter pays min(their money, rho * utility).
    rho: Number
    # What a supporter who could afford it paid: rho * cost for approval ballots; for
    # point ballots the price per point (= rho).
    price_per_supporter: Number
    effective_votes: Number  # cost / price_per_supporter, for approval ballots
    payments: list[PaymentGroup]


@dataclass
class Comparison:
    """equalshares/add1-comparison: which outcome a majority of voters preferred."""

    prefer_equal_shares: int
    prefer_greedy: int
    chosen: str  # "equalshares" or "greedy"
    greedy_selected: list[str]


@dataclass
class Tie:
    """Projects exactly equal on what the rule compares at one step (greedy: score; equal
    shares: rho in that round), in the order the tie-break put them (file order).

    ``step`` is the greedy step or equal-shares round (from 1) where the tie was met;
    ``decisive`` is true when one of them ended up not funded, i.e. the order mattered.
    """

    step: int
    projects: list[str]
    decisive: bool


@dataclass
class Completion:
    """Why add1 stopped raising the share: the outcome at ``per_voter_budget`` was
    ``exhaustive`` (no other project with supporters fits in the money left), or the next
    share's outcome (at ``next_per_voter_budget``, costing ``next_cost``) is ``over_budget``."""

    stopped: str
    next_per_voter_budget: Number
    next_cost: Number | None = None


@dataclass
class Explanation:
    """How the outcome came about.

    For greedy rules, ``steps`` lists every project in the order considered. For equal
    shares, ``rounds`` lists the winners in order; ``per_voter_budget`` is each voter's
    share in the run that decided (after add1 completion, the last one that fitted).
    ``unfunded`` says, for each project not selected, why not.
    """

    kind: str  # "greedy" or "equalshares"
    steps: list[GreedyStep] = field(default_factory=list)
    rounds: list[EqualSharesRound] = field(default_factory=list)
    per_voter_budget: Number | None = None
    start_per_voter_budget: Number | None = None
    completion_runs: int | None = None
    comparison: Comparison | None = None
    threshold: Number | None = None
    unfunded: dict[str, Reason] = field(default_factory=dict)
    ties: list[Tie] = field(default_factory=list)
    completion: Completion | None = None


@dataclass
class Outcome:
    rule: str
    budget: Number
    selected: list[str]  # project ids in selection order
    cost: Number
    scores: dict[str, Number]  # votes (approval) or points, per project
    supporters: dict[str, int]  # voters who named each project
    explanation: Explanation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (see the module docstring for how numbers are written)."""
        data = _plain(self)
        assert isinstance(data, dict)  # a dataclass becomes a dict
        return data


def json_number(value: Number) -> int | str:
    if isinstance(value, int):
        return value
    value = Fraction(value)
    if value.denominator == 1:
        return value.numerator
    try:
        return format_number(value)
    except ElectionError:
        return f"{value.numerator}/{value.denominator}"


def as_text(value: Number) -> str:
    """A number for a human-readable reason: ``1500``, ``2458488.22`` or ``1/3``."""
    return str(json_number(value))


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Fraction)):
        return json_number(value)
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    # gmpy2 numbers from the fast path
    try:
        return json_number(Fraction(int(value.numerator), int(value.denominator)))
    except AttributeError:
        raise TypeError(f"cannot make {type(value).__name__} plain") from None
