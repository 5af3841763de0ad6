"""Where add1 stops, found fast: whole boxes of per-voter shares decided at once in
floating point with proven bounds, exact rationals only where floats cannot decide.

add1 needs the first whole share t >= start whose MES outcome is over budget or
exhaustive (see :func:`pb.tally.add1.complete`). Running MES once per share is hundreds
of runs on a city's file (Warszawa 2023 Mokotów: 349) and tens of thousands on Budapest
2024. Instead a *box* of shares [lo, hi] is run once, round by round, for every share in
it at the same time (approval ballots, cost utilities): each group of identical ballots
holds a lower and an upper straight line bounding its money over the box, a round's
winner is certified for the whole box from price lines at its two ends, and a box that
cannot be certified is tightened, proved unable to stop add1, or cut in two.

Why every certified outcome is exact, and how each rounding is corrected: docs/counting.md,
"Why the fast computation is exact" (keep the two in step).
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

# The dot products here are short and many. OpenBLAS would split the longer ones between
# threads that mostly wait on each other, and on a busy machine spin for milliseconds
# (Budapest 2024 took three times as long with another process running). Set before numpy
# is first imported, as it is in pb's own processes; where numpy was loaded already, that
# process's own setting stands.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .add1 import Stop
    from .instance import Instance
    from .rational import Rational

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
# Who is poor at a price: a mask over the supporters, None when nobody is, False when
# floats say even all their money is too little (or, as a hint, that none is known).
PoorSet = Mask | None | Literal[False]
Line = tuple[float, float]  # a straight line over a box: its values at lo and at hi
# Why a round could not be certified: ("afford", project) or ("compete", (winner, its
# upper rho line at lo and hi, (the project it could not beat, that one's lower lines))).
Hint = tuple[str, int | tuple[int, float, float, tuple[int, list[Line]]]]
# A project's supporters who may have money (see Box._view): (their groups, their weights,
# the weight of the others, the round the view was made in).
View = tuple[npt.NDArray[np.intp], Floats, float, int]

INF = math.inf
TINY = 2.0**-1000  # an absolute floor for the widening of sums near zero
_OUT = 1 + 4 * 2.0**-53  # see Box.pay
_IN = 1 - 4 * 2.0**-53
NARROW = 8  # boxes up to this many shares wide price each project from one poor set


def _widen(n: int) -> float:
    """A relative bound, with room to spare, on the rounding error of a float sum of n
    non-negative terms (or of a dot product with non-negative factors)."""
    return (n + 4) * 2.0**-52


def _up(x: float) -> float:
    return math.nextafter(x, INF)


def _down(x: float) -> float:
    return math.nextafter(x, -INF)


def _rho_down(price: float, d: Election, j: int) -> float:
    """A lower bound of price / cost for project j: a negative bound is divided by the
    smaller bracket of the cost, a positive one by the larger."""
    return _down(price / (d.cost_lo[j] if price < 0 else d.cost_hi[j]))


def _bracket(value: Rational) -> tuple[float, float]:
    """Floats lo <= value <= hi for an exact number."""
    f = float(value)
    exact = Fraction(int(value.numerator), int(value.denominator))
    if Fraction(f) == exact:
        return f, f
    return (f, _up(f)) if Fraction(f) < exact else (_down(f), f)


class Election:
    """What the search needs of an election, built once: groups of identical approval
    ballots with their weights, and each project's supporting groups."""

    def __init__(self, inst: Instance):
        self.inst = inst
        self.weights = np.array(inst.weights, dtype=np.float64)
        self.supporters = [np.array(s, dtype=np.intp) for s in inst.supporters]
        self.support_weights = [self.weights[s] for s in self.supporters]
        self.total = [float(w) for w in inst.support_weight]  # exact: whole numbers below 2**53
        brackets = [_bracket(c) for c in inst.cost]
        self.cost_lo = [b[0] for b in brackets]
        self.cost_hi = [b[1] for b in brackets]
        self.candidates = list(inst.candidates)
        # rho >= 1 / W for every project (the price is at least cost / W).
        self.initial_heap: list[tuple[float, int]] = [(_down(1.0 / self.total[j]), j) for j in self.candidates]
        heapq.heapify(self.initial_heap)


