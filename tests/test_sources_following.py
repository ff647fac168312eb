"""Followed accounts (Mastodon, Bluesky, Telegram channels), Bluesky repository files and Telegram exports."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import ForwardProxy, serve_in_thread
from conftest import TestServer as QuietServer
from platforms import (
    Platforms,
    bluesky_item,
    link_facet,
    mastodon_status,
    repository_car,
    serve_platforms,
)

from archiver import store
from archiver.cli import cli
from archiver.http import ResolverSettings
from archiver.models import SourceFormat
from archiver.pipeline.ingest import Ingested, ingest_sources
from archiver.sources import Cursor, Following, SourceEntry, fetch_source, iter_posts


@pytest.fixture
def platforms() -> Iterator[tuple[str, Platforms]]:
    state = Platforms()
    for base in serve_platforms(state):
        yield base, state


def run(db, *arguments: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(
        cli, ["ingest", *arguments, "--db", str(db), "--allow-private"], env=env, catch_exceptions=False
    )


def rows(db, sql: str, *params):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]


def source_row(db, location: str) -> dict:
    return rows(db, "select * from sources where location = ?", location)[0]


# -- Mastodon ---------------------------------------------------------------------------


def test_a_mastodon_account_is_read_back_to_its_first_post_then_only_what_is_new(tmp_path, platforms):
    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(n) for n in range(1, 96)]
    db = tmp_path / "a.db"
    location = f"{base}/@alice"

    first = run(db, "--format", "mastodon", location)
    assert first.exit_code == 0, first.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 95
    # The lookup, three pages of 40, 40 and 15, and the empty page that ends the history.
    assert [p.split("?")[0] for p in state.paths()] == ["/api/v1/accounts/lookup"] + [
        "/api/v1/accounts/7/statuses"
    ] * 4
    assert state.paths()[-1].endswith("&max_id=1")
    row = source_row(db, location)
    assert row["whole_history"] == 1 and row["format"] == "mastodon" and row["last_status"] == "ok"
    assert row["read_back_to"] == "2024-01-01T01:00:00Z" and row["read_up_to"] == "2024-01-04T23:00:00Z"
    assert Cursor.from_json(row["cursor"]).newest == "95"

    state.seen.clear()
    again = run(db, "--format", "mastodon", location)
    assert again.exit_code == 0, again.output
    assert state.paths() == ["/api/v1/accounts/7/statuses?limit=40&min_id=95"]  # one request, nothing new

    state.statuses["7"] += [mastodon_status(96), mastodon_status(97)]
    state.seen.clear()
    newer = run(db, "--format", "mastodon", location)
    assert newer.exit_code == 0, newer.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 97
    assert state.paths() == [
        "/api/v1/accounts/7/statuses?limit=40&min_id=95",
        "/api/v1/accounts/7/statuses?limit=40&min_id=97",
    ]


def test_a_status_is_a_post_with_its_links_tags_mentions_and_a_boost_carries_the_boosted_links(
    tmp_path, platforms
):
    base, state = platforms
    state.accounts["alice"] = "7"
    content = (
        '<p>Read <a href="https://example.org/a/very/long/path/to/the/report.html" rel="nofollow">'
        '<span class="invisible">https://</span><span class="ellipsis">example.org/a/very/long/pa</span>'
        '<span class="invisible">th/to/the/report.html</span></a> by '
        '<span class="h-card"><a href="https://other.example/@bob" class="u-url mention">'
        "@<span>bob</span></a></span>"
        ' <a href="https://social.example/tags/OSINT" class="mention hashtag" rel="tag">'
        "#<span>OSINT</span></a></p>"
    )
    state.statuses["7"] = [
        mastodon_status(
            1,
            content=content,
            created_at="2024-03-05T08:09:10.000+02:00",
            tags=[{"name": "osint"}],
            mentions=[{"acct": "bob@other.example"}],
            card={"url": "https://example.org/card"},
        ),
        mastodon_status(
            2,
            url=None,
            uri="https://social.example/users/alice/statuses/2/activity",
            content="",
            reblog=mastodon_status(
                50, host="other.example", user="bob", content='<p><a href="https://bob.example/x">x</a></p>'
            ),
        ),
        # A boost whose boosted post was deleted: nothing to carry, and the run goes on.
        mastodon_status(3, content="", reblog=None),
        {"id": "4", "content": "no uri: cannot be a post"},
    ]
    db = tmp_path / "a.db"
    result = run(db, "--format", "mastodon", f"{base}/@alice")
    assert result.exit_code == 0, result.output
    assert "1 item(s) could not be read" in result.output
    post = rows(db, "select * from posts where url = 'https://social.example/@alice/1'")[0]
    assert post["platform"] == "mastodon" and post["author_handle"] == "alice@social.example"
    assert post["posted_at"] == "2024-03-05T06:09:10Z"
    assert json.loads(post["hashtags"]) == ["osint"] and json.loads(post["mentions"]) == ["bob@other.example"]
    links = [r["url"] for r in rows(db, "select url from links order by url")]
    assert "https://example.org/a/very/long/path/to/the/report.html" in links  # the href, not the shown text
    assert "https://example.org/card" in links
    assert not [u for u in links if "pa…" in u or u.endswith("/pa")]
    boost = rows(db, "select * from posts where id like '%statuses/2/activity%'")[0]
    assert (
        boost["author_handle"] == "alice@social.example" and boost["url"] == "https://other.example/@bob/50"
    )
    assert boost["text"].startswith("Boosted @bob@other.example")
    boosted_links = rows(
        db,
        "select links.url from post_links join links on links.id = post_links.link_id where post_id = ?",
        boost["id"],
    )
    assert [r["url"] for r in boosted_links] == ["https://bob.example/x"]
    assert rows(db, "select last_status from sources")[0]["last_status"] == "partial"


def test_a_hashtag_is_read_through_its_timeline(tmp_path, platforms):
    base, state = platforms
    state.tags["osint"] = [mastodon_status(n, user=f"user{n}") for n in range(1, 6)]
    db = tmp_path / "a.db"
    result = run(db, "--format", "mastodon", f"{base}/tags/osint")
    assert result.exit_code == 0, result.output
    handles = {r["author_handle"] for r in rows(db, "select author_handle from posts")}
    assert handles == {f"user{n}@social.example" for n in range(1, 6)}


def test_a_status_deleted_after_it_was_read_does_not_stop_the_next_run(tmp_path, platforms):
    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(n) for n in range(1, 4)]
    db = tmp_path / "a.db"
    assert run(db, "--format", "mastodon", f"{base}/@alice").exit_code == 0
    state.statuses["7"] = [mastodon_status(1), mastodon_status(2), mastodon_status(4)]  # 3 deleted, 4 new
    result = run(db, "--format", "mastodon", f"{base}/@alice")
    assert result.exit_code == 0, result.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 4


def test_a_used_up_rate_limit_leaves_the_rest_for_the_next_run_which_goes_on_from_there(tmp_path, platforms):
    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(n) for n in range(1, 101)]
    # From the second answer on, none is left until a reset later than a run waits for.
    state.limit_after = 2
    db = tmp_path / "a.db"
    location = f"{base}/@alice"
    result = run(db, "--format", "mastodon", location)
    assert result.exit_code == 0, result.output
    assert "left for the next run" in result.output and "goes on from where this one stopped" in result.output
    assert state.paths() == ["/api/v1/accounts/lookup?acct=alice", "/api/v1/accounts/7/statuses?limit=40"]
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 40
    assert source_row(db, location)["last_status"] == "partial"
    assert source_row(db, location)["whole_history"] == 0

    state.limit_after = None
    state.seen.clear()
    second = run(db, "--format", "mastodon", location)
    assert second.exit_code == 0, second.output
    # No second lookup, nothing read twice: newer than the newest, then on from the 40th.
    assert state.paths()[:2] == [
        "/api/v1/accounts/7/statuses?limit=40&min_id=100",
        "/api/v1/accounts/7/statuses?limit=40&max_id=61",
    ]
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 100
    assert source_row(db, location)["whole_history"] == 1


def test_a_429_is_waited_for_as_retry_after_asks_and_tried_again(tmp_path, platforms):
    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(n) for n in range(1, 4)]
    state.too_many = 1
    db = tmp_path / "a.db"
    result = run(db, "--format", "mastodon", f"{base}/@alice")
    assert result.exit_code == 0, result.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 3
    assert state.paths()[:2] == ["/api/v1/accounts/lookup?acct=alice"] * 2


@pytest.mark.parametrize(
    ("acct", "error", "said"),
    [
        ("nobody", None, "no such account or tag @nobody"),
        ("gone", (410, {"error": "Account suspended"}), "suspended or gone"),
        (
            "closed",
            (401, {"error": "This method requires an authenticated user"}),
            "ARCHIVER_MASTODON_TOKEN=",
        ),
    ],
)
def test_an_account_that_cannot_be_read_is_a_clear_error_on_its_source(
    tmp_path, platforms, acct, error, said
):
    base, state = platforms
    if error:
        state.account_errors[acct] = error
    db = tmp_path / "a.db"
    location = f"{base}/@{acct}"
    result = run(db, "--format", "mastodon", location)
    assert result.exit_code == 1
    assert said in result.output and location in result.output
    assert source_row(db, location)["last_status"] == "error"


def test_a_mastodon_token_is_sent_only_to_its_own_instance(tmp_path, platforms):
    base, state = platforms
    port = base.rsplit(":", 1)[1]
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(1)]
    state.feeds["alice.test"] = [bluesky_item(1)]
    db = tmp_path / "a.db"
    result = run(
        db,
        "--format",
        "mastodon",
        f"{base}/@alice",
        env={"ARCHIVER_MASTODON_TOKEN": "127.0.0.1=s3cret, other.example=nope"},
    )
    assert result.exit_code == 0, result.output
    assert {h.get("authorization") for _, h in state.seen} == {"Bearer s3cret"}
    state.seen.clear()
    other = run(
        db,
        "--format",
        "bluesky",
        "https://bsky.app/profile/alice.test",
        "--bluesky-api",
        f"http://localhost:{port}",
        env={"ARCHIVER_MASTODON_TOKEN": "127.0.0.1=s3cret"},
    )
    assert other.exit_code == 0, other.output
    assert state.seen and all("authorization" not in h for _, h in state.seen)


def test_with_copies_each_api_answer_is_kept_as_its_sources_without_the_token(tmp_path, platforms):
    import gzip
    import hashlib

    from warcio.archiveiterator import ArchiveIterator

    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(n) for n in range(1, 3)]
    db = tmp_path / "a.db"
    location = f"{base}/@alice"
    result = run(
        db, "--format", "mastodon", location, "--copies", env={"ARCHIVER_MASTODON_TOKEN": "127.0.0.1=s3cret"}
    )
    assert result.exit_code == 0, result.output
    kept = rows(db, "select * from copies order by id")
    assert [urlsplit(r["url"]).path for r in kept] == [
        "/api/v1/accounts/lookup",
        "/api/v1/accounts/7/statuses",
        "/api/v1/accounts/7/statuses",  # the empty page that ends the history
    ]
    assert {r["source"] for r in kept} == {location} and {r["link_id"] for r in kept} == {None}
    warcs = sorted((tmp_path / "copies").glob("*.warc.gz"))
    bodies = {}
    for warc in warcs:
        with open(warc, "rb") as file:
            for record in ArchiveIterator(file):
                if record.rec_type == "response":
                    bodies[record.rec_headers.get_header("WARC-Target-URI")] = record.content_stream().read()
    for row in kept:  # what the server sent, digest for digest
        assert hashlib.sha256(bodies[row["url"]]).hexdigest() == row["payload_sha256"]
    assert b"s3cret" not in b"".join(gzip.decompress(w.read_bytes()) for w in warcs)
    assert state.seen and all(h.get("authorization") == "Bearer s3cret" for _, h in state.seen)


# -- Bluesky ----------------------------------------------------------------------------


def test_a_bluesky_account_is_read_whole_with_links_from_facets_never_the_shortened_text(tmp_path, platforms):
    base, state = platforms
    text = "Watch www.youtube.com/watch?v=tEeS... and #osint with @bob.test"
    cut = "www.youtube.com/watch?v=tEeS..."
    whole = "https://www.youtube.com/watch?v=tEeSxyz123"
    encoded = text.encode()
    tag_start = encoded.index(b"#osint")
    mention_start = encoded.index(b"@bob.test")
    facets = [
        link_facet(text, cut, whole),
        {
            "index": {"byteStart": tag_start, "byteEnd": tag_start + 6},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "osint"}],
        },
        {
            "index": {"byteStart": mention_start, "byteEnd": mention_start + 9},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}],
        },
    ]
    items = [bluesky_item(n) for n in range(150, 2, -1)]
    items.insert(
        0,
        bluesky_item(
            151,
            text=text,
            facets=facets,
            embed={
                "$type": "app.bsky.embed.external",
                "external": {"uri": "https://news.example/story", "title": "t"},
            },
        ),
    )
    repost = bluesky_item(2, did="did:plc:carol", handle="carol.test", text="carol's post")
    repost["reason"] = {
        "$type": "app.bsky.feed.defs#reasonRepost",
        "by": {"did": "did:plc:alice", "handle": "alice.test"},
        "indexedAt": "2024-02-01T00:00:01.500Z",
    }
    items.append(repost)
    state.feeds["alice.test"] = items
    db = tmp_path / "a.db"
    location = "https://bsky.app/profile/alice.test"
    result = run(db, "--format", "bluesky", location, "--bluesky-api", base)
    assert result.exit_code == 0, result.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 150
    assert state.paths() == [
        "/xrpc/app.bsky.feed.getAuthorFeed?actor=alice.test&limit=100",
        "/xrpc/app.bsky.feed.getAuthorFeed?actor=alice.test&limit=100&cursor=100",
    ]
    post = rows(db, "select * from posts where id like '%3k00000151'")[0]
    assert post["url"] == "https://bsky.app/profile/alice.test/post/3k00000151"
    assert post["posted_at"] == "2024-02-01T00:02:31Z"
    assert json.loads(post["hashtags"]) == ["osint"] and json.loads(post["mentions"]) == ["bob.test"]
    links = {r["url"]: r["status"] for r in rows(db, "select url, status from links")}
    assert links == {whole: "pending", "https://news.example/story": "pending"}  # nothing stored as truncated
    shown = rows(
        db, "select display_url from post_links where link_id = (select id from links where url = ?)", whole
    )
    assert shown == [{"display_url": cut}]
    reposted = rows(db, "select * from posts where text like 'Reposted%'")[0]
    assert reposted["author_handle"] == "alice.test"
    assert reposted["url"] == "https://bsky.app/profile/carol.test/post/3k00000002"
    row = source_row(db, location)
    assert row["whole_history"] == 1 and row["read_up_to"] == "2024-02-01T00:02:31Z"

    state.seen.clear()
    assert run(db, "--format", "bluesky", location, "--bluesky-api", base).exit_code == 0
    assert state.paths() == ["/xrpc/app.bsky.feed.getAuthorFeed?actor=alice.test&limit=100"]  # nothing new

    # 150 new posts: two pages of catch-up, up to the first item read last time.
    state.feeds["alice.test"] = [bluesky_item(n) for n in range(301, 151, -1)] + items
    state.seen.clear()
    assert run(db, "--format", "bluesky", location, "--bluesky-api", base).exit_code == 0
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 300
    assert len(state.paths()) == 2
    assert source_row(db, location)["read_up_to"] == "2024-02-01T00:05:01Z"
    state.seen.clear()
    assert run(db, "--format", "bluesky", location, "--bluesky-api", base).exit_code == 0
    assert len(state.paths()) == 1  # the new top is known


def test_a_used_up_rate_limit_that_resets_soon_is_waited_for(tmp_path, platforms):
    base, state = platforms
    state.feeds["alice.test"] = [bluesky_item(n) for n in range(150, 0, -1)]
    state.resets_in = 2  # whole seconds: the reset is written as a Unix time
    db = tmp_path / "a.db"
    started = time.monotonic()
    result = run(db, "--format", "bluesky", "https://bsky.app/profile/alice.test", "--bluesky-api", base)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 150
    assert len(state.paths()) == 2 and time.monotonic() - started >= 1.0  # the second waited


def test_an_unknown_or_suspended_bluesky_account_is_an_error_on_its_source(tmp_path, platforms):
    base, state = platforms
    state.feed_errors["gone.test"] = (
        400,
        {"error": "AccountTakedown", "message": "Account has been suspended"},
    )
    db = tmp_path / "a.db"
    missing = run(db, "--format", "bluesky", "https://bsky.app/profile/nobody.test", "--bluesky-api", base)
    assert missing.exit_code == 1 and "no such account nobody.test" in missing.output
    gone = run(db, "--format", "bluesky", "https://bsky.app/profile/gone.test", "--bluesky-api", base)
    assert gone.exit_code == 1 and "suspended" in gone.output


BLUESKY_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>@alice.test - Alice</title><link>https://bsky.app/profile/alice.test</link>
<description>Alice</description>
<item><link>https://bsky.app/profile/alice.test/post/3kcut</link>
<description>Watch www.youtube.com/watch?v=tEeS... now</description>
<pubDate>Thu, 01 Feb 2024 10:00:00 +0000</pubDate>
<guid isPermaLink="false">at://did:plc:alice/app.bsky.feed.post/3kcut</guid></item>
<item><link>https://bsky.app/profile/alice.test/post/3kok</link>
<description>A whole link https://example.org/page</description>
<pubDate>Thu, 01 Feb 2024 09:00:00 +0000</pubDate>
<guid isPermaLink="false">at://did:plc:alice/app.bsky.feed.post/3kok</guid></item>
</channel></rss>
"""


