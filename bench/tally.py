"""Benchmarks for the counting engine; prints one figure per line, with its unit.

    .venv/bin/python bench/tally.py            # pb, and pabutools on a mid-size add1 file
    .venv/bin/python bench/tally.py --quick    # pb only

Every pb figure is a whole process, as a user meets it: ``python -m pb.tally.cli tally
FILE --rule RULE --format json`` (start-up, reading the file, counting, printing), the
median of three runs, with that process's own peak memory (from wait4). Files:
Warszawa 2023 Mokotów (11,067 voters, 81 projects) and Budapest 2024 (28,943 voters,
175 projects) with equalshares/add1 (targets: under 2 s and under 5 s) and with plain
equalshares; Kraków 2024 with greedy. pabutools (the reference implementation) counts
Świecie 2023 with the same add1 (started at floor(budget / voters), increments of 1,
ties by file order), as a whole process too, against pb on the same file: the ratio is
pabutools' time over pb's. Last, a generated 100,000-voter, 100-project approval
election counted with equalshares inside one process (the count alone).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "pabulib"  # the Pabulib files the tests count
FILES = {
    "mokotow-2023": DATA / "Poland_Warszawa_2023_Mokotow.pb",
    "budapest-2024": DATA / "Hungary_Budapest_2024.pb",
    "swiecie-2023": DATA / "Poland_Swiecie_2023.pb",
    "krakow-2024": DATA / "Poland_Krakow_2024.pb",
}
TARGETS = {("mokotow-2023", "equalshares/add1"): 2.0, ("budapest-2024", "equalshares/add1"): 5.0}
PABUTOOLS_TIMEOUT = 1800

PABUTOOLS_ADD1 = """
import sys
from fractions import Fraction
from pabutools.election import Cost_Sat, parse_pabulib
from pabutools.rules.budgetallocation import BudgetAllocation
from pabutools.rules.mes.mes_rule import method_of_equal_shares_scheme
from pabutools.tiebreaking import TieBreakingRule

instance, profile = parse_pabulib(sys.argv[1])
with open(sys.argv[1], encoding="utf-8-sig") as handle:
    lines = handle.read().splitlines()
start = lines.index("PROJECTS") + 2
ids = []
for line in lines[start:]:
    if line.strip() == "VOTES":
        break
    ids.append(line.split(";", 1)[0])
order = {pid: i for i, pid in enumerate(ids)}
outcome = method_of_equal_shares_scheme(
    instance,
    profile,
    profile.as_sat_profile(sat_class=Cost_Sat),
    Fraction(instance.budget_limit) // profile.num_ballots(),
    BudgetAllocation(),
    TieBreakingRule(lambda inst, prof, project: order[project.name]),
    voter_budget_increment=1,
    binary_sat=True,
)
print(sorted(p.name for p in outcome))
"""


def run_measured(command: list[str], timeout: float | None = None) -> tuple[float, float, str] | None:
    """Wall seconds, peak memory (MB, the child's own, from wait4) and standard output of
    one process; None if it did not finish within ``timeout``."""
    start = time.perf_counter()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the command with its output into the pipe
        os.close(read)
        os.dup2(write, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.chdir(ROOT)
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    os.close(write)
    chunks = []
    deadline = None if timeout is None else start + timeout
    with os.fdopen(read) as pipe:
        while True:
            if deadline is not None and time.perf_counter() > deadline:
                os.kill(pid, 9)
                os.wait4(pid, 0)
                return None
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024, "".join(chunks)


def pb_tally(name: str, rule: str, runs: int = 3) -> tuple[float, float, dict]:
    command = [sys.executable, "-m", "pb.tally.cli", "tally", str(FILES[name]), "--rule", rule, "--format", "json"]
    results = [run_measured(command) for _ in range(runs)]
    seconds = statistics.median(r[0] for r in results)
    peak = max(r[1] for r in results)
    return seconds, peak, json.loads(results[-1][2])


def generated_election(voters: int = 100_000, projects: int = 100, seed: int = 2024):
    """Approval ballots: 1-10 picks per voter, project popularity skewed (seeded)."""
    from pb.tally import make_election

    rng = random.Random(seed)
    ids = [str(j) for j in range(1, projects + 1)]
    costs = [rng.randrange(20_000, 400_000, 1_000) for _ in ids]
    popularity = [1 / (rank + 3) for rank in range(projects)]
    rng.shuffle(popularity)
    ballots = []
    for _ in range(voters):
        picks = set(rng.choices(ids, popularity, k=rng.randint(1, 10)))
        ballots.append(sorted(picks, key=int))
    budget = sum(costs) * 3 // 10
    return make_election(
        budget=budget, projects=list(zip(ids, costs, strict=True)), ballots=ballots, rule="equalshares"
    )


def _generated_child() -> None:
    import resource

    from pb.tally import count

    election = generated_election()
    start = time.perf_counter()
    outcome = count(election, "equalshares")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "selected": len(outcome.selected)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip pabutools")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generated":
        sys.path.insert(0, str(ROOT))
        _generated_child()
        return
    missing = [str(path) for path in FILES.values() if not path.exists()]
    if missing:
        raise SystemExit(f"Pabulib data not found: {', '.join(missing)}")

    for name in ("mokotow-2023", "budapest-2024"):
        for rule in ("equalshares/add1", "equalshares"):
            seconds, peak, outcome = pb_tally(name, rule)
            target = TARGETS.get((name, rule))
            note = f" (target under {target:g} s)" if target else ""
            print(f"{name} {rule} pb tally, whole process: {seconds:.2f} s{note}")
            print(f"{name} {rule} pb tally peak memory: {peak:.0f} MB")
            if rule == "equalshares/add1":
                share = outcome["explanation"]["per_voter_budget"]
                print(f"{name} {rule} share per voter that decided: {share} (currency units)")

    seconds, peak, outcome = pb_tally("swiecie-2023", "equalshares/add1")
    print(f"swiecie-2023 equalshares/add1 pb tally, whole process: {seconds:.2f} s")
    if not args.quick:
        result = run_measured([sys.executable, "-c", PABUTOOLS_ADD1, str(FILES["swiecie-2023"])], PABUTOOLS_TIMEOUT)
        if result is None:
            print(f"swiecie-2023 equalshares/add1 pabutools: did not finish within {PABUTOOLS_TIMEOUT} s")
        else:
            theirs = json.loads(result[2].strip().replace("'", '"'))
            same = sorted(outcome["selected"]) == theirs
            print(f"swiecie-2023 equalshares/add1 pabutools, whole process: {result[0]:.2f} s")
            print(f"swiecie-2023 equalshares/add1 pabutools peak memory: {result[1]:.0f} MB")
            print(f"swiecie-2023 equalshares/add1 ratio (pabutools / pb): {result[0] / seconds:.1f} x")
            print(f"swiecie-2023 equalshares/add1 same funded set as pabutools: {'yes' if same else 'NO'}")

    seconds, peak, _ = pb_tally("krakow-2024", "greedy")
    print(f"krakow-2024 greedy pb tally, whole process: {seconds:.2f} s")
    print(f"krakow-2024 greedy pb tally peak memory: {peak:.0f} MB")

    result = run_measured([sys.executable, __file__, "--child", "generated"])
    generated = json.loads(result[2].strip().splitlines()[-1])
    print(f"generated 100000x100 equalshares pb count (in process): {generated['seconds']:.2f} s")
    print(f"generated 100000x100 equalshares pb peak memory: {generated['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
