"""Reading and writing the .pb format: round trips, one-line errors naming the line, and the
reading rules (repeated projects, numbers, counts, quotes, missing sections)."""

from __future__ import annotations

import copy
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from pabutools.election.pabulib import parse_pabulib_from_string

from pb.tally import (
    ElectionError,
    PabulibError,
    count,
    make_election,
    parse_pabulib,
    read_pabulib,
    write_pabulib,
)
from pb.tally.election import exact

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
SMALL_FILES = sorted(p for p in DATA.glob("*.pb") if p.stat().st_size < 300_000)

# The real files with a ballot naming a project twice, found with the csv module and
# grep, not with the reader: the first such ballot's line, voter and repeated project,
# how many ballots repeat a project, and per project how many mentions are repeats.
# Each file's own votes column counts every mention (e.g. Seattle's project 1229: 51
# ballots name it, one of them twice, and its votes column says 52).
REPEATS = {
    "Netherlands_Amsterdam_604.pb": (1927, "13650977333", "42346", 1, {"42346": 1, "42350": 1, "42355": 1, "42360": 1}),
    "Poland_Warszawa_2022_Wola.pb": (3096, "37051", "1040", 1, {"1040": 1}),
    "Poland_Warszawa_2026_Tarchomin.pb": (135, "230580", "1557", 2, {"1557": 1, "1543": 1}),
    "US_Stanford_Dataset_Your_Voice_Your_Choice_Parks_and_Streets-_Seattle_2019_District_3_vote_knapsacks.pb": (
        123,
        "119-429",
        "1229",
        1,
        {"1229": 1, "1230": 1, "1227": 1},
    ),
}
SEATTLE = DATA / next(name for name in REPEATS if "Seattle" in name)
ROUND_TRIP_FILES = sorted(set(SMALL_FILES) | {DATA / name for name in REPEATS})

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

# An approval file with a votes column (lines numbered for the tests below).
APPROVAL = (
    "META\n"  # 1
    "key;value\n"  # 2
    "num_projects;3\n"  # 3
    "num_votes;3\n"  # 4
    "budget;100\n"  # 5
    "vote_type;approval\n"  # 6
    "rule;greedy\n"  # 7
    "PROJECTS\n"  # 8
    "project_id;cost;votes;name;category\n"  # 9
    "1;50;2;Park;nature\n"  # 10
    "2;30;2;Bench;streets\n"  # 11
    "3;20;1;Tree;nature\n"  # 12
    "VOTES\n"  # 13
    "voter_id;vote\n"  # 14
    "a;1,2\n"  # 15
    "b;1,3\n"  # 16
    "c;2\n"  # 17
)


def _replace(old: str, new: str, text: str = GOOD) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _raises(text: str) -> PabulibError:
    with pytest.raises(PabulibError) as raised:
        parse_pabulib(text)
    return raised.value


def test_reads_meta_projects_votes_with_quoting_decimals_and_crlf():
    election = parse_pabulib("\ufeff" + GOOD)
    assert election.budget == Fraction(201, 2)
    assert election.meta["comment"] == 'semi;colon and "quotes"'
    assert election.projects["1"].cost == Fraction("40.25")
    assert election.projects["2"].name == "Bench; with a semicolon"
    assert [b.vote for b in election.ballots] == [("1", "2"), ("3",), ()]
    assert election.ballots[0].points == (3, 2)
    assert election.ballots[1].fields == {"age": "41"}
    assert election.warnings == []


def test_round_trip_of_handmade_file():
    election = parse_pabulib(GOOD)
    text = write_pabulib(election)
    assert "40.25" in text
    assert "100.50" in text
    assert parse_pabulib(text) == election


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=lambda p: p.stem)
def test_round_trip_of_real_files(path):
    election = read_pabulib(path)
    expected = copy.deepcopy(election)
    # A ballot naming a project twice is written with it once, and the votes column is
    # written for the ballots written: the file's own column counted every mention.
    for pid, repeats in REPEATS.get(path.name, (0, "", "", 0, {}))[4].items():
        expected.projects[pid].fields["votes"] = str(int(election.projects[pid].fields["votes"]) - repeats)
    again = parse_pabulib(write_pabulib(election))
    assert again == expected
    assert again.warnings == []


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


def test_writer_keeps_each_row_on_one_line():
    """A title typed with a line break must not break the row (pabutools splits lines too)."""
    election = make_election(
        budget=10,
        projects=[{"project_id": "a", "cost": 4, "name": "Park\r\nwith benches"}, ("b", 6)],
        ballots=[["a"]],
        meta={"description": "Round\u2028one"},
    )
    text = write_pabulib(election)
    assert "a;4;Park with benches\n" in text
    again = parse_pabulib(text)
    assert again.projects["a"].name == "Park with benches"
    assert again.meta["description"] == "Round one"
    assert [b.vote for b in again.ballots] == [("a",)]


