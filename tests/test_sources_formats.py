"""Every source format: Twitter and Mastodon archives, feeds, JSON Lines, embeds in pages."""

from __future__ import annotations

import asyncio
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.models import ParseError, UnknownFormat
from archiver.sources import SOURCES, detect_format, expand_source, iter_posts, parse_bytes, read_source

TWITTER = FIXTURES / "twitter" / "archive"
GRAILBIRD = FIXTURES / "twitter" / "grailbird"
MASTODON = FIXTURES / "mastodon" / "archive"


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"twitter-2024/{path.relative_to(folder).as_posix()}")
    return target


# -- Twitter/X archives ----------------------------------------------------------


def check_twitter_posts(posts):
    by_id = {p.id: p for p in posts}
    assert set(by_id) == {
        "1790000000000000001",
        "1790000000000000002",
        "1790000000000000003",
        "1780000000000000009",
    }
    first = by_id["1790000000000000001"]
    assert (first.author_handle, first.author_name, first.posted_at) == (
        "example_user",
        "Example User",
        "2024-05-16T08:15:00Z",
    )
    assert first.url == "https://twitter.com/example_user/status/1790000000000000001"
    assert first.text.startswith("Notes from the press room & the summit floor")  # unescaped once
    assert first.hashtags == ("summit",) and first.mentions == ("example_desk",)
    assert [(link.url, link.found_by, link.display, link.expanded_url) for link in first.links] == [
        ("https://t.co/AbCdEfGhIj", "entity", "bit.ly/3xyzABC", "https://bit.ly/3xyzABC"),
        (
            "https://t.co/PhOtO12345",
            "entity",
            "pic.twitter.com/PhOtO12345",
            "https://twitter.com/example_user/status/1790000000000000001/photo/1",
        ),
    ]
    retweet = by_id["1790000000000000002"]
    assert retweet.text.endswith("…")
    assert retweet.links[0].expanded_url == "https://www.example.org/long-thread?part=1"  # unwound_url wins
    cut = by_id["1790000000000000003"].links[0]
    assert (cut.url, cut.truncated, cut.found_by) == ("https://t.co/abc1", True, "text")


def test_twitter_archive_folder():
    assert expand_source(str(TWITTER)) == [str(TWITTER)]
    assert read_source(TWITTER).format == "twitter-archive"
    check_twitter_posts(list(iter_posts(TWITTER)))


def check_grailbird_posts(posts):
    by_id = {p.id: p for p in posts}
    assert set(by_id) == {"1400000001", "1400000002", "290000000000000001", "290000000000000002"}
    assert {(p.author_handle, p.author_name, p.platform) for p in posts} == {
        ("old_account", "Old Account", "twitter")
    }
    old = by_id["1400000001"]
    assert old.posted_at == "2009-03-31T08:00:00Z"
    assert old.text == "Notes on the new standard http://tinyurl.com/ab12cd for signatures & keys"
    assert [(link.url, link.found_by) for link in old.links] == [("http://tinyurl.com/ab12cd", "text")]
    assert old.url == "https://twitter.com/old_account/status/1400000001"
    cut = by_id["1400000002"].links[0]
    assert (cut.url, cut.truncated) == ("http://www.example.com/downloads/releas", True)
    new = by_id["290000000000000001"]
    assert (new.hashtags, new.mentions) == (("release",), ("a_friend",))
    assert [(link.url, link.expanded_url) for link in new.links] == [
        ("http://t.co/LiNkAbCdEf", "http://blog.example.net/2013/01/release-notes"),
        ("http://t.co/PhOtOaBcDe", "http://twitter.com/old_account/status/290000000000000001/photo/1"),
    ]
    # The retweet's text cut its link; the original it carries has the link whole.
    retweet = by_id["290000000000000002"]
    assert [(link.url, link.truncated, link.expanded_url) for link in retweet.links] == [
        ("http://t.co/WhOlEcOdE1", False, "http://www.example.org/long/article")
    ]


@pytest.mark.parametrize("where", ["folder", "data folder", "zip"])
def test_old_twitter_archive(tmp_path, where):
    if where == "folder":
        source = GRAILBIRD
    elif where == "data folder":
        source = GRAILBIRD / "data"
    else:
        source = zip_folder(GRAILBIRD, tmp_path / "tweets.zip")
    assert expand_source(str(source)) == [str(source)]
    assert read_source(source).format == "twitter-archive"
    check_grailbird_posts(list(iter_posts(source)))


def test_one_month_of_an_old_twitter_archive():
    month = GRAILBIRD / "data" / "js" / "tweets" / "2009_03.js"
    posts = list(iter_posts(month))
    assert [p.id for p in posts] == ["1400000001", "1400000002"]
    assert posts[0].author_handle == "old_account"


def test_twitter_archive_zip(tmp_path):
    archive = zip_folder(TWITTER, tmp_path / "twitter-2024.zip")
    check_twitter_posts(list(iter_posts(archive)))


def _big_tweets_js(count: int) -> bytes:
    tweets = [
        {
            "tweet": {
                "id_str": str(10**17 + n),
                "full_text": f"Tweet {n} about the summit, with words to lengthen it {'é' * 40} https://t.co/a{n}",
                "created_at": "Thu May 16 08:15:00 +0000 2024",
                "entities": {
                    "urls": [{"url": f"https://t.co/a{n}", "expanded_url": f"https://example.com/{n}"}]
                },
            }
        }
        for n in range(count)
    ]
    return ("\ufeffwindow.YTD.tweets.part0 = " + json.dumps(tweets, ensure_ascii=False, indent=1)).encode()


