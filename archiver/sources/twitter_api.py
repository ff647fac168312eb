"""What Twitter collectors write: twarc2 output (raw API v2 pages, or flattened) and API v1.1 tweets.

One JSON document a line, compressed or not, of any size, read a line at a time:

- a raw twarc2 line is one API v2 response page: ``{"data": [tweets], "includes":
  {"users", "tweets", "media"}, "__twarc": {...}}``;
- a flattened twarc2 line is one tweet with ``author`` and ``referenced_tweets`` expanded;
- an API v1.1 line is one tweet with ``user``, ``full_text`` (or ``text`` and
  ``extended_tweet``), ``entities`` and a retweet's ``retweeted_status``.

Each tweet is the post an archive export stores (``twitter:<id>``), with the whole text:
a long post's ``note_tweet``, and a retweet's text from the original it carries rather
than the cut "RT @…" text.  Each t.co link keeps Twitter's recorded expansion
(``unwound_url``, else ``expanded_url``), so resolving it costs no request to t.co.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..extract import extract_text_parts, merge_links
from ..jsontext import load_json
from ..models import FoundLink, Platform, Post, SourceFormat
from . import source, streamer
from .lines import json_lines_of_bytes, json_lines_of_file
from .records import mapping_of, text_of
from .timestamps import utc_timestamp
from .twitter_archive import entity_link, entity_values

__all__ = ["parse_twitter_api", "stream_twitter_api"]

_WHAT = "a Twitter API v2 page, a flattened twarc2 tweet or an API v1.1 tweet"
# How a line starts, when the detector sees only its start (a raw page is ~400 KB).
_PAGE_START = re.compile(rb'\A\s*\{\s*"data"\s*:\s*[\[{]')


def _is_twitter_api(name: str, head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        record = load_json(first)
    except ValueError:
        record = None  # a line longer than the head: judged by its keys
    if isinstance(record, dict):
        return _kind(record) is not None
    has = first.__contains__
    if _PAGE_START.match(first):
        return has(b'"text"') and has(b'"id"')
    if has(b'"author_id"') and has(b'"text"'):
        return has(b'"__twarc"') or has(b'"conversation_id"') or has(b'"edit_history_tweet_ids"')
    return has(b'"id_str"') and has(b'"user"') and (has(b'"full_text"') or has(b'"text"'))


def _kind(record: dict[str, Any]) -> str | None:
    data = record.get("data")
    if isinstance(data, list | dict) and ("includes" in record or "__twarc" in record or "meta" in record):
        tweets = data if isinstance(data, list) else [data]
        return "page" if not tweets or any(_is_v2_tweet(t) for t in tweets) else None
    if _is_v2_tweet(record) and (isinstance(record.get("author"), dict) or "__twarc" in record):
        return "flat"
    v1 = isinstance(record.get("user"), dict) and ("id_str" in record or isinstance(record.get("id"), int))
    if v1 and any(isinstance(record.get(k), str) for k in ("full_text", "text")):
        return "v1"
    return None


def _is_v2_tweet(tweet: Any) -> bool:
    return (
        isinstance(tweet, dict)
        and isinstance(tweet.get("id"), str)
        and isinstance(tweet.get("text"), str)
        and ("author_id" in tweet or "edit_history_tweet_ids" in tweet)
    )


@source(SourceFormat.TWITTER_API, detect=_is_twitter_api)
def parse_twitter_api(data: bytes, *, source: str) -> Iterator[Post]:
    """twarc2 output (raw API v2 pages or flattened tweets) and Twitter API v1.1 tweets, a line each."""
    yield from json_lines_of_bytes(data, lambda r: _posts(r, source), source=source, what=_WHAT)


@streamer(SourceFormat.TWITTER_API)
def stream_twitter_api(path: str | Path, *, source: str) -> Iterator[Post]:
    """Return the tweets of a collector's file of any size, compressed or not, a line at a time."""
    yield from json_lines_of_file(path, lambda r: _posts(r, source), source=source, what=_WHAT)


def _posts(record: Any, source: str) -> list[Post] | None:
    if not isinstance(record, dict):
        return None
    kind = _kind(record)
    if kind == "page":
        data = record["data"]
        includes = mapping_of(record.get("includes"))
        users = _by_id(includes.get("users"))
        tweets = _by_id(includes.get("tweets"))
        listed = [t for t in (data if isinstance(data, list) else [data]) if isinstance(t, dict)]
        posts = (_v2_post(t, users, tweets, source) for t in listed)
        return [post for post in posts if post is not None]
    if kind == "flat":
        author = mapping_of(record.get("author"))
        users = {text_of(author.get("id")) or text_of(record.get("author_id")): author}
        references = record.get("referenced_tweets")
        embedded = [r for r in references if _is_v2_tweet(r)] if isinstance(references, list) else []
        for reference in embedded:  # the flattened original carries its own author
            original_author = mapping_of(reference.get("author"))
            users.setdefault(text_of(original_author.get("id")), original_author)
        post = _v2_post(record, users, _by_id(embedded), source)
        return [post] if post is not None else None
    if kind == "v1":
        post = _v1_post(record, source)
        return [post] if post is not None else None
    return None


