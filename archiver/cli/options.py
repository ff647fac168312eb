"""The command line's options, in groups: each group's options build one frozen settings object.

A group is a list of options and a function from their values to its settings object;
``OptionGroup.apply`` adds the options to a command and hands it the object instead of
the values, under the group's name.  ``--help`` shows each group under its own heading.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ..http import DEFAULT_USER_AGENT, WEB_PORTS, ResolverSettings
from ..models import COPY_LIMIT, CaptureMode
from ..pipeline import RecheckSettings
from ..preserve import DEFAULT_ENDPOINTS, DEFAULT_SAVE_URL, CaptureSettings, CopySettings
from ..sources import DEFAULT_BLUESKY_API, LIVE_FORMATS, SOURCES, LiveSettings, parse_tokens

__all__ = [
    "CAPTURES",
    "COPIES",
    "FOLLOWING",
    "NETWORK",
    "RECHECK",
    "DEFAULT_DB",
    "GroupedCommand",
    "OptionGroup",
    "create_option",
    "db_option",
    "limit_option",
    "metadata_option",
    "source_format_options",
    "time_limit_option",
]

DEFAULT_DB = "data/archive.db"
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
Declared = tuple[tuple[str, ...], dict[str, Any]]


def _option(*declarations: str, **keywords: Any) -> Declared:
    """Return an option as ``click.option`` would be given it."""
    return declarations, keywords


class GroupedOption(click.Option):
    """An option that knows the heading it is listed under in ``--help``."""

    def __init__(self, *args: Any, group: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """A command whose ``--help`` lists its options under their groups' headings."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                heading = getattr(param, "group", None) or "Options"
                sections.setdefault(heading, []).append(record)
        for heading in ["Options", *(h for h in sections if h != "Options")]:
            if heading in sections:
                with formatter.section(heading):
                    formatter.write_dl(sections[heading])


