"""What a link's page and a post's page show: each link's story, each post with where its links go.

Datasette's row page of ``links`` and of ``posts`` is extended (templates/row.html) with
what a reader needs without SQL: for a link, where it goes now, its redirect chain as
numbered steps, its check history, the posts that carry it and its web-archive captures;
for a post, its text with the links marked and, for each link, where it goes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasette.utils import tilde_encode
from markupsafe import Markup, escape

from ...models import MEANINGS, LinkStatus, Rot, Via
from ...store import COPIES_OF_CHAINS
from ..then_and_now import shown_by

__all__ = [
    "STATUS_COLOURS",
    "ROT_COLOURS",
    "marked_post_text",
    "link_story",
    "post_story",
    "start_here",
    "status_class",
]

# Colours by meaning, the one palette of every page, facet and chart: good green,
# failed red, a failure that may pass orange, waiting or never requested grey.
GREEN, RED, ORANGE, GREY, AMBER, PURPLE = "#1a7f37", "#cf222e", "#e16f24", "#8c959f", "#bf8700", "#8250df"
STATUS_COLOURS: dict[str, str] = {
    LinkStatus.OK: GREEN,
    LinkStatus.PENDING: GREY,
    LinkStatus.HTTP_ERROR: RED,
    LinkStatus.DNS_ERROR: RED,
    LinkStatus.CONNECT_ERROR: RED,
    LinkStatus.TLS_ERROR: RED,
    LinkStatus.TOO_MANY_REDIRECTS: RED,
    LinkStatus.REDIRECT_LOOP: RED,
    LinkStatus.TIMEOUT: ORANGE,
    LinkStatus.BLOCKED: GREY,
    LinkStatus.INVALID: GREY,
    LinkStatus.TRUNCATED: GREY,
}
ROT_COLOURS: dict[str, str] = {
    Rot.NONE: GREEN,
    Rot.DEAD: RED,
    Rot.SOFT_404: ORANGE,
    Rot.PARKED: ORANGE,
    Rot.FRONT_PAGE: ORANGE,
    Rot.DOMAIN_CHANGED: AMBER,
    Rot.CONTENT_CHANGED: PURPLE,
}
# The answer a link's page gives to "Still the page that was linked?", by rot verdict: a
# reader takes a bare "none" for "no".
ROT_ANSWERS: dict[str, str] = {
    Rot.NONE: "Yes",
    Rot.DEAD: "No: gone",
    Rot.SOFT_404: "No: a not-found page",
    Rot.PARKED: "No: a parked domain",
    Rot.FRONT_PAGE: "No: a front page",
    Rot.DOMAIN_CHANGED: "Perhaps not: another domain",
    Rot.CONTENT_CHANGED: "Perhaps not: the page changed",
}
VIA_LABELS = {
    Via.LOCATION: "Location header",
    Via.REFRESH: "Refresh header",
    Via.META: "meta refresh",
    Via.JS: "JavaScript",
    Via.EXPANDED: "expanded by the source",
    Via.UNWRAPPED: "unwrapped from the URL",
}
# How many checks and posts a link's page lists.
HISTORY_ROWS = 100
EXCERPT_CHARS = 280


def web_href(url: str | None) -> str | None:
    """Return a URL fit for a link on a page, or None: only http(s), never ``javascript:``.

    Archives, feeds and exports are strangers' text; a page of the archive links only
    to the web.
    """
    if url and url.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in url):
        return url
    return None


def status_class(status: str | None) -> str:
    """Return the CSS class of a status or rot value: good, failed, transient or waiting."""
    colour = STATUS_COLOURS.get(status or "") or ROT_COLOURS.get(status or "")
    return {GREEN: "good", RED: "failed", ORANGE: "warning", AMBER: "warning", PURPLE: "changed"}.get(
        colour or "", "waiting"
    )


@dataclass
class Page:
    """The path of the archive a page belongs to, to link rows of its tables."""

    base: str  # e.g. /archive

    def link(self, link_id: str) -> str:
        return f"{self.base}/links/{tilde_encode(link_id)}"

    def post(self, post_id: str) -> str:
        return f"{self.base}/posts/{tilde_encode(post_id)}"


async def link_story(db: Any, page: Page, link_id: str, *, public: bool = False) -> dict[str, Any] | None:
    """Return what a link's page shows above its columns, or None when there is no such link.

    A ``public`` instance never lists the link's copies.
    """
    rows = await db.execute("select * from links where id = ?", [link_id])
    link = rows.first()
    if link is None:
        return None
    link = dict(link)
    for column in ("url", "final_url", "archived_url"):
        link[f"{column}_href"] = web_href(link.get(column))
    chain = [
        dict(row, via_label=VIA_LABELS.get(row["via"], row["via"] or ""))
        for row in await db.execute(
            "select hop, url, status_code, via from redirects where link_id = ? order by hop", [link_id]
        )
    ]
    history = [
        dict(row, css=status_class(row["status"]), rot_answer=ROT_ANSWERS.get(row["rot"] or "", row["rot"]))
        for row in await db.execute(
            "select checked_at, status, http_status, final_url, final_domain, error, rot from checks "
            f"where link_id = ? order by id desc limit {HISTORY_ROWS}",
            [link_id],
        )
    ]
    posts = [
        dict(row, href=page.post(row["id"]), permalink=web_href(row["url"]), excerpt=_excerpt(row["text"]))
        for row in await db.execute(
            "select posts.id, posts.author_name, posts.author_handle, posts.posted_at, posts.url, posts.text "
            "from post_links join posts on posts.id = post_links.post_id where post_links.link_id = ? "
            f"order by posts.posted_at, posts.id limit {HISTORY_ROWS}",
            [link_id],
        )
    ]
    captures = []
    if await db.table_exists("captures"):
        captures = [
            dict(row, href=web_href(row["capture_url"]))
            for row in await db.execute(
                "select capture_url, url, archive, captured_at, http_status, roles from captures "
                "where link_id = ? order by captured_at",
                [link_id],
            )
        ]
    copies = []
    if not public and await db.table_exists("copies"):
        copies = [
            dict(row, css=status_class(LinkStatus.OK if 200 <= (row["status"] or 0) < 300 else "http_error"))
            for row in await db.execute(
                "select recorded_at, url, status, bytes, payload_sha256, truncated, revisit, warc_file, "
                f"offset from ({COPIES_OF_CHAINS}) order by recorded_at desc, id desc limit {HISTORY_ROWS}",
                {"links": json.dumps([link_id])},
            )
        ]
    status = link["status"]
    failed_now = status not in (LinkStatus.OK, LinkStatus.PENDING)
    return {
        "link": link,
        "status_meaning": MEANINGS[LinkStatus].get(status, ""),
        "status_css": status_class(status),
        "rot_meaning": MEANINGS[Rot].get(link.get("rot") or "", ""),
        "rot_css": status_class(link.get("rot")),
        "rot_answer": ROT_ANSWERS.get(link.get("rot") or "", link.get("rot") or ""),
        "chain": chain,
        # A failed check keeps the chain of the last good one: say so.
        "chain_is_last_good": failed_now and link.get("last_ok_at") is not None and bool(chain),
        "history": history,
        "posts": posts,
        "captures": captures,
        "copies": copies,
        "then_and_now": await _then_and_now(db, link, copies),
    }


async def _then_and_now(db: Any, link: dict[str, Any], copies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return what the link's page showed at its first good copy and at its latest, for a page whose
    content changed; None without copies (or on a public instance, which lists none)."""
    if link.get("rot") != Rot.CONTENT_CHANGED or not copies or not db.path:
        return None
    pages = [c for c in copies if 200 <= (c["status"] or 0) < 300 and not c["revisit"]]
    pages = [c for c in pages if c["url"] == link.get("final_url")] or pages
    if len(pages) < 2:
        return None
    folder = Path(db.path).resolve().parent / "copies"
    then, now = shown_by(folder, pages[-1]), shown_by(folder, pages[0])  # copies are newest first
    return {"then": then, "now": now} if then and now else None


