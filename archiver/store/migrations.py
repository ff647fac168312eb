"""Ordered schema changes; each applied one is recorded in ``_sqlite_migrations``.

Frozen: a migration imports no live policy (statuses, verdicts, how a post is keyed or
a domain named).  What it needs is written into it as it was when it was written, so
that a later change of policy never changes what an old migration does to an old archive.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATIONS"]

MIGRATIONS = Migrations("archiver")


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
    updates = [(_host(url), check_id) for check_id, url in rows.fetchall()]
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
    tweet's id took the tweet's place.  Every id is rewritten to ``_post_key`` of
    it, in two steps so that no new id meets an old one on the way.
    """
    formats = {row["location"]: row["format"] for row in db.query("select location, format from sources")}
    taken: set[str] = set()
    keys: list[tuple[int, str, str]] = []
    for row in db.query("select rowid, id, platform, source from posts"):
        scope = row["source"] if _published(row["platform"], row["source"], formats) else None
        key = _post_key(row["platform"], row["id"], scope)
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


def _post_key(platform: str, native_id: str, scope: str | None) -> str:
    """Return a post's key as m004 wrote it: ``platform:id``, with a digest of a claiming source."""
    key = f"{platform}:{native_id}"
    if scope is None:
        return key
    return f"{key}@{hashlib.sha256(scope.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def _host(url: str) -> str | None:
    """Return a URL's host as m006 gave it to a check without a registered domain."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return (host or "").strip().rstrip(".").lower().strip("[]") or None


# The statuses of a failed check that m009 made a verdict of "dead".
_DEAD_STATUSES_AT_M009 = (
    "http_error",
    "timeout",
    "dns_error",
    "connect_error",
    "tls_error",
    "too_many_redirects",
    "redirect_loop",
)


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
    dead = ", ".join(f"'{status}'" for status in _DEAD_STATUSES_AT_M009)
    db.execute(
        "update links set rot = 'dead', rot_since = coalesce(first_failed_at, last_checked_at)"
        f" where status in ({dead})"
    )
    db.execute(f"update checks set rot = 'dead' where status in ({dead})")
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


@MIGRATIONS()
def m014_followed_sources(db: Database) -> None:
    """What has been read of a followed account (its cursor), how far back and up to when."""
    for column in ("cursor", "read_back_to", "read_up_to"):
        db.execute(f'ALTER TABLE "sources" ADD COLUMN "{column}" TEXT')
    db.execute('ALTER TABLE "sources" ADD COLUMN "whole_history" INTEGER')


@MIGRATIONS()
def m015_source_digests(db: Database) -> None:
    """What a local source was, byte for byte: its SHA-256 and size when it was last read."""
    db.execute('ALTER TABLE "sources" ADD COLUMN "sha256" TEXT')
    db.execute('ALTER TABLE "sources" ADD COLUMN "bytes" INTEGER')


@MIGRATIONS()
def m016_copies(db: Database) -> None:
    """Where the copy of each answer read lies: its WARC file, offset, length and payload digest."""
    db.table("copies").create(
        {
            "id": int,
            "link_id": str,
            "source": str,
            "url": str,
            "status": int,
            "warc_file": str,
            "offset": int,
            "length": int,
            "payload_sha256": str,
            "bytes": int,
            "truncated": int,
            "revisit": int,
            "record_id": str,
            "recorded_at": str,
            "run_id": int,
        },
        pk="id",
    )
    db.table("copies").create_index(["link_id"])
    db.table("copies").create_index(["url", "payload_sha256"])


@MIGRATIONS()
def m017_source_members(db: Database) -> None:
    """Which files of an archive or folder were read, each by its SHA-256 and size (JSON)."""
    db.execute('ALTER TABLE "sources" ADD COLUMN "members" TEXT')


@MIGRATIONS()
def m018_run_errors(db: Database) -> None:
    """The error that ended a failed run, so that a night's run that failed says why."""
    db.execute('ALTER TABLE "runs" ADD COLUMN "error" TEXT')


@MIGRATIONS()
def m019_probe_copies_of_no_link(db: Database) -> None:
    """Copies of the probe's answers belong to no link: they were kept under the id of the
    probe's own random URL, which names no link."""
    db.execute(
        "update copies set link_id = null where link_id is not null and link_id not in (select id from links)"
    )
