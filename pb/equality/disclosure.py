"""Small numbers kept from sight in published equality figures (statistical disclosure
control), so that nobody can tell from them how one resident answered.

Primary suppression: a count from 1 to 9 is shown as "fewer than 10". Secondary
suppression: the answers to a question add up to the number of people who answered,
which is shown, so a single hidden count could be worked out by subtraction; and two or
more hidden counts whose sum can be worked out could still give each away (two hidden
counts adding up to 2 are 1 each). So the smallest counts still shown are hidden too,
until at least two are hidden and they add up to 10 or more. Zeros are shown: a zero says
nothing about anyone."""

from enum import StrEnum

THRESHOLD = 10


class Hidden(StrEnum):
    FEWER_THAN_TEN = "fewer_than_ten"  # the count is from 1 to 9
    PROTECTED = "protected"  # hidden so that another hidden count cannot be worked out


def protect(counts: dict[str, int]) -> dict[str, int | Hidden]:
    """What may be shown of one question's counts (answer id -> count), which add up to a
    total that is shown."""
    shown: dict[str, int | Hidden] = {
        key: Hidden.FEWER_THAN_TEN if 0 < value < THRESHOLD else value for key, value in counts.items()
    }
    hidden = [key for key, value in shown.items() if isinstance(value, Hidden)]
    # Ties broken by id, so the same counts always hide the same cells.
    still_shown = sorted((value, key) for key, value in counts.items() if value >= THRESHOLD)
    while hidden and (len(hidden) < 2 or sum(counts[key] for key in hidden) < THRESHOLD) and still_shown:
        _value, key = still_shown.pop(0)
        shown[key] = Hidden.PROTECTED
        hidden.append(key)
    return shown
