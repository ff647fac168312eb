"""Telegram: a Telegram Desktop export (``result.json``), and a public channel's web preview.

An export is one JSON object: one chat (``name``, ``type``, ``id``, ``messages``) or
a whole account (``chats.list`` and ``left_chats.list``, each a chat).  It is read
as a stream with ijson, a message at a time, since exports reach hundreds of MB.
A message of type ``message`` is a post: its time from ``date_unixtime`` (``date``
is the exporting computer's local time without a zone), its text the concatenation
of the ``text`` parts, its links from ``text_entities`` of type ``link`` (the URL as
written) and ``text_link`` (a hidden link: ``href``, the text shown kept as the
link's display).  An export does not record a chat's username, so its messages have
no permalink.

A public channel's web preview (``https://t.me/s/CHANNEL``) shows about twenty
messages a page (``data-post="CHANNEL/ID"``), older ones with ``?before=ID``.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import ijson

from ..extract import extract_links, merge_links, parse_html, post_from_html
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat, SourceUnavailable
from ..urls import normalise_url
from . import source, streamer
from .api import ApiClient
from .compressed import open_binary
from .follow import Cursor, Page, read_each
from .records import text_of
from .timestamps import utc_timestamp

__all__ = ["TelegramChannel", "channel_page", "parse_telegram_export", "stream_telegram_export"]

# Where a chat sits in an export: the export itself (one chat), or an item of a list.
_CHAT = re.compile(r"^(?:(?:chats|left_chats)\.list\.item)?$")


def _is_export(name: str, head: bytes) -> bool:
    text = head[:8192]
    one_chat = b'"messages"' in text and (
        b'"date_unixtime"' in text or b'_chat"' in text or b'"type": "p' in text
    )
    whole = b'"personal_information"' in text or (b'"about"' in text and b'"chats"' in text)
    return text.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and (one_chat or whole)


@source(SourceFormat.TELEGRAM_EXPORT, detect=_is_export)
def parse_telegram_export(data: bytes, *, source: str) -> Iterator[Post]:
    """A Telegram Desktop export (result.json): one chat, or every chat of an account."""
    yield from _messages(io.BytesIO(data), source=source)


@streamer(SourceFormat.TELEGRAM_EXPORT)
def stream_telegram_export(path: str | Path, *, source: str) -> Iterator[Post]:
    """Read an export of any size from its file, a message at a time."""
    with open_binary(path) as stream:
        yield from _messages(stream, source=source)


@dataclass
class _Chat:
    name: str = ""
    kind: str = ""
    id: str = ""


def _messages(stream: IO[bytes], *, source: str) -> Iterator[Post]:
    """Yield the posts of an export's messages as the stream is read.

    ijson's events are followed: a chat's ``name``, ``type`` and ``id`` come before its
    ``messages`` (Telegram writes them so), and each message is built whole (ijson's
    ObjectBuilder) and read before the next.
    """
    chats: dict[str, _Chat] = {}
    builder: ijson.ObjectBuilder | None = None
    chat = _Chat()
    depth = read = skipped = 0
    found_chat = False
    first = ""
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if builder is not None:
                builder.event(event, value)
                depth += event in ("start_map", "start_array")
                depth -= event in ("end_map", "end_array")
                if depth:
                    continue
                message, builder = builder.value, None
                read += 1
                try:
                    post = _message_post(message, chat, source=source)
                except Exception as ex:  # noqa: BLE001 - one message's failure is that message's
                    skipped += 1
                    first = first or f"message {read}: {type(ex).__name__}: {str(ex)[:200]}"
                    continue
                if post is not None:
                    yield post
                continue
            head, _, key = prefix.rpartition(".")
            if event == "start_map" and key == "item" and head.endswith("messages"):
                chat_prefix = head.removesuffix("messages").rstrip(".")
                if _CHAT.match(chat_prefix):
                    chat = chats.get(chat_prefix, _Chat())
                    builder, depth, found_chat = ijson.ObjectBuilder(), 1, True
                    builder.event(event, value)
            elif event == "start_map" and prefix and _CHAT.match(prefix):
                chats[prefix] = _Chat()  # the next chat of a list
            elif key in _CHAT_FIELDS and event in ("string", "number") and _CHAT.match(head):
                setattr(chats.setdefault(head, _Chat()), _CHAT_FIELDS[key], str(value))
    except ijson.JSONError as ex:
        raise ParseError(
            f"{source}: broken JSON after {read} message(s) ({str(ex).splitlines()[0]}); "
            "the messages before were kept"
        ) from ex
    if not found_chat:
        raise ParseError(f"{source}: not a Telegram Desktop export: no chat with messages in it")
    if skipped:
        raise ParseError(
            f"{source}: {skipped} message(s) could not be read (first: {first}); the others were"
        )


# The fields of a chat and the _Chat attribute each fills.
_CHAT_FIELDS = {"name": "name", "type": "kind", "id": "id"}


def _message_post(message: Any, chat: _Chat, *, source: str) -> Post | None:
    if not isinstance(message, dict) or message.get("type") != "message":
        return None  # a service message (joined, pinned...), or one Telegram could not export
    message_id = message.get("id")
    if isinstance(message_id, bool) or not isinstance(message_id, int | str) or not str(message_id):
        raise ValueError("a message without an id")
    text = _text(message.get("text"))
    links, hashtags, mentions = _entities(message.get("text_entities"), message.get("text"))
    forwarded = text_of(message.get("forwarded_from")).strip()
    if forwarded:
        text = f"Forwarded from {forwarded}:\n{text}"
    posted_at = utc_timestamp(text_of(message.get("date_unixtime"))) or utc_timestamp(message.get("date"))
    return Post(
        id=f"{chat.id or 'chat'}:{message_id}",
        platform=Platform.TELEGRAM,
        author_name=text_of(message.get("from")).strip()
        or text_of(message.get("author")).strip()
        or chat.name
        or None,
        author_handle=_peer(message.get("from_id")),
        text=text,
        posted_at=posted_at,
        url=None,
        source=source,
        hashtags=hashtags,
        mentions=mentions,
        links=links,
    )


def _peer(value: Any) -> str | None:
    """Return who sent a message: ``user123`` / ``channel123``, or the bare number older exports wrote."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_of(value) or None


