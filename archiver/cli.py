"""The ``archiver`` command line: thin commands over the library."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from sqlite_utils import Database

from . import __version__, pipeline, publish, store
from .clock import utc_now
from .export import EXPORT_FORMATS, write_rows
from .http import WEB_PORTS
from .models import AlreadyRunning, ArchiverError, DatabaseError
from .resolve import DEFAULT_USER_AGENT, ResolverSettings
from .runlock import EXIT_ALREADY_RUNNING, run_lock
from .sources import SOURCES, SourceEntry, read_source_list
from .sources.fetch import Fetched, fetch_source

DEFAULT_DB = "data/archive.db"
# An archive folder holds the database, its list of sources and an inbox: with no
# SOURCE, archive reads SOURCES_FILE and every file under INBOX beside the database.
SOURCES_FILE = "sources.txt"
INBOX = "inbox"
SOURCES_TEMPLATE = """\
# Sources archived by `archiver archive` when it is given no SOURCE.
# One source a line: a file, a folder (every file in it) or an http(s) URL of a
# feed or page. Relative paths are relative to this file's folder. Lines that
# start with # are comments. Every file under inbox/ (beside this file) is
# archived as well: drop exports, saved pages and feeds there.
# A line may start with the format to read its source as: feed, page, csv, jsonl,
# twitter-archive or mastodon-outbox, e.g.
#   feed https://example.org/blog/feed.xml
#   https://mastodon.social/@someone.rss
"""

log = logging.getLogger("archiver")

# A run stopped by Ctrl-C or SIGTERM exits as a shell reports a process those signals
# ended, after recording and printing how far it got.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM

# What a public instance needs: bounded queries and no download of the database file.
PUBLIC_SETTINGS = {
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    "allow_download": "off",
    "max_csv_mb": "50",
    "facet_time_limit_ms": "200",
}


def _db_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db_path",
        default=DEFAULT_DB,
        show_default=True,
        envvar="ARCHIVER_DB",
        type=click.Path(dir_okay=False),
        help="SQLite database file (also ARCHIVER_DB)",
    )(function)


def _source_format_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --format and --text-column, how the sources of archive and ingest are read."""
    function = click.option(
        "--text-column", metavar="NAME", help="The column of CSV sources that holds the text"
    )(function)
    return click.option(
        "--format", "fmt", type=click.Choice(sorted(SOURCES)), help="Read every source as this format"
    )(function)


_allow_port_option = click.option(
    "--allow-port",
    "allow_ports",
    multiple=True,
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help=f"Also allow URLs on this port (repeatable); allowed: {', '.join(map(str, sorted(WEB_PORTS)))}",
)


