"""Rate limits for anything guessable (passwords, reset links, voting codes, receipts).

Where attempts are counted is a setting, RATE_LIMIT_STORAGE:
- "database" (the default): rows in the database, so every worker process and every app
  server sees the same counts; refused attempts are committed with the request.
- "memory": in this process only, for a single-process development server or tests.

What is counted is named by a key such as "sign-in:ip:192.0.2.1"; the database keeps only
a keyed hash of it (HMAC under the secret key), never an address or an IP. Rows older
than the longest window any limit uses are deleted whenever an attempt is noted and at
each pass of `pb worker` (purge_expired). Keys do not name a round, so publishing any
round's results deletes every row (forget_attempts_before): none then tells when, or from
where, a resident asked for a code to vote; every limit starts counting afresh.
"""

import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func
from sqlmodel import Field, Session, SQLModel, col, select

from pb.clock import now

STORAGES = ("database", "memory")


def _longest_window() -> timedelta:
    """No limit counts further back than this (an hour, or the sign-in window if longer)."""
    return max(timedelta(hours=1), timedelta(seconds=current_app.config.get("SIGN_IN_WINDOW", 0)))


def _stored(key: str) -> str:
    """The key as kept in the database: a keyed hash, so the rows name nobody."""
    import hashlib
    import hmac

    return hmac.new(current_app.config["SECRET_KEY"].encode(), f"throttle:{key}".encode(), hashlib.sha256).hexdigest()


class ThrottleAttempt(SQLModel, table=True):
    __tablename__ = "throttle_attempt"

    id: int = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, index=True)
    at: datetime = Field(default_factory=now, index=True)


class MemoryAttempts:
    """Attempts kept in this process (RATE_LIMIT_STORAGE = "memory")."""

    def __init__(self):
        self._lock = threading.Lock()
        self._attempts: dict[str, deque] = defaultdict(deque)

    def count_since(self, key: str, since: datetime) -> int:
        with self._lock:
            times = self._attempts.get(key, ())
            return sum(1 for at in times if at > since)

    def note(self, key: str, at: datetime) -> None:
        with self._lock:
            times = self._attempts[key]
            times.append(at)
            while len(times) > 1000:  # the oldest are long past any window
                times.popleft()

    def last(self, key: str) -> datetime | None:
        with self._lock:
            times = self._attempts.get(key)
            return times[-1] if times else None

    def forget(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)


def client_address() -> str:
    """The address rate limits count by (the client's own, behind PB_PROXIES proxies). An
    IPv6 client counts by its /64, which one household or device is given whole; an IPv4
    client seen through IPv6 (::ffff:192.0.2.1, from a server listening on [::]) by its own
    IPv4 address, not as one of a single /64 shared by every IPv4 client."""
    import ipaddress

    from flask import request

    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        try:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        except ValueError:  # a scoped address (fe80::1%eth0)
            return address
    return address


def mailbox(email: str) -> str:
    """The inbox an address reaches, for limits on mail sent to it: case and compatibility
    forms folded, a +tag dropped, and Gmail's dots ignored, so that victim+1@gmail.com,
    vic.tim+2@gmail.com and Victim@googlemail.com count as the one inbox they are."""
    import unicodedata

    local, _, domain = unicodedata.normalize("NFKC", email.strip()).casefold().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def serialise(session: Session, key: str) -> None:
    """Make concurrent requests counting under `key` wait for one another until the
    transaction ends, so that a burst cannot all read the count before any adds to it.
    PostgreSQL: an advisory lock on the key. SQLite: note the attempt before counting
    (pb.throttle.note_attempt writes, which takes the database's write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.connection().execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _stored(key)})


def _memory() -> MemoryAttempts | None:
    storage = current_app.config.get("RATE_LIMIT_STORAGE", "database")
    if storage not in STORAGES:
        raise RuntimeError(f"RATE_LIMIT_STORAGE must be one of {STORAGES}, not {storage!r}")
    if storage == "database":
        return None
    return current_app.extensions.setdefault("pb_throttle_memory", MemoryAttempts())


def is_limited(session: Session, key: str, *, limit: int, window_seconds: int) -> bool:
    since = now() - timedelta(seconds=window_seconds)
    memory = _memory()
    if memory is not None:
        return memory.count_since(key, since) >= limit
    count = session.exec(
        select(func.count())
        .select_from(ThrottleAttempt)
        .where(ThrottleAttempt.key == _stored(key), ThrottleAttempt.at > since)
    ).one()
    return count >= limit


def reached(session: Session, key: str, *, limit: int, window_seconds: int) -> bool:
    """Whether `limit` attempts were counted under `key` in the last `window_seconds`, read
    once concurrent requests under the same key have ended their transactions (serialise):
    an attempt is checked and counted as one step, and a burst cannot all be checked
    before any is counted."""
    serialise(session, key)
    return is_limited(session, key, limit=limit, window_seconds=window_seconds)


def last_attempt(session: Session, key: str) -> datetime | None:
    """When the latest attempt under `key` was noted, or None."""
    memory = _memory()
    if memory is not None:
        return memory.last(key)
    return session.exec(select(func.max(ThrottleAttempt.at)).where(ThrottleAttempt.key == _stored(key))).one()


def note_attempt(session: Session, key: str) -> None:
    memory = _memory()
    if memory is not None:
        memory.note(key, now())
        return
    purge_expired(session)
    session.add(ThrottleAttempt(key=_stored(key)))
    session.flush()


def purge_expired(session: Session) -> int:
    """Delete the attempts past every window. Returns how many."""
    return forget_attempts_before(session, now() - _longest_window())


def forget_attempts_before(session: Session, at: datetime) -> int:
    """Delete every attempt noted before `at`, whatever it counted. Returns how many."""
    return session.exec(delete(ThrottleAttempt).where(col(ThrottleAttempt.at) < at)).rowcount


def forget_attempts(session: Session, key: str) -> None:
    memory = _memory()
    if memory is not None:
        memory.forget(key)
        return
    session.exec(delete(ThrottleAttempt).where(col(ThrottleAttempt.key) == _stored(key)))


def may_mail(session: Session, purpose: str, email: str, *, per_inbox: int = 3, per_client: int = 10) -> bool:
    """Whether to send a message a visitor asks for (`purpose` names what counts together):
    at most `per_inbox` an hour to one inbox (no flooding it, by any spelling of its
    address) and `per_client` an hour from one client (no mailing address after address).
    An allowed request is counted; a burst cannot all count before any is counted."""
    keys = [(f"{purpose}:email:{mailbox(email)}", per_inbox), (f"{purpose}:ip:{client_address()}", per_client)]
    for key, _limit in keys:
        serialise(session, key)
    if any(is_limited(session, key, limit=limit, window_seconds=3600) for key, limit in keys):
        return False
    for key, _limit in keys:
        note_attempt(session, key)
    return True
