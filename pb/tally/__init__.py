"""Counting engine: Pabulib files in, funded projects out. Pure Python, no Flask.

    from pb.tally import read_pabulib, count
    outcome = count(read_pabulib("Poland_Krakow_2024.pb"))
    outcome.selected, outcome.cost, outcome.to_dict()

See docs/counting.md for the rules, the tie-breaking order and the known exceptions.
"""

from .count import NOT_COUNTABLE, RULES, UnknownRuleError, count
from .election import Ballot, Election, ElectionError, Project, make_election
from .outcome import Explanation, Outcome
from .pabulib import PabulibError, parse_pabulib, read_pabulib, write_pabulib

__all__ = [
    "NOT_COUNTABLE",
    "RULES",
    "Ballot",
    "Election",
    "ElectionError",
    "Explanation",
    "Outcome",
    "PabulibError",
    "Project",
    "UnknownRuleError",
    "count",
    "make_election",
    "parse_pabulib",
    "read_pabulib",
    "write_pabulib",
]
