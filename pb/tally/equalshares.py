"""The Method of Equal Shares (MES), with add1 completion and the comparison step.

Each voter starts with an equal share of the budget. Repeatedly, among the projects whose
supporters still have enough money between them, fund the one that is cheapest for its
supporters: the one with the lowest price per unit of utility ``rho``, where each
supporter pays ``min(their money, rho * utility)``. Utility is the project's cost for
approval ballots ("cost utilities": every supporter who can, pays the same amount) and
the points given for cumulative, scoring and ordinal-as-points ballots. Stop when no
project is affordable. Ties: the published order in :mod:`pb.tally.scores`.

``equalshares/add1`` (as in Wieliczka 2023, Świecie 2023 and Assen): MES leaves money
unspent, so start each voter at ``floor(budget / voters)`` currency units and raise it by
one unit at a time while the outcome's total cost still fits the real budget; the last
outcome that fits is the result. ``equalshares/add1-comparison`` then compares that outcome
with greedy-by-votes: if more voters have more funded projects they voted for under
greedy than under equal shares, greedy's outcome is used.

All arithmetic is exact: gmpy2's ``mpq`` when installed (much faster), otherwise
``fractions.Fraction``.
"""

from __future__ import annotations

import heapq
from collections import Counter
from fractions import Fraction
from itertools import compress
from operator import itemgetter, mul
from typing import Callable

