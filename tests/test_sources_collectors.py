"""What research collectors write: twarc2 and Twitter API output, Reddit dumps and exports, compressed.

The fixtures are written here, shaped as twarc2 (raw pages and flattened tweets), Twitter
API v1.1, Pushshift and Reddit's data export write them.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import sqlite3
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from archiver.cli import cli
from archiver.models import FoundBy, ParseError
from archiver.sources import detect_format, iter_posts

T_CO = "https://t.co/AbCdEfGhIj"


def v2_tweet(tweet_id: str, text: str, *, author_id: str = "10", **more: object) -> dict:
    return {
        "id": tweet_id,
        "text": text,
        "author_id": author_id,
        "created_at": "2021-04-08T19:34:32.000Z",
        **more,
    }


def url_entity(expanded: str, *, unwound: str | None = None, short: str = T_CO) -> dict:
    entity = {"start": 0, "end": 23, "url": short, "expanded_url": expanded, "display_url": "example.org/…"}
    if unwound:
        entity["unwound_url"] = unwound
    return entity


USERS = [
    {"id": "10", "username": "alice", "name": "Alice A."},
    {"id": "20", "username": "bob", "name": "Bob B."},
]
ORIGINAL = v2_tweet(
    "200",
    "A long original about the summit, whole here: " + "words " * 30 + T_CO,
    author_id="20",
    entities={"urls": [url_entity("https://example.org/summit")], "hashtags": [{"tag": "Summit"}]},
)
RETWEET = v2_tweet(
    "100",
    "RT @bob: A long original about the summit, whole here: words words words words words wo…",
    referenced_tweets=[{"type": "retweeted", "id": "200"}],
    entities={"mentions": [{"username": "bob"}]},
)
LONG = v2_tweet(
    "101",
    "The start of a long post… https://t.co/Short00001",
    note_tweet={"text": "The start of a long post and all the rest of it " + T_CO,
                "entities": {"urls": [url_entity("https://news.example/story", unwound="https://news.example/story/full")]}},
)  # fmt: skip


def raw_page(tweets: list[dict], *, users=USERS, included=(ORIGINAL,)) -> dict:
    return {
        "data": tweets,
        "includes": {"users": users, "tweets": list(included)},
        "meta": {"result_count": len(tweets)},
        "__twarc": {"url": "https://api.twitter.com/2/tweets/search/recent", "version": "2.14.0"},
    }


def flattened(tweet: dict, *, author: dict, references: list[dict] = ()) -> dict:
    line = dict(tweet, author=author, __twarc={"version": "2.14.0"})
    if references:
        line["referenced_tweets"] = list(references)
    return line


def write_lines(path: Path, records: list, *, opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as out:
        for record in records:
            out.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


def test_a_raw_twarc2_page_gives_each_tweet_with_its_author_whole_text_and_expansions(tmp_path):
    path = write_lines(tmp_path / "search.jsonl", [raw_page([RETWEET, LONG])])
    assert detect_format(str(path), path.read_bytes()[:8192]) == "twitter-api"
    retweet, long = list(iter_posts(path))
    assert (retweet.id, retweet.platform, retweet.author_handle, retweet.author_name) == (
        "100", "twitter", "alice", "Alice A.",
    )  # fmt: skip
    # The retweet's text is the original's, whole: no cut text, no truncated link.
    assert retweet.text == "RT @bob: " + ORIGINAL["text"]
    assert retweet.posted_at == "2021-04-08T19:34:32Z"
    assert retweet.url == "https://twitter.com/alice/status/100"
    assert retweet.hashtags == ("Summit",) and retweet.mentions == ("bob",)
    assert [(f.url, f.expanded_url, f.found_by, f.truncated) for f in retweet.links] == [
        (T_CO, "https://example.org/summit", FoundBy.ENTITY, False)
    ]
    # A long post is its note_tweet, and unwound_url wins over expanded_url.
    assert long.text.startswith("The start of a long post and all the rest of it")
    assert [(f.url, f.expanded_url) for f in long.links] == [(T_CO, "https://news.example/story/full")]


def test_a_flattened_line_is_the_same_post_as_the_raw_page(tmp_path):
    original = dict(ORIGINAL, author=USERS[1])
    line = flattened(RETWEET, author=USERS[0], references=[dict(original, type="retweeted")])
    flat = list(iter_posts(write_lines(tmp_path / "flat.jsonl", [line])))
    raw = list(iter_posts(write_lines(tmp_path / "raw.jsonl", [raw_page([RETWEET])])))
    assert [replace(p, source="") for p in flat] == [replace(p, source="") for p in raw]


def test_api_v1_tweets_in_extended_mode_and_their_retweets(tmp_path):
    user = {"id_str": "10", "screen_name": "alice", "name": "Alice A."}
    tweet = {
        "id_str": "300",
        "created_at": "Thu May 16 08:15:00 +0000 2024",
        "text": "Cut in compatibility mode…",
        "truncated": True,
        "user": user,
        "extended_tweet": {
            "full_text": "Whole in extended mode, with a link " + T_CO + " #Archive",
            "entities": {"urls": [url_entity("https://example.org/v1")], "hashtags": [{"text": "Archive"}]},
        },
    }
    retweet = {
        "id_str": "301",
        "created_at": "Thu May 16 09:15:00 +0000 2024",
        "full_text": "RT @bob: Cut…",
        "user": user,
        "entities": {"urls": []},
        "retweeted_status": {
            "id_str": "299",
            "full_text": "The original, whole " + T_CO,
            "user": {"screen_name": "bob"},
            "entities": {"urls": [url_entity("https://example.org/original")]},
        },
    }
    first, second = iter_posts(write_lines(tmp_path / "v1.jsonl", [tweet, retweet]))
    assert (first.id, first.author_handle, first.posted_at) == ("300", "alice", "2024-05-16T08:15:00Z")
    assert first.text.startswith("Whole in extended mode") and first.hashtags == ("Archive",)
    assert [(f.url, f.expanded_url) for f in first.links] == [(T_CO, "https://example.org/v1")]
    assert second.text == "RT @bob: The original, whole " + T_CO
    assert [(f.url, f.expanded_url) for f in second.links] == [(T_CO, "https://example.org/original")]


def test_one_tweet_is_one_post_from_an_archive_export_and_from_twarc(tmp_path):
    export = tmp_path / "export" / "data"
    export.mkdir(parents=True)
    tweet = {
        "id_str": "101",
        "full_text": "The start of a long post",
        "created_at": "Thu May 16 08:15:00 +0000 2024",
    }
    (export / "tweets.js").write_text("window.YTD.tweets.part0 = " + json.dumps([{"tweet": tweet}]))
    twarc = write_lines(tmp_path / "twarc.jsonl", [raw_page([LONG])])
    db = tmp_path / "archive.db"
    for source in (tmp_path / "export", twarc):
        result = CliRunner().invoke(cli, ["ingest", str(source), "--db", str(db)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("select id from posts").fetchall() == [("twitter:101",)]


def test_a_twarc_link_is_resolved_from_its_recorded_expansion_without_asking_t_co(tmp_path, server):
    base, recorder = server
    tweet = v2_tweet("500", "see " + T_CO, entities={"urls": [url_entity(f"{base}/hop/1")]})
    path = write_lines(tmp_path / "twarc.jsonl.gz", [raw_page([tweet])], opener=gzip.open)
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        cli, ["archive", str(path), "--db", str(db), "--allow-private", "--no-probe"], catch_exceptions=False
    )
    assert "1 links checked (ok: 1)" in result.output
    assert recorder.paths() == ["/hop/1", "/hop/0"]  # t.co itself is never asked
    with sqlite3.connect(db) as conn:
        assert conn.execute("select url, status_code, via from redirects where hop = 0").fetchall() == [
            (T_CO, None, "expanded")
        ]


def test_a_line_of_another_shape_costs_only_itself(tmp_path):
    error = {"errors": [{"title": "Not Found Error", "detail": "Could not find tweet"}]}
    reddit = {"id": "x1", "subreddit": "news", "created_utc": 1, "body": "hi", "author": "a"}
    path = write_lines(
        tmp_path / "mixed.jsonl", [raw_page([LONG]), error, "{broken", reddit, raw_page([RETWEET])]
    )
    posts = []
    with pytest.raises(
        ParseError, match=r"3 line\(s\) are not .* \(first: line 2\); the other 2 line\(s\) were read"
    ):
        for post in iter_posts(path):
            posts.append(post)
    assert [p.id for p in posts] == ["101", "100"]


SUBMISSION = {
    "id": "s1", "author": "[deleted]", "created_utc": 1672531200, "subreddit": "news",
    "title": "A link post", "selftext": "", "url": "https://news.example.com/a", "is_self": False,
    "permalink": "/r/news/comments/s1/a_link_post/",
}  # fmt: skip
SELF_POST = {
    "id": "s2", "author": "carol", "created_utc": "1672531260", "subreddit": "news", "title": "Asking",
    "selftext": "Has anyone read [this](https://example.org/q)?", "is_self": True,
    "url": "https://www.reddit.com/r/news/comments/s2/asking/", "permalink": "/r/news/comments/s2/asking/",
}  # fmt: skip
COMMENT = {"id": "c1", "author": "dave", "created_utc": 1672531300, "subreddit": "news",
           "body": "Source: https://example.net/src", "link_id": "t3_s1", "parent_id": "t3_s1"}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "opener"),
    [
        ("RS_2023-01.zst", None),
        ("dump.ndjson.gz", gzip.open),
        ("dump.bz2", bz2.open),
        ("dump.xz", lzma.open),
        ("no-suffix-at-all", gzip.open),  # known by its first bytes, not its name
    ],
)
def test_pushshift_dumps_are_read_compressed_as_streams(tmp_path, name, opener):
    lines = "".join(json.dumps(r) + "\n" for r in (SUBMISSION, SELF_POST, COMMENT)).encode()
    path = tmp_path / name
    if opener is None:  # zstd with a long window, as Pushshift writes it (--long)
        params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
        path.write_bytes(zstandard.ZstdCompressor(compression_params=params).compress(lines))
    else:
        with opener(path, "wb") as out:
            out.write(lines)
    link, own, comment = iter_posts(path)
    assert (link.id, link.platform, link.author_handle, link.posted_at) == (
        "t3_s1", "reddit", "[deleted]", "2023-01-01T00:00:00Z",
    )  # fmt: skip
    assert link.text == "A link post"
    assert link.url == "https://www.reddit.com/r/news/comments/s1/a_link_post/"
    assert [(f.url, f.found_by) for f in link.links] == [("https://news.example.com/a", FoundBy.ENTITY)]
    assert own.text == "Asking\n\nHas anyone read [this](https://example.org/q)?"
    assert [(f.url, f.found_by) for f in own.links] == [("https://example.org/q", FoundBy.TEXT)]
    assert (comment.id, comment.posted_at) == ("t1_c1", "2023-01-01T00:01:40Z")
    assert comment.url == "https://www.reddit.com/r/news/comments/s1/_/c1/"  # built: no permalink in the dump
    assert [f.url for f in comment.links] == ["https://example.net/src"]


def test_reddits_own_export_keeps_a_link_posts_url(tmp_path):
    posts = tmp_path / "posts.csv"
    posts.write_text(
        "id,permalink,date,ip,subreddit,gildings,title,url,body\n"
        "abc1,https://www.reddit.com/r/test/comments/abc1/my_link/,2021-05-03 12:34:56 UTC,,test,0,"
        "My link,https://example.com/story,\n"
        "abc2,https://www.reddit.com/r/test/comments/abc2/self/,2021-05-04 10:00:00 UTC,,test,0,"
        "Self post,https://www.reddit.com/r/test/comments/abc2/self/,Some text\n"
    )
    link, own = iter_posts(posts)
    assert (link.id, link.platform, link.text, link.posted_at) == (
        "t3_abc1",
        "reddit",
        "My link",
        "2021-05-03T12:34:56Z",
    )
    assert [(f.url, f.found_by) for f in link.links] == [("https://example.com/story", FoundBy.ENTITY)]
    assert own.links == ()  # a self post's url is its own page


def test_a_damaged_compressed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "dump.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 20)
    with pytest.raises(ParseError, match="cannot be decompressed|cannot be read past"):
        list(iter_posts(path, "reddit"))


def test_a_compressed_dump_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "RC_big.gz"
    comment = dict(COMMENT, body="A comment about https://example.com/{n} with words to lengthen it " * 3)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for start in range(0, 30_000, 1000):
            out.write(
                "".join(json.dumps(dict(comment, id=f"c{n}")) + "\n" for n in range(start, start + 1000))
            )
    list(iter_posts(write_lines(tmp_path / "warm.jsonl", [COMMENT])))  # patterns built on first use
    tracemalloc.start()
    count = sum(1 for _ in iter_posts(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 30_000
    assert peak < 3_000_000, peak  # the file holds ~8 MB of lines


def test_compressed_files_inside_a_zip_are_read_as_what_they_hold(tmp_path):
    import zipfile

    page = json.dumps(raw_page([LONG])).encode() + b"\n"
    dump = json.dumps(COMMENT).encode() + b"\n"
    path = tmp_path / "collected.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("search/tweets.jsonl.gz", gzip.compress(page))
        archive.writestr("reddit/RC_2023-01.zst", zstandard.ZstdCompressor().compress(dump))
        archive.writestr("broken.gz", b"\x1f\x8b" + b"not gzip at all" * 4)
    posts = []
    with pytest.raises(ParseError, match=r"broken\.gz: cannot be decompressed"):
        for post in iter_posts(path):
            posts.append(post)
    assert sorted((p.platform, p.id) for p in posts) == [("reddit", "t1_c1"), ("twitter", "101")]
