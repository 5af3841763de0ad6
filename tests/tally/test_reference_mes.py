"""pb.tally's equal shares against an independent reference written from the definition.

``reference_mes.py`` is the Method of Equal Shares (plain, add1, add1-comparison) written
straight from the definitions in its docstring, sharing no code with pb. It is checked
here against pabutools on 300 small elections (plain MES, add1 and the greedy used by
the comparison step; pabutools has no comparison step). Then pb.tally is checked against
it under all three rules on 2,000 seeded elections built to hit the awkward cases:
everything fits, free projects, projects nobody supports, exact ties (identical
projects, coinciding rho), one voter to sixty, budgets below the cheapest project,
decimal costs and budgets, empty ballots, projects named without support (ranked beyond
max_length, or given 0 points), and add1 stopping both at an exhaustive outcome and
because the next share would overspend. ``test_generator_covers_every_kind`` fails if
the generator stops producing any of these.
"""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction
from functools import cache

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
from pabutools.rules import greedy_utilitarian_welfare
from pabutools.rules.budgetallocation import BudgetAllocation
from pabutools.rules.mes.mes_rule import method_of_equal_shares_scheme
from pabutools.tiebreaking import TieBreakingRule

from pb.tally import count, make_election
from tests.tally import reference_mes as reference

RULES = reference.RULES
ELECTIONS = {"approval": 700, "ordinal": 650, "cumulative": 650}
CHUNK = 50
CHUNKS = [(vote_type, start) for vote_type, total in ELECTIONS.items() for start in range(0, total, CHUNK)]


def generate(seed: int, vote_type: str, small: bool = False) -> dict:
    """A seeded election as plain data, plus ``kinds``: the awkward cases it contains."""
    rng = random.Random(f"reference-{vote_type}-{seed}-{small}")
    m = rng.randint(1, 6 if small else 8)
    size = rng.choice(["few", "some"] if small else ["few", "some", "some", "many"])
    n = {"few": rng.randint(1, 3), "some": rng.randint(4, 15), "many": rng.randint(30, 60)}[size]
    # Few distinct costs, some multiples of each other: equal and proportional costs make
    # rho coincide. Costs stay below a few dozen units, so add1 needs few steps.
    pool = [rng.randint(1, 8) * rng.choice([1, 2, 3, 5]) for _ in range(3)]
    costs = [Fraction(rng.choice(pool)) for _ in range(m)]
    if rng.random() < 0.25:
        costs = [c + rng.choice([0, Fraction(1, 2), Fraction(1, 4), Fraction(99, 100)]) for c in costs]
    if rng.random() < 0.2:
        costs[rng.randrange(m)] = Fraction(0)
    ids = [f"p{j}" for j in range(m)]
    if vote_type == "approval" and rng.random() < 0.15:
        vote_type = "choose-1"
    max_length = rng.randint(1, m) if vote_type == "ordinal" and rng.random() < 0.6 else None
    longest = {"choose-1": 1, "ordinal": max_length or m}.get(vote_type, m)
    popularity = [rng.random() + 0.05 for _ in ids]
    empty_rate = rng.choice([0, 0, 0.15])
    rankings = []
    for _ in range(n):
        length = 0 if rng.random() < empty_rate else rng.randint(1, longest)
        ranking = []
        while len(ranking) < length:
            pid = rng.choices(ids, popularity)[0]
            if pid not in ranking:
                ranking.append(pid)
        rankings.append(ranking)
    if m >= 2 and rng.random() < 0.25:  # a project nobody supports
        dropped = rng.choice(ids)
        rankings = [[p for p in r if p != dropped] for r in rankings]
    projects = list(zip(ids, costs, strict=True))
    twins = None
    if m >= 2 and longest >= 2 and rng.random() < 0.3:
        # An identical twin of a project (same cost, same supporters), listed before or
        # after it: the two tie on rho in every round.
        original = rng.choice(ids)
        twins = (original, f"p{m}")
        projects.insert(rng.randint(0, m), (f"p{m}", dict(projects)[original]))
        for r in rankings:
            if original in r:
                r.insert(r.index(original) + rng.randint(0, 1), f"p{m}")
                if vote_type == "ordinal" and len(r) > longest:  # drop another, keeping the twins' supporters
                    r.remove(next(p for p in reversed(r) if p not in twins))
    if vote_type == "ordinal" and max_length and max_length < m and rng.random() < 0.15:
        # Ranks beyond max_length are on the ballot but worth nothing: not support.
        for r in rankings:
            if len(r) >= max_length:
                r.append(rng.choice([p for p, _ in projects if p not in r]))
    if vote_type == "cumulative":
        zero_rate = rng.choice([0, 0, 0, 0.2])  # a project named with 0 points is not supported
        ballots = [{pid: 0 if rng.random() < zero_rate else rng.choice([1, 1, 2, 3, 5]) for pid in r} for r in rankings]
        for b in ballots:
            if twins and twins[0] in b:
                b[twins[1]] = b[twins[0]]
    else:
        ballots = rankings

    total = sum(c for _, c in projects)
    positive = [c for _, c in projects if c > 0]
    budget_kind = rng.choice(["fits", "fits", "below cheapest", *["part"] * 7] if positive else ["part"])
    if budget_kind == "fits":
        budget = total + rng.choice([0, 0, rng.randint(1, 20)])
    elif budget_kind == "below cheapest":
        budget = Fraction(rng.randint(0, max(int(min(positive)) - 1, 0)))
    else:
        budget = Fraction(int(total * rng.randint(10, 90) / 100))
    if budget_kind != "fits" and rng.random() < 0.25:
        budget += Fraction(rng.randint(1, 99), 100)
        if budget_kind == "below cheapest":
            budget = min(budget, min(positive) - Fraction(1, 100))

    # The kinds, computed from the data here (not by the code under test).
    k = max_length or len(projects)
    if vote_type == "cumulative":
        supported = {p for b in ballots for p, x in b.items() if x > 0}
        named_only = any(x == 0 for b in ballots for x in b.values())
    else:
        supported = {p for r in rankings for p in r[:k]}
        named_only = any(len(r) > k for r in rankings)
    kinds = {f"voters: {size}", f"vote type: {vote_type}"}
    if total <= budget:
        kinds.add("everything fits")
    if positive and budget < min(positive):
        kinds.add("budget below the cheapest project")
    if any(c == 0 and pid in supported for pid, c in projects):
        kinds.add("free project with supporters")
    if any(pid not in supported for pid, _ in projects):
        kinds.add("project nobody supports")
    if twins and twins[0] in supported:
        kinds.add("identical projects")
    if any(c.denominator != 1 for c in costs):
        kinds.add("decimal costs")
    if budget.denominator != 1:
        kinds.add("decimal budget")
    if any(not r for r in rankings):
        kinds.add("empty ballot")
    if named_only:
        kinds.add("named without support (rank beyond k, or 0 points)")
    return {
        "budget": budget,
        "projects": projects,
        "ballots": ballots,
        "vote_type": vote_type,
        "max_length": max_length,
        "kinds": kinds,
    }


