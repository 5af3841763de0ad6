"""`pb tally` / `pb verify` as plain click commands: output, exit codes, start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pb.tally.cli import tally_command, verify_command

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "pabulib"
GRZEGORZKI = DATA / "Poland_Krakow_2018_Grzegorzki.pb"
ASSEN = DATA / "Netherlands_Assen_2024.pb"


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


def test_tally_with_another_rule():
    result = run(tally_command, ASSEN, "--rule", "greedy", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["rule"] == "greedy"


def test_unknown_rule_exits_2_with_one_line():
    result = run(tally_command, ASSEN, "--rule", "borda-magic")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "unknown rule 'borda-magic'" in result.output


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
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_bad_format_exits_2():
    result = run(tally_command, ASSEN, "--format", "xml")
    assert result.exit_code == 2


def test_verify_match_and_difference(tmp_path):
    good = run(verify_command, GRZEGORZKI.with_name("Poland_Krakow_2021_Stare_Miasto.pb"))
    assert good.exit_code == 0 and good.output.startswith("match:")
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
    code = (
        "import sys, pb.tally.cli; "
        "print(sorted(m for m in ('flask', 'sqlmodel', 'sqlalchemy') if m in sys.modules))"
    )
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
