"""Finding links, hashtags and mentions in the text of a post, by Twitter's rules.

The rules are twitter-text's (the library behind Twitter's own linking, whose
``conformance/extract.yml`` is the reference; ``bench/conformance.py`` measures archiver
against it).  They are written here as scans that look at each character a bounded
number of times, because twitter-text's own regular expressions backtrack: its Python
port takes 98 s on the 8 KB text ``a.a.a.…``, and post text is written by strangers.

Where archiver departs from twitter-text, it does so on purpose (see the README's
"Design notes"): text copied from a rendered page (``glued=True``) has lost the space
between a word and a link (``#Bloggershttps://t.co/x``); a scheme URL on an IP address
is kept so that the address guard can record it as ``blocked``; a handle longer than
twenty characters is not cut to twenty.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ..domains import is_top_level_domain
from ..models import FoundBy, FoundLink, Platform
from ..urls import hostname, normalise_url
from .unicode_marks import MARKS
from .unicode_marks import UNICODE_VERSION as MARKS_UNICODE_VERSION

__all__ = ["MAX_TEXT_LENGTH", "TextParts", "extract_links", "extract_text_parts", "is_truncated"]

# Only this much of one text is searched (the scans are linear, so it can be generous:
# a 16 MB page's own text is searched whole); a source whose text is longer says so.
MAX_TEXT_LENGTH = 16 * 1024 * 1024

# twitter-text's character groups (regexp/*.js).
_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b"
    "\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
_INVALID = "\ufffe\ufeff\uffff"
_SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# ASCII punctuation other than the three that may sit inside a host: . - _
_HOST_PUNCT = r"!'#%&()*+,/:;<=>?@\[\]^{|}~$\\\"`"

# A host: characters that are not punctuation, space, invalid or a direction mark.
_HOST_RUN = re.compile(rf"[^{_HOST_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]+")
_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# Not Twitter's rule: kept so that the address guard records such links as blocked.
_IP_HOST = re.compile(r"(?:(?:\d{1,3}\.){3}\d{1,3}(?![\w.-])|\[[0-9A-Fa-f:.]+\])(?!@)")
_PORT = re.compile(r":[0-9]{1,5}(?![0-9])")
# A host without a scheme: ASCII (and Latin accented) labels joined by dots, never
# started inside a longer run of the same characters.
# The last label may be an IDN top-level domain (``twitter.みんな``).
_ASCII_LABEL = rf"[-a-z0-9{_LATIN_ACCENTS}]"
_IDN_LABEL = rf"[^\x00-\x7f{_SPACES}{_INVALID}{_DIRECTIONAL}\u3001-\u3003\uff01-\uff0f\uff1a-\uff20]"
_BARE_HOST = re.compile(
    rf"(?<!{_ASCII_LABEL}){_ASCII_LABEL}++(?:(?:\.{_ASCII_LABEL}++)++(?:\.{_IDN_LABEL}++)?|\.{_IDN_LABEL}++)",
    re.IGNORECASE,
)

# A path: its characters and balanced parentheses (one level nested), then cut back to
# the last character a path may end with.
_PATH_GENERAL = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"
_BALANCED_PARENS = rf"\((?:{_PATH_GENERAL}++|{_PATH_GENERAL}*+\({_PATH_GENERAL}++\){_PATH_GENERAL}*+)\)"
_PATH_RUN = re.compile(rf"(?:{_PATH_GENERAL}++|{_BALANCED_PARENS})*+", re.IGNORECASE)
_PATH_ENDING = re.compile(rf"[a-z{_CYRILLIC}0-9+\-=_#/){_LATIN_ACCENTS}]", re.IGNORECASE)
_QUERY_RUN = re.compile(r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*+", re.IGNORECASE)
_QUERY_ENDING = re.compile(r"[a-z0-9\-_&=#/]", re.IGNORECASE)
_TCO = re.compile(r"https?://t\.co/([a-z0-9]+)", re.IGNORECASE)
_MAX_TCO_SLUG = 40

# A character that may not follow a top-level domain (twitter-text's lookahead).
_NOT_AFTER_TLD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@+-")
_LONGEST_TLD = 24
# Characters that may not come right before a link.
_NOT_BEFORE_URL = frozenset("@\uff20$#\uff03" + "\ufffe\ufeff\uffff")
_NOT_BEFORE_BARE_URL = frozenset("-_./")

_ELLIPSES = ("\u2026", "...")
# How much of the text after a link is looked at to tell whether an ellipsis cut it.
_FOLLOWING = 80
# Every t.co code since 2011 has this many characters, the most t.co ever issued: a code
# of this length followed by an ellipsis is whole, the ellipsis is the post's own.
_TCO_CODE_LENGTH = 10

_AT_SIGNS = "@\uff20"
_MENTION = re.compile(r"[@\uff20]([A-Za-z0-9_]{1,20})(/[A-Za-z][A-Za-z0-9_-]{0,24})?")
_NOT_BEFORE_MENTION = frozenset("!#$%&*@\uff20_")
# A Bluesky handle is a domain name (``@alice.bsky.social``, ``@p4bl0.net``).
_BLUESKY_MENTION = re.compile(
    r"[@\uff20]((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)"
    r"(?![a-z0-9-]|\.[a-z0-9])",
    re.IGNORECASE,
)
# A Mastodon mention is ``@user`` on the post's own server or ``@user@server`` (Mastodon's
# own pattern: app/models/account.rb, MENTION_RE).
_MASTODON_MENTION = re.compile(
    r"[@\uff20]([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?(?:@[\w.-]+\w+)?)(?![\w@])", re.IGNORECASE
)
_NOT_BEFORE_RT = frozenset("+~.-_")
_LATIN_ACCENT_SET = re.compile(rf"[{_LATIN_ACCENTS}]")

# Characters twitter-text allows inside a hashtag besides letters, marks and digits.
_HASHTAG_SPECIALS = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
# Marks end far below this code point, but for plane 14's variation selectors.
_LAST_MARK = 0x32400


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class TextParts:
    """Links, hashtags and mentions found in one piece of text."""

    links: tuple[FoundLink, ...]
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]


def extract_text_parts(text: str, *, glued: bool = False, platform: str | None = None) -> TextParts:
    """Return the links, hashtags and mentions of a post's plain text.

    ``glued`` reads text copied from a rendered page, which has lost its line breaks: a
    link may follow a word with no space (``#Bloggershttps://t.co/x`` is the hashtag
    ``Bloggers`` and a link) and a hashtag may follow a word (``Review#News``).

    The post's ``platform`` decides what a mention is: a Bluesky handle is a domain
    name (``@alice.bsky.social``), a Mastodon one may name its server
    (``@alice@example.social``); elsewhere Twitter's rule holds, which would cut both.
    """
    text = _clean(text[:MAX_TEXT_LENGTH])
    matches = _find_urls(text, glued=glued)
    links = tuple(_to_links(text, matches))
    if glued:
        masked = _mask(text, matches)
        hashtags = _find_hashtags(masked, glued=True)
        mentions = _find_mentions(masked, platform)
    else:
        taken = [(m.start, m.end) for m in matches]
        hashtags = _outside(_find_hashtags(text, glued=False), taken)
        mentions = _outside(_find_mentions(text, platform), taken)
    return TextParts(
        links=links,
        hashtags=_unique(tag for _, _, tag in hashtags),
        mentions=_unique(name for _, _, name in mentions),
    )


def extract_links(text: str, *, glued: bool = False) -> list[FoundLink]:
    """Return every link in plain text, in order, normalised; duplicates removed."""
    text = _clean(text[:MAX_TEXT_LENGTH])
    return list(_to_links(text, _find_urls(text, glued=glued)))


def is_truncated(url: str, following: str) -> bool:
    """Return True when a URL followed by ``following`` was shown cut off by an ellipsis.

    The ellipsis comes right after the URL (``https://example.com/an-arti…``), or after
    one space at the end of the text or line, as old retweets were cut at 140 characters
    (``http://t.co/aB3 ...``); ``http://bit.ly/x ... and more`` is a whole link.  A t.co
    link with a whole modern code is never cut: no t.co code is longer.
    """
    if following.startswith(_ELLIPSES):
        pass
    elif following[:1] in (" ", "\u00a0") and following[1:].startswith(_ELLIPSES):
        after = following[1:].removeprefix("...").removeprefix("\u2026")
        if after.split("\n", 1)[0].strip() or ("\n" not in after and len(following) >= _FOLLOWING):
            return False
    else:
        return False
    if hostname(url) == "t.co":
        code = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return len(code) < _TCO_CODE_LENGTH
    return True


def _clean(text: str) -> str:
    # A lone surrogate (from JSON's "\ud800") or a NUL is no character a link, tag or
    # name can hold; a space keeps every other position where it was.
    if text.isascii() and "\x00" not in text:
        return text
    return "".join(" " if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)


# --- links -------------------------------------------------------------------------


def _find_urls(text: str, *, glued: bool) -> list[_Match]:
    """Return the links of a text, as twitter-text finds them: scheme URLs, then bare hosts."""
    found: list[_Match] = []
    taken_end = 0
    if "://" in text:
        for scheme in _SCHEME.finditer(text):
            start = scheme.start()
            if start < taken_end or not _may_start_url(text, start, glued=glued):
                continue
            end = _url_end(text, scheme.end())
            if end is None:
                continue
            end = _tco_end(text, start, end)
            if end is None:
                continue
            found.append(_Match(start, end, text[start:end]))
            taken_end = end
    if "." in text:
        found += _find_bare_urls(text, found)
    found.sort(key=lambda m: m.start)
    return found


def _may_start_url(text: str, start: int, *, glued: bool) -> bool:
    if start == 0:
        return True
    before = text[start - 1]
    if before in _NOT_BEFORE_URL:
        return False
    return glued or not before.isascii() or not before.isalnum()


def _url_end(text: str, host_start: int) -> int | None:
    """Return where a URL whose host starts at ``host_start`` ends, or None without a valid host."""
    ip = _IP_HOST.match(text, host_start)
    if ip is not None:
        end: int | None = ip.end()
    else:
        run = _HOST_RUN.match(text, host_start)
        end = _domain_end(text, host_start, run.end(), special_use=True) if run else None
    if end is None:
        return None
    return _after_host(text, end)


def _after_host(text: str, end: int) -> int:
    """Return where a URL ends whose host ends at ``end``: after its port, path and query."""
    port = _PORT.match(text, end)
    if port is not None:
        end = port.end()
    if text.startswith("/", end):
        end = _path_end(text, end)
    if text.startswith("?", end):
        end = _query_end(text, end)
    return end


def _domain_end(text: str, start: int, stop: int, *, special_use: bool = False) -> int | None:
    """Return where the domain of ``text[start:stop]`` ends (after its TLD), or None.

    The labels before the TLD must neither start nor end with ``-`` or ``_``, and the
    one right before it has no ``_``; as twitter-text, the rightmost TLD wins.
    """
    best = None
    labels_valid = True  # every label so far is a valid subdomain
    previous_is_name = False  # the label before this one may stand before a TLD
    position = start
    while position <= stop:
        dot = text.find(".", position, stop)
        label_end = stop if dot < 0 else dot
        label = text[position:label_end]
        if previous_is_name:
            tld_end = _tld_end(text, position, label_end, special_use=special_use)
            if tld_end is not None and tld_end < label_end:
                return tld_end  # "example.comだよ": text glued to a TLD ends the host
            if tld_end is not None:
                best = tld_end
        whole = bool(label) and label[0] not in "-_" and label[-1] not in "-_"
        previous_is_name = labels_valid and whole and "_" not in label
        labels_valid = labels_valid and whole
        if dot < 0 or not labels_valid:
            break
        position = label_end + 1
    return best


def _tld_end(text: str, start: int, stop: int, *, special_use: bool) -> int | None:
    """Return the end of the longest top-level domain at ``start`` that nothing ASCII follows."""
    label = text[start:stop]
    if label.isascii() and "_" not in label:
        # Letters, digits and hyphens: only the whole label can be followed by what a
        # TLD may be followed by.
        lowered = label.lower()
        whole = is_top_level_domain(lowered, special_use=special_use) or lowered.startswith("xn--")
        return stop if whole and (stop == len(text) or text[stop] not in _NOT_AFTER_TLD) else None
    for length in range(min(stop - start, _LONGEST_TLD), 1, -1):
        end = start + length
        if end < len(text) and text[end] in _NOT_AFTER_TLD:
            continue
        candidate = text[start:end].lower()
        if is_top_level_domain(candidate, special_use=special_use) or (
            candidate.startswith("xn--") and candidate.isascii()
        ):
            return end
    return None


def _path_end(text: str, start: int) -> int:
    """Return the end of the path that starts with the ``/`` at ``start``."""
    return _cut_back(text, start + 1, _run_end(_PATH_RUN, text, start + 1), _PATH_ENDING)


def _query_end(text: str, start: int) -> int:
    """Return the end of the query that starts with the ``?`` at ``start`` (``start``: none)."""
    end = _cut_back(text, start + 1, _run_end(_QUERY_RUN, text, start + 1), _QUERY_ENDING)
    return end if end > start + 1 else start


def _run_end(run: re.Pattern[str], text: str, start: int) -> int:
    match = run.match(text, start)
    return match.end() if match else start


def _cut_back(text: str, start: int, end: int, ending: re.Pattern[str]) -> int:
    """Return the end of ``text[start:end]`` cut back to its last character in ``ending``."""
    while end > start and ending.match(text, end - 1) is None:
        end -= 1
    return end


def _tco_end(text: str, start: int, end: int) -> int | None:
    """Return where a t.co link ends: after its code (and a query), never its trailing text."""
    tco = _TCO.match(text, start, end)
    if tco is None:
        return end
    if len(tco.group(1)) > _MAX_TCO_SLUG:
        return None
    if text.startswith("?", tco.end()):
        return min(end, _query_end(text, tco.end()))
    return tco.end()


def _find_bare_urls(text: str, taken: list[_Match]) -> Iterable[_Match]:
    """Return the links written without a scheme (``example.com/path``) outside ``taken``."""
    spans = [(m.start, m.end) for m in taken]
    index = 0
    for host in _BARE_HOST.finditer(text):
        start = host.start()
        while index < len(spans) and spans[index][1] <= start:
            index += 1
        if index < len(spans) and spans[index][0] <= start:
            continue
        if start > 0 and _bad_before_bare(text[start - 1]):
            continue
        domain_end = _domain_end(text, start, host.end())
        if domain_end is None:
            continue
        end = _after_host(text, domain_end)
        yield _Match(start, end, text[start:end])


def _bad_before_bare(char: str) -> bool:
    return char in _NOT_BEFORE_URL or char in _NOT_BEFORE_BARE_URL or (char.isascii() and char.isalnum())


def _to_links(text: str, matches: list[_Match]) -> Iterable[FoundLink]:
    seen: set[str] = set()
    position = 0
    for match in matches:
        raw = match.text
        candidate = raw if "://" in raw else f"https://{raw}"
        url = normalise_url(candidate)
        if url is None or url in seen:
            continue
        seen.add(url)
        truncated = is_truncated(url, text[match.end : match.end + _FOLLOWING])
        yield FoundLink(url=url, display=raw, found_by=FoundBy.TEXT, position=position, truncated=truncated)
        position += 1


# --- hashtags and mentions -----------------------------------------------------------


@functools.cache
def _hashtag_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Return the patterns of a hashtag's characters, its letters and what may not precede it.

    Letters and digits of every script (``\\w``), the combining marks that Thai vowels,
    Devanagari signs and Hebrew niqqud are (which ``\\w`` leaves out), and twitter-text's
    joiners.
    """
    marks = MARKS if unicodedata.unidata_version == MARKS_UNICODE_VERSION else _marks()
    joined = f"{marks}{re.escape(_HASHTAG_SPECIALS)}"
    body = re.compile(rf"(?:\w|[{joined}])++")
    letter = re.compile(rf"[^\W\d_]|[{marks}]")
    boundary = re.compile(rf"[\w&{joined}]")
    return body, letter, boundary


def _marks() -> str:
    """Return the combining marks of this Python's Unicode database as a character class body."""
    found = [
        chr(c)
        for c in (*range(_LAST_MARK), *range(0xE0000, 0xE1000))
        if unicodedata.category(chr(c))[0] == "M"
    ]
    return "".join(re.escape(c) for c in found)


def _find_hashtags(text: str, *, glued: bool) -> list[tuple[int, int, str]]:
    if "#" not in text and "\uff03" not in text:
        return []
    body, letter, boundary = _hashtag_patterns()
    found = []
    for sign in re.finditer("[#\uff03]", text):
        start = sign.start()
        if (
            not glued
            and start > 0
            and text[start - 1] not in "\ufe0e\ufe0f"
            and boundary.match(text[start - 1])
        ):
            continue
        if text.startswith(("\ufe0f", "\u20e3"), start + 1):
            continue
        tag = body.match(text, start + 1)
        if tag is None or letter.search(tag.group()) is None:
            continue
        after = text[tag.end() : tag.end() + 3]
        if after == "://" or (not glued and after[:1] in ("#", "\uff03")):
            continue
        if _cut_off(text, tag.end()):
            continue  # "#electi…" at the end of a cut retweet: a part of a hashtag, not one
        found.append((start, tag.end(), tag.group()))
    return found


def _cut_off(text: str, end: int) -> bool:
    """Return True when an ellipsis right after ``end`` ends the text: the text was cut there."""
    for ellipsis in _ELLIPSES:
        if text.startswith(ellipsis, end):
            return not text[end + len(ellipsis) :].strip()
    return False


def _find_mentions(text: str, platform: str | None = None) -> list[tuple[int, int, str]]:
    if "@" not in text and "\uff20" not in text:
        return []
    if platform in (Platform.BLUESKY, Platform.MASTODON):
        pattern = _BLUESKY_MENTION if platform == Platform.BLUESKY else _MASTODON_MENTION
        return [
            (match.start(), match.end(), match.group(1).lower())
            for match in pattern.finditer(text)
            if _may_start_mention(text, match.start())
        ]
    found = []
    for match in _MENTION.finditer(text):
        start, end = match.start(), match.end()
        if not _may_start_mention(text, start):
            continue
        after = text[end : end + 3]
        if after[:1] and after[:1] in _AT_SIGNS or after == "://" or _LATIN_ACCENT_SET.match(after[:1]):
            continue
        if match.group(2) is None and after[:1].isascii() and (after[:1].isalnum() or after[:1] == "_"):
            continue  # a handle longer than Twitter's twenty characters: not cut to twenty
        found.append((start, end, match.group(1)))
    return found


def _may_start_mention(text: str, start: int) -> bool:
    """Return True when an @ at ``start`` may begin a mention (``.@a``, ``RT@a`` and ``の@a`` may)."""
    if start == 0:
        return True
    before = text[start - 1]
    if not (before.isascii() and before.isalnum()) and before not in _NOT_BEFORE_MENTION:
        return True
    # "RT@user" and "RT:@user": a retweet's prefix glued to the handle.
    prefix_end = start - 1 if before == ":" else start
    if text[max(0, prefix_end - 2) : prefix_end].lower() != "rt":
        return False
    if prefix_end - 2 == 0:
        return True
    preceding = text[prefix_end - 3]
    return not (preceding.isascii() and preceding.isalnum()) and preceding not in _NOT_BEFORE_RT


def _outside(found: list[tuple[int, int, str]], taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    if not taken:
        return found
    return [f for f in found if not any(s < f[1] and f[0] < e for s, e in taken)]


def _mask(text: str, matches: list[_Match]) -> str:
    if not matches:
        return text
    parts = []
    position = 0
    for match in matches:
        parts += [text[position : match.start], " " * (match.end - match.start)]
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
