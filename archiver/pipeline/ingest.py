"""The ingest stage: every source read into the archive, each failure reported by name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import store
from ..models import (
    ArchiverError,
    DatabaseError,
    ParseError,
    Platform,
    Post,
    SourceFormat,
    SourceStatus,
    SourceUnavailable,
)
from ..sources import (
    LIVE_FORMATS,
    Cursor,
    Fetched,
    Following,
    Paused,
    SourceEntry,
    detect_format,
    expand_source,
    is_url,
    parse_bytes,
    read_source,
    source_digest,
)

__all__ = ["Fetch", "Ingested", "Reading", "ReadingProgress", "Report", "ingest_sources"]

log = logging.getLogger(__name__)

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
    db: store.Database,
    sources: list[SourceEntry],
    *,
    fmt: str | None,
    run_id: int | None,
    fetch: Fetch,
    report: Report,
    text_column: str | None = None,
    stop_at: float | None = None,
    reading: ReadingProgress | None = None,
    following: Following | None = None,
) -> Ingested:
    """Read every source into the archive, reporting each failure by name and going on.

    A source's own format (a sources file's ``feed URL`` line) wins over ``fmt``;
    ``text_column`` names the text column of CSV sources.  Past ``stop_at`` (a
    ``time.monotonic()`` value, from --time-limit) no further source is read: they are
    read by the next run.
    ``fetch(url, etag=..., last_modified=...)`` returns a feed or page URL's body; it
    is given only what is left of ``stop_at``.  ``following`` reads the followed
    sources (``mastodon URL``, ``bluesky URL``, ``telegram URL``) and completes the cut
    links of Bluesky feeds.
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
                    following=following,
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
                if saved.posts_read or isinstance(saved.error, Paused):
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


def _own_files(db: store.Database) -> set[str]:
    path = _resolved(store.database_path(db))
    return {path, *(path + suffix for suffix in ("-wal", "-shm", "-journal", ".lock"))}


def _resolved(location: str) -> str:
    try:
        return str(Path(location).resolve())
    except (OSError, RuntimeError):
        return location


async def _ingest_one(
    db: store.Database,
    unit: str,
    *,
    fmt: str | None,
    run_id: int | None,
    fetch: Fetch,
    text_column: str | None,
    stop_at: float | None = None,
    public_name: str | None = None,
    counter: _ReadCounter | None = None,
    following: Following | None = None,
) -> store.Saved | None:
    """Read one file, archive or URL and store its posts; return what was added (None: unchanged)."""
    counter = counter or _ReadCounter(None)
    if fmt in LIVE_FORMATS:
        if not is_url(unit) or following is None:
            raise SourceUnavailable(f"{unit}: a {fmt} source is an http(s) address of an account or channel")
        return await _follow_one(
            db, unit, fmt, following, run_id=run_id, stop_at=stop_at, public_name=public_name, counter=counter
        )
    if not is_url(unit):
        digest = source_digest(unit)  # what was read, byte for byte
        reading = read_source(unit, fmt, text_column=text_column)  # opened once, format and posts
        saved = store.save_posts(db, counter.posts(reading.posts), run_id=run_id)
        _record(
            db, unit, reading.format, saved, public_name=public_name, digest=digest, members=reading.members
        )
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
    if fmt is None and previous.get("format") == SourceFormat.FEED and previous.get("last_status") in _READ:
        fmt = SourceFormat.FEED
    name = fmt or detect_format(unit, fetched.body[:8192])
    posts = parse_bytes(fetched.body, source=unit, fmt=name, text_column=text_column)
    if name == SourceFormat.FEED and following is not None:
        posts = await _completed(posts, following, stop_at)
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


