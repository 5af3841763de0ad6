"""The MES run of :mod:`pb.tally.machine` for approval ballots, in integers: the same
numbers, only faster (docs/counting.md, "How equal shares is computed")."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from math import gcd
from operator import and_, mul, not_

from . import rational
from .instance import Getter, HeapEntry, Instance, getter
from .machine import Machine, Payments, Selection, consume
from .pricing import int_price, price_approval
from .rational import Rational

# A project's supporters who had money left when the view was made (see IntegerMachine._view):
# (getter, their weights, the weight of the rest, the round the view was made in).
View = tuple[Getter, list[int], int, int]


class IntegerMachine(Machine):
    """The same run for approval ballots, in integers.

    Every budget is an integer numerator over one common denominator ``den`` (the least
    common multiple of the denominators of the share and of every price paid so far), so
    testing "has less than the price" is an integer comparison against a threshold and
    sums are integer sums; rationals are only built for the results (rho and prices).
    Exactly the same numbers as :class:`~pb.tally.machine.Machine`, only faster (why:
    docs/counting.md, "Why the fast computation is exact").
    """

    __slots__ = ("alive", "den", "last")

    def __init__(self, inst: Instance, share: Rational | int, heap: list[HeapEntry] | None = None):
        super().__init__(inst, share, heap=heap, budgets=[])
        exact = rational.Q(share)
        self.den = int(exact.denominator)
        self.budgets = [int(exact.numerator)] * len(inst.weights)
        self.alive: dict[int, View] = {}  # project -> its supporters with money left, see _view
        self.last: dict[int, Rational] = {}  # project -> its price per supporter when last evaluated

    def copy(self) -> IntegerMachine:
        twin = IntegerMachine.__new__(IntegerMachine)
        for name in Machine.__slots__:
            setattr(twin, name, getattr(self, name))
        twin.den = self.den
        twin.alive = dict(self.alive)
        twin.last = dict(self.last)
        twin.heap = list(self.heap)
        twin.winners = list(self.winners)
        twin.budgets = list(self.budgets)
        return twin

    def evaluate(self, j: int) -> tuple[Rational, Rational] | None:
        """(rho, price per supporter) for project j, or None if unaffordable.

        With budgets B/den and c = cost * den, the price for a set of poor supporters is
        (c - sum of their B) / (den * (weight - their weight)); B is below it exactly when
        B < ceil((c - paid) / (weight - poor weight)).
        """
        inst = self.inst
        cost = inst.cost[j]
        exact_c = cost * self.den
        if exact_c.denominator != 1:
            return self._rational_evaluate(j, inst.getters[j](self.budgets))
        c = int(exact_c)
        get, weights, poor_weight, _ = self._view(j)
        total_weight = inst.support_weight[j]
        if poor_weight == total_weight:
            return None  # nobody has anything left
        budgets = get(self.budgets)
        # Supporters with nothing left are poor whatever the price, and pay nothing.
        threshold = -(-c // (total_weight - poor_weight))
        if not poor_weight and min(budgets) >= threshold:
            rho, base = inst.base_rho[j], inst.base_price[j]
            assert rho is not None
            assert base is not None
            return rho, base  # nobody is poor
        # Prices only rise, so whoever has less than the last price is poor now: start there.
        # (Any start x at most the price works: the poor set {B < x} gives a price >= x.)
        last = self.last.get(j)
        if last is not None:
            threshold = max(threshold, -((-int(last.numerator) * self.den) // int(last.denominator)))
        mask = list(map(threshold.__gt__, budgets))
        paid = 0
        while True:
            weight = sum(compress(weights, mask))
            if not weight:
                break
            poor_weight += weight
            if poor_weight == total_weight:
                return None  # even everything they have is not enough
            paid += sum(map(mul, compress(budgets, mask), compress(weights, mask)))
            previous = threshold
            threshold = -((paid - c) // (total_weight - poor_weight))
            mask = list(map(and_, map(threshold.__gt__, budgets), map(previous.__le__, budgets)))
        found = rational.Q(c - paid, self.den * (total_weight - poor_weight))
        self.last[j] = found
        return found / cost, found

    def _view(self, j: int) -> View:
        """(getter, weights, weight of the rest) for project j's supporters who had money
        left when the view was made; refreshed every few rounds. Budgets never grow, so the
        rest still have nothing; some in the view may have run out since (that is fine)."""
        view = self.alive.get(j)
        if view is None or len(self.winners) - view[3] >= 3:
            inst = self.inst
            mask = list(map(bool, inst.getters[j](self.budgets)))
            weights = list(compress(inst.support_weights[j], mask))
            view = (
                getter(list(compress(inst.supporters[j], mask))),
                weights,
                inst.support_weight[j] - sum(weights),
                len(self.winners),
            )
            self.alive[j] = view
        return view

    def replay(self, winners: list[int]) -> None:
        """Fund ``winners`` in order, each already certified to win its round.

        Only the winner's supporters are read in each round, so instead of rescaling every
        budget whenever the denominator grows, each group remembers the epoch of its
        numerator (``levels``; facs[e] = den / the denominator in epoch e) and everything is
        brought up to date once at the end.
        """
        inst = self.inst
        budgets = self.budgets
        levels = [0] * len(budgets)
        facs = [1]
        den = self.den
        for w in winners:
            get = inst.getters[w]
            sup = inst.supporters[w]
            values: Sequence[int] = get(budgets)
            epoch = len(facs) - 1
            held = get(levels)
            if min(held) != epoch:
                values = list(map(mul, values, map(facs.__getitem__, held)))
            cost = inst.cost[w]
            base = inst.base_price[w]
            assert base is not None  # a winner has supporters
            found = int_price(values, inst.support_weights[w], inst.support_weight[w], cost, den, base)
            assert found is not None  # certified by the caller
            scale = int(found.denominator) // gcd(int(found.denominator), den)
            if scale != 1:
                den *= scale
                facs = [f * scale for f in facs]
                facs.append(1)
                epoch += 1
                values = list(map(scale.__mul__, values))
            price = int(found * den)
            consume(map(budgets.__setitem__, sup, [b - price if b > price else 0 for b in values]))
            consume(map(levels.__setitem__, sup, repeat(epoch, len(sup))))
            self.winners.append(w)
            self.spent += cost
        self.budgets = list(map(mul, budgets, map(facs.__getitem__, levels)))
        self.den = den

    def _rational_evaluate(self, j: int, budgets: Sequence[int]) -> tuple[Rational, Rational] | None:
        """A cost with more decimals than the common denominator: exact rationals."""
        inst = self.inst
        den = self.den
        base = inst.base_price[j]
        assert base is not None  # a candidate has supporters
        found = price_approval(
            tuple(rational.Q(b, den) for b in budgets),
            inst.support_weights[j],
            inst.support_weight[j],
            inst.cost[j],
            base,
        )
        return None if found is None else (found / inst.cost[j], found)

    def commit(self, paid: Payments | None = None) -> Selection:
        chosen = self.pending
        assert chosen is not None, "select() first"
        _, _, w, found = chosen
        self.pending = None
        inst = self.inst
        sup = inst.supporters[w]
        # Bring every budget onto a denominator that the price also fits.
        scale = int(found.denominator) // gcd(int(found.denominator), self.den)
        budgets = self.budgets
        if scale != 1:
            budgets = self.budgets = list(map(scale.__mul__, budgets))
            self.den *= scale
        price = int(found * self.den)
        old = inst.getters[w](budgets)
        if min(old) > price:  # everybody pays the price
            consume(map(budgets.__setitem__, sup, map(price.__rsub__, old)))
            rich = None
        else:
            rich = list(map(price.__lt__, old))
            consume(map(budgets.__setitem__, sup, [b - price if r else 0 for b, r in zip(old, rich, strict=True)]))
        if paid is not None:
            weights = inst.support_weights[w]
            if rich is None:
                paid[(found, False)] += inst.support_weight[w]
            else:
                rich_weight = sum(compress(weights, rich))
                if rich_weight:
                    paid[(found, False)] += rich_weight
                poor = list(map(not_, rich))
                den = self.den
                for b, weight in zip(compress(old, poor), compress(weights, poor), strict=False):
                    if b:
                        paid[(rational.Q(b, den), True)] += weight
        self.winners.append(w)
        self.spent += inst.cost[w]
        return chosen