def _text(value: Any) -> str:
    """Return a message's text: a string, or a list of strings and ``{"text": ...}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part if isinstance(part, str) else text_of(part.get("text")) if isinstance(part, dict) else ""
            for part in value
        )
    return ""


def _entities(entities: Any, text: Any) -> tuple[tuple[FoundLink, ...], tuple[str, ...], tuple[str, ...]]:
    """Return the links, hashtags and mentions of a message's entities (older exports: its text parts)."""
    parts = entities if isinstance(entities, list) else text if isinstance(text, list) else []
    links: list[FoundLink] = []
    hashtags: list[str] = []
    mentions: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind, shown = text_of(part.get("type")), text_of(part.get("text"))
        if kind == "text_link":
            href = text_of(part.get("href")).strip()
            url = normalise_url(href) if href else None
            if url is not None:
                links.append(FoundLink(url, shown or href, FoundBy.ENTITY, len(links)))
        elif kind == "link":
            # The URL as written, with or without its scheme ("example.org/page").
            found = extract_links(shown)
            url = found[0].url if found else normalise_url(shown.strip())
            if url is not None:
                links.append(
                    FoundLink(
                        url, shown, FoundBy.ENTITY, len(links), truncated=bool(found and found[0].truncated)
                    )
                )
        elif kind == "hashtag" and shown.lstrip("#"):
            hashtags.append(shown.lstrip("#"))
        elif kind in ("mention", "mention_name") and shown.lstrip("@"):
            mentions.append(shown.lstrip("@"))
    return merge_links(links), tuple(dict.fromkeys(hashtags)), tuple(dict.fromkeys(mentions))


# -- a public channel's web preview ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelPage:
    """The messages of one page of a channel's web preview, oldest first, and whether older ones exist."""

    posts: list[Post]
    ids: list[int]
    skipped: int
    older: bool


def channel_page(html: str, *, channel: str, page_url: str, origin: str, source: str) -> ChannelPage:
    """Return the messages of one ``t.me/s/CHANNEL`` page."""
    tree = parse_html(html)
    messages = tree.css("div.tgme_widget_message[data-post]")
    ids: list[int] = []

    def read(node: Any) -> Post | None:
        post_name, _, number = (node.attributes.get("data-post") or "").partition("/")
        if post_name.lower() != channel.lower() or not number.isdigit():
            return None
        message_id = int(number)
        ids.append(message_id)
        return _channel_post(
            node, channel=post_name, message_id=message_id, page_url=page_url, origin=origin, source=source
        )

    posts, skipped = read_each(messages, read)
    older = tree.css_first("a.tme_messages_more[data-before]") is not None
    return ChannelPage(posts, ids, skipped, older)


