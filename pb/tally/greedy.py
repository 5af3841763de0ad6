"""Greedy rules, as Pabulib names them.

Projects are considered from the highest score down (votes for approval ballots,
points otherwise; ties by the published order in :mod:`pb.tally.scores`: the project
listed first comes first).

- ``greedy``: fund each project that still fits in the money left; skip those that don't.
- ``greedy-threshold``: the same, but a project whose score is below the file's
  ``min_project_score_threshold`` is not eligible.
- ``greedy-no-skip``: stop at the first project that does not fit (a threshold in the
  file applies here too).

A project nobody voted for is never funded.
"""

from __future__ import annotations

from .election import Election, ElectionError, Number, exact
from .outcome import (
    BELOW_THRESHOLD,
    DOES_NOT_FIT,
    NO_SUPPORT,
    STOPPED,
    Explanation,
    GreedyStep,
    Reason,
    Tie,
)
from .outcome import (
    as_text as _text,
)
from .scores import Tally, tie_order

GREEDY_RULES = ("greedy", "greedy-threshold", "greedy-no-skip")


def threshold_of(election: Election, rule: str) -> Number | None:
    raw = election.meta.get("min_project_score_threshold")
    if raw is None or not raw.strip():
        if rule == "greedy-threshold":
            raise ElectionError("rule greedy-threshold needs META min_project_score_threshold")
        return None
    if rule == "greedy":
        return None
    return exact(raw)


def greedy(
    election: Election, counts: Tally, rule: str = "greedy", budget: Number | None = None
) -> tuple[list[str], Explanation]:
    """Selected project ids in order, and the explanation."""
    if rule not in GREEDY_RULES:
        raise ElectionError(f"unknown greedy rule {rule!r}")
    threshold = threshold_of(election, rule)
    ranks = tie_order(election)
    order = sorted(election.projects, key=lambda pid: (-counts.score[pid], ranks[pid]))
    total = election.budget if budget is None else budget
    remaining = total
    selected: list[str] = []
    explanation = Explanation(kind="greedy", threshold=threshold)
    stopped_at: str | None = None
    for pid in order:
        cost = election.projects[pid].cost
        score = counts.score[pid]
        reason = None
        if counts.supporters[pid] == 0 or score <= 0:
            reason = Reason(NO_SUPPORT, "nobody voted for it")
        elif threshold is not None and score < threshold:
            reason = Reason(
                BELOW_THRESHOLD,
                f"score {_text(score)} is below the threshold of {_text(threshold)}",
                {"score": score, "threshold": threshold},
            )
        elif stopped_at is not None:
            reason = Reason(STOPPED, f"counting stopped at project {stopped_at}, which did not fit", {"at": stopped_at})
        elif cost > remaining:
            reason = Reason(
                DOES_NOT_FIT,
                f"costs {_text(cost)} but only {_text(remaining)} was left",
                {"left": remaining, "cost": cost},
            )
            if rule == "greedy-no-skip":
                stopped_at = pid
        if reason is None:
            remaining -= cost
            selected.append(pid)
        else:
            explanation.unfunded[pid] = reason
        explanation.steps.append(GreedyStep(pid, score, cost, reason is None, remaining, reason))
    explanation.ties = ties_of(explanation.steps, total)
    return selected, explanation


def ties_of(steps: list[GreedyStep], total: Number) -> list[Tie]:
    """Runs of projects with supporters and an equal score, considered one after another.

    Such a tie decided something when one of them was not funded for want of money (or
    because greedy-no-skip stopped at one of them) although it would have fitted in the
    money left when the first of them was considered: listed first, it would have been
    funded.
    """
    before = [total] + [step.remaining for step in steps[:-1]]  # money left when each was considered
    ties = []
    i = 0
    while i < len(steps):
        j = i
        while j + 1 < len(steps) and steps[j + 1].score == steps[i].score:
            j += 1
        group = [s for s in steps[i : j + 1] if s.reason is None or s.reason.code != NO_SUPPORT]
        if len(group) > 1:
            ids = {s.project_id for s in group}
            decisive = any(
                s.reason is not None
                and (s.reason.code == DOES_NOT_FIT or (s.reason.code == STOPPED and s.reason.figures["at"] in ids))
                and s.cost <= before[i]
                for s in group
            )
            ties.append(Tie(i + 1, [s.project_id for s in group], decisive))
        i = j + 1
    return ties
