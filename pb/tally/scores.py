"""What each ballot is worth to each project, and the published tie-breaking order.

- Approval and choose-1 ballots: one vote per approved project; for equal shares a
  voter's utility for a project is its cost ("cost utilities").
- Cumulative and scoring ballots: the points the voter gave.
- Ordinal (ranked) ballots become points: with ``k`` = the file's ``max_length`` (or the
  number of projects when there is none), the project ranked r-th (r = 1 first) gets
  ``k - r + 1`` points ("k..1", Borda on a top-k). Kraków's top-three ballots therefore
  give 3-2-1, which is how its ``score`` column was computed.

Ties between projects, in every rule, are broken by one order: the order in which the
file lists its projects (in the web app, the ballot order drawn when voting opened). This
is what the cities did: in every real greedy file where a tie decides the outcome, the
project listed first was funded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .election import Election, Number

POINTS_TYPES = ("cumulative", "scoring")


def rank_points(election: Election) -> int:
    """``k`` in the k..1 scheme for ordinal ballots."""
    max_length = election.meta.get("max_length", "").strip()
    if max_length.isdigit() and int(max_length) > 0:
        return int(max_length)
    return len(election.projects)


def ballot_points(election: Election) -> Iterator[list[tuple[str, Number]]]:
    """Yield, per ballot, a list of (project_id, points) pairs, points > 0 only.

    For approval ballots the "points" are 1 per approved project.
    """
    vote_type = election.vote_type
    if vote_type in POINTS_TYPES:
        for ballot in election.ballots:
            yield [(p, x) for p, x in zip(ballot.vote, ballot.points or (), strict=False) if x > 0]
    elif vote_type == "ordinal":
        k = rank_points(election)
        for ballot in election.ballots:
            yield [(p, k - r) for r, p in enumerate(ballot.vote) if k - r > 0]
    else:
        for ballot in election.ballots:
            yield [(p, 1) for p in ballot.vote]


@dataclass
class Tally:
    """Per project: how many voters named it (``supporters``) and its ``score``.

    ``score`` is the number of votes for approval ballots and the number of points
    for cumulative, scoring and ordinal ballots (Pabulib's ``votes`` and ``score``).
    """

    supporters: dict[str, int]
    score: dict[str, Number]


def tally(election: Election) -> Tally:
    supporters = dict.fromkeys(election.projects, 0)
    score: dict[str, Number] = dict.fromkeys(election.projects, 0)
    for ballot in election.ballots:
        for pid in ballot.vote:
            supporters[pid] += 1
    if election.vote_type in POINTS_TYPES or election.vote_type == "ordinal":
        for pairs in ballot_points(election):
            for pid, points in pairs:
                score[pid] += points
    else:
        score = dict(supporters)
    return Tally(supporters, score)


def tie_order(election: Election) -> dict[str, int]:
    """Rank of each project in the tie-breaking order (0 wins every tie): its position in
    the file's PROJECTS section."""
    return {pid: position for position, pid in enumerate(election.projects)}