@pytest.mark.parametrize("packed", ["zip", "tar.gz", "folder", "plain"])
def test_a_large_tweets_js_is_read_as_a_stream_never_whole(tmp_path, packed):
    import io
    import tracemalloc

    data = _big_tweets_js(25_000)  # about 10 MB
    if packed == "zip":
        path = tmp_path / "x.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data/tweets.js", data)
    elif packed == "tar.gz":
        path = tmp_path / "x.tar.gz"
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo("data/tweets.js")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    else:
        path = tmp_path / "export" / "data" / "tweets.js"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        path = path.parents[1] if packed == "folder" else path
    del data
    list(iter_posts(TWITTER / "data" / "tweets.js"))  # patterns built on first use
    tracemalloc.start()
    count = links = 0
    for post in iter_posts(path):
        count += 1
        links += len(post.links)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (count, links) == (25_000, 25_000)
    assert peak < 7_000_000, peak  # read whole, the file alone would be 10 MB


def test_a_zip_member_broken_part_way_keeps_the_tweets_before_and_names_the_member(tmp_path):
    data = _big_tweets_js(3_000)
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("data/tweets.js", data)
    raw = bytearray(path.read_bytes())
    middle = raw.index(b'"id_str": "100000000000001500"')
    raw[middle : middle + 14] = b"XXXXXXXXXXXXXX"  # stored bytes changed: the member's CRC no longer matches
    path.write_bytes(bytes(raw))
    posts = []
    with pytest.raises(ParseError, match=r"x\.zip!data/tweets\.js"):
        for post in iter_posts(path):
            posts.append(post)
    assert 1000 < len(posts) < 3000  # what came before the break is kept


def test_twitter_archive_inside_a_folder_is_kept_whole(tmp_path):
    shutil.copytree(TWITTER, tmp_path / "inbox" / "my-archive")
    (tmp_path / "inbox" / "note.txt").write_text("see https://example.com/x", encoding="utf-8")
    assert expand_source(str(tmp_path / "inbox")) == [
        str(tmp_path / "inbox" / "my-archive"),
        str(tmp_path / "inbox" / "note.txt"),
    ]


def test_single_tweets_file_without_account():
    posts = list(iter_posts(TWITTER / "data" / "tweets.js"))
    assert len(posts) == 3
    assert posts[0].author_handle is None
    assert posts[0].url == "https://twitter.com/i/web/status/1790000000000000001"


def test_broken_tweets_file_keeps_its_good_half(tmp_path):
    data = (TWITTER / "data" / "tweets.js").read_bytes()
    broken = tmp_path / "tweets.js"
    broken.write_bytes(data[: data.index(b'"1790000000000000003"')])
    posts = []
    with pytest.raises(ParseError, match="tweets.js: broken JSON .* after 2 good entries"):
        for post in iter_posts(broken):
            posts.append(post)
    assert [p.id for p in posts] == ["1790000000000000001", "1790000000000000002"]


def test_zip_with_no_tweets_is_a_clear_error(tmp_path):
    target = tmp_path / "empty.zip"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("readme.bin", b"\x00\x01\x02")
    with pytest.raises(ParseError, match="empty.zip: no posts in it"):
        list(iter_posts(target))


def test_not_a_zip_is_a_clear_error(tmp_path):
    target = tmp_path / "broken.zip"
    target.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ParseError, match="broken.zip: not a readable zip file"):
        list(iter_posts(target))


# -- Mastodon archives -----------------------------------------------------------


def check_mastodon_posts(posts):
    by_id = {p.id: p for p in posts}
    note = by_id["https://social.example/users/alice/statuses/111"]
    assert (note.platform, note.author_handle, note.author_name, note.posted_at, note.url) == (
        "mastodon",
        "alice@social.example",
        "Alice Example",
        "2024-05-16T09:00:00Z",
        "https://social.example/@alice/111",
    )
    # The href, not the shortened text Mastodon shows.
    assert [link.url for link in note.links] == [
        "https://news.example.com/2024/05/16/summit-report-with-a-long-slug",
        "https://example.net/notes/42",
    ]
    assert note.links[0].display == "news.example.com/2024/05/16/su…"
    assert note.hashtags == ("summit",) and note.mentions == ("bob@other.example",)
    boost = by_id["https://social.example/users/alice/statuses/112/activity"]
    assert [link.url for link in boost.links] == ["https://other.example/users/bob/statuses/999"]
    warned = by_id["https://social.example/users/alice/statuses/113"]
    assert warned.text.startswith("Long read\n\n")


def test_mastodon_archive_folder():
    assert read_source(MASTODON).format == "mastodon-outbox"
    check_mastodon_posts(list(iter_posts(MASTODON)))


def test_mastodon_archive_tar_gz(tmp_path):
    target = tmp_path / "archive-20240517.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for path in MASTODON.iterdir():
            archive.add(path, arcname=path.name)
    check_mastodon_posts(list(iter_posts(target)))


def test_outbox_that_is_not_an_outbox(tmp_path):
    target = tmp_path / "outbox.json"
    target.write_text('{"type": "OrderedCollection", "orderedItems": 5}', encoding="utf-8")
    with pytest.raises(ParseError, match="not an ActivityStreams outbox"):
        list(iter_posts(target))


# -- feeds -----------------------------------------------------------------------


def test_blog_feed():
    posts = list(iter_posts(FIXTURES / "feed" / "blog.xml"))
    assert [p.id for p in posts] == ["https://blog.example.org/2024/05/16/day-one", "day-two-2024"]
    day_one = posts[0]
    assert (day_one.platform, day_one.author_name, day_one.posted_at) == (
        "web",
        "The Editor",
        "2024-05-16T18:00:00Z",
    )
    assert day_one.url == "https://blog.example.org/2024/05/16/day-one"
    assert [(link.url, link.display, link.found_by) for link in day_one.links] == [
        ("https://t.co/dLWAZRTC3H", "a statement", "href"),
        ("https://blog.example.org/2024/05/15/eve", "yesterday's post", "href"),
    ]
    assert day_one.hashtags == ("summit",)


def test_mastodon_account_feed():
    (post,) = iter_posts(FIXTURES / "feed" / "mastodon.rss")
    assert (post.platform, post.author_handle, post.url) == (
        "mastodon",
        "alice@social.example",
        "https://social.example/@alice/111",
    )
    assert [link.url for link in post.links] == [
        "https://news.example.com/2024/05/16/summit-report-with-a-long-slug"
    ]


