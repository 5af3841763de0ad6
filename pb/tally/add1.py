"""add1 completion of the Method of Equal Shares: raise the per-voter share one currency
unit at a time while the outcome is not exhaustive and the next one still fits the budget
(the rule as docs/counting.md states it; see :func:`complete`).

Done one share at a time that is hundreds of full runs, so the first share that stops
add1 is searched for over whole ranges of shares at once: in floating point with proven
bounds for approval ballots (:mod:`pb.tally.boxes`), and with pairs of exact runs
otherwise (:func:`first_stop_exact`). Why both give exactly the share-by-share result:
docs/counting.md, "Why the fast computation is exact".
"""

from __future__ import annotations

import heapq

from . import rational
from .instance import HeapEntry, Instance
from .integer_machine import IntegerMachine
from .machine import Machine
from .outcome import EXHAUSTIVE, OVER_BUDGET, Completion
from .rational import Rational, floor, to_fraction
from .runs import Run, machine_for, run


def complete(inst: Instance, total: Rational, until_exhaustive: bool = True) -> tuple[Run, int, int, Completion]:
    """add1 completion: (final run with explanation, starting share, shares considered, Completion).

    From s = floor(budget / voters), while the outcome at s is not exhaustive, raise s by one
    currency unit if the outcome at s + 1 still fits the budget; otherwise stop at s.
    Equivalently: find the first share t >= start whose outcome is exhaustive or over budget;
    the result is the outcome at t if it fits (it is then exhaustive), else the one at t - 1.

    ``until_exhaustive=False`` is Wieliczka's completion: an exhaustive outcome does not stop
    the raising, only one that funds every project with supporters does.
    """
    start = floor(total / inst.num_voters)
    stops = Stop(inst, total, until_exhaustive)
    first = first_stop(inst, stops, start)
    cost = inst.total_cost(stops.stopped)  # the search ends on the outcome at ``first``
    if cost > total:
        share = first - 1
        completion = Completion(OVER_BUDGET, first, to_fraction(cost))
    else:
        share = first
        completion = Completion(EXHAUSTIVE, first + 1, None)
    return run(inst, rational.Q(share), explain=True), start, first - start + 1, completion


class Stop:
    """Whether add1 stops at an outcome: over budget, or exhaustive (no project with
    supporters outside it fits in the money left; without ``until_exhaustive``: none is
    left outside it at all)."""

    def __init__(self, inst: Instance, total: Rational, until_exhaustive: bool):
        self.inst, self.total, self.until_exhaustive = inst, total, until_exhaustive
        self.stopped: list[int] = []  # the last outcome found to stop add1

    def __call__(self, winners: list[int]) -> bool:
        inst = self.inst
        cost = inst.total_cost(winners)
        chosen = set(winners)
        if cost > self.total or all(
            j in chosen or (self.until_exhaustive and cost + inst.cost[j] > self.total) for j in inst.candidates
        ):
            self.stopped = list(winners)
            return True
        return False

    def certainly_not(self, funded: list[int], maybe: list[int], money: Rational | None = None) -> bool:
        """Whether no outcome made of ``funded`` and some of ``maybe`` can stop add1: what
        they can cost together (at most all of ``maybe``, and at most ``money``, what their
        supporters have, when given) fits, and a project outside them would fit beside
        them (so it stays unfunded, and for the exhaustive flavour, fits in the money
        left)."""
        inst = self.inst
        more = inst.total_cost(maybe)
        if money is not None and money < more:
            more = money
        cost = inst.total_cost(funded) + more
        if cost > self.total:
            return False
        ruled_in = set(funded) | set(maybe)
        others = [j for j in inst.candidates if j not in ruled_in]
        if not self.until_exhaustive:
            return bool(others)
        return any(cost + inst.cost[j] <= self.total for j in others)


def first_stop(inst: Instance, stops: Stop, start: int) -> int:
    """The first whole share t >= start whose outcome stops add1."""
    if inst.approval:
        from . import boxes  # numpy is loaded only when add1 needs it

        def exact_outcome(share: int, certified: list[int]) -> list[int]:
            funded = set(certified)
            heap = [entry for entry in inst.initial_heap if entry[2] not in funded]
            heapq.heapify(heap)
            machine = IntegerMachine(inst, share, heap=heap)
            machine.replay(certified[len(inst.free) :])
            return machine.finish().winners

        return boxes.first_stop(inst, stops, start, exact_outcome)
    return first_stop_exact(inst, stops, start)


# The exact search: two runs at shares lo < hi go round by round side by side, and a
# round's winner is certified for every share in [lo, hi] at once, by monotonicity
# (docs/counting.md, "Why the fast computation is exact").


def first_stop_exact(inst: Instance, stops: Stop, start: int) -> int:
    """:func:`first_stop` with exact runs only (any ballots)."""
    if stops(machine_for(inst, start).finish().winners):
        return start
    low = machine_for(inst, start)
    width = 32
    while True:
        high = machine_for(inst, start + width)
        next_low = high.copy()
        found = _search(inst, stops, low, high)
        if found is not None:
            return found
        low = next_low
        start += width
        width = min(width * 2, 256)


def _search(inst: Instance, stops: Stop, low: Machine, high: Machine) -> int | None:
    """The first share in (low.share, high.share] whose outcome stops add1, or None.

    ``low`` and ``high`` have funded the same projects in the same order so far (both may
    hold a selected winner not yet paid for). The outcome at low.share does not stop add1.
    """
    if high.share - low.share == 1:
        return int(high.share) if stops(high.finish().winners) else None
    if _lockstep(low, high):
        return None  # one outcome for the whole interval: the one at low.share
    middle = _replay(inst, (int(low.share) + int(high.share)) // 2, high)
    found = _search(inst, stops, low, middle.copy())
    if found is not None:
        return found
    return _search(inst, stops, middle, high)


def _lockstep(low: Machine, high: Machine) -> bool:
    """Advance both runs while each round's winner is certified for every share between.
    True when both ended together (one outcome for the whole interval), False when a round
    could not be certified."""
    while True:
        a = low.select()
        b = high.select()
        if a is None or b is None:
            return a is None and b is None
        if a[2] != b[2] or not high.confirm_below(a[0], a[1]):
            return False
        low.commit()
        high.commit()


def _replay(inst: Instance, share: int, high: Machine) -> Machine:
    """The run at ``share`` after the rounds certified so far, bounds taken from ``high``."""
    heap: list[HeapEntry] = list(high.heap)
    if high.pending is not None:
        rho, rank, j = high.pending[:3]
        heap.append((rho, rank, j))
        heapq.heapify(heap)
    machine = machine_for(inst, share, heap=heap)
    if isinstance(machine, IntegerMachine):
        assert isinstance(high, IntegerMachine)  # the same election, the same machine
        machine.replay(high.winners[len(inst.free) :])
        # Prices at this lower share are at least those at the high share (same rounds so far).
        machine.last.update(high.last)
    else:
        for j in high.winners[len(inst.free) :]:
            machine.fund(j)
    return machine
