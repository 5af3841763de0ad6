"""Recounting the real Pabulib files reproduces what the cities funded.

The data lives in the repository (tests/data/pabulib, see its README). A missing folder
is a failure, not a skip.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from pb.tally import NOT_COUNTABLE, count, read_pabulib
from pb.tally.scores import tally

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
FILES = sorted(DATA.glob("*.pb"))

# The one list of eligible files (rule not unknown/greedy-custom/greedy-exclusive) whose
# `selected` column is NOT reproduced, with the reason. Keep docs/counting.md in step.
KNOWN_EXCEPTIONS: dict[str, str] = {}

# Eligible files that cannot be checked against the city's decision because they have no
# `selected` column; their `votes` and `score` columns are still checked below.
NO_SELECTED_COLUMN = {
    "Netherlands_Amsterdam_604.pb",
    "Netherlands_Amsterdam_628.pb",
    "Netherlands_Amsterdam_647.pb",
    "Poland_Czestochowa_2020_Bleszno.pb",
    "Poland_Gdansk_2020_Orunia-Sw._Wojciech-Lipce.pb",
    "Poland_Krakow_2018.pb",
    "Poland_Krakow_2018_Grzegorzki.pb",
    "Poland_Zabrze_2020_Grzybowice.pb",
    "Poland_Zabrze_2020_Makoszowy.pb",
}

# Unknown-rule files whose published `score` column used another points scheme (or, for
# Zurich S5R, disagrees with the ballots on one project); not used by any count.
SCORE_COLUMN_DIFFERS = {
    "Switzerland_Zurich_S5R.pb",
    "US_Stanford_Dataset_Merced_Peoples_Budget_Ballot_2019_vote_rankings.pb",
    "US_Stanford_Dataset_PB_Rochester_NY_2019_vote_rankings.pb",
}


def test_data_folder_is_there():
    assert DATA.is_dir(), f"Pabulib data not found at {DATA}"
    assert len(FILES) == 100


def _rule_of(path: Path) -> str:
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            if line.startswith("rule;"):
                return line.split(";", 1)[1].strip()
            if line.strip().upper() == "PROJECTS":
                break
    return ""


ELIGIBLE = [p for p in FILES if _rule_of(p) not in NOT_COUNTABLE]


def test_eligible_files():
    names = {p.name for p in ELIGIBLE}
    assert len(names) == 67
    assert names >= NO_SELECTED_COLUMN
    assert set(KNOWN_EXCEPTIONS) <= names


@pytest.mark.parametrize("path", [p for p in ELIGIBLE if p.name not in NO_SELECTED_COLUMN], ids=lambda p: p.stem)
def test_recount_reproduces_selected(path):
    election = read_pabulib(path)
    expected = election.selected_in_file()
    assert expected is not None
    assert expected
    selected = count(election).selected
    if path.name in KNOWN_EXCEPTIONS:
        assert set(selected) != set(expected), f"{path.name} now matches; remove it from KNOWN_EXCEPTIONS"
    else:
        assert set(selected) == set(expected)
        assert len(selected) == len(set(selected))


def _mentions(path: Path) -> Counter:
    """How many times each project is named in the VOTES section, read from the raw text
    (a project named twice on one ballot counts twice, as the files' votes columns do)."""
    mentions: Counter = Counter()
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "VOTES")
    header = lines[start + 1].split(";")
    column = header.index("vote")
    for line in lines[start + 2 :]:
        if line.strip():
            mentions.update(p.strip() for p in next(csv.reader([line], delimiter=";"))[column].split(",") if p.strip())
    return mentions


# Files with a ballot naming a project twice: read with the project once, and a warning.
REPEATS = {
    "Netherlands_Amsterdam_604.pb",
    "Poland_Warszawa_2022_Wola.pb",
    "Poland_Warszawa_2026_Tarchomin.pb",
    "US_Stanford_Dataset_Your_Voice_Your_Choice_Parks_and_Streets-_Seattle_2019_District_3_vote_knapsacks.pb",
}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_votes_and_score_columns_match_the_ballots(path):
    """The reader and the ordinal points scheme (k..1) give the file's own totals."""
    election = read_pabulib(path)
    counts = tally(election)
    mentions = _mentions(path) if path.name in REPEATS else None
    assert bool(election.warnings) == (path.name in REPEATS)
    checked = 0
    for pid, project in election.projects.items():
        if "votes" in project.fields:
            if mentions is None:
                assert counts.supporters[pid] == int(project.fields["votes"]), pid
            else:  # the column counts every mention; the count counts each voter once
                assert mentions[pid] == int(project.fields["votes"]), pid
                assert counts.supporters[pid] <= mentions[pid]
            checked += 1
        if "score" in project.fields and path.name not in SCORE_COLUMN_DIFFERS:
            assert counts.score[pid] == int(project.fields["score"]), pid
            checked += 1
    assert checked >= len(election.projects)


@pytest.mark.parametrize("name", sorted(REPEATS))
def test_repeated_projects_count_once_with_a_warning(name):
    election = read_pabulib(DATA / name)
    (warning,) = election.warnings
    assert "twice; each such project is counted once" in warning
    assert all(len(set(b.vote)) == len(b.vote) for b in election.ballots)
    expected = election.selected_in_file()
    if expected is not None:
        assert set(count(election).selected) == set(expected)


def test_krakow_points_are_three_two_one():
    election = read_pabulib(DATA / "Poland_Krakow_2018_Grzegorzki.pb")
    first = election.ballots[0]
    counts_before = {pid: 0 for pid in election.projects}
    for ballot in election.ballots:
        for r, pid in enumerate(ballot.vote):
            counts_before[pid] += (3, 2, 1)[r]
    assert tally(election).score == counts_before
    assert len(first.vote) == 3


# Greedy files in which a tie decides who is funded: the city funded the project listed
# first in the file (the published tie-breaking order).
TIE_FILES = [
    "Poland_Gdynia_2020_Babie_Doly__small.pb",
    "Poland_Katowice_2022_Koszutka.pb",
    "Poland_Krakow_2022_Czyzyny.pb",
    "Poland_Lodz_2024_Katedralna.pb",
    "Poland_Warszawa_2018_Niskie_Okecie.pb",
    "Poland_Warszawa_2019_Targowek_Mieszkaniowy.pb",
]


@pytest.mark.parametrize("name", TIE_FILES)
def test_ties_decided_by_file_order(name):
    election = read_pabulib(DATA / name)
    outcome = count(election)
    decisive = [tie for tie in outcome.explanation.ties if tie.decisive]
    assert decisive, "a tie decides this file's outcome"
    position = {pid: i for i, pid in enumerate(election.projects)}
    funded = set(election.selected_in_file())
    for tie in decisive:
        # The tied projects were taken in file order, and the city funded the first of them.
        assert tie.projects == sorted(tie.projects, key=position.__getitem__)
        assert tie.projects[0] in funded
        assert any(pid not in funded for pid in tie.projects)
    # Any other order among the tied projects would not give the city's decision.
    reordered = {pid: p for pid, p in election.projects.items()}
    first, *rest = decisive[0].projects
    ids = list(reordered)
    ids.remove(first)
    ids.insert(ids.index(rest[-1]) + 1, first)
    election.projects = {pid: reordered[pid] for pid in ids}
    assert set(count(election).selected) != funded