class _Price:
    """Bounds on one project's price at both ends of a box: lower line (lo0, loh), upper
    line (up0, uph); ``whole`` is the supporters' weight when the price is certainly
    cost / weight at every share of the box (nobody short of money), which makes rho
    exactly 1 / weight."""

    __slots__ = ("lo0", "loh", "up0", "uph", "whole")

    def __init__(self, lo0: float, loh: float, up0: float, uph: float, whole: int | None = None):
        self.lo0, self.loh, self.up0, self.uph, self.whole = lo0, loh, up0, uph, whole


def _poor(
    b: Floats, w: Floats, total: float, cost: float, dead: float, start: float = 0.0
) -> tuple[PoorSet, float, float, float]:
    """Who cannot pay the price, found in floating point: (mask over ``b`` or None when
    nobody, the price that poor set gives, its weight, what its members have between them).
    ``dead`` is the weight of supporters left out of ``b`` because they have nothing
    (always poor). ``mask`` is False when floats say even all their money is too little.

    The search may start from any price (``start``, e.g. the price last found: prices only
    rise as money is spent); that only saves steps. Nothing here needs to be exact: any
    poor set gives a proven lower bound of the price, and upper bounds are verified.
    """
    base = cost / total
    if not dead and b.min() >= base:
        return None, base, 0.0, 0.0
    wb = w * b
    if float(wb.sum()) < cost:
        return False, INF, 0.0, 0.0
    mask = b < max(base, start)
    count = np.count_nonzero(mask)
    for _ in range(64):  # in floats a voter within rounding of the price can flip forever
        poor_weight = dead + float(w @ mask)
        if poor_weight >= total:
            return False, INF, 0.0, 0.0
        paid = float(wb @ mask)
        price = (cost - paid) / (total - poor_weight)
        following = b < price
        new = np.count_nonzero(following)
        if new == count:
            break
        mask, count = following, new
    return mask, price, poor_weight, paid


def _lower_at(
    b_here: Floats, b_there: Floats, w: Floats, total: float, cost_lo: float, dead: float, start: float
) -> tuple[Line | None, float, PoorSet]:
    """A lower price line from the poor set at this end, as its values (here, there), the
    price floats found there and the poor set; None when floats say the supporters cannot
    afford it at this end. (``b_there`` is ``b_here`` itself for a single share.)"""
    mask, found, poor_weight, paid = _poor(b_here, w, total, cost_lo, dead, start)
    if mask is False:
        return None, 0.0, False
    if mask is None:
        value = _down(cost_lo / total)
        return (value, value), found, None
    rich = total - poor_weight  # exact: whole numbers
    widen = 1 + _widen(len(b_here))
    here = _down(_down(cost_lo - _up(paid * widen + TINY)) / rich)
    if b_there is b_here:
        return (here, here), found, mask
    paid = float((w * b_there) @ mask)
    there = _down(_down(cost_lo - _up(paid * widen + TINY)) / rich)
    return (here, there), found, mask


def _money_up(b: Floats, w: Floats, n: int) -> float:
    """At least what supporters with budgets b have between them."""
    return _up(float(w @ b) * (1 + _widen(n)) + TINY)


def _upper_at(
    b: Floats, w: Floats, cost_hi: float, total: float, dead: float, start: float, poor: PoorSet = False
) -> float | None:
    """A price that is certainly at least the true one with these lower budgets, or None
    when floats cannot show the supporters can afford the project. ``poor``: a poor set
    to try first (that of the upper budgets, when they are all but the same)."""
    if poor is not False:
        if poor is None:
            price = cost_hi / (total - dead)
        else:
            poor_weight = dead + float(w @ poor)
            price = (cost_hi - float((w * b) @ poor)) / (total - poor_weight) if poor_weight < total else INF
        if price < INF:
            found = _verified(b, w, cost_hi, price)
            if found is not None:
                return found
    mask, price, _, _ = _poor(b, w, total, cost_hi, dead, start)
    if mask is False:
        return None
    return _verified(b, w, cost_hi, price)


def _verified(b: Floats, w: Floats, cost_hi: float, price: float) -> float | None:
    """A little above ``price``, checked to be at least the true price with budgets b
    (what the supporters would pay at it reaches the cost), or None."""
    widen = _widen(len(b))
    q = _up(price * (1 + 4 * widen) + TINY)
    for _ in range(3):
        paid = float(w @ np.minimum(b, q))
        if _down(paid * (1 - widen) - TINY) >= cost_hi:
            return q
        q = _up(q * (1 + 64 * widen) + TINY)
    return None


