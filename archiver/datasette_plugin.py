"""How archiver's tables look in Datasette, and what a public instance refuses.

Registered as a Datasette plugin through the package's entry point, so it is active
whenever archiver is installed.  Cells: links that open safely, readable timestamps.
Public mode (``plugins: archiver: public: true`` in the metadata, which
``archiver serve --public`` sets) answers the tables, views, facets, search, canned
queries and the dashboards' own queries, and nothing else: a stranger's ``?sql=`` or
``?_where=`` is refused before Datasette sees it (a single ``zeroblob()`` call cannot be
stopped by the SQL time limit), and ``/-/databases.json`` shows no file path.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

__all__ = ["asgi_wrapper", "published_queries", "register_routes", "render_cell"]

PLUGIN = "archiver"
# Query-string parameters that carry SQL written by the visitor.
SQL_PARAMETERS = ("sql", "_where")
PUBLIC_REFUSAL = (
    "This public archive answers its tables, views, facets, search, canned queries and "
    "dashboards; it does not run other SQL."
)
# A dashboard query's optional [[ ... ]] parts are kept or dropped by the dashboard's
# filters; past this many parts, only the query with all kept or all dropped is allowed.
MAX_OPTIONAL_PARTS = 8
_OPTIONAL_PART = re.compile(r"\[\[.*?\]\]")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_public(datasette: Any) -> bool:
    return bool((datasette.plugin_config(PLUGIN) or {}).get("public"))


def published_queries(datasette: Any) -> frozenset[str]:
    """Return the SQL texts a public instance runs: each dashboard chart's query, as sent."""
    queries: set[str] = set()
    for dashboard in (datasette.plugin_config("datasette-dashboards") or {}).values():
        if not isinstance(dashboard, dict):
            continue
        for chart in (dashboard.get("charts") or {}).values():
            if isinstance(chart, dict) and isinstance(chart.get("query"), str):
                queries.update(_with_optional_parts(chart["query"]))
    return frozenset(queries)


def _with_optional_parts(query: str) -> Iterator[str]:
    """Yield ``query`` with each combination of its [[ ... ]] parts kept or dropped."""
    parts = _OPTIONAL_PART.findall(query)
    choices: Any = (
        itertools.product((True, False), repeat=len(parts))
        if len(parts) <= MAX_OPTIONAL_PARTS
        else [(True,) * len(parts), (False,) * len(parts)]
    )
    for keep in choices:
        text = query
        for part, kept in zip(parts, keep, strict=True):
            # As datasette-dashboards does it: the brackets are stripped from a kept part.
            text = text.replace(part, part.strip("[]") if kept else "")
        yield text


def refused_parameter(datasette: Any, query_string: bytes) -> str | None:
    """Return the SQL-carrying parameter a public instance must refuse, or None."""
    allowed: frozenset[str] | None = None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name not in SQL_PARAMETERS:
            continue
        if name == "sql":
            if allowed is None:
                allowed = published_queries(datasette)
            if value in allowed:
                continue
        return name
    return None


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    def wrap(app: ASGIApp) -> ASGIApp:
        async def public_only(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get("type") == "http" and is_public(datasette):
                refused = refused_parameter(datasette, scope.get("query_string", b""))
                if refused is not None:
                    await _send_refusal(send, refused)
                    return
            await app(scope, receive, send)

        return public_only

    return wrap


async def _send_refusal(send: Send, parameter: str) -> None:
    body = json.dumps({"ok": False, "error": f"{PUBLIC_REFUSAL} (?{parameter}=)", "status": 403}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Callable[..., Awaitable[Response]]]]:
    if datasette is None or not is_public(datasette):
        return []
    return [(r"^/-/databases(\.json)?$", _databases_without_paths)]


async def _databases_without_paths(datasette: Any) -> Response:
    """The databases served, as Datasette lists them, without the machine's file paths."""
    return Response.json(
        [
            {
                "name": database.name,
                "route": database.route,
                "size": database.size,
                "is_mutable": database.is_mutable,
                "is_memory": database.is_memory,
                "hash": database.hash,
            }
            for name, database in datasette.databases.items()
            if name != "_internal"
        ]
    )


_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z$")


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Markup | None:
    """Return the HTML of a cell: URLs as links that pass no referrer or ranking, UTC times readable."""
    if not isinstance(value, str):
        return None
    if value.startswith(("http://", "https://")) and not any(c.isspace() for c in value):
        # Strangers' URLs: no ranking credit, no access to this page, no referrer.
        url = escape(value)
        return Markup(f'<a href="{url}" rel="nofollow noopener noreferrer ugc" target="_blank">{url}</a>')
    match = _TIMESTAMP.match(value)
    if match and column.endswith("_at"):
        return Markup(f'<time datetime="{escape(value)}">{match.group(1)} {match.group(2)} UTC</time>')
    return None