@pytest.mark.parametrize("appview", [200, 500])
def test_a_bluesky_feed_items_cut_link_is_completed_from_its_record_when_the_appview_answers(
    tmp_path, platforms, appview
):
    base, state = platforms
    state.get_posts_status = appview
    text = "Watch www.youtube.com/watch?v=tEeS... now"
    view = bluesky_item(
        0,
        text=text,
        facets=[
            link_facet(text, "www.youtube.com/watch?v=tEeS...", "https://www.youtube.com/watch?v=tEeS42")
        ],
    )["post"]
    view["uri"] = "at://did:plc:alice/app.bsky.feed.post/3kcut"
    state.post_views[view["uri"]] = view
    state.documents["/alice.rss"] = BLUESKY_RSS.encode()
    db = tmp_path / "a.db"
    result = run(db, f"{base}/alice.rss", "--bluesky-api", base)
    assert result.exit_code == 0, result.output
    links = {r["url"]: r["status"] for r in rows(db, "select url, status from links")}
    assert "https://example.org/page" in links
    if appview == 200:
        assert links["https://www.youtube.com/watch?v=tEeS42"] == "pending"
        assert not [u for u, s in links.items() if s == "truncated"]
        assert state.paths("/xrpc") == [
            "/xrpc/app.bsky.feed.getPosts?uris=at%3A%2F%2Fdid%3Aplc%3Aalice%2Fapp.bsky.feed.post%2F3kcut"
        ]
    else:
        assert [s for u, s in links.items() if "youtube" in u] == ["truncated"]


