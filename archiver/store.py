"""The SQLite archive: opening it, writing posts and resolutions, and asking what is due."""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, overload

from sqlite_utils import Database

from .clock import add_seconds, utc_now
from .domains import domain_or_host
from .migrations import MIGRATIONS, VIEWS
from .models import (
    ArchiverError,
    DatabaseError,
    Fingerprint,
    LinkStatus,
    LookupStatus,
    Post,
    Probe,
    Resolution,
    RunStatus,
    SaveStatus,
    SourceStatus,
)
from .postkeys import post_key
from .rot import FirstGood, Verdict, judge
from .schema import ForeignSchema, check_schema, distrust_schema
from .urls import hostname, is_shortener, link_id

if TYPE_CHECKING:
    from .captures import LookupResult, SaveResult

__all__ = [
    "RETRY_SPACING",
    "Saved",
    "checkpoint",
    "database_path",
    "finish_run",
    "links_due",
    "list_sources",
    "open_database",
    "record_source",
    "reopen",
    "save_posts",
    "save_resolutions",
    "snapshot",
    "source_state",
    "start_run",
    "stats",
    "table_rows",
]

# How long a failed link rests before the next try, by how many times in a row it
# has failed: a host that is down for a minute is tried again within the hour, a
# dead one only weekly.
RETRY_SPACING = (3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)

log = logging.getLogger(__name__)

# Posts per transaction.  A kill loses at most one batch, which the next run reads
# again; readers never wait (WAL).  Each commit writes every index page the batch
# touched, so small batches cost: 100,000 tweets take 7.5 s at 500, 5.5 s at 5,000.
BATCH_SIZE = 5000
INGEST_CACHE_KIB = 8 * 1024

T = TypeVar("T")

# Rows a multi-row INSERT carries at most; fewer where the SQLite library allows
# fewer parameters a statement (999 before SQLite 3.32).
ROWS_PER_STATEMENT = 1000

# Statuses checked again after --recheck-after days; failures follow their back-off.
RECHECKED_STATUSES = (LinkStatus.OK, LinkStatus.BLOCKED)

# Statuses that no later request can change: the link itself is unusable.
PERMANENT_STATUSES = frozenset({LinkStatus.INVALID})


def open_database(path: str | os.PathLike[str]) -> Database:
    """Return the archive at ``path``, creating or upgrading its tables as needed."""
    path = Path(path)
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True)
        db = Database(path)
        db.execute("PRAGMA busy_timeout = 30000")
        _check_schema(db, path, views=False)
        db.enable_wal()
        _configure(db)
        # The views are made anew below: none of a file's own runs while it is upgraded.
        for name in db.view_names():
            db.execute(f"drop view if exists [{name}]")
        MIGRATIONS.apply(db)
        for name, sql in VIEWS.items():
            db.create_view(name, sql.strip(), replace=True)
    except (sqlite3.Error, OSError) as ex:
        raise DatabaseError(f"{path}: {_describe(ex)}") from ex
    return db


def _check_schema(db: Database, path: Path, *, views: bool) -> None:
    try:
        check_schema(db, views=views)
    except ForeignSchema as ex:
        db.close()
        raise ForeignSchema(f"{path}: {ex}") from ex


def open_read_only(path: str | os.PathLike[str]) -> Database:
    """Return the archive at ``path`` opened for reading only, for where it cannot be written.

    A database in write-ahead-log mode needs its ``-shm`` file even to be read; in a
    folder or on a disk that is read-only, that file cannot be made, so the archive is
    opened immutable (nothing can write it there either).  An archive whose tables are
    older than this archiver cannot be upgraded there, and says so.
    """
    path = Path(path)
    uri = path.resolve().as_uri()
    error: sqlite3.Error | None = None
    for mode in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True)
            distrust_schema(conn)
            conn.execute("select count(*) from sqlite_master").fetchone()
        except sqlite3.Error as ex:
            error = ex
            continue
        db = Database(conn)
        _check_schema(db, path, views=True)
        if MIGRATIONS.pending(db):
            db.close()
            raise DatabaseError(
                f"{path}: made by an older archiver, and cannot be brought up to date where it cannot "
                "be written; run archiver once where it can"
            )
        return db
    raise DatabaseError(f"{path}: {_describe(error or sqlite3.Error('cannot be opened'))}")


def database_path(db: Database) -> str:
    """Return the file an open archive lives in."""
    return str(db.conn.execute("pragma database_list").fetchone()[2])


def reopen(path: str) -> Database:
    """Return another connection to an archive already opened once, e.g. for a writer thread."""
    other = Database(path)
    _configure(other)
    return other


def _configure(db: Database) -> None:
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")


