"""``pb tally`` and ``pb verify``: count a Pabulib file, or check its ``selected`` column.

Plain click commands (no Flask), so that counting a file from the shell starts fast. The
``pb`` command group registers ``tally_command`` and ``verify_command``; for a standalone
run use ``python -m pb.tally.cli tally FILE.pb``.

Exit status: 0 done (verify: the recount matches), 1 verify found differences,
2 unknown rule, malformed or unreadable file (with a one-line reason on stderr). A file
read with warnings (a ballot naming a project twice) is still counted; each warning is
one line on stderr, ``warning: FILE: line N: ...``.

Text output writes money as money (``13871.54 PLN``: whole amounts as they are, others
with two decimals, then the file's ``currency``); JSON keeps exact numbers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import click

from .count import RULES, count
from .election import Election, ElectionError, Number
from .outcome import (
    BELOW_THRESHOLD,
    DOES_NOT_FIT,
    GREEDY_PREFERRED,
    NO_SUPPORT,
    NOT_AFFORDABLE,
    STOPPED,
    Outcome,
    Reason,
    as_text,
)
from .pabulib import read_pabulib

FORMATS = ("text", "json")


def _fail(message: str) -> None:
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(2)


def _load(path: str) -> Election:
    try:
        return read_pabulib(path)
    except ElectionError as error:
        _fail(f"{path}: {error}")
        raise  # unreachable


def _warn(path: str, election: Election) -> None:
    """A file read with warnings is still counted: each warning is one line on stderr,
    printed once the count is done (a refusal stays the only line on stderr)."""
    for warning in election.warnings:
        click.echo(f"warning: {path}: {' '.join(warning.split())}", err=True)


def _json_money(value: Number) -> int | float | str:
    """Money as a JSON number when that is exact (ints, and decimals like 2458488.22)."""
    text = as_text(value)
    if isinstance(value, int) or text.lstrip("-").isdigit():
        return int(text)
    if "/" not in text and repr(float(text)) == text:
        return float(text)
    return text


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    data = outcome.to_dict()
    data["budget"] = _json_money(outcome.budget)
    data["cost"] = _json_money(outcome.cost)
    return data


def money_text(value: Number, currency: str = "") -> str:
    """Money for people: ``1145``, ``13871.54``, ``1250.50``, then the currency if known.

    Amounts with more than two decimals (a share per voter, say) are rounded to cents.
    """
    value = Fraction(int(value.numerator), int(value.denominator))  # also gmpy2's mpq
    cents = round(value * 100)
    if value.denominator == 1:
        text = str(value.numerator)
    else:
        text = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
    return f"{text} {currency}" if currency else text


def reason_text(reason: Reason, money: Callable[[Number], str]) -> str:
    """Why a project was not funded, written from the reason's code and figures (the
    engine's own English ``detail`` when the figures are missing)."""
    figures = getattr(reason, "figures", None) or {}
    code = reason.code
    if code == NO_SUPPORT:
        return "nobody voted for it"
    if code == GREEDY_PREFERRED:
        return "the comparison step chose greedy's outcome, which does not fund it"
    try:
        if code == NOT_AFFORDABLE:
            return (
                f"its supporters had {money(figures['left'])} left between them, "
                f"less than its cost of {money(figures['cost'])}"
            )
        if code == DOES_NOT_FIT:
            return f"its cost of {money(figures['cost'])} is more than the {money(figures['left'])} left"
        if code == BELOW_THRESHOLD:
            return f"its score of {as_text(figures['score'])} is below the threshold of {as_text(figures['threshold'])}"
        if code == STOPPED:
            return f"counting stopped at project {figures['at']}, which did not fit"
    except KeyError:
        pass
    return reason.detail


def outcome_text(election: Election, outcome: Outcome) -> str:
    currency = " ".join(election.meta.get("currency", "").split())

    def money(value: Number) -> str:
        return money_text(value, currency)

    lines = [
        f"rule: {outcome.rule}",
        f"budget: {money(outcome.budget)}",
        f"selected: {len(outcome.selected)} project{'' if len(outcome.selected) == 1 else 's'} "
        f"costing {money(outcome.cost)}",
    ]
    explanation = outcome.explanation
    if explanation.kind == "equalshares" and explanation.per_voter_budget is not None:
        lines.append(f"share per voter: {money(explanation.per_voter_budget)}")
        done = explanation.completion
        if done is not None and done.stopped == "exhaustive":
            lines.append("add1 stopped: no other project with supporters fits in the money left")
        elif done is not None:
            assert done.next_cost is not None  # an over-budget stop records what it would cost
            lines.append(
                f"add1 stopped: at {money(done.next_per_voter_budget)} per voter the outcome would cost "
                f"{money(done.next_cost)}, over the budget"
            )
        if explanation.comparison is not None:
            c = explanation.comparison
            lines.append(
                f"comparison with greedy: {c.prefer_equal_shares} voters prefer equal shares, "
                f"{c.prefer_greedy} prefer greedy; {c.chosen} is used"
            )
    for position, pid in enumerate(outcome.selected, start=1):
        project = election.projects[pid]
        name = f"  {project.name}" if project.name else ""
        lines.append(f"{position:4d}. {pid}  cost {money(project.cost)}  score {as_text(outcome.scores[pid])}{name}")
    if explanation.unfunded:
        lines.append("not funded:")
        for pid, reason in explanation.unfunded.items():
            lines.append(f"      {pid}: {reason_text(reason, money)}")
    return "\n".join(lines)


@click.command("tally")
@click.argument("file", metavar="FILE.pb")
@click.option("--rule", default=None, help=f"Counting rule (default: the file's own). One of: {', '.join(RULES)}.")
@click.option("--format", "output_format", default="text", help="Output: text or json.")
def tally_command(file: str, rule: str | None, output_format: str) -> None:
    """Count a Pabulib file and print the funded projects."""
    if output_format not in FORMATS:
        _fail(f"unknown format {output_format!r}; use text or json")
    election = _load(file)
    try:
        outcome = count(election, rule)
    except ElectionError as error:
        _fail(str(error))
        return
    _warn(file, election)
    if output_format == "json":
        click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False))
    else:
        click.echo(outcome_text(election, outcome))


@click.command("verify")
@click.argument("file", metavar="FILE.pb")
def verify_command(file: str) -> None:
    """Recount a Pabulib file with its own rule and compare with its selected column."""
    election = _load(file)
    expected = election.selected_in_file()
    if expected is None:
        _fail(f"{file}: the file has no selected column to compare with")
        return
    try:
        outcome = count(election)
    except ElectionError as error:
        _fail(str(error))
        return
    _warn(file, election)
    got, want = set(outcome.selected), set(expected)
    if got == want:
        click.echo(f"match: {outcome.rule} selects the same {len(want)} projects as the file")
        return
    click.echo(f"differ: {outcome.rule} recount does not match the file's selected column")
    for pid in expected:
        if pid not in got:
            click.echo(f"  only in the file:    {pid}")
    for pid in outcome.selected:
        if pid not in want:
            click.echo(f"  only in the recount: {pid}")
    sys.exit(1)


@click.group()
def main() -> None:
    """Counting tools for Pabulib files (standalone; normally ``pb tally`` / ``pb verify``)."""


main.add_command(tally_command)
main.add_command(verify_command)

if __name__ == "__main__":
    main()
