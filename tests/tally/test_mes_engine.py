"""The fast Method of Equal Shares paths give exactly what the plain exact path gives.

pb.tally has a plain reference implementation of MES (``_Machine``: every budget an exact
rational, every project re-priced from scratch) and faster paths:

- ``_IntMachine`` (approval ballots): budgets as integers over one common denominator;
- the add1 search, which certifies whole ranges of per-voter shares at once by
  monotonicity instead of running MES once per share;
- ``fits_surely``: stopping a run once its outcome certainly fits the budget.

These tests run both on many seeded elections built to produce near-ties (few distinct
costs, clusters of identical ballots, budgets that make voters run short) and compare
everything: winners, their order, every round's explanation, the add1 share and count.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from pb.tally import count, make_election
from pb.tally import equalshares as mes
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
    return make_election(budget=budget, projects=list(zip(ids, costs)), ballots=ballots)


def instance(election):
    return mes._Instance(election, tally(election))


def reference_run(inst, share):
    """The plain exact machine, with every round's explanation."""
    original = mes._machine
    mes._machine = lambda inst, share, heap=None: mes._Machine(inst, share, heap=heap)
    try:
        return mes._run(inst, share, explain=True)
    finally:
        mes._machine = original


def reference_add1(election):
    """add1 one share at a time, with the plain exact machine (the definition)."""
    inst = instance(election)
    total = mes.Q(election.budget)
    n = inst.num_voters
    share = Fraction(total) // n
    runs = 1
    while True:
        following = mes._Machine(inst, share + 1).finish()
        runs += 1
        if following.spent > total:
            return share, runs
        share += 1


@pytest.mark.parametrize("seed", range(150))
def test_integer_machine_matches_exact_machine(seed):
    election = generate(seed)
    inst = instance(election)
    n = inst.num_voters
    rng = random.Random(seed)
    for share in (mes.Q(election.budget) / n, rng.randint(1, 60) * 5, mes.Q(rng.randint(1, 900), 7)):
        fast = mes._run(inst, share, explain=True)
        slow = reference_run(inst, share)
        assert fast.winners == slow.winners
        assert fast.rounds == slow.rounds
        for j in inst.candidates:
            assert fast.left(inst, j) == slow.left(inst, j)


@pytest.mark.parametrize("seed", range(40))
def test_integer_machine_with_decimal_costs(seed):
    election = generate(seed, decimals=True)
    inst = instance(election)
    share = mes.Q(election.budget) / inst.num_voters
    fast = mes._run(inst, share, explain=True)
    slow = reference_run(inst, share)
    assert fast.winners == slow.winners
    assert fast.rounds == slow.rounds


@pytest.mark.parametrize("seed", range(120))
def test_add1_search_matches_one_share_at_a_time(seed):
    election = generate(seed)
    inst = instance(election)
    if sum(inst.cost) <= election.budget or inst.total_cost(inst.candidates) <= election.budget:
        pytest.skip("add1 takes another path (everything fits)")
    share, runs = reference_add1(election)
    outcome = count(election, "equalshares/add1")
    assert outcome.explanation.per_voter_budget == share
    assert outcome.explanation.completion_runs == runs
    expected = reference_run(inst, share)
    assert outcome.selected == [inst.pids[j] for j in expected.winners]


@pytest.mark.parametrize("seed", range(30))
def test_add1_search_on_wide_share_ranges(seed):
    """Many voters with small shares: the search splits ranges many times."""
    election = generate(1000 + seed, voters=300)
    inst = instance(election)
    if inst.total_cost(inst.candidates) <= election.budget:
        pytest.skip("add1 takes another path (everything fits)")
    total = mes.Q(election.budget)
    start = int(Fraction(total) // inst.num_voters)
    share, _ = reference_add1(election)
    assert mes._first_not_fitting(inst, total, start) == share + 1


@pytest.mark.parametrize("seed", range(60))
def test_fits_surely_is_sound(seed):
    """Whenever a run says its outcome surely fits, finishing it confirms that."""
    election = generate(seed)
    inst = instance(election)
    total = mes.Q(election.budget)
    for share in range(1, 200, 7):
        machine = mes._machine(inst, share)
        while machine.select() is not None:
            machine.commit()
            if machine.fits_surely(total):
                finished = machine.copy().finish()
                assert finished.spent <= total


@pytest.mark.parametrize("seed", range(15))
def test_add1_search_with_decimal_costs(seed):
    election = generate(2000 + seed, voters=200, decimals=True)
    inst = instance(election)
    if inst.total_cost(inst.candidates) <= election.budget:
        pytest.skip("add1 takes another path (everything fits)")
    total = mes.Q(election.budget)
    start = int(Fraction(total) // inst.num_voters)
    share, _ = reference_add1(election)
    assert mes._first_not_fitting(inst, total, start) == share + 1
