"""A run, and the stages in order: read sources into the archive, resolve what is due, store the results.

``run`` is the whole of an ``archive``, ``ingest`` or ``resolve`` run, its lock,
``runs`` row and ending included; the command line only turns options into
``RunSettings`` and the ``RunOutcome`` into a summary and an exit status.  Messages for
the user go through ``report`` so that the library never prints.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, aclosing, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from . import store
from .captures import ArchiveClient, CaptureSettings, Endpoint, LookupJob, LookupResult, SaveJob, SaveResult
from .clock import add_seconds, utc_now
from .models import (
    ArchiverError,
    DatabaseError,
    LinkStatus,
    LookupStatus,
    Post,
    Resolution,
    RunStatus,
    SaveStatus,
    SourceStatus,
    SourceUnavailable,
)
from .resolve import ResolverSettings, resolve_many
from .resolve.outcomes import HopFailed
from .runlock import run_lock
from .sources import SourceEntry, detect_format, expand_source, is_url, parse_bytes, read_source
from .sources.fetch import Fetched, fetch_source

__all__ = [
    "Ingested",
    "RunOutcome",
    "RunSettings",
    "ingest_sources",
    "prepare_database_folder",
    "resolve_and_save",
    "run",
]

log = logging.getLogger(__name__)

# Resolutions are written at least this often, so a killed run loses little.
WRITE_EVERY_RESULTS = 50
WRITE_EVERY_SECONDS = 2.0

Report = Callable[[str], None]
# Source statuses after which its recorded format is trusted.
_READ = frozenset({SourceStatus.OK, SourceStatus.PARTIAL, SourceStatus.NOT_MODIFIED})
Fetch = Callable[..., Awaitable[Fetched]]


@dataclass
class Ingested:
    """What ingesting a list of sources added, and whether a source named was unreadable."""

    posts_added: int = 0
    links_added: int = 0
    unavailable: bool = False
    sources_left: int = 0  # not read: the run's time limit came first
    failed: list[str] = field(default_factory=list)  # one message a source that could not be read
    partial: int = 0  # sources read in part


@dataclass(frozen=True, slots=True)
class Reading:
    """How far the sources of a run have been read, for a progress line."""

    records: int  # posts read so far
    bytes_read: int  # of the files and answers read to their end so far
    source: str  # the one being read
    done: bool = False  # every source is read


ReadingProgress = Callable[[Reading], None]
# Posts read between two progress calls while one source is read.
_READING_STEP = 1000


class _ReadCounter:
    """Counts posts and bytes as the sources are read, and tells a ReadingProgress."""

    def __init__(self, tell: ReadingProgress | None) -> None:
        self._tell = tell
        self.records = 0
        self.bytes_read = 0
        self.source = ""

    def start(self, source: str) -> None:
        self.source = source
        self._say()

    def finish(self, size: int) -> None:
        self.bytes_read += size
        self._say()

    def done(self) -> None:
        if self._tell is not None and self.source:
            self._tell(Reading(self.records, self.bytes_read, self.source, done=True))

    def posts(self, posts: Iterable[Post]) -> Iterator[Post]:
        for post in posts:
            self.records += 1
            if self.records % _READING_STEP == 0:
                self._say()
            yield post

    def _say(self) -> None:
        if self._tell is not None:
            self._tell(Reading(self.records, self.bytes_read, self.source))


async def ingest_sources(
    db: Database,
    sources: list[SourceEntry],
    *,
    fmt: str | None,
    run_id: int | None,
    fetch: Fetch,
    report: Report,
    text_column: str | None = None,
    stop_at: float | None = None,
    reading: ReadingProgress | None = None,
) -> Ingested:
    """Read every source into the archive, reporting each failure by name and going on.

    A source's own format (a sources file's ``feed URL`` line) wins over ``fmt``;
    ``text_column`` names the text column of CSV sources.  Past ``stop_at`` (a
    ``time.monotonic()`` value, from --time-limit) no further source is read: they are
    read by the next run.
    ``fetch(url, etag=..., last_modified=...)`` returns a feed or page URL's body; it
    is given only what is left of ``stop_at``.
    """
    outcome = Ingested()
    counter = _ReadCounter(reading)
    own = _own_files(db)
    # A file listed in the sources file and lying in the inbox too is read once, as the
    # first entry that names it says (its format, its public name).
    read: set[str] = set()
    for entry in sources:
        location, source_fmt = entry.location, entry.fmt or fmt
        try:
            units = expand_source(location)
        except SourceUnavailable as ex:
            report(f"error: {ex}")
            store.record_source(
                db, location, status=SourceStatus.ERROR, error=str(ex), public_name=entry.name
            )
            outcome.unavailable = True
            outcome.failed.append(str(ex))
            continue
        for unit in units:
            key = unit if is_url(unit) else _resolved(unit)
            if key in own or key in read:
                continue  # the archive's own database files are never sources; none is read twice
            read.add(key)
            if stop_at is not None and time.monotonic() >= stop_at:
                outcome.sources_left += 1
                continue
            public_name = _public_name(entry, unit)
            counter.start(unit)
            try:
                saved = await _ingest_one(
                    db,
                    unit,
                    fmt=source_fmt,
                    run_id=run_id,
                    fetch=fetch,
                    text_column=text_column,
                    stop_at=stop_at,
                    public_name=public_name,
                    counter=counter,
                )
            except SourceUnavailable as ex:
                report(f"error: {ex}")
                store.record_source(
                    db, unit, status=SourceStatus.ERROR, error=str(ex), public_name=public_name
                )
                outcome.unavailable = True
                outcome.failed.append(str(ex))
                continue
            except DatabaseError:
                raise
            except ArchiverError as ex:
                report(f"error: {ex}")
                store.record_source(
                    db, unit, status=SourceStatus.ERROR, error=str(ex), public_name=public_name
                )
                outcome.unavailable = outcome.unavailable or unit == location
                outcome.failed.append(str(ex))
                continue
            if saved is None:
                continue
            outcome.posts_added += saved.posts_added
            outcome.links_added += saved.links_added
            if saved.error is not None:
                if saved.posts_read:
                    report(f"warning: {saved.error}")
                    outcome.partial += 1
                else:  # nothing of it could be read: not of its format, or broken from the start
                    report(f"error: {saved.error}")
                    # A source named itself is unreadable; a file of a folder is one of many.
                    outcome.unavailable = outcome.unavailable or unit == location
                    outcome.failed.append(str(saved.error))
            log.info("%s: %d posts added, %d links added", unit, saved.posts_added, saved.links_added)
    counter.done()
    if outcome.sources_left:
        report(f"time limit reached: {outcome.sources_left} source(s) left for the next run")
    return outcome


def _public_name(entry: SourceEntry, unit: str) -> str | None:
    """Return the name a public copy gives one file of a named source (a folder's files by
    their path inside it), or None when the sources file names none."""
    if entry.name is None or unit == entry.location:
        return entry.name
    try:
        inside = Path(unit).relative_to(entry.location).as_posix()
    except ValueError:
        return entry.name
    return f"{entry.name}/{inside}"


def _own_files(db: Database) -> set[str]:
    path = _resolved(store.database_path(db))
    return {path, *(path + suffix for suffix in ("-wal", "-shm", "-journal", ".lock"))}


def _resolved(location: str) -> str:
    try:
        return str(Path(location).resolve())
    except (OSError, RuntimeError):
        return location


async def _ingest_one(
    db: Database,
    unit: str,
    *,
    fmt: str | None,
    run_id: int | None,
    fetch: Fetch,
    text_column: str | None,
    stop_at: float | None = None,
    public_name: str | None = None,
    counter: _ReadCounter | None = None,
) -> store.Saved | None:
    """Read one file, archive or URL and store its posts; return what was added (None: unchanged)."""
    counter = counter or _ReadCounter(None)
    if not is_url(unit):
        reading = read_source(unit, fmt, text_column=text_column)  # opened once, format and posts
        saved = store.save_posts(db, counter.posts(reading.posts), run_id=run_id)
        _record(db, unit, reading.format, saved, public_name=public_name)
        counter.finish(_size(unit))
        return saved
    previous = store.source_state(db, unit) or {}
    fetching = fetch(unit, etag=previous.get("etag"), last_modified=previous.get("last_modified"))
    try:
        fetched = await asyncio.wait_for(
            fetching, None if stop_at is None else max(0.0, stop_at - time.monotonic())
        )
    except TimeoutError:
        raise ArchiverError(f"{unit}: not fetched before the time limit; the next run fetches it") from None
    if fetched.not_modified or fetched.body is None:
        store.record_source(
            db,
            unit,
            status=SourceStatus.NOT_MODIFIED,
            http_status=fetched.status_code,
            public_name=public_name,
        )
        return None
    # A URL read as a feed before is a feed still: a maintenance page it serves one day
    # is a failed read, not a post.
    if fmt is None and previous.get("format") == "feed" and previous.get("last_status") in _READ:
        fmt = "feed"
    name = fmt or detect_format(unit, fetched.body[:8192])
    posts = parse_bytes(fetched.body, source=unit, fmt=name, text_column=text_column)
    saved = store.save_posts(db, counter.posts(posts), run_id=run_id)
    counter.finish(len(fetched.body))
    _record(
        db,
        unit,
        name,
        saved,
        http_status=fetched.status_code,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        public_name=public_name,
    )
    return saved


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _record(db: Database, unit: str, fmt: str | None, saved: store.Saved, **fetch: Any) -> None:
    status = (
        SourceStatus.OK
        if saved.error is None
        else (SourceStatus.PARTIAL if saved.posts_read else SourceStatus.ERROR)
    )
    error = str(saved.error) if saved.error else None
    store.record_source(db, unit, status=status, fmt=fmt, error=error, saved=saved, **fetch)


async def resolve_and_save(
    db_path: str,
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
    writer_db = await loop.run_in_executor(writer, store.reopen, db_path)
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


# -- a run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """What one run does: the options of ``archive``, ``ingest`` and ``resolve`` as one object."""

    db_path: str
    command: str  # "archive", "ingest" or "resolve": recorded in runs.command
    sources: tuple[SourceEntry, ...] = ()
    fmt: str | None = None  # read every source as this format
    text_column: str | None = None  # the text column of CSV sources
    resolver: ResolverSettings = field(default_factory=ResolverSettings)
    recheck_after_days: float = 30.0
    recheck_all: bool = False  # every link now, due or not
    limit: int | None = None  # resolve at most this many links
    time_limit_minutes: float | None = None
    ingest: bool = True
    resolve: bool = True
    captures: CaptureSettings = field(default_factory=CaptureSettings)
    create: bool = False  # start a new archive where there is none


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


@dataclass
class RunOutcome:
    """How a run ended and what it did; the counts of what it stored come from the archive."""

    status: RunStatus = RunStatus.INTERRUPTED
    new_archive: bool = False
    posts_added: int = 0
    links_added: int = 0
    checks: dict[str, int] = field(default_factory=dict)  # checks saved, by status
    failed_sources: list[str] = field(default_factory=list)  # "LOCATION: why", one a source
    partial_sources: int = 0
    unavailable: bool = False  # a named source is missing or unreadable
    sources_left: int = 0  # not read: the time limit came first
    links_due: int | None = None  # None: the run resolves nothing
    links_left: int = 0  # due, not reached: the time limit came first
    seconds: float = 0.0
    stopped_by: int | None = None  # the signal that interrupted the run (SIGINT, SIGTERM)
    captures: CaptureCounts | None = None  # None: no archive was asked

    @property
    def links_checked(self) -> int:
        return sum(self.checks.values())


# Something to show progress with: given the number of links, a context whose value is
# called with how many more are done.
Progress = Callable[[int], AbstractContextManager[Callable[[int], None]]]


def run(
    settings: RunSettings,
    *,
    report: Report,
    progress: Progress | None = None,
    reading: ReadingProgress | None = None,
) -> RunOutcome:
    """Run ``settings.command`` from start to end: the same for the CLI and a Python caller.

    Takes the database's run lock (AlreadyRunning if another run holds it), records
    the run in ``runs``, reads the sources, resolves what is due (one event loop for
    the whole run), then records how the run ended with what it stored, counted in
    the archive, and empties the write-ahead log.  Ctrl-C and SIGTERM end the run the
    same way, with status ``interrupted`` and ``stopped_by`` set; the caller decides
    the exit status.
    """
    if not settings.create and not Path(settings.db_path).exists():
        # A mistyped --db, or a run in another folder, would start an empty archive and
        # report success: a missing archive is made only when asked for.
        make = (
            "nothing to resolve"
            if not settings.ingest
            else "make one with 'archiver init FOLDER' or --create"
        )
        raise DatabaseError(f"{settings.db_path}: no archive there; check the path, or {make}")
    outcome = RunOutcome(new_archive=prepare_database_folder(settings.db_path))
    stop_at = (
        None if settings.time_limit_minutes is None else time.monotonic() + settings.time_limit_minutes * 60
    )
    with run_lock(settings.db_path), _TerminationAsInterrupt() as signals:
        db = store.open_database(settings.db_path)
        run_id = store.start_run(db, settings.command)
        started = time.monotonic()
        try:
            asyncio.run(_stages(db, run_id, settings, outcome, report, progress, stop_at, reading))
            ended = outcome.links_left or outcome.sources_left
            outcome.status = RunStatus.TIME_LIMIT if ended else RunStatus.COMPLETED
        except KeyboardInterrupt:
            outcome.status = RunStatus.INTERRUPTED
            outcome.stopped_by = signals.received or signal.SIGINT
        finally:
            outcome.seconds = time.monotonic() - started
            _finish(db, run_id, outcome)
            db.close()
    return outcome


async def _stages(
    db: Database,
    run_id: int,
    settings: RunSettings,
    outcome: RunOutcome,
    report: Report,
    progress: Progress | None,
    stop_at: float | None,
    reading: ReadingProgress | None = None,
) -> None:
    if settings.ingest:

        async def fetch(url: str, **validators: Any) -> Fetched:
            return await fetch_source(url, settings=settings.resolver, **validators)

        ingested = await ingest_sources(
            db,
            list(settings.sources),
            fmt=settings.fmt,
            text_column=settings.text_column,
            run_id=run_id,
            fetch=fetch,
            report=report,
            stop_at=stop_at,
            reading=reading,
        )
        outcome.failed_sources += ingested.failed
        outcome.partial_sources += ingested.partial
        outcome.sources_left += ingested.sources_left
        outcome.unavailable = outcome.unavailable or ingested.unavailable
    if settings.resolve:
        links = store.links_due(
            db,
            recheck_after_days=settings.recheck_after_days,
            recheck_all=settings.recheck_all,
            limit=settings.limit,
        )
        outcome.links_due = len(links)
        if links:
            with progress(len(links)) if progress is not None else nullcontext(lambda _: None) as advance:
                statuses = await resolve_and_save(
                    settings.db_path,
                    links,
                    run_id=run_id,
                    settings=settings.resolver,
                    recheck_after=settings.recheck_after_days,
                    advance=advance,
                    stop_at=stop_at,
                )
            outcome.links_left = len(links) - sum(statuses.values())
        if settings.captures.looks_up and not outcome.links_left:
            outcome.captures = await ask_archives(
                db, settings.captures, settings.resolver, run_id=run_id, report=report, stop_at=stop_at
            )


# -- web-archive captures ----------------------------------------------------------------

# Lookups stored in one transaction.
LOOKUPS_PER_WRITE = 50


async def ask_archives(
    db: Database,
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
            due = store.links_due_for_lookup(db, limit=settings.lookups_per_run)
            jobs = [LookupJob(link, url, near) for link, url, near in due]
            async for result in client.lookup_many(jobs):
                batch.append(result)
                counts.looked_up += 1
                counts.found += result.status == LookupStatus.FOUND
                counts.failed += result.status == LookupStatus.FAILED
                if result.status == LookupStatus.FAILED:
                    log.info("captures of %s in %s: %s", result.job.url, result.archive, result.error)
                if len(batch) >= LOOKUPS_PER_WRITE:
                    store.save_lookups(db, batch, lookup_every_days=settings.lookup_every_days, run_id=run_id)
                    batch = []
            store.save_lookups(db, batch, lookup_every_days=settings.lookup_every_days, run_id=run_id)
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
            store.save_lookups(db, batch, lookup_every_days=settings.lookup_every_days, run_id=run_id)
        await client.aclose()
    return counts


async def _ask_for_captures(
    db: Database,
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
            store.save_capture_request(db, now, archive=archive, run_id=run_id, request_id=row["id"])
            counts.saved += now.status == SaveStatus.SAVED
    left = max(0, settings.save_limit - store.saves_since(db, add_seconds(utc_now(), -86400)))
    account_left = await client.saves_left()
    if account_left is not None:
        left = min(left, account_left)
    asked: list[tuple[int, SaveResult]] = []
    for link, url in store.links_to_save(db, limit=left) if left else []:
        if asked or counts.asked:
            await sleep(settings.save_spacing)
        try:
            result = await client.save(SaveJob(link, url))
        except HopFailed as failure:
            counts.stopped = f"Save Page Now asked to slow down: {failure.error}"
            report(f"captures: {counts.stopped}; the rest are asked in a later run")
            break
        request_id = store.save_capture_request(db, result, archive=archive, run_id=run_id)
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
                store.save_capture_request(db, now, archive=archive, run_id=run_id, request_id=request_id)
                counts.saved += now.status == SaveStatus.SAVED
        asked = still
    counts.saves_left = left


def _finish(db: Database, run_id: int, outcome: RunOutcome) -> None:
    """Record the end of a run with what it stored, and empty the write-ahead log."""
    try:
        counts = store.run_counts(db, run_id)
        outcome.posts_added, outcome.links_added = counts["posts_added"], counts["links_added"]
        outcome.checks = counts["checks"]
        store.finish_run(
            db,
            run_id,
            {
                "posts_added": outcome.posts_added,
                "links_added": outcome.links_added,
                "links_checked": outcome.links_checked,
                "links_failed": sum(n for status, n in outcome.checks.items() if status != LinkStatus.OK),
            },
            status=outcome.status,
        )
        if not store.checkpoint(db):
            log.info("the write-ahead log was not emptied: a reader held it")
    except Exception as ex:  # noqa: BLE001 - the run's own outcome matters more
        log.warning("could not record the end of the run: %s", ex)


class _TerminationAsInterrupt:
    """SIGTERM (cron's ``timeout``, systemd stopping a unit) ends a run as Ctrl-C does.

    Only in the main thread, where Python lets a handler be set.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: Any = None

    def __enter__(self) -> _TerminationAsInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _on_term(self, signum: int, frame: Any) -> None:
        self.received = signum
        # The same path as Ctrl-C: inside asyncio.run the main task is cancelled and
        # its finally blocks store what was resolved; elsewhere KeyboardInterrupt.  The
        # SIGINT handler is called, not SIGINT raised: a run started in the background
        # or under nohup ignores SIGINT, and SIGTERM must stop it all the same.
        on_interrupt = signal.getsignal(signal.SIGINT)
        if callable(on_interrupt):
            on_interrupt(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt


def prepare_database_folder(db_path: str) -> bool:
    """Make the database's folder if needed; return True if the database is new.

    A path that cannot hold a database is a DatabaseError naming the database and
    saying what is wrong, not the operating system's message about one of its folders.
    """
    path = Path(db_path)
    new = not path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as ex:
        blocker = next(
            (p for p in [path.parent, *path.parent.parents] if p.exists() and not p.is_dir()), None
        )
        raise DatabaseError(
            f"{db_path}: cannot create the database: {blocker or ex.filename} is a file, not a folder"
        ) from ex
    except PermissionError as ex:
        raise DatabaseError(
            f"{db_path}: cannot create the database: no permission to create its folder {ex.filename}"
        ) from ex
    except OSError as ex:
        raise DatabaseError(f"{db_path}: cannot create the database's folder: {ex.strerror or ex}") from ex
    if new and not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseError(
            f"{db_path}: cannot create the database: its folder {path.parent} is not writable"
        )
    return new
