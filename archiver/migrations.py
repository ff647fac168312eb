"""Ordered schema changes; each applied one is recorded in ``_sqlite_migrations``."""

from __future__ import annotations

import json

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .domains import domain_or_host
from .models import LinkStatus, Rot
from .postkeys import post_key
from .rot import DEAD_STATUSES
from .urls import hostname

__all__ = ["MIGRATIONS", "VIEWS"]

MIGRATIONS = Migrations("archiver")

# Views are (re)created on every open, so a changed definition needs no migration.
VIEWS = {
    "post_destinations": """
select
  posts.id as post_id, posts.platform, posts.author_handle, posts.posted_at,
  substr(posts.text, 1, 140) || case when length(posts.text) > 140 then '…' else '' end as text,
  posts.url as post_url, post_links.position, links.id as link_id, links.url as link_url,
  links.status, links.final_url, links.final_domain, links.hops
from posts
join post_links on post_links.post_id = posts.id
join links on links.id = post_links.link_id
order by posts.posted_at desc, posts.id, post_links.position
""",
    "failed_links": f"""
select id, url, status, http_status, error, final_url, consecutive_failures,
  first_failed_at, last_checked_at, next_check_at
from links
where status not in ('{LinkStatus.OK}', '{LinkStatus.PENDING}')
order by last_checked_at desc
""",
    "dead_links": f"""
select id, url, status, http_status, error, final_url, final_domain, last_ok_at,
  first_failed_at, consecutive_failures, last_checked_at, archived_url
from links
where rot = '{Rot.DEAD}'
order by first_failed_at desc
""",
    "domain_changes": f"""
select links.id, links.url, earlier.final_domain as earlier_domain,
  links.final_domain as current_domain, earlier.checked_at as earlier_checked_at,
  links.resolved_at as current_resolved_at
from links
join checks as earlier on earlier.link_id = links.id
where earlier.status = '{LinkStatus.OK}' and links.status = '{LinkStatus.OK}'
  and earlier.final_domain is not null and links.final_domain is not null
  and earlier.final_domain != links.final_domain
  and earlier.id = (
    select min(c.id) from checks c where c.link_id = links.id and c.status = '{LinkStatus.OK}'
  )
""",
    "link_chains": """
select links.id, links.url, links.status, links.hops, links.final_url,
  (select group_concat(coalesce(hop.status_code, '-') || ' ' || hop.url, ' -> ')
   from (select status_code, url from redirects where link_id = links.id order by hop) as hop
  ) as chain
from links
""",
    "domains": """
select links.final_domain as domain,
  count(distinct links.id) as links,
  count(distinct post_links.post_id) as posts,
  count(distinct posts.author_handle) as authors,
  (select min(checks.checked_at) from checks where checks.final_domain = links.final_domain)
    as first_reached_at,
  min(links.first_seen_at) as first_seen_at,
  max(links.first_seen_at) as last_seen_at
from links
left join post_links on post_links.link_id = links.id
left join posts on posts.id = post_links.post_id
where links.final_domain is not null
group by links.final_domain
order by links desc
""",
    "links_rotten": f"""
select id, url, final_url, final_domain, rot, rot_evidence, rot_since, title, archived_url, last_checked_at
from links
where rot in ('{Rot.SOFT_404}', '{Rot.PARKED}', '{Rot.FRONT_PAGE}')
order by rot_since desc
""",
    "gone_but_captured": f"""
select id, url, status, rot, rot_evidence, last_ok_at, final_url, archived_url, archived_at, capture_count
from links
where rot in ('{Rot.DEAD}', '{Rot.SOFT_404}', '{Rot.PARKED}', '{Rot.FRONT_PAGE}') and archived_url is not null
order by rot_since desc
""",
    "content_changed": f"""
select links.id, links.url, links.final_url, links.rot, links.rot_evidence, links.rot_since,
  first.title as first_title, links.title, first.checked_at as first_checked_at, links.archived_url
from links
left join checks as first on first.id = (
  select min(c.id) from checks c where c.link_id = links.id and c.status = '{LinkStatus.OK}'
)
where links.rot in ('{Rot.CONTENT_CHANGED}', '{Rot.DOMAIN_CHANGED}')
order by links.rot_since desc
""",
    "top_final_domains": """
select final_domain, count(*) as links, sum(is_shortener) as via_shortener
from links
where final_domain is not null
group by final_domain
order by links desc
""",
}


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    db.table("runs").create(
        {
            "id": int,
            "command": str,
            "started_at": str,
            "finished_at": str,
            "posts_added": int,
            "links_added": int,
            "links_checked": int,
            "links_failed": int,
            "status": str,
        },
        pk="id",
    )
    db.table("posts").create(
        {
            "id": str,
            "platform": str,
            "author_name": str,
            "author_handle": str,
            "text": str,
            "posted_at": str,
            "url": str,
            "source": str,
            "hashtags": str,
            "mentions": str,
            "first_seen_at": str,
            "run_id": int,
        },
        pk="id",
        not_null=["platform", "text", "source", "first_seen_at"],
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("links").create(
        {
            "id": str,
            "url": str,
            "host": str,
            "is_shortener": int,
            "expanded_url": str,
            "status": str,
            "http_status": int,
            "final_url": str,
            "final_host": str,
            "final_domain": str,
            "hops": int,
            "title": str,
            "first_seen_at": str,
            "resolved_at": str,
            "last_checked_at": str,
            "error": str,
            "last_ok_at": str,
            "first_failed_at": str,
            "consecutive_failures": int,
            "next_check_at": str,
        },
        pk="id",
        not_null=["url", "host", "status", "first_seen_at"],
        defaults={"status": "pending", "is_shortener": 0, "consecutive_failures": 0},
    )
    db.table("links").create_index(["url"], unique=True)
    db.table("links").create_index(["next_check_at"])
    db.table("links").create_index(["status"])
    db.table("links").create_index(["final_domain"])
    db.table("post_links").create(
        {
            "post_id": str,
            "link_id": str,
            "position": int,
            "found_by": str,
            "display_url": str,
        },
        pk=("post_id", "link_id"),
        foreign_keys=[("post_id", "posts", "id"), ("link_id", "links", "id")],
    )
    db.table("post_links").create_index(["link_id"])
    db.table("redirects").create(
        {"link_id": str, "hop": int, "url": str, "status_code": int, "via": str},
        pk=("link_id", "hop"),
        foreign_keys=[("link_id", "links", "id")],
    )
    db.table("checks").create(
        {
            "id": int,
            "link_id": str,
            "run_id": int,
            "checked_at": str,
            "status": str,
            "http_status": int,
            "final_url": str,
            "final_domain": str,
            "hops": int,
            "error": str,
        },
        pk="id",
        foreign_keys=[("link_id", "links", "id"), ("run_id", "runs", "id")],
    )
    db.table("checks").create_index(["link_id"])
    db.table("posts").enable_fts(["text", "author_name", "author_handle"], create_triggers=True)


@MIGRATIONS()
def m002_sources(db: Database) -> None:
    db.table("sources").create(
        {
            "location": str,
            "format": str,
            "first_seen_at": str,
            "last_fetched_at": str,
            "last_status": str,
            "last_error": str,
            "http_status": int,
            "etag": str,
            "last_modified": str,
            "posts_added": int,
        },
        pk="location",
    )


@MIGRATIONS()
def m003_search_link_titles(db: Database) -> None:
    db.table("links").enable_fts(["url", "final_url", "title"], create_triggers=True)


@MIGRATIONS()
def m005_links_run_id(db: Database) -> None:
    """Record the run that first stored each link, as posts do, so a run's counts are exact."""
    # A plain ADD COLUMN: sqlite-utils' add_column with a foreign key rebuilds the table,
    # and the rebuilt table lost its full-text triggers.
    db.execute('ALTER TABLE "links" ADD COLUMN "run_id" INTEGER REFERENCES "runs"("id")')
    db.table("links").create_index(["run_id"])
    db.table("posts").create_index(["run_id"], if_not_exists=True)
    db.table("checks").create_index(["run_id"], if_not_exists=True)


@MIGRATIONS()
def m006_final_domain_falls_back_to_the_host(db: Database) -> None:
    """Give links and checks that reached a host without a registered domain that host."""
    db.execute(
        "update links set final_domain = final_host where final_domain is null and final_host is not null"
    )
    rows = db.execute("select id, final_url from checks where final_domain is null and final_url is not null")
    updates = [(domain_or_host(hostname(url)), check_id) for check_id, url in rows.fetchall()]
    db.conn.executemany("update checks set final_domain = ? where id = ?", [u for u in updates if u[0]])


@MIGRATIONS()
def m007_checks_by_final_domain(db: Database) -> None:
    """Index checks by final domain: when a domain was first reached is asked of them."""
    db.table("checks").create_index(["final_domain", "checked_at"], if_not_exists=True)


@MIGRATIONS()
def m008_truncated_is_a_status(db: Database) -> None:
    """A link shown cut off is status ``truncated``, no longer ``invalid`` with the error text as a flag."""
    db.execute(
        "update links set status = 'truncated', error = null where status = 'invalid' and error = 'truncated'"
    )
    db.execute("update checks set status = 'truncated' where status = 'invalid' and error = 'truncated'")


# Sources whose posts a third party publishes; a member of a folder or zip is judged by
# its name, as its format was not recorded.
PUBLISHED_FORMATS = frozenset({"feed", "page"})
PUBLISHED_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".md", ".markdown", ".txt", ".xml", ".rss", ".atom", ".rdf"}
)