def test_a_bluesky_repository_file_gives_every_post_record(tmp_path):
    did = "did:plc:alice"
    text = "See example.org/lo... here"
    records = {
        f"app.bsky.feed.post/3k{n:04d}": {
            "$type": "app.bsky.feed.post",
            "text": f"post {n}",
            "createdAt": f"2024-01-01T00:00:{n:02d}Z",
        }
        for n in range(1, 10)
    }
    records["app.bsky.feed.post/3k0005"] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2024-01-01T00:00:05Z",
        "facets": [link_facet(text, "example.org/lo...", "https://example.org/long/path")],
    }
    # The text shows a link the facet's URI does not start with: only the facet's is a link.
    shown = "Read nyti.ms/3xYz... now"
    records["app.bsky.feed.post/3k0006"] = {
        "$type": "app.bsky.feed.post",
        "text": shown,
        "createdAt": "2024-01-01T00:00:06Z",
        "facets": [
            link_facet(shown, "nyti.ms/3xYz...", "https://www.nytimes.com/2024/01/01/world/story.html")
        ],
    }
    records["app.bsky.feed.like/3l0001"] = {"$type": "app.bsky.feed.like", "subject": {"uri": "at://x"}}
    records["app.bsky.actor.profile/self"] = {"$type": "app.bsky.actor.profile", "displayName": "Alice"}
    car = tmp_path / "repo.car"
    car.write_bytes(repository_car(did, records))
    posts = list(iter_posts(car))
    assert sorted(p.id for p in posts) == [f"at://{did}/app.bsky.feed.post/3k{n:04d}" for n in range(1, 10)]
    linked = next(p for p in posts if p.id.endswith("3k0005"))
    assert [link.url for link in linked.links] == ["https://example.org/long/path"]
    assert linked.url == f"https://bsky.app/profile/{did}/post/3k0005" and linked.author_handle == did
    elsewhere = next(p for p in posts if p.id.endswith("3k0006"))
    assert [(link.url, link.display, link.truncated) for link in elsewhere.links] == [
        ("https://www.nytimes.com/2024/01/01/world/story.html", "nyti.ms/3xYz...", False)
    ]

    partial = tmp_path / "partial.car"
    partial.write_bytes(repository_car(did, records, drop_right=True))
    db = tmp_path / "a.db"
    result = run(db, str(partial))
    assert result.exit_code == 0
    assert "not in the file" in result.output
    assert 0 < rows(db, "select count(*) as n from posts")[0]["n"] < 9
    assert rows(db, "select last_status from sources")[0]["last_status"] == "partial"

    broken = tmp_path / "broken.car"
    broken.write_bytes(repository_car(did, records)[:-40])
    failed = run(db, str(broken))
    assert failed.exit_code == 1 and "not a readable repository file" in failed.output


