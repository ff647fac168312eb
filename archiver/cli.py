"""The ``archiver`` command line: thin commands over the library."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlite_utils import Database

from . import __version__, pipeline, store
from .captures import DEFAULT_ENDPOINTS, DEFAULT_SAVE_URL, CaptureSettings
from .clock import utc_now
from .export import EXPORT_FORMATS, write_rows
from .http import WEB_PORTS
from .models import AlreadyRunning, ArchiverError, DatabaseError, RunStatus, SourceStatus
from .resolve import DEFAULT_USER_AGENT, ResolverSettings
from .runlock import EXIT_ALREADY_RUNNING
from .sources import SOURCES, SourceEntry, read_source_list

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

# A run stopped by Ctrl-C or SIGTERM exits as a shell reports a process those signals
# ended, after recording and printing how far it got.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
# Failures a run prints, and kinds of failure ``stats`` lists, before saying how many more.
FAILURES_SHOWN = 20
FAILURE_KINDS_SHOWN = 10

# What a public instance needs: bounded queries and no download of the database file.
PUBLIC_SETTINGS = {
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    "allow_download": "off",
    "max_csv_mb": "50",
    "facet_time_limit_ms": "200",
}


def _create_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--create",
        is_flag=True,
        envvar="ARCHIVER_CREATE",
        help="Start a new archive at --db if there is none there (otherwise a missing "
        "database is an error; also ARCHIVER_CREATE=1)",
    )(function)


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


def _metadata_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add -m/--metadata, the Datasette metadata serve and export use instead of archiver's own."""
    return click.option(
        "-m", "--metadata", default=None, type=click.Path(dir_okay=False, exists=True), help=help_text
    )


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
            "--captures",
            type=click.Choice(["off", "lookup", "save"]),
            default="off",
            show_default=True,
            envvar="ARCHIVER_CAPTURES",
            help="Ask web archives where links' pages can still be seen: 'lookup' looks up captures "
            "(telling the archives which URLs you look at), 'save' also asks the Internet Archive to "
            "capture live pages it has none of (also ARCHIVER_CAPTURES)",
        ),
        click.option(
            "--captures-url",
            "captures_urls",
            multiple=True,
            metavar="URL",
            envvar="ARCHIVER_CAPTURES_URL",
            help="Where captures are looked up, instead of the Internet Archive's CDX API (repeatable; "
            "a URL ending in /cdx is a CDX API, any other a TimeMap prefix the link is appended to, "
            "such as https://host/timemap/link/)",
        ),
        click.option(
            "--captures-save-url",
            default=DEFAULT_SAVE_URL,
            show_default=True,
            metavar="URL",
            help="The Save Page Now endpoint --captures save asks",
        ),
        click.option(
            "--save-limit",
            default=100,
            show_default=True,
            type=click.IntRange(0),
            help="Captures --captures save asks for in any 24 hours (keys in ARCHIVER_IA_ACCESS_KEY and "
            "ARCHIVER_IA_SECRET_KEY also bring the account's own quota)",
        ),
        click.option(
            "--save-spacing",
            default=5.0,
            show_default=True,
            type=click.FloatRange(0),
            metavar="SECONDS",
            help="Wait between two capture requests, and between looks at a pending capture",
        ),
        click.option(
            "--lookups-per-run",
            default=500,
            show_default=True,
            type=click.IntRange(0),
            help="URLs whose captures a run looks up at most (in each archive)",
        ),
        click.option(
            "--probe/--no-probe",
            default=True,
            show_default=True,
            help="Ask each host whose link ended on a deep page, once a run, for a path that does "
            "not exist, to tell a soft 404 (a 'not found' page served with 200) from the page linked",
        ),
        click.option(
            "--due-only/--recheck-all",
            default=True,
            show_default=True,
            help="Resolve only links that are new or due (failed ones after 1 h, 6 h, 1 day, then "
            "weekly; good ones after --recheck-after days), or every link now",
        ),
    ]

    @functools.wraps(function)
    def with_resolving(*args: Any, **values: Any) -> Any:
        # The options arrive one by one from click and leave as one typed object.
        picked = {name: values.pop(name) for name in RESOLVER_OPTIONS}
        return function(*args, resolving=_resolving(picked), **values)

    command: Callable[..., Any] = with_resolving
    for option in reversed(options):
        command = option(command)
    return command


# The parameters _resolver_options adds, in the order click names them.
RESOLVER_OPTIONS = (
    "concurrency",
    "per_host",
    "timeout",
    "max_hops",
    "allow_private",
    "allow_ports",
    "proxy",
    "user_agent",
    "recheck_after",
    "time_limit",
    "captures",
    "captures_urls",
    "captures_save_url",
    "save_limit",
    "save_spacing",
    "lookups_per_run",
    "probe",
    "due_only",
)


