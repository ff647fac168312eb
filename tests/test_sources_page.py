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


# -- attribution lines, unread embeds, embeds in Markdown ---------------------------------


def read_all(path_or_bytes, source="page.html"):
    """Return the posts of a page and the ParseError it ended with, if any."""
    posts = []
    stream = (
        parse_bytes(path_or_bytes, source=source)
        if isinstance(path_or_bytes, bytes)
        else iter_posts(path_or_bytes)
    )
    try:
        for post in stream:
            posts.append(post)
    except ParseError as ex:
        return posts, ex
    return posts, None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("— Michael Novakhov (@mikenov) May 16, 2024", ("Michael Novakhov", "mikenov", "2024-05-16")),
        (
            "text— Jane “Not (Really)” Doe 🦀 (@jd) Feb 11, 2025 at 7:30 PM",
            ("Jane “Not (Really)” Doe 🦀", "jd", "2025-02-11T19:30"),
        ),
        ("— 記者 – 東京 (@kisha) 2025年2月11日 19:30", ("記者 – 東京", "kisha", "2025-02-11T19:30")),
        ("— Lokalzeitung (@lokal) 11. Februar 2025", ("Lokalzeitung", "lokal", "2025-02-11")),
        ("— Jean (@jean) 11 févr. 2025", ("Jean", "jean", "2025-02-11")),
        ("— Ana (@ana) 11 de febrero de 2025", ("Ana", "ana", "2025-02-11")),
        ("— Олег (@oleg) 11 февр. 2025 г.", ("Олег", "oleg", "2025-02-11")),
        ("— Desk (@desk) 2025-02-11", ("Desk", "desk", "2025-02-11")),
        # Bluesky's embed code writes the post's own time, in UTC: it is kept whole.
        (
            "— Bea (@bea.bsky.social) 2026-04-19T21:26:45.000Z",
            ("Bea", "bea.bsky.social", "2026-04-19T21:26:45Z"),
        ),
        (
            "— Bea (@bea.bsky.social) 2026-04-19T23:26:45+02:00",
            ("Bea", "bea.bsky.social", "2026-04-19T21:26:45Z"),
        ),
        (
            "&mdash; Sam (@sam.example.social) February 11, 2025 at 7:30 PM",
            ("Sam", "sam.example.social", "2025-02-11T19:30"),
        ),
        ("- A. Writer (@a_writer) Sept 3, 2019", ("A. Writer", "a_writer", "2019-09-03")),
    ],
)
def test_attribution_lines(line, expected):
    from archiver.sources.attribution import find_attribution

    found = find_attribution(line)
    assert found is not None
    assert (found.name, found.handle, found.date) == expected


@pytest.mark.parametrize(
    "line",
    [
        "I agree with (@someone) May 16, 2024",  # no dash before the name
        "— Name (@handle) sometime in May",
        "— Name (@handle) Foo 16, 2024",
        "— Name (@handle) May 16, 2024 and then more words after the date",
        "— Name (@) May 16, 2024",
        " " * 20000 + "(@x)" + " " * 20000,
    ],
)
def test_lines_that_are_not_attributions(line):
    from archiver.sources.attribution import find_attribution

    assert find_attribution(line) is None


def test_embeds_in_other_languages_and_with_odd_names():
    posts, error = read_all(FIXTURES / "page" / "embeds-intl.html")
    found = {p.author_handle: p for p in tweets(posts)}
    assert {h: (p.author_name, p.posted_at) for h, p in found.items()} == {
        "jd": ("Jane “Not (Really)” Doe 🦀", "2025-02-11T19:30"),
        "kisha_tokyo": ("記者 – 東京", "2025-02-11T19:30"),
        "jm_exemple": ("Jean-Marc L'Exemple", "2025-02-11"),
        "datadesk": ("Data Desk", "2025-02-11"),
    }
    assert found["jd"].id == "1889000000000000011"
    assert found["jd"].text == "Thread on the new rules (1/3) https://t.co/AaAaAaAaA1"
    # The embed whose footer could not be read is not lost: its text and links are the page's.
    (web,) = [p for p in posts if p.platform == "web"]
    assert "mangled by the blog's editor" in web.text
    assert {"https://t.co/EeEeEeEeE5", "https://report.example.org/p/9"} <= {link.url for link in web.links}
    assert error is not None and "1 of 5 embedded posts could not be read" in str(error)


def test_embed_markup_in_a_markdown_file():
    posts, error = read_all(FIXTURES / "page" / "embeds.md")
    by_platform = {p.platform: p for p in posts if p.platform != "web"}
    tweet, skeet, toot = by_platform["twitter"], by_platform["bluesky"], by_platform["mastodon"]
    assert (tweet.author_handle, tweet.posted_at, tweet.id) == (
        "lokal_zeitung",
        "2025-02-11",
        "1889000000000000001",
    )
    assert [link.url for link in tweet.links] == ["https://t.co/Xy12AbCdEf"] and tweet.hashtags == ("Gipfel",)
    assert (skeet.author_name, skeet.author_handle) == ("Sam “The Speaker” Example 🎤", "sam.example.social")
    assert skeet.id == "at://did:plc:abcdefghijklmnop/app.bsky.feed.post/3lhxyzabc2k2a"
    assert [link.url for link in skeet.links] == ["https://example.org/slides/talk.pdf"]
    assert toot.url == "https://social.example/@reporter/113900000000000001"
    (web,) = [p for p in posts if p.platform == "web"]
    web_links = {link.url for link in web.links}
    assert {
        "https://t.co/BrOkEn0001",
        "https://data.example.net/set/7",
        "https://notes.example.com/archive",
    } <= web_links
    assert not any("widgets.js" in url or "embed.js" in url for url in web_links)
    assert "<blockquote" not in web.text and "Paragraph 59" in web.text
    assert error is not None and "1 of 4 embedded posts could not be read" in str(error)