def _v2_post(
    tweet: dict[str, Any], users: dict[str, dict[str, Any]], tweets: dict[str, dict[str, Any]], source: str
) -> Post | None:
    tweet_id = text_of(tweet.get("id"))
    if not tweet_id.isdigit():
        return None
    author = users.get(text_of(tweet.get("author_id"))) or mapping_of(tweet.get("author"))
    handle = text_of(author.get("username")) or None
    text, entities = _v2_text(tweet)
    mentions: tuple[str, ...] = ()
    original = next(
        (
            tweets.get(text_of(r.get("id")))
            for r in tweet.get("referenced_tweets") or []
            if isinstance(r, dict) and r.get("type") == "retweeted"
        ),
        None,
    )
    if original is not None:
        # A retweet's own text is cut ("RT @name: …"): the original holds it whole.
        original_author = users.get(text_of(original.get("author_id"))) or mapping_of(original.get("author"))
        by = text_of(original_author.get("username"))
        whole, entities = _v2_text(original)
        text = f"RT @{by}: {whole}" if by else whole
        mentions = (by,) if by else ()
    mentions += entity_values(entities.get("mentions"), "username")
    return _post(
        tweet_id,
        text=text,
        handle=handle,
        name=text_of(author.get("name")) or None,
        posted_at=utc_timestamp(tweet.get("created_at")),
        entity_links=[link for e in entities.get("urls") or [] if (link := entity_link(e)) is not None],
        hashtags=entity_values(entities.get("hashtags"), "tag"),
        mentions=mentions,
        source=source,
    )


def _v2_text(tweet: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return a v2 tweet's whole text (a long post's ``note_tweet``) and the entities of that text."""
    note = mapping_of(tweet.get("note_tweet"))
    if text_of(note.get("text")):
        return html.unescape(note["text"]), mapping_of(note.get("entities")) or mapping_of(
            tweet.get("entities")
        )
    return html.unescape(text_of(tweet.get("text"))), mapping_of(tweet.get("entities"))


def _v1_post(tweet: dict[str, Any], source: str) -> Post | None:
    tweet_id = text_of(tweet.get("id_str")) or str(tweet.get("id") or "")
    if not tweet_id.isdigit():
        return None
    user = mapping_of(tweet.get("user"))
    original = mapping_of(tweet.get("retweeted_status"))
    shown = original or tweet
    extended = mapping_of(shown.get("extended_tweet"))
    text = html.unescape(
        text_of(extended.get("full_text")) or text_of(shown.get("full_text")) or text_of(shown.get("text"))
    )
    entities = mapping_of(extended.get("entities")) or mapping_of(shown.get("entities"))
    media = mapping_of(extended.get("extended_entities")) or mapping_of(shown.get("extended_entities"))
    mentions: tuple[str, ...] = ()
    if original:
        by = text_of(mapping_of(original.get("user")).get("screen_name"))
        text = f"RT @{by}: {text}" if by else text
        mentions = (by,) if by else ()
    found = [*(entities.get("urls") or []), *(media.get("media") or entities.get("media") or [])]
    return _post(
        tweet_id,
        text=text,
        handle=text_of(user.get("screen_name")) or None,
        name=text_of(user.get("name")) or None,
        posted_at=utc_timestamp(tweet.get("created_at")),
        entity_links=[link for e in found if (link := entity_link(e)) is not None],
        hashtags=entity_values(entities.get("hashtags"), "text"),
        mentions=mentions + entity_values(entities.get("user_mentions"), "screen_name"),
        source=source,
    )


def _post(
    tweet_id: str,
    *,
    text: str,
    handle: str | None,
    name: str | None,
    posted_at: str | None,
    entity_links: list[FoundLink],
    hashtags: tuple[str, ...],
    mentions: tuple[str, ...],
    source: str,
) -> Post:
    parts = extract_text_parts(text, platform=Platform.TWITTER)
    return Post(
        id=tweet_id,
        platform=Platform.TWITTER,
        author_name=name,
        author_handle=handle,
        text=text,
        posted_at=posted_at,
        url=f"https://twitter.com/{handle or 'i/web'}/status/{tweet_id}",
        source=source,
        hashtags=hashtags or parts.hashtags,
        mentions=tuple(dict.fromkeys(mentions)) or parts.mentions,
        # The entities hold every link of the text with its expansion; the text adds those
        # the entities left out (a link of an original the line did not carry).
        links=merge_links(entity_links, parts.links),
    )


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {
        text_of(item.get("id")): item for item in items if isinstance(item, dict) and text_of(item.get("id"))
    }
