"""How an archive reads in Datasette: link and post pages, colours, and what a public instance refuses.

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
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from ...store import distrust_schema
from .pages import ROT_COLOURS, STATUS_COLOURS, Page, link_story, marked_post_text, post_story, start_here

__all__ = [
    "asgi_wrapper",
    "extra_css_urls",
    "extra_template_vars",
    "published_queries",
    "register_routes",
    "render_cell",
]

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
def prepare_connection(conn: sqlite3.Connection) -> None:
    # A database file's views and defaults may not call functions with side effects.
    distrust_schema(conn)


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
    routes: list[tuple[str, Callable[..., Awaitable[Response]]]] = [(r"^/-/archiver\.css$", _stylesheet)]
    if datasette is not None and is_public(datasette):
        routes.append((r"^/-/databases(\.json)?$", _databases_without_paths))
    return routes


@hookimpl
def extra_css_urls() -> list[str]:
    return ["/-/archiver.css"]


@hookimpl
def extra_body_script(template: str, datasette: Any) -> str | None:
    """On the page that searches every table, make its results read as the tables do; on a
    database's page, start the SQL box from the posts rather than from the first table
    by name (an empty bookkeeping table)."""
    if template == "database.html":
        return FIRST_QUERY_SCRIPT
    if template != "search_all.html":
        return None
    known = sorted({*STATUS_COLOURS, *ROT_COLOURS})
    return SEARCH_RESULTS_SCRIPT.replace("__VALUES__", json.dumps(known))


# Runs before the page's editor is made from the box (on load).
FIRST_QUERY_SCRIPT = r"""
(function () {
  const box = document.querySelector("textarea#sql-editor");
  const posts = document.querySelector('.start-here a[href$="/posts"]');
  if (box && posts && /^select \* from /.test(box.value)) {
    box.value = "select posted_at, author_handle, platform, text from posts order by posted_at desc limit 20";
  }
})();
"""


# The search page draws its results in the browser: each table's rows arrive as JSON and
# become a table with no link to the archive's own pages.  This makes a post's or a link's
# id lead to its page, colours states by meaning, and shows times as "… UTC".
SEARCH_RESULTS_SCRIPT = r"""
(function () {
  const coloured = new Set(__VALUES__);
  const safe = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
  function tilde(value) {
    return Array.from(new TextEncoder().encode(value)).map(byte => {
      const c = String.fromCharCode(byte);
      if (safe.has(c)) return c;
      if (c === " ") return "+";
      return "~" + byte.toString(16).toUpperCase().padStart(2, "0");
    }).join("");
  }
  function mend(block) {
    if (block.dataset.archiver) return;
    const heading = block.querySelector("h2 a");
    const table = block.querySelector("table.rows-and-columns");
    if (!heading || !table) return;
    block.dataset.archiver = "1";
    const base = new URL(heading.getAttribute("href"), location.href).pathname;
    const rows = Array.from(table.querySelectorAll("tr"));
    const names = Array.from(rows[0].querySelectorAll("th")).map(th => th.textContent.trim());
    const linkable = /\/(posts|links)$/.test(base);
    for (const row of rows.slice(1)) {
      row.querySelectorAll("td").forEach((cell, i) => {
        const name = names[i] || "", value = cell.textContent;
        if (name === "id" && linkable && value) {
          const a = document.createElement("a");
          a.href = base + "/" + tilde(value);
          a.textContent = value;
          cell.replaceChildren(a);
        } else if ((name === "status" || name === "rot") && coloured.has(value)) {
          cell.innerHTML = "";
          const span = document.createElement("span");
          span.className = "value-" + value;
          span.textContent = value;
          cell.appendChild(span);
        } else if (name.endsWith("_at")) {
          const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)Z$/.exec(value);
          if (m) cell.textContent = m[1] + " " + m[2] + " UTC";
        }
      });
    }
  }
  const results = document.getElementById("search-all-results");
  if (!results) return;
  new MutationObserver(() => results.querySelectorAll(":scope > div").forEach(mend))
    .observe(results, {childList: true});
})();
"""


async def _stylesheet(datasette: Any) -> Response:
    """The colours by meaning (one palette: pages.py) and the link and post pages' layout.

    A public instance runs no SQL of a visitor's, so it shows no SQL box and no "edit SQL"
    link either (they would only lead to its refusal).
    """
    rules = [STYLE]
    if is_public(datasette):
        rules.append('form.sql, a[href*="?sql="], a[href*="&sql="] { display: none !important; }')
    for vocabulary in (STATUS_COLOURS, ROT_COLOURS):
        for value, colour in vocabulary.items():
            # Cells, the link and post pages, and the facets of status and rot.
            rules.append(f".value-{value} {{ color: {colour}; font-weight: 600; }}")
            rules.append(
                f'.facet-info[data-column="status"] a[href$="status={value}"],'
                f' .facet-info[data-column="rot"] a[href$="rot={value}"] {{ color: {colour}; }}'
            )
    return Response("\n".join(rules), content_type="text/css; charset=utf-8")


STYLE = """
.story { margin: 1em 0 2em; max-width: 70em; }
.story h2 { margin-bottom: 0.3em; }
.story .where { font-size: 1.1em; overflow-wrap: anywhere; }
.story dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
.story dt { font-weight: 600; }
.story dd { margin: 0; overflow-wrap: anywhere; }
.story ol.chain li { margin: 0.3em 0; overflow-wrap: anywhere; }
.story .code { display: inline-block; min-width: 2.5em; font-family: monospace; font-weight: 600; }
.story .via { color: #57606a; font-size: 0.9em; }
.story .label { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 4px; padding: 0 0.4em;
  font-size: 0.85em; font-weight: normal; }
.story .badge { border-radius: 4px; padding: 0.1em 0.5em; color: #fff; font-weight: 600; }
.story .badge.good { background: #1a7f37; } .story .badge.failed { background: #cf222e; }
.story .badge.warning { background: #e16f24; } .story .badge.waiting { background: #8c959f; }
.story .badge.changed { background: #8250df; }
.story .missing { color: #57606a; font-style: italic; }
.story table.timeline td { padding: 0.2em 0.8em 0.2em 0; }
.story .post-text { white-space: pre-wrap; font-size: 1.1em; background: #f6f8fa; padding: 0.8em; }
.story a.post-link { background: #ddf4ff; border-radius: 3px; padding: 0 2px; }
.story .excerpt { color: #24292f; }
td.col-url, td.col-final_url, td.col-link_url, td.col-post_url, td.col-archived_url { min-width: 13em;
  max-width: 24em; overflow-wrap: anywhere; }
td.col-text { min-width: 24em; }
/* The posts table reads as a list of posts on the first screen: the rows right after the
   search and filters (facets and column descriptions below them), the text wrapped, and
   the columns kept for export and the row's page out of the way. */
body.table-posts .content { display: flex; flex-direction: column; }
body.table-posts .content > * { order: 4; }
body.table-posts .content > .page-header, body.table-posts .content > .metadata-description { order: 0; }
body.table-posts .content > h3, body.table-posts .content > form.filters { order: 1; }
body.table-posts .content > .table-wrapper { order: 2; }
body.table-posts .content > .facet-results, body.table-posts .content > .suggested-facets { order: 3; }
body.table-posts td.col-text { white-space: pre-wrap; min-width: 26em; max-width: 44em; }
body.table-posts td.col-id { max-width: 9em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
body.table-posts .col-source, body.table-posts .col-first_seen_at, body.table-posts .col-run_id,
body.table-posts .col-hashtags_folded, body.table-posts .col-author_handle_folded { display: none; }
/* Column descriptions stay on the page without pushing the rows below the first screen. */
dl.column-descriptions { max-height: 5em; overflow-y: auto; border: 1px solid #d0d7de; padding: 0.3em 0.6em; }
"""


@hookimpl
def extra_template_vars(
    template: str, database: str | None, table: str | None, view_name: str, request: Any, datasette: Any
) -> Any:
    """Give a link's and a post's row page their story (templates/row.html shows it), and
    the database page the tables and views a reader starts from (templates/database.html)."""
    if view_name == "database" and database is not None:

        async def start() -> dict[str, Any]:
            return {"archiver_start": await start_here(datasette, database)}

        return start
    if view_name != "row" or table not in ("links", "posts") or request is None or database is None:
        return {}

    async def story() -> dict[str, Any]:
        key = tilde_decode(request.url_vars.get("pks", ""))
        db = datasette.get_database(database)
        page = Page(datasette.urls.database(database))
        if table == "links":
            return {"archiver_link": await link_story(db, page, key, public=is_public(datasette))}
        return {"archiver_post": await post_story(db, page, key)}

    return story


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


# Views whose ``id`` column is a link's id.
LINK_VIEWS = frozenset(
    {
        "failed_links",
        "dead_links",
        "domain_changes",
        "link_chains",
        "links_rotten",
        "gone_but_captured",
        "content_changed",
    }
)
# Columns that hold a vocabulary value, shown in its colour.
COLOURED_COLUMNS = frozenset({"status", "rot", "last_status"})


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | Callable[[], Awaitable[Markup]] | None:
    """Return the HTML of a cell: URLs as links that pass no referrer or ranking, UTC times
    readable, ids leading to their row's page, states in their colour, and a post's text
    with its links leading to their pages."""
    if not isinstance(value, str):
        return None
    if table == "posts" and column == "text" and row is not None and "id" in row.keys():  # noqa: SIM118 - a sqlite3.Row
        page = Page(datasette.urls.database(database))

        async def text() -> Markup:
            return await marked_post_text(datasette.get_database(database), page, row["id"], value)

        return text
    target = _row_of(value, column, table)
    if target is not None:
        href = f"{datasette.urls.database(database)}/{target}/{tilde_encode(value)}"
        return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    if column in COLOURED_COLUMNS and (value in STATUS_COLOURS or value in ROT_COLOURS):
        return Markup(f'<span class="value-{escape(value)}">{escape(value)}</span>')
    if value.startswith(("http://", "https://")) and not any(c.isspace() for c in value):
        # Strangers' URLs: no ranking credit, no access to this page, no referrer.
        url = escape(value)
        return Markup(f'<a href="{url}" rel="nofollow noopener noreferrer ugc" target="_blank">{url}</a>')
    match = _TIMESTAMP.match(value)
    if match and column.endswith("_at"):
        return Markup(f'<time datetime="{escape(value)}">{match.group(1)} {match.group(2)} UTC</time>')
    return None


def _row_of(value: str, column: str, table: str | None) -> str | None:
    """Return the table whose row page an id cell leads to, or None for any other cell."""
    if column == "post_id" and table != "post_links":  # post_links has foreign keys already
        return "posts"
    if column == "link_id" and table not in ("post_links", "redirects", "checks"):
        return "links"
    if column == "id" and table in LINK_VIEWS:
        return "links"
    return None
