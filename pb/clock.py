"""The one source of 'now' for stored timestamps: timezone-aware UTC."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
