"""The one source of 'now' for stored timestamps: timezone-aware UTC."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def today() -> datetime:
    """Midnight UTC of the current day: for rows about voting, whose exact time could
    link a resident to a ballot (the day is all they keep)."""
    return now().replace(hour=0, minute=0, second=0, microsecond=0)