# ---------------------------------------------------------------- malformed files

MALFORMED = [
    (_replace("budget;100.50", "budget;lots"), 6, "budget 'lots' is not a number"),
    (_replace("vote_type;cumulative", "vote_type;plural"), 7, "unknown vote_type 'plural'"),
    (_replace("1;40.25;Park", "1;forty;Park"), 12, "cost 'forty' of project '1' is not a number"),
    (_replace("1;40.25;Park", "{x};forty;Park"), 12, "cost 'forty' of project '{x}' is not a number"),
    (_replace("3;10;Tree", "1;10;Tree"), 14, "project '1' appears twice"),
    (_replace("a;1,2;3,2;30", "a;1,9;3,2;30"), 17, "unknown project '9'"),
    (_replace("a;1,2;3,2;30", "a;1,;3,2;30"), 17, "voter 'a' has an empty project id in '1,'"),
    (_replace("a;1,2;3,2;30", "a;1,2;3;30"), 17, "2 projects but 1 point values"),
    (_replace("a;1,2;3,2;30", "a;1,2;3,-2;30"), 17, "voter 'a' gives negative points"),
    (_replace("b;3;5;41", "b;3;5"), 18, "3 fields where the VOTES header has 4"),
    (_replace("b;3;5;41", "a;3;5;41"), 18, "voter 'a' appears twice"),
    (_replace("project_id;cost;name", "project_id;price;name"), 11, "no cost column"),
    (_replace("VOTES\r\n", "VOTERS\r\n"), 15, "1 fields where the PROJECTS header has 3"),
    (_replace("num_votes;3", "num_votes;4"), 5, "META num_votes is 4 but the file has 3 votes (is the file cut off?)"),
    (_replace("num_votes;3", "num_votes;2"), 5, "META num_votes is 2 but the file has 3 votes"),
    (_replace("num_projects;3", "num_projects;4"), 4, "META num_projects is 4 but the file has 3 projects"),
    (GOOD.split("VOTES")[0], 14, "section VOTES is missing"),
    ("PROJECTS\nproject_id;cost\n", 1, "expected section META, found PROJECTS"),
    ("", 1, "section META is missing"),
    ("key;value\nbudget;1\n", 1, "expected section META at the start of the file"),
    (_replace("3;10;Tree", '3;"10;Tree'), 14, "2 fields where the PROJECTS header has 3"),
    (_replace("num_projects;3", "num_projects;three"), 4, "num_projects 'three' is not a whole number"),
    (_replace("budget;100.50\r\n", ""), 9, "META has no budget"),
    (_replace("vote_type;cumulative\r\n", ""), 9, "META has no vote_type"),
    (_replace("budget;100.50", "budget;-100"), 6, "META budget is negative"),
    (_replace("1;40.25;Park", "1;-40.25;Park"), 12, "cost of project '1' is negative"),
    (_replace("rule;greedy", "max_sum_cost;-5"), 8, "META max_sum_cost is negative"),
    (_replace("rule;greedy", "min_length;-1"), 8, "META min_length '-1' is not a whole number"),
    (_replace("rule;greedy", "max_length;2.0"), 8, "META max_length '2.0' is not a whole number"),
    (_replace("rule;greedy", "max_length;"), 8, "META max_length '' is not a whole number"),
    # The section line is missing before a header: say so, not "cost 'vote' is not a number".
    (_replace("VOTES\r\n", ""), 15, "section VOTES is missing: expected a line VOTES before the votes header"),
    (
        _replace("PROJECTS\r\n", ""),
        10,
        "section PROJECTS is missing: expected a line PROJECTS before the projects header",
    ),
    (_replace("VOTES\r\n", "", APPROVAL.replace("\n", "\r\n")), 13, "section VOTES is missing"),
]


@pytest.mark.parametrize("text,line,message", MALFORMED)
def test_malformed_files_give_one_line_errors(text, line, message):
    error = _raises(text)
    assert error.line == line
    assert message in str(error)
    assert "\n" not in str(error)
    assert str(error).startswith(f"line {line}: ")