@dataclass(frozen=True)
class OptionGroup:
    """Options listed under one heading whose values build one settings object."""

    name: str  # the parameter the command receives the settings object as
    heading: str
    options: tuple[Declared, ...]
    build: Callable[[dict[str, Any]], Any]

    def names(self) -> list[str]:
        """Return the parameter names of the group's options, as click names them."""
        return [str(click.Option(list(decls), **kw).name) for decls, kw in self.options]

    def apply(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Add the group's options to a command, which receives the built object as ``name``."""
        names = self.names()

        @functools.wraps(function)
        def with_settings(*args: Any, **values: Any) -> Any:
            picked = {name: values.pop(name) for name in names}
            return function(*args, **{self.name: self.build(picked)}, **values)

        command: Callable[..., Any] = with_settings
        for decls, kw in reversed(self.options):
            command = click.option(*decls, cls=GroupedOption, group=self.heading, **kw)(command)
        return command


def _network(values: dict[str, Any]) -> ResolverSettings:
    return ResolverSettings(
        concurrency=values["concurrency"],
        per_host=values["per_host"],
        timeout=values["timeout"],
        max_hops=values["max_hops"],
        allow_private=values["allow_private"],
        ports=WEB_PORTS | frozenset(values["allow_ports"]),
        proxy=values["proxy"] or None,
        user_agent=values["user_agent"],
        probe=values["probe"],
    )


NETWORK = OptionGroup(
    "network",
    "Network",
    (
        _option(
            "--concurrency",
            default=20,
            show_default=True,
            type=click.IntRange(1, 1000),
            help="Requests in flight overall (on a cluster: for each worker)",
        ),
        _option(
            "--per-host",
            default=2,
            show_default=True,
            type=click.IntRange(1, 100),
            help="Requests in flight to one host",
        ),
        _option(
            "--timeout",
            default=15.0,
            show_default=True,
            type=click.FloatRange(0.1, 600),
            help="Seconds for one request, body included",
        ),
        _option(
            "--max-hops",
            default=10,
            show_default=True,
            type=click.IntRange(0, 100),
            help="Redirects followed per link",
        ),
        _option(
            "--allow-private",
            is_flag=True,
            help="Allow requests to loopback, private and other internal addresses, on any port",
        ),
        _option(
            "--allow-port",
            "allow_ports",
            multiple=True,
            type=click.IntRange(1, 65535),
            metavar="PORT",
            help="Also allow URLs on this port (repeatable); allowed: "
            + ", ".join(map(str, sorted(WEB_PORTS))),
        ),
        _option(
            "--proxy",
            envvar="ARCHIVER_PROXY",
            metavar="URL",
            help="Send every request through this HTTP proxy (also ARCHIVER_PROXY); "
            "HTTP_PROXY and the like are ignored",
        ),
        _option(
            "--user-agent",
            default=DEFAULT_USER_AGENT,
            show_default=True,
            metavar="UA",
            help="User-Agent header sent with every request",
        ),
        _option(
            "--probe/--no-probe",
            default=True,
            show_default=True,
            help="Ask each host whose link ended on a deep page, once a run, for a path that does "
            "not exist, to tell a soft 404 (a 'not found' page served with 200) from the page linked",
        ),
    ),
    _network,
)


def _recheck(values: dict[str, Any]) -> RecheckSettings:
    return RecheckSettings(after_days=values["recheck_after"], every_link=not values["due_only"])


RECHECK = OptionGroup(
    "recheck",
    "Re-check",
    (
        _option(
            "--recheck-after",
            default=30.0,
            show_default=True,
            type=click.FloatRange(0),
            metavar="DAYS",
            help="Re-resolve good links last checked longer ago (0: all of them now)",
        ),
        _option(
            "--due-only/--recheck-all",
            default=True,
            show_default=True,
            help="Resolve only links that are new or due (failed ones after 1 h, 6 h, 1 day, then "
            "weekly; good ones after --recheck-after days), or every link now",
        ),
    ),
    _recheck,
)


def _captures(values: dict[str, Any]) -> CaptureSettings:
    # An environment value may list several endpoints, space-separated.
    endpoints = tuple(part for url in values["captures_urls"] for part in url.split())
    return CaptureSettings(
        mode=CaptureMode(values["captures"]),
        endpoints=endpoints or DEFAULT_ENDPOINTS,
        save_url=values["captures_save_url"],
        save_limit=values["save_limit"],
        save_spacing=values["save_spacing"],
        poll_every=values["save_spacing"],
        lookups_per_run=values["lookups_per_run"],
        access_key=os.environ.get("ARCHIVER_IA_ACCESS_KEY") or None,
        secret_key=os.environ.get("ARCHIVER_IA_SECRET_KEY") or None,
    )


CAPTURES = OptionGroup(
    "captures",
    "Web-archive captures",
    (
        _option(
            "--captures",
            type=click.Choice([mode.value for mode in CaptureMode]),
            default=CaptureMode.OFF.value,
            show_default=True,
            envvar="ARCHIVER_CAPTURES",
            help="Ask web archives where links' pages can still be seen: 'lookup' looks up captures "
            "(telling the archives which URLs you look at), 'save' also asks the Internet Archive to "
            "capture live pages it has none of (also ARCHIVER_CAPTURES)",
        ),
        _option(
            "--captures-url",
            "captures_urls",
            multiple=True,
            metavar="URL",
            envvar="ARCHIVER_CAPTURES_URL",
            help="Where captures are looked up, instead of the Internet Archive's CDX API (repeatable; "
            "a URL ending in /cdx is a CDX API, any other a TimeMap prefix the link is appended to, "
            "such as https://host/timemap/link/)",
        ),
        _option(
            "--captures-save-url",
            default=DEFAULT_SAVE_URL,
            show_default=True,
            metavar="URL",
            help="The Save Page Now endpoint --captures save asks",
        ),
        _option(
            "--save-limit",
            default=100,
            show_default=True,
            type=click.IntRange(0),
            help="Captures --captures save asks for in any 24 hours (keys in ARCHIVER_IA_ACCESS_KEY and "
            "ARCHIVER_IA_SECRET_KEY also bring the account's own quota)",
        ),
        _option(
            "--save-spacing",
            default=5.0,
            show_default=True,
            type=click.FloatRange(0),
            metavar="SECONDS",
            help="Wait between two capture requests, and between looks at a pending capture",
        ),
        _option(
            "--lookups-per-run",
            default=500,
            show_default=True,
            type=click.IntRange(0),
            help="URLs whose captures a run looks up at most (in each archive)",
        ),
    ),
    _captures,
)


def _copies(values: dict[str, Any]) -> CopySettings:
    return CopySettings(keep=values["copies"], folder=values["copies_dir"], limit=values["copy_limit"])


COPIES = OptionGroup(
    "copies",
    "Copies",
    (
        _option(
            "--copies/--no-copies",
            default=False,
            envvar="ARCHIVER_COPIES",
            help="Keep a copy of every answer read while checking links and fetching sources, "
            "as WARC records in .warc.gz files (also ARCHIVER_COPIES=1)",
        ),
        _option(
            "--copies-dir",
            metavar="DIR",
            type=click.Path(file_okay=False),
            help="Where copies are written (default: copies/ beside the database)",
        ),
        _option(
            "--copy-limit",
            default=COPY_LIMIT,
            show_default=True,
            type=click.IntRange(1024),
            metavar="BYTES",
            help="Bytes of one answer's body kept; a longer one is cut and its record marked WARC-Truncated",
        ),
    ),
    _copies,
)


def _live(values: dict[str, Any]) -> LiveSettings:
    return LiveSettings(
        bluesky_api=values["bluesky_api"],
        mastodon_tokens=parse_tokens(os.environ.get("ARCHIVER_MASTODON_TOKEN")),
    )


FOLLOWING = OptionGroup(
    "live",
    "Followed accounts",
    (
        _option(
            "--bluesky-api",
            default=DEFAULT_BLUESKY_API,
            show_default=True,
            metavar="URL",
            envvar="ARCHIVER_BLUESKY_API",
            help="The Bluesky AppView that 'bluesky' sources are read from and that completes the cut "
            "links of Bluesky feeds (also ARCHIVER_BLUESKY_API); Mastodon tokens are read from "
            "ARCHIVER_MASTODON_TOKEN as HOST=TOKEN pairs, each sent only to its own instance",
        ),
    ),
    _live,
)


def db_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --db, the archive's file."""
    return click.option(
        "--db",
        "db_path",
        default=DEFAULT_DB,
        show_default=True,
        envvar="ARCHIVER_DB",
        type=click.Path(dir_okay=False),
        help="SQLite database file (also ARCHIVER_DB)",
    )(function)


def create_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --create: a missing archive is made only when asked for."""
    return click.option(
        "--create",
        is_flag=True,
        envvar="ARCHIVER_CREATE",
        help="Start a new archive at --db if there is none there (otherwise a missing "
        "database is an error; also ARCHIVER_CREATE=1)",
    )(function)


def metadata_option(help_text: str) -> Decorator:
    """Add -m/--metadata, the Datasette metadata serve and export use instead of archiver's own."""
    return click.option(
        "-m", "--metadata", default=None, type=click.Path(dir_okay=False, exists=True), help=help_text
    )


def source_format_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --format and --text-column, how the sources of archive and ingest are read."""
    function = click.option(
        "--text-column", metavar="NAME", help="The column of CSV sources that holds the text"
    )(function)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(sorted(str(name) for name in (*SOURCES, *LIVE_FORMATS))),
        help="Read every source as this format",
    )(function)


def time_limit_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --time-limit, how long a run may take."""
    return click.option(
        "--time-limit",
        type=click.FloatRange(0, min_open=True),
        metavar="MINUTES",
        help="Stop this long after the run started, reading sources and fetching feeds "
        "included; sources and links not reached wait for the next run (for a cron slot)",
    )(function)


def cluster_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --cluster, where the resolve step runs."""
    return click.option(
        "--cluster",
        envvar="ARCHIVER_CLUSTER",
        metavar="ADDRESS|local:N",
        help="Resolve on a Dask cluster, each host's requests made by one worker: a scheduler's "
        "address (tcp://host:8786), or local:N for N worker processes on this machine "
        "(also ARCHIVER_CLUSTER; needs pip install 'archiver[cluster]')",
    )(function)


def limit_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add --limit, how many links a run resolves at most."""
    return click.option("--limit", type=click.IntRange(1), help="Resolve at most this many links")(function)
