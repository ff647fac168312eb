"""Pages with embedded posts, as text and as HTML."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, SEED_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.models import ParseError, UnknownFormat
from archiver.sources import detect_format, iter_posts, parse_bytes


def tweets(posts):
    return [p for p in posts if p.platform == "twitter"]


@pytest.mark.skipif(not SEED_DIR.exists(), reason="the shared seed pages sit beside the repository")
def test_seed_page_posts_and_links():
    posts = list(iter_posts(SEED_DIR / "000_10d1aea656668aa2.txt"))
    assert [p.platform for p in posts] == ["twitter"] * 5 + ["web"]
    for post in tweets(posts):
        assert (post.author_handle, post.author_name, post.posted_at) == (
            "mikenov",
            "Michael Novakhov",
            "2024-05-16",
        )
        assert "Michael Novakhov (@mikenov)" not in post.text
    assert [[link.url for link in p.links] for p in posts] == [
        ["https://t.co/dLWAZRTC3H", "https://pic.twitter.com/cWQxxPIXaM"],
        ["https://t.co/Z9ixm4GsEx", "https://pic.twitter.com/sIB8co04qA"],
        ["https://t.co/dXzLm4GKPZ"],
        ["https://t.co/562CaWXbNy", "https://t.co/O0SIgLVWzM"],
        ["https://t.co/5xInlqsmmS", "https://pic.twitter.com/hjQHLRd0g5"],
        ["https://podcastchoices.com/adchoices"],
    ]
    assert len({link.url for p in posts for link in p.links}) == 10
    assert posts[1].text.endswith("pic.twitter.com/sIB8co04qA")
    assert posts[2].mentions == ("YouTube",)
    assert posts[3].text.startswith("https://t.co/562CaWXbNy\n")
    assert posts[3].hashtags[-1] == "Bloggers" and "NewsAndTimes" in posts[3].hashtags
    assert "Путин" in posts[3].hashtags
    assert posts[5].text.startswith("Day: May 16, 2024")


def test_text_page_fixture():
    posts = list(iter_posts(FIXTURES / "page" / "embedded.txt"))
    assert [p.platform for p in posts] == ["twitter"] * 5 + ["web"]
    glued = posts[3]
    assert glued.hashtags == ("NewsReview", "OSINT", "Diplomacy", "Summit", "Bloggers")
    assert [link.url for link in glued.links] == ["https://t.co/562CaWXbNy", "https://t.co/O0SIgLVWzM"]
    assert not any(link.truncated for link in glued.links)
    assert [link.display for link in posts[0].links] == [
        "https://t.co/dLWAZRTC3H",
        "pic.twitter.com/cWQxxPIXaM",
    ]
    assert posts[5].links[0].url == "https://podcastchoices.com/adchoices"
    # Ingesting the same bytes twice gives the same ids.
    assert [p.id for p in posts] == [p.id for p in iter_posts(FIXTURES / "page" / "embedded.txt")]


def test_html_page_gives_the_same_posts_as_text():
    text_posts = tweets(iter_posts(FIXTURES / "page" / "embedded.txt"))
    html_posts = list(iter_posts(FIXTURES / "page" / "embedded.html"))
    html_tweets = tweets(html_posts)
    assert len(html_tweets) == 3
    by_link = {p.links[0].url: p for p in text_posts}
    for post in html_tweets:
        twin = by_link[post.links[0].url]
        assert (post.author_handle, post.author_name, post.posted_at) == (
            twin.author_handle,
            twin.author_name,
            twin.posted_at,
        )
        assert [link.url for link in post.links] == [link.url for link in twin.links]
        assert post.text == twin.text
        assert post.hashtags == twin.hashtags
        assert post.id.isdigit() and post.url.startswith("https://twitter.com/mikenov/status/")
    assert html_tweets[1].mentions == ("YouTube",)
    assert all(link.found_by == "href" for link in html_tweets[0].links)
    web = [p for p in html_posts if p.platform == "web"]
    assert len(web) == 1
    assert [link.url for link in web[0].links] == ["https://podcastchoices.com/adchoices"]
    assert "tracker.example.com" not in web[0].text


def test_html_relative_links_join_the_page_url():
    data = (FIXTURES / "page" / "embedded.html").read_bytes()
    posts = list(parse_bytes(data, source="https://blog.example.org/2024/05/diary.html"))
    web = [p for p in posts if p.platform == "web"][0]
    assert "https://blog.example.org/about" in [link.url for link in web.links]
    assert web.url == "https://blog.example.org/2024/05/diary.html"


def test_truncated_tco_link_is_flagged():
    posts = list(
        parse_bytes(
            "A thread worth reading https://t.co/abc1…\n— Someone (@someone) May 1, 2024\n".encode(),
            source="x.txt",
        )
    )
    assert posts[0].links[0].url == "https://t.co/abc1"
    assert posts[0].links[0].truncated


def test_binary_file_is_not_a_page():
    with pytest.raises(UnknownFormat):
        detect_format("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")


def test_invalid_utf8_is_replaced_not_fatal():
    posts = list(parse_bytes(b"caf\xe9 https://example.org/x\n", source="latin1.txt"))
    assert posts[0].links[0].url == "https://example.org/x"
    assert "\ufffd" in posts[0].text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_posts_or_one_clear_error(data):
    try:
        posts = list(parse_bytes(data, source="fuzz.html"))
    except (ParseError, UnknownFormat):
        return
    for post in posts:
        for link in post.links:
            assert link.url.startswith(("http://", "https://"))