def _mutations(text: str):
    """Every line deleted, doubled or swapped with the next; every field replaced by junk."""
    lines = text.split("\n")
    for i in range(len(lines)):
        yield "\n".join(lines[:i] + lines[i + 1 :])
        yield "\n".join(lines[: i + 1] + lines[i:])
        if i + 1 < len(lines):
            yield "\n".join([*lines[:i], lines[i + 1], lines[i], *lines[i + 2 :]])
        fields = lines[i].split(";")
        for j in range(len(fields)):
            for junk in ("", "x", "-1", '"', "1e3", "1,,2", "VOTES"):
                yield "\n".join([*lines[:i], ";".join([*fields[:j], junk, *fields[j + 1 :]]), *lines[i + 1 :]])


@pytest.mark.parametrize("base", [GOOD, APPROVAL], ids=["cumulative", "approval"])
def test_every_reading_error_names_its_line(base):
    refused = 0
    for text in _mutations(base):
        try:
            parse_pabulib(text)
        except PabulibError as error:
            refused += 1
            assert error.line is not None, (text, error)  # a mutation may be read or refused
            assert 1 <= error.line <= text.count("\n") + 1, (text, error)
            assert str(error).startswith(f"line {error.line}: ")
            assert "\n" not in str(error)
    assert refused > 100


def test_unreadable_and_undecodable_files(tmp_path):
    with pytest.raises(PabulibError, match="cannot read"):
        read_pabulib(tmp_path / "missing.pb")
    bad = tmp_path / "latin1.pb"
    bad.write_bytes(GOOD.replace("Park", "Parc \xe9t\xe9").encode("latin-1"))
    with pytest.raises(PabulibError, match=r"^line 12: the file is not valid UTF-8$"):
        read_pabulib(bad)


# ---------------------------------------------------------------- a project named twice


@pytest.mark.parametrize("name", sorted(REPEATS), ids=lambda n: n[:40])
def test_real_files_naming_a_project_twice_are_read_with_a_warning(name):
    line, voter, project, ballots, repeats = REPEATS[name]
    election = read_pabulib(DATA / name)
    plural = "s" if ballots > 1 else ""
    assert election.warnings == [
        f"line {line}: voter {voter!r} names project {project!r} twice; "
        f"each such project is counted once ({ballots} ballot{plural})"
    ]
    assert all(len(set(b.vote)) == len(b.vote) for b in election.ballots)
    # The file's votes column counts every mention; the ballots read count each voter once.
    naming = Counter(pid for b in election.ballots for pid in b.vote)
    for pid, p in election.projects.items():
        assert naming[pid] == int(p.fields["votes"]) - repeats.get(pid, 0), pid


def test_the_first_mention_is_kept_and_written():
    election = read_pabulib(SEATTLE)
    (ballot,) = [b for b in election.ballots if b.voter_id == "119-429"]
    assert ballot.vote == ("1229", "1230", "1227")  # the file says 1229,1229,1230,1230,1227,1227
    assert "\n119-429;1229,1230,1227\n" in write_pabulib(election)


def test_a_repeated_rank_keeps_the_best_one():
    text = (
        _replace("vote_type;cumulative", "vote_type;ordinal")
        .replace("voter_id;vote;points;age", "voter_id;vote;age")
        .replace("a;1,2;3,2;30", "a;3,1,3;30")
        .replace("b;3;5;41", "b;2;41")
        .replace("c;;;", "c;;")
    )
    election = parse_pabulib(text)
    assert election.ballots[0].vote == ("3", "1")
    assert election.warnings == [
        "line 17: voter 'a' names project '3' twice; each such project is counted once (1 ballot)"
    ]


def test_repeated_points_are_added_up():
    """Cumulative: the voter's points all count, as the file's score column counts them."""
    text = (
        _replace("project_id;cost;name", "project_id;cost;name;score")
        .replace("1;40.25;Park", "1;40.25;Park;4")
        .replace('2;60;"Bench; with a semicolon"', '2;60;"Bench; with a semicolon";2')
        .replace("3;10;Tree", "3;10;Tree;5")
        .replace("a;1,2;3,2;30", "a;1,2,1;3,2,1;30")
    )
    election = parse_pabulib(text)
    assert election.ballots[0].vote == ("1", "2")
    assert election.ballots[0].points == (4, 2)
    assert election.warnings == [
        "line 17: voter 'a' names project '1' twice; each such project is counted once, "
        "with its points added up (1 ballot)"
    ]
    # A score column that disagrees with the added-up points is a contradiction.
    error = _raises(text.replace("1;40.25;Park;4", "1;40.25;Park;3"))
    assert str(error) == "line 12: project '1' has score 3 but the ballots give 4 (is the file cut off or altered?)"


