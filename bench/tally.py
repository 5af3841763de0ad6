"""Benchmarks for the counting engine; prints one figure per line, with its unit.

    .venv/bin/python bench/tally.py            # pb and pabutools (10-minute limit per run)
    .venv/bin/python bench/tally.py --quick    # pb only

Figures: Warszawa 2023 Mokotów with equalshares/add1; the whole ``pb tally`` process on
Kraków 2024 (greedy); a generated 100,000-voter, 100-project approval election with
equalshares (counting time and peak memory). Each pb and pabutools run happens in its
own subprocess so that peak memory (ru_maxrss) belongs to that run alone.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pabulib"
MOKOTOW = DATA / "Poland_Warszawa_2023_Mokotow.pb"
KRAKOW = DATA / "Poland_Krakow_2024.pb"
PABUTOOLS_TIMEOUT = 600


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
    return make_election(budget=budget, projects=list(zip(ids, costs)), ballots=ballots, rule="equalshares")


# --- what each child process runs ------------------------------------------------------


def _child(task: str) -> dict:
    """Runs in a subprocess; returns seconds and peak memory of that process."""
    if task == "mokotow-pb":
        from pb.tally import count, read_pabulib

        election = read_pabulib(MOKOTOW)
        start = time.perf_counter()
        outcome = count(election, "equalshares/add1")
    elif task == "generated-pb":
        from pb.tally import count

        election = generated_election()
        start = time.perf_counter()
        outcome = count(election, "equalshares")
    elif task in ("mokotow-pabutools", "generated-pabutools"):
        from pabutools.election import Cost_Sat, parse_pabulib_from_string
        from pabutools.rules import method_of_equal_shares

        if task == "mokotow-pabutools":
            text = MOKOTOW.read_text(encoding="utf-8-sig")
            increment = 1
        else:
            from pb.tally import write_pabulib

            text = write_pabulib(generated_election())
            increment = None
        instance, profile = parse_pabulib_from_string(text)
        start = time.perf_counter()
        outcome = method_of_equal_shares(
            instance, profile.as_multiprofile(), sat_class=Cost_Sat, voter_budget_increment=increment
        )
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "selected": len(outcome)}
    elif task == "krakow-pabutools":
        from pabutools.election import Cost_Sat, CumulativeBallot, CumulativeProfile, parse_pabulib
        from pabutools.rules import greedy_utilitarian_welfare

        start = time.perf_counter()
        instance, profile = parse_pabulib(str(KRAKOW))
        # pabutools has no ordinal greedy: give it the ballots as 3-2-1 points, and a
        # satisfaction (points x cost) whose greedy order is by points.
        cumulative = CumulativeProfile(
            [CumulativeBallot({p: 3 - r for r, p in enumerate(b)}) for b in profile]
        )
        from pabutools.election import AdditiveSatisfaction

        class PointsTimesCost(AdditiveSatisfaction):
            def __init__(self, inst, prof, ballot):
                super().__init__(inst, prof, ballot, lambda i, p, b, proj, pre: b.get(proj, 0) * proj.cost)

        outcome = greedy_utilitarian_welfare(instance, cumulative, sat_class=PointsTimesCost)
        del Cost_Sat
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "selected": len(outcome)}
    else:
        raise SystemExit(f"unknown task {task}")
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "selected": len(outcome.selected)}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the parent ---------------------------------------------------------------------------


def run_child(task: str, timeout: float | None = None) -> dict | None:
    try:
        result = subprocess.run(
            [sys.executable, __file__, "--child", task],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0:
        raise SystemExit(f"{task} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def whole_process(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


def report(name: str, pb: dict | tuple, pabutools: dict | None, quick: bool, timed_out: bool) -> None:
    print(f"{name} pb: {pb['seconds']:.2f} s")
    print(f"{name} pb peak memory: {pb['peak_mb']:.0f} MB")
    if quick:
        return
    if pabutools is None:
        print(f"{name} pabutools: did not finish within {PABUTOOLS_TIMEOUT} s" if timed_out else f"{name} pabutools: n/a")
        return
    print(f"{name} pabutools: {pabutools['seconds']:.2f} s")
    print(f"{name} pabutools peak memory: {pabutools['peak_mb']:.0f} MB")
    print(f"{name} speed-up (pabutools / pb): {pabutools['seconds'] / pb['seconds']:.1f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the pabutools runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_child(args.child)))
        return
    if not DATA.is_dir():
        raise SystemExit(f"Pabulib data not found at {DATA}")

    pb = run_child("mokotow-pb")
    pabu = None if args.quick else run_child("mokotow-pabutools", PABUTOOLS_TIMEOUT)
    report("mokotow equalshares/add1", pb, pabu, args.quick, timed_out=pabu is None)

    seconds, peak = whole_process(["-m", "pb.tally.cli", "tally", str(KRAKOW), "--format", "json"])
    krakow = {"seconds": seconds, "peak_mb": peak}
    print(f"krakow-2024 greedy pb tally (whole process): {seconds:.2f} s")
    print(f"krakow-2024 greedy pb tally peak memory: {peak:.0f} MB")
    if not args.quick:
        pabu = run_child("krakow-pabutools", PABUTOOLS_TIMEOUT)
        if pabu is None:
            print(f"krakow-2024 greedy pabutools: did not finish within {PABUTOOLS_TIMEOUT} s")
        else:
            print(f"krakow-2024 greedy pabutools (parse + count): {pabu['seconds']:.2f} s")
            print(f"krakow-2024 greedy pabutools peak memory: {pabu['peak_mb']:.0f} MB")
            print(f"krakow-2024 greedy speed-up (pabutools / pb): {pabu['seconds'] / krakow['seconds']:.1f} x")

    pb = run_child("generated-pb")
    pabu = None if args.quick else run_child("generated-pabutools", PABUTOOLS_TIMEOUT)
    report("generated 100000x100 equalshares", pb, pabu, args.quick, timed_out=pabu is None)


if __name__ == "__main__":
    main()