class Box:
    """Every share in [lo, hi] run at once; see the module docstring and docs/counting.md."""

    __slots__ = (
        "L0",
        "Lh",
        "U0",
        "Uh",
        "data",
        "heap",
        "hi",
        "last",
        "lines",
        "lo",
        "poor",
        "tight",
        "views",
        "winners",
    )

    def __init__(
        self,
        data: Election,
        lo: int,
        hi: int,
        heap: list[tuple[float, int]] | None = None,
        winners: list[int] | None = None,
    ):
        self.data = data
        self.lo, self.hi = lo, hi
        n = len(data.weights)
        self.L0 = np.full(n, float(lo))
        self.U0 = self.L0.copy()
        # A single share has one set of lines: the two ends are the same arrays.
        self.Lh = self.L0 if lo == hi else np.full(n, float(hi))
        self.Uh = self.U0 if lo == hi else self.Lh.copy()
        self.heap = list(data.initial_heap) if heap is None else list(heap)
        heapq.heapify(self.heap)
        self.winners = list(data.inst.free) if winners is None else list(winners)
        self.tight = True  # lines computed from this box's own ends
        self.views: dict[int, View] = {}  # project -> its supporters with money, see _view
        self.last: dict[tuple[int, int, int], float] = {}  # (project, share, side) -> price last found: where to start
        # project -> its lower rho lines as last computed. Still lower bounds later (rho only
        # rises as money is spent), so often enough to rule a project out without a new sum.
        self.lines: dict[int, list[Line]] = {}
        # (project, round, poor set at lo, at hi) from lower(): where price() starts looking
        self.poor: tuple[int | None, int | None, PoorSet, PoorSet] = (None, None, False, False)

    def _view(self, j: int) -> View:
        """(groups, weights, weight of the others) of project j's supporters who may still
        have money at some share of the box. The others have nothing at both ends and never
        will again, so they are poor whatever the price and are left out of every sum.
        Refreshed every six rounds; one that has run out since is still counted (fine)."""
        view = self.views.get(j)
        rounds = len(self.winners)
        if view is None or rounds - view[3] >= 6:
            d = self.data
            s = d.supporters[j]
            alive = (self.U0[s] > 0) | (self.Uh[s] > 0)
            if alive.all():
                view = (s, d.support_weights[j], 0.0, rounds)
            else:
                w = d.support_weights[j][alive]
                view = (s[alive], w, d.total[j] - float(w.sum()), rounds)
            self.views[j] = view
        return view

    @property
    def single(self) -> bool:
        return self.lo == self.hi

    # -- prices -----------------------------------------------------------------------

    def lower(self, j: int) -> list[Line] | None:
        """Lower rho lines of project j, each as (at lo, at hi), or None when it can be
        afforded at no share of the box (its supporters' upper money, a line, is below
        its cost at both ends)."""
        d = self.data
        s, w, dead, _ = self._view(j)
        total = d.total[j]
        n = len(s)
        cost = d.cost_lo[j]
        u0 = self.U0[s]
        last = self.last
        lo, hi = self.lo, self.hi
        if self.single:
            uh = u0
            line, last[j, lo, 0], poor = _lower_at(u0, u0, w, total, cost, dead, last.get((j, lo, 0), 0.0))
            self.poor = (j, len(self.winners), poor, poor)
            lines = [] if line is None else [line]
        else:
            uh = self.Uh[s]
            base = cost / total
            if not dead and u0.min() >= base and uh.min() >= base:
                # Nobody is short of money at either end: the price is about cost / W.
                value = _down(cost / total)
                lines = [(value, value)]
            else:
                lines = []
                line, last[j, hi, 0], poorh = _lower_at(uh, u0, w, total, cost, dead, last.get((j, hi, 0), 0.0))
                if line is not None:
                    lines.append((line[1], line[0]))
                poor0 = poorh
                if line is None or hi - lo > NARROW:
                    # A wide box: the poor set at the other end gives a better line there.
                    line, last[j, lo, 0], poor0 = _lower_at(u0, uh, w, total, cost, dead, last.get((j, lo, 0), 0.0))
                    if line is not None:
                        lines.append(line)
                self.poor = (j, len(self.winners), poor0, poorh)
        if not lines:
            # Floats say unaffordable at both ends; drop it only if that is certain.
            if _money_up(u0, w, n) < cost and _money_up(uh, w, n) < cost:
                return None
            value = _down(cost / total)  # the price is never below cost / W
            lines = [(value, value)]
        # A line may be below zero at one end; it stays a line (clipping that end at zero
        # would raise it in between, above the price at some shares).
        lines = [(_rho_down(a, d, j), _rho_down(b, d, j)) for a, b in lines]
        self.lines[j] = lines
        return lines

    def price(self, j: int, lines: list[Line]) -> _Price | None:
        """Price bounds of project j over the box (``lines``: its lower rho lines), or None
        when it is not certainly affordable at every share of it."""
        d = self.data
        s, w, dead, _ = self._view(j)
        total = d.total[j]
        l0 = self.L0[s]
        lh = l0 if self.single else self.Lh[s]
        threshold = _up(d.cost_hi[j] / total)
        if not dead and l0.min() >= threshold and lh.min() >= threshold:
            # Nobody is short of money anywhere in the box: the price is cost / weight.
            value = _down(d.cost_lo[j] / total)
            return _Price(value, value, threshold, threshold, int(total))
        last = self.last
        poor0, poorh = self.poor[2:] if self.poor[:2] == (j, len(self.winners)) else (False, False)
        up0 = _upper_at(l0, w, d.cost_hi[j], total, dead, last.get((j, self.lo, 1), 0.0), poor0)
        if up0 is None:
            return None
        last[j, self.lo, 1] = up0
        uph = up0 if self.single else _upper_at(lh, w, d.cost_hi[j], total, dead, last.get((j, self.hi, 1), 0.0), poorh)
        if uph is None:
            return None
        last[j, self.hi, 1] = uph
        # The best single lower line for paying (rho lines back to prices, rounded down)
        # among those not below zero at either end; else zero, which the price never is.
        c = d.cost_lo[j]
        usable = [(_down(a * c), _down(b * c)) for a, b in lines if a >= 0 and b >= 0]
        lo0, loh = max(usable, key=sum, default=(0.0, 0.0))
        return _Price(lo0, loh, up0, uph)

    def rho_upper(self, j: int, price: _Price) -> tuple[float, float]:
        c = self.data.cost_lo[j]
        return _up(price.up0 / c), _up(price.uph / c)

    # -- rounds -----------------------------------------------------------------------

    def step(self) -> tuple[str, Hint | int | None]:
        """One round for the whole box: ("funded", project), ("done", None), or
        ("unsure", hint) where hint guides a cut of the box."""
        heap = self.heap
        known: dict[int, list[Line]] = {}  # projects whose lines were computed this round
        while True:
            if not heap:
                return "done", None
            key, w = heapq.heappop(heap)
            lines = known.get(w) or self.lower(w)
            if lines is None:
                continue  # unaffordable at every share, now and later
            known[w] = lines
            fresh = min(min(line) for line in lines)
            if heap and (fresh, w) > heap[0]:
                heapq.heappush(heap, (fresh, w))
                continue
            break
        price = self.price(w, lines)
        if price is None:
            heapq.heappush(heap, (fresh, w))
            return "unsure", ("afford", w)
        r0, rh = self.rho_upper(w, price)
        top = max(r0, rh)
        checked: list[tuple[float, int]] = []
        culprit: tuple[int, list[Line]] | None = None
        while heap and (heap[0][0] < top or (heap[0][0] == top and heap[0][1] < w)):
            key, j = heapq.heappop(heap)
            stale = self.lines.get(j)
            if j not in known and stale is not None and self._beats(w, price, r0, rh, j, stale):
                checked.append((key, j))
                continue
            other = known.get(j) or self.lower(j)
            if other is None:
                continue
            checked.append((min(min(line) for line in other), j))
            if not self._beats(w, price, r0, rh, j, other):
                culprit = (j, other)
                break
        for entry in checked:
            heapq.heappush(heap, entry)
        if culprit is not None:
            heapq.heappush(heap, (fresh, w))
            return "unsure", ("compete", (w, r0, rh, culprit))
        self.pay(w, price)
        return "funded", w

    def _beats(self, w: int, price: _Price, r0: float, rh: float, j: int, lines: list[Line]) -> bool:
        """Whether w's rho is below j's at every share of the box (ties to the first listed)."""
        if price.whole is not None:
            other = self.price_whole(j)
            if other is not None:
                return price.whole > other or (price.whole == other and w < j)
        first = w < j
        for a, b in lines:
            if (a > r0 or (first and a >= r0)) and (b > rh or (first and b >= rh)):
                return True
        if len(lines) == 2 and not self.single:
            # Each line wins on one side of a point m: check both halves at m.
            (a0, ah), (b0, bh) = lines
            for (x0, xh), (y0, yh) in (((a0, ah), (b0, bh)), ((b0, bh), (a0, ah))):
                if x0 > r0 and yh > rh:
                    m = 0.5
                    slack = 8 * 2.0**-52 * (abs(x0) + abs(xh) + abs(y0) + abs(yh) + abs(r0) + abs(rh))
                    rm = r0 + (rh - r0) * m + slack
                    if x0 + (xh - x0) * m - slack > rm and y0 + (yh - y0) * m - slack > rm:
                        return True
        return False

    def price_whole(self, j: int) -> int | None:
        """j's supporters' weight if nobody among them can be short of money anywhere in
        the box (then its price is exactly cost / weight), else None."""
        d = self.data
        s, _, dead, _ = self._view(j)
        threshold = _up(d.cost_hi[j] / d.total[j])
        if not dead and self.L0[s].min() >= threshold and (self.single or self.Lh[s].min() >= threshold):
            return int(d.total[j])
        return None

    def pay(self, w: int, price: _Price) -> None:
        """Every supporter of w pays, at every share of the box. A difference f of two
        floats is within 2**-53 |f| of the exact one, so f * (1 + 4 * 2**-53) (for f >= 0)
        is above it and f * (1 - 4 * 2**-53) below it."""
        s = self.data.supporters[w]
        if self.single:
            self.U0[s] = np.maximum((self.U0[s] - price.lo0) * _OUT, 0.0)
            lower = self.L0[s] - price.up0
            self.L0[s] = np.where(lower >= 0, lower * _IN, 0.0)
            self.winners.append(w)
            return
        U0, Uh, L0, Lh = self.U0[s], self.Uh[s], self.L0[s], self.Lh[s]
        self.U0[s] = np.maximum((U0 - price.lo0) * _OUT, 0.0)
        self.Uh[s] = np.maximum((Uh - price.loh) * _OUT, 0.0)
        L0 = L0 - price.up0
        Lh = Lh - price.uph
        keep = (L0 >= 0) & (Lh >= 0)  # a lower line must stay >= 0 at both ends, else 0
        self.L0[s] = np.where(keep, L0 * _IN, 0.0)
        self.Lh[s] = np.where(keep, Lh * _IN, 0.0)
        self.winners.append(w)

    # -- cutting --------------------------------------------------------------------------

    def cut(self, a: int, b: int) -> Box:
        """The box of shares [lo + a, lo + b], keeping this box's certified rounds and
        (loosely) its lines."""
        child = Box.__new__(Box)
        child.data = self.data
        child.lo, child.hi = self.lo + a, self.lo + b
        h = self.hi - self.lo
        for name, lower in (("L", True), ("U", False)):
            v0, vh = getattr(self, name + "0"), getattr(self, name + "h")
            ends = []
            for x in (a, b):
                if x == 0:
                    ends.append(v0.copy())
                elif x == h:
                    ends.append(vh.copy())
                else:
                    t = x / h
                    value = v0 + (vh - v0) * t
                    slack = 8 * 2.0**-52 * (np.abs(v0) + np.abs(vh))
                    ends.append(np.maximum(value - slack, 0.0) if lower else value + slack)
            setattr(child, name + "0", ends[0])
            setattr(child, name + "h", ends[0] if a == b else ends[1])
        child.heap = list(self.heap)
        child.winners = list(self.winners)
        child.lines = {j: [_part(line, a, b, h) for line in lines] for j, lines in self.lines.items()}
        child.tight = False
        child.poor = (None, None, False, False)
        child.views = dict(self.views)  # who has nothing here has nothing in any part
        child.last = dict(self.last)
        return child

    def tightened(self) -> Box:
        """The same box replayed from its own ends: the certified rounds again, with lines
        computed afresh (no search)."""
        inst = self.data.inst
        box = Box(self.data, self.lo, self.hi, heap=self.heap)
        box.last = self.last
        box.views = self.views  # who has nothing at every share of the box, whatever the lines
        box.lines = self.lines  # lower bounds, whatever the budget lines they came from
        for w in self.winners[len(inst.free) :]:
            lines = box.lower(w)
            price = None if lines is None else box.price(w, lines)
            if price is None:  # w was certified for a box holding this one: only rounding
                self.tight = True
                return self
            box.pay(w, price)
        return box

    def split_point(self, hint: Hint) -> int:
        """Where to cut an unsure box: where the lines of the two projects cross, else
        the middle. Returns the last share offset of the left part."""
        h = self.hi - self.lo
        kind, detail = hint
        if kind == "compete" and isinstance(detail, tuple):
            _w, r0, rh, (_j, lines) = detail
            a, b = max(lines, key=lambda line: line[0] + line[1])
            slope = (rh - r0) - (b - a)
            if slope != 0:
                t = (a - r0) / slope
                if 0 < t < 1:
                    return min(max(int(t * h), 0), h - 1)
        return h // 2

    def can_never_stop(self, stops: Stop) -> bool:
        """Certain that no share of the box stops add1: whatever is funded at any of its
        shares is among the projects funded so far and those still affordable somewhere
        in the box; if all of those together fit the budget and one project outside them
        (never to be funded here) would still fit beside them, every outcome in the box
        fits and is not exhaustive."""
        d = self.data
        maybe = []
        for _, j in self.heap:  # the others are funded, or can be afforded nowhere in the box
            s, w, _, _ = self._view(j)
            if max(_money_up(self.U0[s], w, len(s)), _money_up(self.Uh[s], w, len(s))) >= d.cost_lo[j]:
                maybe.append(j)
        # What is still funded is paid for by its supporters, from what they have now.
        reach = np.zeros(len(d.weights), dtype=bool)
        for j in maybe:
            reach[d.supporters[j]] = True
        money = max(
            _money_up(self.U0, d.weights * reach, len(reach)), _money_up(self.Uh, d.weights * reach, len(reach))
        )
        return stops.certainly_not(self.winners, maybe, Fraction(money))


