"""What a batch of checks comes to: each link's rot verdict, failure count and next check."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..models import CheckedLink, FirstGood, LinkHistory, Resolution
from .rot import first_good_of, judge
from .schedule import next_check

__all__ = ["decide_checks"]

log = logging.getLogger(__name__)


def decide_checks(
    resolutions: Iterable[Resolution], histories: dict[str, LinkHistory], *, recheck_after_days: float
) -> list[CheckedLink]:
    """Return each resolution with what it means for its link, given the link's history by URL.

    A link with no history (deleted while it was being resolved) is left out, as is a
    result whose next check cannot be written (it stays as it was, due again).  A link
    checked twice in a batch is judged the second time against the first good check.
    """
    first_goods: dict[str, FirstGood | None] = {url: h.first_good for url, h in histories.items()}
    decided: list[CheckedLink] = []
    for resolution in resolutions:
        history = histories.get(resolution.url)
        if history is None:
            continue
        verdict = judge(resolution, first_good=first_goods.get(resolution.url))
        try:
            failures, first_failed_at, next_check_at, keeps_last_good = _schedule(
                resolution, history, recheck_after_days
            )
        except (ValueError, OverflowError) as ex:
            # One result that cannot be stored never costs the others of its batch.
            log.warning("%s: result not stored (%s)", resolution.url, ex)
            continue
        since = None
        if verdict.rot is not None:
            since = (history.rot_since if history.rot == verdict.rot else None) or resolution.checked_at
        decided.append(
            CheckedLink(
                resolution,
                rot=verdict.rot,
                rot_evidence=verdict.evidence if verdict.rot is not None else None,
                rot_since=since,
                consecutive_failures=failures,
                first_failed_at=first_failed_at,
                next_check_at=next_check_at,
                keeps_last_good=keeps_last_good,
            )
        )
        if resolution.ok and first_goods.get(resolution.url) is None:
            first_goods[resolution.url] = first_good_of(resolution)
    return decided


def _schedule(
    resolution: Resolution, history: LinkHistory, recheck_after_days: float
) -> tuple[int, str | None, str | None, bool]:
    """Return failures in a row, the first of them, the next check, and whether the last good stays."""
    if resolution.ok:
        return 0, None, next_check(resolution, 0, recheck_after_days), False
    failures = history.consecutive_failures + 1
    return (
        failures,
        history.first_failed_at or resolution.checked_at,
        next_check(resolution, failures, recheck_after_days),
        history.last_ok_at is not None,
    )
