"""Twitter/X archive exports: ``data/tweets.js`` (or ``tweet.js``, ``tweets-part1.js``…).

Each file is ``window.YTD.tweets.part0 = [...]``.  Links come from the tweet's
entities, which keep the t.co URL, what the tweet displayed, and the expansion
Twitter recorded (``expanded_url``, or ``unwound_url`` when present); text matching
only adds what the entities lack.  The author comes from ``data/account.js``.

The archive Twitter gave before 2018 ("Grailbird") has one file a month,
``data/js/tweets/2013_01.js`` holding ``Grailbird.data.tweets_2013_01 = [...]``, and the
account in ``data/js/user_details.js``; its tweets carry the same fields, a retweet the
whole original in ``retweeted_status``.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..extract import extract_links, merge_links
from ..jsontext import load_json
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import normalise_url
from . import source, streamer
from .archives import Archive, archive_format, member_name
from .compressed import open_binary
from .jsontools import Readable, iter_json_array
from .records import each_record, mapping_of
from .timestamps import utc_timestamp

__all__ = ["entity_link", "parse_twitter_archive", "parse_tweets_file"]

_WRAPPER = re.compile(r"^\s*window\.YTD\.(?P<kind>[\w.]+?)\.part\d+\s*=\s*")
_TWEET_FILE = re.compile(r"^(tweets?|tweets-part\d+)\.js$")
_GRAILBIRD_WRAPPER = re.compile(r"^\s*Grailbird\.data\.tweets_\d{4}_\d{1,2}\s*=\s*")
_GRAILBIRD_FILE = re.compile(r"(?:^|/)js/tweets/\d{4}_\d{1,2}\.js$")
_USER_DETAILS = re.compile(r"^\s*var\s+user_details\s*=\s*")
_TWITTER_DATE = re.compile(
    r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{2}) (\d{2}:\d{2}:\d{2}) \+0000 (\d{4})", re.ASCII
)


def _is_tweets_file(name: str, head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith((b"window.YTD.tweet.", b"window.YTD.tweets.", b"Grailbird.data.tweets_"))


def _is_twitter_archive(names: list[str]) -> bool:
    return any(_TWEET_FILE.match(member_name(n)) or _GRAILBIRD_FILE.search(n) for n in names)


@source(SourceFormat.TWITTER_ARCHIVE, detect=_is_tweets_file)
def parse_tweets_file(data: bytes, *, source: str) -> Iterator[Post]:
    """A Twitter/X archive's tweets.js file (or the archive's folder, .zip), old or new."""
    if _GRAILBIRD_WRAPPER.match(data[:256].decode("utf-8-sig", errors="replace")):
        yield from _parse_grailbird_month(data, source=source, account={})
    else:
        yield from _parse_tweets(io.BytesIO(data), source=source, account={})


@streamer(SourceFormat.TWITTER_ARCHIVE)
def stream_tweets_file(path: str | Path, *, source: str) -> Iterator[Post]:
    """Read a tweets.js file of any size from its file, a tweet at a time."""
    with open_binary(path) as stream:
        head = stream.read(256)
        if _GRAILBIRD_WRAPPER.match(head.decode("utf-8-sig", errors="replace")):
            # An old archive's month of tweets: a small file.
            yield from _parse_grailbird_month(head + stream.read(), source=source, account={})
        else:
            yield from _parse_tweets(stream, source=source, account={}, head=head)


@archive_format(SourceFormat.TWITTER_ARCHIVE, detect=_is_twitter_archive)
def parse_twitter_archive(archive: Archive, source: str) -> Iterator[Post]:
    """Yield the tweets of every tweets file in an archive, with the account's name and handle."""
    names = archive.names()
    months = [n for n in names if _GRAILBIRD_FILE.search(n)]
    if months and not any(_TWEET_FILE.match(member_name(n)) for n in names):
        yield from _parse_grailbird(archive, source, names, months)
        return
    account: dict[str, Any] = {}
    for name in names:
        if member_name(name) == "account.js":
            account = _account(archive.read(name), source=f"{source}!{name}")
    tweet_files = [n for n in names if _TWEET_FILE.match(member_name(n))]
    if not tweet_files:
        raise ParseError(f"{source}: no tweets.js in this archive")
    for name in tweet_files:
        with archive.open(name) as stream:  # read as it is parsed: a 1 GB tweets.js never whole
            yield from _parse_tweets(stream, source=f"{source}!{name}", account=account)


def _parse_grailbird(archive: Archive, source: str, names: list[str], months: list[str]) -> Iterator[Post]:
    account: dict[str, Any] = {}
    details = next((n for n in names if n.endswith("js/user_details.js")), None)
    if details is not None:
        account = _user_details(archive.read(details))
    for name in months:
        yield from _parse_grailbird_month(archive.read(name), source=f"{source}!{name}", account=account)


def _user_details(data: bytes) -> dict[str, Any]:
    """Return the old archive's account as today's: ``username`` and ``accountDisplayName``."""
    text = data.decode("utf-8-sig", errors="replace")
    match = _USER_DETAILS.match(text)
    try:
        details = load_json(text[match.end() :] if match else text)
    except ValueError:
        return {}
    if not isinstance(details, dict):
        return {}
    return {"username": details.get("screen_name"), "accountDisplayName": details.get("full_name")}


