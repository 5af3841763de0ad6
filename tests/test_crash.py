"""Crashes under load: residents keep casting through gunicorn (2 sync workers) while its
workers, and the whole server, are killed with SIGKILL at random moments and restarted.

Every ballot whose receipt reached a resident must be in the database, each resident
has at most one current ballot (their last acknowledged one, or a later cast whose
answer was lost in a crash), no ballot is half-written, and the count after closing
counts exactly one ballot per resident who has a current one.

PB_CRASH_SECONDS sets how long the load runs (default 20) and PB_CRASH_SEED the random
moments of the kills (printed, so a failing run can be repeated).
"""

import os
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func
from sqlmodel import select

from pb.proposals.models import Project
from pb.results.models import ContestResult
from pb.rounds.models import Phase, Round
from pb.voting.models import Ballot, BallotChoice, Voter
from tests.factories import let_voting_close, make_codes, make_round, open_voting
from tests.servers import SECRET, Browser, Gunicorn, Unanswered, cast, prove_with_code

pytestmark = pytest.mark.slow

LEAD = "lead@council.example"
VOTERS = 60
SECONDS = float(os.environ.get("PB_CRASH_SECONDS", "20"))
WORKER_KILLS = 4
SERVER_KILLS = 2


@pytest.fixture
def voting_round(app, db, make_user):
    """A round in voting whose North ballot paper (approval, 1 to 3 of 3 projects) has
    VOTERS voting codes."""
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    ids["codes"] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=VOTERS)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member="chair@park.example", group="Friends of the Park")
    with db(write=False) as session:
        ids["projects"] = list(
            session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id))
        )
    return ids


@pytest.fixture
def server(database_url, tmp_path):
    gunicorn = Gunicorn(
        database_url=database_url, instance_path=str(tmp_path / "served"), log_path=str(tmp_path / "gunicorn.log")
    )
    try:
        yield gunicorn
    finally:
        gunicorn.stop()


@dataclass
class Resident:
    """One resident's phone, and what it saw."""

    code: str
    browser: Browser
    token: str = ""
    acknowledged: list = field(default_factory=list)  # (receipt, projects sent, monotonic time of the answer)
    lost: int = 0  # casts sent whose answer never came (a crash): each may or may not have been stored
    timed_out: int = 0  # of those, how many waited the client's whole timeout (a server that hung, not died)
    refused: int = 0  # connections refused (the server was down): nothing was sent
    unexpected: list = field(default_factory=list)  # (status, location, start of the page)
    crashed: list = field(default_factory=list)  # exceptions of the client itself


def _keep_casting(resident: Resident, ids: dict, stop: threading.Event, seed: int) -> None:
    try:
        _cast_until_stopped(resident, ids, stop, random.Random(seed))
    except Exception as error:  # noqa: BLE001 (reported by the test)
        resident.crashed.append(repr(error))


def _cast_until_stopped(resident: Resident, ids: dict, stop: threading.Event, rng: random.Random) -> None:
    projects = ids["projects"]
    while not stop.is_set():
        picks = sorted(rng.sample(projects, rng.randint(1, len(projects))))
        try:
            response, receipt = cast(resident.browser, ids["round"], ids["contests"]["North"], picks, resident.token)
        except Unanswered as error:
            if error.sent:
                resident.lost += 1
                resident.timed_out += isinstance(error.cause, TimeoutError)
            else:
                resident.refused += 1
                stop.wait(0.05)
            continue  # a retry is a new cast
        if receipt:
            resident.acknowledged.append((receipt, picks, time.monotonic()))
        else:
            resident.unexpected.append((response.status, response.location, response.body[:500]))
            stop.wait(0.05)


def _chaos(
    server: Gunicorn, rng: random.Random, start: float, seconds: float, stop: threading.Event, log: list
) -> None:
    """Kill a worker WORKER_KILLS times and the whole server SERVER_KILLS times (then start
    it again), each at a random moment of its own slice of the run."""
    try:
        _kill_at_random(server, rng, start, seconds, stop, log)
    except Exception as error:  # noqa: BLE001 (reported by the test)
        log.append(("error", time.monotonic() - start, repr(error), 0.0))