def _part(line: Line, a: int, b: int, h: int) -> Line:
    """A lower line over [0, h] (values at its ends), as its values at a and b, rounded down."""
    v0, vh = line
    ends = []
    for x in (a, b):
        if x == 0:
            ends.append(v0)
        elif x == h:
            ends.append(vh)
        else:
            ends.append(_down(v0 + (vh - v0) * (x / h) - 8 * 2.0**-52 * (abs(v0) + abs(vh))))
    return ends[0], ends[1]


def first_stop(inst: Instance, stops: Stop, start: int, exact_outcome: Callable[[int, list[int]], list[int]]) -> int:
    """The first whole share t >= start whose outcome stops add1.

    ``stops(winners)`` says whether an outcome stops add1; ``stops.certainly_not(funded,
    maybe)`` whether no outcome made of ``funded`` and some of ``maybe`` can;
    ``exact_outcome(share, certified)`` runs MES exactly at one share from the rounds
    already certified.
    """
    data = Election(inst)
    share, width = start, 8
    while True:
        found = _search(Box(data, share, share + width - 1), stops, exact_outcome)
        if found is not None:
            return found
        share += width
        width = min(width * 2, 2**20)


def _search(box: Box, stops: Stop, exact_outcome: Callable[[int, list[int]], list[int]]) -> int | None:
    """The first share in the box whose outcome stops add1, or None."""
    while True:
        status, hint = box.step()
        if status == "funded":
            # Every few rounds: perhaps nothing left to fund here could make the box stop.
            if len(box.winners) % 3 == 0 and box.can_never_stop(stops):
                return None
            continue
        if status == "done":
            return box.lo if stops(box.winners) else None
        if not box.tight:
            box = box.tightened()
            continue
        if box.can_never_stop(stops):
            return None
        if box.single:
            return box.lo if stops(exact_outcome(box.lo, box.winners)) else None
        assert isinstance(hint, tuple)  # an unsure round says why
        cut = box.split_point(hint)
        found = _search(box.cut(0, cut), stops, exact_outcome)
        if found is not None:
            return found
        box = box.cut(cut + 1, box.hi - box.lo)
