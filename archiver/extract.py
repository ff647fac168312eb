"""Finding links, hashtags and mentions in the text of a post."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .domains import registered_domain
from .models import FoundLink
from .urls import hostname, normalise_url

__all__ = ["TextParts", "extract_links", "extract_text_parts", "is_truncated"]

# Only this much of a field is searched: the patterns are linear, but a multi-megabyte
# "post" is an accident and would only produce noise.
MAX_TEXT_LENGTH = 100_000

# Characters that end a URL in running text: white space (zero-width ones included),
# quotes and brackets that never occur unescaped in URLs, and the typographic
# punctuation tweets glue to links (an ellipsis, dashes, guillemets).
_STOP = r"\s\u200b-\u200d\u2060\ufeff<>\"'`{}|\\^\u2026\u2013\u2014\u00ab\u00bb\u201c\u201d\u2018\u2019\u3000"

# A URL with a scheme is taken wherever it starts, even glued to a word before it
# ("#Bloggershttps://t.co/..."), which is how copied tweets lose their spaces.
_SCHEME_URL = re.compile(rf"https?://[^{_STOP}]+", re.IGNORECASE)

# A URL without a scheme needs a path or a leading "www." so that prose such as
# "U.S." or "Node.js" is never taken for a link; the host's TLD is checked below.
_BARE_URL = re.compile(
    rf"(?<![\w@#$/.:-])((?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,24}})"
    rf"(/[^{_STOP}]*)?",
    re.IGNORECASE,
)

_TRAILING_PUNCTUATION = ".,:;!?-"
_ELLIPSES = ("\u2026", "...")

# t.co codes have been 10 characters long since 2011; a shorter code followed by an
# ellipsis was cut off, and requesting it would record someone else's link.
_TCO_CODE_LENGTH = 10

_HASHTAG = re.compile(r"(?<![&\w/])#(\w*[^\W\d_]\w*)")
_HASHTAG_GLUED = re.compile(r"#(\w*[^\W\d_]\w*)")
_MENTION = re.compile(r"(?<![\w.@])@(\w{1,50})(?![\w@])")


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


def extract_text_parts(text: str, *, glued_hashtags: bool = True) -> TextParts:
    """Return the links, hashtags and mentions of a post's plain text.

    Hashtags and mentions are looked for only outside the links, so the hashtag of
    ``#Bloggershttps://t.co/x`` is ``Bloggers``.  ``glued_hashtags`` also accepts a
    hashtag glued to the word before it (``Review#News``), as text copied from a
    rendered tweet loses its line breaks.
    """
    text = text[:MAX_TEXT_LENGTH]
    matches = list(_find_urls(text))
    links = tuple(_to_links(text, matches))
    masked = _mask(text, matches)
    hashtag_pattern = _HASHTAG_GLUED if glued_hashtags else _HASHTAG
    return TextParts(
        links=links,
        hashtags=_unique(m.group(1) for m in hashtag_pattern.finditer(masked)),
        mentions=_unique(m.group(1) for m in _MENTION.finditer(masked)),
    )


def extract_links(text: str) -> list[FoundLink]:
    """Return every link in plain text, in order, normalised; duplicates removed."""
    text = text[:MAX_TEXT_LENGTH]
    return list(_to_links(text, list(_find_urls(text))))


def is_truncated(url: str, following: str) -> bool:
    """Return True when a URL followed by ``following`` was cut short by an ellipsis."""
    if not following.startswith(_ELLIPSES):
        return False
    if hostname(url) == "t.co":
        code = url.rstrip("/").rsplit("/", 1)[-1]
        return len(code) < _TCO_CODE_LENGTH
    return False


def _find_urls(text: str) -> Iterable[_Match]:
    taken: list[tuple[int, int]] = []
    for m in _SCHEME_URL.finditer(text):
        end = m.start() + len(_trim(m.group(0)))
        if end - m.start() > len("https://"):
            taken.append((m.start(), end))
            yield _Match(m.start(), end, text[m.start() : end])
    for m in _BARE_URL.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        host, path = m.group(1), m.group(2)
        if not path and not host.lower().startswith("www."):
            continue
        if not _has_known_suffix(host):
            continue
        raw = _trim(m.group(0))
        if "/" not in raw and not host.lower().startswith("www."):
            continue
        yield _Match(m.start(), m.start() + len(raw), raw)


def _to_links(text: str, matches: list[_Match]) -> Iterable[FoundLink]:
    seen: set[str] = set()
    position = 0
    for match in sorted(matches, key=lambda m: m.start):
        raw = match.text
        candidate = raw if "://" in raw else f"https://{raw}"
        url = normalise_url(candidate)
        if url is None or url in seen:
            continue
        seen.add(url)
        truncated = is_truncated(url, text[match.end : match.end + 3])
        yield FoundLink(url=url, display=raw, found_by="text", position=position, truncated=truncated)
        position += 1


def _trim(candidate: str) -> str:
    """Strip trailing punctuation and an unbalanced closing bracket from a URL match."""
    while candidate:
        for ellipsis in _ELLIPSES:
            if candidate.endswith(ellipsis):
                candidate = candidate[: -len(ellipsis)]
        if not _ends_badly(candidate):
            break
        candidate = candidate[:-1]
    return candidate


def _ends_badly(candidate: str) -> bool:
    last = candidate[-1:]
    if not last:
        return False
    if last in _TRAILING_PUNCTUATION:
        return True
    for opening, closing in ("()", "[]"):
        if last == closing and candidate.count(opening) < candidate.count(closing):
            return True
    return False


def _has_known_suffix(host: str) -> bool:
    return registered_domain(host) is not None


def _mask(text: str, matches: list[_Match]) -> str:
    chars = list(text)
    for match in matches:
        for i in range(match.start, match.end):
            chars[i] = " "
    return "".join(chars)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
