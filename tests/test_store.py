"""The archive database: idempotent writes, schedules and the link-rot record."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import FIXTURES

from archiver import pipeline, store
from archiver.clock import add_seconds
from archiver.models import FoundLink, Hop, Post, Resolution
from archiver.sources import iter_posts
from archiver.urls import link_id

T0 = "2026-01-01T00:00:00Z"


def ok(url: str, final: str, at: str = T0) -> Resolution:
    return Resolution(
        url=url,
        status="ok",
        hops=(Hop(url, 301, "location"), Hop(final, 200)),
        checked_at=at,
        http_status=200,
        final_url=final,
        title="A page",
    )


def failed(url: str, status: str, at: str, **extra: object) -> Resolution:
    return Resolution(url=url, status=status, hops=(Hop(url, None),), checked_at=at, error="down", **extra)  # type: ignore[arg-type]


def fresh_db(tmp_path):
    db = store.open_database(tmp_path / "archive.db")
    posts = list(iter_posts(FIXTURES / "page" / "embedded.txt"))
    return db, posts


def test_ingest_twice_adds_nothing_the_second_time(tmp_path):
    db, posts = fresh_db(tmp_path)
    assert store.save_posts(db, posts) == store.Saved(6, 10)
    assert store.save_posts(db, posts) == store.Saved(0, 0)
    assert db["posts"].count == 6
    assert db["links"].count == 10
    assert db["post_links"].count == 10
    row = db["links"].get(link_id("https://pic.twitter.com/cWQxxPIXaM"))
    assert (row["status"], row["host"], row["is_shortener"]) == ("pending", "pic.twitter.com", 1)
    assert db["links"].get(link_id("https://t.co/dLWAZRTC3H"))["is_shortener"] == 1
    assert db["links"].get(link_id("https://podcastchoices.com/adchoices"))["is_shortener"] == 0


def test_full_text_search_on_post_text(tmp_path):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    hits = list(db["posts"].search("cartoons"))
    assert len(hits) == 1 and hits[0]["author_handle"] == "mikenov"


@pytest.mark.parametrize("variable_limit", [None, 999], ids=["sqlite-default", "999-before-3.32"])
def test_large_batches_are_stored_whole_and_searchable(tmp_path, variable_limit):
    # More rows than one INSERT statement carries, and more posts than one transaction;
    # also where SQLite takes at most 999 parameters a statement.
    count = store.db.ROWS_PER_STATEMENT * 2 + store.BATCH_SIZE + 7
    posts = [
        Post(
            id=f"p{i}",
            platform="twitter",
            author_name="Bulk Author",
            author_handle="bulk",
            text=f"bulk post number{i} https://t.co/x{i % 1500}",
            posted_at=T0,
            url=None,
            source="bulk.jsonl",
            links=(FoundLink(f"https://t.co/x{i % 1500}", f"t.co/x{i % 1500}", "text", 0),),
        )
        for i in range(count)
    ]
    db = store.open_database(tmp_path / "archive.db")
    if variable_limit:
        db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
    assert store.save_posts(db, posts) == store.Saved(count, 1500)
    assert store.save_posts(db, posts) == store.Saved(0, 0)
    assert (db["posts"].count, db["links"].count, db["post_links"].count) == (count, 1500, count)
    # The full-text indexes hold every row, the last of each statement included.
    assert db.execute("select count(*) from posts_fts where posts_fts match 'bulk'").fetchone()[0] == count
    last = f"number{count - 1}"
    assert [r["id"] for r in db["posts"].search(last)] == [f"twitter:p{count - 1}"]
    assert db.execute("select count(*) from links_fts where links_fts match 't'").fetchone()[0] == 1500
    assert db.execute("select count(*) from links_fts where links_fts match 'x1499'").fetchone()[0] == 1
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    db.execute("insert into posts_fts(posts_fts) values ('integrity-check')")
    db.execute("insert into links_fts(links_fts) values ('integrity-check')")


def test_ok_resolution_fills_the_link_and_its_chain(tmp_path):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    url = "https://t.co/dLWAZRTC3H"
    pipeline.save_resolutions(db, [ok(url, "https://www.bbc.co.uk/news/x")], recheck_after_days=30)
    row = db["links"].get(link_id(url))
    assert (row["status"], row["final_domain"], row["final_host"], row["hops"]) == (
        "ok",
        "bbc.co.uk",
        "www.bbc.co.uk",
        1,
    )
    assert row["next_check_at"] == add_seconds(T0, 30 * 86400)
    assert [(r["hop"], r["url"], r["via"]) for r in db["redirects"].rows] == [
        (0, url, "location"),
        (1, "https://www.bbc.co.uk/news/x", None),
    ]
    assert (url, None) not in pipeline.links_due(db, now=add_seconds(T0, 86400))
    assert (url, None) in pipeline.links_due(db, now=add_seconds(T0, 31 * 86400))
    assert (url, None) in pipeline.links_due(db, now=T0, recheck_all=True)


def test_recheck_after_is_this_runs_not_the_one_that_checked(tmp_path):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    good, bad = "https://t.co/dLWAZRTC3H", "https://t.co/Z9ixm4GsEx"
    pipeline.save_resolutions(
        db, [ok(good, "https://www.bbc.co.uk/news/x"), failed(bad, "dns_error", T0)], recheck_after_days=30
    )
    a_day_later = add_seconds(T0, 86400 + 1)
    due = pipeline.links_due(db, now=a_day_later, recheck_after_days=0)
    assert (good, None) in due  # 0: every good link now
    assert (bad, None) in due  # its first retry (after 1 h) is due as well
    assert (good, None) not in pipeline.links_due(db, now=a_day_later, recheck_after_days=7)
    assert (good, None) in pipeline.links_due(db, now=add_seconds(T0, 8 * 86400), recheck_after_days=7)
    # A failure keeps its back-off, whatever --recheck-after says.
    for _ in range(2):
        pipeline.save_resolutions(db, [failed(bad, "dns_error", a_day_later)], recheck_after_days=30)
    assert (bad, None) not in pipeline.links_due(db, now=add_seconds(a_day_later, 60), recheck_after_days=0)


def test_failure_after_success_keeps_the_last_good_destination(tmp_path):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    url = "https://t.co/dLWAZRTC3H"
    pipeline.save_resolutions(db, [ok(url, "https://example.com/article")])
    later = add_seconds(T0, 40 * 86400)
    pipeline.save_resolutions(db, [failed(url, "http_error", later, http_status=429, retry_after=7200.0)])
    row = db["links"].get(link_id(url))
    assert (row["status"], row["final_url"], row["last_ok_at"], row["first_failed_at"]) == (
        "http_error",
        "https://example.com/article",
        T0,
        later,
    )
    assert row["consecutive_failures"] == 1
    assert row["next_check_at"] == add_seconds(later, 7200)  # Retry-After beats the first 1 h spacing
    assert [r["url"] for r in db["redirects"].rows] == [url, "https://example.com/article"]
    assert [c["status"] for c in db["checks"].rows] == ["ok", "http_error"]
    assert [r["url"] for r in db["dead_links"].rows] == [url]


def test_failures_back_off(tmp_path):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    url = "https://t.co/Z9ixm4GsEx"
    at = T0
    spacings = []
    for _ in range(6):
        pipeline.save_resolutions(db, [failed(url, "dns_error", at)])
        row = db["links"].get(link_id(url))
        spacings.append(row["next_check_at"])
        at = row["next_check_at"]
    assert db["links"].get(link_id(url))["consecutive_failures"] == 6
    assert db["links"].get(link_id(url))["final_url"] is None
    expected, at = [], T0
    for seconds in (3600, 6 * 3600, 86400, 7 * 86400, 7 * 86400, 7 * 86400):
        at = add_seconds(at, seconds)
        expected.append(at)
    assert spacings == expected


def test_truncated_links_are_never_due(tmp_path):
    from archiver.sources import parse_bytes

    db = store.open_database(tmp_path / "archive.db")
    store.save_posts(db, parse_bytes("Cut short https://t.co/abc1…\n".encode(), source="t.txt"))
    row = db["links"].get(link_id("https://t.co/abc1"))
    assert (row["status"], row["error"]) == ("truncated", None)
    assert list(pipeline.links_due(db, recheck_all=True)) == []


def _post(post_id: str, *links: FoundLink) -> Post:
    return Post(post_id, "twitter", None, "someone", "text", None, None, "t.js", links=links)


CUT = FoundLink("https://t.co/abcdefgh", "https://t.co/abcdefgh", "text", 0, truncated=True)
WHOLE = FoundLink(
    "https://t.co/abcdefgh", "https://t.co/abcdefgh", "entity", 0, expanded_url="https://example.org/a"
)


@pytest.mark.parametrize("batches", [[[CUT], [WHOLE]], [[CUT, WHOLE]], [[WHOLE], [CUT]], [[WHOLE, CUT]]])
def test_a_link_given_whole_anywhere_is_resolved_with_its_expansion(tmp_path, batches):
    db = store.open_database(tmp_path / "archive.db")
    for number, batch in enumerate(batches):
        store.save_posts(db, [_post(f"{number}-{i}", link) for i, link in enumerate(batch)])
    row = db["links"].get(link_id(CUT.url))
    assert (row["status"], row["error"], row["expanded_url"]) == ("pending", None, "https://example.org/a")
    assert list(pipeline.links_due(db)) == [(CUT.url, "https://example.org/a")]
    assert db["post_links"].count == 2


def test_a_recorded_expansion_is_never_replaced(tmp_path):
    db = store.open_database(tmp_path / "archive.db")
    store.save_posts(db, [_post("1", WHOLE)])
    other = FoundLink(WHOLE.url, WHOLE.url, "entity", 0, expanded_url="https://elsewhere.example/b")
    store.save_posts(db, [_post("2", other)])
    assert db["links"].get(link_id(WHOLE.url))["expanded_url"] == "https://example.org/a"


def test_domain_change_view(tmp_path):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    url = "https://t.co/dLWAZRTC3H"
    pipeline.save_resolutions(db, [ok(url, "https://news.example.com/a")])
    pipeline.save_resolutions(db, [ok(url, "https://parked.example.net/", at=add_seconds(T0, 60))])
    rows = list(db["domain_changes"].rows)
    assert [(r["earlier_domain"], r["current_domain"]) for r in rows] == [("example.com", "example.net")]


def test_corrupt_database_is_a_clear_error(tmp_path):
    import pytest

    from archiver.models import DatabaseError

    path = tmp_path / "archive.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="not a usable SQLite database"):
        store.open_database(path)


def test_text_with_nul_or_a_lone_surrogate_is_stored_cleaned(tmp_path):
    import json

    from click.testing import CliRunner

    from archiver.cli import cli

    source = tmp_path / "posts.jsonl"
    lines = [
        {"id": "1", "text": "broken \ud800 pair https://example.com/a \ud83d", "handle": "x\udfff"},
        {"id": "2", "text": "nul\u0000byte #tag\u0000 https://example.com/b"},
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(cli, ["ingest", str(source), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select id, text, author_handle, hashtags from posts order by id").fetchall()
        links = [url for (url,) in conn.execute("select url from links order by url")]
    assert rows == [
        ("web:1", "broken \ufffd pair https://example.com/a \ufffd", "x\ufffd", "[]"),
        ("web:2", "nulbyte #tag https://example.com/b", None, '["tag"]'),
    ]
    assert links == ["https://example.com/a", "https://example.com/b"]


def test_a_huge_retry_after_is_clamped_and_never_costs_the_batch(tmp_path):
    from archiver.http import MAX_SERVER_WAIT, parse_retry_after

    assert parse_retry_after("999999999999") == MAX_SERVER_WAIT
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=0) == MAX_SERVER_WAIT
    assert parse_retry_after("\u00b2") is None and parse_retry_after("120") == 120.0
    db = store.open_database(tmp_path / "archive.db")
    urls = [f"https://example.com/{n}" for n in range(41)]
    store.save_posts(db, [_post("p", *[FoundLink(u, u, "text", i) for i, u in enumerate(urls)])])
    results = [ok(u, u + "/final") for u in urls[:40]]
    results.append(failed(urls[40], "http_error", T0, http_status=429, retry_after=999999999999.0))
    pipeline.save_resolutions(db, results)
    rows = {row["url"]: row for row in db["links"].rows}
    assert sum(row["status"] == "ok" for row in rows.values()) == 40
    hostile = rows[urls[40]]
    assert hostile["status"] == "http_error" and hostile["next_check_at"] <= "2036-12-31T00:00:00Z"


def test_one_result_that_cannot_be_stored_leaves_the_others_stored(tmp_path):
    db = store.open_database(tmp_path / "archive.db")
    urls = ["https://example.com/a", "https://example.com/b"]
    store.save_posts(db, [_post("p", *[FoundLink(u, u, "text", i) for i, u in enumerate(urls)])])
    broken = ok(urls[0], urls[0] + "/final", at="not a time")
    pipeline.save_resolutions(db, [broken, ok(urls[1], urls[1] + "/final")])
    statuses = {row["url"]: row["status"] for row in db["links"].rows}
    assert statuses == {urls[0]: "pending", urls[1]: "ok"}


def _squatting_sources(tmp_path):
    """A stranger's feed and page claiming the id of a tweet, and the tweet's own export."""
    month = FIXTURES / "twitter" / "grailbird" / "data" / "js" / "tweets" / "2009_03.js"
    (real,) = [p for p in iter_posts(month) if p.id == "1400000001"]
    feed = tmp_path / "stranger.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Stranger</title>'
        '<link>https://stranger.example/</link><item><guid isPermaLink="false">1400000001</guid>'
        "<title>Not the tweet</title><description>spam https://spam.example/a</description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    page = tmp_path / "fake.html"
    page.write_text(
        '<html><body><blockquote class="twitter-tweet"><p>Made-up words '
        '<a href="https://spam.example/b">https://spam.example/b</a></p>&mdash; Old Account '
        f'(@{real.author_handle}) <a href="https://twitter.com/{real.author_handle}/status/1400000001">'
        "March 1, 2009</a></blockquote></body></html>",
        encoding="utf-8",
    )
    return real, month, feed, page


@pytest.mark.parametrize("first", ["strangers", "export"])
def test_a_feed_or_page_cannot_take_the_place_of_a_platforms_post(tmp_path, first):
    real, month, feed, page = _squatting_sources(tmp_path)
    db = store.open_database(tmp_path / "archive.db")
    order = [feed, page, month] if first == "strangers" else [month, feed, page]
    for source in order:
        store.save_posts(db, iter_posts(source))
    rows = {row["id"]: row for row in db.query("select * from posts")}
    assert rows["twitter:1400000001"]["text"] == real.text
    assert rows["twitter:1400000001"]["source"] == str(month)
    claims = {row["source"]: key for key, row in rows.items() if row["source"] != str(month)}
    assert set(claims) == {str(feed), str(page)}
    assert claims[str(feed)].startswith("web:1400000001@"), claims
    assert claims[str(page)].startswith("twitter:1400000001@"), claims
    spam = [
        row["post_id"]
        for row in db.query(
            "select post_id from post_links join links on links.id = link_id where url like '%spam.example%'"
        )
    ]
    assert len(spam) == 2 and "twitter:1400000001" not in spam
    real_links = {
        row["url"]
        for row in db.query(
            "select url from post_links join links on links.id = link_id where post_id = 'twitter:1400000001'"
        )
    }
    assert real_links == {link.url for link in real.links}


def test_an_older_archive_is_upgraded_to_the_new_post_ids_without_duplicates(tmp_path):
    from sqlite_utils import Database

    from archiver.store.migrations import MIGRATIONS

    month = FIXTURES / "twitter" / "grailbird" / "data" / "js" / "tweets" / "2009_03.js"
    feed = FIXTURES / "feed" / "mastodon.rss"
    embedded = FIXTURES / "page" / "embedded.html"
    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m004_post_keys")
    for source, fmt in ((month, "twitter-archive"), (feed, "feed"), (embedded, "page")):
        posts = list(iter_posts(source))
        old["sources"].insert({"location": str(source), "format": fmt})
        # As archiver stored them before: the source's own ids, one post a claimed id.
        rows = {p.id: {"id": p.id, "platform": p.platform, "text": p.text, "source": p.source} for p in posts}
        old["posts"].insert_all([row | {"first_seen_at": T0} for row in rows.values()], ignore=True)
        for p in posts:
            for link in p.links:
                old["links"].insert(
                    {"id": link_id(link.url), "url": link.url, "host": "h", "first_seen_at": T0}, ignore=True
                )
                old["post_links"].insert({"post_id": p.id, "link_id": link_id(link.url)}, ignore=True)
    before = old["post_links"].count
    old.close()

    db = store.open_database(path)
    assert db.execute("pragma foreign_key_check").fetchall() == []
    assert db["post_links"].count == before
    assert all(":" in row["id"] for row in db.query("select id from posts"))
    # Reading the same sources again finds every post already stored.
    for source in (month, feed, embedded):
        assert store.save_posts(db, iter_posts(source)).posts_added == 0, source
    read = {(p.platform, p.id) for source in (month, feed, embedded) for p in iter_posts(source)}
    assert db["posts"].count == len(read)
    assert db.execute("select count(*) from posts_fts where posts_fts match 'summit'").fetchone()[0] >= 1


@pytest.mark.parametrize(
    ("final", "domain"),
    [
        ("https://www.bbc.co.uk/news/x", "bbc.co.uk"),
        ("http://10.1.2.3:8080/x", "10.1.2.3"),
        ("http://[fd00::1]/x", "fd00::1"),
        ("http://intranet/wiki", "intranet"),
        ("https://news.example.notatld/x", "news.example.notatld"),
    ],
)
def test_final_domain_is_the_host_where_there_is_no_registered_domain(tmp_path, final, domain):
    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)
    url = "https://t.co/dLWAZRTC3H"
    pipeline.save_resolutions(db, [ok(url, final)])
    assert db["links"].get(link_id(url))["final_domain"] == domain
    assert [row["final_domain"] for row in db["checks"].rows] == [domain]


def test_an_older_archive_gets_hosts_as_final_domains(tmp_path):
    from sqlite_utils import Database

    from archiver.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m006_final_domain_falls_back_to_the_host")
    old["links"].insert(
        {
            "id": "a",
            "url": "http://10.0.0.1/",
            "host": "10.0.0.1",
            "first_seen_at": T0,
            "final_host": "10.0.0.1",
        }
    )
    old["checks"].insert({"link_id": "a", "checked_at": T0, "status": "ok", "final_url": "http://10.0.0.1/x"})
    old.close()
    db = store.open_database(path)
    assert db["links"].get("a")["final_domain"] == "10.0.0.1"
    assert [row["final_domain"] for row in db["checks"].rows] == ["10.0.0.1"]


def test_a_domain_is_new_when_a_check_first_reaches_it_not_when_its_links_were_stored(tmp_path):
    from archiver.publish import canned_queries, load_metadata

    db, posts = fresh_db(tmp_path)
    store.save_posts(db, posts)  # links first stored at T0 (today, by the clock)
    old_link, hijacked = "https://t.co/dLWAZRTC3H", "https://t.co/Z9ixm4GsEx"
    long_ago, last_week = "2020-01-01T00:00:00Z", "2026-11-20T00:00:00Z"
    pipeline.save_resolutions(db, [ok(old_link, "https://www.bbc.co.uk/a", at=long_ago)])
    pipeline.save_resolutions(db, [ok(hijacked, "https://news.example.org/a", at=long_ago)])
    pipeline.save_resolutions(db, [ok(hijacked, "https://spam.example.net/win", at=last_week)])
    domains = {row["domain"]: row for row in db.query("select * from domains")}
    assert domains["example.net"]["first_reached_at"] == last_week
    assert domains["bbc.co.uk"]["first_reached_at"] == long_ago
    sql = canned_queries(load_metadata(), "archive")["newly_seen_domains"]
    feed = list(db.query(sql))
    assert [(row["domain"], row["atom_updated"]) for row in feed][:2] == [
        ("example.net", last_week),
        ("bbc.co.uk", long_ago),
    ]


def test_an_older_archive_keeps_no_state_in_error_text(tmp_path):
    from sqlite_utils import Database

    from archiver.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m008_truncated_is_a_status")
    old["links"].insert(
        {
            "id": "a",
            "url": "https://t.co/ab",
            "host": "t.co",
            "first_seen_at": T0,
            "status": "invalid",
            "error": "truncated",
        }
    )
    old["links"].insert(
        {
            "id": "b",
            "url": "http://x/",
            "host": "x",
            "first_seen_at": T0,
            "status": "invalid",
            "error": "invalid URL: x",
        }
    )
    old.close()
    db = store.open_database(path)
    assert [(r["id"], r["status"], r["error"]) for r in db.query("select * from links order by id")] == [
        ("a", "truncated", None),
        ("b", "invalid", "invalid URL: x"),
    ]


def test_an_older_archive_gets_its_hashtags_and_handles_in_one_case(tmp_path):
    from sqlite_utils import Database

    from archiver.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m011_case_insensitive_facets")
    old["posts"].insert(
        {
            "id": "twitter:1",
            "platform": "twitter",
            "author_handle": "NewsDesk",
            "text": "#AI #ai",
            "source": "x",
            "hashtags": '["AI", "ai"]',
            "first_seen_at": T0,
        }
    )
    old.close()
    db = store.open_database(path)
    row = db.execute("select hashtags, hashtags_folded, author_handle_folded from posts").fetchone()
    assert row == ('["AI", "ai"]', '["ai"]', "newsdesk")
    db.close()


def test_an_older_archive_gets_the_links_columns_in_reading_order_and_keeps_its_search(tmp_path):
    from sqlite_utils import Database

    from archiver.store.migrations import LINKS_FIRST_COLUMNS, MIGRATIONS

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m012_links_columns_in_reading_order")
    for lid, title in (("a", "Budget statement"), ("b", "Election night")):
        old["links"].insert(
            {
                "id": lid,
                "url": f"https://x.example/{lid}",
                "host": "x.example",
                "first_seen_at": T0,
                "title": title,
            }
        )
    old.close()
    db = store.open_database(path)
    assert list(db["links"].columns_dict)[: len(LINKS_FIRST_COLUMNS)] == list(LINKS_FIRST_COLUMNS)
    assert [r["id"] for r in db["links"].search("budget")] == ["a"]
    db.execute("update links set title = 'Budget night' where id = 'b'")  # the triggers are back
    assert sorted(r["id"] for r in db["links"].search("budget")) == ["a", "b"]
    assert db["links"].count == 2 and db.execute("pragma foreign_key_check").fetchall() == []
    db.close()


def test_the_links_due_are_fixed_when_asked_and_read_a_page_at_a_time(tmp_path, monkeypatch):
    from archiver.store import DueLinks

    db = store.open_database(tmp_path / "a.db")
    store.save_posts(
        db,
        [
            _post(str(i), FoundLink(f"https://example.org/{i}", f"example.org/{i}", "text", 0))
            for i in range(23)
        ],
    )
    monkeypatch.setattr(DueLinks, "PAGE", 5)
    due = pipeline.links_due(db)
    expected = [
        row[0] for row in db.execute("select url from links order by next_check_at, first_seen_at, rowid")
    ]
    assert len(due) == 23 and [url for url, _ in due] == expected
    db.execute("update links set status = 'ok', last_checked_at = '2100-01-01T00:00:00Z'")
    assert len(list(due)) == 23  # the set a run took stays the run's
    assert list(pipeline.links_due(db)) == []


def mounted(monkeypatch, table: list[tuple[str, str]]) -> None:
    """Have the mount table list ``(mount point, type)`` pairs: there is no NFS server here."""
    from collections import namedtuple

    import psutil

    partition = namedtuple("partition", "device mountpoint fstype opts")  # psutil's fields
    partitions = [partition("server:/export", point, kind, "rw") for point, kind in table]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: partitions)


@pytest.mark.parametrize(
    ("table", "found"),
    [
        ([("/", "ext4")], None),
        ([("/", "ext4"), ("{tmp}", "nfs4")], "nfs4"),
        ([("/", "nfs")], "nfs"),  # a diskless machine's root
        ([("/", "ext4"), ("{tmp}", "nfs4"), ("{tmp}/local", "tmpfs")], None),  # a local disk inside
        ([("/", "ext4"), ("{tmp}-other", "cifs")], None),  # a mount point that only starts alike
        ([("/", "ext4"), ("{tmp}", "fuse.sshfs")], "fuse.sshfs"),
        ([("/", "ext4"), ("{tmp}", "NFS4")], "nfs4"),
        ([("/", "9p")], None),  # a sandbox's root: its host's local disk
    ],
)
def test_an_archive_on_a_network_file_system_is_found_by_its_mount(tmp_path, monkeypatch, table, found):
    from archiver.store.filesystems import network_filesystem

    (tmp_path / "local").mkdir()
    mounted(monkeypatch, [(point.format(tmp=tmp_path), kind) for point, kind in table])
    assert network_filesystem(tmp_path / "local") == found


def test_the_real_mount_table_is_read(tmp_path):
    from archiver.store.filesystems import network_filesystem

    assert network_filesystem(tmp_path) is None  # the test machine's temporary folder is local


def test_a_writer_refuses_an_archive_on_a_network_file_system_unless_allowed(tmp_path, monkeypatch):
    from archiver.models import DatabaseError

    mounted(monkeypatch, [("/", "ext4"), (str(tmp_path), "nfs4")])
    monkeypatch.delenv("ARCHIVER_ALLOW_NETWORK_FS", raising=False)
    refused = r"on a network file system \(nfs4\).*ARCHIVER_ALLOW_NETWORK_FS=1"
    with pytest.raises(DatabaseError, match=refused):
        store.open_database(tmp_path / "archive.db")
    assert list(tmp_path.iterdir()) == []  # nothing made there
    monkeypatch.setenv("ARCHIVER_ALLOW_NETWORK_FS", "1")
    store.open_database(tmp_path / "archive.db").close()
    assert (tmp_path / "archive.db").exists()


def test_archive_on_a_network_file_system_is_a_clear_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from archiver.cli import cli

    mounted(monkeypatch, [("/", "ext4"), (str(tmp_path / "shared"), "nfs4")])
    monkeypatch.delenv("ARCHIVER_ALLOW_NETWORK_FS", raising=False)
    db = tmp_path / "shared" / "archive.db"
    page = FIXTURES / "page" / "embedded.txt"
    result = CliRunner().invoke(cli, ["ingest", str(page), "--db", str(db), "--create"])
    assert result.exit_code == 1, result.output
    assert f"Error: {db}: on a network file system (nfs4)" in result.output
    assert not db.exists()


def test_a_command_that_only_reads_opens_an_archive_on_a_network_file_system(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from archiver.cli import cli

    db = tmp_path / "shared" / "archive.db"
    made = CliRunner().invoke(
        cli, ["ingest", str(FIXTURES / "page" / "embedded.txt"), "--db", str(db), "--create"]
    )
    assert made.exit_code == 0, made.output
    mounted(monkeypatch, [("/", "ext4"), (str(tmp_path / "shared"), "nfs4")])
    monkeypatch.delenv("ARCHIVER_ALLOW_NETWORK_FS", raising=False)
    read = CliRunner().invoke(cli, ["export", "posts", "--db", str(db), "--format", "csv"])
    assert read.exit_code == 0, read.output
    assert "export: 6 rows of posts written as csv" in read.output
    written = CliRunner().invoke(cli, ["resolve", "--db", str(db)])
    assert written.exit_code == 1 and "on a network file system (nfs4)" in written.output