def _describe(error: BaseException) -> str:
    message = str(error)
    if "file is not a database" in message or "malformed" in message:
        return f"not a usable SQLite database ({message}); move it aside to start a new archive"
    if "readonly" in message or "unable to open" in message or isinstance(error, PermissionError):
        return f"cannot write the database ({message}); check the file and its directory are writable"
    if "disk" in message and "full" in message:
        return f"the disk is full ({message})"
    return message


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _writes(function: Callable[Concatenate[Database, _P], _R]) -> Callable[Concatenate[Database, _P], _R]:
    """Make an SQLite failure of a write (a full disk, a read-only file) a DatabaseError."""

    def write(db: Database, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(db, *args, **kwargs)
        except sqlite3.Error as ex:
            raise DatabaseError(f"{database_path(db)}: {_describe(ex)}") from ex

    functools.update_wrapper(write, function)
    return write


@_writes
def start_run(db: Database, command: str, *, now: str | None = None) -> int:
    """Record the start of a run and return its id.

    Call it holding the run lock (``runlock.run_lock``): a run still marked 'running'
    then ended without saying so (killed, or the machine went down), and is marked
    'unfinished'.
    """
    with db.conn:
        db.execute("update runs set status = ? where status = ?", [RunStatus.UNFINISHED, RunStatus.RUNNING])
        row = {"command": command, "started_at": now or utc_now(), "status": RunStatus.RUNNING}
        table = db.table("runs").insert(row)
    return int(table.last_pk or 0)


def run_counts(db: Database, run_id: int) -> dict[str, Any]:
    """Return what a run stored, counted in the archive itself, however the run ended.

    ``posts_added`` and ``links_added`` are the posts and links first stored by it;
    ``checks`` maps each status to the checks it saved.
    """
    return {
        "posts_added": db.execute("select count(*) from posts where run_id = ?", [run_id]).fetchone()[0],
        "links_added": db.execute("select count(*) from links where run_id = ?", [run_id]).fetchone()[0],
        "checks": dict(
            db.execute(
                "select status, count(*) from checks where run_id = ? group by status order by status",
                [run_id],
            ).fetchall()
        ),
    }


@_writes
def finish_run(
    db: Database, run_id: int, counts: dict[str, int], *, status: RunStatus = RunStatus.COMPLETED
) -> None:
    """Record the end of a run with its counts."""
    db.table("runs").update(run_id, {**counts, "finished_at": utc_now(), "status": status})


def checkpoint(db: Database) -> bool:
    """Copy the write-ahead log into the database and empty it; False if a reader held it.

    For the end of a run: while Datasette keeps the archive open, SQLite never removes
    the log, which would otherwise keep the size of the largest run.
    """
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy


@dataclass(frozen=True, slots=True)
class Saved:
    """What storing a source's posts added, and the source's own error, if it broke."""

    posts_added: int
    links_added: int
    error: ArchiverError | None = None
    posts_read: int = field(default=0, compare=False)  # new or already stored


def save_posts(db: Database, posts: Iterable[Post], *, run_id: int | None = None) -> Saved:
    """Store new posts, their links and which post shows which link; return what was added.

    Posts and links already stored are left as they are, so ingesting a source
    twice changes nothing.  A source that breaks half way keeps its good half: the
    posts read before the fault are stored and the fault is returned, not raised.
    """
    posts_added = links_added = posts_read = 0
    # 8 MB of page cache rather than SQLite's 2 MB, for the connection that ingests: a
    # large ingest updates five indexes and two full-text indexes at once, and with the
    # default cache a tenth of its time goes to reading back pages it has just written.
    db.execute(f"PRAGMA cache_size = -{INGEST_CACHE_KIB}")
    iterator = iter(posts)
    error: ArchiverError | None = None
    while error is None:
        batch: list[Post] = []
        try:
            batch.extend(islice(iterator, BATCH_SIZE))
        except ArchiverError as ex:
            error = ex
        if not batch:
            break
        posts_read += len(batch)
        added = _save_post_batch(db, batch, run_id=run_id)
        posts_added += added[0]
        links_added += added[1]
    return Saved(posts_added, links_added, error, posts_read)


def _save_post_batch(db: Database, batch: list[Post], *, run_id: int | None) -> tuple[int, int]:
    now = utc_now()
    posts: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, Any]] = {}
    post_links: dict[tuple[str, str], dict[str, Any]] = {}
    for post in batch:
        row = _post_row(post, now, run_id)
        post_id = row["id"]  # cleaned: the key post_links refer to
        posts.setdefault(post_id, row)
        for found in post.links:
            lid = link_id(found.url)
            link = _link_row(found.url, lid, now, found.truncated, found.expanded_url) | {"run_id": run_id}
            links[lid] = _better_link_row(links[lid], link) if lid in links else link
            post_links.setdefault(
                (post_id, lid),
                {
                    "post_id": post_id,
                    "link_id": lid,
                    "position": found.position,
                    "found_by": found.found_by,
                    "display_url": _clean(found.display),
                },
            )
    try:
        with db.atomic():
            new_posts = _missing(db, "posts", list(posts))
            known = _known_links(db, list(links))
            new_links = [i for i in links if i not in known]
            _insert(db, "posts", [posts[i] for i in new_posts])
            _insert(db, "links", [links[i] for i in new_links])
            _insert(db, "post_links", list(post_links.values()), ignore=True)
            _complete_known_links(db, known, links, now)
    except sqlite3.Error as ex:
        raise DatabaseError(f"{database_path(db)}: {_describe(ex)}") from ex
    return len(new_posts), len(new_links)