@MIGRATIONS()
def m004_post_keys(db: Database) -> None:
    """Store each post under its platform's namespace, within its source for feeds and pages.

    Ids were the platform's own until now, so a feed item whose ``<guid>`` equalled a
    tweet's id took the tweet's place.  Every id is rewritten to ``models.post_key`` of
    it, in two steps so that no new id meets an old one on the way.
    """
    formats = {row["location"]: row["format"] for row in db.query("select location, format from sources")}
    taken: set[str] = set()
    keys: list[tuple[int, str, str]] = []
    for row in db.query("select rowid, id, platform, source from posts"):
        scope = row["source"] if _published(row["platform"], row["source"], formats) else None
        key = post_key(row["platform"], row["id"], scope)
        if key in taken:  # only from ids that already looked like keys
            key = f"{key}#{row['rowid']}"
        taken.add(key)
        keys.append((row["rowid"], f"\x00{row['rowid']}", key))
    db.execute("PRAGMA defer_foreign_keys = ON")  # post_links follow within this transaction
    db.execute("create temp table post_keys (post_rowid integer primary key, moving text unique, key text)")
    db.conn.executemany("insert into post_keys values (?, ?, ?)", keys)
    db.execute(
        "update post_links set post_id = char(0) || "
        "(select rowid from posts where posts.id = post_links.post_id)"
    )
    db.execute("update posts set id = char(0) || rowid")
    db.execute("update posts set id = (select key from post_keys where post_rowid = posts.rowid)")
    db.execute(
        "update post_links set post_id = (select key from post_keys where moving = post_links.post_id)"
    )
    db.execute("drop table temp.post_keys")


