"""Plain data types for an election: projects, ballots and the election itself.

Money is exact: an ``int`` when whole, otherwise a ``fractions.Fraction`` (Pabulib
files carry decimal costs such as ``2458488.22``). Points are exact in the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

Number = int | Fraction

VOTE_TYPES = ("approval", "ordinal", "cumulative", "scoring", "choose-1")


class ElectionError(ValueError):
    """An election that cannot be counted (unknown project, bad budget, ...)."""


# A number as Pabulib writes it: ASCII digits, optionally a decimal part after one "." or
# ",", optionally a leading "-". Nothing else: Python's own parsers also take "1_000",
# "1e3", "+5", "inf", "1/2" and non-ASCII digits such as "١٢٣", which no Pabulib file means.
_NUMBER = re.compile(r"(-?)([0-9]+)(?:[.,]([0-9]+))?")
# int() refuses longer digit strings (CPython's limit is 4300); no real amount is near it.
MAX_DIGITS = 4000


def parse_number(text: str) -> Number:
    """An exact number from Pabulib text such as ``2458488.22``, ``1000,50`` or ``-1``.

    Raises ElectionError for anything else. Whether a negative value makes sense is for
    the caller to decide (a negative budget or cost has its own message).
    """
    match = _NUMBER.fullmatch(text.strip())
    if not match:
        raise ElectionError(f"not a number: {text!r}")
    sign, whole, decimals = match.groups()
    decimals = decimals or ""
    if len(whole) + len(decimals) > MAX_DIGITS:
        raise ElectionError(f"not a number: {text[:20]!r}... has more than {MAX_DIGITS} digits")
    if not decimals:
        return -int(whole) if sign else int(whole)
    number = Fraction(int(whole + decimals), 10 ** len(decimals))
    if sign:
        number = -number
    return number.numerator if number.denominator == 1 else number


def exact(value: Number | str) -> Number:
    """An exact number from an int, a Fraction or Pabulib text (:func:`parse_number`);
    whole values become ints. Floats are refused: they cannot carry money exactly."""
    if isinstance(value, bool):
        raise ElectionError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else value
    if isinstance(value, str):
        return parse_number(value)
    raise ElectionError(f"not an exact number: {value!r} (floats are not accepted)")


@dataclass
class Project:
    """A project on the ballot. ``fields`` holds the other PROJECTS columns as text."""

    project_id: str
    cost: Number
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fields.get("name", "")


@dataclass
class Ballot:
    """One voter's ballot.

    ``vote`` lists project ids; for ordinal ballots the most preferred comes first.
    ``points`` is parallel to ``vote`` for cumulative and scoring ballots, else None.
    ``fields`` holds the other VOTES columns (age, sex, voting_method, ...) as text.
    """

    voter_id: str
    vote: tuple[str, ...]
    points: tuple[Number, ...] | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Election:
    """A whole election: META key/values (text, in file order), projects in file order, ballots.

    ``warnings`` are one-line notes from reading a file that was accepted as it is read by
    other tools (e.g. a ballot naming a project twice). They describe the file, not the
    election, so two elections with the same content compare equal whatever their warnings.
    """

    meta: dict[str, str]
    projects: dict[str, Project]
    ballots: list[Ballot]
    warnings: list[str] = field(default_factory=list, compare=False)

    @property
    def budget(self) -> Number:
        return exact(self.meta["budget"])

    @property
    def vote_type(self) -> str:
        return self.meta.get("vote_type", "approval")

    @property
    def rule(self) -> str | None:
        return self.meta.get("rule")

    def selected_in_file(self) -> list[str] | None:
        """Project ids whose ``selected`` column is 1 (funded by the rule), or None without the column.

        ``selected`` = 2 or 3 marks projects funded outside the rule (see the file's comment),
        so only 1 counts as selected by the rule.
        """
        if not self.projects or not any("selected" in p.fields for p in self.projects.values()):
            return None
        return [pid for pid, p in self.projects.items() if p.fields.get("selected", "").strip() == "1"]


def make_election(
    *,
    budget: Number | str,
    projects: Iterable[tuple[str, Number | str] | Mapping[str, object]],
    ballots: Iterable[Sequence[str] | Mapping[str, object]],
    vote_type: str = "approval",
    rule: str | None = None,
    meta: Mapping[str, str] | None = None,
    max_length: int | None = None,
) -> Election:
    """Build an Election from plain Python data, checking it as the reader would.

    ``projects``: ``(project_id, cost)`` pairs or mappings with ``project_id``, ``cost`` and
    optionally ``name`` and other text fields. Costs are exact (ints, e.g. minor units, or
    Fractions or decimal strings); floats are refused.
    ``ballots``: for approval and choose-1, a sequence of project ids per voter; for ordinal,
    a ranking (most preferred first); for cumulative and scoring, a mapping
    ``{project_id: points}``. A mapping with ``vote`` (and ``points``, ``voter_id``) is also
    accepted.
    """
    if vote_type not in VOTE_TYPES:
        raise ElectionError(f"unknown vote type {vote_type!r}")
    meta_out: dict[str, str] = dict(meta or {})
    project_map: dict[str, Project] = {}
    for item in projects:
        if isinstance(item, Mapping):
            pid = str(item["project_id"])
            cost = exact(cast(Number | str, item["cost"]))  # checked by exact()
            extra = {str(k): str(v) for k, v in item.items() if k not in ("project_id", "cost")}
        else:
            pid, raw_cost = item
            pid = str(pid)
            cost = exact(raw_cost)
            extra = {}
        if pid in project_map:
            raise ElectionError(f"duplicate project id {pid!r}")
        if cost < 0:
            raise ElectionError(f"project {pid!r} has a negative cost")
        project_map[pid] = Project(pid, cost, extra)
    ballot_list: list[Ballot] = []
    for index, ballot_data in enumerate(ballots, start=1):
        voter_id = str(index)
        points: tuple[Number, ...] | None = None
        extra_fields: dict[str, str] = {}
        if isinstance(ballot_data, Mapping) and "vote" in ballot_data:
            voter_id = str(ballot_data.get("voter_id", voter_id))
            # The caller's mapping holds a sequence of ids under "vote" and of numbers under
            # "points" (see above); the mapping's type cannot say so.
            vote = tuple(str(p) for p in cast(Iterable[object], ballot_data["vote"]))
            if ballot_data.get("points") is not None:
                points = tuple(exact(cast(Number | str, x)) for x in cast(Iterable[object], ballot_data["points"]))
        elif isinstance(ballot_data, Mapping):
            vote = tuple(str(p) for p in ballot_data)
            points = tuple(exact(cast(Number | str, v)) for v in ballot_data.values())
        else:
            vote = tuple(str(p) for p in ballot_data)
        ballot = Ballot(voter_id, vote, points, extra_fields)
        check_ballot(ballot, project_map, vote_type)
        ballot_list.append(ballot)
    base = {
        "num_projects": str(len(project_map)),
        "num_votes": str(len(ballot_list)),
        "budget": format_number(exact(budget)),
        "vote_type": vote_type,
    }
    if rule is not None:
        base["rule"] = rule
    if max_length is not None:
        base["max_length"] = str(max_length)
    for key, value in base.items():
        meta_out.setdefault(key, value)
    election = Election(meta_out, project_map, ballot_list)
    if election.budget < 0:
        raise ElectionError("the budget is negative")
    return election


def check_ballot(ballot: Ballot, projects: Mapping[str, Project], vote_type: str) -> None:
    """Raise ElectionError if the ballot names unknown projects, repeats one, or has bad points."""
    seen = set()
    for pid in ballot.vote:
        if pid not in projects:
            raise ElectionError(f"voter {ballot.voter_id!r} votes for unknown project {pid!r}")
        if pid in seen:
            raise ElectionError(f"voter {ballot.voter_id!r} names project {pid!r} twice")
        seen.add(pid)
    if vote_type in ("cumulative", "scoring"):
        if ballot.points is None or len(ballot.points) != len(ballot.vote):
            raise ElectionError(f"voter {ballot.voter_id!r} needs one point value per project ({vote_type} ballot)")
        if vote_type == "cumulative" and any(p < 0 for p in ballot.points):
            raise ElectionError(f"voter {ballot.voter_id!r} gives negative points")
    elif ballot.points is not None:
        raise ElectionError(f"voter {ballot.voter_id!r} has points on a {vote_type} ballot")
    if vote_type == "choose-1" and len(ballot.vote) > 1:
        raise ElectionError(f"voter {ballot.voter_id!r} chooses more than one project")


def format_number(value: Number) -> str:
    """Exact decimal text for a number that came from a decimal (e.g. 2458488.22)."""
    value = exact(value)
    if isinstance(value, int):
        return str(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        raise ElectionError(f"{value} has no exact decimal form")
    places = max(twos, fives)
    scaled = value.numerator * (10**places) // value.denominator
    whole, frac = divmod(scaled, 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"