# -- Telegram ---------------------------------------------------------------------------


def telegram_chat(messages: list[dict], **chat) -> dict:
    return {"name": "Newsroom", "type": "public_channel", "id": 1234567890, **chat, "messages": messages}


MESSAGES = [
    {
        "id": 1,
        "type": "service",
        "date": "2024-01-01T12:00:00",
        "date_unixtime": "1704110400",
        "action": "create_channel",
    },
    {
        "id": 2,
        "type": "message",
        "date": "2024-01-01T14:00:00",
        "date_unixtime": "1704117600",
        "from": "Newsroom",
        "from_id": "channel1234567890",
        "text": [
            "Read ",
            {"type": "text_link", "text": "the report", "href": "https://example.org/report"},
            " and example.com/x #war",
        ],
        "text_entities": [
            {"type": "plain", "text": "Read "},
            {"type": "text_link", "text": "the report", "href": "https://example.org/report"},
            {"type": "plain", "text": " and "},
            {"type": "link", "text": "example.com/x"},
            {"type": "plain", "text": " "},
            {"type": "hashtag", "text": "#war"},
        ],
    },
    {
        "id": 3,
        "type": "message",
        "date": "2024-01-02T09:30:00",
        "date_unixtime": "1704187800",
        "from": "Newsroom",
        "forwarded_from": "Other Channel",
        "text": "plain text with @someone",
        "text_entities": [
            {"type": "plain", "text": "plain text with "},
            {"type": "mention", "text": "@someone"},
        ],
    },
]


