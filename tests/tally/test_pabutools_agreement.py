"""pb.tally agrees with pabutools (an independent implementation) on generated elections.

Elections are small and come from a seeded random generator, so every run checks the
same few hundred cases. Costs repeat on purpose, to make ties happen; pabutools is given
our published tie-breaking order (the order the file lists the projects) as its
tie-breaking rule. Every project gets at least one supporter, because pabutools' greedy
would fund a project nobody voted for while ours never does (see docs/counting.md).
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from pabutools.election import (
    Additive_Cardinal_Sat,
    AdditiveSatisfaction,
    ApprovalBallot,
    ApprovalProfile,
    Cost_Sat,
    CumulativeBallot,
    CumulativeProfile,
    Instance,
)
from pabutools.election import Project as PabuProject
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
from pabutools.rules.budgetallocation import BudgetAllocation
from pabutools.rules.mes.mes_rule import method_of_equal_shares_scheme
from pabutools.tiebreaking import TieBreakingRule

from pb.tally import count, make_election

SEEDS = range(60)


def generate(seed: int, vote_type: str):
    """A small random election as plain data (the way the web app builds one)."""
    rng = random.Random(f"{vote_type}-{seed}")
    m = rng.randint(3, 9)
    n = rng.randint(5, 40)
    cost_pool = [rng.randint(1, 60) * 10 for _ in range(3)]  # few distinct costs: ties
    projects = [(f"p{j}", rng.choice(cost_pool) + rng.choice([0, 0, 5])) for j in range(m)]
    ids = [pid for pid, _ in projects]
    popularity = [rng.random() + 0.1 for _ in ids]
    max_length = min(m, rng.randint(2, 4))
    ballots = []
    for _ in range(n):
        size = rng.randint(1, max_length)
        chosen: list[str] = []
        while len(chosen) < size:
            pid = rng.choices(ids, popularity)[0]
            if pid not in chosen:
                chosen.append(pid)
        ballots.append(chosen)
    for pid in ids:  # everybody's project gets at least one supporter
        if not any(pid in b for b in ballots):
            target = rng.choice([b for b in ballots if len(b) < max_length] or ballots)
            if len(target) >= max_length:
                target.pop()
            target.append(pid)
    total_cost = sum(c for _, c in projects)
    budget = rng.randint(total_cost // 4, total_cost * 3 // 4)
    if vote_type == "cumulative":
        ballots = [{pid: rng.randint(1, 5) for pid in b} for b in ballots]
    return make_election(budget=budget, projects=projects, ballots=ballots, vote_type=vote_type, max_length=max_length)


def points_of(election):
    """Per ballot {project_id: points}, computed here independently of pb.tally."""
    k = int(election.meta["max_length"])
    for ballot in election.ballots:
        if election.vote_type == "cumulative":
            yield dict(zip(ballot.vote, ballot.points, strict=False))
        elif election.vote_type == "ordinal":
            yield {pid: k - r for r, pid in enumerate(ballot.vote)}
        else:
            yield {pid: 1 for pid in ballot.vote}


def as_pabutools(election, budget=None):
    projects = {pid: PabuProject(pid, p.cost) for pid, p in election.projects.items()}
    instance = Instance(projects.values(), budget_limit=election.budget if budget is None else budget)
    if election.vote_type == "approval":
        profile = ApprovalProfile([ApprovalBallot(projects[pid] for pid in b.vote) for b in election.ballots])
    else:
        profile = CumulativeProfile(
            [CumulativeBallot({projects[pid]: x for pid, x in pts.items()}) for pts in points_of(election)]
        )
    position = {pid: i for i, pid in enumerate(projects)}
    tie_breaking = TieBreakingRule(lambda inst, prof, proj: position[proj.name])
    return instance, profile, tie_breaking


class PointsTimesCost(AdditiveSatisfaction):
    """Satisfaction whose greedy density (satisfaction / cost) is the project's points."""

    def __init__(self, instance, profile, ballot):
        super().__init__(instance, profile, ballot, lambda i, p, b, proj, pre: b.get(proj, 0) * proj.cost)


def pabutools_greedy(election):
    instance, profile, tie_breaking = as_pabutools(election)
    sat = Cost_Sat if election.vote_type == "approval" else PointsTimesCost
    return [p.name for p in greedy_utilitarian_welfare(instance, profile, sat_class=sat, tie_breaking=tie_breaking)]


def pabutools_mes(election, budget=None, increment=None):
    instance, profile, tie_breaking = as_pabutools(election, budget)
    sat = Cost_Sat if election.vote_type == "approval" else Additive_Cardinal_Sat
    outcome = method_of_equal_shares(
        instance, profile, sat_class=sat, tie_breaking=tie_breaking, voter_budget_increment=increment
    )
    return [p.name for p in outcome]


def pabutools_add1(election):
    """pabutools' add1 (voter_budget_increment=1: stop at the first exhaustive outcome, or
    before the first over budget), started where pb starts, at floor(budget / voters)."""
    instance, profile, tie_breaking = as_pabutools(election)
    outcome = method_of_equal_shares_scheme(
        instance,
        profile,
        profile.as_sat_profile(sat_class=Cost_Sat),
        Fraction(election.budget) // len(election.ballots),
        BudgetAllocation(),
        tie_breaking,
        voter_budget_increment=1,
        binary_sat=True,
    )
    return [p.name for p in outcome]


@pytest.mark.parametrize("vote_type", ["approval", "cumulative", "ordinal"])
@pytest.mark.parametrize("seed", SEEDS)
def test_greedy_agrees(seed, vote_type):
    election = generate(seed, vote_type)
    assert count(election, "greedy").selected == pabutools_greedy(election)


@pytest.mark.parametrize("vote_type", ["approval", "cumulative", "ordinal"])
@pytest.mark.parametrize("seed", SEEDS)
def test_equal_shares_agrees(seed, vote_type):
    election = generate(seed, vote_type)
    assert count(election, "equalshares").selected == pabutools_mes(election)


@pytest.mark.parametrize("seed", range(60))
def test_add1_agrees(seed):
    election = generate(seed, "approval")
    assert set(count(election, "equalshares/add1").selected) == set(pabutools_add1(election))


@pytest.mark.parametrize("seed", range(30))
def test_add1_agrees_with_the_public_voter_budget_increment(seed):
    """When budget / voters is whole, pabutools' public function starts where pb does."""
    election = generate(seed, "approval")
    voters = len(election.ballots)
    budget = election.budget // voters * voters
    election.meta["budget"] = str(budget)
    assert set(count(election, "equalshares/add1").selected) == set(pabutools_mes(election, increment=1))


@pytest.mark.parametrize("seed", range(30))
def test_add1_when_everything_fits_funds_everything_like_pabutools(seed):
    election = generate(seed, "approval")
    election.meta["budget"] = str(sum(p.cost for p in election.projects.values()) + seed)
    selected = count(election, "equalshares/add1").selected
    assert set(selected) == set(election.projects)  # every project has a supporter here
    assert set(selected) == set(pabutools_add1(election))