def _resolver_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--concurrency",
            default=20,
            show_default=True,
            type=click.IntRange(1, 1000),
            help="Requests in flight overall",
        ),
        click.option(
            "--per-host",
            default=2,
            show_default=True,
            type=click.IntRange(1, 100),
            help="Requests in flight to one host",
        ),
        click.option(
            "--timeout",
            default=15.0,
            show_default=True,
            type=click.FloatRange(0.1, 600),
            help="Seconds for one request, body included",
        ),
        click.option(
            "--max-hops",
            default=10,
            show_default=True,
            type=click.IntRange(0, 100),
            help="Redirects followed per link",
        ),
        click.option(
            "--allow-private",
            is_flag=True,
            help="Allow requests to loopback, private and other internal addresses, on any port",
        ),
        _allow_port_option,
        click.option(
            "--proxy",
            envvar="ARCHIVER_PROXY",
            metavar="URL",
            help="Send every request through this HTTP proxy (also ARCHIVER_PROXY); "
            "HTTP_PROXY and the like are ignored",
        ),
        click.option(
            "--user-agent",
            default=DEFAULT_USER_AGENT,
            show_default=True,
            metavar="UA",
            help="User-Agent header sent with every request",
        ),
        click.option(
            "--recheck-after",
            default=30.0,
            show_default=True,
            type=click.FloatRange(0),
            metavar="DAYS",
            help="Re-resolve good links last checked longer ago (0: all of them now)",
        ),
        click.option(
            "--time-limit",
            type=click.FloatRange(0, min_open=True),
            metavar="MINUTES",
            help="Stop this long after the run started, reading sources and fetching feeds "
            "included; sources and links not reached wait for the next run (for a cron slot)",
        ),
        click.option(
            "--due-only/--recheck-all",
            default=True,
            show_default=True,
            help="Resolve only links that are new or due (failed ones after 1 h, 6 h, 1 day, then "
            "weekly; good ones after --recheck-after days), or every link now",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _deadline(minutes: float | None) -> float | None:
    """When the run must stop (a ``time.monotonic()`` value), from --time-limit."""
    return None if minutes is None else time.monotonic() + minutes * 60


def _settings(options: dict[str, Any]) -> ResolverSettings:
    return ResolverSettings(
        concurrency=options["concurrency"],
        per_host=options["per_host"],
        timeout=options["timeout"],
        max_hops=options["max_hops"],
        allow_private=options["allow_private"],
        ports=WEB_PORTS | frozenset(options["allow_ports"]),
        proxy=options["proxy"] or None,
        user_agent=options["user_agent"],
    )


@click.group()
@click.version_option(__version__, prog_name="archiver")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug)")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr, no progress bar")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Archive social-media posts and record where their links really go."""
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(stream=sys.stderr, level=level, format="%(levelname)s: %(message)s")
    ctx.obj = {"quiet": quiet}


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False), default="archive", required=False)
def init(folder: str) -> None:
    """Make an archive folder of your own: an empty sources.txt, an inbox/ and archive.db.

    Example:

    \b
        archiver init ~/research/elections
    """
    root = Path(folder)
    listed, inbox, db_path = root / SOURCES_FILE, root / INBOX, root / "archive.db"
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        made_list = not listed.exists()
        if made_list:
            listed.write_text(SOURCES_TEMPLATE, encoding="utf-8")
        store.open_database(db_path).close()
    except (OSError, DatabaseError) as ex:
        raise click.ClickException(f"{folder}: cannot make an archive folder: {ex}") from ex
    click.echo(f"archive folder: {root}")
    click.echo(f"  {listed}  {'the list of sources, one a line' if made_list else 'kept as it was'}")
    click.echo(f"  {inbox}/  drop exports, saved pages and feed files here")
    click.echo(f"  {db_path}  the archive")
    click.echo(f"then: archiver archive --db {db_path}")


@cli.command()
@click.argument("sources", nargs=-1)
@_db_option
@_source_format_options
@_resolver_options
@click.option("--limit", type=click.IntRange(1), help="Resolve at most this many links")
@click.option(
    "--sources",
    "sources_file",
    envvar="ARCHIVER_SOURCES",
    type=click.Path(dir_okay=False),
    help="With no SOURCE: the list of sources to read, with inbox/ beside it "
    "(default: sources.txt beside the database; also ARCHIVER_SOURCES)",
)
@click.pass_context
def archive(
    ctx: click.Context,
    /,
    sources: tuple[str, ...],
    db_path: str,
    fmt: str | None,
    text_column: str | None,
    limit: int | None,
    sources_file: str | None,
    **options: Any,
) -> None:
    """Ingest every SOURCE, then resolve every link that is new or due.

    With no SOURCE: the sources listed in sources.txt beside the database
    (data/sources.txt for the default data/archive.db) plus every file under
    inbox/ beside it; `archiver init DIR` makes such a folder.

    Example:

    \b
        archiver archive data/inbox/ https://example.org/feed.xml
    """
    stop_at = _deadline(options["time_limit"])
    named = bool(sources)
    listed = Path(sources_file) if sources_file else Path(db_path).parent / SOURCES_FILE
    locations = [SourceEntry(s) for s in sources] if named else _listed_sources(listed)
    settings = _settings(options)
    with _run(db_path, "archive") as (db, run_id, report):
        failed = _ingest_all(
            db,
            locations,
            fmt=fmt,
            text_column=text_column,
            run_id=run_id,
            settings=settings,
            report=report,
            stop_at=stop_at,
        )
        _resolve_due(
            ctx,
            db,
            run_id=run_id,
            settings=settings,
            options=options,
            limit=limit,
            report=report,
            stop_at=stop_at,
        )
    if failed and named:
        sys.exit(1)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@_db_option
@_source_format_options
@click.option(
    "--allow-private", is_flag=True, help="Allow fetching feed URLs on internal addresses, on any port"
)
@_allow_port_option
@click.option("--proxy", envvar="ARCHIVER_PROXY", metavar="URL", help="HTTP proxy for feed URLs")
@click.option(
    "--timeout",
    default=15.0,
    show_default=True,
    type=click.FloatRange(0.1, 600),
    help="Seconds for one request of a feed URL, body included",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(0, min_open=True),
    metavar="MINUTES",
    help="Stop this long after the run started; sources not reached wait for the next run",
)
def ingest(
    sources: tuple[str, ...],
    db_path: str,
    fmt: str | None,
    text_column: str | None,
    allow_private: bool,
    allow_ports: tuple[int, ...],
    proxy: str | None,
    timeout: float,
    time_limit: float | None,
) -> None:
    """Read SOURCE files, folders or URLs and store their posts and links, without resolving.

    Example:

    \b
        archiver ingest data/inbox/page.txt
    """
    stop_at = _deadline(time_limit)
    settings = ResolverSettings(
        allow_private=allow_private, ports=WEB_PORTS | frozenset(allow_ports), proxy=proxy, timeout=timeout
    )
    with _run(db_path, "ingest") as (db, run_id, report):
        entries = [SourceEntry(s) for s in sources]
        failed = _ingest_all(
            db,
            entries,
            fmt=fmt,
            text_column=text_column,
            run_id=run_id,
            settings=settings,
            report=report,
            stop_at=stop_at,
        )
    if failed:
        sys.exit(1)


@cli.command()
@_db_option
@_resolver_options
@click.option("--limit", type=click.IntRange(1), help="Resolve at most this many links")
@click.pass_context
def resolve(ctx: click.Context, /, db_path: str, limit: int | None, **options: Any) -> None:
    """Resolve links that are new or due for another check.

    Example:

    \b
        archiver resolve --limit 100
    """
    stop_at = _deadline(options["time_limit"])
    with _run(db_path, "resolve") as (db, run_id, report):
        _resolve_due(
            ctx,
            db,
            run_id=run_id,
            settings=_settings(options),
            options=options,
            limit=limit,
            report=report,
            stop_at=stop_at,
        )


@cli.command()
@_db_option
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option(
    "-m",
    "--metadata",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Datasette metadata file to use instead of archiver's own",
)
@click.option(
    "--public",
    is_flag=True,
    help="Serve a read-only snapshot with the limits a public deployment needs "
    "(no database download, no SQL but the published queries, 1 s time limit, 1000 rows at most)",
)
def serve(db_path: str, port: int, host: str, metadata: str | None, public: bool) -> None:
    """Serve the archive with Datasette, with archiver's descriptions, queries and dashboards.

    Any database file, from any folder: the metadata is fitted to the name the
    database is served under (mine.db is served as /mine).

    Example:

    \b
        archiver serve --port 8001
    """
    db = _existing(db_path)  # also brings the schema up to date before serving
    fitted = _metadata_for(db_path, metadata)
    with tempfile.TemporaryDirectory(prefix="archiver-serve-") as scratch:
        if public:
            # A copy that no run writes to may be opened immutable: counts are cached and
            # no locking is needed.  The live file is never served that way.
            snapshot = Path(db_path).parent / "public" / Path(db_path).name
            try:
                store.snapshot(db, snapshot)
            except DatabaseError as ex:
                raise click.ClickException(str(ex)) from ex
            finally:
                db.close()
            written = publish.write_metadata(fitted, snapshot.parent / "metadata.json", public=True)
            args = ["serve", "--immutable", str(snapshot)] + [
                arg for name, value in PUBLIC_SETTINGS.items() for arg in ("--setting", name, value)
            ]
        else:
            db.close()
            written = publish.write_metadata(fitted, Path(scratch) / "metadata.json")
            args = ["serve", db_path, "--setting", "sql_time_limit_ms", "3500"]
        args += ["--metadata", str(written), "--host", host, "--port", str(port)]
        from datasette.cli import cli as datasette_cli

        datasette_cli.main(args=args, prog_name="datasette")


def _metadata_for(db_path: str, metadata: str | None) -> dict[str, Any]:
    """Return the metadata to serve ``db_path`` with: ``metadata`` or archiver's own, fitted to its name."""
    try:
        loaded = publish.load_metadata(metadata)
    except ArchiverError as ex:
        raise click.ClickException(str(ex)) from ex
    return publish.for_database(loaded, publish.database_name(db_path))


