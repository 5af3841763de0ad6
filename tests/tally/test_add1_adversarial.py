"""Adversarial regression tests for the add1 search in floating point (pb/tally/add1.py).

Root cause found by these tests: ``Box.lower`` turns each lower price line into a rho line
with ``max(a, 0) / cost`` at each end. A line from a poor set P is
(cost - sum_P w_i U_i(s)) / (W - W_P). It goes negative at one end when P's upper money
there is more than the cost. This happens in a wide box (more than NARROW shares), with
the poor set found at ``lo`` evaluated at ``hi``. Clipping that end to 0 *raises* the line
between the ends: it is then a chord of the convex max(line, 0), which lies above the
price at some shares. ``_beats``'s two-line test (one line on each half, checked at the
middle) then takes the raised line as a proof and certifies the wrong winner for some
shares. The "box" outcome is then not the exact one, and add1 stops at the wrong share.
The same clamp is in ``_part`` (lines cut for a child box).

Also here: ``_poor``'s fixed-point loop stops only when the count of poor voters repeats.
In floats it can cycle forever between two poor sets. That happens when a voter's budget
is within rounding of the price.

Every election here is minimal or close to it, and each test fails before the fix.
"""

from __future__ import annotations

import random
import signal
from fractions import Fraction

import numpy as np
import pytest

from pb.tally import add1, boxes, count, make_election, rational
from tests.tally.test_add1_search import at, exact_run, instance


