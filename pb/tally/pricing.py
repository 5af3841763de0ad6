"""What a project costs its supporters now, in MES: the price each supporter pays
(approval ballots) or the price per point ``rho`` (point ballots).

Supporters with less than their share pay everything they have ("poor"); the rest share
the remainder, equally (approval) or in proportion to their points.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import and_, mul

from . import rational
from .rational import Rational


def price_approval(
    budgets: Sequence[Rational], weights: list[int], total_weight: int, cost: Rational, base: Rational
) -> Rational | None:
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
    paid = rational.ZERO
    while True:
        weight = sum(compress(weights, mask))
        if not weight:
            return price
        poor_weight += weight
        if poor_weight == total_weight:
            return None  # even everything they have is not enough
        paid += sum(map(mul, compress(budgets, mask), compress(weights, mask)), rational.ZERO)
        previous = price
        price = (cost - paid) / (total_weight - poor_weight)
        mask = list(map(and_, map(price.__gt__, budgets), map(previous.__le__, budgets)))


def price_points(
    budgets: Sequence[Rational], weights: list[int], sup: list[int], utils: list[Rational], cost: Rational
) -> Rational | None:
    """rho, the price per point, for point ballots (None if unaffordable). Supporters who
    cannot pay their full share pay everything they have; the rest share the remainder in
    proportion to utility."""
    items = [(budgets[g] / u, budgets[g], weights[g], u) for g, u in zip(sup, utils, strict=False) if budgets[g]]
    if not items or sum([b * w for _, b, w, _ in items], rational.ZERO) < cost:
        return None
    items.sort(key=lambda t: t[0])
    remaining = cost
    den = sum([w * u for _, _, w, u in items], rational.ZERO)
    for _, b, w, u in items:
        if b * den >= remaining * u:
            return remaining / den
        remaining -= b * w
        den -= w * u
    return None  # pragma: no cover


def int_price(
    budgets: Sequence[int], weights: list[int], total_weight: int, cost: Rational, den: int, base: Rational
) -> Rational | None:
    """The price per supporter for budgets ``budgets``/``den`` (None if unaffordable):
    the same exact iteration as :meth:`pb.tally.integer_machine.IntegerMachine.evaluate`,
    without its caches."""
    Q = rational.Q
    exact_c = cost * den
    if exact_c.denominator != 1:
        return price_approval(tuple(Q(b, den) for b in budgets), weights, total_weight, cost, base)
    c = int(exact_c)
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
