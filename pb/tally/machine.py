"""One run of the Method of Equal Shares at one per-voter share, a round at a time, in
exact rationals (any ballots). :mod:`pb.tally.integer_machine` is the same run in
integers, for approval ballots."""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from . import rational
from .instance import HeapEntry, Instance
from .pricing import price_approval, price_points
from .rational import Rational

# (rho, tie rank, project, found): a round's winner, selected and not yet paid for;
# ``found`` is the price per supporter for approval ballots, else rho itself.
Selection = tuple[Rational, int, int, Rational]
# What the supporters of a winner paid: (amount, all they had) -> how many voters.
Payments = Counter[tuple[Rational, bool]]


class Machine:
    """One MES run at one per-voter budget, advanced a round at a time.

    Each round is split in two: :meth:`select` finds the winner (exactly), :meth:`commit`
    makes its supporters pay. The add1 search runs two machines side by side and only
    commits when a winner is certified for every budget in between (see :mod:`pb.tally.add1`).

    Lazy evaluation: ``heap`` holds (lower bound on the project's rho, tie rank, project).
    Budgets only shrink, so a project's rho only grows: a stale value is a valid lower
    bound, and a project is only re-evaluated while its bound is below the best exact rho
    found so far in the round.
    """

    __slots__ = ("budgets", "done", "heap", "inst", "pending", "share", "spent", "winners")

    def __init__(
        self,
        inst: Instance,
        share: Rational | int,
        heap: list[HeapEntry] | None = None,
        budgets: list[Any] | None = None,
        winners: list[int] | None = None,
        spent: Rational | None = None,
    ):
        self.inst = inst
        self.share = share
        # Exact rationals here; integer numerators over ``den`` in the integer machine.
        self.budgets: list[Any] = [rational.Q(share)] * len(inst.weights) if budgets is None else budgets
        self.heap = list(inst.initial_heap) if heap is None else heap
        self.winners = list(inst.free) if winners is None else winners
        self.spent = rational.ZERO if spent is None else spent
        self.pending: Selection | None = None  # selected, not yet paid for
        self.done = False

    def copy(self) -> Machine:
        twin = Machine(self.inst, self.share, list(self.heap), list(self.budgets), list(self.winners), self.spent)
        twin.pending = self.pending
        twin.done = self.done
        return twin

    def evaluate(self, j: int) -> tuple[Rational, Rational] | None:
        """(rho, found) for project j now, or None if its supporters cannot afford it.

        ``found`` is the price per supporter for approval ballots, else rho itself."""
        inst = self.inst
        if inst.approval:
            base = inst.base_price[j]
            assert base is not None  # a candidate has supporters
            found = price_approval(
                inst.getters[j](self.budgets), inst.support_weights[j], inst.support_weight[j], inst.cost[j], base
            )
            if found is None:
                return None
            return found / inst.cost[j], found
        rho = price_points(self.budgets, inst.weights, inst.supporters[j], inst.utilities[j], inst.cost[j])
        return None if rho is None else (rho, rho)

    def select(self) -> Selection | None:
        """The round's winner as (rho, rank, project, found), or None when nothing is affordable."""
        if self.pending is not None or self.done:
            return self.pending
        heap = self.heap
        evaluate = self.evaluate
        best: Selection | None = None
        evaluated: list[HeapEntry] = []
        while heap:
            key, rk, j = heap[0]
            if best is not None and (key, rk) > (best[0], best[1]):
                break
            heapq.heappop(heap)
            found = evaluate(j)
            if found is None:
                continue  # its supporters cannot afford it now, nor later
            rho = found[0]
            evaluated.append((rho, rk, j))
            if best is None or (rho, rk) < (best[0], best[1]):
                best = (rho, rk, j, found[1])
        if best is None:
            self.done = True
            return None
        w = best[2]
        for entry in evaluated:
            if entry[2] != w:
                heapq.heappush(heap, entry)
        self.pending = best
        return best

    def confirm_below(self, rho: Rational, rank: int) -> bool:
        """Re-evaluate every project whose bound is below (rho, rank); False if one's exact
        rho is below it. Afterwards every bound left in the heap is above (rho, rank)."""
        heap = self.heap
        bound = (rho, rank)
        refreshed = []
        ok = True
        while heap and (heap[0][0], heap[0][1]) < bound:
            _, rk, j = heapq.heappop(heap)
            found = self.evaluate(j)
            if found is None:
                continue
            refreshed.append((found[0], rk, j))
            if (found[0], rk) < bound:
                ok = False
                break
        for entry in refreshed:
            heapq.heappush(heap, entry)
        return ok

    def tied_with(self, rho: Rational) -> list[int]:
        """The projects (other than the selected winner) whose rho is exactly ``rho`` now."""
        heap = self.heap
        refreshed = []
        tied = []
        while heap and heap[0][0] <= rho:
            _, rk, j = heapq.heappop(heap)
            found = self.evaluate(j)
            if found is None:
                continue
            refreshed.append((found[0], rk, j))
            if found[0] == rho:
                tied.append(j)
        for entry in refreshed:
            heapq.heappush(heap, entry)
        return sorted(tied, key=self.inst.rank.__getitem__)

    def commit(self, paid: Payments | None = None) -> Selection:
        """Make the supporters of the selected winner pay; returns the selection."""
        chosen = self.pending
        assert chosen is not None, "select() first"
        rho, _, w, found = chosen
        self.pending = None
        inst = self.inst
        budgets = self.budgets
        sup = inst.supporters[w]
        self.winners.append(w)
        self.spent += inst.cost[w]
        if paid is None and inst.approval:
            new = [b - found if b > found else rational.ZERO for b in inst.getters[w](budgets)]
            consume(map(budgets.__setitem__, sup, new))
            return chosen
        weights = inst.weights
        if inst.approval:
            for g in sup:
                b = budgets[g]
                if b > found:
                    budgets[g] = b - found
                    if paid is not None:
                        paid[(found, False)] += weights[g]
                else:
                    budgets[g] = rational.ZERO
                    if paid is not None and b:
                        paid[(b, True)] += weights[g]
        else:
            for g, u in zip(sup, inst.utilities[w], strict=False):
                b = budgets[g]
                pay = rho * u
                if b > pay:
                    budgets[g] = b - pay
                    if paid is not None:
                        paid[(pay, False)] += weights[g]
                else:
                    budgets[g] = rational.ZERO
                    if paid is not None and b:
                        paid[(b, True)] += weights[g]
        return chosen

    def finish(self) -> Machine:
        while self.select() is not None:
            self.commit()
        return self

    def fund(self, j: int) -> None:
        """Replay: fund project j, known to win this round (certified by the add1 search)."""
        found = self.evaluate(j)
        assert found is not None
        self.pending = (found[0], self.inst.rank[j], j, found[1])
        self.commit()


def consume(iterator: Iterable[Any]) -> None:
    """Run an iterator for its effects (C-speed ``map`` over a setter)."""
    deque(iterator, maxlen=0)