from .election import Election, ElectionError, Number
from .outcome import (
    GREEDY_PREFERRED,
    NO_SUPPORT,
    NOT_AFFORDABLE,
    Comparison,
    EqualSharesRound,
    Explanation,
    PaymentGroup,
    Reason,
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
        ranks = tie_order(election, counts)
        self.rank = [ranks[pid] for pid in self.pids]
        # Projects nobody supports are never funded; free projects with support always are.
        self.free = sorted(
            (j for j in range(m) if self.support_weight[j] and self.cost[j] == 0), key=self.rank.__getitem__
        )
        self.candidates = [j for j in range(m) if self.support_weight[j] and self.cost[j] > 0]

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
        self.budgets = budgets
        self.rounds = rounds


def _run(inst: _Instance, per_voter, explain: bool = False) -> _Run:
    per_voter = Q(per_voter)
    weights = inst.weights
    supporters = inst.supporters
    utilities = inst.utilities
    cost = inst.cost
    rank = inst.rank
    approval = inst.approval
    budgets = [per_voter] * len(weights)
    winners = list(inst.free)
    rounds: list[EqualSharesRound] | None = [] if explain else None

    # Heap of (lower bound on the project's rho-key, tie rank, project). Budgets only
    # shrink, so a project's key only grows: a stale key is a valid lower bound.
    heap = []
    for j in inst.candidates:
        if approval:
            heap.append((Q(1, inst.support_weight[j]), rank[j], j))
        else:
            heap.append((cost[j] / sum(map(mul, (weights[g] for g in supporters[j]), utilities[j])), rank[j], j))
    heapq.heapify(heap)

    while heap:
        best = None
        evaluated = []
        while heap:
            key, rk, j = heap[0]
            if best is not None and (key, rk) > (best[0], best[1]):
                break
            heapq.heappop(heap)
            if approval:
                found = _price_approval(inst.getters[j](budgets), inst.support_weights[j], cost[j])
            else:
                found = _price(j, budgets, weights, supporters[j], utilities[j], cost[j], approval)
            if found is None:
                continue  # its supporters cannot afford it now, nor later
            rho = found / cost[j] if approval else found
            evaluated.append((rho, rk, j))
            if best is None or (rho, rk) < (best[0], best[1]):
                best = (rho, rk, j, found)
        if best is None:
            break
        rho, _, w, found = best
        for entry in evaluated:
            if entry[2] != w:
                heapq.heappush(heap, entry)
        winners.append(w)
        paid: Counter | None = Counter() if explain else None
        sup = supporters[w]
        if approval:
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
            for g, u in zip(sup, utilities[w]):
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
        if rounds is not None:
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
    return _Run(per_voter, winners, budgets, rounds)


def _price_approval(budgets: tuple, weights: list[int], cost):
    """What each supporter who can afford it pays for a project (None if unaffordable).

    Supporters with less than the price pay everything they have ("poor"); the rest share
    the remainder equally. Found by growing the poor set until it is stable.
    """
    # No up-front "can they afford it" sum: if they cannot, every supporter ends up poor.
    total_weight = sum(weights)
    price = cost / total_weight
    poor_weight = 0
    while True:
        mask = [b < price for b in budgets]
        weight = sum(compress(weights, mask))
        if weight == poor_weight:
            return price
        poor_weight = weight
        paid = sum(map(mul, compress(budgets, mask), compress(weights, mask)), ZERO)
        if weight == total_weight:
            return None  # even everything they have is not enough
        price = (cost - paid) / (total_weight - weight)


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
    value = Fraction(value)
    return value.numerator // value.denominator


def equal_shares(
    election: Election,
    counts: Tally,
    *,
    completion: str | None = None,
    comparison: bool = False,
    budget: Number | None = None,
    greedy_for_comparison: Callable[[], list[str]] | None = None,
) -> tuple[list[str], Explanation]:
    """Run MES. ``completion``: None or ``"add1"`` (see the module docstring)."""
    if completion not in (None, "add1", "add1-exhaustive"):
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
        final, start, runs = _add1(inst, total, exhaustive=(completion == "add1-exhaustive"))
        explanation.start_per_voter_budget = to_fraction(start)
        explanation.completion_runs = runs
    explanation.rounds = final.rounds or []
    explanation.per_voter_budget = to_fraction(final.per_voter)
    selected = [inst.pids[j] for j in final.winners]

    chosen_selected = selected
    if comparison:
        greedy_selected = greedy_for_comparison() if greedy_for_comparison else []
        prefer_mes, prefer_greedy = _compare(election, selected, greedy_selected)
        chosen = "greedy" if prefer_greedy > prefer_mes else "equalshares"
        explanation.comparison = Comparison(prefer_mes, prefer_greedy, chosen, greedy_selected)
        if chosen == "greedy":
            chosen_selected = greedy_selected

    chosen_set = set(chosen_selected)
    for j, pid in enumerate(inst.pids):
        if pid in chosen_set:
            continue
        if not inst.support_weight[j]:
            explanation.unfunded[pid] = Reason(NO_SUPPORT, "nobody voted for it")
        elif pid in set(selected):
            explanation.unfunded[pid] = Reason(GREEDY_PREFERRED, "the comparison step chose the greedy outcome")
        else:
            left = (
                sum(map(mul, inst.getters[j](final.budgets), inst.support_weights[j]), ZERO)
                if final.budgets
                else ZERO
            )
            explanation.unfunded[pid] = Reason(
                NOT_AFFORDABLE,
                f"its supporters had {_text(to_fraction(left))} left between them, less than its cost of "
                f"{_text(to_fraction(inst.cost[j]))}",
            )
    return chosen_selected, explanation


def _add1(inst: _Instance, total, exhaustive: bool = False):
    """add1 completion. Returns (final run with explanation, starting share, number of runs).

    Default (what Wieliczka, Świecie and Assen did): start at floor(budget / voters) and
    raise by one unit while the outcome still fits. ``exhaustive`` is pabutools'
    ``voter_budget_increment=1``: start at budget / voters and also stop at the first
    outcome to which no further project could be added.
    """
    n = inst.num_voters
    all_supported_cost = inst.total_cost(inst.candidates)
    everything = sum(inst.cost, ZERO) <= total
    if exhaustive:
        start = total / n
    else:
        start = Q(_floor(total / n))
    if everything and not exhaustive:
        return _run(inst, total / n, explain=True), total / n, 1
    share = start
    current = _run(inst, share)
    runs = 1
    while True:
        cost = inst.total_cost(current.winners)
        if exhaustive and _exhaustive(inst, current.winners, cost, total):
            break
        if len(current.winners) - len(inst.free) == len(inst.candidates) and cost <= all_supported_cost:
            break  # everything with support is funded: raising shares changes nothing
        nxt = _run(inst, share + 1)
        runs += 1
        if inst.total_cost(nxt.winners) > total:
            break
        share += 1
        current = nxt
    return _run(inst, share, explain=True), start, runs


def _exhaustive(inst: _Instance, winners: list[int], cost, total) -> bool:
    chosen = set(winners)
    return all(j in chosen or cost + inst.cost[j] > total for j in inst.candidates)


def _compare(election: Election, mes: list[str], greedy: list[str]) -> tuple[int, int]:
    """Voters preferring each outcome: the one funding more projects they voted for."""
    mes_set, greedy_set = set(mes), set(greedy)
    prefer_mes = prefer_greedy = 0
    for ballot in election.ballots:
        a = sum(1 for p in ballot.vote if p in mes_set)
        b = sum(1 for p in ballot.vote if p in greedy_set)
        if a > b:
            prefer_mes += 1
        elif b > a:
            prefer_greedy += 1
    return prefer_mes, prefer_greedy