def test_a_telegram_export_of_one_chat_gives_its_messages_with_hidden_links(tmp_path):
    export = tmp_path / "result.json"
    export.write_text(json.dumps(telegram_chat(MESSAGES), indent=1))
    posts = list(iter_posts(export))
    assert [p.id for p in posts] == ["1234567890:2", "1234567890:3"]
    first, second = posts
    assert first.platform == "telegram" and first.posted_at == "2024-01-01T14:00:00Z"
    assert first.text == "Read the report and example.com/x #war"
    assert [(link.url, link.display, link.found_by) for link in first.links] == [
        ("https://example.org/report", "the report", "entity"),
        ("https://example.com/x", "example.com/x", "entity"),
    ]
    assert first.hashtags == ("war",) and first.author_name == "Newsroom"
    assert second.text.startswith("Forwarded from Other Channel:\n") and second.mentions == ("someone",)


def test_a_whole_telegram_export_reads_every_chat_and_a_broken_end_keeps_what_came_before(tmp_path):
    whole = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "A"},
        "chats": {
            "about": "chats",
            "list": [telegram_chat(MESSAGES), telegram_chat(MESSAGES[1:2], id=99, name="Other")],
        },
        "left_chats": {"about": "left", "list": [telegram_chat(MESSAGES[2:], id=55, name="Left")]},
    }
    export = tmp_path / "result.json"
    export.write_text(json.dumps(whole, indent=1))
    posts = list(iter_posts(export))
    assert [p.id for p in posts] == ["1234567890:2", "1234567890:3", "99:2", "55:3"]
    assert posts[2].author_name == "Newsroom"  # the message's own "from"

    text = export.read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index('"id": 99') - 10])
    db = tmp_path / "a.db"
    result = run(db, str(cut))
    assert result.exit_code == 0 and "broken JSON after 3 message(s)" in result.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 2