def _hrefs_and_text_urls(html: str) -> set[str]:
    import re

    from archiver.extract import extract_links
    from archiver.extract.html import parse_html, render
    from archiver.urls import normalise_url

    tree = parse_html(html)
    hrefs = {normalise_url(a.attributes.get("href") or "") for a in tree.css("a")}
    text = render(tree.body).text
    found = {link.url for link in extract_links(re.sub(r"\s+", " ", text))}
    return {url for url in hrefs | found if url}


_EMBED = (
    '<blockquote class="twitter-tweet"><p>{words} <a href="https://t.co/{code}">https://t.co/{code}</a> '
    'and <a href="https://{host}.example.org/{code}">{host}.example.org/{code}</a></p>{footer}</blockquote>\n'
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abc xyz", min_size=1, max_size=20),
            st.sampled_from(
                [
                    "&mdash; Name (@handle) May 1, 2024",
                    '&mdash; Name (@handle) <a href="https://twitter.com/handle/status/{n}">May 1, 2024</a>',
                    "&mdash; Name (@handle)",
                    "posted some time ago",
                    "",
                    "&mdash; (@) 2024",
                ]
            ),
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_every_url_of_a_page_is_kept_whether_or_not_its_embed_was_read(embeds, as_markdown):
    html = "<p>Intro text.</p>\n" + "".join(
        _EMBED.format(words=words, code=f"Code{n:06d}", host=f"h{n}", footer=footer.format(n=1000 + n))
        for n, (words, footer) in enumerate(embeds)
    )
    posts, _ = read_all(html.encode(), source="page.md" if as_markdown else "page.html")
    kept = {link.url for p in posts for link in p.links} | {p.url for p in posts if p.url}
    assert _hrefs_and_text_urls(html) <= kept


def test_a_saved_html_page_that_starts_with_a_comment_is_a_page():
    data = b"<!-- saved from url=(0014)about:internet -->\n<html><body><p>See https://example.com/a</p></body></html>"
    assert detect_format("saved", data) == "page"
    (post,) = parse_bytes(data, source="saved")
    assert [link.url for link in post.links] == ["https://example.com/a"]
    with pytest.raises(UnknownFormat):
        detect_format("doc", b"<!-- generated -->\n<?xml version='1.0'?><catalog/>")


def test_a_long_page_is_searched_whole():
    data = "".join(f"Item {n}: https://example.com/item/{n}\n" for n in range(40_000)).encode()
    assert len(data) > 1_000_000
    (web,) = list(parse_bytes(data, source="long.txt"))
    assert len(web.links) == 40_000


def test_a_page_longer_than_the_limit_says_so(monkeypatch):
    import archiver.extract.links
    import archiver.sources.page

    monkeypatch.setattr(archiver.extract.links, "MAX_TEXT_LENGTH", 1000)
    monkeypatch.setattr(archiver.sources.page, "MAX_TEXT_LENGTH", 1000)
    posts, error = read_all("".join(f"https://example.com/{n}\n" for n in range(200)).encode(), "long.txt")
    assert len(posts) == 1 and 0 < len(posts[0].links) < 200
    assert error is not None and "only the first 1,000 were searched" in str(error)


def test_deeply_nested_html_is_read_in_linear_time_and_keeps_its_text():
    from conftest import best_time

    def page(depth):
        return ("<html><body>" + "<div>" * depth + "deep https://example.com/x" + "</div>" * depth).encode()

    def read(data):
        return list(parse_bytes(data, source="deep.html"))

    (web,) = read(page(5000))
    assert [link.url for link in web.links] == ["https://example.com/x"]
    small, large = best_time(read, page(20_000), rounds=1), best_time(read, page(80_000), rounds=1)
    assert large < 8 * small + 0.05, (small, large)  # the parser alone grows with the square


def test_tags_in_scripts_and_comments_do_not_count_as_nesting():
    from archiver.extract.nesting import MAX_DEPTH, cap_nesting

    noise = (
        "<script>" + "var t = '<div>';" * (MAX_DEPTH * 4) + "</script><!--" + "<div>" * MAX_DEPTH * 2 + "-->"
    )
    html = (
        noise
        + '<blockquote class="twitter-tweet"><p>Hi https://t.co/AbCdEfGhIj</p>'
        + "&mdash; A (@a) May 1, 2024</blockquote>"
    )
    assert cap_nesting(html) == html
    (post,) = [p for p in parse_bytes(html.encode(), source="p.html") if p.platform == "twitter"]
    assert post.author_handle == "a"
