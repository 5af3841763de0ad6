"""Exact rational numbers for the counting: gmpy2's ``mpq`` when installed (much faster),
otherwise ``fractions.Fraction``. Exact either way; only the speed differs.

Other modules read ``rational.Q`` and ``rational.ZERO`` through this module (not ``from
.rational import Q``) so that :func:`use_pure_python` switches every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import TypeAlias

from .election import Number

# To mypy every exact rational is a Fraction: gmpy2 ships no type information, and its mpq
# has the same exact arithmetic (the tests count with both).
Rational: TypeAlias = Fraction

_FAST: Callable[..., Rational] | None
try:
    from gmpy2 import mpq  # type: ignore[import-untyped]  # gmpy2 ships no type information

    _FAST = mpq
except ImportError:  # pragma: no cover - exercised by the pure-Python test
    _FAST = None

Q: Callable[..., Rational] = Fraction if _FAST is None else _FAST
ZERO: Rational = Q(0)


def use_pure_python(flag: bool) -> None:
    """Switch between gmpy2 and fractions.Fraction (for tests of the fallback)."""
    global Q, ZERO
    if flag:
        Q = Fraction
    else:
        if _FAST is None:
            raise ImportError("gmpy2 is not installed")
        Q = _FAST
    ZERO = Q(0)


def to_fraction(value: Rational | int) -> Number:
    """An exact number as the rest of pb.tally holds it: an int when whole, else a Fraction."""
    if isinstance(value, int):
        return value
    exact = Fraction(int(value.numerator), int(value.denominator))
    return exact.numerator if exact.denominator == 1 else exact


def floor(value: Rational) -> int:
    return int(value.numerator) // int(value.denominator)
