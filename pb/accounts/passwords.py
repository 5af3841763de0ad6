"""Passwords, as the NCSC advises: long enough, and not one that is common or guessable.
zxcvbn (offline: its lists of common passwords, names and words ship with it) judges how
guessable a password is; pb words the reason itself, so that it is translated."""

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import ValidationError
from zxcvbn import zxcvbn

MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn's 0-4: 3 is "safely unguessable: moderate protection from offline attack"
CHECKED_LENGTH = 72  # zxcvbn refuses longer input (and slows down on it); what follows only adds strength
MAX_LENGTH = 200  # longer is refused by the form's length check

REASONS = {
    "common": _l("This is one of the most common passwords. Choose another."),
    "repeat": _l("Repeated characters, like aaaa, are easy to guess."),
    "sequence": _l("Sequences, like 1234 or abcd, are easy to guess."),
    "spatial": _l("Rows of keys, like qwerty, are easy to guess."),
    "date": _l("Dates and years are easy to guess."),
    "yours": _l("Do not use your name or email address in your password."),
    "words": _l("A single word or name is easy to guess."),
}
WEAK = _l("This password is too easy to guess. A few unrelated words make a strong one that is easy to remember.")


def weakness(password: str, *, about=()) -> str | None:
    """Why a password will not do (translated), or None if it is strong enough. `about`:
    the person's name and address, which their password must not lean on."""
    if len(password) < MIN_LENGTH:
        return str(_l("Use at least %(min)d characters.", min=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        return None  # the length check says so
    words = [
        part
        for text in about
        if text
        for part in str(text).replace("@", " ").replace(".", " ").split()
        if len(part) > 2
    ]
    result = zxcvbn(password[:CHECKED_LENGTH], user_inputs=words)
    if result["score"] >= MIN_SCORE:
        return None
    return str(_reason(result["sequence"]))


def _reason(sequence: Sequence[Mapping[str, Any]]):
    """The weakest part of the password, as zxcvbn matched it."""
    for match in sorted(sequence, key=lambda m: m.get("guesses", 0)):
        pattern = match.get("pattern")
        if pattern == "dictionary":
            source = match.get("dictionary_name")
            if source == "passwords":
                return REASONS["common"]
            if source == "user_inputs":
                return REASONS["yours"]
            return REASONS["words"]
        if pattern in REASONS:
            return REASONS[pattern]
        if pattern == "regex":  # recent years
            return REASONS["date"]
    return WEAK


class StrongPassword:
    """A WTForms validator; `about` names the form's fields that hold the person's name and
    address, and a form's `about_person` list (set by the page) adds what else is known of them."""

    def __init__(self, about=("name", "email")):
        self.about = about

    def __call__(self, form, field):
        if not field.data:
            return
        known = [form[name].data for name in self.about if name in form] + list(getattr(form, "about_person", []))
        problem = weakness(field.data, about=known)
        if problem:
            raise ValidationError(problem)