def test_bluesky_profile_feed():
    (post,) = iter_posts(FIXTURES / "feed" / "bluesky.rss")
    assert (post.platform, post.author_handle, post.author_name) == (
        "bluesky",
        "tester.bsky.social",
        "Test Account",
    )
    assert [link.url for link in post.links] == ["https://example.com/live"]


def test_atom_feed():
    (post,) = iter_posts(FIXTURES / "feed" / "atom.xml")
    assert (post.author_name, post.posted_at) == ("Note Taker", "2024-05-16T12:00:00Z")
    assert [link.url for link in post.links] == ["https://example.com/kept"]


def test_truncated_feed_keeps_what_it_could_read():
    posts = list(iter_posts(FIXTURES / "feed" / "truncated.xml"))
    assert posts[0].id == "https://blog.example.org/2024/05/16/day-one"


def test_html_page_with_feed_format_is_a_clear_error():
    with pytest.raises(ParseError, match="error-page.html: not an RSS or Atom feed"):
        list(iter_posts(FIXTURES / "feed" / "error-page.html", fmt="feed"))


# -- JSON Lines --------------------------------------------------------------------


def test_json_lines_keep_good_lines_and_name_the_bad_ones():
    posts = []
    with pytest.raises(ParseError, match=r"posts.jsonl: 2 line\(s\) .* \(first: line 3\)"):
        for post in iter_posts(FIXTURES / "jsonl" / "posts.jsonl"):
            posts.append(post)
    assert [p.id for p in posts][0::2] == ["p1", "p3"]
    first = posts[0]
    assert (first.platform, first.author_handle, first.posted_at, first.url) == (
        "forum",
        "someone",
        "2024-05-16T06:00:00Z",
        "https://forum.example/p1",
    )
    assert [link.url for link in posts[1].links] == ["https://bit.ly/3xyzABC"]


# -- embeds in pages ---------------------------------------------------------------


EMBEDS = """<html><body>
<blockquote class="bluesky-embed" data-bluesky-uri="at://did:plc:abcdefghijklmnop/app.bsky.feed.post/3kabcdefghi2x">
<p lang="en">Live coverage of the summit <a href="https://example.com/live">example.com/live</a></p>
&mdash; Test Account (<a href="https://bsky.app/profile/did:plc:abcdefghijklmnop">@tester.bsky.social</a>)
<a href="https://bsky.app/profile/did:plc:abcdefghijklmnop/post/3kabcdefghi2x?ref_src=embed">
May 16, 2024 at 11:00 AM</a>
</blockquote>
<iframe src="https://social.example/@alice/111/embed" class="mastodon-embed" width="400"></iframe>
<blockquote class="mastodon-embed" data-embed-url="https://other.example/@bob/999/embed">
<a href="https://other.example/@bob/999">Post by @bob@other.example</a></blockquote>
<p>Around them, the page links to <a href="https://example.org/context">context</a>.</p>
</body></html>"""


def test_bluesky_and_mastodon_embeds():
    posts = list(parse_bytes(EMBEDS.encode(), source="embeds.html"))
    by_platform = {}
    for post in posts:
        by_platform.setdefault(post.platform, []).append(post)
    (sky,) = by_platform["bluesky"]
    assert sky.id == "at://did:plc:abcdefghijklmnop/app.bsky.feed.post/3kabcdefghi2x"
    assert (sky.author_handle, sky.author_name, sky.posted_at) == (
        "tester.bsky.social",
        "Test Account",
        "2024-05-16T11:00",  # the time as the embed shows it, in no zone it names
    )
    assert sky.url == "https://bsky.app/profile/did:plc:abcdefghijklmnop/post/3kabcdefghi2x"
    assert [link.url for link in sky.links] == ["https://example.com/live"]
    assert sorted(p.url for p in by_platform["mastodon"]) == [
        "https://other.example/@bob/999",
        "https://social.example/@alice/111",
    ]
    assert {p.author_handle for p in by_platform["mastodon"]} == {"alice@social.example", "bob@other.example"}
    (web,) = by_platform["web"]
    assert [link.url for link in web.links] == ["https://example.org/context"]


# -- every parser, any bytes ----------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(SOURCES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=3000), st.text(max_size=1500).map(str.encode)))
def test_every_parser_yields_posts_or_its_one_clear_error(fmt, data):
    try:
        posts = list(parse_bytes(data, source="fuzz", fmt=fmt))
    except ParseError as ex:
        assert str(ex).startswith("fuzz")
        return
    text = data.decode("utf-8", errors="replace")
    for post in posts:
        for link in post.links:
            assert link.url.startswith(("http://", "https://"))
            # Every link was written in the source, as its display text or its address.
            host = link.url.split("/")[2].split("@")[-1]
            assert link.display in text or host in text.lower() or "&" in text


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_detection_answers_or_says_unknown(data):
    try:
        name = detect_format("fuzz", data)
    except UnknownFormat:
        return
    assert name in SOURCES


def test_json_arrays_are_read_in_small_windows(monkeypatch):
    from archiver.sources import jsontools

    whole = [p.text for p in iter_posts(TWITTER / "data" / "tweets.js")]
    monkeypatch.setattr(jsontools, "CHUNK_BYTES", 7)  # elements and characters cut across windows
    data = (
        (TWITTER / "data" / "tweets.js").read_bytes().replace(b"press room", "press room \U0001f4f0".encode())
    )
    texts = [p.text for p in parse_bytes(data, source="tweets.js")]
    assert texts[1:] == whole[1:]
    assert texts[0] == whole[0].replace("press room", "press room \U0001f4f0")


def test_a_cut_off_link_that_another_link_of_the_post_completes_is_left_out():
    from archiver.extract.html import merge_links
    from archiver.models import FoundLink

    cut = FoundLink(
        "https://example.com/2024/05/an-arti", "example.com/2024/05/an-arti", "text", 0, truncated=True
    )
    tco = FoundLink("https://t.co/aB3", "http://t.co/aB3", "text", 1, truncated=True)
    other = FoundLink("https://t.co/zz9", "http://t.co/zz9", "text", 2, truncated=True)
    entity = FoundLink(
        "https://t.co/aB3xYz9Qrs",
        "t.co/aB3xYz9Qrs",
        "entity",
        0,
        expanded_url="https://www.example.com/2024/05/an-article",
    )
    merged = merge_links([entity], [cut, tco, other])
    assert [(link.url, link.position, link.truncated) for link in merged] == [
        ("https://t.co/aB3xYz9Qrs", 0, False),
        ("https://t.co/zz9", 1, True),
    ]