async def _completed(posts: Iterator[Post], following: Following, stop_at: float | None) -> Iterator[Post]:
    """Return a feed's posts with the whole links of Bluesky posts whose text cut them.

    A feed is read whole (it is small); a failure part way is handed on after the
    posts before it.
    """
    read: list[Post] = []
    error: ArchiverError | None = None
    try:
        read.extend(posts)
    except ArchiverError as ex:
        error = ex
    if any(p.platform == Platform.BLUESKY and any(link.truncated for link in p.links) for p in read):
        # Should the AppView fail, the cut links stay cut: the next run asks again.
        with contextlib.suppress(TimeoutError, Paused):
            read = await asyncio.wait_for(following.complete_bluesky(read), _left(stop_at))
    return _then_raise(read, error)


def _then_raise(posts: list[Post], error: ArchiverError | None) -> Iterator[Post]:
    yield from posts
    if error is not None:
        raise error


def _left(stop_at: float | None) -> float | None:
    return None if stop_at is None else max(0.0, stop_at - time.monotonic())


async def _follow_one(
    db: store.Database,
    unit: str,
    fmt: str,
    following: Following,
    *,
    run_id: int | None,
    stop_at: float | None,
    public_name: str | None,
    counter: _ReadCounter,
) -> store.Saved:
    """Read a followed source from where its cursor says the last run stopped, a page at a time.

    Each page's posts are stored, then the cursor: a stop at any moment loses
    nothing, and the next run goes on from the last page stored.  A rate limit the
    run cannot wait for, or the time limit, leaves the rest for the next run.
    """
    previous = store.source_state(db, unit) or {}
    cursor = Cursor.from_json(previous.get("cursor"))
    follower = following.follower(unit, fmt)
    posts_added = links_added = posts_read = skipped = 0
    stopped: str | None = None
    pages = follower.pages(cursor)
    try:
        while True:
            try:
                page = await asyncio.wait_for(anext(pages), _left(stop_at))
            except StopAsyncIteration:
                break
            except TimeoutError:
                stopped = "stopped by the time limit"
                break
            except Paused as ex:
                stopped = str(ex)
                break
            except SourceUnavailable as ex:
                if not posts_read:
                    raise
                raise SourceUnavailable(f"{ex}; the {posts_read} post(s) read before were kept") from ex
            except ArchiverError:
                raise
            except Exception as ex:  # noqa: BLE001 - a source's failure is reported, never the run's
                raise SourceUnavailable(
                    f"{unit}: cannot be read past post {posts_read} ({type(ex).__name__}: {str(ex)[:200]})"
                ) from ex
            saved = store.save_posts(db, counter.posts(page.posts), run_id=run_id)
            cursor = page.cursor
            store.record_cursor(
                db,
                unit,
                cursor.to_json(),
                read_back_to=cursor.oldest_at,
                read_up_to=cursor.newest_at,
                whole_history=cursor.whole,
            )
            posts_added += saved.posts_added
            links_added += saved.links_added
            posts_read += saved.posts_read
            skipped += page.skipped
    finally:
        await pages.aclose()
    problems = [f"{skipped} item(s) could not be read as posts"] if skipped else []
    error: ArchiverError | None = ParseError(f"{unit}: {'; '.join(problems)}") if problems else None
    if stopped:
        # Left for the next run, which goes on from the cursor: not a failure.
        problems.append(f"{stopped}; the next run goes on from where this one stopped")
        error = Paused(f"{unit}: {'; '.join(problems)}")
    saved = store.Saved(posts_added, links_added, error, posts_read)
    _record(db, unit, fmt, saved, public_name=public_name)
    return saved


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _record(db: store.Database, unit: str, fmt: str | None, saved: store.Saved, **fetch: Any) -> None:
    status = (
        SourceStatus.OK
        if saved.error is None
        else (
            SourceStatus.PARTIAL
            if saved.posts_read or isinstance(saved.error, Paused)
            else SourceStatus.ERROR
        )
    )
    error = str(saved.error) if saved.error else None
    store.record_source(db, unit, status=status, fmt=fmt, error=error, saved=saved, **fetch)