@dataclass(frozen=True)
class Resolving:
    """The resolver options of archive and resolve, as the RunSettings fields they set."""

    resolver: ResolverSettings
    recheck_after_days: float
    recheck_all: bool
    time_limit_minutes: float | None
    captures: CaptureSettings

    def fields(self) -> dict[str, Any]:
        return {
            "resolver": self.resolver,
            "recheck_after_days": self.recheck_after_days,
            "recheck_all": self.recheck_all,
            "time_limit_minutes": self.time_limit_minutes,
            "captures": self.captures,
        }


def _resolving(options: dict[str, Any]) -> Resolving:
    return Resolving(
        resolver=ResolverSettings(
            concurrency=options["concurrency"],
            per_host=options["per_host"],
            timeout=options["timeout"],
            max_hops=options["max_hops"],
            allow_private=options["allow_private"],
            ports=WEB_PORTS | frozenset(options["allow_ports"]),
            proxy=options["proxy"] or None,
            user_agent=options["user_agent"],
            probe=options["probe"],
        ),
        recheck_after_days=options["recheck_after"],
        recheck_all=not options["due_only"],
        time_limit_minutes=options["time_limit"],
        captures=CaptureSettings(
            mode=options["captures"],
            endpoints=_captures_endpoints(options["captures_urls"]),
            save_url=options["captures_save_url"],
            save_limit=options["save_limit"],
            save_spacing=options["save_spacing"],
            poll_every=options["save_spacing"],
            lookups_per_run=options["lookups_per_run"],
            access_key=os.environ.get("ARCHIVER_IA_ACCESS_KEY") or None,
            secret_key=os.environ.get("ARCHIVER_IA_SECRET_KEY") or None,
        ),
    )


def _captures_endpoints(urls: tuple[str, ...]) -> tuple[str, ...]:
    """Return the lookup endpoints given (an environment value may list several, space-separated)."""
    listed = tuple(part for url in urls for part in url.split())
    return listed or DEFAULT_ENDPOINTS


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
@_create_option
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
    resolving: Resolving,
    create: bool,
) -> None:
    """Ingest every SOURCE, then resolve every link that is new or due.

    With no SOURCE: the sources listed in sources.txt beside the database
    (data/sources.txt for the default data/archive.db) plus every file under
    inbox/ beside it; `archiver init DIR` makes such a folder.

    Example:

    \b
        archiver archive data/inbox/ https://example.org/feed.xml
    """
    named = bool(sources)
    listed = Path(sources_file) if sources_file else Path(db_path).parent / SOURCES_FILE
    entries = tuple(SourceEntry(s) for s in sources) if named else tuple(_listed_sources(listed))
    outcome = _run_command(
        ctx,
        pipeline.RunSettings(
            db_path=db_path,
            command="archive",
            sources=entries,
            fmt=fmt,
            text_column=text_column,
            limit=limit,
            create=create,
            **resolving.fields(),
        ),
    )
    if outcome.unavailable and named:
        sys.exit(1)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@_db_option
@_create_option
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
    create: bool,
) -> None:
    """Read SOURCE files, folders or URLs and store their posts and links, without resolving.

    Example:

    \b
        archiver ingest data/inbox/page.txt
    """
    settings = ResolverSettings(
        allow_private=allow_private, ports=WEB_PORTS | frozenset(allow_ports), proxy=proxy, timeout=timeout
    )
    outcome = _run_command(
        click.get_current_context(),
        pipeline.RunSettings(
            db_path=db_path,
            command="ingest",
            sources=tuple(SourceEntry(s) for s in sources),
            fmt=fmt,
            text_column=text_column,
            resolver=settings,
            time_limit_minutes=time_limit,
            resolve=False,
            create=create,
        ),
    )
    if outcome.unavailable:
        sys.exit(1)


@cli.command()
@_db_option
@_resolver_options
@click.option("--limit", type=click.IntRange(1), help="Resolve at most this many links")
@click.pass_context
def resolve(ctx: click.Context, /, db_path: str, limit: int | None, resolving: Resolving) -> None:
    """Resolve links that are new or due for another check.

    Example:

    \b
        archiver resolve --limit 100
    """
    _run_command(
        ctx,
        pipeline.RunSettings(
            db_path=db_path, command="resolve", limit=limit, ingest=False, **resolving.fields()
        ),
    )


