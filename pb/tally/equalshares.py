"""The Method of Equal Shares (MES), with add1 completion and the comparison step.

Each voter starts with an equal share of the budget. Repeatedly, among the projects whose
supporters still have enough money between them, fund the one that is cheapest for its
supporters: the one with the lowest price per unit of utility ``rho``, where each
supporter pays ``min(their money, rho * utility)``. Utility is the project's cost for
approval ballots ("cost utilities": every supporter who can, pays the same amount) and
the points given for cumulative, scoring and ordinal-as-points ballots. Stop when no
project is affordable. Ties: the published order in :mod:`pb.tally.scores`.

``equalshares/add1`` (as in Wieliczka 2023, Świecie 2023 and Assen, and as the reference
at equalshares.net defines it): MES leaves money unspent, so start each voter at
``floor(budget / voters)`` currency units and, while the outcome is not exhaustive (some
project with supporters outside it still fits in the money left), raise the share by one
unit if the outcome at the next share still fits the budget. ``equalshares/add1-comparison``
then compares that outcome
with greedy-by-votes: if more voters have more funded projects they voted for under
greedy than under equal shares, greedy's outcome is used.

All arithmetic is exact: gmpy2's ``mpq`` when installed (much faster), otherwise
``fractions.Fraction``.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Callable
from fractions import Fraction
from itertools import compress, repeat
from math import gcd
from operator import and_, itemgetter, mul, not_

from .election import Election, ElectionError, Number
from .outcome import (
    GREEDY_PREFERRED,
    NO_SUPPORT,
    NOT_AFFORDABLE,
    EXHAUSTIVE,
    OVER_BUDGET,
    Comparison,
    Completion,
    EqualSharesRound,
    Explanation,
    PaymentGroup,
    Reason,
    Tie,
)
from .outcome import (
    as_text as _text,
)
from .scores import Tally, ballot_points, tie_order

try:  # gmpy2 is optional: exact either way, only the speed differs.
    from gmpy2 import mpq as Q
except ImportError:  # pragma: no cover - exercised by the pure-Python test
    Q = Fraction  # type: ignore[misc,assignment]

ZERO = Q(0)


def use_pure_python(flag: bool) -> None:
    """Switch between gmpy2 and fractions.Fraction (for tests of the fallback)."""
    global Q, ZERO
    if flag:
        Q = Fraction  # type: ignore[misc,assignment]
    else:
        from gmpy2 import mpq

        Q = mpq  # type: ignore[misc,assignment]
    ZERO = Q(0)


def to_fraction(value) -> Number:
    if isinstance(value, int):
        return value
    value = Fraction(int(value.numerator), int(value.denominator))
    return value.numerator if value.denominator == 1 else value


class _Instance:
    """The election reduced to what MES needs, computed once and reused by add1."""

    def __init__(self, election: Election, counts: Tally):
        self.election = election
        self.pids = list(election.projects)
        index = {pid: i for i, pid in enumerate(self.pids)}
        self.approval = election.vote_type in ("approval", "choose-1")
        self.num_voters = len(election.ballots)
        m = len(self.pids)
        self.supporters: list[list[int]] = [[] for _ in range(m)]
        self.utilities: list[list] = [[] for _ in range(m)]
        if self.approval:
            # Identical ballots always hold identical budgets: count each once, with a weight.
            votes = Counter(ballot.vote for ballot in election.ballots)
            groups: Counter = Counter()
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
        self.getters = [_getter(sup) for sup in self.supporters]
        self.support_weights = [list(get(self.weights)) for get in self.getters]
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
        self.base_price = [self.cost[j] / self.support_weight[j] if self.support_weight[j] else None for j in range(m)]
        heap = []
        for j in self.candidates:
            if self.approval:
                heap.append((Q(1, self.support_weight[j]), self.rank[j], j))
            else:
                total_utility = sum(map(mul, self.support_weights[j], self.utilities[j]), ZERO)
                heap.append((self.cost[j] / total_utility, self.rank[j], j))
        heapq.heapify(heap)
        self.initial_heap = heap
        if self.approval:
            self.base_rho = [Q(1, w) if w else None for w in self.support_weight]

    def total_cost(self, winners: list[int]):
        return sum((self.cost[j] for j in winners), ZERO)


def _getter(indices: list[int]):
    """A C-speed function picking ``indices`` out of a list, always returning a tuple."""
    if len(indices) == 1:
        only = indices[0]
        return lambda values: (values[only],)
    if not indices:
        return lambda values: ()
    return itemgetter(*indices)


class _Run:
    """The result of one MES run at a given per-voter budget."""

    def __init__(self, per_voter, winners: list[int], budgets: list, rounds: list[EqualSharesRound] | None):
        self.per_voter = per_voter
        self.winners = winners
        self.budgets = budgets  # exact, or integers over ``denominator``
        self.denominator: int | None = None
        self.rounds = rounds
        self.ties: list[tuple[int, list[int]]] = []  # (round from 1, [winner, *tied]) when explained

    def left(self, inst: _Instance, j: int):
        """What the supporters of project j have left between them."""
        if not self.budgets:
            return ZERO
        if self.denominator is None:
            return sum(map(mul, inst.getters[j](self.budgets), inst.support_weights[j]), ZERO)
        return Q(sum(map(mul, inst.getters[j](self.budgets), inst.support_weights[j])), self.denominator)


class _Machine:
    """One MES run at one per-voter budget, advanced a round at a time.

    Each round is split in two: :meth:`select` finds the winner (exactly), :meth:`commit`
    makes its supporters pay. The add1 search runs two machines side by side and only
    commits when a winner is certified for every budget in between (see :func:`_add1`).

    Lazy evaluation: ``heap`` holds (lower bound on the project's rho, tie rank, project).
    Budgets only shrink, so a project's rho only grows: a stale value is a valid lower
    bound, and a project is only re-evaluated while its bound is below the best exact rho
    found so far in the round.
    """

    __slots__ = ("budgets", "done", "heap", "inst", "pending", "share", "spent", "winners")

    def __init__(self, inst: _Instance, share, heap=None, budgets=None, winners=None, spent=None):
        self.inst = inst
        self.share = share
        self.budgets = [Q(share)] * len(inst.weights) if budgets is None else budgets
        self.heap = list(inst.initial_heap) if heap is None else heap
        self.winners = list(inst.free) if winners is None else winners
        self.spent = ZERO if spent is None else spent
        self.pending = None  # (rho, rank, project, found): selected, not yet paid for
        self.done = False

    def copy(self) -> _Machine:
        twin = _Machine(self.inst, self.share, list(self.heap), list(self.budgets), list(self.winners), self.spent)
        twin.pending = self.pending
        twin.done = self.done
        return twin

    def evaluate(self, j):
        """(rho, found) for project j now, or None if its supporters cannot afford it.

        ``found`` is the price per supporter for approval ballots, else rho itself."""
        inst = self.inst
        if inst.approval:
            found = _price_approval(
                inst.getters[j](self.budgets), inst.support_weights[j], inst.support_weight[j], inst.cost[j],
                inst.base_price[j],
            )
            if found is None:
                return None
            return found / inst.cost[j], found
        rho = _price(j, self.budgets, inst.weights, inst.supporters[j], inst.utilities[j], inst.cost[j], False)
        return None if rho is None else (rho, rho)

    def select(self):
        """The round's winner as (rho, rank, project, found), or None when nothing is affordable."""
        if self.pending is not None or self.done:
            return self.pending
        heap = self.heap
        evaluate = self.evaluate
        best = None
        evaluated = []
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

    def confirm_below(self, rho, rank) -> bool:
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

    def tied_with(self, rho) -> list[int]:
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

    def commit(self, paid: Counter | None = None):
        """Make the supporters of the selected winner pay; returns the selection."""
        rho, _, w, found = chosen = self.pending
        self.pending = None
        inst = self.inst
        budgets = self.budgets
        sup = inst.supporters[w]
        self.winners.append(w)
        self.spent += inst.cost[w]
        if paid is None and inst.approval:
            new = [b - found if b > found else ZERO for b in inst.getters[w](budgets)]
            _consume(map(budgets.__setitem__, sup, new))
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
                    budgets[g] = ZERO
                    if paid is not None and b:
                        paid[(b, True)] += weights[g]
        else:
            for g, u in zip(sup, inst.utilities[w]):
                b = budgets[g]
                pay = rho * u
                if b > pay:
                    budgets[g] = b - pay
                    if paid is not None:
                        paid[(pay, False)] += weights[g]
                else:
                    budgets[g] = ZERO
                    if paid is not None and b:
                        paid[(b, True)] += weights[g]
        return chosen

    def finish(self) -> _Machine:
        while self.select() is not None:
            self.commit()
        return self

    def fund(self, j):
        """Replay: fund project j, known to win this round (certified by the add1 search)."""
        found = self.evaluate(j)
        assert found is not None
        self.pending = (found[0], self.inst.rank[j], j, found[1])
        self.commit()



class _IntMachine(_Machine):
    """The same run for approval ballots, in integers.

    Every budget is an integer numerator over one common denominator ``den`` (the least
    common multiple of the denominators of the share and of every price paid so far), so
    testing "has less than the price" is an integer comparison against a threshold and
    sums are integer sums; rationals are only built for the results (rho and prices).
    Exactly the same numbers as :class:`_Machine`, only faster.
    """

    __slots__ = ("alive", "den", "last")

    def __init__(self, inst: _Instance, share, heap=None):
        super().__init__(inst, share, heap=heap, budgets=[])
        exact = Q(share)
        self.den = int(exact.denominator)
        self.budgets = [int(exact.numerator)] * len(inst.weights)
        self.alive: dict = {}  # project -> its supporters with money left, see _view
        self.last: dict = {}  # project -> its price per supporter when last evaluated

    def copy(self) -> _IntMachine:
        twin = _IntMachine.__new__(_IntMachine)
        for name in _Machine.__slots__:
            setattr(twin, name, getattr(self, name))
        twin.den = self.den
        twin.alive = dict(self.alive)
        twin.last = dict(self.last)
        twin.heap = list(self.heap)
        twin.winners = list(self.winners)
        twin.budgets = list(self.budgets)
        return twin

    def evaluate(self, j):
        """(rho, price per supporter) for project j, or None if unaffordable.

        With budgets B/den and c = cost * den, the price for a set of poor supporters is
        (c - sum of their B) / (den * (weight - their weight)); B is below it exactly when
        B < ceil((c - paid) / (weight - poor weight)).
        """
        inst = self.inst
        cost = inst.cost[j]
        c = cost * self.den
        if c.denominator != 1:
            return self._rational_evaluate(j, inst.getters[j](self.budgets))
        c = int(c)
        get, weights, poor_weight, _ = self._view(j)
        total_weight = inst.support_weight[j]
        if poor_weight == total_weight:
            return None  # nobody has anything left
        budgets = get(self.budgets)
        # Supporters with nothing left are poor whatever the price, and pay nothing.
        threshold = -(-c // (total_weight - poor_weight))
        if not poor_weight and min(budgets) >= threshold:
            return inst.base_rho[j], inst.base_price[j]  # nobody is poor
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
        found = Q(c - paid, self.den * (total_weight - poor_weight))
        self.last[j] = found
        return found / cost, found

    def _view(self, j):
        """(getter, weights, weight of the rest) for project j's supporters who had money
        left when the view was made; refreshed every few rounds. Budgets never grow, so the
        rest still have nothing; some in the view may have run out since (that is fine)."""
        view = self.alive.get(j)
        if view is None or len(self.winners) - view[3] >= 3:
            inst = self.inst
            mask = list(map(bool, inst.getters[j](self.budgets)))
            weights = list(compress(inst.support_weights[j], mask))
            view = (
                _getter(list(compress(inst.supporters[j], mask))),
                weights,
                inst.support_weight[j] - sum(weights),
                len(self.winners),
            )
            self.alive[j] = view
        return view

    def replay(self, winners) -> None:
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
            values = get(budgets)
            epoch = len(facs) - 1
            held = get(levels)
            if min(held) != epoch:
                values = list(map(mul, values, map(facs.__getitem__, held)))
            cost = inst.cost[w]
            found = _int_price(values, inst.support_weights[w], inst.support_weight[w], cost, den, inst.base_price[w])
            assert found is not None  # certified by the caller
            scale = int(found.denominator) // gcd(int(found.denominator), den)
            if scale != 1:
                den *= scale
                facs = [f * scale for f in facs]
                facs.append(1)
                epoch += 1
                values = list(map(scale.__mul__, values))
            price = int(found * den)
            _consume(map(budgets.__setitem__, sup, [b - price if b > price else 0 for b in values]))
            _consume(map(levels.__setitem__, sup, repeat(epoch, len(sup))))
            self.winners.append(w)
            self.spent += cost
        self.budgets = list(map(mul, budgets, map(facs.__getitem__, levels)))
        self.den = den

    def _rational_evaluate(self, j, budgets):
        """A cost with more decimals than the common denominator: exact rationals."""
        inst = self.inst
        den = self.den
        found = _price_approval(
            tuple(Q(b, den) for b in budgets),
            inst.support_weights[j],
            inst.support_weight[j],
            inst.cost[j],
            inst.base_price[j],
        )
        return None if found is None else (found / inst.cost[j], found)

    def commit(self, paid: Counter | None = None):
        chosen = self.pending
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
            _consume(map(budgets.__setitem__, sup, map(price.__rsub__, old)))
            rich = None
        else:
            rich = list(map(price.__lt__, old))
            _consume(map(budgets.__setitem__, sup, [b - price if r else 0 for b, r in zip(old, rich)]))
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
                for b, weight in zip(compress(old, poor), compress(weights, poor)):
                    if b:
                        paid[(Q(b, den), True)] += weight
        self.winners.append(w)
        self.spent += inst.cost[w]
        return chosen



def _int_price(budgets, weights: list[int], total_weight: int, cost, den: int, base):
    """The price per supporter for budgets ``budgets``/``den`` (None if unaffordable):
    the same exact iteration as :meth:`_IntMachine.evaluate`, without its caches."""
    c = cost * den
    if c.denominator != 1:
        return _price_approval(tuple(Q(b, den) for b in budgets), weights, total_weight, cost, base)
    c = int(c)
    threshold = -(-c // total_weight)
    if min(budgets) >= threshold:
        return base
    mask = list(map(threshold.__gt__, budgets))
    poor_weight = 0
    paid = 0
    while True:
        weight = sum(compress(weights, mask))
        if not weight:
            break
        poor_weight += weight
        if poor_weight == total_weight:
            return None
        paid += sum(map(mul, compress(budgets, mask), compress(weights, mask)))
        previous = threshold
        threshold = -((paid - c) // (total_weight - poor_weight))
        mask = list(map(and_, map(threshold.__gt__, budgets), map(previous.__le__, budgets)))
    return Q(c - paid, den * (total_weight - poor_weight))


def _machine(inst: _Instance, share, heap=None) -> _Machine:
    """The fastest exact machine for this election (no explanation)."""
    if inst.approval:
        return _IntMachine(inst, share, heap=heap)
    return _Machine(inst, share, heap=heap)


def _consume(iterator) -> None:
    deque(iterator, maxlen=0)


def _run(inst: _Instance, per_voter, explain: bool = False) -> _Run:
    if not explain:
        machine = _machine(inst, per_voter).finish()
        return _Run(Q(per_voter), machine.winners, machine.budgets, None)
    machine = _machine(inst, per_voter)
    rounds: list[EqualSharesRound] = []
    cost = inst.cost
    approval = inst.approval
    ties = []
    while (chosen := machine.select()) is not None:
        tied = machine.tied_with(chosen[0])
        if tied:
            ties.append((len(rounds) + 1, [chosen[2], *tied]))
        paid: Counter = Counter()
        rho, _, w, found = machine.commit(paid)
        price = found if approval else rho
        rounds.append(
            EqualSharesRound(
                project_id=inst.pids[w],
                cost=to_fraction(cost[w]),
                rho=to_fraction(rho),
                price_per_supporter=to_fraction(price),
                effective_votes=to_fraction(cost[w] / price) if approval else to_fraction(1 / rho),
                payments=[
                    PaymentGroup(count, to_fraction(amount), all_they_had)
                    for (amount, all_they_had), count in sorted(paid.items(), key=lambda kv: (-kv[0][0], kv[0][1]))
                ],
            )
        )
    run = _Run(Q(per_voter), machine.winners, machine.budgets, rounds)
    run.ties = ties
    if isinstance(machine, _IntMachine):
        run.denominator = machine.den
    return run


def _price_approval(budgets: tuple, weights: list[int], total_weight: int, cost, base):
    """What each supporter who can afford it pays for a project (None if unaffordable).

    Supporters with less than the price pay everything they have ("poor"); the rest share
    the remainder equally. Found by growing the poor set until it is stable, starting
    from ``base`` = cost / total_weight (the price when nobody is poor).
    """
    if min(budgets) >= base:
        return base  # nobody is poor: the usual case
    # No up-front "can they afford it" sum: if they cannot, every supporter ends up poor.
    # Each pass adds the supporters who became poor as the price rose (prev <= b < price).
    price = base
    mask = list(map(price.__gt__, budgets))
    poor_weight = 0
    paid = ZERO
    while True:
        weight = sum(compress(weights, mask))
        if not weight:
            return price
        poor_weight += weight
        if poor_weight == total_weight:
            return None  # even everything they have is not enough
        paid += sum(map(mul, compress(budgets, mask), compress(weights, mask)), ZERO)
        previous = price
        price = (cost - paid) / (total_weight - poor_weight)
        mask = list(map(and_, map(price.__gt__, budgets), map(previous.__le__, budgets)))


def _price(j, budgets, weights, sup, utils, cost, approval):
    """For approval: what each supporter who can afford it pays (None if unaffordable).

    For point ballots: rho, the price per point. Supporters who cannot pay their full
    share pay everything they have; the rest share the remainder in proportion to utility.
    """
    if approval:
        pairs = [(budgets[g], weights[g]) for g in sup if budgets[g]]
        if not pairs:
            return None
        if sum([b * w for b, w in pairs], ZERO) < cost:
            return None
        pairs.sort()
        remaining = cost
        den = sum(w for _, w in pairs)
        for b, w in pairs:
            if b * den >= remaining:
                return remaining / den
            remaining -= b * w
            den -= w
        return None  # pragma: no cover - unreachable once affordable
    items = [(budgets[g] / u, budgets[g], weights[g], u) for g, u in zip(sup, utils) if budgets[g]]
    if not items or sum([b * w for _, b, w, _ in items], ZERO) < cost:
        return None
    items.sort(key=lambda t: t[0])
    remaining = cost
    den = sum([w * u for _, _, w, u in items], ZERO)
    for _, b, w, u in items:
        if b * den >= remaining * u:
            return remaining / den
        remaining -= b * w
        den -= w * u
    return None  # pragma: no cover


def _floor(value) -> int:
    return int(value.numerator) // int(value.denominator)


def equal_shares(
    election: Election,
    counts: Tally,
    *,
    completion: str | None = None,
    comparison: bool = False,
    budget: Number | None = None,
    greedy_for_comparison: Callable[[], tuple[list[str], Explanation]] | None = None,
) -> tuple[list[str], Explanation]:
    """Run MES. ``completion``: None, ``"add1"`` or ``"add1-while-fits"`` (Wieliczka's, used by
    equalshares/add1-comparison; see the module docstring)."""
    if completion not in (None, "add1", "add1-while-fits"):
        raise ElectionError(f"unknown completion {completion!r}")
    inst = _Instance(election, counts)
    total = Q(election.budget if budget is None else budget)
    n = inst.num_voters
    explanation = Explanation(kind="equalshares")
    if n == 0:
        final = _Run(ZERO, list(inst.free), [], [])
    elif completion is None:
        share = total / n
        final = _run(inst, share, explain=True)
        explanation.start_per_voter_budget = to_fraction(share)
    else:
        final, start, runs, explanation.completion = _add1(inst, total, until_exhaustive=completion == "add1")
        explanation.start_per_voter_budget = start
        explanation.completion_runs = runs
    explanation.rounds = final.rounds or []
    explanation.per_voter_budget = to_fraction(final.per_voter)
    selected = [inst.pids[j] for j in final.winners]
    chosen = set(selected)
    explanation.ties = [
        Tie(step, [inst.pids[j] for j in tied], any(inst.pids[j] not in chosen for j in tied)) for step, tied in final.ties
    ]

    chosen_selected = selected
    if comparison:
        greedy_selected, greedy_explanation = greedy_for_comparison() if greedy_for_comparison else ([], None)
        prefer_mes, prefer_greedy = _compare(election, selected, greedy_selected)
        winner = "greedy" if prefer_greedy > prefer_mes else "equalshares"
        explanation.comparison = Comparison(prefer_mes, prefer_greedy, winner, greedy_selected)
        if winner == "greedy":
            chosen_selected = greedy_selected
            explanation.ties = greedy_explanation.ties if greedy_explanation else []

    chosen_set = set(chosen_selected)
    for j, pid in enumerate(inst.pids):
        if pid in chosen_set:
            continue
        if not inst.support_weight[j]:
            explanation.unfunded[pid] = Reason(NO_SUPPORT, "nobody voted for it")
        elif pid in chosen:
            explanation.unfunded[pid] = Reason(GREEDY_PREFERRED, "the comparison step chose the greedy outcome")
        else:
            left, cost = to_fraction(final.left(inst, j)), to_fraction(inst.cost[j])
            explanation.unfunded[pid] = Reason(
                NOT_AFFORDABLE,
                f"its supporters had {_text(left)} left between them, less than its cost of {_text(cost)}",
                {"left": left, "cost": cost},
            )
    return chosen_selected, explanation


def _add1(inst: _Instance, total, until_exhaustive: bool = True):
    """add1 completion: (final run with explanation, starting share, shares considered, Completion).

    From s = floor(budget / voters), while the outcome at s is not exhaustive, raise s by one
    currency unit if the outcome at s + 1 still fits the budget; otherwise stop at s.
    Equivalently: find the first share t >= start whose outcome is exhaustive or over budget;
    the result is the outcome at t if it fits (it is then exhaustive), else the one at t - 1.

    ``until_exhaustive=False`` is Wieliczka's completion: an exhaustive outcome does not stop
    the raising, only one that funds every project with supporters does.
    """
    start = _floor(total / inst.num_voters)
    stops = _Stop(inst, total, until_exhaustive)
    first = _first_stop(inst, stops, start)
    cost = inst.total_cost(stops.stopped)  # the search ends on the outcome at ``first``
    if cost > total:
        share = first - 1
        completion = Completion(OVER_BUDGET, first, to_fraction(cost))
    else:
        share = first
        completion = Completion(EXHAUSTIVE, first + 1, None)
    return _run(inst, Q(share), explain=True), start, first - start + 1, completion


class _Stop:
    """Whether add1 stops at an outcome: over budget, or exhaustive (no project with
    supporters outside it fits in the money left; without ``until_exhaustive``: none is
    left outside it at all)."""

    def __init__(self, inst: _Instance, total, until_exhaustive: bool):
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

    def certainly_not(self, funded: list[int], maybe: list[int], money=None) -> bool:
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


# --- the add1 search -----------------------------------------------------------------------
#
# add1 asks for the first whole share t >= start whose MES outcome is over budget or
# exhaustive; done one share at a time that is hundreds of full runs (Warszawa 2023
# Mokotów: 349). Instead, two runs at shares lo < hi go round by round side by side, and a
# round's winner is certified for *every* share in [lo, hi] at once, by monotonicity:
#
#   While the runs at two shares s <= s' have funded the same projects in the same order,
#   every voter has at least as much left at s' as at s (a project's price only falls when
#   budgets rise, and a payment leaves max(budget - price, 0)). So each project's rho at s'
#   is at most its rho at s, and affordable at s implies affordable at s'.
#
# Hence if w wins at lo with rho_lo(w), and every other project's rho at hi (or a lower
# bound of it) is above rho_lo(w) in the (rho, tie rank) order, then for every s in
# [lo, hi]: rho_s(w) <= rho_lo(w) < rho_hi(j) <= rho_s(j), so w wins at s too. A project
# unaffordable at hi is unaffordable at every s <= hi. When both runs end together, every
# share in [lo, hi] has the same outcome. When a round cannot be certified, the interval
# is split at its middle; the run at the middle replays the certified rounds (no search)
# and starts from the bounds of the run at hi, which are valid for it. Every comparison
# is exact.


def _first_stop(inst: _Instance, stops: _Stop, start: int) -> int:
    """The first whole share t >= start whose outcome stops add1."""
    if inst.approval:
        from .add1 import first_stop  # numpy is loaded only when add1 needs it

        def exact_outcome(share: int, certified: list[int]) -> list[int]:
            funded = set(certified)
            heap = [entry for entry in inst.initial_heap if entry[2] not in funded]
            heapq.heapify(heap)
            machine = _IntMachine(inst, share, heap=heap)
            machine.replay(certified[len(inst.free):])
            return machine.finish().winners

        return first_stop(inst, stops, start, exact_outcome)
    return _first_stop_exact(inst, stops, start)


def _first_stop_exact(inst: _Instance, stops: _Stop, start: int) -> int:
    """:func:`_first_stop` with exact runs only (any ballots)."""
    if stops(_machine(inst, start).finish().winners):
        return start
    low = _machine(inst, start)
    width = 32
    while True:
        high = _machine(inst, start + width)
        next_low = high.copy()
        found = _search(inst, stops, low, high)
        if found is not None:
            return found
        low = next_low
        start += width
        width = min(width * 2, 256)


def _search(inst: _Instance, stops: _Stop, low: _Machine, high: _Machine) -> int | None:
    """The first share in (low.share, high.share] whose outcome stops add1, or None.

    ``low`` and ``high`` have funded the same projects in the same order so far (both may
    hold a selected winner not yet paid for). The outcome at low.share does not stop add1.
    """
    if high.share - low.share == 1:
        return high.share if stops(high.finish().winners) else None
    if _lockstep(low, high):
        return None  # one outcome for the whole interval: the one at low.share
    middle = _replay(inst, (low.share + high.share) // 2, high)
    found = _search(inst, stops, low, middle.copy())
    if found is not None:
        return found
    return _search(inst, stops, middle, high)


def _lockstep(low: _Machine, high: _Machine) -> bool:
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


def _replay(inst: _Instance, share: int, high: _Machine) -> _Machine:
    """The run at ``share`` after the rounds certified so far, bounds taken from ``high``."""
    heap = list(high.heap)
    if high.pending is not None:
        rho, rank, j = high.pending[:3]
        heap.append((rho, rank, j))
        heapq.heapify(heap)
    machine = _machine(inst, share, heap=heap)
    if isinstance(machine, _IntMachine):
        machine.replay(high.winners[len(inst.free):])
        # Prices at this lower share are at least those at the high share (same rounds so far).
        machine.last.update(high.last)
    else:
        for j in high.winners[len(inst.free):]:
            machine.fund(j)
    return machine


def _compare(election: Election, mes: list[str], greedy: list[str]) -> tuple[int, int]:
    """Voters preferring each outcome: the one funding more projects they support (named
    with points above zero: a rank beyond max_length or 0 points is no support)."""
    mes_set, greedy_set = set(mes), set(greedy)
    prefer_mes = prefer_greedy = 0
    for pairs in ballot_points(election):
        a = sum(1 for p, _ in pairs if p in mes_set)
        b = sum(1 for p, _ in pairs if p in greedy_set)
        if a > b:
            prefer_mes += 1
        elif b > a:
            prefer_greedy += 1
    return prefer_mes, prefer_greedy