def test_a_telegram_channel_is_read_back_by_its_pages_then_only_newer_messages(tmp_path, platforms):
    base, state = platforms
    state.channels["newsroom"] = [
        {
            "id": n,
            "html": f'Story {n} <a href="https://example.org/{n}">example.org/{n}</a> '
            '<a href="?q=%23tag">#tag</a>',
            "datetime": f"2024-01-01T10:{n % 60:02d}:00+00:00",
        }
        for n in range(1, 46)
    ]
    state.channels["newsroom"][0]["preview"] = "https://preview.example/"
    db = tmp_path / "a.db"
    location = f"{base}/s/newsroom"
    result = run(db, "--format", "telegram", location)
    assert result.exit_code == 0, result.output
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 45
    assert state.paths() == ["/s/newsroom", "/s/newsroom?before=26", "/s/newsroom?before=6"]
    post = rows(db, "select * from posts where url = ?", f"{base}/newsroom/7")[0]
    assert post["platform"] == "telegram" and post["posted_at"] == "2024-01-01T10:07:00Z"
    assert json.loads(post["hashtags"]) == ["tag"]
    urls = {r["url"] for r in rows(db, "select url from links")}
    assert "https://example.org/7" in urls and "https://preview.example/" in urls
    assert not [u for u in urls if "?q=" in u]

    state.seen.clear()
    assert run(db, "--format", "telegram", location).exit_code == 0
    assert state.paths() == ["/s/newsroom"]
    state.channels["newsroom"].append({"id": 46, "html": "new", "datetime": "2024-01-02T00:00:00+00:00"})
    assert run(db, "--format", "telegram", location).exit_code == 0
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 46