def decimal_text(value: Fraction) -> str:
    """``12.50`` for 25/2: how a Pabulib file or a web form writes money."""
    if value.denominator == 1:
        return str(value)
    cents = value * 100
    assert cents.denominator == 1, value
    return f"{int(cents) // 100}.{int(cents) % 100:02}"


def pb_election(data: dict):
    return make_election(
        budget=decimal_text(data["budget"]),
        projects=[(pid, decimal_text(c)) for pid, c in data["projects"]],
        ballots=data["ballots"],
        vote_type=data["vote_type"],
        max_length=data["max_length"],
    )


@cache
def expected(vote_type: str, seed: int) -> tuple[dict, dict[str, reference.Result]]:
    """The election and the reference's outcome under each rule (shared by the tests below)."""
    data = generate(seed, vote_type)
    args = (data["budget"], data["projects"], data["ballots"], data["vote_type"], data["max_length"])
    return data, reference.outcomes(*args)


@pytest.mark.parametrize("vote_type, start", CHUNKS, ids=[f"{v}-{s}" for v, s in CHUNKS])
def test_pb_agrees_with_the_reference(vote_type, start):
    wrong = []
    for seed in range(start, start + CHUNK):
        data, outcomes = expected(vote_type, seed)
        election = pb_election(data)
        for rule, want in outcomes.items():
            got = count(election, rule).selected
            same = set(got) == set(want.selected)
            if rule != "equalshares/add1-comparison":
                same = same and got == want.selected  # the order funded too (free projects first)
            if not same:
                wrong.append(f"seed {seed} {rule}: reference {want.selected}, pb {got}")
    assert not wrong, f"{len(wrong)} of {CHUNK * len(RULES)} differ:\n" + "\n".join(wrong[:10])