# -- what archiver does not read, and formats named by the user ---------------------------


@pytest.mark.parametrize(
    ("name", "data", "seen"),
    [
        ("export.json", b'{"accounts": [1], "version": 2}', "a JSON object with the keys accounts, version"),
        ("big.json", b'{"records": [' + b'{"a": 1},' * 2000, "a JSON object with the keys records"),
        ("blob.bin", bytes(range(256)) * 4, "binary data"),
        ("payload.js", b"var payload_details = {}", "text starting 'var payload_details"),
        (
            "catalog.xml",
            b"<?xml version='1.0'?><!-- about --><catalog><item/></catalog>",
            "XML or HTML whose first element is <catalog>",
        ),
        ("empty.txt", b"  \n", "an empty file"),
    ],
)
def test_content_archiver_does_not_read_is_an_error_saying_what_it_saw(name, data, seen):
    with pytest.raises(UnknownFormat) as raised:
        list(parse_bytes(data, source=name))
    message = str(raised.value)
    assert message.startswith(f"{name}: {seen}")
    assert "--format (" in message and "twitter-archive" in message


def test_a_sources_file_line_may_name_the_format(tmp_path):
    from archiver.sources import SourceEntry, read_source_list

    listing = tmp_path / "sources.txt"
    listing.write_text(
        "# comment\nfeed https://example.org/rss  # the blog\npages/my notes.txt\npage local.txt\n"
        "twitter-archive exports/old\nhttps://example.org/other\n",
        encoding="utf-8",
    )
    assert read_source_list(listing) == [
        SourceEntry("https://example.org/rss", "feed"),
        SourceEntry(str(tmp_path / "pages/my notes.txt")),
        SourceEntry(str(tmp_path / "local.txt"), "page"),
        SourceEntry(str(tmp_path / "exports/old"), "twitter-archive"),
        SourceEntry("https://example.org/other"),
    ]


def test_a_feed_url_serving_a_maintenance_page_is_a_failed_read(tmp_path):
    from archiver import store
    from archiver.pipeline import ingest_sources
    from archiver.sources import SourceEntry
    from archiver.sources.fetch import Fetched

    feed = (FIXTURES / "feed" / "blog.xml").read_bytes()
    maintenance = b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1><p>Back soon.</p></body></html>"
    bodies = [feed, maintenance, maintenance]
    db = store.open_database(tmp_path / "archive.db")
    lines: list[str] = []

    def ingest(entry):
        async def fetch(url, **validators):
            return Fetched(url, 200, bodies.pop(0))

        return asyncio.run(
            ingest_sources(db, [entry], fmt=None, run_id=None, fetch=fetch, report=lines.append)
        )

    url = "https://blog.example.org/feed.xml"
    posts = ingest(SourceEntry(url)).posts_added
    assert posts > 0
    # The same URL read as a feed before stays a feed; a line can also say so.
    for entry in (SourceEntry(url), SourceEntry(url, "feed")):
        assert ingest(entry).posts_added == 0
        row = store.source_state(db, url)
        assert (row["format"], row["last_status"]) == ("feed", "error")
        assert "not an RSS or Atom feed" in row["last_error"]
    assert db["posts"].count == posts and lines and all(url in line for line in lines)


# -- feeds however they begin, relative links, encodings, hashtag feeds --------------------

_RSS = (
    '<rss version="2.0"><channel><title>Blog</title><link>https://blog.example.org/</link>'
    "<item><guid>https://blog.example.org/p/1</guid><link>https://blog.example.org/p/1</link>"
    "<description>{body}</description></item></channel></rss>"
)


