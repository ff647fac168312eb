"""The ``archiver`` command line: thin commands over the library."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from .. import __version__, pipeline, publish, store
from ..http import ResolverSettings
from ..models import ArchiverError, DatabaseError, ExportFormat, SourceStatus
from ..preserve import CaptureSettings, CopySettings
from ..sources import LiveSettings, SourceEntry, read_source_list
from .options import (
    CAPTURES,
    COPIES,
    FOLLOWING,
    NETWORK,
    RECHECK,
    GroupedCommand,
    cluster_option,
    create_option,
    db_option,
    limit_option,
    metadata_option,
    source_format_options,
    time_limit_option,
)
from .report import run_command

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
# twitter-archive, mastodon-outbox, twitter-api, reddit, reddit-export,
# telegram-export or bluesky-repo, e.g.
#   feed https://example.org/blog/feed.xml
#   https://mastodon.social/@someone.rss
# Accounts and channels are followed through their platforms' public APIs, the
# whole history first and then what is new:
#   mastodon https://mastodon.social/@someone
#   bluesky https://bsky.app/profile/someone.bsky.social
#   telegram https://t.me/s/somechannel
"""

__all__ = ["cli"]

# Kinds of failure ``stats`` lists before saying how many more.
FAILURE_KINDS_SHOWN = 10


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