# Small elections worked by hand from the definition (the reference's docstring); each
# is the smallest found for one way pb has differed from it.
HAND_WORKED = [
    (
        "rho ties go to the project listed first, not the cheaper one",
        dict(budget=2, projects=[("p0", 2), ("p1", 1)], ballots=[["p0", "p1"]], vote_type="approval"),
        "equalshares",
        {"p0"},  # both have rho 1; p0 is listed first and takes all the voter's money
    ),
    (
        "add1 has no everything-fits special case",
        dict(budget=2, projects=[("p0", 2)], ballots=[[], ["p0"]], vote_type="approval"),
        "equalshares/add1",
        {"p0"},  # share 1 funds nothing and p0 still fits; share 2 funds p0 (cost 2 fits)
    ),
    (
        "add1 stops at the first exhaustive outcome",
        dict(budget=30, projects=[("p0", 21), ("p1", 1), ("p5", 9)], ballots=[["p5"], ["p1", "p0"], ["p0"]]),
        "equalshares/add1",
        {"p1", "p5"},  # share 10: p1, p5 (rho 1 each); 20 left < 21: exhaustive. Share 11 would fund p0, p5
    ),
    (
        "add1-comparison raises the share past exhaustive outcomes, as Wieliczka did",
        dict(
            budget=5, projects=[("p1", 5), ("p2", 4)], ballots=[{"p2": 5, "p1": 1}, {"p1": 1}], vote_type="cumulative"
        ),
        "equalshares/add1-comparison",
        # Share 3 funds p1 (exhaustive: p2 does not fit in what is left), but p2 is unfunded,
        # so the share rises: share 4 funds p2 (voter 1 pays 4 at rho 4/5; then voter 2's 4
        # cannot pay p1), share 5 would fund both (9 > 5). Greedy also funds p2.
        {"p2"},
    ),
    (
        "the comparison counts only the projects a voter supports (0 points is not support)",
        dict(
            budget=6,
            projects=[("p3", 1), ("p4", 2), ("p6", 4)],
            ballots=[{"p3": 0, "p6": 1}, {"p4": 5, "p6": 1}, {"p3": 1}],
            vote_type="cumulative",
        ),
        "equalshares/add1-comparison",
        {"p4", "p6"},  # add1 funds p4, p3; greedy p4, p6; voters 1 and 2 prefer greedy's, voter 3 add1's
    ),
]


@pytest.mark.parametrize("why, election, rule, funded", HAND_WORKED, ids=[case[0] for case in HAND_WORKED])
def test_hand_worked_example(why, election, rule, funded):
    args = (election["budget"], election["projects"], election["ballots"], election.get("vote_type", "approval"))
    assert set(reference.count(*args, rule).selected) == funded
    assert set(count(make_election(**election), rule).selected) == funded


def test_generator_covers_every_kind():
    """Each awkward case is produced many times (a generator change cannot drop one silently)."""
    seen = Counter()
    for vote_type, total in ELECTIONS.items():
        for seed in range(total):
            data, outcomes = expected(vote_type, seed)
            seen.update(data["kinds"])
            add1, comparison = outcomes["equalshares/add1"], outcomes["equalshares/add1-comparison"]
            seen[f"add1 stopped: {add1.stopped}"] += 1
            if add1.share > Fraction(data["budget"]) // len(data["ballots"]):
                seen[f"add1 raised the share, then stopped: {add1.stopped}"] += 1
            seen[f"comparison chose {comparison.chosen}"] += 1
            if any(outcome.tied_rounds for outcome in outcomes.values()):
                seen["tie on rho"] += 1
    assert sum(ELECTIONS.values()) >= 2000
    needed = [
        "everything fits",
        "budget below the cheapest project",
        "free project with supporters",
        "project nobody supports",
        "identical projects",
        "decimal costs",
        "decimal budget",
        "empty ballot",
        "voters: few",
        "voters: many",
        "vote type: choose-1",
        "tie on rho",
        "named without support (rank beyond k, or 0 points)",
        "add1 stopped: exhaustive",
        "add1 stopped: next over budget",
        "add1 raised the share, then stopped: exhaustive",
        "add1 raised the share, then stopped: next over budget",
        "comparison chose add1",
        "comparison chose greedy",
    ]
    assert {kind: seen[kind] for kind in needed if seen[kind] < 20} == {}


# --- the reference itself, against pabutools ------------------------------------------------


