"""When to check a link again, and when to ask web archives about it again.

The store answers "which are due" with the times and statuses decided here.
"""

from __future__ import annotations

from ..clock import add_seconds
from ..models import LinkStatus, LookupResult, LookupStatus, Resolution

__all__ = [
    "NOT_LOOKED_UP",
    "RECHECKED_STATUSES",
    "RETRY_SPACING",
    "SAVE_AGAIN_DAYS",
    "asked_since",
    "checked_before",
    "next_check",
    "next_lookup",
]

# How long a failed link rests before the next try, by how many times in a row it
# has failed: a host that is down for a minute is tried again within the hour, a
# dead one only weekly.
RETRY_SPACING = (3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)

# Statuses checked again after --recheck-after days; failures follow their back-off.
RECHECKED_STATUSES = (LinkStatus.OK, LinkStatus.BLOCKED)

# Statuses that no later request can change: the link itself is unusable.
PERMANENT_STATUSES = frozenset({LinkStatus.INVALID})

# Links whose captures are never looked up: not requested, or not to be told to anyone.
NOT_LOOKED_UP = (LinkStatus.PENDING, LinkStatus.BLOCKED, LinkStatus.INVALID, LinkStatus.TRUNCATED)
# When a URL's captures are looked up again, by what the last lookup found.
LOOKUP_AGAIN_NONE_DAYS = 7.0  # none yet: a capture may appear (or be asked for)
LOOKUP_AGAIN_FAILED_SECONDS = 86400.0
# A capture asked for is not asked for again within this many days.
SAVE_AGAIN_DAYS = 30.0


def checked_before(now: str, recheck_after_days: float) -> str:
    """Return the time a good link's last check must be no later than to be due at ``now``."""
    return add_seconds(now, -recheck_after_days * 86400)


def next_check(resolution: Resolution, failures: int, recheck_after_days: float) -> str | None:
    """Return when a link is due again after this check, or None when no check can change it.

    A good link after ``recheck_after_days``; a failed one after its back-off
    (``RETRY_SPACING`` by failures in a row, or longer when the server asked).
    Raises ValueError or OverflowError for a time that cannot be written.
    """
    if resolution.ok or resolution.status == LinkStatus.BLOCKED:
        return add_seconds(resolution.checked_at, recheck_after_days * 86400)
    if resolution.status in PERMANENT_STATUSES:
        return None
    spacing: float = RETRY_SPACING[min(failures, len(RETRY_SPACING)) - 1]
    if resolution.retry_after:
        spacing = max(spacing, resolution.retry_after)
    return add_seconds(resolution.checked_at, spacing)


def next_lookup(result: LookupResult, *, lookup_every_days: float) -> str:
    """Return when a URL's captures are looked up again after this lookup."""
    if result.status == LookupStatus.FAILED:
        wait = max(LOOKUP_AGAIN_FAILED_SECONDS, result.retry_after or 0.0)
    elif result.status == LookupStatus.NONE:
        wait = LOOKUP_AGAIN_NONE_DAYS * 86400
    else:
        wait = lookup_every_days * 86400
    return add_seconds(result.looked_up_at, wait)


def asked_since(now: str) -> str:
    """Return the time after which a capture request keeps a link from being asked again."""
    return add_seconds(now, -SAVE_AGAIN_DAYS * 86400)
