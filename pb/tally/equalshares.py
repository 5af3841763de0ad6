"""The Method of Equal Shares (MES), with add1 completion and the comparison step.

Each voter starts with an equal share of the budget. Repeatedly, among the projects whose
supporters still have enough money between them, fund the one that is cheapest for its
supporters: the one with the lowest price per unit of utility ``rho``, where each
supporter pays ``min(their money, rho * utility)``. Utility is the project's cost for
approval ballots ("cost utilities": every supporter who can, pays the same amount) and
the points given for cumulative, scoring and ordinal-as-points ballots. Stop when no
project is affordable. Ties: the published order in :mod:`pb.tally.scores`.

``equalshares/add1`` (as in Wieliczka 2023, Świecie 2023 and Assen, and as the reference
at equalshares.net defines it): MES leaves money unspent, so start each voter at
``floor(budget / voters)`` currency units and, while the outcome is not exhaustive (some
project with supporters outside it still fits in the money left), raise the share by one
unit if the outcome at the next share still fits the budget. ``equalshares/add1-comparison``
then compares that outcome
with greedy-by-votes: if more voters have more funded projects they voted for under
greedy than under equal shares, greedy's outcome is used.

All arithmetic is exact (:mod:`pb.tally.rational`). The work is split by what each part
is: the election as MES sees it (:mod:`~pb.tally.instance`), prices
(:mod:`~pb.tally.pricing`), a run round by round in rationals (:mod:`~pb.tally.machine`)
or integers (:mod:`~pb.tally.integer_machine`), whole runs with their explanation
(:mod:`~pb.tally.runs`) and the add1 completion (:mod:`~pb.tally.add1`, searching with
:mod:`~pb.tally.boxes`). Why the fast paths give exactly the outcome of the definition:
docs/counting.md.
"""

from __future__ import annotations

from collections.abc import Callable

from . import rational
from .add1 import complete
from .election import Election, ElectionError, Number
from .instance import Instance
from .outcome import (
    GREEDY_PREFERRED,
    NO_SUPPORT,
    NOT_AFFORDABLE,
    Comparison,
    Explanation,
    Reason,
    Tie,
)
from .outcome import (
    as_text as _text,
)
from .rational import to_fraction
from .runs import Run, run
from .scores import Tally, ballot_points


def equal_shares(
    election: Election,
    counts: Tally,
    *,
    completion: str | None = None,
    comparison: bool = False,
    budget: Number | None = None,
    greedy_for_comparison: Callable[[], tuple[list[str], Explanation]] | None = None,
) -> tuple[list[str], Explanation]:
    """Run MES. ``completion``: None, ``"add1"`` or ``"add1-while-fits"`` (Wieliczka's, used by
    equalshares/add1-comparison; see the module docstring)."""
    if completion not in (None, "add1", "add1-while-fits"):
        raise ElectionError(f"unknown completion {completion!r}")
    inst = Instance(election, counts)
    total = rational.Q(election.budget if budget is None else budget)
    n = inst.num_voters
    explanation = Explanation(kind="equalshares")
    if n == 0:
        final = Run(rational.ZERO, list(inst.free), [], [])
    elif completion is None:
        share = total / n
        final = run(inst, share, explain=True)
        explanation.start_per_voter_budget = to_fraction(share)
    else:
        final, start, runs, explanation.completion = complete(inst, total, until_exhaustive=completion == "add1")
        explanation.start_per_voter_budget = start
        explanation.completion_runs = runs
    explanation.rounds = final.rounds or []
    explanation.per_voter_budget = to_fraction(final.per_voter)
    selected = [inst.pids[j] for j in final.winners]
    chosen = set(selected)
    explanation.ties = [
        Tie(step, [inst.pids[j] for j in tied], any(inst.pids[j] not in chosen for j in tied))
        for step, tied in final.ties
    ]

    chosen_selected = selected
    if comparison:
        greedy_selected, greedy_explanation = greedy_for_comparison() if greedy_for_comparison else ([], None)
        prefer_mes, prefer_greedy = _compare(election, selected, greedy_selected)
        winner = "greedy" if prefer_greedy > prefer_mes else "equalshares"
        explanation.comparison = Comparison(prefer_mes, prefer_greedy, winner, greedy_selected)
        if winner == "greedy":
            chosen_selected = greedy_selected
            explanation.ties = greedy_explanation.ties if greedy_explanation else []

    chosen_set = set(chosen_selected)
    for j, pid in enumerate(inst.pids):
        if pid in chosen_set:
            continue
        if not inst.support_weight[j]:
            explanation.unfunded[pid] = Reason(NO_SUPPORT, "nobody voted for it")
        elif pid in chosen:
            explanation.unfunded[pid] = Reason(GREEDY_PREFERRED, "the comparison step chose the greedy outcome")
        else:
            left, cost = to_fraction(final.left(inst, j)), to_fraction(inst.cost[j])
            explanation.unfunded[pid] = Reason(
                NOT_AFFORDABLE,
                f"its supporters had {_text(left)} left between them, less than its cost of {_text(cost)}",
                {"left": left, "cost": cost},
            )
    return chosen_selected, explanation


def _compare(election: Election, mes: list[str], greedy: list[str]) -> tuple[int, int]:
    """Voters preferring each outcome: the one funding more projects they support (named
    with points above zero: a rank beyond max_length or 0 points is no support)."""
    mes_set, greedy_set = set(mes), set(greedy)
    prefer_mes = prefer_greedy = 0
    for pairs in ballot_points(election):
        a = sum(1 for p, _ in pairs if p in mes_set)
        b = sum(1 for p, _ in pairs if p in greedy_set)
        if a > b:
            prefer_mes += 1
        elif b > a:
            prefer_greedy += 1
    return prefer_mes, prefer_greedy