def _parse_grailbird_month(data: bytes, *, source: str, account: dict[str, Any]) -> Iterator[Post]:
    data = data.removeprefix(b"\xef\xbb\xbf")
    match = _GRAILBIRD_WRAPPER.match(data[:256].decode("utf-8", errors="replace"))
    if match is None:
        raise ParseError(f"{source}: not a month of an old Twitter archive (no 'Grailbird.data' line)")

    def read(tweet: dict[str, Any]) -> Post | None:
        user = mapping_of(tweet.get("user"))
        handle = _text(user.get("screen_name")) or _text(account.get("username"))
        name = _text(user.get("name")) or _text(account.get("accountDisplayName"))
        return _tweet_post(tweet, source=source, handle=handle, name=name)

    tweets = iter_json_array(data, source=source, start=len(match.group(0).encode()))
    yield from each_record((t for t in tweets if isinstance(t, dict)), read, source=source)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _account(data: bytes, *, source: str) -> dict[str, Any]:
    match = _WRAPPER.match(data[:256].decode("utf-8-sig", errors="replace"))
    start = len(match.group(0).encode()) if match else 0
    try:
        for item in iter_json_array(data.removeprefix(b"\xef\xbb\xbf"), source=source, start=start):
            if isinstance(item, dict) and isinstance(item.get("account"), dict):
                return dict(item["account"])
    except ParseError:
        return {}
    return {}


def _parse_tweets(
    stream: Readable, *, source: str, account: dict[str, Any], head: bytes = b""
) -> Iterator[Post]:
    """The tweets of a tweets.js stream (``head``: what was already read of it)."""
    head = (head + stream.read(256 - len(head))).removeprefix(b"\xef\xbb\xbf")
    match = _WRAPPER.match(head.decode("utf-8", errors="replace"))
    if match is None:
        raise ParseError(f"{source}: not a Twitter archive file (no 'window.YTD.tweets' line)")
    handle = account.get("username") if isinstance(account.get("username"), str) else None
    name = account.get("accountDisplayName") if isinstance(account.get("accountDisplayName"), str) else None
    items = iter_json_array(stream, source=source, head=head[len(match.group(0).encode()) :])
    tweets = (
        t for t in (i.get("tweet", i) if isinstance(i, dict) else None for i in items) if isinstance(t, dict)
    )
    yield from each_record(
        tweets, lambda t: _tweet_post(t, source=source, handle=handle, name=name), source=source
    )


def _tweet_post(tweet: dict[str, Any], *, source: str, handle: str | None, name: str | None) -> Post | None:
    tweet_id = str(tweet.get("id_str") or tweet.get("id") or "").strip()
    if not tweet_id.isdigit():
        return None
    text = html.unescape(str(tweet.get("full_text") or tweet.get("text") or ""))
    entities = mapping_of(tweet.get("entities"))
    extended = mapping_of(tweet.get("extended_entities"))
    from_entities = list(_entity_links(entities, extended))
    # A retweet's text is cut at 140 characters; the original's entities hold its links whole.
    original = mapping_of(tweet.get("retweeted_status"))
    if original:
        from_entities += _entity_links(
            mapping_of(original.get("entities")), mapping_of(original.get("extended_entities"))
        )
    known = {link.url for link in from_entities}
    # Twitter writes every link of a tweet as a t.co URL in its entities; the text is
    # searched only when it holds more URLs than the entities (a truncated retweet).
    from_text = []
    if text.count("://") > len(from_entities):
        from_text = [link for link in extract_links(text) if link.url not in known]
    permalink = f"https://twitter.com/{handle or 'i/web'}/status/{tweet_id}"
    return Post(
        id=tweet_id,
        platform=Platform.TWITTER,
        author_name=name,
        author_handle=handle,
        text=text,
        posted_at=_created_at(tweet.get("created_at")),
        url=permalink,
        source=source,
        hashtags=entity_values(entities.get("hashtags"), "text"),
        mentions=entity_values(entities.get("user_mentions"), "screen_name"),
        links=merge_links(from_entities, from_text),
    )


def _entity_links(entities: dict[str, Any], extended: dict[str, Any]) -> Iterator[FoundLink]:
    media = extended.get("media") or entities.get("media") or []
    for entity in [*(entities.get("urls") or []), *media]:
        link = entity_link(entity)
        if link is not None:
            yield link


def entity_link(entity: Any) -> FoundLink | None:
    """Return the link of a tweet's URL or media entity (``url``, ``expanded_url``, ``display_url``).

    The t.co URL is the link and Twitter's expansion (``unwound_url``, else
    ``expanded_url``) its ``expanded_url``; None for an entity with no usable URL.
    """
    if not isinstance(entity, dict):
        return None
    expansion = entity.get("unwound_url") or entity.get("expanded_url")
    expanded = normalise_url(expansion) if isinstance(expansion, str) else None
    short = entity.get("url")
    url = normalise_url(short) if isinstance(short, str) else None
    if url is None:
        url, expanded = expanded, None
    if url is None:
        return None
    display = entity.get("display_url") if isinstance(entity.get("display_url"), str) else short
    return FoundLink(
        url=url,
        display=str(display or url),
        found_by=FoundBy.ENTITY,
        position=0,
        expanded_url=expanded if expanded != url else None,
    )


def entity_values(entities: Any, key: str) -> tuple[str, ...]:
    """Return one field of a tweet's entities (a hashtag's ``text``, a mention's ``screen_name``), once each.

    Entities are a stranger's JSON: what is not an object with that field as text is skipped.
    """
    if not entities or not isinstance(entities, list):
        return ()
    values = (e.get(key) for e in entities if isinstance(e, dict))
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v))


_MONTHS = {
    month: number
    for number, month in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}


def _created_at(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    # The archive's own form, "Thu May 16 08:15:00 +0000 2024", read without strptime,
    # which costs as much as the rest of a tweet.
    fast = _TWITTER_DATE.fullmatch(value)
    if fast is not None and fast.group(1) in _MONTHS:
        month, day, time, year = fast.groups()
        return f"{year}-{_MONTHS[month]:02d}-{day}T{time}Z"
    return utc_timestamp(value)
