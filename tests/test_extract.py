"""Finding links, hashtags and mentions in text."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archiver.domains import registered_domain
from archiver.extract import extract_links, extract_text_parts
from archiver.urls import normalise_url


@pytest.mark.parametrize(
    ("text", "urls"),
    [
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
        ("http://[::1]:8080/admin", ["http://[::1]:8080/admin"]),
        ("HTTPS://Example.COM:443/A?b=1#c", ["https://example.com/A?b=1#c"]),
        # User-info is not part of a link by Twitter's rules (and hides the real host).
        ("https://user:secret@example.com/x http://[::1]@evil.example/", []),
        ("javascript:alert(1) ftp://example.com/x", []),
        ("zero\u200bwidth https://t.co/abc\u200bdef", ["https://t.co/abc"]),
    ],
)
def test_links_in_text(text, urls):
    assert [link.url for link in extract_links(text)] == urls


@pytest.mark.parametrize(
    ("text", "display"),
    [
        # Where a link ends: before CJK text, full-width punctuation, a separator bar,
        # direction marks, a ")" it did not open, a Markdown wrapper.
        ("記事はhttps://example.org/a/b日本語です", ["https://example.org/a/b"]),
        ("見てhttps://example.org/page！すごい", ["https://example.org/page"]),
        ("ここexample.org/path。次", ["example.org/path"]),
        ("News https://example.org/story| Site", ["https://example.org/story"]),
        ("\u202bhttps://example.org/x\u202c\u2069 done", ["https://example.org/x"]),
        ("(read https://example.org/a)", ["https://example.org/a"]),
        ("[the report](https://example.org/r/1) and more", ["https://example.org/r/1"]),
        # ... and what it keeps.
        (
            "https://example.org/wiki/Smith\u2013Jones_affair is long",
            ["https://example.org/wiki/Smith\u2013Jones_affair"],
        ),
        ("https://example.org/watch?v=abc&list=XYZ- now", ["https://example.org/watch?v=abc&list=XYZ-"]),
        ("https://example.org/q?a=1;b=X|1||Y|2 end", ["https://example.org/q?a=1;b=X|1||Y|2"]),
        (
            "see https://example.org/a+ or https://example.org/b-",
            ["https://example.org/a+", "https://example.org/b-"],
        ),
        # t.co links end with their code.
        (
            "https://t.co/AbCdEfGhIj's https://t.co/ZyXwVuTsRq+x",
            ["https://t.co/AbCdEfGhIj", "https://t.co/ZyXwVuTsRq"],
        ),
        ("https://t.co/" + "a" * 41, []),
    ],
)
def test_where_links_end(text, display):
    assert [link.display for link in extract_links(text)] == display


@pytest.mark.parametrize(
    ("text", "display"),
    [
        # A host needs a real top-level domain, with a scheme or without.
        ("http://intranet https://t/ http://bit/ http://host.x http://host.notatld", []),
        ("http://host.com-and-more http://-lead.example.com http://trail_.example.com", []),
        ("http://under_score.com http://example.c_o_m", []),
        (
            "example.org, shop.co.jp and www.example.co.uk; not file.notatld",
            ["example.org", "shop.co.jp", "www.example.co.uk"],
        ),
        ("Go to MLB.tv or twitch.tv", ["MLB.tv", "twitch.tv"]),
        ("Une page de CAFÉ.com ici", ["CAFÉ.com"]),
        # Internationalised hosts and top-level domains.
        ("http://☃.net/snow", ["http://☃.net/snow"]),
        ("http://ドメイン.テスト.みんな/ok", ["http://ドメイン.テスト.みんな/ok"]),
        ("shop.みんなで", ["shop.みんな"]),
        # Reserved names are links after a scheme (they fail as written), file names without.
        (
            "http://mirror.onion/a http://host.invalid/b notes.test archive.tar.bz2",
            ["http://mirror.onion/a", "http://host.invalid/b"],
        ),
        # Never inside a hashtag, a mention or a cashtag; never glued to a word.
        ("#example.com @example.com $example.com #https://example.com", []),
        ("wordhttps://example.com/x", []),
    ],
)
def test_what_is_a_host(text, display):
    assert [link.display for link in extract_links(text)] == display


def test_glued_page_text_splits_links_from_words():
    parts = extract_text_parts("Review#News #Diplomacy#Summit #Bloggershttps://t.co/O0SIgLVWzM…", glued=True)
    assert [link.url for link in parts.links] == ["https://t.co/O0SIgLVWzM"]
    assert parts.hashtags == ("News", "Diplomacy", "Summit", "Bloggers")
    # The same text by Twitter's rules: a hashtag glued to "https" is neither.
    strict = extract_text_parts("Review#News #Bloggershttps://t.co/O0SIgLVWzM…")
    assert (strict.links, strict.hashtags) == ((), ())


@pytest.mark.parametrize(
    ("text", "hashtags"),
    [
        ("#हिन्दी #भारत_२०२४ #२०२४", ["हिन्दी", "भारत_२०२४"]),
        ("#ภาษาไทย #สวัสดี", ["ภาษาไทย", "สวัสดี"]),
        ("#שָׁלוֹם #צה״ל", ["שָׁלוֹם", "צה״ל"]),
        ("#نمی\u200cدانم", ["نمی\u200cدانم"]),
        ("#時々 #ア〜イ #カ～キ #ゝゞ", ["時々", "ア〜イ", "カ～キ", "ゝゞ"]),
        ("テスト！＃全角タグ。", ["全角タグ"]),
        ("#cat·la", ["cat·la"]),
        ("abc#tag 1#tag &#tag #2024 #_ #️⃣", []),
        ("#one#two #three", ["three"]),
    ],
)
def test_hashtags_in_every_script(text, hashtags):
    assert list(extract_text_parts(text).hashtags) == hashtags


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        (".@first RT@second RT:@third rt @fourth", ["first", "second", "third", "fourth"]),
        ("返信の@nihon ＠zenkaku", ["nihon", "zenkaku"]),
        ("@josé @ok", ["ok"]),
        ("mail me@example.com or @a@example.com", []),
        ("x!@a y#@b z$@c ART@d", []),
        ("@" + "a" * 21 + " @" + "b" * 20, ["b" * 20]),
        ("@someone/a-list", ["someone"]),
    ],
)
def test_mentions(text, mentions):
    assert list(extract_text_parts(text).mentions) == mentions


def test_hashtags_and_mentions_skip_links_and_emails():
    parts = extract_text_parts("Read #One #Two https://x.com/#notatag via @YouTube, mail a@b.com #2024")
    assert parts.hashtags == ("One", "Two")
    assert parts.mentions == ("YouTube",)


@pytest.mark.parametrize(
    "text",
    [
        "old retweet http://t.co/aB3 ...",
        "old retweet http://t.co/aB3xYz…",
        "https://www.example.com/2024/05/an-arti\u2026",
        "https://www.example.com/2024/05/an-arti...",
        "shared example.com/2024/05/an-arti \u2026",
        "RT @someone: long text http://example.com/a/b ...\nnext line",
    ],
)
def test_links_shown_cut_off_are_flagged(text):
    (link,) = extract_links(text)
    assert link.truncated


def test_whole_links_before_an_ellipsis_are_not_flagged():
    links = extract_links(
        "https://t.co/O0SIgLVWzM… and https://example.com/whole and more… http://bit.ly/abc ... (it works)"
    )
    assert [(link.url, link.truncated) for link in links] == [
        ("https://t.co/O0SIgLVWzM", False),
        ("https://example.com/whole", False),
        ("http://bit.ly/abc", False),
    ]


_CJK = (
    st.characters(min_codepoint=0x3041, max_codepoint=0x30FA)
    | st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
    | st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
)


@settings(max_examples=300, deadline=None)
@given(
    url=st.from_regex(
        r"https?://[a-z]{1,10}\.(com|org|jp|co\.uk)(/[a-z0-9_/-]{0,12}[a-z0-9])?", fullmatch=True
    ),
    cjk=_CJK,
    rest=st.text(max_size=10),
)
def test_a_link_ends_before_any_cjk_character(url, cjk, rest):
    links = extract_links(f"前{url}{cjk}{rest}")
    assert links[0].display == url


def test_the_scans_are_linear():
    from conftest import best_time

    hostile = [
        "a." * 4000,
        "http://" + "a." * 4000,
        "a-" * 4000 + ".com",
        "#" + "1" * 8000,
        "@" * 8000,
        "http://example.com/" + "(a" * 4000,
        "http://example.com/?" + "!" * 8000,
        "x" * 8000,
    ]

    for text in hostile:
        small, large = best_time(extract_text_parts, text), best_time(extract_text_parts, text * 4)
        # Linear work grows 4 times with the text; quadratic work 16 times.
        assert large < 8 * small + 0.005, (text[:20], small, large)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("htps:/.wexamplco#@…— ()[]\u200b0123456789") + ["https://", "t.co/", ".com/"]),
        max_size=60,
    ).map("".join)
)
@example("https://…t.co/")  # IDNA 2003 maps the ellipsis to "...": no host
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


def test_the_written_out_marks_are_this_pythons_marks():
    import re
    import unicodedata

    from archiver.extract.links import _marks
    from archiver.extract.unicode_marks import MARKS, UNICODE_VERSION

    if unicodedata.unidata_version != UNICODE_VERSION:
        pytest.skip(f"Unicode {unicodedata.unidata_version}: archiver computes the marks itself")
    written = re.compile(f"[{MARKS}]")
    computed = re.compile(f"[{_marks()}]")
    for code in [*range(0x32400), *range(0xE0000, 0xE1000)]:
        char = chr(code)
        assert (
            bool(written.match(char)) == bool(computed.match(char)) == (unicodedata.category(char)[0] == "M")
        )


@pytest.mark.parametrize(
    "url", ["http://[::1]@evil.com/", "https://[::1]@evil.com/x", "http://a[b@evil.com/", "http://[bad"]
)
def test_a_url_whose_user_info_hides_its_host_is_no_url(url):
    from archiver.urls import hostname

    assert normalise_url(url) is None
    assert extract_links(f"see {url} now") == []
    assert hostname(url) in ("", "evil.com")  # never an exception


@pytest.mark.parametrize("url", ["http://xn--zz.example.com/", "https://xn--a.com/x"])
def test_a_host_whose_punycode_does_not_decode_is_no_url(url):
    assert normalise_url(url) is None
    assert normalise_url("http://xn--wgv71a119e.jp/a") == "http://xn--wgv71a119e.jp/a"


def test_user_info_in_every_kind_of_source_is_dropped_not_fatal():
    from archiver.sources import parse_bytes

    feed = (
        b'<rss version="2.0"><channel><title>B</title><item><guid>1</guid>'
        b"<description>&lt;a href='http://[::1]@evil.com/'&gt;x&lt;/a&gt; "
        b"&lt;a href='https://ok.example/'&gt;y&lt;/a&gt;</description></item></channel></rss>"
    )
    (post,) = parse_bytes(feed, source="feed.xml")
    assert [link.url for link in post.links] == ["https://ok.example/"]
    tweets = (
        b'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1", "full_text": "x https://t.co/AbCdEfGhIj",'
        b' "entities": {"urls": [{"url": "https://t.co/AbCdEfGhIj", "expanded_url": "http://[::1]@evil.com/"}]}}}]'
    )
    (tweet,) = parse_bytes(tweets, source="tweets.js")
    assert [(link.url, link.expanded_url) for link in tweet.links] == [("https://t.co/AbCdEfGhIj", None)]