def _channel_post(
    node: Any, *, channel: str, message_id: int, page_url: str, origin: str, source: str
) -> Post:
    body = node.css_first(".tgme_widget_message_text")
    html_post = post_from_html(body.html or "", base=page_url, platform=Platform.TELEGRAM) if body else None
    links: list[FoundLink] = list(html_post.links) if html_post else []
    # Links to the channel's own search (a hashtag shown as a link) are not links of the post.
    links = [link for link in links if not urlsplit(link.url).query.startswith("q=")]
    preview = node.css_first("a.tgme_widget_message_link_preview")
    if preview is not None and preview.attributes.get("href"):
        url = normalise_url(preview.attributes["href"] or "")
        if url is not None:
            links.append(FoundLink(url, preview.attributes["href"] or url, FoundBy.HREF, len(links)))
    when = node.css_first(".tgme_widget_message_date time[datetime]")
    owner = node.css_first(".tgme_widget_message_owner_name")
    signed = node.css_first(".tgme_widget_message_from_author")
    forwarded = node.css_first(".tgme_widget_message_forwarded_from_name")
    text = html_post.text if html_post else ""
    if forwarded is not None and forwarded.text(strip=True):
        text = f"Forwarded from {forwarded.text(strip=True)}:\n{text}"
    return Post(
        id=f"{channel.lower()}:{message_id}",
        platform=Platform.TELEGRAM,
        author_name=(signed.text(strip=True) if signed else "")
        or (owner.text(strip=True) if owner else "")
        or None,
        author_handle=channel,
        text=text,
        posted_at=utc_timestamp(when.attributes.get("datetime")) if when else None,
        url=f"{origin}/{channel}/{message_id}",
        source=source,
        hashtags=html_post.hashtags if html_post else (),
        mentions=html_post.mentions if html_post else (),
        links=merge_links(links),
    )


_CHANNEL = re.compile(r"^/(?:s/)?(?P<channel>[A-Za-z][A-Za-z0-9_]{3,63})/?$")


class TelegramChannel:
    """A public channel's messages through its web preview, newest page first."""

    def __init__(self, client: ApiClient, location: str) -> None:
        parts = urlsplit(location)
        channel = _CHANNEL.match(parts.path) if parts.scheme in ("http", "https") else None
        if channel is None:
            raise SourceUnavailable(
                f"{location}: not a public Telegram channel address (https://t.me/s/CHANNEL)"
            )
        self.location = location
        self.channel = channel.group("channel")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.page_url = f"{self.origin}/s/{self.channel}"
        self._client = client

    async def pages(self, cursor: Cursor) -> AsyncGenerator[Page, None]:
        cursor = cursor.started()
        if cursor.newest is not None:
            # Back from the top to the newest message read; where the next run starts
            # moves with the last page only, so a stop before it reads the top again.
            newest = int(cursor.newest)
            before: int | None = None
            top = newest
            while True:
                page = await self._page(before)
                top = max([top, *page.ids])
                fresh = [
                    post for post, number in zip(page.posts, _post_ids(page), strict=True) if number > newest
                ]
                cursor = cursor.having_read(fresh)
                oldest = min(page.ids) if page.ids else None
                done = (
                    oldest is None
                    or oldest <= newest + 1
                    or not page.older
                    or (before is not None and oldest >= before)
                )
                if done:
                    cursor = replace(cursor, newest=str(top))
                yield Page(fresh, cursor, page.skipped)
                if done:
                    break
                before = oldest
        while not cursor.whole:
            back = int(cursor.back) if cursor.back else None
            page = await self._page(back)
            oldest = min(page.ids) if page.ids else None
            whole = oldest is None or oldest <= 1 or not page.older or (back is not None and oldest >= back)
            cursor = replace(
                cursor.having_read(page.posts),
                newest=cursor.newest or (str(max(page.ids)) if page.ids else None),
                back=cursor.back if whole else str(oldest),
                whole=whole,
            )
            yield Page(page.posts, cursor, page.skipped)

    async def _page(self, before: int | None) -> ChannelPage:
        params = {"before": before} if before else None
        answer = await self._client.get(self.page_url, params, accept="text/html")
        if 300 <= answer.status < 400:
            raise SourceUnavailable(
                f"{self.location}: no public web preview (the channel is private, or gone)"
            )
        if answer.status != 200:
            raise SourceUnavailable(f"{self.location}: HTTP {answer.status}")
        html = answer.body.decode("utf-8", errors="replace")
        page = channel_page(
            html, channel=self.channel, page_url=answer.url, origin=self.origin, source=self.location
        )
        if not page.ids and before is None and "tgme_channel_info" not in html:
            raise SourceUnavailable(f"{self.location}: not a channel's web preview (no messages, no channel)")
        return page


def _post_ids(page: ChannelPage) -> list[int]:
    """Return the message id of each post of a page, in the order of its posts."""
    return [int(post.id.rsplit(":", 1)[1]) for post in page.posts]
