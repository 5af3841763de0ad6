"""Casting throughput under load: gunicorn (2 workers) on loopback, many concurrent voters.

    python bench/cast.py [--db sqlite|postgresql|both] [--seconds 10] [--connections 32]

For each database: a fresh database with an open round, gunicorn with 2 workers, then
`wrk` (Debian package wrk) first against a bare endpoint (/healthz, the baseline) and
then casting ballots (each POST is a complete, confirmed cast that supersedes the voter's
previous ballot). Prints one figure per line, and afterwards checks that every ballot
acknowledged with a receipt is in the database.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789abcdefghijklmnop"  # long enough for pb.config
WORKER_ARGS = os.environ.get("PB_BENCH_WORKER_ARGS", "-k sync").split()
LUA = r"""
local voters = {}
local receipts_file = nil
local counter = 0
%(voters)s
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  receipts_file = io.open("%(receipts)s." .. id, "w")
end
request = function()
  local v = voters[math.random(#voters)]
  return wrk.format("POST", "%(path)s", {["Cookie"] = v[1], ["Content-Type"] = "application/x-www-form-urlencoded"}, v[2])
end
response = function(status, headers, body)
  if status == 302 then
    local location = headers["Location"] or ""
    receipts_file:write(location:match("receipt/([%%w%%-]+)") or "?", "\n")
  end
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url, instance):
    """A fresh database with the demo, and its Riverside ballot open to declared identities."""
    from pb import create_app
    from pb.db import session_scope
    from pb.demo import load_demo
    from pb.migrate import upgrade

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance, "SERVER_NAME": "bench"})
    with app.app_context():
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            load_demo()
        from sqlmodel import select

        from pb.accounts.models import User
        from pb.lifecycle import move_to_next_phase
        from pb.proposals.models import Project
        from pb.rounds.models import Contest, Round

        with app.test_request_context(), session_scope() as session:
            round_ = session.exec(select(Round).where(Round.title == "Healthy Neighbourhoods 2027")).one()
            round_.eligibility_methods = "declared"
            lead = session.exec(select(User).where(User.email == "lead@riverside-nhs.example")).one()
            move_to_next_phase(session, round_, actor=lead)
            move_to_next_phase(session, round_, actor=lead)
            assert round_.phase == "voting", round_.phase
            contest = session.exec(select(Contest).where(Contest.name == "Riverside projects")).one()
            projects = [p.id for p in session.exec(select(Project).where(Project.contest_id == contest.id))]
            ids = (round_.id, contest.id, projects)
    app.extensions["pb_engine"].dispose()
    return ids


class Session:
    """A voter's browser: keeps the cookie."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method, path, body=None):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read().decode()
        for cookie in response.msg.get_all("Set-Cookie") or []:
            if cookie.startswith("session="):
                self.cookie = cookie.split(";", 1)[0]
        return response.status, data


def make_voters(port, round_id, count):
    voters = []
    for n in range(count):
        browser = Session(port)
        _status, page = browser.request("GET", f"/rounds/{round_id}/vote")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {
                "csrf_token": token,
                "name": f"Bench Voter {n}",
                "address": f"{n} Bench Road",
                "postcode": f"RV1 {n % 10}AB",
                "declaration": "y",
            }
        )
        status, _page = browser.request("POST", f"/rounds/{round_id}/vote/declare", body)
        assert status == 302, status
        voters.append((browser.cookie, token))
        browser.conn.close()
    return voters


def wrk(url, seconds, connections, script=None):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)

    def ms(label):
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rate": total / elapsed,
        "total": total,
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
        "p50": ms(50),
        "p99": ms(99),
    }


def start_postgres():
    from tests.postgres import start_server

    server = start_server()
    from sqlalchemy import create_engine, text

    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE pb_bench"))
    admin.dispose()
    return server, server.url("pb_bench")


def run(db, seconds, connections, voter_count):
    work = tempfile.mkdtemp(prefix="pb-bench-")
    server = None
    if db == "sqlite":
        url = f"sqlite:///{work}/pb.sqlite"
    else:
        server, url = start_postgres()
    round_id, contest_id, projects = seed(url, work)
    port = free_port()
    env = {
        **os.environ,
        "PB_DATABASE_URL": url,
        "PB_SECRET_KEY": SECRET,
        "PB_INSTANCE_PATH": work,
        "PB_SESSION_COOKIE_SECURE": "false",
        "PB_DECLARATIONS_PER_HOUR": "1000000",
    }  # every voter from 127.0.0.1
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            *WORKER_ARGS,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
        voters = make_voters(port, round_id, voter_count)
        base = wrk(f"http://127.0.0.1:{port}/healthz", seconds, connections)

        receipts = os.path.join(work, "receipts")
        lines = []
        for cookie, token in voters:
            picks = "&".join(f"project={p}" for p in projects[: 1 + len(lines) % 3])
            body = f"csrf_token={urllib.parse.quote(token)}&{picks}&confirm=1"
            lines.append(f'voters[#voters + 1] = {{"{cookie}", "{body}"}}')
        script = os.path.join(work, "cast.lua")
        path = f"/rounds/{round_id}/vote/{contest_id}"
        Path(script).write_text(LUA % {"voters": "\n".join(lines), "receipts": receipts, "path": path})
        cast = wrk(f"http://127.0.0.1:{port}{path}", seconds, connections, script)
        time.sleep(1)  # let requests in flight when wrk stopped finish
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    acknowledged = set()
    for name in os.listdir(work):
        if name.startswith("receipts."):
            with open(os.path.join(work, name)) as receipts:
                acknowledged |= {line.strip() for line in receipts if line.strip()}
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(text("SELECT receipt FROM ballot"))}
        current = conn.execute(text("SELECT count(*) FROM ballot WHERE is_current")).scalar()
        per_voter = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT voter_id, contest_id FROM ballot WHERE is_current GROUP BY voter_id, contest_id HAVING count(*) > 1) x"
            )
        ).scalar()
    engine.dispose()
    if server:
        server.stop()
    shutil.rmtree(work, ignore_errors=True)

    print(f"{db} baseline /healthz: {base['rate']:.0f} requests/s")
    print(f"{db} baseline /healthz p50 latency: {base['p50']:.1f} ms")
    print(f"{db} baseline /healthz p99 latency: {base['p99']:.1f} ms")
    print(f"{db} cast rate: {cast['rate']:.0f} ballots/s")
    print(f"{db} cast p50 latency: {cast['p50']:.1f} ms")
    print(f"{db} cast p99 latency: {cast['p99']:.1f} ms")
    print(f"{db} cast errors: {cast['bad'] + cast['socket_errors']} responses")
    print(f"{db} cast rate / baseline rate: {cast['rate'] / base['rate']:.3f}")
    print(f"{db} acknowledged ballots: {len(acknowledged)}")
    print(f"{db} acknowledged ballots missing from the database: {len(acknowledged - stored)}")
    print(f"{db} ballots stored but not acknowledged (in flight at stop): {len(stored - acknowledged)}")
    print(f"{db} voters with more than one current ballot: {per_voter} (current ballots: {current})")
    return len(acknowledged - stored) == 0 and per_voter == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--voters", type=int, default=400)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/cast.py needs wrk (Debian: apt-get install wrk)")
    ok = True
    for db in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        ok &= run(db, args.seconds, args.connections, args.voters)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