@cli.command()
@_db_option
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@_metadata_option("Datasette metadata file to use instead of archiver's own")
@click.option(
    "--public",
    is_flag=True,
    help="Serve a read-only snapshot with the limits a public deployment needs "
    "(no database download, no SQL but the published queries, 1 s time limit, 1000 rows at most)",
)
@click.option(
    "--write-only",
    is_flag=True,
    help="With --public: write the public snapshot and its metadata beside the archive (public/), "
    "for datasette publish or datasette package, and serve nothing",
)
def serve(db_path: str, port: int, host: str, metadata: str | None, public: bool, write_only: bool) -> None:
    """Serve the archive with Datasette, with archiver's descriptions, queries and dashboards.

    Any database file, from any folder: the metadata is fitted to the name the
    database is served under (mine.db is served as /mine).

    Example:

    \b
        archiver serve --port 8001
    """
    from . import publish  # YAML, only for the commands that publish

    if write_only and not public:
        raise click.UsageError("--write-only writes the public snapshot: use it with --public")
    db = _existing(db_path)  # also brings the schema up to date before serving
    fitted = _metadata_for(db_path, metadata)
    with tempfile.TemporaryDirectory(prefix="archiver-serve-") as scratch:
        if public:
            # A copy that no run writes to may be opened immutable: counts are cached and
            # no locking is needed.  The live file is never served that way.
            snapshot = Path(db_path).parent / "public" / Path(db_path).name
            try:
                store.snapshot(db, snapshot, public=True)
            except DatabaseError as ex:
                raise click.ClickException(str(ex)) from ex
            finally:
                db.close()
            written = publish.write_metadata(fitted, snapshot.parent / "metadata.json", public=True)
            if write_only:
                click.echo(f"{snapshot}\n{written}")
                return
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
    from . import publish  # YAML, only for the commands that publish

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
    failing = [
        row
        for row in store.list_sources(db)
        if row["last_status"] in (SourceStatus.ERROR, SourceStatus.PARTIAL)
    ]
    if failing:
        click.echo(f"sources with problems: {len(failing)} ('archiver sources' lists each)")
        for line in _failure_kinds(failing):
            click.echo(f"  {line}")
    last = summary["last_run"]
    if last:
        click.echo(
            f"last run: #{last['id']} {last['command']} {last['started_at']} ({last['status']}): "
            f"{last['posts_added'] or 0} posts added, {last['links_added'] or 0} links added, "
            f"{last['links_checked'] or 0} links checked"
        )


def _failure_kinds(failing: list[dict[str, Any]]) -> list[str]:
    """Return one line a kind of failure (the same status and error but for the source's
    own name), most common first, at most FAILURE_KINDS_SHOWN."""
    kinds: dict[tuple[str, str], list[str]] = {}
    for row in failing:
        location, error = row["location"], str(row["last_error"] or "")
        why = error.replace(location, "…").removeprefix("…: ")
        kinds.setdefault((row["last_status"], why), []).append(location)
    ordered = sorted(kinds.items(), key=lambda item: -len(item[1]))
    lines = [
        f"{where[0]}: {status}: {why}"
        if len(where) == 1
        else f"{len(where)} sources: {status}: {why} (e.g. {where[0]})"
        for (status, why), where in ordered[:FAILURE_KINDS_SHOWN]
    ]
    if len(ordered) > FAILURE_KINDS_SHOWN:
        rest = sum(len(where) for _, where in ordered[FAILURE_KINDS_SHOWN:])
        lines.append(f"… and {rest} more sources with {len(ordered) - FAILURE_KINDS_SHOWN} other problems")
    return lines


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
@_metadata_option("Datasette metadata file whose canned queries TABLE may name (default: archiver's own)")
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
        from . import publish  # YAML, only for the commands that publish

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


def _run_command(ctx: click.Context, settings: pipeline.RunSettings) -> pipeline.RunOutcome:
    """Run a command through the library, print its failed sources and summary, exit as it ended.

    Done or stopped by --time-limit: returns (the command may still exit 1 for missing
    sources).  Ctrl-C: exit 130.  SIGTERM: exit 143.
    """
    report = _CappedReport(settings.db_path, terminal=_on_terminal(ctx))
    try:
        outcome = pipeline.run(
            settings, report=report, progress=_progress_bar(ctx), reading=_reading_line(ctx)
        )
    except AlreadyRunning as ex:
        click.echo(f"archiver: {ex}", err=True)
        sys.exit(EXIT_ALREADY_RUNNING)
    except (DatabaseError, OSError) as ex:
        raise click.ClickException(str(ex)) from ex
    report.close()
    click.echo(_summary(settings, outcome))
    if outcome.status == RunStatus.INTERRUPTED:
        sys.exit(EXIT_TERMINATED if outcome.stopped_by == signal.SIGTERM else EXIT_INTERRUPTED)
    return outcome