@cli.command()
@_db_option
def stats(db_path: str) -> None:
    """Show counts of posts and links by status, and the top final domains.

    Example:

    \b
        archiver stats
    """
    db = _existing(db_path, read_only=True)
    summary = store.stats(db)
    click.echo(f"posts: {summary['posts']}")
    click.echo(f"links: {summary['links']}")
    for status, count in summary["by_status"].items():
        click.echo(f"  {status:<20} {count}")
    if summary["top_domains"]:
        click.echo("top final domains:")
        for domain, count in summary["top_domains"]:
            click.echo(f"  {domain:<30} {count}")
    failing = [row for row in store.list_sources(db) if row["last_status"] in ("error", "partial")]
    if failing:
        click.echo("sources with problems:")
        for row in failing:
            click.echo(f"  {row['location']}: {row['last_status']}: {row['last_error']}")
    last = summary["last_run"]
    if last:
        click.echo(
            f"last run: #{last['id']} {last['command']} {last['started_at']} ({last['status']}): "
            f"{last['posts_added'] or 0} posts added, {last['links_added'] or 0} links added, "
            f"{last['links_checked'] or 0} links checked"
        )


@cli.command(name="sources")
@_db_option
def sources_(db_path: str) -> None:
    """List every source read so far: format, last fetch, status and posts.

    Example:

    \b
        archiver sources
    """
    db = _existing(db_path, read_only=True)
    rows = store.list_sources(db)
    if not rows:
        click.echo("no sources yet")
        return
    for row in rows:
        click.echo(
            f"{row['location']}\n  format: {row['format'] or 'unknown'}"
            f"  last fetched: {row['last_fetched_at']}  status: {row['last_status']}  posts: {row['posts']}"
            + (f"\n  error: {row['last_error']}" if row["last_error"] else "")
        )


