"""The Method of Equal Shares written straight from its definition, as a check on pb.tally.

This is the specification ``test_reference_mes.py`` holds pb.tally to. It shares no code
with ``pb`` (standard library only), favours being obviously right over being fast, and
does all arithmetic exactly (``fractions.Fraction``).

Input is plain data: the budget, ``projects`` as ``[(project_id, cost), ...]`` in file
order, and ballots (approval and choose-1: a list of ids; ordinal: a list of ids, most
preferred first; cumulative: ``{id: points}``).

- n = the number of ballots; empty ballots count as voters.
- Utility of voter i for project j: approval and choose-1: cost_j if i approved j, else 0
  ("cost utilities"); cumulative: the points given; ordinal: with k = max_length (the
  number of projects when not given), the project ranked r-th (r = 1 first) gets
  k - r + 1 points; ranks beyond k give nothing.
- Supporters of j: the voters who named j (approved it, ranked it within the first k, or
  gave it points > 0). A voter "names" exactly the projects they support.
- A project without supporters is never funded. A free project (cost 0) with supporters is
  always funded, before anything else.
- Ties, everywhere: the project listed first in the file wins.
- MES at per-voter money s: every voter starts with s. Repeat: an unfunded project j
  (cost > 0, with supporters) is affordable if its supporters' money together is at
  least cost_j; its rho_j is the smallest rho >= 0 with
  sum over supporters i of min(b_i, rho * u_ij) = cost_j. Fund the affordable project
  with the smallest rho (ties: listed first); each supporter i pays min(b_i, rho * u_ij).
  Stop when no project is affordable.
- equalshares: MES at s = budget / n.
- equalshares/add1: s = floor(budget / n) (whole currency units, even with decimal
  costs). Loop: O = MES(s). If O is exhaustive (no unfunded project with cost > 0 and
  supporters costs at most budget - cost(O)), the result is O. Otherwise, if
  cost(MES(s + 1)) > budget the result is O; else s = s + 1 and repeat. There is no
  special case for "everything fits the budget".
- equalshares/add1-comparison (Wieliczka 2023, the one city to use it): add1 as Wieliczka
  ran it, raising the share past exhaustive outcomes (only an outcome funding every
  project with supporters, or a next share over budget, stops it), against greedy's
  outcome (projects by score descending: votes for approval, points otherwise; ties
  listed first; fund each project with supporters that still fits in the money left).
  Each voter prefers the outcome funding more of the projects they named; greedy's
  outcome is used if strictly more voters prefer it, add1's otherwise.
- With no ballots at all, nothing is funded.

pabutools (checked against this in the test) agrees on plain MES, add1 and greedy, except
that its cost satisfaction gives a free project 0, so it never funds free projects on
approval ballots, and its greedy funds a project nobody supports if it still fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import floor


@dataclass
class Result:
    selected: list  # funded project ids, in the order funded
    share: Fraction | None = None  # the per-voter money of the MES run used
    money: list = field(default_factory=list)  # what each voter had left after that run
    stopped: str | None = None  # add1: "exhaustive" or "next over budget"
    chosen: str | None = None  # add1-comparison: "add1" or "greedy"
    tied_rounds: int = 0  # MES rounds in which the smallest rho was shared (for the test's counts)


def utilities(projects, ballots, vote_type, max_length=None) -> list[dict]:
    """Per voter, {project_id: utility} for the projects the voter supports.

    (With cost utilities a free project's utility is 0; its supporters still count.)
    """
    cost = {pid: Fraction(c) for pid, c in projects}
    if vote_type in ("approval", "choose-1"):
        return [{pid: cost[pid] for pid in ballot} for ballot in ballots]
    if vote_type == "cumulative":
        return [{pid: Fraction(x) for pid, x in ballot.items() if x > 0} for ballot in ballots]
    if vote_type == "ordinal":
        k = max_length or len(projects)
        # enumerate counts from 0, so rank r = index + 1 gets k - r + 1 = k - index points.
        return [{pid: Fraction(k - index) for index, pid in enumerate(ballot) if k - index > 0} for ballot in ballots]
    raise ValueError(f"unknown vote type {vote_type!r}")


def rho(cost, money_and_utility):
    """Smallest rho with sum of min(b, rho * u) = cost, over (b, u) pairs whose b sum to >= cost.

    The sum is piecewise linear in rho, with a kink at each b / u. Going through the
    supporters in order of b / u, assume the ones before are "poor" (pay all they have)
    and the rest pay rho * u; the first assumption that is consistent gives rho.
    """
    pairs = sorted(money_and_utility, key=lambda bu: bu[0] / bu[1])
    poor_money, rich_utility = Fraction(0), sum(u for _, u in pairs)
    for b, u in pairs:
        candidate = (cost - poor_money) / rich_utility
        if candidate * u <= b:
            return candidate
        poor_money += b
        rich_utility -= u
    raise AssertionError("rho of a project its supporters cannot afford")


def mes(projects, utils, share) -> Result:
    money = [Fraction(share)] * len(utils)
    supporters = {pid: [i for i, u in enumerate(utils) if pid in u] for pid, _ in projects}
    funded = [pid for pid, cost in projects if cost == 0 and supporters[pid]]
    tied_rounds = 0
    while True:
        best = None  # (rho, project_id); strict < below keeps the first listed on a tie
        tie = False
        for pid, cost in projects:  # file order
            if pid in funded or not supporters[pid] or sum(money[i] for i in supporters[pid]) < cost:
                continue
            r = rho(Fraction(cost), [(money[i], utils[i][pid]) for i in supporters[pid]])
            if best is None or r < best[0]:
                best, tie = (r, pid), False
            elif r == best[0]:
                tie = True
        if best is None:
            return Result(funded, Fraction(share), money, tied_rounds=tied_rounds)
        r, pid = best
        tied_rounds += tie
        for i in supporters[pid]:
            money[i] -= min(money[i], r * utils[i][pid])
        funded.append(pid)


def add1(budget, projects, utils, until_exhaustive=True) -> Result:
    cost = dict(projects)
    supported = {pid for u in utils for pid in u}
    share = floor(budget / len(utils))
    outcome = mes(projects, utils, share)
    while True:
        left = budget - sum(cost[pid] for pid in outcome.selected)
        if not until_exhaustive:
            left = float("inf")  # Wieliczka: only funding everything with supporters stops it
        if not any(pid not in outcome.selected and pid in supported and 0 < c <= left for pid, c in projects):
            outcome.stopped = "exhaustive"
            return outcome
        following = mes(projects, utils, share + 1)
        if sum(cost[pid] for pid in following.selected) > budget:
            outcome.stopped = "next over budget"
            return outcome
        share, outcome = share + 1, following


def greedy(budget, projects, utils, vote_type) -> list:
    if vote_type in ("approval", "choose-1"):
        score = {pid: sum(1 for u in utils if pid in u) for pid, _ in projects}
    else:
        score = {pid: sum(u.get(pid, 0) for u in utils) for pid, _ in projects}
    position = {pid: index for index, (pid, _) in enumerate(projects)}
    left, selected = budget, []
    for pid, cost in sorted(projects, key=lambda pc: (-score[pc[0]], position[pc[0]])):
        if score[pid] > 0 and cost <= left:
            selected.append(pid)
            left -= cost
    return selected


RULES = ("equalshares", "equalshares/add1", "equalshares/add1-comparison")


def outcomes(budget, projects, ballots, vote_type, max_length=None) -> dict:
    """{rule: Result} for equalshares, equalshares/add1 and equalshares/add1-comparison."""
    budget = Fraction(budget)
    projects = [(pid, Fraction(cost)) for pid, cost in projects]
    utils = utilities(projects, ballots, vote_type, max_length)
    if not utils:
        return {rule: Result([]) for rule in RULES}  # no voters: no supporters, nothing is funded
    plain = mes(projects, utils, budget / len(utils))
    completed = add1(budget, projects, utils)
    raised = add1(budget, projects, utils, until_exhaustive=False)
    other = greedy(budget, projects, utils, vote_type)
    named = [set(u) for u in utils]
    prefer_add1 = sum(len(n & set(raised.selected)) > len(n & set(other)) for n in named)
    prefer_greedy = sum(len(n & set(other)) > len(n & set(raised.selected)) for n in named)
    if prefer_greedy > prefer_add1:
        compared = Result(other, raised.share, stopped=raised.stopped, chosen="greedy")
    else:
        compared = Result(raised.selected, raised.share, raised.money, raised.stopped, "add1")
    return dict(zip(RULES, (plain, completed, compared), strict=False))


def count(budget, projects, ballots, vote_type, rule, max_length=None) -> Result:
    return outcomes(budget, projects, ballots, vote_type, max_length)[rule]