@cli.command(cls=GroupedCommand)
@click.argument("sources", nargs=-1)
@db_option
@create_option
@source_format_options
@limit_option
@time_limit_option
@cluster_option
@click.option(
    "--sources",
    "sources_file",
    envvar="ARCHIVER_SOURCES",
    type=click.Path(dir_okay=False),
    help="With no SOURCE: the list of sources to read, with inbox/ beside it "
    "(default: sources.txt beside the database; also ARCHIVER_SOURCES)",
)
@NETWORK.apply
@FOLLOWING.apply
@RECHECK.apply
@CAPTURES.apply
@COPIES.apply
@click.pass_context
def archive(
    ctx: click.Context,
    /,
    sources: tuple[str, ...],
    db_path: str,
    create: bool,
    fmt: str | None,
    text_column: str | None,
    limit: int | None,
    time_limit: float | None,
    cluster: str | None,
    sources_file: str | None,
    network: ResolverSettings,
    live: LiveSettings,
    recheck: pipeline.RecheckSettings,
    captures: CaptureSettings,
    copies: CopySettings,
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
    outcome = run_command(
        ctx,
        pipeline.RunSettings(
            db_path=db_path,
            command="archive",
            sources=entries,
            fmt=fmt,
            text_column=text_column,
            resolver=network,
            recheck=recheck,
            captures=captures,
            limit=limit,
            time_limit_minutes=time_limit,
            create=create,
            live=live,
            copies=copies,
            cluster=cluster,
        ),
    )
    if outcome.unavailable and named:
        sys.exit(1)


@cli.command(cls=GroupedCommand)
@click.argument("sources", nargs=-1, required=True)
@db_option
@create_option
@source_format_options
@time_limit_option
@NETWORK.apply
@FOLLOWING.apply
@COPIES.apply
@click.pass_context
def ingest(
    ctx: click.Context,
    /,
    sources: tuple[str, ...],
    db_path: str,
    create: bool,
    fmt: str | None,
    text_column: str | None,
    time_limit: float | None,
    network: ResolverSettings,
    live: LiveSettings,
    copies: CopySettings,
) -> None:
    """Read SOURCE files, folders or URLs and store their posts and links, without resolving.

    Example:

    \b
        archiver ingest data/inbox/page.txt
    """
    outcome = run_command(
        ctx,
        pipeline.RunSettings(
            db_path=db_path,
            command="ingest",
            sources=tuple(SourceEntry(s) for s in sources),
            fmt=fmt,
            text_column=text_column,
            resolver=network,
            time_limit_minutes=time_limit,
            resolve=False,
            create=create,
            live=live,
            copies=copies,
        ),
    )
    if outcome.unavailable:
        sys.exit(1)


@cli.command(cls=GroupedCommand)
@db_option
@limit_option
@time_limit_option
@cluster_option
@NETWORK.apply
@RECHECK.apply
@CAPTURES.apply
@COPIES.apply
@click.pass_context
def resolve(
    ctx: click.Context,
    /,
    db_path: str,
    limit: int | None,
    time_limit: float | None,
    cluster: str | None,
    network: ResolverSettings,
    recheck: pipeline.RecheckSettings,
    captures: CaptureSettings,
    copies: CopySettings,
) -> None:
    """Resolve links that are new or due for another check.

    Example:

    \b
        archiver resolve --limit 100
    """
    run_command(
        ctx,
        pipeline.RunSettings(
            db_path=db_path,
            command="resolve",
            resolver=network,
            recheck=recheck,
            captures=captures,
            limit=limit,
            time_limit_minutes=time_limit,
            ingest=False,
            copies=copies,
            cluster=cluster,
        ),
    )


@cli.command()
@db_option
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@metadata_option("Datasette metadata file to use instead of archiver's own")
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
    if write_only and not public:
        raise click.UsageError("--write-only writes the public snapshot: use it with --public")
    db = open_existing(db_path)  # also brings the schema up to date before serving
    fitted = _metadata_for(db_path, metadata)
    with tempfile.TemporaryDirectory(prefix="archiver-serve-") as scratch:
        try:
            serving = publish.prepare_serving(db, db_path, fitted, public=public, scratch=Path(scratch))
        except DatabaseError as ex:
            raise click.ClickException(str(ex)) from ex
        finally:
            db.close()
        if write_only:
            click.echo(f"{serving.database}\n{serving.metadata}")
            return
        publish.serve(serving, host=host, port=port)


def _metadata_for(db_path: str, metadata: str | None) -> dict[str, Any]:
    """Return the metadata to serve ``db_path`` with: ``metadata`` or archiver's own, fitted to its name."""
    try:
        loaded = publish.load_metadata(metadata)
    except ArchiverError as ex:
        raise click.ClickException(str(ex)) from ex
    return publish.for_database(loaded, publish.database_name(db_path))


@cli.command()
@db_option
def stats(db_path: str) -> None:
    """Show counts of posts and links by status, and the top final domains.

    Example:

    \b
        archiver stats
    """
    db = open_existing(db_path, read_only=True)
    summary = store.stats(db)
    click.echo(f"posts: {summary['posts']}")
    click.echo(f"links: {summary['links']}")
    for status, count in summary["by_status"].items():
        click.echo(f"  {status:<20} {count}")
    kept, size = store.copies_size(db)
    if kept:
        click.echo(f"copies: {kept} answers kept, {size / 1e6:.1f} MB of WARC response records")
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
@db_option
def sources_(db_path: str) -> None:
    """List every source read so far: format, last fetch, status and posts.

    Example:

    \b
        archiver sources
    """
    db = open_existing(db_path, read_only=True)
    rows = store.list_sources(db)
    if not rows:
        click.echo("no sources yet")
        return
    for row in rows:
        click.echo(
            f"{row['location']}\n  format: {row['format'] or 'unknown'}"
            f"  last fetched: {row['last_fetched_at']}  status: {row['last_status']}  posts: {row['posts']}"
            + _how_far(row)
            + (f"\n  error: {row['last_error']}" if row["last_error"] else "")
        )


def _how_far(row: dict[str, Any]) -> str:
    """Return how far back a followed source has been read, for ``archiver sources``."""
    if row.get("cursor") is None:
        return ""
    if not row.get("read_back_to"):
        return "\n  nothing read yet"
    whole = " (the first post)" if row.get("whole_history") else ", older posts still to read"
    return f"\n  read back to {row['read_back_to']}{whole}; newest {row['read_up_to']}"


@cli.command()
@click.argument("table")
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(publish.EXPORT_FORMATS),
    default=str(ExportFormat.CSV),
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: stdout)",
)
@metadata_option("Datasette metadata file whose canned queries TABLE may name (default: archiver's own)")
def export(table: str, db_path: str, fmt: str, output: Any, metadata: str | None) -> None:
    """Write a table, view or canned query as CSV, JSON or JSON Lines, without a server.

    TABLE is a table or view of the archive, or the name of one of the canned
    queries published with it (top_domains, links_died, newly_failed_links, ...).

    Example:

    \b
        archiver export links --format csv -o links.csv
    """
    db = open_existing(db_path, read_only=True)
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
    count = publish.write_rows(rows, columns, fmt, output)
    click.echo(f"export: {count} rows of {table} written as {fmt}", err=True)


# -- helpers -----------------------------------------------------------------------


def open_existing(db_path: str, *, read_only: bool = False) -> store.Database:
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


def _open(db_path: str) -> store.Database:
    try:
        return store.open_database(db_path)
    except DatabaseError as ex:
        raise click.ClickException(str(ex)) from ex


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


# Commands of their own modules, added last: they use what this module defines.
from .evidence import evidence  # noqa: E402

cli.add_command(evidence)