def test_a_repeated_choice_on_a_choose_one_ballot_is_one_choice():
    text = _replace("vote_type;approval", "vote_type;choose-1", APPROVAL).replace("a;1,2", "a;1,1")
    text = text.replace("1;50;2;", "1;50;3;").replace("2;30;2;", "2;30;1;")
    with pytest.raises(PabulibError, match="line 16: voter 'b' chooses 2 projects"):
        parse_pabulib(text)
    election = parse_pabulib(text.replace("b;1,3", "b;1").replace("3;20;1;", "3;20;0;"))
    assert election.ballots[0].vote == ("1",)
    assert len(election.warnings) == 1


def test_make_election_still_refuses_a_repeat():
    with pytest.raises(ElectionError, match="voter '1' names project 'a' twice"):
        make_election(budget=10, projects=[("a", 5)], ballots=[["a", "a"]])


# ---------------------------------------------------------------- numbers

REFUSED_NUMBERS = [
    "1_000",
    "1e3",
    "1E3",
    "+100",
    "1 000",
    "\u0661\u0662\u0663",
    "\u00b2",
    "\u00bd",
    "0x10",
    "0b1",
    "inf",
    "-inf",
    "Infinity",
    "nan",
    "NaN",
    "1/2",
    "",
    "1.",
    ".5",
    "1..5",
    "1.2.3",
    "1,000.50",
    "\u22125",
    "- 5",
    "--5",
    "1-",
    "5%",
    "\uff15",
    "1e-3",
]


def _with_number(field: str, value: str) -> tuple[str, int, str]:
    """GOOD with ``value`` in one numeric field: (text, line, the expected message)."""
    if field == "budget":
        return _replace("budget;100.50", f"budget;{value}"), 6, f"META budget {value!r} is not a number"
    if field == "cost":
        return _replace("1;40.25;Park", f"1;{value};Park"), 12, f"cost {value!r} of project '1' is not a number"
    if field == "threshold":
        text = _replace("rule;greedy", f"min_project_score_threshold;{value}")
        return text, 8, f"META min_project_score_threshold {value!r} is not a number"
    if field == "points":
        text = _replace("a;1,2;3,2;30", f"a;1,2;3,{value};30")
        return text, 17, f"points {value!r} of voter 'a' is not a number"
    assert field == "num_votes"
    return _replace("num_votes;3", f"num_votes;{value}"), 5, f"META num_votes {value!r} is not a whole number"


@pytest.mark.parametrize(
    "field,value",
    [
        (field, value)
        for field in ("budget", "cost", "threshold", "points", "num_votes")
        for value in REFUSED_NUMBERS
        if not (field == "points" and "," in value)  # a comma separates point values
    ],
)
def test_only_pabulib_decimals_are_numbers(field, value):
    text, line, message = _with_number(field, value)
    error = _raises(text)
    assert str(error) == f"line {line}: {message}"


@pytest.mark.parametrize("value", REFUSED_NUMBERS)
def test_make_election_is_as_strict(value):
    with pytest.raises(ElectionError):
        make_election(budget=10, projects=[("a", value)], ballots=[])
    with pytest.raises(ElectionError):
        make_election(budget=value, projects=[("a", 1)], ballots=[])


def test_exact_passes_ints_and_fractions_and_refuses_floats():
    assert exact(7) == 7
    assert isinstance(exact(7), int)
    assert exact(Fraction(3, 4)) == Fraction(3, 4)
    assert exact(Fraction(8, 4)) == 2
    assert isinstance(exact(Fraction(8, 4)), int)
    assert exact("2458488.22") == Fraction(245848822, 100)
    assert exact("1000,50") == Fraction(2001, 2)
    assert exact("007") == 7
    assert exact("-0,5") == Fraction(-1, 2)
    for bad in (1.5, True, None):
        with pytest.raises(ElectionError):
            exact(bad)


def test_accepted_number_forms():
    text = (
        _replace("budget;100.50", "budget;0100,50")
        .replace("1;40.25;Park", "1;40,25;Park")
        .replace("rule;greedy", "rule;greedy\r\nmin_project_score_threshold;2,5\r\nmax_sum_cost;100")
        .replace("a;1,2;3,2;30", "a;1,2;3.5,2;30")
    )
    election = parse_pabulib(text)
    assert election.budget == Fraction(201, 2)
    assert election.projects["1"].cost == Fraction(161, 4)
    assert election.ballots[0].points == (Fraction(7, 2), 2)