def _kill_at_random(
    server: Gunicorn, rng: random.Random, start: float, seconds: float, stop: threading.Event, log: list
) -> None:
    kinds = ["worker"] * WORKER_KILLS + ["server"] * SERVER_KILLS
    rng.shuffle(kinds)
    slot = (seconds - 2) / len(kinds)
    for n, kind in enumerate(kinds):
        at = start + 1 + n * slot + rng.uniform(0.1, 0.8) * slot
        if stop.wait(max(0.0, at - time.monotonic())):
            return
        moment = time.monotonic() - start
        if kind == "worker":
            pid = server.kill_worker(rng)
            if pid is not None:
                log.append(("worker", moment, pid, 0.0))
        else:
            before = time.monotonic()
            server.restart()
            log.append(("server", moment, server.pid, time.monotonic() - before))


def _session_reader():
    """Reads the session cookies the servers signed (with their key)."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    reader = Flask("pb-session-reader")
    reader.secret_key = SECRET
    return SecureCookieSessionInterface().get_signing_serializer(reader)


def _session_voter_id(reader, browser: Browser, db) -> int | None:
    """The voter a browser votes as: its cookie holds only a random reference to the
    voting held on the server, which the database resolves."""
    import hashlib

    from pb.voting.models import VotingSession

    token = reader.loads(browser.cookies["session"]).get("voting")
    if not token:
        return None
    with db(write=False) as session:
        row = session.exec(
            select(VotingSession).where(VotingSession.token_hash == hashlib.sha256(token.encode()).hexdigest())
        ).first()
    return row.voter_id if row else None


def test_casting_survives_killed_workers_and_servers(app, db, database_url, voting_round, server):
    ids = voting_round
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    seed = int(os.environ.get("PB_CRASH_SEED", random.randrange(1 << 30)))
    began = time.monotonic()
    server.start()

    # Every resident proves eligibility once (before any crash: a proof lost in a
    # crash would spend the code), then casts again and again.
    residents = [Resident(code, Browser(server.port)) for code in ids["codes"]]
    for resident in residents:
        resident.token = prove_with_code(resident.browser, ids["round"], resident.code)

    stop = threading.Event()
    chaos_stop = threading.Event()
    kills: list = []
    clients = [
        threading.Thread(target=_keep_casting, args=(r, ids, stop, seed + n), daemon=True)
        for n, r in enumerate(residents)
    ]
    start = time.monotonic()
    for thread in clients:
        thread.start()
    chaos = threading.Thread(
        target=_chaos, args=(server, random.Random(seed), start, SECONDS, chaos_stop, kills), daemon=True
    )
    chaos.start()
    try:
        chaos_stop.wait(SECONDS)
    finally:
        chaos_stop.set()
        chaos.join(timeout=120)
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    load_seconds = time.monotonic() - start
    server.stop()
    assert not chaos.is_alive(), "clients or chaos did not stop"
    assert not any(t.is_alive() for t in clients), "clients or chaos did not stop"

    # ------------------------------------------------------------ what the database holds
    contest_id = ids["contests"]["North"]
    problems: list[str] = []
    with db(write=False) as session:
        ballots = {b.receipt: b for b in session.exec(select(Ballot))}
        choices: dict[int, set] = {}
        for choice in session.exec(select(BallotChoice)):
            choices.setdefault(choice.ballot_id, set()).add(choice.project_id)
        ballot_ids = {b.id for b in ballots.values()}
        round_voters = session.exec(select(func.count()).select_from(Voter).where(Voter.round_id == ids["round"])).one()

    acknowledged = [a for r in residents for a in r.acknowledged]
    lost = [receipt for receipt, _picks, _at in acknowledged if receipt not in ballots]
    if lost:
        problems.append(f"acknowledged ballots missing from the database: {lost[:20]}")
    for receipt, picks, _at in acknowledged:
        stored = ballots.get(receipt)
        if stored is not None and choices.get(stored.id, set()) != set(picks):
            problems.append(f"ballot {receipt} holds {sorted(choices.get(stored.id, set()))}, was cast with {picks}")
    half_written = [b.receipt for b in ballots.values() if b.id not in choices]
    if half_written:
        problems.append(f"ballots without choices (half-written): {half_written[:20]}")
    orphans = sorted(set(choices) - ballot_ids)
    if orphans:
        problems.append(f"choices whose ballot does not exist: ballot ids {orphans[:20]}")
    if round_voters != VOTERS:
        problems.append(f"{round_voters} voters in the round, {VOTERS} residents proved eligibility")

    with_current = 0
    reader = _session_reader()
    for n, resident in enumerate(residents):
        voter_id = _session_voter_id(reader, resident.browser, db)
        mine = sorted((b for b in ballots.values() if b.voter_id == voter_id), key=lambda b: b.id)
        current = [b for b in mine if b.is_current]
        if any(b.contest_id != contest_id for b in mine):
            problems.append(f"resident {n}: a ballot on another ballot paper")
        strangers = [rc for rc, _p, _t in resident.acknowledged if rc in ballots and ballots[rc].voter_id != voter_id]
        if strangers:
            problems.append(f"resident {n}: acknowledged receipts stored for another voter: {strangers[:5]}")
        # One resident casts one ballot at a time: their receipts came back in the order stored.
        order = [ballots[rc].id for rc, _p, _t in resident.acknowledged if rc in ballots]
        if order != sorted(order):
            problems.append(f"resident {n}: acknowledged receipts out of the order they were stored in")
        if len(current) > 1:
            problems.append(
                f"resident {n} (voter {voter_id}): {len(current)} current ballots {[b.receipt for b in current]}"
            )
        if resident.acknowledged and not current:
            problems.append(
                f"resident {n} (voter {voter_id}): no current ballot after {len(resident.acknowledged)} acknowledged"
            )
        if resident.acknowledged and len(current) == 1 and resident.acknowledged[-1][0] in ballots:
            last = ballots[resident.acknowledged[-1][0]]
            earlier = {rc for rc, _p, _t in resident.acknowledged[:-1]}
            now_current = current[0]
            if now_current.id != last.id and (
                now_current.receipt in earlier or now_current.id < last.id or now_current.cast_at < last.cast_at
            ):
                problems.append(
                    f"resident {n} (voter {voter_id}): current ballot {now_current.receipt} is older than "
                    f"the last acknowledged {last.receipt}"
                )
        with_current += len(current) == 1

    # ------------------------------------------------------------ close and count
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        let_voting_close(session, round_)
        phase = round_.phase
    with db(write=False) as session:
        results = {r.contest_id: r.ballots for r in session.exec(select(ContestResult))}
    if phase != Phase.COUNTED.value:
        problems.append(f"closing left the round in phase {phase}")
    if results.get(contest_id) != with_current or sum(results.values()) != with_current:
        problems.append(f"the count has {results} ballots per contest, {with_current} voters have a current ballot")

    crashed = [c for r in residents for c in r.crashed] + [k[2] for k in kills if k[0] == "error"]
    if crashed:
        problems.append(f"the clients or the chaos failed: {crashed[:5]}")
    unexpected = [u for r in residents for u in r.unexpected]
    server_errors = [u for u in unexpected if u[0] >= 500]
    if unexpected:
        problems.append(
            f"{len(unexpected)} casts answered without a receipt ({len(server_errors)} server errors); "
            f"first: {unexpected[0][0]} {unexpected[0][1]} {unexpected[0][2][:300]!r}"
        )
    if "Traceback" in server.log_text():
        problems.append("gunicorn's log has a traceback:\n" + server.log_tail(3000))

    worker_kills = sum(1 for k in kills if k[0] == "worker")
    restarts = [k for k in kills if k[0] == "server"]
    report = (
        f"crash test [{backend}], seed {seed}: {len(acknowledged)} ballots cast and acknowledged under load in "
        f"{load_seconds:.1f} s ({len(acknowledged) / load_seconds:.0f}/s; {len(ballots)} stored, "
        f"{len(ballots) - len(acknowledged) + len(lost)} of them cast but never acknowledged), "
        f"{worker_kills} workers killed, {len(restarts)} server restarts "
        f"(back in {', '.join(f'{k[3]:.1f}' for k in restarts) or '-'} s), "
        f"{sum(r.lost for r in residents)} answers lost in crashes ({sum(r.timed_out for r in residents)} timed out), "
        f"{sum(r.refused for r in residents)} connections refused, "
        f"{len(lost)} acknowledged ballots lost, {len(server_errors)} server errors, "
        f"{with_current}/{VOTERS} residents with a current ballot, counted {results.get(contest_id)}; "
        f"whole test {time.monotonic() - began:.1f} s; kills at " + ", ".join(f"{k[0]}@{k[1]:.1f}s" for k in kills)
    )
    print("\n" + report)
    assert worker_kills >= 1, f"the chaos did not happen as planned: {kills}\n{report}"
    assert restarts, f"the chaos did not happen as planned: {kills}\n{report}"
    assert not problems, report + "\n" + "\n".join(problems)
