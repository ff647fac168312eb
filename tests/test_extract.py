"""Finding links, hashtags and mentions in text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.domains import registered_domain
from archiver.extract import extract_links, extract_text_parts
from archiver.urls import normalise_url


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("#Bloggershttps://t.co/O0SIgLVWzM…", ["https://t.co/O0SIgLVWzM"]),
        ("photo pic.twitter.com/sIB8co04qA— Name", ["https://pic.twitter.com/sIB8co04qA"]),
        (
            "(see https://en.wikipedia.org/wiki/Primer_(film)).",
            ["https://en.wikipedia.org/wiki/Primer_(film)"],
        ),
        ("end http://example.com/path.......... and", ["http://example.com/path"]),
        ("visit podcastchoices.com/adchoices today", ["https://podcastchoices.com/adchoices"]),
        ("U.S. officials, Node.js and e.g. nothing", []),
        ("mail me at someone@example.com/x", []),
        ("http://169.254.169.254/latest", ["http://169.254.169.254/latest"]),
        ("HTTPS://Example.COM:443/A?b=1#c", ["https://example.com/A?b=1#c"]),
        ("https://user:secret@example.com/x", ["https://user@example.com/x"]),
        ("javascript:alert(1) ftp://example.com/x", []),
        ("zero\u200bwidth https://t.co/abc\u200bdef", ["https://t.co/abc"]),
    ],
)
def test_links_in_text(text, urls):
    assert [link.url for link in extract_links(text)] == urls


def test_hashtags_and_mentions_skip_links_and_emails():
    parts = extract_text_parts("Read#One #Two https://x.com/#notatag via @YouTube, mail a@b.com #2024")
    assert parts.hashtags == ("One", "Two")
    assert parts.mentions == ("YouTube",)


def test_truncated_tco_links_are_flagged_but_full_ones_are_not():
    links = extract_links("https://t.co/abc1… and https://t.co/O0SIgLVWzM…")
    assert [(link.url, link.truncated) for link in links] == [
        ("https://t.co/abc1", True),
        ("https://t.co/O0SIgLVWzM", False),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("htps:/.wexamplco#@…— ()[]\u200b0123456789") + ["https://", "t.co/", ".com/"]),
        max_size=60,
    ).map("".join)
)
def test_every_extracted_link_was_written_in_the_text(text):
    for link in extract_links(text):
        assert link.display in text
        assert normalise_url(link.url) == link.url  # normalising is idempotent


@given(st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){1,3}", fullmatch=True))
def test_registered_domain_is_a_suffix_of_the_host(host):
    domain = registered_domain(host)
    assert domain is None or host.endswith(domain)


def test_registered_domain_examples():
    assert registered_domain("forums.news.bbc.co.uk") == "bbc.co.uk"
    assert registered_domain("WWW.Example.COM.") == "example.com"
    assert registered_domain("127.0.0.1") is None
    assert registered_domain("[::1]") is None
    assert registered_domain("foo.blogspot.com") == "blogspot.com"


@settings(max_examples=500, deadline=None)
@given(
    st.from_regex(
        r"(?i)(https?|ftp)://([a-z0-9_-]{1,8}\.){0,3}[a-z0-9_-]{1,8}\.?(:\d{1,6})?(/[a-zA-Z0-9._~%!$&'()*+,;=:@/-]{0,20})?(\?[a-z=&]{0,8})?(#[a-z]{0,5})?",
        fullmatch=True,
    )
)
def test_the_fast_path_agrees_with_the_full_normalisation(url):
    from archiver.urls import _normalise_split

    assert normalise_url(url) == _normalise_split(url.strip())


@given(
    st.from_regex(
        r"(?i)https?://([a-z0-9_-]{1,8}\.){0,3}[a-z0-9_-]{1,8}(:\d{1,5})?(/[a-z0-9/._-]{0,12})?(\?[a-z=]{0,5})?",
        fullmatch=True,
    )
)
def test_hostname_fast_path_agrees_with_urlsplit(url):
    from urllib.parse import urlsplit

    from archiver.urls import hostname

    assert hostname(url) == (urlsplit(url).hostname or "").lower()