def test_negative_values_where_they_mean_something():
    """Scoring ballots may give negative points; so may their limits and a threshold."""
    text = (
        _replace("vote_type;cumulative", "vote_type;scoring")
        .replace("rule;greedy", "rule;greedy\r\nmin_points;-1\r\nmin_project_score_threshold;-2")
        .replace("a;1,2;3,2;30", "a;1,2;-1,2;30")
    )
    election = parse_pabulib(text)
    assert election.ballots[0].points == (-1, 2)
    assert election.meta["min_points"] == "-1"


def test_a_decimal_comma_budget_is_counted():
    election = parse_pabulib(_replace("budget;100.50", "budget;100,50"))
    assert election.budget == Fraction(201, 2)
    outcome = count(election, "greedy")
    # Points 1: 3, 2: 2, 3: 5. Greedy funds 3 (10), then 1 (40.25); 2 (60) does not fit in 50.25.
    assert outcome.budget == Fraction(201, 2)
    assert outcome.selected == ["3", "1"]
    assert outcome.cost == Fraction(201, 4)
    assert make_election(budget="1000,50", projects=[], ballots=[]).budget == Fraction(2001, 2)


# ---------------------------------------------------------------- counts and columns


def test_votes_column_must_match_the_ballots():
    assert parse_pabulib(APPROVAL).warnings == []
    error = _raises(APPROVAL.replace("2;30;2;Bench", "2;30;5;Bench"))
    assert str(error) == "line 11: project '2' has votes 5 but the ballots give 2 (is the file cut off or altered?)"
    # No claim: an empty value or Pabulib's None.
    for value in ("", "None"):
        assert parse_pabulib(APPROVAL.replace("2;30;2;Bench", f"2;30;{value};Bench")).projects["2"].cost == 30
    error = _raises(APPROVAL.replace("2;30;2;Bench", "2;30;two;Bench"))
    assert str(error) == "line 11: votes 'two' of project '2' is not a whole number"


def test_a_votes_column_counting_each_mention_is_accepted():
    """As in the real files: a project named twice on one ballot is two in the votes column."""
    text = APPROVAL.replace("b;1,3", "b;1,3,1").replace("1;50;2;", "1;50;3;")
    election = parse_pabulib(text)
    assert election.ballots[1].vote == ("1", "3")
    assert election.projects["1"].fields["votes"] == "3"  # the file's text is kept
    again = write_pabulib(election)
    assert "\n1;50;2;Park;nature\n" in again
    assert "\nb;1,3\n" in again


# ---------------------------------------------------------------- quotes


def test_quotes_in_names_are_read_as_pabutools_reads_them():
    text = (
        APPROVAL.replace("1;50;2;Park;", '1;50;2;"Green" park;')
        .replace("2;30;2;Bench;", '2;30;2;"Old ""mill"" bench";')
        .replace("3;20;1;Tree;", '3;20;1;A "quoted" word;')
    )
    election = parse_pabulib(text)
    instance, _profile = parse_pabulib_from_string(text)
    theirs = {str(p): instance.project_meta[p]["name"] for p in instance}
    assert theirs == {"1": "Green park", "2": 'Old "mill" bench', "3": 'A "quoted" word'}
    assert {pid: p.name for pid, p in election.projects.items()} == theirs


def test_an_unclosed_quote_ends_with_its_line():
    # In the last column the rest of the line is the name, and the next line is still a row
    # (pabutools would run on into the next lines).
    text = APPROVAL.replace("project_id;cost;votes;name;category", "project_id;cost;votes;category;name")
    text = (
        text.replace("1;50;2;Park;nature", '1;50;2;nature;"Park; the big one')
        .replace("2;30;2;Bench;streets", "2;30;2;streets;Bench")
        .replace("3;20;1;Tree;nature", "3;20;1;nature;Tree")
    )
    election = parse_pabulib(text)
    assert election.projects["1"].name == "Park; the big one"
    assert election.projects["2"].name == "Bench"
    # Anywhere else it swallows the fields after it: one line, one error.
    error = _raises(APPROVAL.replace("1;50;2;Park;nature", '1;50;2;"Park;nature'))
    assert str(error) == "line 10: 4 fields where the PROJECTS header has 5"


def test_blank_lines_empty_fields_and_section_lines_with_empty_fields_are_skipped():
    text = APPROVAL.replace("META\n", "META;\n").replace("VOTES\n", "\n;;\nVOTES;;\n").replace("c;2\n", "c;2\n;\n")
    assert parse_pabulib(text) == parse_pabulib(APPROVAL)


# ---------------------------------------------------------------- make_election


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
        ({"projects": [("a", "1e3")]}, "not a number: '1e3'"),
        ({"budget": "-1"}, "the budget is negative"),
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
