"""UTC timestamps as archiver stores them: ISO 8601 text ending in Z."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

__all__ = ["add_seconds", "format_utc", "parse_http_date", "utc_now"]

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> str:
    """Return the current UTC time, to the second, as ``2026-11-27T21:30:00Z``."""
    return format_utc(datetime.now(UTC))


def format_utc(moment: datetime) -> str:
    """Return an aware datetime as archiver stores times: ``2026-11-27T21:30:00Z``."""
    return moment.astimezone(UTC).strftime(_FORMAT)


# No stored time is moved further than this: a server-given wait or a setting of years
# would otherwise overflow (or schedule a check for the year 5195).
MAX_SECONDS = 10 * 366 * 86400.0


def add_seconds(timestamp: str, seconds: float) -> str:
    """Return a stored timestamp moved ``seconds`` later (at most ten years)."""
    moment = datetime.strptime(timestamp, _FORMAT).replace(tzinfo=UTC)
    seconds = min(max(seconds, -MAX_SECONDS), MAX_SECONDS) if seconds == seconds else 0.0
    return (moment + timedelta(seconds=seconds)).strftime(_FORMAT)


def parse_http_date(value: str) -> datetime | None:
    """Return an HTTP date (``Sun, 01 Mar 2015 12:00:00 GMT``) as an aware datetime, or None."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
