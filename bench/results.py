"""Results pages for a contest of 100,000 ballots: how long they take to render.

    python bench/results.py [--ballots 100000] [--rule greedy]

Builds a fresh SQLite database with the demo, adds a round with one 30-project approval
contest and N ballots (bulk inserted), closes it (the count runs once, timed too) and
publishes it, then renders each results page 20 times in-process and prints the medians.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--rule", default="greedy")
    args = parser.parse_args()

    from sqlalchemy import insert
    from sqlmodel import select

    from pb import create_app, lifecycle
    from pb.accounts.models import Organisation, User
    from pb.db import session_scope
    from pb.demo import load_demo
    from pb.migrate import upgrade
    from pb.proposals.models import Project, Proposal
    from pb.rounds import services as rounds
    from pb.voting.models import Ballot, BallotChoice, Voter

    work = tempfile.mkdtemp(prefix="pb-bench-results-")
    url = f"sqlite:///{work}/pb.sqlite"
    upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnop",
            "INSTANCE_PATH": work,
            "SERVER_NAME": "bench",
        }
    )
    with app.app_context():
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            load_demo()
        with app.test_request_context(), session_scope() as session:
            lead = session.exec(select(User).where(User.email == "lead@riverside-nhs.example")).one()
            nhs = session.exec(select(Organisation).where(Organisation.name.startswith("Riverside and Eastgate"))).one()
            group = session.exec(select(Organisation).where(Organisation.kind == "group")).first()
            round_ = rounds.create_round(session, actor=lead, organisation=nhs, title="Big round", methods=["declared"])
            contest = rounds.add_contest(
                session,
                round_,
                actor=lead,
                name="Everyone",
                area_id=None,
                ballot_kind="approval",
                min_picks=1,
                max_picks=5,
                limit_to_budget=False,
                rank_depth=3,
                rule=args.rule,
            )
            rounds.pledge_pot(
                session, round_, actor=lead, organisation=nhs, contest=contest, name="Fund", amount=1_000_000_00
            )
            rng = random.Random(1)
            projects = []
            for n in range(30):
                proposal = Proposal(
                    round_id=round_.id,
                    contest_id=contest.id,
                    organisation_id=group.id,
                    created_by_user_id=lead.id,
                    title=f"Project number {n + 1}",
                    summary="A project.",
                    total_cost=rng.randint(10, 120) * 1000_00,
                    status="eligible",
                )
                session.add(proposal)
                session.flush()
                project = Project(
                    contest_id=contest.id,
                    proposal_id=proposal.id,
                    title=proposal.title,
                    cost=proposal.total_cost,
                    ballot_position=n + 1,
                )
                session.add(project)
                session.flush()
                projects.append(project.id)
            round_.phase = "voting"
            session.add(round_)
            session.flush()
            weights = [rng.random() ** 2 for _ in projects]
            voters = [
                {"round_id": round_.id, "area_id": None, "method": "declared", "identity": f"v{n}"}
                for n in range(args.ballots)
            ]
            session.exec(insert(Voter), params=voters)
            first_voter = session.exec(select(Voter.id).where(Voter.identity == "v0")).one()
            from pb.clock import now

            at = now()
            session.exec(
                insert(Ballot),
                params=[
                    {
                        "contest_id": contest.id,
                        "voter_id": first_voter + n,
                        "is_current": True,
                        "channel": "online",
                        "receipt": f"R{n:09d}",
                        "cast_at": at,
                    }
                    for n in range(args.ballots)
                ],
            )
            first_ballot = session.exec(select(Ballot.id).where(Ballot.receipt == "R000000000")).one()
            choices = []
            for n in range(args.ballots):
                for pid in set(rng.choices(projects, weights, k=rng.randint(1, 5))):
                    choices.append({"ballot_id": first_ballot + n, "project_id": pid, "rank": None})
            session.exec(insert(BallotChoice), params=choices)
            round_.voting_closes_at = now() + __import__("datetime").timedelta(days=1)
            round_id, contest_id = round_.id, contest.id
        with app.test_request_context(), session_scope() as session:
            round_ = session.get(rounds.Round, round_id)
            started = time.perf_counter()
            round_.voting_closes_at = now()  # time passes: the published closing time comes
            lifecycle.advance(session, round_.id)  # close and count
            counted = time.perf_counter() - started
            lifecycle.move_to_next_phase(
                session,
                round_,
                actor=session.exec(select(User).where(User.email == "lead@riverside-nhs.example")).one(),
            )
    print(f"ballots: {args.ballots} ballots")
    print(f"count at close ({args.rule}, whole contest incl. writing the ballot file): {counted:.2f} s")
    client = app.test_client()
    for name, path in [
        ("results page", f"/rounds/{round_id}/results"),
        ("contest results page", f"/rounds/{round_id}/results/{contest_id}"),
        ("results.json", f"/rounds/{round_id}/results/{contest_id}/results.json"),
    ]:
        times = []
        for _ in range(20):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{name} render median: {statistics.median(times) * 1000:.0f} ms")
        print(f"{name} render slowest of 20: {max(times) * 1000:.0f} ms")
    started = time.perf_counter()
    response = client.get("/healthz")
    print(f"baseline /healthz: {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
