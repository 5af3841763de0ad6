"""Turnout: how many people have voted, by area and by how they proved they may vote, beside
how many live there and may vote.

One function, `round_turnout`, serves both the leads and returning officer while voting is
open (the voters with a current ballot now) and everyone once the results are published
(the voters whose ballots the count counted).

Counts of voters only, never of ballots per contest nor of votes for projects (promise 2):
a voter counts once they have a current ballot in any contest, so replacing a ballot, or
casting a second ballot paper, changes no figure, and two sets of ballots cast by the same
voters give the same table whatever they chose. What the figures do tell, while voting is
open, is that someone in an area proving eligibility a given way has voted: participation,
which turnout is about, never a choice (docs/security.md says why that is safe).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import func
from sqlmodel import Session, col, select

from pb.rounds.models import Area, EligibilityMethod, Phase, Round
from pb.voting.models import Ballot, Voter


@dataclass
class TurnoutRow:
    """An area (None: voters of no area, or the round as a whole) and its figures."""

    area: Area | None
    voters: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    population: int | None = None
    electorate: int | None = None

    @property
    def base(self) -> int | None:
        """What turnout is a share of: the electorate if known, else the population."""
        return self.electorate if self.electorate is not None else self.population

    @property
    def share(self) -> Fraction | None:
        """Voters as a share of the base (None when there is none to divide by)."""
        return Fraction(self.voters, self.base) if self.base else None


@dataclass
class Turnout:
    rows: list[TurnoutRow]  # every area of the round by name, then voters of no area (if any); none without areas
    whole: TurnoutRow  # the round as a whole
    methods: list[str]  # the ways of proving eligibility counted, in a fixed order


def voters_with_a_ballot(session: Session, round_: Round, *, counted: bool) -> list[tuple[int | None, str, int]]:
    """(area, method, voters) for the voters who have a current ballot in the round now, or
    (`counted`) a ballot the count counted: each voter counted once, however many ballots
    they cast, replaced, or cast on paper and online."""
    has_ballot = col(Ballot.counted) if counted else col(Ballot.is_current)
    return [
        (area_id, method, voters)
        for area_id, method, voters in session.exec(
            select(col(Voter.area_id), col(Voter.method), func.count(func.distinct(col(Voter.id))))
            .join(Ballot, col(Ballot.voter_id) == col(Voter.id))
            .where(col(Voter.round_id) == round_.id, has_ballot)
            .group_by(col(Voter.area_id), col(Voter.method))
        )
    ]


def round_turnout(session: Session, round_: Round) -> Turnout:
    """The round's turnout table: once counted, the voters whose ballots the count counted
    (what the results publish); before, those with a current ballot now. At the close the
    two are the same voters, so the leads' page does not jump when the count is taken."""
    return turnout_of(session, round_, voters_with_a_ballot(session, round_, counted=round_.reached(Phase.COUNTED)))


def _total(values: list[int | None]) -> int | None:
    """The sum when every value is known (a round's population is its areas' only when each is given)."""
    return sum(v for v in values if v is not None) if values and None not in values else None


def turnout_of(session: Session, round_: Round, figures: Iterable[tuple[int | None, str, int]]) -> Turnout:
    """The turnout table of a round from (area, method, voters) figures."""
    areas = list(session.exec(select(Area).where(col(Area.round_id) == round_.id).order_by(col(Area.name))))
    rows: dict[int | None, TurnoutRow] = {
        area.id: TurnoutRow(area, population=area.population, electorate=area.electorate) for area in areas
    }
    methods = [m.value for m in EligibilityMethod if m in round_.methods]
    for area_id, method, voters in figures:
        row = rows.setdefault(area_id, TurnoutRow(None))
        row.voters += voters
        row.by_method[method] = row.by_method.get(method, 0) + voters
        if method not in methods:  # one the round does not list: still counted, after the others
            methods.append(method)
    whole = TurnoutRow(
        None,
        voters=sum(row.voters for row in rows.values()),
        population=_total([area.population for area in areas]),
        electorate=_total([area.electorate for area in areas]),
    )
    for row in rows.values():
        for method, voters in row.by_method.items():
            whole.by_method[method] = whole.by_method.get(method, 0) + voters
    # A round with no areas is one area: the whole round, with no row of its own.
    return Turnout(rows=list(rows.values()) if areas else [], whole=whole, methods=methods)
