"""Does the time an answer takes tell anything? Pages that mail someone must answer as fast
whether or not the address is known, or a script timing them learns who has an account
and who voted.

    python bench/timing.py [--requests 40]

Builds a fresh SQLite database in a temporary instance folder (`pb db upgrade`), makes
accounts and a published round whose residents voted by email (through the service layer,
as tests/factories.py does), then asks each page in turn, alternating a known and an
unknown address, from a new client address each time (so no rate limit is reached), in
this process through Flask's test client (the server's own work, no network). Mail goes to
the in-memory outbox, after the answer, as with any SMTP server.

  reset        POST /reset-password                 an account's address / no account's
  sign-up      POST /sign-up                        an account's address / a free one
  verdict      POST /rounds/<id>/residents/email     an address that voted / one that did not

Prints, for each page, the median time for each kind of address in milliseconds, and their
ratio (known / unknown; 1.00 means the time tells nothing). Exits 1 if a ratio is outside
0.8-1.25.
"""

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"
COUNCIL = "lead@council.example"
MEMBER = "member@group.example"


def build(instance: str, count: int):
    url = f"sqlite:///{instance}/pb.sqlite"
    env = {**os.environ, "PB_DATABASE_URL": url, "PB_INSTANCE_PATH": instance}
    subprocess.run([str(BIN / "pb"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)

    from sqlmodel import select

    from pb import create_app, lifecycle
    from pb.accounts import services as accounts
    from pb.db import session_scope
    from pb.proposals.models import Project
    from pb.rounds.models import Contest, Round
    from pb.voting import services as voting
    from tests.factories import let_voting_close, make_round, open_voting, user

    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": instance,
            "TRUSTED_HOSTS": ["localhost"],
            "BASE_URL": "http://localhost",
            "SESSION_COOKIE_SECURE": False,
        }
    )

    def db(write=True):
        return session_scope(app.extensions["pb_engine"], write=write)

    with app.test_request_context(), db() as session:
        for email, kind, name in ((COUNCIL, "anchor", "Eastshire Council"), (MEMBER, "group", "Friends of the Park")):
            person = accounts.create_user(session, email=email, name="Someone", password=PASSWORD)
            org = accounts.create_organisation(
                session,
                actor=person,
                name=name,
                kind=kind,
                subtype="local_authority" if kind == "anchor" else "charity",
            )
            accounts.add_member(session, actor=person, organisation=org, user=person)
        for n in range(count):
            accounts.create_user(session, email=f"known-{n}@example.org", name=f"Known {n}", password=PASSWORD)
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council", methods=("codes", "email"))
    open_voting(app, db, ids, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        contest = session.get(Contest, ids["contests"]["North"])
        project = session.exec(select(Project).where(Project.contest_id == contest.id)).first()
        for n in range(count):
            challenge, code = voting.start_email_challenge(
                session, round_, email=f"voted-{n}@example.org", postcode="LS6 1AA", client=f"10.9.{n // 250}.{n % 250}"
            )
            voter = voting.voter_by_email_code(session, round_, challenge.id, code, client="bench")
            voting.cast_ballot(session, voter, contest, {project.id: None})
        let_voting_close(session, round_)
        lifecycle.move_to_next_phase(session, round_, actor=user(session, COUNCIL))  # publish
    return app, ids["round"]


def timed(app, page: str, url: str, data: dict, client_number: int) -> float:
    """Seconds to answer one POST from a new browser at a new client address."""
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = (
        f"10.{client_number // 62500 % 250}.{client_number // 250 % 250}.{client_number % 250 + 1}"
    )
    form = http.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    start = time.perf_counter()
    answer = http.post(url, data={**data, "csrf_token": token})
    took = time.perf_counter() - start
    assert answer.status_code == 302, (url, answer.status_code, answer.get_data(as_text=True)[:400])
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per page and kind of address")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pb-timing-") as instance:
        app, round_id = build(instance, args.requests)
        pages = [
            (
                "reset",
                "/reset-password",
                "/reset-password",
                lambda n, known: {"email": f"{'known' if known else 'nobody'}-{n}@example.org"},
            ),
            (
                "sign-up",
                "/sign-up",
                "/sign-up",
                lambda n, known: {"name": "Sam", "email": f"{'known' if known else 'free'}-{n}@example.org"},
            ),
            (
                "verdict",
                f"/rounds/{round_id}/residents",
                f"/rounds/{round_id}/residents/email",
                lambda n, known: {"email": f"{'voted' if known else 'never'}-{n}@example.org"},
            ),
        ]
        clients, failed = iter(range(1, 10**6)), False
        for name, page, url, data in pages:
            times = {True: [], False: []}
            timed(app, page, url, data(0, True), next(clients))  # warm up: templates, connections
            order = [(n, known) for n in range(1, args.requests) for known in (True, False)]
            random.Random(7).shuffle(order)
            for n, known in order:
                times[known].append(timed(app, page, url, data(n, known), next(clients)))
            known, unknown = statistics.median(times[True]) * 1000, statistics.median(times[False]) * 1000
            ratio = known / unknown
            label = {
                "reset": ("an account's address", "no account's address"),
                "sign-up": ("an account's address", "a free address"),
                "verdict": ("an address that voted", "an address that did not"),
            }[name]
            print(f"{name}, {label[0]}: {known:.1f} ms (median of {len(times[True])})")
            print(f"{name}, {label[1]}: {unknown:.1f} ms (median of {len(times[False])})")
            print(f"{name}, known / unknown: {ratio:.2f}")
            failed |= not 0.8 <= ratio <= 1.25
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
