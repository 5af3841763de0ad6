"""The one entry point for counting: ``count(election, rule=None) -> Outcome``."""

from __future__ import annotations

from .election import Election, ElectionError, Number
from .equalshares import equal_shares
from .greedy import GREEDY_RULES, greedy
from .outcome import Explanation, Outcome
from .scores import tally

RULES = (
    "greedy",
    "greedy-threshold",
    "greedy-no-skip",
    "equalshares",
    "equalshares/add1",
    "equalshares/add1-comparison",
)

# Pabulib rule values that describe a special, file-specific procedure (see the file's
# comment) rather than a rule that can be recounted.
NOT_COUNTABLE = ("unknown", "greedy-custom", "greedy-exclusive")


class UnknownRuleError(ElectionError):
    """The rule is not one :data:`RULES` names."""


def count(election: Election, rule: str | None = None, *, budget: Number | None = None) -> Outcome:
    """Count an election with ``rule`` (default: the election's own META ``rule``).

    ``budget`` overrides META ``budget`` (the web app passes a contest's pots' total).
    Raises UnknownRuleError for a rule not in RULES, ElectionError for an election that
    cannot be counted.
    """
    rule = (rule or election.rule or "").strip()
    if not rule:
        raise UnknownRuleError("no rule given and the election has no META rule")
    if rule not in RULES:
        hint = " (a special procedure described in the file's comment)" if rule in NOT_COUNTABLE else ""
        raise UnknownRuleError(f"unknown rule {rule!r}{hint}; known rules: {', '.join(RULES)}")
    total = election.budget if budget is None else budget
    counts = tally(election)
    if rule in GREEDY_RULES:
        selected, explanation = greedy(election, counts, rule, budget=total)
    else:
        comparison = rule == "equalshares/add1-comparison"
        # Wieliczka, the one city to use the comparison step, raised the share while the
        # outcome still fitted, past exhaustive outcomes (see docs/counting.md).
        completion = None if rule == "equalshares" else "add1-while-fits" if comparison else "add1"

        def greedy_by_votes() -> tuple[list[str], Explanation]:
            return greedy(election, counts, "greedy", budget=total)

        selected, explanation = equal_shares(
            election,
            counts,
            completion=completion,
            comparison=comparison,
            budget=total,
            greedy_for_comparison=greedy_by_votes,
        )
    cost = sum((election.projects[pid].cost for pid in selected), 0)
    return Outcome(
        rule=rule,
        budget=total,
        selected=selected,
        cost=cost,
        scores=counts.score,
        supporters=counts.supporters,
        explanation=explanation,
    )
