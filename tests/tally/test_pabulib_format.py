"""Reading and writing the .pb format: round trips and one-line errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from pb.tally import (
    ElectionError,
    PabulibError,
    make_election,
    parse_pabulib,
    read_pabulib,
    write_pabulib,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pabulib"
SMALL_FILES = sorted(p for p in DATA.glob("*.pb") if p.stat().st_size < 300_000)

GOOD = (
    "META\r\n"
    "key;value\r\n"
    "description;Test\r\n"
    "num_projects;3\r\n"
    "num_votes;3\r\n"
    "budget;100.50\r\n"
    "vote_type;cumulative\r\n"
    "rule;greedy\r\n"
    'comment;"semi;colon and ""quotes"""\r\n'
    "PROJECTS\r\n"
    "project_id;cost;name\r\n"
    "1;40.25;Park\r\n"
    '2;60;"Bench; with a semicolon"\r\n'
    "3;10;Tree\r\n"
    "VOTES\r\n"
    "voter_id;vote;points;age\r\n"
    "a;1,2;3,2;30\r\n"
    "b;3;5;41\r\n"
    "c;;;\r\n"
)


def test_reads_meta_projects_votes_with_quoting_decimals_and_crlf():
    election = parse_pabulib("\ufeff" + GOOD)
    assert election.budget == Fraction(201, 2)
    assert election.meta["comment"] == 'semi;colon and "quotes"'
    assert election.projects["1"].cost == Fraction("40.25")
    assert election.projects["2"].name == "Bench; with a semicolon"
    assert [b.vote for b in election.ballots] == [("1", "2"), ("3",), ()]
    assert election.ballots[0].points == (3, 2)
    assert election.ballots[1].fields == {"age": "41"}


def test_round_trip_of_handmade_file():
    election = parse_pabulib(GOOD)
    text = write_pabulib(election)
    assert "40.25" in text and "100.50" in text
    assert parse_pabulib(text) == election


@pytest.mark.parametrize("path", SMALL_FILES, ids=lambda p: p.stem)
def test_round_trip_of_real_files(path):
    election = read_pabulib(path)
    assert parse_pabulib(write_pabulib(election)) == election


def test_round_trip_covers_every_vote_type_in_the_data():
    kinds = {read_pabulib(p).vote_type for p in SMALL_FILES}
    assert kinds == {"approval", "ordinal", "cumulative", "choose-1"}


def test_scoring_ballots_round_trip():
    election = make_election(
        budget=10,
        projects=[("a", 4), ("b", 6)],
        ballots=[{"a": 2, "b": -1}, {"b": Fraction(1, 2)}],
        vote_type="scoring",
        rule="greedy",
    )
    again = parse_pabulib(write_pabulib(election))
    assert again == election
    assert again.ballots[1].points == (Fraction(1, 2),)


def test_writer_sets_selected_column():
    election = parse_pabulib(GOOD)
    again = parse_pabulib(write_pabulib(election, selected=["3", "1"]))
    assert again.selected_in_file() == ["1", "3"]
    assert again.projects["2"].fields["selected"] == "0"


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


MALFORMED = [
    (_replace("budget;100.50", "budget;lots"), 6, "budget 'lots' is not a number"),
    (_replace("vote_type;cumulative", "vote_type;plural"), 7, "unknown vote_type 'plural'"),
    (_replace("1;40.25;Park", "1;forty;Park"), 12, "cost 'forty' of project '1' is not a number"),
    (_replace("3;10;Tree", "1;10;Tree"), 14, "project '1' appears twice"),
    (_replace("a;1,2;3,2;30", "a;1,9;3,2;30"), 17, "unknown project '9'"),
    (_replace("a;1,2;3,2;30", "a;1,1;3,2;30"), 17, "names project '1' twice"),
    (_replace("a;1,2;3,2;30", "a;1,2;3;30"), 17, "2 projects but 1 point values"),
    (_replace("b;3;5;41", "b;3;5"), 18, "3 fields where the VOTES header has 4"),
    (_replace("b;3;5;41", "a;3;5;41"), 18, "voter 'a' appears twice"),
    (_replace("project_id;cost;name", "project_id;price;name"), 11, "no cost column"),
    (_replace("VOTES\r\n", "VOTERS\r\n"), 15, "3 fields where the PROJECTS header has 3".replace("3 fields", "1 fields")),
    (_replace("num_votes;3", "num_votes;4"), None, "num_votes is 4 but the file has 3 votes"),
    (GOOD.split("VOTES")[0], 14, "section VOTES is missing"),
    ("PROJECTS\nproject_id;cost\n", 1, "expected section META, found PROJECTS"),
    (_replace("3;10;Tree", '3;10;"Tree"x'), 14, "CSV error"),
    (_replace("num_projects;3", "num_projects;three"), 4, "num_projects 'three' is not a whole number"),
    (_replace("budget;100.50\r\n", ""), 9, "META has no budget"),
]


@pytest.mark.parametrize("text,line,message", MALFORMED)
def test_malformed_files_give_one_line_errors(text, line, message):
    with pytest.raises(PabulibError) as raised:
        parse_pabulib(text)
    error = raised.value
    assert error.line == line
    assert message in str(error)
    assert "\n" not in str(error)
    if line is not None:
        assert str(error).startswith(f"line {line}: ")


def test_unreadable_and_undecodable_files(tmp_path):
    with pytest.raises(PabulibError, match="cannot read"):
        read_pabulib(tmp_path / "missing.pb")
    bad = tmp_path / "latin1.pb"
    bad.write_bytes(GOOD.replace("Park", "Parc \xe9t\xe9").encode("latin-1"))
    with pytest.raises(PabulibError, match=r"^line 12: the file is not valid UTF-8$"):
        read_pabulib(bad)


def test_make_election_from_plain_data():
    election = make_election(
        budget=150_00,
        projects=[{"project_id": 7, "cost": 100_00, "name": "Benches"}, ("8", 50_00)],
        ballots=[[7], ["8", "7"], []],
        rule="greedy",
    )
    assert list(election.projects) == ["7", "8"]
    assert election.projects["7"].name == "Benches"
    assert election.meta["num_votes"] == "3"
    assert [b.voter_id for b in election.ballots] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"ballots": [["x"]]}, "unknown project 'x'"),
        ({"ballots": [["a", "a"]]}, "twice"),
        ({"projects": [("a", 1.5)]}, "floats are not accepted"),
        ({"projects": [("a", -1)]}, "negative cost"),
        ({"vote_type": "choose-1", "ballots": [["a", "b"]]}, "more than one"),
        ({"vote_type": "cumulative", "ballots": [["a"]]}, "one point value per project"),
        ({"vote_type": "nonsense"}, "unknown vote type"),
    ],
)
def test_make_election_refuses_bad_data(kwargs, message):
    args = {"budget": 10, "projects": [("a", 5), ("b", 5)], "ballots": [["a"]]}
    args.update(kwargs)
    with pytest.raises(ElectionError, match=message):
        make_election(**args)