async def post_story(db: Any, page: Page, post_id: str) -> dict[str, Any] | None:
    """Return what a post's page shows above its columns, or None when there is no such post."""
    rows = await db.execute("select * from posts where id = ?", [post_id])
    post = rows.first()
    if post is None:
        return None
    post = dict(post)
    post["permalink"] = web_href(post.get("url"))
    links = [
        dict(
            row,
            href=page.link(row["id"]),
            css=status_class(row["status"]),
            status_meaning=MEANINGS[LinkStatus].get(row["status"], ""),
        )
        for row in await db.execute(
            "select links.id, links.url, links.status, links.http_status, links.final_url, "
            "links.final_domain, links.title, links.rot, links.archived_url, post_links.display_url, "
            "post_links.position "
            "from post_links join links on links.id = post_links.link_id where post_links.post_id = ? "
            "order by post_links.position",
            [post_id],
        )
    ]
    return {"post": post, "links": links, "text": marked_text(post["text"] or "", links)}


async def marked_post_text(db: Any, page: Page, post_id: str, text: str) -> Markup:
    """Return a post's text for a cell of the posts table: its links lead to their pages."""
    rows = await db.execute(
        "select links.id, links.url, post_links.display_url from post_links "
        "join links on links.id = post_links.link_id where post_links.post_id = ?",
        [post_id],
    )
    return marked_text(text, [dict(row, href=page.link(row["id"])) for row in rows])