def as_pabutools(data: dict):
    projects = {pid: PabuProject(pid, cost) for pid, cost in data["projects"]}
    instance = Instance(projects.values(), budget_limit=data["budget"])
    if data["vote_type"] in ("approval", "choose-1"):
        profile = ApprovalProfile([ApprovalBallot(projects[p] for p in b) for b in data["ballots"]], instance=instance)
    else:
        if data["vote_type"] == "cumulative":
            points = data["ballots"]  # 0 points: pabutools sees no satisfaction, so no support
        else:
            k = data["max_length"] or len(projects)
            points = [{p: k - index for index, p in enumerate(b) if k - index > 0} for b in data["ballots"]]
        profile = CumulativeProfile([CumulativeBallot({projects[p]: x for p, x in b.items()}) for b in points])
    position = {pid: index for index, pid in enumerate(projects)}
    return instance, profile, TieBreakingRule(lambda inst, prof, proj: position[proj.name])


def pabutools_mes(data: dict, rule: str) -> list[str]:
    """pabutools' MES at budget / n, or its iterated MES from floor(budget / n) in steps of 1."""
    instance, profile, tie_breaking = as_pabutools(data)
    sat = Cost_Sat if isinstance(profile, ApprovalProfile) else Additive_Cardinal_Sat
    n = len(data["ballots"])
    plain = rule == "equalshares"
    outcome = method_of_equal_shares_scheme(
        instance,
        profile,
        profile.as_sat_profile(sat),
        data["budget"] / n if plain else data["budget"] // n,
        BudgetAllocation(),
        tie_breaking,
        resoluteness=True,
        voter_budget_increment=None if plain else 1,
        binary_sat=sat is Cost_Sat,
    )
    return [p.name for p in outcome]


class PointsTimesCost(AdditiveSatisfaction):
    """A satisfaction whose greedy density (satisfaction / cost) is the points given."""

    def __init__(self, instance, profile, ballot):
        super().__init__(instance, profile, ballot, lambda i, p, b, proj, pre: b.get(proj, 0) * proj.cost)


def pabutools_greedy(data: dict) -> set[str]:
    """pabutools' greedy by votes (Cost_Sat density) or by points, without unsupported projects.

    pabutools funds a project nobody supports if it still fits; such projects come last
    (density 0), so leaving them out gives the definition's greedy exactly.
    """
    instance, profile, tie_breaking = as_pabutools(data)
    sat = Cost_Sat if isinstance(profile, ApprovalProfile) else PointsTimesCost
    outcome = greedy_utilitarian_welfare(instance, profile, sat_class=sat, tie_breaking=tie_breaking)
    supported = {p.name for ballot in profile for p in ballot if not isinstance(ballot, dict) or ballot[p] > 0}
    return {p.name for p in outcome} & supported


@pytest.mark.parametrize("vote_type", ["approval", "ordinal", "cumulative"])
def test_reference_agrees_with_pabutools(vote_type):
    """100 small elections per vote type: plain MES, add1 and the greedy of the comparison step.

    pabutools' iterated MES returns the last feasible outcome before an infeasible one and
    stops at an exhaustive one (over the projects with supporters and a cost), which is
    the add1 of the definition when started at floor(budget / n) with steps of 1.
    """
    wrong = []
    for seed in range(100):
        data = generate(seed, vote_type, small=True)
        args = (data["budget"], data["projects"], data["ballots"], data["vote_type"], data["max_length"])
        outcomes = reference.outcomes(*args)
        free = {pid for pid, c in data["projects"] if c == 0}
        for rule in ("equalshares", "equalshares/add1"):
            want, got = outcomes[rule].selected, pabutools_mes(data, rule)
            if data["vote_type"] in ("approval", "choose-1"):
                # Cost_Sat gives a free project a satisfaction of 0, so pabutools sees no
                # supporters and never funds it; the definition (and pb) fund it first.
                want = [p for p in want if p not in free]
            # pabutools adds free projects from a set, in no fixed order; the rest must match in order.
            if set(got) != set(want) or [p for p in got if p not in free] != [p for p in want if p not in free]:
                wrong.append(f"seed {seed} {rule}: reference {want}, pabutools {got}")
        utils = reference.utilities(data["projects"], data["ballots"], data["vote_type"], data["max_length"])
        want = reference.greedy(data["budget"], data["projects"], utils, data["vote_type"])
        if set(want) != pabutools_greedy(data):
            wrong.append(f"seed {seed} greedy: reference {want}, pabutools {pabutools_greedy(data)}")
    assert not wrong, "\n".join(wrong[:10])