def _insert(db: Database, table: str, rows: list[dict[str, Any]], *, ignore: bool = False) -> None:
    """Insert rows many to a statement: a large archive is 100,000s of them.

    One statement for many rows rather than one a row: SQLite opens a savepoint for
    each statement, and at each savepoint the full-text index writes out what it
    has gathered, so row-at-a-time inserts leave it thousands of tiny segments to
    merge (ten times the work of the inserts themselves).
    """
    if not rows:
        return
    columns = list(dict.fromkeys(column for row in rows for column in row))
    head = f"insert {'or ignore ' if ignore else ''}into {table} ({', '.join(columns)}) values "
    one = "(" + ", ".join("?" * len(columns)) + ")"
    variables = db.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(ROWS_PER_STATEMENT, variables // len(columns)))
    for chunk in _chunks(rows, per_statement):
        values = [row.get(c) for row in chunk for c in columns]
        db.conn.execute(head + ", ".join([one] * len(chunk)), values)


def _missing(db: Database, table: str, ids: list[str]) -> list[str]:
    found: set[str] = set()
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        found.update(row[0] for row in db.execute(f"select id from {table} where id in ({marks})", chunk))
    return [i for i in ids if i not in found]


def _post_row(post: Post, now: str, run_id: int | None) -> dict[str, Any]:
    return {
        "id": post_key(_clean(post.platform), _clean(post.id), _clean(post.id_scope)),
        "platform": _clean(post.platform),
        "author_name": _clean(post.author_name),
        "author_handle": _clean(post.author_handle),
        "text": _clean(post.text),
        "posted_at": _clean(post.posted_at),
        "url": _clean(post.url),
        "source": _clean(post.source),
        "hashtags": json.dumps([_clean(tag) for tag in post.hashtags], ensure_ascii=False),
        "mentions": json.dumps([_clean(name) for name in post.mentions], ensure_ascii=False),
        "first_seen_at": now,
        "run_id": run_id,
        "hashtags_folded": folded_tags([_clean(tag) for tag in post.hashtags]),
        "author_handle_folded": _clean(post.author_handle).casefold() if post.author_handle else None,
    }


def folded_tags(tags: Iterable[str]) -> str:
    """Return hashtags as one JSON array in one case (#AI and #ai are one facet value)."""
    return json.dumps(list(dict.fromkeys(tag.casefold() for tag in tags)), ensure_ascii=False)


def _better_link_row(kept: dict[str, Any], seen: dict[str, Any]) -> dict[str, Any]:
    """Return the row of a link seen twice in a batch: whole over cut off, with an expansion."""
    if kept.get("status") == LinkStatus.TRUNCATED and seen.get("status") != LinkStatus.TRUNCATED:
        kept = seen | {"expanded_url": seen["expanded_url"] or kept["expanded_url"]}
    elif kept["expanded_url"] is None and seen["expanded_url"] is not None:
        kept = kept | {"expanded_url": seen["expanded_url"]}
    return kept


def _known_links(db: Database, ids: list[str]) -> dict[str, tuple[bool, bool]]:
    """Return, for the links already stored, whether each is cut off and has an expansion."""
    found: dict[str, tuple[bool, bool]] = {}
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        sql = f"select id, status is 'truncated', expanded_url is not null from links where id in ({marks})"
        found.update((row[0], (bool(row[1]), bool(row[2]))) for row in db.execute(sql, chunk))
    return found


def _complete_known_links(
    db: Database, known: dict[str, tuple[bool, bool]], rows: dict[str, dict[str, Any]], now: str
) -> None:
    """Complete links already stored with what this batch knows of them.

    A link first seen cut off (``invalid``/``truncated``) and now given whole by a
    source becomes due; an expansion a source gives is recorded where none was.
    Neither ever undoes what an earlier source said: a whole link seen cut off in a
    later post stays whole, a recorded expansion stays.
    """
    whole, expansions = [], []
    for lid, (truncated, expanded) in known.items():
        row = rows[lid]
        if truncated and row.get("status") != LinkStatus.TRUNCATED:
            whole.append((now, lid))
        if not expanded and row["expanded_url"] is not None:
            expansions.append((row["expanded_url"], lid))
    if whole:
        db.conn.executemany(
            "update links set status = 'pending', error = null, next_check_at = ? "
            "where id = ? and status = 'truncated'",
            whole,
        )
    if expansions:
        db.conn.executemany(
            "update links set expanded_url = ? where id = ? and expanded_url is null", expansions
        )


@overload
def _clean(text: str) -> str: ...


@overload
def _clean(text: None) -> None: ...


def _clean(text: str | None) -> str | None:
    """Return text SQLite can hold and every tool can read: no NUL, no lone surrogate.

    A lone surrogate (JSON's ``"\\ud800"``) cannot be encoded as UTF-8 at all; it
    becomes U+FFFD, as an undecodable byte does when a source is read.
    """
    if text is None or (text.isascii() and "\x00" not in text):
        return text
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def _link_row(url: str, lid: str, now: str, truncated: bool, expanded_url: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": lid,
        "url": url,
        "host": hostname(url),
        "is_shortener": int(is_shortener(url)),
        "expanded_url": expanded_url,
        "status": LinkStatus.PENDING,
        "first_seen_at": now,
        "consecutive_failures": 0,
        "next_check_at": now,
    }
    if truncated:
        # Cut short by an ellipsis: requesting it would record someone else's link.
        row.update(status=LinkStatus.TRUNCATED, next_check_at=None)
    return row


def source_state(db: Database, location: str) -> dict[str, Any] | None:
    """Return what is recorded about a source (ETag, Last-Modified, last status), or None."""
    return next(db.query("select * from sources where location = ?", [location]), None)


@_writes
def record_source(
    db: Database,
    location: str,
    *,
    status: SourceStatus,
    fmt: str | None = None,
    error: str | None = None,
    http_status: int | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    saved: Saved | None = None,
    public_name: str | None = None,
) -> None:
    """Record the outcome of reading a source; keep its validators when none came back.

    ``public_name`` is what a public copy shows instead of the location (a name the
    sources file gives it); None shows the file name.
    """
    now = utc_now()
    previous = source_state(db, location) or {}
    row: dict[str, Any] = {
        "location": location,
        "format": fmt or previous.get("format"),
        "first_seen_at": previous.get("first_seen_at") or now,
        "last_fetched_at": now,
        "last_status": status,
        "last_error": error,
        "http_status": http_status,
        "etag": etag if etag is not None else previous.get("etag"),
        "last_modified": last_modified if last_modified is not None else previous.get("last_modified"),
        "posts_added": saved.posts_added if saved is not None else 0,
        "public_name": public_name,
    }
    db.table("sources").upsert(row, pk="location")


def list_sources(db: Database) -> list[dict[str, Any]]:
    """Return every recorded source with the number of posts stored from it."""
    return list(
        db.query(
            "select sources.*, (select count(*) from posts where posts.source = sources.location "
            "or posts.source like sources.location || '!%') as posts "
            "from sources order by location"
        )
    )


def links_due(
    db: Database,
    *,
    now: str | None = None,
    recheck_after_days: float = 30,
    recheck_all: bool = False,
    limit: int | None = None,
) -> list[tuple[str, str | None]]:
    """Return (url, expanded_url) of the links to resolve now: new first, then failed and stale as due.

    A good (or blocked) link is due once its last check is older than
    ``recheck_after_days`` of this run, whatever the run that checked it used, so a
    shorter ``--recheck-after`` (0: everything now) applies at once.  A failed link
    keeps its back-off schedule (``next_check_at``).
    """
    where = "status is not 'truncated'"
    params: list[Any] = []
    if not recheck_all:
        now = now or utc_now()
        where += (
            f" and (case when status in ({', '.join(repr(s.value) for s in RECHECKED_STATUSES)}) "
            "then last_checked_at <= ? else next_check_at <= ? end)"
        )
        params += [add_seconds(now, -recheck_after_days * 86400), now]
    sql = (
        f"select url, expanded_url from links where {where} "
        "order by status = 'pending' desc, next_check_at, first_seen_at"
    )
    if limit is not None:
        sql += " limit ?"
        params.append(limit)
    return [(row[0], row[1]) for row in db.execute(sql, params)]


@_writes
def save_resolutions(
    db: Database,
    resolutions: Iterable[Resolution],
    *,
    run_id: int | None = None,
    recheck_after_days: float = 30,
) -> None:
    """Store a batch of resolutions in one transaction: links, redirect chains and checks.

    A failed check never erases a previous good one: the last good final URL and its
    redirect chain stay, while status, error and the failure counters record the
    failure.
    """
    batch = list(resolutions)
    if not batch:
        return
    ids = [link_id(r.url) for r in batch]
    updates: list[dict[str, Any]] = []
    replaced: list[tuple[str]] = []
    hops: list[tuple[Any, ...]] = []
    checks: list[tuple[Any, ...]] = []
    probes: dict[str, Probe] = {}
    with db.atomic():
        current = _current_links(db, ids)
        first_good = _first_good_checks(db, ids)
        for lid, resolution in zip(ids, batch, strict=True):
            previous = current.get(lid)
            if previous is None:
                continue  # a link deleted while it was being resolved
            verdict = judge(resolution, first_good=first_good.get(lid))
            try:
                update, keep_chain = _link_update(previous, resolution, recheck_after_days)
            except (ValueError, OverflowError) as ex:
                # One result that cannot be stored never costs the others of its batch;
                # the link stays as it was, due again.
                log.warning("%s: result not stored (%s)", resolution.url, ex)
                continue
            update.update(_rot_update(previous, verdict, resolution.checked_at))
            updates.append({**previous, **update})
            if not keep_chain:
                replaced.append((lid,))
                hops += [(lid, i, h.url, h.status_code, h.via) for i, h in enumerate(resolution.hops)]
            if resolution.ok and lid not in first_good:
                first_good[lid] = _first_good_of(resolution)  # a link twice in a batch
            final_domain = domain_or_host(hostname(resolution.final_url or ""))
            page = resolution.fingerprint or Fingerprint()
            checks.append(
                (
                    lid,
                    run_id,
                    resolution.checked_at,
                    resolution.status,
                    resolution.http_status,
                    resolution.final_url,
                    final_domain,
                    _redirect_count(resolution),
                    resolution.error,
                    resolution.title if resolution.ok else None,
                    page.canonical_url,
                    page.og_title,
                    page.site_name,
                    page.language,
                    page.text_hash,
                    page.words if resolution.fingerprint is not None else None,
                    verdict.rot,
                    verdict.evidence,
                )
            )
            if resolution.probe is not None:
                probes.setdefault(resolution.probe.origin, resolution.probe)
        # One statement a table for the whole batch: the loop never waits long on SQLite.
        db.conn.executemany(
            f"update links set {', '.join(f'{c} = :{c}' for c in _RESOLUTION_COLUMNS)} where id = :id",
            updates,
        )
        db.conn.executemany("delete from redirects where link_id = ?", replaced)
        db.conn.executemany(
            "insert into redirects (link_id, hop, url, status_code, via) values (?, ?, ?, ?, ?)", hops
        )
        db.conn.executemany(
            "insert into checks (link_id, run_id, checked_at, status, http_status, final_url, "
            "final_domain, hops, error, title, canonical_url, og_title, site_name, language, "
            "text_hash, words, rot, rot_evidence) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            checks,
        )
        _save_probes(db, probes.values(), run_id)


def _save_probes(db: Database, probes: Iterable[Probe], run_id: int | None) -> None:
    """Record each host's probe once a run (a probe answers for every link of its host)."""
    rows = []
    for probe in probes:
        if (
            run_id is not None
            and db.execute(
                "select 1 from probes where run_id = ? and origin = ?", [run_id, probe.origin]
            ).fetchone()
        ):
            continue
        page = probe.fingerprint or Fingerprint()
        rows.append(
            (
                run_id,
                probe.origin,
                probe.url,
                probe.checked_at,
                probe.status,
                probe.http_status,
                probe.final_url,
                page.title,
                page.text_hash,
            )
        )
    db.conn.executemany(
        "insert into probes (run_id, origin, url, checked_at, status, http_status, final_url, title, "
        "text_hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _first_good_checks(db: Database, ids: list[str]) -> dict[str, FirstGood]:
    """Return what the first good check of each link saw, for the links that had one."""
    found: dict[str, FirstGood] = {}
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            "select link_id, checked_at, final_domain, title, text_hash from checks where id in ("
            f"select min(id) from checks where status = ? and link_id in ({marks}) group by link_id)",
            [LinkStatus.OK, *chunk],
        )
        for link, checked_at, final_domain, title, text_hash in rows.fetchall():
            found[link] = FirstGood(checked_at, final_domain, title, text_hash)
    return found


def _first_good_of(resolution: Resolution) -> FirstGood:
    page = resolution.fingerprint or Fingerprint()
    return FirstGood(
        resolution.checked_at,
        domain_or_host(hostname(resolution.final_url or "")),
        resolution.title,
        page.text_hash,
    )


def _rot_update(previous: dict[str, Any], verdict: Verdict, checked_at: str) -> dict[str, Any]:
    """Return the link's rot columns after a check: since when it has had its verdict."""
    if verdict.rot is None:
        return {"rot": None, "rot_evidence": None, "rot_since": None}
    since = previous.get("rot_since") if previous.get("rot") == verdict.rot else checked_at
    return {"rot": verdict.rot, "rot_evidence": verdict.evidence, "rot_since": since or checked_at}


# The links columns a resolution may change.
_RESOLUTION_COLUMNS = (
    "status",
    "http_status",
    "error",
    "last_checked_at",
    "final_url",
    "final_host",
    "final_domain",
    "hops",
    "title",
    "resolved_at",
    "last_ok_at",
    "first_failed_at",
    "consecutive_failures",
    "next_check_at",
    "rot",
    "rot_evidence",
    "rot_since",
)


def _current_links(db: Database, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        for row in db.query(f"select * from links where id in ({marks})", chunk):
            rows[row["id"]] = row
    return rows


def _redirect_count(resolution: Resolution) -> int:
    return sum(1 for hop in resolution.hops if hop.via is not None)


def _link_update(
    previous: dict[str, Any], resolution: Resolution, recheck_after_days: float
) -> tuple[dict[str, Any], bool]:
    """Return the links row's new values, and whether the stored redirect chain is kept."""
    checked_at = resolution.checked_at
    update: dict[str, Any] = {
        "status": resolution.status,
        "http_status": resolution.http_status,
        "error": resolution.error,
        "last_checked_at": checked_at,
    }
    final = {
        "final_url": resolution.final_url,
        "final_host": hostname(resolution.final_url or "") or None,
        "final_domain": domain_or_host(hostname(resolution.final_url or "")),
        "hops": _redirect_count(resolution),
        "title": resolution.title,
    }
    if resolution.ok:
        update.update(final)
        update.update(
            resolved_at=checked_at,
            last_ok_at=checked_at,
            first_failed_at=None,
            consecutive_failures=0,
            next_check_at=add_seconds(checked_at, recheck_after_days * 86400),
        )
        return update, False
    failures = int(previous.get("consecutive_failures") or 0) + 1
    had_good = previous.get("last_ok_at") is not None
    if not had_good:
        update.update(final)
    update.update(
        consecutive_failures=failures,
        first_failed_at=previous.get("first_failed_at") or checked_at,
        next_check_at=_next_try(resolution, failures, recheck_after_days),
    )
    return update, had_good


def _next_try(resolution: Resolution, failures: int, recheck_after_days: float) -> str | None:
    if resolution.status in PERMANENT_STATUSES:
        return None
    if resolution.status == LinkStatus.BLOCKED:
        return add_seconds(resolution.checked_at, recheck_after_days * 86400)
    spacing: float = RETRY_SPACING[min(failures, len(RETRY_SPACING)) - 1]
    if resolution.retry_after:
        spacing = max(spacing, resolution.retry_after)
    return add_seconds(resolution.checked_at, spacing)


# -- web-archive captures ---------------------------------------------------------------

# Links whose captures are never looked up: not requested, or not to be told to anyone.
NOT_LOOKED_UP = (LinkStatus.PENDING, LinkStatus.BLOCKED, LinkStatus.INVALID, LinkStatus.TRUNCATED)
# When a URL's captures are looked up again, by what the last lookup found.
LOOKUP_AGAIN_NONE_DAYS = 7.0  # none yet: a capture may appear (or be asked for)
LOOKUP_AGAIN_FAILED_SECONDS = 86400.0


def links_due_for_lookup(
    db: Database, *, now: str | None = None, limit: int = 500
) -> list[tuple[str, str, str | None]]:
    """Return (link id, URL, near) of the URLs whose captures are due to be looked up.

    A link's final URL, and its own URL too when its check failed (the chain may have
    died before reaching a page).  ``near`` is the earliest date of the posts carrying
    the link, else when it was first seen.  Dead links first.
    """
    now = now or utc_now()
    skipped = ", ".join(f"'{s}'" for s in NOT_LOOKED_UP)
    rows = db.execute(
        f"""
        with wanted as (
          select id, final_url as url, status, first_seen_at from links
            where status not in ({skipped}) and final_url is not null
          union
          select id, url, status, first_seen_at from links
            where status not in ({skipped}, '{LinkStatus.OK}')
        )
        select wanted.id, wanted.url,
          coalesce((select min(posts.posted_at) from post_links join posts on posts.id = post_links.post_id
                    where post_links.link_id = wanted.id), wanted.first_seen_at) as near
        from wanted
        where not exists (
          select 1 from capture_lookups l
          where l.link_id = wanted.id and l.url = wanted.url and l.next_lookup_at > ?
        )
        order by wanted.status = '{LinkStatus.OK}', wanted.first_seen_at, wanted.url
        limit ?
        """,
        [now, limit],
    )
    return [(row[0], row[1], row[2]) for row in rows.fetchall()]


@_writes
def save_lookups(
    db: Database,
    results: Iterable[LookupResult],
    *,
    lookup_every_days: float = 30.0,
    run_id: int | None = None,
) -> None:
    """Store what archives said of links' URLs, and the best capture on each link.

    ``results`` are ``captures.LookupResult``; a link keeps as ``archived_url`` the
    capture closest to its earliest post (of any of its URLs, an archive's good
    capture before one it got an error for), and the count of captures in all.
    """
    touched: set[str] = set()
    with db.atomic():
        for result in results:
            job, summary = result.job, result.summary
            if result.status == LookupStatus.FAILED:
                wait = max(LOOKUP_AGAIN_FAILED_SECONDS, result.retry_after or 0.0)
            elif result.status == LookupStatus.NONE:
                wait = LOOKUP_AGAIN_NONE_DAYS * 86400
            else:
                wait = lookup_every_days * 86400
            db.execute(
                "insert or replace into capture_lookups (link_id, url, archive, looked_up_at, status, "
                "captures, capped, near, error, next_lookup_at, run_id) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    job.link_id,
                    job.url,
                    result.archive,
                    result.looked_up_at,
                    result.status,
                    summary.count if summary else None,
                    int(summary.capped) if summary else None,
                    job.near,
                    result.error,
                    add_seconds(result.looked_up_at, wait),
                    run_id,
                ],
            )
            if summary is None or result.status == LookupStatus.FAILED:
                continue
            db.execute(
                "delete from captures where link_id = ? and url = ? and archive = ? and roles != 'saved'",
                [job.link_id, job.url, result.archive],
            )
            roles: dict[str, list[str]] = {}
            kept = {}
            for role, capture in (
                ("first", summary.first),
                ("closest", summary.closest),
                ("latest", summary.latest),
            ):
                if capture is not None:
                    roles.setdefault(capture.url, []).append(role)
                    kept[capture.url] = capture
            for url, capture in kept.items():
                db.execute(
                    "insert or replace into captures (link_id, capture_url, url, archive, captured_at, "
                    "http_status, roles, found_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        job.link_id,
                        url,
                        job.url,
                        result.archive,
                        capture.captured_at,
                        capture.http_status,
                        ",".join(roles[url]),
                        result.looked_up_at,
                    ],
                )
            touched.add(job.link_id)
        for link in touched:
            _summarise_captures(db, link)


