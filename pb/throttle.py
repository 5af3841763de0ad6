"""Rate limits for anything guessable (passwords, reset links, later voting codes).

Attempts are rows in the database, so every worker process sees the same counts.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Field, Session, SQLModel, select

from pb.clock import now


class ThrottleAttempt(SQLModel, table=True):
    __tablename__ = "throttle_attempt"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, index=True)
    at: datetime = Field(default_factory=now, index=True)


def is_limited(session: Session, key: str, *, limit: int, window_seconds: int) -> bool:
    since = now() - timedelta(seconds=window_seconds)
    count = session.exec(
        select(func.count()).select_from(ThrottleAttempt).where(ThrottleAttempt.key == key, ThrottleAttempt.at > since)
    ).one()
    return count >= limit


def note_attempt(session: Session, key: str) -> None:
    session.add(ThrottleAttempt(key=key))
    session.flush()


def forget_attempts(session: Session, key: str) -> None:
    session.exec(delete(ThrottleAttempt).where(ThrottleAttempt.key == key))
