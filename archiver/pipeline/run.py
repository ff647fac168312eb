"""A run, and the stages in order: read sources into the archive, resolve what is due, ask archives.

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
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store
from ..http import ResolverSettings
from ..models import ArchiverError, DatabaseError, Exchange, LinkStatus, RunStatus
from ..preserve import CaptureSettings, CopySettings
from ..sources import Fetched, Following, LiveSettings, SourceEntry, fetch_source
from .captures import CaptureCounts, ask_archives
from .copies import CopyKeeper
from .ingest import ReadingProgress, Report, ingest_sources
from .lock import run_lock
from .recheck import links_due, resolve_and_save

if TYPE_CHECKING:
    from ..cluster import ClusterAsker

__all__ = ["Progress", "RecheckSettings", "RunOutcome", "RunSettings", "prepare_database_folder", "run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecheckSettings:
    """Which links a run resolves: the new and due ones, or every one; when a good one is due again."""

    after_days: float = 30.0  # a good link is checked again after this
    every_link: bool = False  # every link now, due or not


@dataclass(frozen=True)
class RunSettings:
    """What one run does: the options of ``archive``, ``ingest`` and ``resolve`` as one object."""

    db_path: str
    command: str  # "archive", "ingest" or "resolve": recorded in runs.command
    sources: tuple[SourceEntry, ...] = ()
    fmt: str | None = None  # read every source as this format
    text_column: str | None = None  # the text column of CSV sources
    resolver: ResolverSettings = field(default_factory=ResolverSettings)
    recheck: RecheckSettings = field(default_factory=RecheckSettings)
    limit: int | None = None  # resolve at most this many links
    time_limit_minutes: float | None = None
    ingest: bool = True
    resolve: bool = True
    captures: CaptureSettings = field(default_factory=CaptureSettings)
    create: bool = False  # start a new archive where there is none
    live: LiveSettings = field(default_factory=LiveSettings)  # how followed accounts are read
    copies: CopySettings = field(default_factory=CopySettings)  # whether answers are kept as WARC
    # Resolve on a Dask cluster: a scheduler's address, or "local:N" (archiver.cluster).
    cluster: str | None = None


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
    error: str | None = None  # what ended a failed run
    captures: CaptureCounts | None = None  # None: no archive was asked
    # On a cluster: the requests each worker made, and the workers lost on the way.
    cluster_requests: dict[str, int] | None = None
    cluster_lost: list[str] = field(default_factory=list)

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
    the exit status.  Any other error is raised on, the run recorded as ``failed``
    with the error's message.
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
        except Exception as ex:
            # Raised on to the caller (the CLI says it and exits 1); the runs row keeps it.
            outcome.status = RunStatus.FAILED
            outcome.error = str(ex) if isinstance(ex, ArchiverError) else f"{type(ex).__name__}: {ex}"
            raise
        finally:
            outcome.seconds = time.monotonic() - started
            _finish(db, run_id, outcome)
            db.close()
    return outcome


async def _stages(
    db: store.Database,
    run_id: int,
    settings: RunSettings,
    outcome: RunOutcome,
    report: Report,
    progress: Progress | None,
    stop_at: float | None,
    reading: ReadingProgress | None = None,
) -> None:
    if settings.ingest:
        keeper = CopyKeeper(settings.copies, settings.db_path, db, run_id) if settings.copies.keep else None

        async def fetch(url: str, **validators: Any) -> Fetched:
            def keep(exchange: Exchange) -> None:
                if keeper is not None:
                    keeper.keep(_within(exchange, settings.copies.limit), source=url)

            return await fetch_source(
                url, settings=settings.resolver, keep=keep if keeper is not None else None, **validators
            )

        def keep_answer(exchange: Exchange, source: str | None) -> None:
            if keeper is not None:  # an API's answer, kept as the followed source's
                keeper.keep(_within(exchange, settings.copies.limit), source=source or exchange.url)

        following = Following(
            replace(settings.resolver, deadline=stop_at),
            settings.live,
            keep=keep_answer if keeper is not None else None,
        )
        try:
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
                following=following,
            )
        finally:
            await following.aclose()
            if keeper is not None:
                keeper.close()
                if keeper.failed is not None:
                    report(f"warning: {keeper.failed}")
        outcome.failed_sources += ingested.failed
        outcome.partial_sources += ingested.partial
        outcome.sources_left += ingested.sources_left
        outcome.unavailable = outcome.unavailable or ingested.unavailable
    if settings.resolve:
        links = links_due(
            db,
            recheck_after_days=settings.recheck.after_days,
            recheck_all=settings.recheck.every_link,
            limit=settings.limit,
        )
        outcome.links_due = len(links)
        if links:
            resolver = replace(settings.resolver, deadline=stop_at)
            async with _cluster_asker(settings.cluster, resolver, settings.copies, report) as asker:
                if asker is not None:
                    # --concurrency is each worker's: the chains in flight grow with the cluster.
                    resolver = replace(resolver, concurrency=resolver.concurrency * len(asker.owners))
                with progress(len(links)) if progress is not None else nullcontext(lambda _: None) as advance:
                    try:
                        statuses = await resolve_and_save(
                            settings.db_path,
                            links,
                            run_id=run_id,
                            settings=resolver,
                            recheck_after=settings.recheck.after_days,
                            advance=advance,
                            stop_at=stop_at,
                            copies=settings.copies,
                            report=report,
                            asker=asker,
                        )
                    finally:
                        if asker is not None:
                            outcome.cluster_lost = list(asker.lost)
                if asker is not None:
                    outcome.cluster_requests = asker.requests
            outcome.links_left = len(links) - sum(statuses.values())
        if settings.captures.looks_up and not outcome.links_left:
            outcome.captures = await ask_archives(
                db, settings.captures, settings.resolver, run_id=run_id, report=report, stop_at=stop_at
            )


@asynccontextmanager
async def _cluster_asker(
    cluster: str | None, resolver: ResolverSettings, copies: CopySettings, report: Report
) -> AsyncIterator[ClusterAsker | None]:
    """Yield the cluster's asker when the run resolves on one (Dask loaded only then), else None."""
    if cluster is None:
        yield None
        return
    from ..cluster import hop_owners

    async with hop_owners(cluster, resolver, copy_limit=copies.limit, report=report) as asker:
        yield asker


def _within(exchange: Exchange, limit: int) -> Exchange:
    """Return an exchange whose body is cut to the copy limit."""
    if len(exchange.body) <= limit:
        return exchange
    return replace(exchange, body=exchange.body[:limit], truncated=True)


def _finish(db: store.Database, run_id: int, outcome: RunOutcome) -> None:
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
            error=outcome.error,
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
