"""Rate-limit records name nobody and do not outlive their window (issue 17, in part)."""

import re
from datetime import timedelta

from sqlmodel import select

from pb.clock import now
from pb.throttle import ThrottleAttempt
from tests.conftest import FormClient


def test_rate_limit_rows_keep_keyed_hashes_only_and_are_purged_after_their_window(app, db, make_user):
    make_user("lee@example.org")
    client = FormClient(app)
    client.submit("/sign-in", {"email": "lee@example.org", "password": "wrong password!"})
    with db() as session:
        rows = session.exec(select(ThrottleAttempt)).all()
        assert len(rows) == 2  # one for the address, one for the client
        for row in rows:
            assert re.fullmatch(r"[0-9a-f]{64}", row.key), row.key
            assert "lee@example.org" not in row.key and "127.0.0.1" not in row.key
        stale = ThrottleAttempt(key="0" * 64, at=now() - timedelta(hours=2))
        session.add(stale)
    client.submit("/sign-in", {"email": "lee@example.org", "password": "wrong again!!"})
    with db() as session:
        keys = [row.key for row in session.exec(select(ThrottleAttempt))]
    assert "0" * 64 not in keys and len(keys) == 4
