"""Reading the dates sources write into ISO-8601 UTC text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..clock import format_utc

__all__ = ["utc_timestamp"]

# Twitter's API form ("Thu May 16 08:15:00 +0000 2024") and its old archive's.
_FORMS = ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S %z")
# Seconds since 1970 beyond this are milliseconds (this is the year 5138 in seconds).
_MILLISECONDS_FROM = 1e11
# A string of digits is seconds since 1970 from this length on (1973); "2024" is a year.
_EPOCH_DIGITS = 9


def utc_timestamp(value: Any) -> str | None:
    """Return ``YYYY-MM-DDTHH:MM:SSZ`` for a date string or epoch number; a date without a zone as written.

    A string no form reads is kept as it was written: it is still what the source
    said.  None for anything else, and for dates outside what Python can represent.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        moment = _moment(value)
    except (ValueError, OverflowError, OSError):
        return value.strip() if isinstance(value, str) else None
    if moment.tzinfo is None:
        return moment.isoformat()
    try:
        return format_utc(moment)
    except (ValueError, OverflowError):
        return None


def _moment(value: str | int | float) -> datetime:
    if not isinstance(value, str):
        seconds = float(value)
        return datetime.fromtimestamp(
            seconds / 1000 if abs(seconds) >= _MILLISECONDS_FROM else seconds, tz=UTC
        )
    text = value.strip()
    if len(text) >= _EPOCH_DIGITS and text.replace(".", "", 1).isdigit() and text.isascii():
        return _moment(float(text))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for form in _FORMS[:-1]:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return datetime.strptime(text, _FORMS[-1])
