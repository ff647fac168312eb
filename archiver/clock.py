"""UTC timestamps as archiver stores them: ISO 8601 text ending in Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["add_seconds", "utc_now"]

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    """Return the current UTC time, to the second, as ``2026-11-27T21:30:00Z``."""
    return datetime.now(UTC).strftime(_FORMAT)


def add_seconds(timestamp: str, seconds: float) -> str:
    """Return a stored timestamp moved ``seconds`` later."""
    moment = datetime.strptime(timestamp, _FORMAT).replace(tzinfo=UTC)
    return (moment + timedelta(seconds=seconds)).strftime(_FORMAT)