class _CappedReport:
    """Prints what a run reports on stderr, its failures once each and at most FAILURES_SHOWN.

    A list of a thousand broken lines would otherwise bury the summary; the rest are
    counted, and ``archiver sources`` lists every source with its error.
    """

    def __init__(self, db_path: str, *, terminal: bool = False) -> None:
        self._db_path = db_path
        self._failures = 0
        self._clear = "\r\x1b[K" if terminal else ""  # over the progress line, if any

    def __call__(self, line: str) -> None:
        if line.startswith(("error:", "warning:")):
            self._failures += 1
            if self._failures > FAILURES_SHOWN:
                return
        click.echo(self._clear + line, err=True)

    def close(self) -> None:
        more = self._failures - FAILURES_SHOWN
        if more > 0:
            click.echo(
                f"… and {more} more failed; 'archiver sources --db {self._db_path}' lists every "
                "source with its error",
                err=True,
            )


def _on_terminal(ctx: click.Context) -> bool:
    return sys.stderr.isatty() and not (ctx.obj or {}).get("quiet")


def _progress_bar(ctx: click.Context) -> pipeline.Progress:
    """Return a progress bar for resolving, drawn on stderr when it is a terminal: links
    done of the total, the rate, and the time left once the rate means something."""
    hidden = not _on_terminal(ctx)

    @contextmanager
    def bar(total: int) -> Iterator[Callable[[int], None]]:
        started = time.monotonic()
        done = 0
        with click.progressbar(
            length=total,
            label="Resolving",
            file=sys.stderr,
            hidden=hidden,
            show_pos=True,
            show_eta=False,
            item_show_func=lambda rate: rate,
        ) as drawn:

            def advance(n: int) -> None:
                nonlocal done
                done += n
                drawn.update(n, _rate(done, total, time.monotonic() - started))

            yield advance

    return bar


def _rate(done: int, total: int, seconds: float) -> str:
    """Return "12.5 links/s, 3:20 left": the time left only after a few seconds of links."""
    if seconds <= 0 or not done:
        return ""
    rate = done / seconds
    if seconds < 5 or done >= total:
        return f"{rate:,.1f} links/s"
    left = int((total - done) / rate)
    return f"{rate:,.1f} links/s, {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left"


def _reading_line(ctx: click.Context) -> pipeline.ReadingProgress | None:
    """Return what shows, on a terminal, how far the sources are read: posts and bytes."""
    if not _on_terminal(ctx):
        return None
    shown = 0.0

    def show(reading: pipeline.Reading) -> None:
        nonlocal shown
        now = time.monotonic()
        if not reading.done and now - shown < 0.2:
            return
        shown = now
        name = Path(reading.source).name or reading.source
        line = f"Reading {name[:40]}: {reading.records:,} posts, {reading.bytes_read / 1e6:,.1f} MB read"
        click.echo(f"\r\x1b[K{line}", file=sys.stderr, nl=reading.done)

    return show


def _summary(settings: pipeline.RunSettings, outcome: pipeline.RunOutcome) -> str:
    """Return the one line a cron log keeps: when, what was stored, and what needs a look."""
    detail = ", ".join(f"{name}: {n}" for name, n in sorted(outcome.checks.items()))
    line = (
        f"{utc_now()} {settings.command}: {outcome.posts_added} posts added, "
        f"{outcome.links_added} links added, {outcome.links_checked} links checked"
        + (f" ({detail})" if detail else "")
        + f" in {outcome.seconds:.1f} s"
    )
    notes = []
    if outcome.failed_sources:
        notes.append(f"{_count(len(outcome.failed_sources), 'source')} failed")
    if outcome.partial_sources:
        notes.append(f"{_count(outcome.partial_sources, 'source')} read in part")
    if outcome.links_due == 0:
        notes.append("nothing due")
    if outcome.sources_left:
        notes.append(f"{_count(outcome.sources_left, 'source')} left for the next run (--time-limit)")
    if outcome.links_left:
        notes.append(f"{outcome.links_left} left for the next run (--time-limit)")
    if outcome.captures is not None:
        notes.append(_captures_note(outcome.captures))
    if outcome.new_archive:
        notes.append(f"new archive at {settings.db_path}")
    if outcome.status == RunStatus.INTERRUPTED:
        notes.append("interrupted")
    return "; ".join([line, *notes])


def _captures_note(counts: pipeline.CaptureCounts) -> str:
    """Return what a run asked web archives, for the summary line."""
    note = f"captures: {counts.looked_up} looked up ({counts.found} found, {counts.failed} failed)"
    if counts.asked or counts.saved:
        note += f", {counts.asked} asked for, {counts.saved} made"
    if counts.saves_left is not None:
        note += f", {_count(counts.saves_left, 'capture')} left of today's quota"
    if counts.stopped:
        note += f" (stopped: {counts.stopped})"
    return note


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