def fast_and_exact(election, until_exhaustive):
    inst = instance(election)
    total = rational.Q(election.budget)
    start = int(Fraction(total) // inst.num_voters)
    fast = add1.first_stop(inst, add1.Stop(inst, total, until_exhaustive), start)
    exact = add1.first_stop_exact(inst, add1.Stop(inst, total, until_exhaustive), start)
    return fast, exact


def box_violations(inst, lo, hi):
    """Run one box round by round. Check every claim it stores against exact runs at
    every share: each certified winner, the budget lines, and every lower rho line kept
    in ``box.lines``. (tests/tally/test_add1_search.py checks the first two, not the
    lines.)"""
    box = boxes.Box(boxes.Election(inst), lo, hi)
    h = hi - lo
    found = []
    while True:
        before = list(box.winners)
        status, _ = box.step()  # a round that ends unsure or done also stores lines
        runs = [exact_run(inst, lo + x, box.winners) for x in range(h + 1)]
        for x, run in enumerate(runs):
            if status == "funded":
                chosen = exact_run(inst, lo + x, before).select()
                if chosen is None or chosen[2] != box.winners[-1]:
                    found.append(
                        f"round {len(before)}: certified {box.winners[-1]}, exact winner at {lo + x} is {chosen}"
                    )
            for g, budget in enumerate(run.budgets):
                if not at(box.L0[g], box.Lh[g], x, h) <= budget <= at(box.U0[g], box.Uh[g], x, h):
                    found.append(f"round {len(before)}: budget of group {g} out of its lines at {lo + x}")
            for j, lines in box.lines.items():
                priced = None if j in box.winners else run.evaluate(j)
                if priced is None:
                    continue
                for a, b in lines:
                    if at(a, b, x, h) > priced[0]:
                        found.append(
                            f"round {len(before)}: lower rho line {(a, b)} of {j} above rho {priced[0]} at {lo + x}"
                        )
        if found or status != "funded":
            return found


def test_a_lower_rho_line_is_below_rho_at_every_share():
    """Box [12, 21] (10 shares, wider than NARROW). In round 2, p1's poor set at share
    12 ({p1, p2} voters, who paid for p0) has more than p1's cost at share 21. The clipped
    line (0.2424, 0) lies above p1's rho 0.2121 at 13 and 0.1818 at 14."""
    election = make_election(
        budget=123,
        projects=[("p0", 54), ("p1", 33), ("p2", 36)],
        ballots=[["p0"]] * 3 + [["p1", "p2"]] * 3 + [["p0", "p1", "p2"]] * 3,
    )
    assert box_violations(instance(election), 12, 21) == []


def _small(seed):
    rng = random.Random(seed)
    m = rng.randint(2, 6)
    ids = [f"p{j}" for j in range(m)]
    costs = [rng.randint(1, 60) for _ in range(m)]
    ballots = []
    for _ in range(rng.randint(2, 6)):
        ballots += [sorted(rng.sample(ids, rng.randint(1, min(m, 3))))] * rng.randint(1, 4)
    election = make_election(budget=sum(costs), projects=list(zip(ids, costs, strict=True)), ballots=ballots)
    lo = rng.randint(0, 20)
    return election, lo, lo + rng.choice([9, 12, 15, 20, 31])


def test_box_claims_hold_in_wide_boxes():
    """Small elections, boxes of 10 to 32 shares (the size where lower lines come from
    both ends): winners, budget lines and lower rho lines hold at every share. Before the
    fix, seeds 51, 105, 145, 166 and 193 each keep a line above rho."""
    bad = {}
    for seed in range(200):
        election, lo, hi = _small(seed)
        found = box_violations(instance(election), lo, hi)
        if found:
            bad[seed] = found[0]
    assert bad == {}


# Built so that a wrong certification changes the outcome. Voters: 4 x (X1, Y, W),
# 1 x (X3, Y), 1 x (X2, W), 2 x W, and fillers for X1, X2, X3 (these are funded first
# at every share). After them, Y's poor set at the box's low end (the X1 voters) holds
# more than Y's cost at the high end, so Y's clipped line "proves" that W beats Y
# everywhere. In fact Y wins at some shares, and then W's poor voters (also Y's) are not
# drained first, so both Y and W get funded there.
TWO_LINE_PROJECTS = [("X1", 1264), ("X2", 461), ("X3", 169), ("W", 116), ("Y", 62)]
TWO_LINE_BALLOTS = (
    [["X1", "Y", "W"]] * 4 + [["X3", "Y"]] + [["X2", "W"]] + [["W"]] * 2 + [["X1"]] * 16 + [["X2"]] * 7 + [["X3"]] * 11
)


def test_add1_comparison_never_funds_more_than_the_budget():
    """Exact: the outcome at share 76 funds all five projects (2,072 > 2,015), so add1
    stops there and keeps share 75 (X1, X3, X2, W: 2,010). The float search certifies W
    over Y in the box [71, 88] (cut from [71, 102]). It misses 76, stops at 77 and keeps 76:
    2,072 spent of a budget of 2,015."""
    election = make_election(budget=2015, projects=TWO_LINE_PROJECTS, ballots=TWO_LINE_BALLOTS)
    assert fast_and_exact(election, until_exhaustive=False) == (76, 76)
    outcome = count(election, "equalshares/add1-comparison")
    assert outcome.cost <= 2015
    assert outcome.explanation.per_voter_budget == 75
    assert outcome.explanation.completion_runs == 30


def test_add1_stops_at_the_first_exhaustive_share():
    """The same shape with everything fitting the budget: the outcome at 72 funds every
    project (exhaustive). The float search misses that share and reports 73."""
    projects = [("X1", 1241), ("X2", 451), ("X3", 111), ("W", 116), ("Y", 62)]
    ballots = [b for b in TWO_LINE_BALLOTS if b != ["X3"]] + [["X3"]] * 10
    ballots = [b for b in ballots if b != ["X1"]] + [["X1"]] * 17
    election = make_election(budget=1995, projects=projects, ballots=ballots)
    assert len(election.ballots) == 42
    assert fast_and_exact(election, until_exhaustive=True) == (72, 72)
    outcome = count(election, "equalshares/add1")
    assert outcome.explanation.per_voter_budget == 72
    assert outcome.explanation.completion_runs == 26


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_poor_set_search_terminates_near_a_tie():
    """Voter 0's budget is within one rounding of the price that poor set {1} gives.
    Floats then alternate forever: {1} gives 0.5617337150328345 > b0, so voter 0 is poor;
    {0, 1} gives 0.5617337150328344 = b0, so voter 0 is not. Exactly, voter 0 is rich.
    Any poor set found is fine here (lower lines hold for any set, and upper prices are
    verified). The loop must end: for example, only ever add to the set, or cap the
    number of passes."""
    b = np.array([0.5617337150328344, 0.0005623565610644854, 6.164032204214813, 13.719968360562563])
    w = np.array([2.0, 4.0, 2.0, 5.0])

    def timeout(*_):
        raise TimeoutError("boxes._poor did not terminate")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        mask, price, _, _ = boxes._poor(b, w, 13.0, 5.057852861539768, 0.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert mask is not False
    assert price > 0