def test_a_time_limit_between_pages_keeps_what_was_read_and_the_next_run_goes_on(tmp_path, platforms):
    base, state = platforms
    state.channels["newsroom"] = [
        {"id": n, "html": f"story {n}", "datetime": "2024-01-01T10:00:00+00:00"} for n in range(1, 46)
    ]
    state.delay = 0.4
    db = tmp_path / "a.db"
    location = f"{base}/s/newsroom"

    async def ingest(stop_at: float | None) -> Ingested:
        following = Following(ResolverSettings(allow_private=True))
        archive = store.open_database(str(db))
        try:
            return await ingest_sources(
                archive,
                [SourceEntry(location, SourceFormat.TELEGRAM)],
                fmt=None,
                run_id=None,
                fetch=fetch_source,
                report=said.append,
                stop_at=stop_at,
                following=following,
            )
        finally:
            await following.aclose()
            archive.close()

    said: list[str] = []
    outcome = asyncio.run(ingest(time.monotonic() + 0.6))
    assert outcome.partial == 1 and not outcome.failed
    assert any("stopped by the time limit" in line for line in said)
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 20  # the first page, stored
    assert Cursor.from_json(source_row(db, location)["cursor"]).back == "26"

    state.delay = 0.0
    state.seen.clear()
    asyncio.run(ingest(None))
    assert state.paths() == ["/s/newsroom", "/s/newsroom?before=26", "/s/newsroom?before=6"]
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 45


def test_followed_sources_go_through_the_proxy_and_the_address_guard(tmp_path, platforms):
    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(1)]
    seen: list[str] = []
    target = ("127.0.0.1", int(base.rsplit(":", 1)[1]))
    handler = type("Proxy", (ForwardProxy,), {"target": target, "seen": seen})
    db = tmp_path / "a.db"
    with serve_in_thread(QuietServer(("127.0.0.1", 0), handler)) as proxy:
        # The account's host is a name only the proxy knows: every request went through it.
        result = run(db, "--format", "mastodon", "http://social.example/@alice", "--proxy", proxy)
    assert result.exit_code == 0, result.output
    assert seen[0] == "http://social.example/api/v1/accounts/lookup?acct=alice"
    assert rows(db, "select count(*) as n from posts")[0]["n"] == 1

    refused = CliRunner().invoke(cli, ["ingest", "--db", str(db), "--format", "mastodon", f"{base}/@alice"])
    assert refused.exit_code == 1 and "refused" in refused.output
    assert len(state.seen) == 3  # the lookup and two pages, through the proxy; none since


def test_a_private_channel_is_an_error_on_its_source(tmp_path, platforms):
    base, state = platforms
    state.private_channels.add("secret")
    db = tmp_path / "a.db"
    result = run(db, "--format", "telegram", f"{base}/s/secret")
    assert result.exit_code == 1 and "no public web preview" in result.output


