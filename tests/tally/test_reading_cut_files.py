"""A file cut off inside VOTES is refused, never counted with a different result.

Real files are cut at every character of their last ballot line (a cut there leaves a
shorter last ballot, often still well formed: ``1,2,45`` becomes ``1,2,4`` or ``1,2``),
at line starts and at points spread over the section (dropping whole ballots), each with
and without a newline after the cut (many real files end without one, so its absence proves nothing).

What tells: ``num_votes`` (a lost line), each project's ``votes`` column (a lost or
shortened ballot changes some project's count; every real file has one), the ``score``
column for cumulative ballots (a cut points value), and the shape of the last line (too
few fields, a trailing comma, fewer point values than projects, ``5.``). What cannot
tell: without a votes column, a last ballot cut to a shorter but well-formed one; and
without num_votes as well, a cut at a line boundary, which leaves a complete, smaller file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pb.tally import PabulibError, parse_pabulib, write_pabulib

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
FILES = [
    "US_Stanford_Dataset_Merced_Peoples_Budget_Ballot_2019_vote_rankings.pb",  # ordinal
    # approval, with a ballot naming a project twice
    "US_Stanford_Dataset_Your_Voice_Your_Choice_Parks_and_Streets-_Seattle_2019_District_3_vote_knapsacks.pb",
    "Poland_Gdynia_2020_Babie_Doly__small.pb",  # approval, age and sex after the vote
    "Poland_Zabrze_2020_Grzybowice.pb",  # choose-1
    "Poland_Czestochowa_2020_Bleszno.pb",  # cumulative, points last
    "Poland_Czestochowa_2025_Stare_Miasto.pb",  # cumulative, no newline at the end
]


def _counted(text: str) -> list:
    """What the count uses: each ballot's voter, projects and points."""
    return [(b.voter_id, b.vote, b.points) for b in parse_pabulib(text).ballots]


def _votes_body(text: str) -> tuple[int, int]:
    """Where the ballot lines start (after the VOTES header) and where the text ends."""
    section = re.search(r"^VOTES\r?$", text, re.MULTILINE)
    start = text.index("\n", text.index("\n", section.start()) + 1) + 1
    return start, len(text.rstrip())


def _cuts(text: str, spread: int = 12):
    """Cut points: every character of the last ballot line, some anywhere in the section and
    some at the start of a line (a whole number of ballots lost)."""
    start, end = _votes_body(text)
    last_line = text.rindex("\n", 0, end) + 1
    line_starts = [m.end() for m in re.compile("\n").finditer(text, start) if m.end() < end]
    positions = (
        set(range(start, end, max(1, (end - start) // spread)))
        | set(line_starts[:: max(1, len(line_starts) // spread)])
        | set(range(last_line, end))
    )
    for p in sorted(positions):
        yield text[:p]
        yield text[:p] + "\n"


def _without_num_votes(text: str) -> str:
    return re.sub(r"^num_votes;.*\n", "", text, count=1, flags=re.MULTILINE)


@pytest.mark.parametrize("num_votes", [True, False], ids=["with num_votes", "without num_votes"])
@pytest.mark.parametrize("name", FILES, ids=lambda n: n[:40])
def test_a_cut_file_is_refused(name, num_votes):
    text = (DATA / name).read_text(encoding="utf-8-sig")
    assert "num_votes;" in text
    assert "\nvotes" in text or ";votes;" in text
    if not num_votes:
        text = _without_num_votes(text)
        assert "num_votes" not in text
    whole = _counted(text)
    refused = 0
    for cut in _cuts(text):
        try:
            counted = _counted(cut)
        except PabulibError as error:
            assert error.line is not None
            assert "\n" not in str(error)
            refused += 1
            continue
        # Read: then only text the count does not use was lost (e.g. the end of a sex column).
        assert counted == whole, f"cut after {cut[-30:]!r} is counted differently"
    assert refused > 20


@pytest.mark.parametrize("name", FILES, ids=lambda n: n[:40])
def test_without_a_votes_column_num_votes_still_refuses_lost_lines(name):
    election = parse_pabulib((DATA / name).read_text(encoding="utf-8-sig"))
    for project in election.projects.values():
        project.fields.pop("votes", None)
        project.fields.pop("score", None)
    text = write_pabulib(election)  # always writes num_votes
    start, _end = _votes_body(text)
    lines = len(election.ballots)
    lost_lines = 0
    for cut in _cuts(text):
        kept = len([line for line in cut[start:].split("\n") if line.strip()])
        if kept < lines:
            with pytest.raises(PabulibError) as raised:
                parse_pabulib(cut)
            if text[len(cut.rstrip("\n"))] == "\n":  # cut at the end of a line: only the count tells
                lost_lines += 1
                assert re.match(rf"line \d+: META num_votes is {lines} but the file has", str(raised.value))
    assert lost_lines > 5


def test_the_message_says_the_file_may_be_cut_off():
    text = (DATA / FILES[0]).read_text(encoding="utf-8-sig")
    _start, end = _votes_body(text)
    with pytest.raises(PabulibError) as raised:
        parse_pabulib(text[: text.rindex("\n", 0, end) + 1])
    assert re.fullmatch(
        r"line \d+: META num_votes is (\d+) but the file has \d+ votes \(is the file cut off\?\)", str(raised.value)
    )
    without = _without_num_votes(text)
    with pytest.raises(PabulibError, match=r"has votes \d+ but the ballots give \d+ \(is the file cut off or altered"):
        parse_pabulib(without[: without.rindex("\n", 0, len(without.rstrip())) + 1])