def _published(platform: str, source: str, formats: dict[str, str | None]) -> bool:
    """Tell whether a stored post was read from a feed or a web page."""
    if platform == "web" or source.startswith(("http://", "https://")):
        return True
    if source in formats and formats[source] is not None:
        return formats[source] in PUBLISHED_FORMATS
    tops = [location for location in formats if source.startswith(f"{location}!")]
    if tops and formats[max(tops, key=len)] in ("twitter-archive", "mastodon-outbox"):
        return False
    name = source.rsplit("!", 1)[-1].rsplit("/", 1)[-1].lower()
    return "." in name and name[name.rindex(".") :] in PUBLISHED_SUFFIXES


@MIGRATIONS()
def m009_rot_verdicts_and_fingerprints(db: Database) -> None:
    """Keep what each good check's page showed, and a rot verdict a check and a link."""
    for column, kind in (
        ("title", "TEXT"),
        ("canonical_url", "TEXT"),
        ("og_title", "TEXT"),
        ("site_name", "TEXT"),
        ("language", "TEXT"),
        ("text_hash", "TEXT"),
        ("words", "INTEGER"),
        ("rot", "TEXT"),
        ("rot_evidence", "TEXT"),
    ):
        db.execute(f'ALTER TABLE "checks" ADD COLUMN "{column}" {kind}')
    for column in ("rot", "rot_evidence", "rot_since"):
        db.execute(f'ALTER TABLE "links" ADD COLUMN "{column}" TEXT')
    db.table("links").create_index(["rot"])
    db.table("checks").create_index(["link_id", "status"], if_not_exists=True)
    # Links whose check failed are dead; others wait for their next check for a verdict.
    dead = ", ".join(f"'{status}'" for status in DEAD_STATUSES)
    db.execute(
        f"update links set rot = '{Rot.DEAD}', rot_since = coalesce(first_failed_at, last_checked_at)"
        f" where status in ({dead})"
    )
    db.execute(f"update checks set rot = '{Rot.DEAD}' where status in ({dead})")
    db.table("probes").create(
        {
            "id": int,
            "run_id": int,
            "origin": str,
            "url": str,
            "checked_at": str,
            "status": str,
            "http_status": int,
            "final_url": str,
            "title": str,
            "text_hash": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("probes").create_index(["origin", "checked_at"])


@MIGRATIONS()
def m010_captures(db: Database) -> None:
    """Web-archive captures of links' pages: lookups, the captures kept, and capture requests."""
    db.table("capture_lookups").create(
        {
            "link_id": str,
            "url": str,
            "archive": str,
            "looked_up_at": str,
            "status": str,
            "captures": int,
            "capped": int,
            "near": str,
            "error": str,
            "next_lookup_at": str,
            "run_id": int,
        },
        pk=("link_id", "url", "archive"),
        foreign_keys=[("link_id", "links", "id"), ("run_id", "runs", "id")],
    )
    db.table("capture_lookups").create_index(["next_lookup_at"])
    db.table("captures").create(
        {
            "link_id": str,
            "capture_url": str,
            "url": str,
            "archive": str,
            "captured_at": str,
            "http_status": int,
            "roles": str,
            "found_at": str,
        },
        pk=("link_id", "capture_url"),
        foreign_keys=[("link_id", "links", "id")],
    )
    db.table("captures").create_index(["captured_at"])
    db.table("capture_requests").create(
        {
            "id": int,
            "link_id": str,
            "url": str,
            "archive": str,
            "requested_at": str,
            "status": str,
            "job_id": str,
            "capture_url": str,
            "captured_at": str,
            "message": str,
            "run_id": int,
        },
        pk="id",
        foreign_keys=[("link_id", "links", "id"), ("run_id", "runs", "id")],
    )
    db.table("capture_requests").create_index(["requested_at"])
    db.table("capture_requests").create_index(["link_id"])
    for column, kind in (("archived_url", "TEXT"), ("archived_at", "TEXT"), ("capture_count", "INTEGER")):
        db.execute(f'ALTER TABLE "links" ADD COLUMN "{column}" {kind}')


@MIGRATIONS()
def m011_case_insensitive_facets(db: Database) -> None:
    """Hashtags and author handles in one case too, so that their facets count #AI and #ai once."""

    db.execute('ALTER TABLE "posts" ADD COLUMN "hashtags_folded" TEXT')
    db.execute('ALTER TABLE "posts" ADD COLUMN "author_handle_folded" TEXT')
    rows = db.execute("select rowid, hashtags, author_handle from posts").fetchall()
    updates = []
    for rowid, hashtags, handle in rows:
        try:
            tags = [str(t) for t in json.loads(hashtags or "[]")]
        except ValueError:
            tags = []
        folded = json.dumps(list(dict.fromkeys(t.casefold() for t in tags)), ensure_ascii=False)
        updates.append((folded, handle.casefold() if handle else None, rowid))
    db.conn.executemany(
        "update posts set hashtags_folded = ?, author_handle_folded = ? where rowid = ?", updates
    )


# The links columns a reader looks at first, in the order the links table shows them: at
# 1280 px wide the URL, its status, where it goes and its domain are on screen.
LINKS_FIRST_COLUMNS = ("id", "url", "status", "final_url", "final_domain", "title", "rot", "last_checked_at")


@MIGRATIONS()
def m012_links_columns_in_reading_order(db: Database) -> None:
    """Put the links columns a reader needs first (the table is rebuilt; its search index too)."""
    columns = list(db.table("links").columns_dict)
    order = [c for c in LINKS_FIRST_COLUMNS if c in columns] + [
        c for c in columns if c not in LINKS_FIRST_COLUMNS
    ]
    db.table("links").transform(column_order=order)
    # The rebuilt table lost its full-text triggers, and its rows may have new rowids.
    db.table("links").enable_fts(["url", "final_url", "title"], create_triggers=True, replace=True)


@MIGRATIONS()
def m013_source_names(db: Database) -> None:
    """A name for a source that a public copy shows instead of its path (sources.txt: as "NAME")."""
    db.execute('ALTER TABLE "sources" ADD COLUMN "public_name" TEXT')