@cli.command()
@click.argument("table")
@_db_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: stdout)",
)
@click.option(
    "-m",
    "--metadata",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Datasette metadata file whose canned queries TABLE may name (default: archiver's own)",
)
def export(table: str, db_path: str, fmt: str, output: Any, metadata: str | None) -> None:
    """Write a table, view or canned query as CSV, JSON or JSON Lines, without a server.

    TABLE is a table or view of the archive, or the name of one of the canned
    queries published with it (top_domains, links_died, newly_failed_links, ...).

    Example:

    \b
        archiver export links --format csv -o links.csv
    """
    db = _existing(db_path, read_only=True)
    try:
        columns, rows = store.table_rows(db, table)
    except KeyError as ex:
        queries = publish.canned_queries(_metadata_for(db_path, metadata), publish.database_name(db_path))
        if table not in queries:
            known = f"; canned queries: {', '.join(sorted(queries))}" if queries else ""
            raise click.BadParameter(ex.args[0] + known, param_hint="TABLE") from ex
        try:
            columns, rows = store.query_rows(db, queries[table])
        except DatabaseError as failed:
            raise click.ClickException(str(failed)) from failed
    count = write_rows(rows, columns, fmt, output)
    click.echo(f"export: {count} rows of {table} written as {fmt}", err=True)


# -- helpers -----------------------------------------------------------------------


def _existing(db_path: str, *, read_only: bool = False) -> Database:
    """Open an archive that must exist; a reader also opens one it cannot write."""
    if not Path(db_path).exists():
        raise click.ClickException(f"{db_path}: no archive yet; run 'archiver archive' first")
    if not read_only:
        return _open(db_path)
    try:
        return store.open_database(db_path)
    except DatabaseError:
        try:
            return store.open_read_only(db_path)
        except DatabaseError as ex:
            raise click.ClickException(str(ex)) from ex


def _open(db_path: str) -> Database:
    try:
        return store.open_database(db_path)
    except DatabaseError as ex:
        raise click.ClickException(str(ex)) from ex


@dataclass
class _RunReport:
    """What a run says at its end besides what it stored (that is counted in the archive)."""

    new_archive: bool = False
    failed_sources: list[str] = field(default_factory=list)  # "LOCATION: why", one a source
    partial_sources: int = 0
    sources_left: int = 0  # not read: --time-limit came first
    links_due: int | None = None  # None: the command resolves nothing
    links_left: int = 0  # due but not reached: --time-limit came first


class _Signals:
    """SIGTERM (cron's ``timeout``, systemd stopping a unit) ends a run as Ctrl-C does."""

    def __init__(self) -> None:
        self.received: int | None = None

    def __enter__(self) -> _Signals:
        self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    def _on_term(self, signum: int, frame: object) -> None:
        self.received = signum
        # The same path as Ctrl-C: inside asyncio.run the main task is cancelled and
        # its finally blocks store what was resolved; elsewhere KeyboardInterrupt.
        signal.raise_signal(signal.SIGINT)

    def exit_status(self) -> int:
        return EXIT_TERMINATED if self.received == signal.SIGTERM else EXIT_INTERRUPTED


@contextmanager
def _run(db_path: str, command: str) -> Iterator[tuple[Database, int, _RunReport]]:
    """Lock the database, record a run, and record and print how it ended, however it ends.

    Done or stopped by --time-limit: exit 0 (the caller may exit 1 for missing
    sources).  Ctrl-C: 130.  SIGTERM: 143.  Each records its status and true counts.
    """
    interrupted = False
    signals = _Signals()
    try:
        report = _RunReport(new_archive=_prepare_database_folder(db_path))
        with run_lock(db_path), signals:
            db = store.open_database(db_path)
            run_id = store.start_run(db, command)
            started = time.monotonic()
            status = "interrupted"
            try:
                yield db, run_id, report
                status = "time_limit" if report.links_left or report.sources_left else "completed"
            except KeyboardInterrupt:
                interrupted = True
            finally:
                _finish_run(db, db_path, run_id, command, report, status, time.monotonic() - started)
    except AlreadyRunning as ex:
        click.echo(f"archiver: {ex}", err=True)
        sys.exit(EXIT_ALREADY_RUNNING)
    except (DatabaseError, OSError) as ex:
        raise click.ClickException(str(ex)) from ex
    if interrupted:
        sys.exit(signals.exit_status())


def _prepare_database_folder(db_path: str) -> bool:
    """Make the database's folder if needed; return True if the database is new.

    A path that cannot hold a database is an error naming the database and saying
    what is wrong, not the operating system's message about one of its folders.
    """
    path = Path(db_path)
    new = not path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as ex:
        blocker = next(
            (p for p in [path.parent, *path.parent.parents] if p.exists() and not p.is_dir()), None
        )
        raise click.ClickException(
            f"{db_path}: cannot create the database: {blocker or ex.filename} is a file, not a folder"
        ) from ex
    except NotADirectoryError as ex:
        blocker = next((p for p in path.parent.parents if p.exists() and not p.is_dir()), None)
        raise click.ClickException(
            f"{db_path}: cannot create the database: {blocker or ex.filename} is a file, not a folder"
        ) from ex
    except PermissionError as ex:
        raise click.ClickException(
            f"{db_path}: cannot create the database: no permission to create its folder {ex.filename}"
        ) from ex
    except OSError as ex:
        raise click.ClickException(
            f"{db_path}: cannot create the database's folder: {ex.strerror or ex}"
        ) from ex
    if new and not os.access(path.parent, os.W_OK | os.X_OK):
        raise click.ClickException(
            f"{db_path}: cannot create the database: its folder {path.parent} is not writable"
        )
    return new


def _finish_run(
    db: Database, db_path: str, run_id: int, command: str, report: _RunReport, status: str, seconds: float
) -> None:
    """Record the run's end with what it stored, then print the failed sources and the summary."""
    try:
        counts = store.run_counts(db, run_id)
    except Exception as ex:  # noqa: BLE001 - the summary is still printed
        log.warning("could not count what the run stored: %s", ex)
        counts = {"posts_added": 0, "links_added": 0, "checks": {}}
    checks: dict[str, int] = counts["checks"]
    try:
        store.finish_run(
            db,
            run_id,
            {
                "posts_added": counts["posts_added"],
                "links_added": counts["links_added"],
                "links_checked": sum(checks.values()),
                "links_failed": sum(n for status_, n in checks.items() if status_ != "ok"),
            },
            status=status,
        )
        if not store.checkpoint(db):
            log.info("the write-ahead log was not emptied: a reader held it")
    except Exception as ex:  # noqa: BLE001 - the run's own outcome matters more
        log.warning("could not record the end of the run: %s", ex)
    for failure in report.failed_sources:
        click.echo(f"failed: {failure}")
    click.echo(_summary(command, counts, report, status, seconds, db_path))


def _summary(
    command: str, counts: dict[str, Any], report: _RunReport, status: str, seconds: float, db_path: str
) -> str:
    """Return the one line a cron log keeps: when, what was stored, and what needs a look."""
    checks: dict[str, int] = counts["checks"]
    detail = ", ".join(f"{name}: {n}" for name, n in sorted(checks.items()))
    line = (
        f"{utc_now()} {command}: {counts['posts_added']} posts added, {counts['links_added']} links added, "
        f"{sum(checks.values())} links checked" + (f" ({detail})" if detail else "") + f" in {seconds:.1f} s"
    )
    notes = []
    if report.failed_sources:
        notes.append(f"{_count(len(report.failed_sources), 'source')} failed")
    if report.partial_sources:
        notes.append(f"{_count(report.partial_sources, 'source')} read in part")
    if report.links_due == 0:
        notes.append("nothing due")
    if report.sources_left:
        notes.append(f"{_count(report.sources_left, 'source')} left for the next run (--time-limit)")
    if report.links_left:
        notes.append(f"{report.links_left} left for the next run (--time-limit)")
    if report.new_archive:
        notes.append(f"new archive at {db_path}")
    if status == "interrupted":
        notes.append("interrupted")
    return "; ".join([line, *notes])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _listed_sources(listed: Path) -> list[SourceEntry]:
    """Return the sources a sources file lists, and the inbox beside it."""
    locations: list[SourceEntry] = []
    inbox = listed.parent / INBOX
    if listed.exists():
        try:
            locations += read_source_list(listed)
        except OSError as ex:
            problem = ex.strerror or ex
            raise click.ClickException(f"{listed}: cannot read the list of sources: {problem}") from ex
    if inbox.is_dir():
        locations.append(SourceEntry(str(inbox)))
    if not locations:
        click.echo(
            f"warning: no sources: {listed} and {inbox}/ are missing; "
            f"'archiver init {listed.parent}' makes them",
            err=True,
        )
    return locations


def _ingest_all(
    db: Database,
    locations: list[SourceEntry],
    *,
    fmt: str | None,
    text_column: str | None,
    run_id: int,
    settings: ResolverSettings,
    report: _RunReport,
    stop_at: float | None = None,
) -> bool:
    """Ingest every source, reporting each failure by name; return True if a source was unavailable.

    With ``stop_at`` (--time-limit) a feed URL is fetched only within what is left of it.
    """

    def fetch(url: str, **validators: Any) -> Fetched:
        fetching = fetch_source(url, settings=settings, **validators)
        if stop_at is None:
            return asyncio.run(fetching)
        try:
            return asyncio.run(asyncio.wait_for(fetching, max(0.0, stop_at - time.monotonic())))
        except TimeoutError:
            raise ArchiverError(
                f"{url}: not fetched before the time limit; the next run fetches it"
            ) from None

    outcome = pipeline.ingest_sources(
        db,
        locations,
        fmt=fmt,
        text_column=text_column,
        run_id=run_id,
        fetch=fetch,
        report=lambda line: click.echo(line, err=True),
        stop_at=stop_at,
    )
    report.failed_sources += outcome.failed
    report.partial_sources += outcome.partial
    report.sources_left += outcome.sources_left
    return outcome.unavailable


def _resolve_due(
    ctx: click.Context,
    db: Database,
    *,
    run_id: int,
    settings: ResolverSettings,
    options: dict[str, Any],
    limit: int | None,
    report: _RunReport,
    stop_at: float | None,
) -> None:
    links = store.links_due(
        db, recheck_after_days=options["recheck_after"], recheck_all=not options["due_only"], limit=limit
    )
    report.links_due = len(links)
    if not links:
        return
    show_progress = sys.stderr.isatty() and not ctx.obj.get("quiet")
    with click.progressbar(
        length=len(links), label="Resolving", file=sys.stderr, hidden=not show_progress
    ) as bar:
        statuses = asyncio.run(
            pipeline.resolve_and_save(
                db,
                links,
                run_id=run_id,
                settings=settings,
                recheck_after=options["recheck_after"],
                advance=bar.update,
                stop_at=stop_at,
            )
        )
    report.links_left = len(links) - sum(statuses.values())
