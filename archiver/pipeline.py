"""The stages in order: read sources into the archive, resolve what is due, store the results.

The command line is a thin layer over these two functions; messages for the user go
through ``report`` so that the library never prints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from . import store
from .models import ArchiverError, DatabaseError, Resolution, SourceUnavailable
from .resolve import ResolverSettings, resolve_many
from .sources import SourceEntry, detect_format, expand_source, is_url, parse_bytes, read_source
from .sources.fetch import Fetched

__all__ = ["Ingested", "ingest_sources", "resolve_and_save"]

log = logging.getLogger(__name__)

# Resolutions are written at least this often, so a killed run loses little.
WRITE_EVERY_RESULTS = 50
WRITE_EVERY_SECONDS = 2.0

Report = Callable[[str], None]
# Source statuses after which its recorded format is trusted.
_READ = frozenset({"ok", "partial", "not_modified"})
Fetch = Callable[..., Fetched]


@dataclass
class Ingested:
    """What ingesting a list of sources added, and whether a source was unavailable."""

    posts_added: int = 0
    links_added: int = 0
    unavailable: bool = False
    sources_left: int = 0  # not read: the run's time limit came first
    failed: list[str] = field(default_factory=list)  # one message a source that could not be read
    partial: int = 0  # sources read in part


def ingest_sources(
    db: Database,
    sources: list[SourceEntry],
    *,
    fmt: str | None,
    run_id: int,
    fetch: Fetch,
    report: Report,
    text_column: str | None = None,
    stop_at: float | None = None,
) -> Ingested:
    """Read every source into the archive, reporting each failure by name and going on.

    A source's own format (a sources file's ``feed URL`` line) wins over ``fmt``;
    ``text_column`` names the text column of CSV sources.  Past ``stop_at`` (a
    ``time.monotonic()`` value, from --time-limit) no further source is read: they are
    read by the next run.
    ``fetch(url, etag=..., last_modified=...)`` returns a feed or page URL's body.
    """
    outcome = Ingested()
    own = _own_files(db)
    for entry in sources:
        location, source_fmt = entry.location, entry.fmt or fmt
        try:
            units = expand_source(location)
        except SourceUnavailable as ex:
            report(f"error: {ex}")
            outcome.unavailable = True
            outcome.failed.append(str(ex))
            continue
        for unit in units:
            if not is_url(unit) and _resolved(unit) in own:
                continue  # the archive's own database files are never sources
            if stop_at is not None and time.monotonic() >= stop_at:
                outcome.sources_left += 1
                continue
            try:
                saved = _ingest_one(
                    db, unit, fmt=source_fmt, run_id=run_id, fetch=fetch, text_column=text_column
                )
            except SourceUnavailable as ex:
                report(f"error: {ex}")
                store.record_source(db, unit, status="error", error=str(ex))
                outcome.unavailable = True
                outcome.failed.append(str(ex))
                continue
            except DatabaseError:
                raise
            except ArchiverError as ex:
                report(f"warning: {ex}")
                store.record_source(db, unit, status="error", error=str(ex))
                outcome.failed.append(str(ex))
                continue
            if saved is None:
                continue
            outcome.posts_added += saved.posts_added
            outcome.links_added += saved.links_added
            if saved.error is not None:
                report(f"warning: {saved.error}")
                if saved.posts_read:
                    outcome.partial += 1
                else:
                    outcome.failed.append(str(saved.error))
            log.info("%s: %d posts added, %d links added", unit, saved.posts_added, saved.links_added)
    if outcome.sources_left:
        report(f"time limit reached: {outcome.sources_left} source(s) left for the next run")
    return outcome


def _own_files(db: Database) -> set[str]:
    path = _resolved(store.database_path(db))
    return {path, *(path + suffix for suffix in ("-wal", "-shm", "-journal", ".lock"))}


def _resolved(location: str) -> str:
    try:
        return str(Path(location).resolve())
    except (OSError, RuntimeError):
        return location


def _ingest_one(
    db: Database, unit: str, *, fmt: str | None, run_id: int, fetch: Fetch, text_column: str | None
) -> store.Saved | None:
    """Read one file, archive or URL and store its posts; return what was added (None: unchanged)."""
    if not is_url(unit):
        reading = read_source(unit, fmt, text_column=text_column)  # opened once, format and posts
        saved = store.save_posts(db, reading.posts, run_id=run_id)
        _record(db, unit, reading.format, saved)
        return saved
    previous = store.source_state(db, unit) or {}
    fetched = fetch(unit, etag=previous.get("etag"), last_modified=previous.get("last_modified"))
    if fetched.not_modified or fetched.body is None:
        store.record_source(db, unit, status="not_modified", http_status=fetched.status_code)
        return None
    # A URL read as a feed before is a feed still: a maintenance page it serves one day
    # is a failed read, not a post.
    if fmt is None and previous.get("format") == "feed" and previous.get("last_status") in _READ:
        fmt = "feed"
    name = fmt or detect_format(unit, fetched.body[:8192])
    posts = parse_bytes(fetched.body, source=unit, fmt=name, text_column=text_column)
    saved = store.save_posts(db, posts, run_id=run_id)
    _record(
        db,
        unit,
        name,
        saved,
        http_status=fetched.status_code,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
    )
    return saved


def _record(db: Database, unit: str, fmt: str | None, saved: store.Saved, **fetch: Any) -> None:
    status = "ok" if saved.error is None else ("partial" if saved.posts_read else "error")
    error = str(saved.error) if saved.error else None
    store.record_source(db, unit, status=status, fmt=fmt, error=error, saved=saved, **fetch)


async def resolve_and_save(
    db: Database,
    links: list[tuple[str, str | None]],
    *,
    run_id: int,
    settings: ResolverSettings,
    recheck_after: float,
    advance: Callable[[int], None] = lambda _: None,
    stop_at: float | None = None,
) -> Counter[str]:
    """Resolve links and store the results in small batches; return the count of each status.

    Batches are written by a thread with its own connection, so the requests in flight
    are never held up by SQLite; the batches stay in order.  At ``stop_at`` (a
    ``time.monotonic()`` value) the requests in flight are dropped and what was
    resolved is kept: links not resolved stay due for the next run.
    """
    statuses: Counter[str] = Counter()
    batch: list[Resolution] = []
    last_write = time.monotonic()
    loop = asyncio.get_running_loop()
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver-writer")
    writes: list[asyncio.Future[None]] = []
    writer_db = await loop.run_in_executor(writer, store.reopen, store.database_path(db))
    writing = [0.0]  # seconds the writer thread spent in SQLite

    def save(chunk: list[Resolution]) -> None:
        started = time.perf_counter()
        store.save_resolutions(writer_db, chunk, run_id=run_id, recheck_after_days=recheck_after)
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
            aclosing(resolve_many(links, settings=replace(settings, deadline=stop_at))) as results,
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
            await loop.run_in_executor(writer, writer_db.close)
            writer.shutdown()
    log.info("wrote %d resolutions in %.2f s", sum(statuses.values()), writing[0])
    return statuses
