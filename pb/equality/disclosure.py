"""Small numbers kept from sight in published equality figures (statistical disclosure
control), so that nobody can tell from them how one resident answered.

Primary suppression: a count from 1 to 9 is shown as "fewer than 10". Secondary
suppression: the answers to a question add up to the number of people who answered,
which is shown, so a single hidden count could be worked out by subtraction; and two or
more hidden counts whose sum can be worked out could still give each away (two hidden
counts adding up to 2 are 1 each). So the smallest counts still shown are hidden too,
until at least two are hidden, they add up to 10 or more, and none of them can be worked out
from what a reader knows of each: a "fewer than 10" is from 1 to 9, and a "not shown" is 10
or more but no more than the smallest count still shown (it was hidden first). Zeros are
shown: a zero says nothing about anyone. When every count is hidden and one could still be
worked out (12 answers: 1, 1 and 10), none of the question's counts is shown."""

from enum import StrEnum

THRESHOLD = 10


class Hidden(StrEnum):
    FEWER_THAN_TEN = "fewer_than_ten"  # the count is from 1 to 9
    PROTECTED = "protected"  # hidden so that another hidden count cannot be worked out
    WITHHELD = "withheld"  # the question's counts: too few to hide some without the rest being worked out


def protect(counts: dict[str, int]) -> dict[str, int | Hidden]:
    """What may be shown of one question's counts (answer id -> count), which add up to a
    total that is shown."""
    shown: dict[str, int | Hidden] = {
        key: Hidden.FEWER_THAN_TEN if 0 < value < THRESHOLD else value for key, value in counts.items()
    }
    hidden = [key for key, value in shown.items() if isinstance(value, Hidden)]
    # Ties broken by id, so the same counts always hide the same cells.
    still_shown = sorted((value, key) for key, value in counts.items() if value >= THRESHOLD)
    while (
        hidden
        and still_shown
        and (
            len(hidden) < 2
            or sum(counts[key] for key in hidden) < THRESHOLD
            or _worked_out(counts, shown, hidden, still_shown[0][0])
        )
    ):
        _value, key = still_shown.pop(0)
        shown[key] = Hidden.PROTECTED
        hidden.append(key)
    total = sum(counts[key] for key in hidden)
    if hidden and (len(hidden) < 2 or total < THRESHOLD or _worked_out(counts, shown, hidden, total)):
        # Nothing left to hide and a hidden count could still be worked out: show none of them.
        return dict.fromkeys(counts, Hidden.WITHHELD)
    return shown


def _worked_out(counts: dict[str, int], shown: dict[str, int | Hidden], hidden: list[str], cap: int) -> bool:
    """Whether a reader could tell one hidden count exactly: their total is known (the total
    less the counts shown), each "fewer than 10" is from 1 to 9, and each "not shown" from 10
    to `cap`, the smallest count still shown."""
    total = sum(counts[key] for key in hidden)
    bounds = {key: (1, THRESHOLD - 1) if shown[key] == Hidden.FEWER_THAN_TEN else (THRESHOLD, cap) for key in hidden}
    lowest = sum(low for low, _high in bounds.values())
    highest = sum(high for _low, high in bounds.values())
    # One value left between the most and the least the others leave for it: known.
    return any(max(low, total - (highest - high)) >= min(high, total - (lowest - low)) for low, high in bounds.values())
