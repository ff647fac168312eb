"""The re-check stage: the links due resolved, each result judged and scheduled, stored in small batches."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import replace
from functools import partial

from .. import preserve, store
from ..clock import utc_now
from ..http import ResolverSettings
from ..models import COPY_LIMIT, Exchange, Resolution
from ..resolve import Asker, resolve_many
from .copies import CopyKeeper

__all__ = ["links_due", "resolve_and_save", "save_resolutions"]

log = logging.getLogger(__name__)

# Resolutions are written at least this often, so a killed run loses little.
WRITE_EVERY_RESULTS = 50
WRITE_EVERY_SECONDS = 2.0


def links_due(
    db: store.Database,
    *,
    now: str | None = None,
    recheck_after_days: float = 30,
    recheck_all: bool = False,
    limit: int | None = None,
) -> store.DueLinks:
    """Return (url, expanded_url) of the links to resolve now: new first, then failed and stale as due.

    A good (or blocked) link is due once its last check is older than
    ``recheck_after_days`` of this run, whatever the run that checked it used, so a
    shorter ``--recheck-after`` (0: everything now) applies at once.  A failed link
    keeps its back-off schedule (``next_check_at``).
    """
    now = now or utc_now()
    return store.links_due(
        db,
        now=now,
        checked_before=preserve.checked_before(now, recheck_after_days),
        by_age=preserve.RECHECKED_STATUSES,
        recheck_all=recheck_all,
        limit=limit,
    )


def save_resolutions(
    db: store.Database,
    resolutions: Iterable[Resolution],
    *,
    run_id: int | None = None,
    recheck_after_days: float = 30,
) -> None:
    """Store a batch of resolutions in one transaction, each with its verdict and next check.

    A failed check never erases a previous good one: the last good final URL and its
    redirect chain stay, while status, error and the failure counters record the
    failure.
    """
    batch = list(resolutions)
    if not batch:
        return
    with store.transaction(db):
        histories = store.link_histories(db, (resolution.url for resolution in batch))
        checked = preserve.decide_checks(batch, histories, recheck_after_days=recheck_after_days)
        store.save_checks(db, checked, run_id=run_id)


async def resolve_and_save(
    db_path: str,
    links: Sequence[tuple[str, str | None]] | store.DueLinks,
    *,
    run_id: int,
    settings: ResolverSettings,
    recheck_after: float,
    advance: Callable[[int], None] = lambda _: None,
    stop_at: float | None = None,
    copies: preserve.CopySettings | None = None,
    report: Callable[[str], None] = lambda _: None,
    asker: Asker | None = None,
) -> Counter[str]:
    """Resolve links and store the results in small batches; return the count of each status.

    Batches are written by a thread with its own connection, so the requests in flight
    are never held up by SQLite; the batches stay in order.  At ``stop_at`` (a
    ``time.monotonic()`` value) the requests in flight are dropped and what was
    resolved is kept: links not resolved stay due for the next run.  With
    ``copies.keep`` every answer read is written as WARC records by the same thread,
    its place recorded in ``copies``; a copy that cannot be written (a full disk) is
    reported once and the checks go on without copies.  ``asker`` asks the hops
    elsewhere (a cluster's workers).
    """
    statuses: Counter[str] = Counter()
    batch: list[Resolution] = []
    last_write = time.monotonic()
    loop = asyncio.get_running_loop()
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-writer")
    writes: list[asyncio.Future[None]] = []
    writer_db = await loop.run_in_executor(writer, store.reopen, db_path)
    writing = [0.0]  # seconds the writer thread spent in SQLite
    keeper = CopyKeeper(copies, db_path, writer_db, run_id) if copies is not None and copies.keep else None

    async def keep(exchange: Exchange, link: str | None) -> None:
        if keeper is not None:
            await loop.run_in_executor(writer, keeper.keep, exchange, link)

    def save(chunk: list[Resolution]) -> None:
        started = time.perf_counter()
        save_resolutions(writer_db, chunk, run_id=run_id, recheck_after_days=recheck_after)
        writing[0] += time.perf_counter() - started

    def write() -> None:
        nonlocal last_write
        for done in [w for w in writes if w.done()]:
            done.result()  # a failed write (a full disk) ends the run now
            writes.remove(done)
        chunk = batch.copy()
        batch.clear()
        statuses.update(resolution.status for resolution in chunk)
        writes.append(loop.run_in_executor(writer, partial(save, chunk)))
        last_write = time.monotonic()

    deadline = None if stop_at is None else loop.time() + stop_at - time.monotonic()
    try:
        async with (
            asyncio.timeout_at(deadline) as limit,
            aclosing(
                resolve_many(
                    links,
                    settings=replace(settings, deadline=stop_at),
                    keep=keep if keeper is not None else None,
                    copy_limit=copies.limit if copies is not None else COPY_LIMIT,
                    asker=asker,
                )
            ) as results,
        ):
            async for resolution in results:
                batch.append(resolution)
                advance(1)
                if len(batch) >= WRITE_EVERY_RESULTS or time.monotonic() - last_write >= WRITE_EVERY_SECONDS:
                    write()
    except TimeoutError:
        if not limit.expired():
            raise
        log.info(
            "time limit reached: %d of %d links resolved", len(batch) + sum(statuses.values()), len(links)
        )
    finally:
        if batch:
            write()
        try:
            await asyncio.gather(*writes)
        finally:
            if keeper is not None:
                await loop.run_in_executor(writer, keeper.close)
                if keeper.failed is not None:
                    report(f"warning: {keeper.failed}")
            await loop.run_in_executor(writer, writer_db.close)
            writer.shutdown()
    log.info("wrote %d resolutions in %.2f s", sum(statuses.values()), writing[0])
    return statuses
