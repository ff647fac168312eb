"""The preserve stage: web archives asked which captures they hold, and for the ones missing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from .. import preserve, store
from ..clock import add_seconds, utc_now
from ..http import ResolverSettings
from ..models import LookupJob, LookupResult, LookupStatus, SaveJob, SaveResult, SaveStatus
from ..preserve import ArchiveClient, CaptureSettings, Endpoint, SlowDown
from .ingest import Report

__all__ = ["CaptureCounts", "ask_archives", "links_due_for_lookup", "record_capture_request", "save_lookups"]

log = logging.getLogger(__name__)


@dataclass
class CaptureCounts:
    """What a run asked web archives, and what they said."""

    looked_up: int = 0  # URLs looked up, in each archive
    found: int = 0
    failed: int = 0
    asked: int = 0  # captures asked for
    saved: int = 0  # captures made (asked in this run or before)
    saves_left: int | None = None  # of the daily quota, after this run
    stopped: str | None = None  # why asking for captures stopped early


def links_due_for_lookup(
    db: store.Database, *, now: str | None = None, limit: int = 500
) -> list[tuple[str, str, str | None]]:
    """Return (link id, URL, near) of the URLs whose captures are due to be looked up; failed links first."""
    return store.links_due_for_lookup(db, now=now or utc_now(), skipped=preserve.NOT_LOOKED_UP, limit=limit)


def save_lookups(
    db: store.Database,
    results: Iterable[LookupResult],
    *,
    lookup_every_days: float = 30.0,
    run_id: int | None = None,
) -> None:
    """Store what archives said of links' URLs, and the best capture on each link, in one transaction.

    A link keeps as ``archived_url`` the capture closest to its earliest post (of any of
    its URLs, an archive's good capture before one it got an error for), and the count
    of captures in all.
    """
    with store.transaction(db):
        lookups = [
            (result, preserve.next_lookup(result, lookup_every_days=lookup_every_days)) for result in results
        ]
        for link in store.save_lookups(db, lookups, run_id=run_id):
            _choose_archived(db, link)


def record_capture_request(
    db: store.Database, result: SaveResult, *, archive: str, run_id: int | None, request_id: int | None = None
) -> int:
    """Record a capture request or where it now stands, and the link's best capture; return its id."""
    with store.transaction(db):
        request_id = store.save_capture_request(
            db, result, archive=archive, run_id=run_id, request_id=request_id
        )
        if result.status == SaveStatus.SAVED and result.capture_url:
            _choose_archived(db, result.job.link_id)
    return request_id


def _choose_archived(db: store.Database, link: str) -> None:
    candidates, near = store.capture_candidates(db, link)
    store.set_archived(db, link, preserve.best_capture(candidates, near))


# Lookups stored in one transaction.
LOOKUPS_PER_WRITE = 50


async def ask_archives(
    db: store.Database,
    settings: CaptureSettings,
    resolving: ResolverSettings,
    *,
    run_id: int | None = None,
    report: Report = log.warning,
    stop_at: float | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> CaptureCounts:
    """Look up the captures of the links due, and with ``save`` ask for the ones missing.

    Within the run's time limit (``stop_at``, a time.monotonic() value): what is not
    reached waits for the next run.
    """
    counts = CaptureCounts()
    loop = asyncio.get_running_loop()
    deadline = None if stop_at is None else loop.time() + stop_at - time.monotonic()
    client = ArchiveClient(replace(resolving, deadline=stop_at), settings, sleep=sleep)
    batch: list[LookupResult] = []
    try:
        async with asyncio.timeout_at(deadline) as limit:
            due = links_due_for_lookup(db, limit=settings.lookups_per_run)
            jobs = [LookupJob(link, url, near) for link, url, near in due]
            async for result in client.lookup_many(jobs):
                batch.append(result)
                counts.looked_up += 1
                counts.found += result.status == LookupStatus.FOUND
                counts.failed += result.status == LookupStatus.FAILED
                if result.status == LookupStatus.FAILED:
                    log.info("captures of %s in %s: %s", result.job.url, result.archive, result.error)
                if len(batch) >= LOOKUPS_PER_WRITE:
                    save_lookups(db, batch, lookup_every_days=settings.lookup_every_days, run_id=run_id)
                    batch = []
            save_lookups(db, batch, lookup_every_days=settings.lookup_every_days, run_id=run_id)
            batch = []
            if settings.saves:
                await _ask_for_captures(
                    db, client, settings, counts, run_id=run_id, report=report, sleep=sleep
                )
    except TimeoutError:
        if not limit.expired():
            raise
        counts.stopped = "the run's time limit came first"
    finally:
        if batch:
            save_lookups(db, batch, lookup_every_days=settings.lookup_every_days, run_id=run_id)
        await client.aclose()
    return counts


async def _ask_for_captures(
    db: store.Database,
    client: ArchiveClient,
    settings: CaptureSettings,
    counts: CaptureCounts,
    *,
    run_id: int | None,
    report: Report,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """Ask Save Page Now for captures of live links no archive has, within the daily quota."""
    archive = Endpoint.parse(settings.save_url).archive
    # Requests of earlier runs the archive had not answered yet.
    for row in store.pending_saves(db):
        earlier = SaveResult(
            SaveJob(row["link_id"], row["url"]), row["requested_at"], SaveStatus.PENDING, job_id=row["job_id"]
        )
        now = await client.poll(earlier)
        if now.status != SaveStatus.PENDING:
            record_capture_request(db, now, archive=archive, run_id=run_id, request_id=row["id"])
            counts.saved += now.status == SaveStatus.SAVED
    left = max(0, settings.save_limit - store.saves_since(db, add_seconds(utc_now(), -86400)))
    account_left = await client.saves_left()
    if account_left is not None:
        left = min(left, account_left)
    asked: list[tuple[int, SaveResult]] = []
    missing = store.links_to_save(db, asked_since=preserve.asked_since(utc_now()), limit=left) if left else []
    for link, url in missing:
        if asked or counts.asked:
            await sleep(settings.save_spacing)
        try:
            result = await client.save(SaveJob(link, url))
        except SlowDown as failure:
            counts.stopped = f"Save Page Now asked to slow down: {failure}"
            report(f"captures: {counts.stopped}; the rest are asked in a later run")
            break
        request_id = record_capture_request(db, result, archive=archive, run_id=run_id)
        counts.asked += 1
        left -= 1
        if result.status == SaveStatus.FAILED:
            log.info("capture of %s not made: %s", url, result.message)
        else:
            asked.append((request_id, result))
    for _ in range(settings.polls):
        if not asked:
            break
        await sleep(settings.poll_every)
        still: list[tuple[int, SaveResult]] = []
        for request_id, result in asked:
            now = await client.poll(result)
            if now.status == SaveStatus.PENDING:
                still.append((request_id, now))
            else:
                record_capture_request(db, now, archive=archive, run_id=run_id, request_id=request_id)
                counts.saved += now.status == SaveStatus.SAVED
        asked = still
    counts.saves_left = left
