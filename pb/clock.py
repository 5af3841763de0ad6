"""The one source of 'now' for stored timestamps: naive UTC, to the microsecond."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
