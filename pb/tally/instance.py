"""An election reduced to what the Method of Equal Shares needs: projects as indices,
identical ballots counted once with a weight, costs and utilities as exact rationals.
Computed once per count and shared by every run (add1 runs many)."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter, mul
from typing import Any, Protocol, TypeVar

from . import rational
from .election import Election
from .rational import Rational
from .scores import Tally, ballot_points, tie_order

T = TypeVar("T")

# (lower bound on the project's rho, tie rank, project): the order in which a run looks
# at projects (see pb.tally.machine).
HeapEntry = tuple[Rational, int, int]


class Instance:
    """The election reduced to what MES needs, computed once and reused by add1.

    Projects are indices into ``pids`` (file order); voters are groups of identical
    ballots, group g holding ``weights[g]`` voters. ``supporters[j]`` lists the groups
    supporting project j and ``utilities[j]`` their points (empty for approval ballots,
    whose utility is the project's cost).
    """

    def __init__(self, election: Election, counts: Tally):
        self.election = election
        self.pids = list(election.projects)
        index = {pid: i for i, pid in enumerate(self.pids)}
        self.approval = election.vote_type in ("approval", "choose-1")
        self.num_voters = len(election.ballots)
        m = len(self.pids)
        self.supporters: list[list[int]] = [[] for _ in range(m)]
        self.utilities: list[list[Rational]] = [[] for _ in range(m)]
        Q = rational.Q
        self.group_keys: list[tuple[Any, ...]]
        if self.approval:
            # Identical ballots always hold identical budgets: count each once, with a weight.
            votes = Counter(ballot.vote for ballot in election.ballots)
            groups: Counter[tuple[Any, ...]] = Counter()
            for vote, weight in votes.items():
                groups[tuple(sorted(map(index.__getitem__, vote)))] += weight
            self.group_keys = list(groups)
            self.weights = [groups[k] for k in self.group_keys]
            for g, key in enumerate(self.group_keys):
                for j in key:
                    self.supporters[j].append(g)
        else:
            groups = Counter()
            for pairs in ballot_points(election):
                groups[tuple(sorted((index[p], x) for p, x in pairs))] += 1
            self.group_keys = list(groups)
            self.weights = [groups[k] for k in self.group_keys]
            for g, key in enumerate(self.group_keys):
                for j, x in key:
                    self.supporters[j].append(g)
                    self.utilities[j].append(Q(x))
        self.getters = [getter(sup) for sup in self.supporters]
        self.support_weights: list[list[int]] = [list(get(self.weights)) for get in self.getters]
        self.support_weight = [sum(ws) for ws in self.support_weights]
        self.cost = [Q(election.projects[pid].cost) for pid in self.pids]
        ranks = tie_order(election)
        self.rank = [ranks[pid] for pid in self.pids]
        # Projects nobody supports are never funded; free projects with support always are.
        self.free = sorted(
            (j for j in range(m) if self.support_weight[j] and self.cost[j] == 0), key=self.rank.__getitem__
        )
        self.candidates = [j for j in range(m) if self.support_weight[j] and self.cost[j] > 0]
        # The price per supporter when nobody is poor, and each project's first lower bound
        # on rho (the price per unit of utility if every supporter could pay in full).
        self.base_price: list[Rational | None] = [
            self.cost[j] / self.support_weight[j] if self.support_weight[j] else None for j in range(m)
        ]
        heap: list[HeapEntry] = []
        for j in self.candidates:
            if self.approval:
                heap.append((Q(1, self.support_weight[j]), self.rank[j], j))
            else:
                total_utility = sum(map(mul, self.support_weights[j], self.utilities[j]), rational.ZERO)
                heap.append((self.cost[j] / total_utility, self.rank[j], j))
        heapq.heapify(heap)
        self.initial_heap = heap
        if self.approval:
            self.base_rho: list[Rational | None] = [Q(1, w) if w else None for w in self.support_weight]

    def total_cost(self, winners: list[int]) -> Rational:
        return sum((self.cost[j] for j in winners), rational.ZERO)


class Getter(Protocol):
    """Picks fixed positions out of a list (a project's supporters out of every group)."""

    def __call__(self, values: Sequence[T], /) -> tuple[T, ...]: ...


def getter(indices: list[int]) -> Getter:
    """A C-speed function picking ``indices`` out of a list, always returning a tuple."""
    if len(indices) == 1:
        only = indices[0]
        return lambda values: (values[only],)
    if not indices:
        return lambda values: ()
    return itemgetter(*indices)