# The tables and views a reader starts from, in the order the database page lists them.
START_HERE = (
    ("posts", "Posts"),
    ("links", "Links"),
    ("domains", "Domains"),
    ("failed_links", "Failed links"),
    ("dead_links", "Dead links"),
    ("links_rotten", "Links that look alive but are not"),
    ("gone_but_captured", "Gone, but captured"),
    ("content_changed", "Pages that changed"),
)
# Counted on the page: the tables, and the views of link verdicts (indexed columns).
COUNTED = (
    "posts",
    "links",
    "failed_links",
    "dead_links",
    "links_rotten",
    "gone_but_captured",
    "content_changed",
)


async def start_here(datasette: Any, database: str) -> list[dict[str, Any]]:
    """Return the tables and views a reader starts from, with their descriptions."""
    db = datasette.get_database(database)
    names = set(await db.table_names()) | set(await db.view_names())
    items = []
    for name, title in START_HERE:
        if name not in names:
            continue
        count = None
        if name in COUNTED:
            count = (await db.execute(f"select count(*) from [{name}]")).first()[0]
        items.append(
            {
                "href": f"{datasette.urls.database(database)}/{name}",
                "title": title,
                "count": count,
                "description": datasette.metadata("description", database=database, table=name) or "",
            }
        )
    if datasette.plugin_config("datasette-dashboards"):
        items.append(
            {
                "href": datasette.urls.path("/-/dashboards"),
                "title": "Dashboards",
                "count": None,
                "description": "charts of where the links go and how their checks turn out",
            }
        )
    return items


def marked_text(text: str, links: list[dict[str, Any]]) -> Markup:
    """Return a post's text as HTML with each of its links marked, leading to the link's page."""
    targets: dict[str, str] = {}
    for link in links:
        for shown in (link.get("display_url"), link.get("url")):
            if shown and len(shown) >= 4:
                targets.setdefault(shown, link["href"])
    if not targets:
        return Markup(escape(text))
    # Longest first, so that a link's full URL wins over its shorter display text.
    pattern = re.compile("|".join(re.escape(t) for t in sorted(targets, key=len, reverse=True)))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[position : match.start()])))
        out.append(
            f'<a class="post-link" href="{escape(targets[match.group(0)])}">{escape(match.group(0))}</a>'
        )
        position = match.end()
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