def _summarise_captures(db: Database, link: str) -> None:
    """Set a link's archived_url / archived_at / capture_count from its stored captures."""
    near_row = db.execute(
        "select min(near) from capture_lookups where link_id = ? and near is not null", [link]
    ).fetchone()
    near = near_row[0] if near_row else None
    best = db.execute(
        """
        select capture_url, captured_at from captures where link_id = ?
        order by (http_status is null or http_status between 200 and 399) desc,
          (',' || roles || ',') like '%,closest,%' desc,
          abs(julianday(captured_at) - julianday(coalesce(?, captured_at))), captured_at
        limit 1
        """,
        [link, near],
    ).fetchone()
    count = db.execute(
        "select sum(captures) from capture_lookups where link_id = ? and status = ?",
        [link, LookupStatus.FOUND],
    ).fetchone()[0]
    db.execute(
        "update links set archived_url = ?, archived_at = ?, capture_count = ? where id = ?",
        [best[0] if best else None, best[1] if best else None, count or 0, link],
    )


def links_to_save(db: Database, *, now: str | None = None, limit: int = 100) -> list[tuple[str, str]]:
    """Return (link id, final URL) of live links that no archive has a capture of, not asked lately.

    A link qualifies once every archive looked up its final URL and found none, and no
    capture of it was asked for in the last 30 days.
    """
    now = now or utc_now()
    rows = db.execute(
        f"""
        select links.id, links.final_url from links
        where links.status = '{LinkStatus.OK}' and links.final_url is not null
          and exists (select 1 from capture_lookups l where l.link_id = links.id and l.url = links.final_url)
          and not exists (
            select 1 from capture_lookups l where l.link_id = links.id and l.url = links.final_url
              and l.status != '{LookupStatus.NONE}')
          and not exists (
            select 1 from capture_requests r where r.link_id = links.id and r.url = links.final_url
              and (r.requested_at > ? or r.status = '{SaveStatus.PENDING}'))
        order by links.first_seen_at, links.rowid
        limit ?
        """,
        [add_seconds(now, -30 * 86400), limit],
    )
    return [(row[0], row[1]) for row in rows.fetchall()]