# -- listing and the sources file -------------------------------------------------------


def test_archiver_sources_says_how_far_back_a_followed_source_was_read(tmp_path, platforms):
    base, state = platforms
    state.accounts["alice"] = "7"
    state.statuses["7"] = [mastodon_status(n) for n in range(1, 4)]
    db = tmp_path / "a.db"
    listed = tmp_path / "sources.txt"
    listed.write_text(f"mastodon {base}/@alice\n")
    result = CliRunner().invoke(
        cli,
        ["archive", "--db", str(db), "--sources", str(listed), "--allow-private"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    shown = CliRunner().invoke(cli, ["sources", "--db", str(db)]).output
    assert f"{base}/@alice" in shown
    assert "read back to 2024-01-01T01:00:00Z (the first post)" in shown
    assert "newest 2024-01-01T03:00:00Z" in shown


# -- what each local source was, byte for byte --------------------------------------------


def test_every_local_source_read_keeps_its_sha256_and_size(tmp_path):
    import hashlib

    export = tmp_path / "result.json"
    export.write_text(json.dumps(telegram_chat(MESSAGES)))
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"text": "one https://example.org/1"}\n')
    (folder / "sub" / "b.jsonl").write_text('{"text": "two"}\n')
    db = tmp_path / "a.db"
    assert run(db, str(export), str(folder)).exit_code == 0
    row = source_row(db, str(export))
    assert row["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    assert row["bytes"] == export.stat().st_size
    # Each file of a folder is a source of its own, with its own digest.
    member = source_row(db, str(folder / "sub" / "b.jsonl"))
    assert member["sha256"] == hashlib.sha256(b'{"text": "two"}\n').hexdigest() and member["bytes"] == 16

    export.write_text(json.dumps(telegram_chat(MESSAGES[:2])))  # the export changes: so does its digest
    assert run(db, str(export)).exit_code == 0
    assert source_row(db, str(export))["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()


def test_the_members_read_of_an_archive_are_listed_with_their_digests(tmp_path):
    import hashlib
    import tarfile
    import zipfile

    tweets = (
        b"window.YTD.tweets.part0 = "
        + json.dumps(
            [
                {
                    "tweet": {
                        "id_str": "7",
                        "full_text": "see https://example.org/7",
                        "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                    }
                }
            ]
        ).encode()
    )
    account = b'window.YTD.account.part0 = [{"account": {"username": "ann", "accountId": "9"}}]'
    export = tmp_path / "twitter.tar.gz"
    with tarfile.open(export, "w:gz") as tar:
        for name, data in (("data/tweets.js", tweets), ("data/account.js", account), ("data/like.js", b"[]")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    mixed = tmp_path / "collected.zip"
    with zipfile.ZipFile(mixed, "w") as z:
        z.writestr("a.jsonl", b'{"text": "one https://example.org/1"}\n')
        z.writestr("notes.bin", b"\x00\x01 not posts")
    db = tmp_path / "a.db"
    assert run(db, str(export), str(mixed)).exit_code == 0

    row = source_row(db, str(export))
    assert row["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    members = {m["name"]: m for m in json.loads(row["members"])}
    assert members["data/tweets.js"] == {
        "name": "data/tweets.js",
        "sha256": hashlib.sha256(tweets).hexdigest(),
        "bytes": len(tweets),
    }
    assert "data/like.js" not in members  # only what was read
    listed = json.loads(source_row(db, str(mixed))["members"])
    assert [m["name"] for m in listed] == ["a.jsonl", "notes.bin"]  # every member read, posts or not
    assert listed[1]["sha256"] == hashlib.sha256(b"\x00\x01 not posts").hexdigest()


def test_an_unpacked_archive_folder_is_digested_as_the_list_of_its_files(tmp_path):
    from archiver.sources import source_digest

    first = tmp_path / "one"
    (first / "data").mkdir(parents=True)
    (first / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = []")
    (first / "data" / ".hidden").write_text("left out")
    second = tmp_path / "two"
    (second / "data").mkdir(parents=True)
    (second / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = []")
    assert source_digest(first) == source_digest(second)  # wherever it lies, hidden files aside
    (second / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = [ ]")
    assert source_digest(first) != source_digest(second)
    assert source_digest(tmp_path / "missing") is None