@pytest.mark.parametrize(
    "prefix",
    [
        "\n\n   ",
        "\ufeff",
        '<?xml version="1.0" encoding="utf-8"?>\n<!--\nDescription: a generator\'s note\n-->\n',
        '<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="/style.xsl"?>',
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n',
        '<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>',
    ],
)
def test_a_feed_is_a_feed_however_it_begins(prefix):
    data = (prefix + _RSS.format(body="Hello https://example.com/x")).encode()
    assert detect_format("feed", data) == "feed"
    (post,) = parse_bytes(data, source="feed")
    assert [link.url for link in post.links] == ["https://example.com/x"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32-be"])
def test_a_feed_in_utf16_or_utf32_is_a_feed(codec):
    data = ('<?xml version="1.0" encoding="utf-16"?>' + _RSS.format(body="Hi https://example.com/y")).encode(
        codec
    )
    assert detect_format("feed", data[:8192]) == "feed"


@pytest.mark.parametrize(
    ("codec", "text"), [("koi8-r", "Привет, мир: новости"), ("shift_jis", "こんにちは、世界のニュースです")]
)
def test_a_feed_without_a_declared_encoding_is_decoded_by_detection(codec, text):
    data = _RSS.format(body=f"{text} {text} {text}").encode(codec)
    (post,) = parse_bytes(data, source="feed.xml")
    assert post.text.startswith(text)


def test_relative_links_in_feeds():
    data = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/root/">
  <title>Blog</title>
  <entry><id>a</id><link href="posts/1"/>
    <content type="html" xml:base="https://cdn.example.net/media/"
      >&lt;a href="img/x.png"&gt;x&lt;/a&gt;</content></entry>
  <entry><id>b</id><link href="posts/2"/>
    <content type="html">&lt;a href="rel/y"&gt;y&lt;/a&gt;</content></entry>
</feed>"""
    posts = list(parse_bytes(data, source="https://feeds.example.com/atom.xml"))
    assert [(p.url, [link.url for link in p.links]) for p in posts] == [
        ("https://blog.example.org/root/posts/1", ["https://cdn.example.net/media/img/x.png"]),
        ("https://blog.example.org/root/posts/2", ["https://blog.example.org/root/rel/y"]),
    ]
    rss = (
        b'<rss version="2.0"><channel><title>B</title>'
        b"<item><link>/p/3</link><description>&lt;a href='z'&gt;z&lt;/a&gt;</description></item>"
        b"<item><description>&lt;a href='/w'&gt;w&lt;/a&gt;</description></item></channel></rss>"
    )
    first, second = parse_bytes(rss, source="https://site.example/feed/rss.xml")
    assert (first.url, [link.url for link in first.links]) == (
        "https://site.example/p/3",
        ["https://site.example/p/z"],
    )
    assert [link.url for link in second.links] == ["https://site.example/w"]


def test_a_hashtag_feed_names_each_post_by_its_author():
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>#osint</title><link>https://social.example/tags/osint</link><generator>Mastodon v4.3.0</generator>
<item><guid>https://social.example/@alice/111</guid><link>https://social.example/@alice/111</link>
  <description>&lt;p&gt;First #osint&lt;/p&gt;</description></item>
<item><guid>https://other.example/users/bob/statuses/222</guid><link>https://other.example/users/bob/statuses/222</link>
  <dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">Bob Example</dc:creator>
  <description>&lt;p&gt;Second #osint&lt;/p&gt;</description></item>
</channel></rss>"""
    posts = list(parse_bytes(data, source="https://social.example/tags/osint.rss"))
    assert [(p.platform, p.author_handle, p.author_name) for p in posts] == [
        ("mastodon", "alice@social.example", None),
        ("mastodon", "bob@other.example", "Bob Example"),
    ]


# -- CSV -------------------------------------------------------------------------------------

CSV = FIXTURES / "csv"


def test_csv_of_a_research_dataset():
    posts = list(iter_posts(CSV / "research.csv"))
    assert [(p.id, p.platform, p.author_handle, p.author_name, p.posted_at) for p in posts] == [
        ("1880000000000000001", "twitter", "desk_example", "Example Desk", "2025-01-17T09:30:00Z"),
        ("1880000000000000002", "twitter", "desk_example", "Example Desk", "2025-01-17T09:31:00Z"),
        ("1880000000000000003", "twitter", "desk_example", "Example Desk", "2025-01-18T07:00:00Z"),
    ]
    first, second, third = posts
    assert first.url == "https://twitter.com/desk_example/status/1880000000000000001"
    assert [(link.url, link.found_by, link.expanded_url) for link in first.links] == [
        ("https://t.co/AbCdEfGhI1", "entity", "https://news.example.org/2025/01/floods")
    ]
    assert first.hashtags == ("floods",)
    assert second.text.startswith("Thread, part two:\nthe maps")
    assert [link.url for link in second.links] == [
        "https://t.co/MaPsMaPs22",
        "https://data.example.net/floods",
    ]
    assert [(link.url, link.truncated) for link in third.links] == [("https://t.co/RiVeR", True)]
    assert third.mentions == ("other_desk",)


def read_until_error(path, **options):
    """Return the posts a source yields and the ParseError it ends with (None: none)."""
    posts = []
    try:
        for post in iter_posts(path, **options):
            posts.append(post)
    except ParseError as ex:
        return posts, ex
    return posts, None


def test_csv_of_an_old_twitter_archive():
    # An archive's own tweets.csv names no author: its posts are kept, and it says so.
    posts, error = read_until_error(CSV / "archive-tweets.csv")
    assert error is not None and "no author column archiver knows" in str(error)
    assert [(p.id, p.posted_at, p.author_handle) for p in posts] == [
        ("635000000000000001", "2015-08-22T22:45:29Z", None),
        ("635000000000000002", "2015-08-21T21:05:59Z", None),
        ("635000000000000003", "2015-08-21T16:14:21Z", None),
    ]
    assert posts[0].url == "https://twitter.com/i/web/status/635000000000000001"
    # expanded_urls lists the t.co links' expansions in order: each t.co link carries its
    # own, as a Twitter archive's entities do, and is never requested.
    assert {(link.url, link.expanded_url) for link in posts[0].links} == {
        ("http://t.co/SlIdEsAbC1", "http://slides.example.com/meetup"),
        ("http://t.co/PhOtOsAbC2", "http://twitter.com/someone/status/635000000000000001/photo/1"),
    }
    assert posts[1].text.startswith('RT @someone: "A quote, with quotes."')
    cut = {link.url: link.truncated for link in posts[1].links}
    assert cut == {"http://magazine.example.com/read/the-article": False, "http://t.co/Ywm0wO": True}
    assert posts[2].text == "@friend Never enough\nwhiteboards <3 & markers."


def test_csv_with_semicolons_and_other_headers():
    posts = list(iter_posts(CSV / "sheet.csv"))
    assert [(p.author_handle, p.posted_at, p.platform, p.url) for p in posts] == [
        (
            "reporter",
            "2024-05-16T08:00:00",
            "mastodon",
            "https://social.example/@reporter/112000000000000001",
        ),
        ("reporter", "2024-05-16T08:00:00Z", "web", None),
    ]
    assert [link.url for link in posts[0].links] == ["https://example.com/a"] and posts[0].hashtags == (
        "tag",
    )


def test_csv_text_column_named_by_the_user(tmp_path):
    with pytest.raises(
        ParseError, match=r"without a text column \(columns: message_id, message_body, sent\).*--text-column"
    ):
        list(iter_posts(CSV / "custom.csv"))
    posts, error = read_until_error(CSV / "custom.csv", text_column="message_body")
    assert [p.text for p in posts] == ["Body text https://example.org/b", "More text"]
    assert "no date or author column archiver knows" in str(error)
    assert "(columns: message_id, message_body, sent)" in str(error)
    with pytest.raises(ParseError, match="no column named 'body'"):
        list(iter_posts(CSV / "custom.csv", text_column="body"))


def test_csv_without_a_text_column_is_an_error_in_a_run(tmp_path):
    from click.testing import CliRunner

    from archiver.cli import cli

    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        cli, ["ingest", str(CSV / "scores.csv"), "--db", str(db)], catch_exceptions=False
    )
    assert result.exit_code == 1  # a source named and not readable
    assert (
        f"{CSV / 'scores.csv'}: a CSV file without a text column (columns: name, score, comment_count)"
        in result.stderr
    )
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from posts").fetchone() == (0,)
        assert conn.execute("select last_status from sources").fetchall() == [("error",)]
    result = CliRunner().invoke(
        cli,
        ["ingest", str(CSV / "custom.csv"), "--db", str(db), "--text-column", "message_body"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and "2 posts added" in result.stderr + result.stdout


def test_a_large_csv_is_read_in_bounded_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "big.csv"
    row = '{n},"Post {n} about https://example.com/{n} and words to lengthen the row #tag",2024-01-01,a\n'
    with path.open("w", encoding="utf-8") as out:
        out.write("id,text,date,author\n")
        for start in range(0, 30_000, 1000):
            out.write("".join(row.format(n=n) for n in range(start, start + 1000)))
    assert path.stat().st_size > 2_500_000
    list(iter_posts(CSV / "research.csv"))  # patterns built on first use are not the file's
    tracemalloc.start()
    count = sum(1 for _ in iter_posts(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 30_000
    assert peak < 1_500_000, peak


def test_a_csv_row_too_large_for_the_csv_module_is_skipped_and_counted(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,text\n1,"fine https://example.com/1"\n2,"' + "x" * 200_000 + '"\n3,"also fine"\n')
    posts = []
    with pytest.raises(ParseError, match=r"1 row\(s\) could not be read as CSV \(first: row 3\)"):
        for post in iter_posts(path):
            posts.append(post)
    assert [p.id for p in posts] == ["1", "3"]


# -- hostile records: nesting, surrogates, extreme dates, long runs ---------------------------

_HOSTILE = st.sampled_from(
    [
        "[" * 1200,
        '{"a":' * 1200,
        "\\ud800",
        "\\udfff\\ud83d",
        "\\u0000",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "Thu May \u0661\u0666 08:15:00 +0000 2024",
        "1e400",
        "99999999999999999999999",
        "http://[::1]@evil.com/",
        "http://[bad",
        " " * 3000,
        "x" * 3000,
        "#" * 500,
        "…",
    ]
)
_VALUE = st.one_of(_HOSTILE, st.text(max_size=12)).map(lambda v: v.replace('"', "'"))

_TEMPLATES = {
    "jsonl": '{{"id": "{0}", "text": "{1} https://example.com/a", "created_at": "{2}", "handle": "{3}"}}\n'
    '{{"text": "second post {4}", "created_at": "{5}"}}\n',
    "twitter-archive": 'window.YTD.tweets.part0 = [{{"tweet": {{"id_str": "1", "full_text": "{1}", '
    '"created_at": "{2}", "entities": {{"urls": [{{"url": "https://t.co/AbCdEfGhIj", '
    '"expanded_url": "{3}"}}]}}}}}}, '
    '{{"tweet": {{"id_str": "2", "full_text": "{4}", "created_at": "{5}"}}}}]',
    "mastodon-outbox": '{{"orderedItems": [{{"type": "Create", "actor": "{0}", "published": "{2}", '
    '"object": {{"type": "Note", "id": "{3}", "url": "{3}", "content": "{1}"}}}}]}}',
    "feed": '<rss version="2.0"><channel><title>{0}</title><item><guid>{3}</guid><link>{3}</link>'
    "<pubDate>{2}</pubDate><description>{1}</description></item><item><description>{4}</description>"
    "</item></channel></rss>",
    "csv": 'id,text,created_at,handle\n"{0}","{1}","{2}","{3}"\n2,"{4}","{5}",x\n',
    "page": "{1}\n— Name (@{0}) May 1, 2024\n{4} {3}\n— {5} (@x) {2}\n",
}


@pytest.mark.parametrize("fmt", sorted(_TEMPLATES))
@settings(max_examples=120, deadline=None)
@given(values=st.lists(_VALUE, min_size=6, max_size=6))
def test_every_parser_survives_hostile_records(fmt, values, tmp_path_factory):
    from archiver import store

    data = _TEMPLATES[fmt].format(*values).encode("utf-8", "surrogatepass")
    posts = []
    try:
        for post in parse_bytes(data, source="fuzz", fmt=fmt):
            posts.append(post)
    except ParseError as ex:
        assert str(ex).startswith("fuzz")
    db = store.open_database(tmp_path_factory.mktemp("db") / "archive.db")
    saved = store.save_posts(db, posts)
    assert saved.error is None and saved.posts_read == len(posts)


def test_one_hostile_record_costs_only_itself():
    lines = [
        '{"id": "1", "text": "good https://example.com/1"}',
        '{"id": "2", "text": "nested", "extra": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"text": "no id, a lone \\ud800 surrogate"}',
        '{"id": "4", "text": "far date", "created_at": "0001-01-01T00:00:00+01:00"}',
        '{"id": "5", "text": "good again https://example.com/5"}',
    ]
    posts = []
    with pytest.raises(ParseError, match=r"fuzz: 1 line\(s\)"):
        for post in parse_bytes("\n".join(lines).encode(), source="fuzz", fmt="jsonl"):
            posts.append(post)
    assert (
        [p.id for p in posts][:1] == ["1"] and "5" in [p.id for p in posts] and "4" in [p.id for p in posts]
    )
    assert len(posts) == 4


def test_a_file_of_deep_nesting_is_an_unknown_format_not_a_crash():
    for data in (b"[" * 1000, b'{"a":' * 1000):
        with pytest.raises(UnknownFormat):
            detect_format("deep", data)


def test_a_parser_that_fails_on_a_record_names_the_record_and_keeps_the_rest():
    from archiver.sources.records import each_record

    def read(value):
        if value == 2:
            raise OverflowError("date value out of range")
        return value

    got = []
    with pytest.raises(
        ParseError, match=r"src: 1 record\(s\) could not be read \(first: record 2: OverflowError"
    ):
        for value in each_record([1, 2, 3], read, source="src"):  # type: ignore[arg-type]
            got.append(value)
    assert got == [1, 3]


def test_an_oversized_member_is_skipped_and_the_others_read(tmp_path, monkeypatch):
    import archiver.sources.archives as archives

    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 10_000)
    target = tmp_path / "bundle.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a.jsonl", '{"id": "1", "text": "first https://example.com/1"}\n')
        bundle.writestr("bomb.txt", "x" * 5_000_000)  # a few KB compressed
        bundle.writestr("b.jsonl", '{"id": "2", "text": "second https://example.com/2"}\n')
    posts = []
    with pytest.raises(
        ParseError, match=r"bomb.txt: 5000000 bytes is more than archiver reads of one member"
    ):
        for post in iter_posts(target):
            posts.append(post)
    assert [p.id for p in posts] == ["1", "2"]


def test_an_archive_gives_a_bounded_total(tmp_path, monkeypatch):
    import archiver.sources.archives as archives

    monkeypatch.setattr(archives, "MAX_ARCHIVE_BYTES", 150)
    folder_zip = tmp_path / "many.zip"
    with zipfile.ZipFile(folder_zip, "w") as bundle:
        for n in range(5):
            bundle.writestr(f"{n}.jsonl", f'{{"id": "{n}", "text": "post {n} https://example.com/{n}"}}\n')
    posts = []
    with pytest.raises(ParseError, match="more than 150 bytes in all"):
        for post in iter_posts(folder_zip):
            posts.append(post)
    assert 0 < len(posts) < 5


def test_a_folder_archive_member_is_capped_too(tmp_path, monkeypatch):
    import archiver.sources.archives as archives

    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1000)
    folder = tmp_path / "export"
    shutil.copytree(TWITTER, folder)
    (folder / "data" / "tweets-part1.js").write_text("window.YTD.tweets.part1 = [" + " " * 5000 + "]")
    posts = []
    with pytest.raises(ParseError, match="more than archiver reads of one member"):
        for post in iter_posts(folder):
            posts.append(post)


def _feed_with_body(body: str) -> bytes:
    from html import escape

    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><guid>1</guid>'
        f"<description>{escape(body)}</description></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    "unit",
    [
        lambda n: "a <!-- " * (n // 7),  # comments never closed: quadratic in feedparser's sanitizer
        lambda n: "<!-- " + "-- " * (n // 3),
        lambda n: "<a " * (n // 3),
        lambda n: "&" * n,
    ],
)
def test_feed_items_are_read_in_linear_time(unit):
    from conftest import best_time

    from archiver.sources import parse_bytes

    def read(data: bytes) -> None:
        list(parse_bytes(data, source="hostile.xml", fmt="feed"))

    small, large = (
        best_time(read, _feed_with_body(unit(25_000))),
        best_time(read, _feed_with_body(unit(100_000))),
    )
    assert large < 8 * small + 0.02, (small, large)


def test_feed_html_reads_as_a_browser_shows_it():
    from archiver.sources import parse_bytes

    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id>'
        b'<title type="html">Q&amp;amp;A &lt;script&gt;var x = "https://tracker.example/s"&lt;/script&gt;'
        b"&lt;b&gt;day&lt;/b&gt;</title>"
        b'<content type="html">safe&lt;iframe src="https://frame.example/"/&gt; hidden '
        b"&lt;style&gt;a{}&lt;/style&gt;&lt;!-- https://comment.example/ --&gt;</content>"
        b"</entry></feed>"
    )
    (post,) = parse_bytes(atom, source="a.xml", fmt="feed")
    assert post.text.startswith("Q&A day")
    assert "script" not in post.text and "tracker" not in post.text and "<b>" not in post.text
    assert [link.url for link in post.links] == []


def test_an_archive_is_opened_once_per_ingest(tmp_path, monkeypatch):
    import archiver.sources as sources
    from archiver import pipeline, store

    target = tmp_path / "archive-20240517.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for path in MASTODON.iterdir():
            archive.add(path, arcname=path.name)
    opened = []
    real_open = sources.open_archive
    monkeypatch.setattr(sources, "open_archive", lambda path: opened.append(path) or real_open(path))
    db = store.open_database(tmp_path / "archive.db")

    async def no_fetch(url, **_):
        raise AssertionError(url)

    outcome = asyncio.run(
        pipeline.ingest_sources(
            db,
            [sources.SourceEntry(str(target))],
            fmt=None,
            run_id=store.start_run(db, "ingest"),
            fetch=no_fetch,
            report=lambda line: None,
        )
    )
    assert outcome.posts_added > 0 and not outcome.failed
    assert opened == [target]
    assert db.execute("select format from sources").fetchall() == [("mastodon-outbox",)]


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("/feeds/moved", "read"),  # two redirects, then the feed
        ("/loop-a", "redirects back to"),
        ("/to-javascript", "redirect to an unsupported URL: javascript:alert(1)"),
        ("/hop/12", "more than 10 redirects"),
        ("/to-mapped", "refused"),  # the guard, as for a link
    ],
)
def test_a_feed_url_follows_redirects_by_the_rules_links_follow(server, path, outcome):
    from archiver.http import ResolverSettings
    from archiver.models import SourceUnavailable
    from archiver.sources.fetch import fetch_source

    base, recorder = server
    port = int(base.rsplit(":", 1)[1])
    settings = ResolverSettings(exempt=frozenset({("127.0.0.1", port)}), max_hops=10)
    if outcome == "read":
        fetched = asyncio.run(fetch_source(f"{base}{path}", settings=settings))
        assert fetched.url == f"{base}/feeds/blog.xml" and fetched.body and b"<rss" in fetched.body
        assert recorder.paths() == ["/feeds/moved", "/feeds/moved-again", "/feeds/blog.xml"]
        return
    with pytest.raises(SourceUnavailable) as raised:
        asyncio.run(fetch_source(f"{base}{path}", settings=settings))
    assert outcome in str(raised.value) and f"{base}{path}" in str(raised.value)


# -- what collectors write: minet/twitwi, twarc-csv, 4CAT (shaped like their exports) ----

TWITWI_TWEETS = (
    "id,timestamp_utc,local_time,user_screen_name,text,retweet_count,user_name,url,links,"
    "mentioned_names,hashtags\n"
    '1347085867584794624,1610005273.0,2021-01-07T08:41:13,Some_User,"hi @friend #one https://example.org/a",'
    "0,Some User,https://twitter.com/Some_User/status/1347085867584794624,https://example.org/a,friend,one\n"
)
TWITWI_BLUESKY = (
    "cid,uri,url,timestamp_utc,local_time,user_did,user_handle,text,user_display_name,links,"
    "mentioned_user_handles,hashtags\n"
    "bafy1,at://did:plc:abc/app.bsky.feed.post/3lk,https://bsky.app/profile/alice.bsky.social/post/3lk,"
    '1742116928,2025-03-16T10:22:08.653000,did:plc:abc,alice.bsky.social,"Merci @laviedesidees.bsky.social '
    'et @p4bl0.net #ESR",Alice,,laviedesidees.bsky.social|p4bl0.net,esr\n'
)


def read_csv_text(tmp_path, text: str, name: str = "export.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_until_error(path)


def test_minet_and_twitwi_exports_keep_their_dates_and_handles(tmp_path):
    # Dates and Bluesky handles were stored as NULL, and the source was "ok".
    (tweet,), error = read_csv_text(tmp_path, TWITWI_TWEETS)
    assert error is None
    assert (tweet.posted_at, tweet.author_handle, tweet.author_name) == (
        "2021-01-07T07:41:13Z",
        "Some_User",
        "Some User",
    )
    assert (tweet.hashtags, tweet.mentions) == (("one",), ("friend",))
    (post,), error = read_csv_text(tmp_path, TWITWI_BLUESKY)
    assert error is None
    assert (post.platform, post.posted_at, post.author_handle) == (
        "bluesky",
        "2025-03-16T09:22:08Z",
        "alice.bsky.social",
    )
    assert post.mentions == ("laviedesidees.bsky.social", "p4bl0.net")
    assert post.hashtags == ("esr",)


def test_a_csv_without_a_date_or_author_column_says_so(tmp_path):
    posts, error = read_csv_text(tmp_path, "id,message,when_sent\n1,hello https://example.org/x,yesterday\n")
    assert [p.text for p in posts] == ["hello https://example.org/x"]
    assert error is not None and "no date or author column archiver knows" in str(error)
    assert "(columns: id, message, when_sent)" in str(error)


TWARC_CSV = (
    "id,created_at,text,author.username,author.name,entities.hashtags,entities.mentions,entities.urls,"
    "__twarc.retrieved_at\n"
    '1,2022-03-01T10:00:00.000Z,"Top songs https://t.co/AbCdEfGhIj\\n#charts @radio\\nphoto https://t.co/ZyXwVuTsRq",'
    'dj,DJ,"[""#charts""]","[""@radio""]",'
    '"[""https://example.org/top-songs"", ""pic.twitter.com/PhOtO""]",2022-03-02T00:00:00Z\n'
)


def test_twarc_csv_line_breaks_entities_and_expansions_are_read(tmp_path):
    # twarc-csv writes a line break as backslash-n: "…\n#charts" read as a hashtag glued to a
    # word, and its entities.urls were not paired with the t.co links, which were requested.
    (post,), error = read_csv_text(tmp_path, TWARC_CSV)
    assert error is None
    assert post.text == "Top songs https://t.co/AbCdEfGhIj\n#charts @radio\nphoto https://t.co/ZyXwVuTsRq"
    assert (post.hashtags, post.mentions) == (("charts",), ("radio",))
    assert [(link.url, link.expanded_url) for link in post.links] == [
        ("https://t.co/AbCdEfGhIj", "https://example.org/top-songs"),
        ("https://t.co/ZyXwVuTsRq", "https://pic.twitter.com/PhOtO"),
    ]


@pytest.mark.parametrize(
    ("platform", "text", "mentions"),
    [
        (
            "bluesky",
            "Merci @laviedesidees.bsky.social et @ferc-cgt.bsky.social.",
            ("laviedesidees.bsky.social", "ferc-cgt.bsky.social"),
        ),
        ("bluesky", "cc @p4bl0.net, @yui.syui.ai", ("p4bl0.net", "yui.syui.ai")),
        ("mastodon", "hi @alice@example.social and @bob", ("alice@example.social", "bob")),
        ("twitter", "hi @jack.", ("jack",)),
    ],
)
def test_a_posts_platform_decides_what_a_mention_is(tmp_path, platform, text, mentions):
    # Twitter's rule cut Bluesky handles to their first label: another account.
    line = json.dumps({"id": "1", "text": text, "platform": platform})
    (post,) = list(parse_bytes(line.encode() + b"\n", source="p.jsonl", fmt="jsonl"))
    assert post.mentions == mentions


def test_a_hashtag_cut_by_an_ellipsis_is_no_hashtag():
    from archiver.extract import extract_text_parts

    assert extract_text_parts("RT @a: Vote in the #electi\u2026").hashtags == ()
    assert extract_text_parts("RT @a: Vote in the #election...").hashtags == ()
    assert extract_text_parts("#python\u2026 is fun #code").hashtags == ("python", "code")


def test_an_atom_entry_whose_content_is_elsewhere_links_to_it():
    feed = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:f</id>'
        b"<updated>2024-01-01T00:00:00Z</updated><entry><title>Report</title><id>urn:e</id>"
        b'<updated>2024-01-01T00:00:00Z</updated><content type="application/pdf" src="/files/report.pdf"/>'
        b"</entry></feed>"
    )
    (post,) = list(parse_bytes(feed, source="https://news.example/feed.atom", fmt="feed"))
    assert [link.url for link in post.links] == ["https://news.example/files/report.pdf"]
    assert post.url == "https://news.example/files/report.pdf"