def saves_since(db: Database, since: str) -> int:
    """Return how many captures were asked for since ``since``."""
    return int(
        db.execute("select count(*) from capture_requests where requested_at > ?", [since]).fetchone()[0]
    )


def pending_saves(db: Database) -> list[dict[str, Any]]:
    """Return the capture requests the archive has not answered yet, oldest first."""
    return list(
        db.query(
            "select * from capture_requests where status = ? order by requested_at", [SaveStatus.PENDING]
        )
    )


@_writes
def save_capture_request(
    db: Database, result: SaveResult, *, archive: str, run_id: int | None, request_id: int | None = None
) -> int:
    """Record a capture request (``captures.SaveResult``) or where it now stands; return its id.

    A capture made is also a capture of the link, and its lookup is due again.
    """
    row = {
        "link_id": result.job.link_id,
        "url": result.job.url,
        "archive": archive,
        "requested_at": result.requested_at,
        "status": result.status,
        "job_id": result.job_id,
        "capture_url": result.capture_url,
        "captured_at": result.captured_at,
        "message": result.message,
        "run_id": run_id,
    }
    with db.atomic():
        if request_id is None:
            cursor = db.execute(
                f"insert into capture_requests ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            request_id = int(cursor.lastrowid or 0)
        else:
            db.table("capture_requests").update(request_id, {k: v for k, v in row.items() if k != "run_id"})
        if result.status == SaveStatus.SAVED and result.capture_url:
            db.execute(
                "insert or ignore into captures (link_id, capture_url, url, archive, captured_at, "
                "http_status, roles, found_at) values (?, ?, ?, ?, ?, null, 'saved', ?)",
                [
                    result.job.link_id,
                    result.capture_url,
                    result.job.url,
                    archive,
                    result.captured_at,
                    utc_now(),
                ],
            )
            db.execute(
                "update capture_lookups set next_lookup_at = ? where link_id = ? and url = ?",
                [utc_now(), result.job.link_id, result.job.url],
            )
            _summarise_captures(db, result.job.link_id)
    return request_id


def snapshot(db: Database, target: str | os.PathLike[str], *, public: bool = False) -> None:
    """Write a consistent copy of the archive to ``target``, replacing any older copy at once.

    A ``public`` copy names local sources by their file name only (``posts.source``,
    ``sources.location``): the folders of the machine that built the archive can say
    whose it is, or who a source is.  URLs stay.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        db.execute("VACUUM INTO ?", [str(partial)])
        if public:
            _without_local_paths(partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as ex:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"{target}: cannot write the snapshot: {_describe(ex)}") from ex


def public_source_name(location: str | None) -> str | None:
    """Return how a public copy names a source: a URL as it is, a local file by its name.

    A member of an archive keeps its path inside the archive (``export.zip!data/tweets.js``).
    """
    if not location or location.startswith(("http://", "https://")):
        return location
    outer, bang, inner = location.partition("!")
    name = outer.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or outer
    return f"{name}{bang}{inner}"


def _without_local_paths(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("select location, public_name from sources where public_name is not null")
        names: dict[str, str] = {str(location): str(name) for location, name in rows}

        def public(location: str | None) -> str | None:
            if location in names:
                return names[location]
            outer, bang, inner = (location or "").partition("!")
            if bang and outer in names:  # a member of a named archive
                return f"{names[outer]}!{inner}"
            return public_source_name(location)

        conn.create_function("public_source", 1, public, deterministic=True)
        conn.execute("update posts set source = public_source(source)")
        conn.execute("update sources set location = public_source(location), public_name = null")
    conn.close()


def table_rows(db: Database, name: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Return the columns and the rows (streamed) of a table or view, by name."""
    if name not in db.table_names() and name not in db.view_names():
        names = [*db.table_names(), *db.view_names()]
        known = ", ".join(sorted(t for t in names if not t.startswith("_") and "_fts" not in t))
        raise KeyError(f"no table or view named {name!r} (known: {known})")
    columns = [c.name for c in db[name].columns]
    return columns, db.query(f"select * from [{name}]")


def query_rows(db: Database, sql: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Return the columns and the rows (streamed) of a read-only query (a canned query's SQL)."""
    try:
        cursor = db.conn.execute(f"select * from ({sql})")
    except sqlite3.Error as ex:
        raise DatabaseError(f"{database_path(db)}: the query failed: {ex}") from ex
    columns = [d[0] for d in cursor.description]
    return columns, (dict(zip(columns, row, strict=True)) for row in cursor)


def stats(db: Database, *, top: int = 10) -> dict[str, Any]:
    """Return counts of posts and links, links by status, and the top final domains."""
    return {
        "posts": db.table("posts").count,
        "links": db.table("links").count,
        "by_status": dict(
            db.execute("select status, count(*) from links group by status order by count(*) desc").fetchall()
        ),
        "top_domains": db.execute(
            "select final_domain, count(*) from links where final_domain is not null "
            "group by final_domain order by count(*) desc, final_domain limit ?",
            [top],
        ).fetchall(),
        "runs": db.table("runs").count,
        "last_run": next(db.query("select * from runs order by id desc limit 1"), None),
    }


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
