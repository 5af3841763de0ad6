"""`pb tally` / `pb verify` as plain click commands: output, exit codes, start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import gmpy2
from click.testing import CliRunner

from pb.tally import make_election, write_pabulib
from pb.tally.cli import money_text, reason_text, tally_command, verify_command

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "pabulib"
GRZEGORZKI = DATA / "Poland_Krakow_2018_Grzegorzki.pb"
ASSEN = DATA / "Netherlands_Assen_2024.pb"
NOWA_HUTA = DATA / "Poland_Krakow_2023_Nowa_Huta.pb"
SEATTLE = DATA / (
    "US_Stanford_Dataset_Your_Voice_Your_Choice_Parks_and_Streets-_Seattle_2019_District_3_vote_knapsacks.pb"
)
TARCHOMIN = DATA / "Poland_Warszawa_2026_Tarchomin.pb"


def run(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args])


def test_tally_json_has_the_contract_fields():
    result = run(tally_command, DATA / "Poland_Krakow_2023_Nowa_Huta.pb", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rule"] == "greedy"
    assert data["budget"] == 2458488.22  # an exact decimal, written as a JSON number
    assert data["selected"][0] == "BO.D18.22/23"
    assert data["cost"] == 2455860
    assert data["explanation"]["kind"] == "greedy"


def test_tally_text_lists_selected_projects():
    result = run(tally_command, ASSEN)
    assert result.exit_code == 0, result.output
    assert "rule: equalshares/add1" in result.output
    assert "share per voter: " in result.output


def test_tally_text_says_why_add1_stopped():
    # Assen 2024: 84 voters, EUR 100,000. At 2,034 per voter the outcome costs 105,700.
    assert "add1 stopped: at 2034 EUR per voter the outcome would cost 105700 EUR, over the budget" in (
        run(tally_command, ASSEN).output
    )
    swiecie = run(tally_command, DATA / "Poland_Swiecie_2023.pb").output
    assert "add1 stopped: no other project with supporters fits in the money left" in swiecie


def test_tally_with_another_rule():
    result = run(tally_command, ASSEN, "--rule", "greedy", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["rule"] == "greedy"


def test_unknown_rule_exits_2_with_one_line():
    result = run(tally_command, ASSEN, "--rule", "borda-magic")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "unknown rule 'borda-magic'" in result.output


def test_file_rule_that_cannot_be_recounted_exits_2():
    result = run(tally_command, DATA / "Poland_Warszawa_2024_Wilanow.pb")
    assert result.exit_code == 2
    assert "greedy-exclusive" in result.output


def test_malformed_file_exits_2_with_line_number(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_text("META\nkey;value\nbudget;ten\nvote_type;approval\nPROJECTS\nproject_id;cost\n")
    result = run(tally_command, bad)
    assert result.exit_code == 2
    assert result.output.strip().endswith("line 3: META budget 'ten' is not a number")
    assert result.output.count("\n") == 1
    missing = run(verify_command, tmp_path / "nope.pb")
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


def test_bad_format_exits_2():
    result = run(tally_command, ASSEN, "--format", "xml")
    assert result.exit_code == 2


def test_verify_match_and_difference(tmp_path):
    good = run(verify_command, GRZEGORZKI.with_name("Poland_Krakow_2021_Stare_Miasto.pb"))
    assert good.exit_code == 0
    assert good.output.startswith("match:")
    text = (DATA / "Poland_Zabrze_2020_Makoszowy.pb").read_text(encoding="utf-8")
    # Makoszowy has no selected column: verify cannot compare.
    no_column = tmp_path / "makoszowy.pb"
    no_column.write_text(text, encoding="utf-8")
    assert run(verify_command, no_column).exit_code == 2
    # Claim the wrong project was funded: verify reports both sides and exits 1.
    from pb.tally import read_pabulib, write_pabulib

    election = read_pabulib(DATA / "Poland_Wroclaw_2016_Rejon_nr_11_750.pb")
    truly = election.selected_in_file()
    others = [pid for pid in election.projects if pid not in truly]
    forged = tmp_path / "forged.pb"
    forged.write_text(write_pabulib(election, selected=others[:1]), encoding="utf-8")
    result = run(verify_command, forged)
    assert result.exit_code == 1
    assert f"only in the file:    {others[0]}" in result.output
    assert f"only in the recount: {truly[0]}" in result.output


def test_module_runs_without_flask_or_sqlmodel():
    """`pb tally` must start fast: importing the CLI must not pull in the web stack."""
    code = "import sys, pb.tally.cli; print(sorted(m for m in ('flask', 'sqlmodel', 'sqlalchemy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_python_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "pb.tally.cli", "tally", str(GRZEGORZKI), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rule"] == "greedy"


# ---------------------------------------------------------------- warnings


def test_a_warning_is_one_line_on_stderr_and_the_count_goes_on():
    result = run(tally_command, SEATTLE, "--rule", "greedy")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: {SEATTLE}: line 123: voter '119-429' names project '1229' twice; "
        "each such project is counted once (1 ballot)\n"
    )
    assert result.stdout.startswith("rule: greedy\n")
    as_json = run(tally_command, SEATTLE, "--rule", "greedy", "--format", "json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["rule"] == "greedy"  # stdout stays JSON only
    assert as_json.stderr.startswith("warning: ")
    assert as_json.stderr.count("\n") == 1
    # A refusal stays the only line: the file's own rule (unknown) cannot be counted.
    refused = run(tally_command, SEATTLE)
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: unknown rule 'unknown'")
    assert refused.stderr.count("\n") == 1


def test_verify_prints_the_warning_and_still_matches():
    result = run(verify_command, TARCHOMIN)
    assert result.exit_code == 0, result.output
    # The file's selected column funds 630, 1508, 1381 and 1951.
    assert result.stdout == "match: greedy-threshold selects the same 4 projects as the file\n"
    assert result.stderr == (
        f"warning: {TARCHOMIN}: line 135: voter '230580' names project '1557' twice; "
        "each such project is counted once (2 ballots)\n"
    )


def test_a_cut_file_exits_2_with_one_line(tmp_path):
    text = GRZEGORZKI.read_text(encoding="utf-8")
    cut = tmp_path / "cut.pb"
    cut.write_text(text[: text.rindex("\n", 0, len(text.rstrip())) + 1], encoding="utf-8")
    result = run(tally_command, cut)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "(is the file cut off?)" in result.stderr


# ---------------------------------------------------------------- money


def test_money_text():
    assert money_text(Fraction("2458488.22"), "PLN") == "2458488.22 PLN"
    assert money_text(1145, "PLN") == "1145 PLN"
    assert money_text(12345678) == "12345678"  # no grouping
    assert money_text(Fraction("1250.5"), "GBP") == "1250.50 GBP"
    assert money_text(Fraction(1, 3)) == "0.33"
    assert money_text(Fraction(200, 3)) == "66.67"
    assert money_text(Fraction(10, 1)) == "10"
    assert money_text(gmpy2.mpq(7, 2), "EUR") == "3.50 EUR"


def test_reason_text_from_figures_or_the_engines_words():
    def money(value):
        return money_text(value, "PLN")

    figures = {"left": Fraction("13871.54"), "cost": 20000}
    reason = SimpleNamespace(code="not_affordable", detail="engine words", figures=figures)
    assert reason_text(reason, money) == (
        "its supporters had 13871.54 PLN left between them, less than its cost of 20000 PLN"
    )
    # Before the engine gives figures (or with a code this command does not know): its detail.
    assert reason_text(SimpleNamespace(code="not_affordable", detail="engine words"), money) == "engine words"
    for code, figures in (("not_affordable", {}), ("new_code", {"x": 1})):
        assert reason_text(SimpleNamespace(code=code, detail="engine words", figures=figures), money) == "engine words"
    assert reason_text(SimpleNamespace(code="no_support", detail="", figures={}), money) == "nobody voted for it"


def test_tally_text_shows_money_with_the_files_currency():
    result = run(tally_command, NOWA_HUTA)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "budget: 2458488.22 PLN"
    # The file's selected column: 8 projects costing 2455860.
    assert lines[2] == "selected: 8 projects costing 2455860 PLN"


def _pb_file(tmp_path, **kwargs):
    path = tmp_path / "contest.pb"
    path.write_text(write_pabulib(make_election(**kwargs)), encoding="utf-8")
    return path


def test_tally_text_for_equal_shares(tmp_path):
    # Two voters share 101: 50.50 each. A (60) costs them 30 each; B (80) has only voter 1,
    # who has 20.50 left.
    path = _pb_file(
        tmp_path,
        budget="101",
        projects=[("A", 60), ("B", 80)],
        ballots=[["A", "B"], ["A"]],
        rule="equalshares",
        meta={"currency": "GBP"},
    )
    result = run(tally_command, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "rule: equalshares",
        "budget: 101 GBP",
        "selected: 1 project costing 60 GBP",
        "share per voter: 50.50 GBP",
        "   1. A  cost 60 GBP  score 2",
        "not funded:",
        "      B: its supporters had 20.50 GBP left between them, less than its cost of 80 GBP",
    ]


def test_tally_text_for_greedy_reasons(tmp_path):
    # Votes: A 3, B 2, C 1. A (70) is funded, leaving 30; B (50) does not fit.
    args = dict(
        budget=100,
        projects=[("A", 70), ("B", 50), ("C", 10)],
        ballots=[["A", "B", "C"], ["A", "B"], ["A"]],
        rule="greedy",
    )
    greedy = run(tally_command, _pb_file(tmp_path, **args))
    assert greedy.stdout.splitlines()[-2:] == ["not funded:", "      B: its cost of 50 is more than the 30 left"]
    no_skip = run(tally_command, _pb_file(tmp_path, **args), "--rule", "greedy-no-skip")
    assert no_skip.stdout.splitlines()[-1] == "      C: counting stopped at project B, which did not fit"
    threshold = _pb_file(tmp_path, **args, meta={"min_project_score_threshold": "2", "currency": "EUR"})
    result = run(tally_command, threshold, "--rule", "greedy-threshold")
    assert result.stdout.splitlines()[-3:] == [
        "not funded:",
        "      B: its cost of 50 EUR is more than the 30 EUR left",
        "      C: its score of 1 is below the threshold of 2",
    ]


def test_a_decimal_comma_budget_is_counted(tmp_path):
    election = make_election(budget=100, projects=[("A", 60), ("B", 40)], ballots=[["A"], ["B"]], rule="greedy")
    text = write_pabulib(election)
    path = tmp_path / "comma.pb"
    path.write_text(text.replace("budget;100", "budget;100,50"), encoding="utf-8")
    as_json = run(tally_command, path, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["budget"] == 100.5
    assert run(tally_command, path).stdout.splitlines()[1] == "budget: 100.50"
