"""The fast Method of Equal Shares paths give exactly what the plain exact path gives.

pb.tally has a plain reference implementation of MES (``_Machine``: every budget an exact
rational, every project re-priced from scratch) and faster paths:

- ``_IntMachine`` (approval ballots): budgets as integers over one common denominator;
- the add1 search, which certifies whole ranges of per-voter shares at once by
  monotonicity instead of running MES once per share.

These tests run both on many seeded elections built to produce near-ties (few distinct
costs, clusters of identical ballots, budgets that make voters run short) and compare
everything: winners, their order, every round's explanation, the add1 share and count.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from pb.tally import add1, count, make_election, rational
from pb.tally import runs as mes_runs
from pb.tally.instance import Instance
from pb.tally.machine import Machine
from pb.tally.scores import tally


def generate(seed: int, *, voters: int | None = None, decimals: bool = False):
    rng = random.Random(f"mes-engine-{seed}")
    m = rng.randint(4, 12)
    n = voters or rng.randint(8, 120)
    pool = [rng.randint(2, 40) * 25 for _ in range(rng.randint(1, 3))]  # few costs: ties
    costs = [rng.choice(pool) for _ in range(m)]
    if decimals:
        costs = [f"{c}.{rng.randint(0, 99):02d}" for c in costs]
    ids = [f"p{j}" for j in range(m)]
    popularity = [rng.random() + 0.05 for _ in ids]
    templates = [
        sorted(set(rng.choices(ids, popularity, k=rng.randint(1, min(m, 5))))) for _ in range(rng.randint(2, 8))
    ]
    ballots = []
    for _ in range(n):
        if rng.random() < 0.6:  # identical ballots: equal budgets, exact ties in rho
            ballots.append(rng.choice(templates))
        else:
            ballots.append(sorted(set(rng.choices(ids, popularity, k=rng.randint(1, min(m, 6))))))
    total = sum(Fraction(c) for c in costs)
    budget = Fraction(rng.randint(20, 80), 100) * total
    budget = f"{float(round(budget, 2)):.2f}" if decimals else int(budget)
    return make_election(budget=budget, projects=list(zip(ids, costs, strict=True)), ballots=ballots)


def instance(election):
    return Instance(election, tally(election))


def reference_run(inst, share):
    """The plain exact machine, with every round's explanation."""
    original = mes_runs.machine_for
    mes_runs.machine_for = lambda inst, share, heap=None: Machine(inst, share, heap=heap)
    try:
        return mes_runs.run(inst, share, explain=True)
    finally:
        mes_runs.machine_for = original


def reference_add1(election, until_exhaustive=True):
    """add1 one share at a time, with the plain exact machine (the definition): from
    floor(budget / voters), while the outcome is not exhaustive, raise the share if the
    next outcome still fits. Returns (share, shares considered)."""
    inst = instance(election)
    total = rational.Q(election.budget)
    start = share = Fraction(total) // inst.num_voters
    current = Machine(inst, share).finish().winners
    while True:
        cost = inst.total_cost(current)
        unfunded = [j for j in inst.candidates if j not in current]
        if not unfunded or (until_exhaustive and all(cost + inst.cost[j] > total for j in unfunded)):
            return share, share - start + 1
        following = Machine(inst, share + 1).finish().winners
        if inst.total_cost(following) > total:
            return share, share + 1 - start + 1
        share += 1
        current = following


@pytest.mark.parametrize("seed", range(150))
def test_integer_machine_matches_exact_machine(seed):
    election = generate(seed)
    inst = instance(election)
    n = inst.num_voters
    rng = random.Random(seed)
    for share in (rational.Q(election.budget) / n, rng.randint(1, 60) * 5, rational.Q(rng.randint(1, 900), 7)):
        fast = mes_runs.run(inst, share, explain=True)
        slow = reference_run(inst, share)
        assert fast.winners == slow.winners
        assert fast.rounds == slow.rounds
        for j in inst.candidates:
            assert fast.left(inst, j) == slow.left(inst, j)


@pytest.mark.parametrize("seed", range(40))
def test_integer_machine_with_decimal_costs(seed):
    election = generate(seed, decimals=True)
    inst = instance(election)
    share = rational.Q(election.budget) / inst.num_voters
    fast = mes_runs.run(inst, share, explain=True)
    slow = reference_run(inst, share)
    assert fast.winners == slow.winners
    assert fast.rounds == slow.rounds


RULES = {"equalshares/add1": True, "equalshares/add1-comparison": False}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", range(120))
def test_add1_search_matches_one_share_at_a_time(seed, rule):
    election = generate(seed)
    if seed % 4 == 0:  # everything fits: add1 raises the share until all is funded
        election.meta["budget"] = str(sum(p.cost for p in election.projects.values()) + seed)
    inst = instance(election)
    share, runs = reference_add1(election, until_exhaustive=RULES[rule])
    outcome = count(election, rule)
    assert outcome.explanation.per_voter_budget == share
    assert outcome.explanation.completion_runs == runs
    expected = reference_run(inst, share)
    mes_outcome = outcome.explanation.comparison
    if mes_outcome is None or mes_outcome.chosen == "equalshares":
        assert outcome.selected == [inst.pids[j] for j in expected.winners]


def test_everything_fits_funds_every_project_with_supporters():
    """The demo's shape: projects together cost less than the budget. Plain MES leaves
    most of it; add1 raises the share until every project with supporters is funded."""
    election = make_election(
        budget=40_000,
        projects=[("a", 4_000), ("b", 12_800), ("c", 6_100), ("d", 2_500), ("e", 4_500), ("f", 900)],
        ballots=[["a", "c"]] * 40 + [["b"]] * 50 + [["c", "d", "e"]] * 30 + [["d"]] * 20 + [["a", "e"]] * 23,
    )
    plain = count(election, "equalshares")
    assert "b" not in plain.selected  # 50 supporters with 40,000 / 163 each cannot pay 12,800
    outcome = count(election, "equalshares/add1")
    assert set(outcome.selected) == {"a", "b", "c", "d", "e"}
    assert outcome.explanation.completion.stopped == "exhaustive"
    assert outcome.explanation.unfunded["f"].code == "no_support"


@pytest.mark.parametrize("seed", range(30))
def test_add1_search_on_wide_share_ranges(seed):
    """Many voters with small shares: the search splits ranges many times."""
    election = generate(1000 + seed, voters=300)
    inst = instance(election)
    total = rational.Q(election.budget)
    start = int(Fraction(total) // inst.num_voters)
    _share, runs = reference_add1(election)
    assert add1.first_stop(inst, add1.Stop(inst, total, True), start) == start + runs - 1


@pytest.mark.parametrize("seed", range(15))
def test_add1_search_with_decimal_costs(seed):
    election = generate(2000 + seed, voters=200, decimals=True)
    inst = instance(election)
    total = rational.Q(election.budget)
    start = int(Fraction(total) // inst.num_voters)
    _share, runs = reference_add1(election)
    assert add1.first_stop(inst, add1.Stop(inst, total, True), start) == start + runs - 1
