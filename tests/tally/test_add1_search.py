"""The add1 search in floating point (pb/tally/add1.py) proves what it claims.

- Its bounds hold: after every round a box certifies, the exact budgets of every voter at
  every share of the box (an exact run funding the same projects in the same order) lie
  between the box's lower and upper lines, and the winner's exact price between its price
  bounds; and that winner is the exact winner of the round at every share.
- It finds the same share as the exact search on many seeded elections, with every path
  taken (cuts, tightening, boxes proved unable to stop add1, exact runs of one share).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from fractions import Fraction

import pytest

from pb.tally import add1, boxes, make_election, rational
from pb.tally.instance import Instance
from pb.tally.machine import Machine
from pb.tally.scores import tally


def generate(seed: int, voters: int, decimals: bool = False):
    rng = random.Random(f"add1-search-{seed}")
    m = rng.randint(5, 14)
    pool = [rng.randint(2, 60) * 25 for _ in range(rng.randint(2, 4))]
    costs = [rng.choice(pool) + rng.choice([0, 0, 5, 10]) for _ in range(m)]
    if decimals:
        costs = [f"{c}.{rng.randint(0, 99):02d}" for c in costs]
    ids = [f"p{j}" for j in range(m)]
    popularity = [rng.random() + 0.05 for _ in ids]
    templates = [sorted(set(rng.choices(ids, popularity, k=rng.randint(1, 5)))) for _ in range(rng.randint(3, 10))]
    ballots = []
    for _ in range(voters):
        if rng.random() < 0.5:
            ballots.append(rng.choice(templates))
        else:
            ballots.append(sorted(set(rng.choices(ids, popularity, k=rng.randint(1, 6)))))
    if seed % 5 == 0:  # identical twin projects: exact ties in rho at every share
        costs[1] = costs[0]
        ballots = [sorted(set(b) | {"p1"}) if "p0" in b else [p for p in b if p != "p1"] for b in ballots]
    total = sum(Fraction(c) for c in costs)
    budget = Fraction(rng.randint(25, 90), 100) * total
    budget = f"{float(round(budget, 2)):.2f}" if decimals else int(budget)
    return make_election(budget=budget, projects=list(zip(ids, costs, strict=True)), ballots=ballots)


def instance(election):
    return Instance(election, tally(election))


def exact_run(inst, share, winners):
    """The exact machine at ``share`` after funding ``winners`` (free projects first)."""
    heap = [entry for entry in inst.initial_heap if entry[2] not in winners]
    heapq.heapify(heap)
    machine = Machine(inst, rational.Q(share), heap=heap)
    for j in winners[len(inst.free) :]:
        machine.fund(j)
    return machine


def at(v0, vh, x, h):
    return Fraction(v0) if h == 0 else Fraction(v0) + (Fraction(vh) - Fraction(v0)) * Fraction(x, h)


@pytest.mark.parametrize("chunk", range(4))
def test_box_bounds_hold_at_every_share(chunk):
    checked = Counter()
    for seed in range(10 * chunk, 10 * chunk + 10):
        election = generate(seed, voters=60, decimals=seed % 4 == 1)
        inst = instance(election)
        data = boxes.Election(inst)
        lo = int(Fraction(election.budget) // len(election.ballots))
        for width in (0, 3, 17):
            box = boxes.Box(data, lo, lo + width)
            h = box.hi - box.lo
            while True:
                status, _hint = box.step()
                if status != "funded":
                    break
                w = box.winners[-1]
                for x in range(h + 1):
                    before = exact_run(inst, box.lo + x, box.winners[:-1])
                    chosen = before.select()
                    assert chosen is not None, "the certified winner wins at every share"
                    assert chosen[2] == w, "the certified winner wins at every share"
                    after = exact_run(inst, box.lo + x, box.winners)
                    for g, budget in enumerate(after.budgets):
                        assert at(box.L0[g], box.Lh[g], x, h) <= budget <= at(box.U0[g], box.Uh[g], x, h)
                    checked["budgets"] += len(after.budgets)
                checked[f"rounds in boxes of {h + 1}"] += 1
            if h >= 2:  # the parts of a cut box, and a box replayed from its own ends, still hold
                for part in (box.cut(0, h // 2), box.cut(h // 2 + 1, h), box.cut(1, h - 1).tightened()):
                    ph = part.hi - part.lo
                    for x in range(ph + 1):
                        after = exact_run(inst, part.lo + x, part.winners)
                        for g, budget in enumerate(after.budgets):
                            assert at(part.L0[g], part.Lh[g], x, ph) <= budget <= at(part.U0[g], part.Uh[g], x, ph)
                    checked["parts"] += 1
            if status == "done":  # a finished box: its outcome is the exact one at every share
                for x in range(h + 1):
                    assert box.winners == Machine(inst, rational.Q(box.lo + x)).finish().winners
                checked["finished boxes"] += 1
    assert checked["budgets"] > 2000, checked
    assert all(checked[f"rounds in boxes of {n}"] >= 10 for n in (1, 4, 18)), checked
    assert checked["finished boxes"] >= 5, checked
    assert checked["parts"] >= 30, checked


def _counting(monkeypatch):
    """Count the paths the search takes."""
    taken = Counter()
    for name in ("tightened", "cut"):
        original = getattr(boxes.Box, name)

        def wrapped(self, *args, _original=original, _name=name):
            taken[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(boxes.Box, name, wrapped)
    never = boxes.Box.can_never_stop

    def can_never_stop(self, stops):
        result = never(self, stops)
        taken["never"] += result
        return result

    monkeypatch.setattr(boxes.Box, "can_never_stop", can_never_stop)
    return taken


@pytest.mark.parametrize("voters", [40, 400, 3000])
def test_fast_search_finds_the_exact_share(voters, monkeypatch):
    taken = _counting(monkeypatch)
    exact_runs = Counter()
    for seed in range(25 if voters < 3000 else 8):
        election = generate(100 * voters + seed, voters=voters, decimals=seed % 3 == 0)
        inst = instance(election)
        total = rational.Q(election.budget)
        start = int(Fraction(total) // inst.num_voters)
        for until_exhaustive in (True, False):
            stops = add1.Stop(inst, total, until_exhaustive)

            def exact_outcome(share, certified):
                exact_runs["runs"] += 1
                return exact_run(inst, share, certified).finish().winners  # noqa: B023 (called in this iteration only)

            fast = boxes.first_stop(inst, stops, start, exact_outcome)
            assert fast == add1.first_stop_exact(inst, stops, start), (seed, until_exhaustive)
    if voters >= 400:
        assert taken["cut"], taken
        assert taken["tightened"], taken
        assert taken["never"], taken
    if voters == 40:
        assert exact_runs["runs"], "ties and tiny shares need the exact run of one share"


def test_exact_twins_are_decided_exactly():
    """Two identical projects tie at every share: floats cannot order them, the exact run
    of the share does, and the project listed first wins."""
    election = make_election(
        budget=100,
        projects=[("a", 30), ("b", 30), ("c", 45)],
        ballots=[["a", "b"]] * 5 + [["c"]] * 3 + [["a", "b", "c"]] * 2,
    )
    inst = instance(election)
    total = rational.Q(election.budget)
    stops = add1.Stop(inst, total, True)
    start = int(Fraction(total) // inst.num_voters)
    assert boxes.first_stop(inst, stops, start, lambda s, c: exact_run(inst, s, c).finish().winners) == (
        add1.first_stop_exact(inst, stops, start)
    )
