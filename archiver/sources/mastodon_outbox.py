"""Mastodon account archives: ``outbox.json`` (and ``actor.json``), as a folder or ``.tar.gz``.

The outbox is an ActivityStreams ``OrderedCollection``: ``Create`` activities carry
``Note`` objects (the posts), ``Announce`` activities are boosts.  Links come from
the HTML content's ``href``s, hashtags and mentions from ``tag``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..extract import post_from_html
from ..jsontext import load_json
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import normalise_url
from . import source
from .archives import Archive, archive_format, member_name
from .records import each_record, text_of

__all__ = ["parse_mastodon_archive", "parse_outbox_file"]


def _is_outbox(name: str, head: bytes) -> bool:
    return b'"orderedItems"' in head or (b"OrderedCollection" in head and b"activitystreams" in head)


def _is_mastodon_archive(names: list[str]) -> bool:
    return any(member_name(n) == "outbox.json" for n in names)


@source(SourceFormat.MASTODON_OUTBOX, detect=_is_outbox)
def parse_outbox_file(data: bytes, *, source: str) -> Iterator[Post]:
    """A Mastodon archive's outbox.json (or the archive's folder, .tar.gz)."""
    yield from _parse_outbox(data, source=source, actor={})


@archive_format(SourceFormat.MASTODON_OUTBOX, detect=_is_mastodon_archive)
def parse_mastodon_archive(archive: Archive, source: str) -> Iterator[Post]:
    """Yield the posts and boosts of a Mastodon archive, with the account's name and handle."""
    names = archive.names()
    actor: dict[str, Any] = {}
    for name in names:
        if member_name(name) == "actor.json":
            try:
                loaded = load_json(archive.read(name).decode("utf-8", errors="replace"))
            except ValueError:
                loaded = {}
            actor = loaded if isinstance(loaded, dict) else {}
    outbox = next(n for n in names if member_name(n) == "outbox.json")
    yield from _parse_outbox(archive.read(outbox), source=f"{source}!{outbox}", actor=actor)


def _parse_outbox(data: bytes, *, source: str, actor: dict[str, Any]) -> Iterator[Post]:
    try:
        collection = load_json(data.decode("utf-8-sig", errors="replace"))
    except ValueError as ex:
        raise ParseError(f"{source}: broken JSON ({ex})") from ex
    if not isinstance(collection, dict) or not isinstance(collection.get("orderedItems"), list):
        raise ParseError(f"{source}: not an ActivityStreams outbox (no orderedItems)")
    activities = (a for a in collection["orderedItems"] if isinstance(a, dict))
    yield from each_record(activities, lambda a: _post(a, source=source, actor=actor), source=source)


def _post(activity: dict[str, Any], *, source: str, actor: dict[str, Any]) -> Post | None:
    kind = activity.get("type")
    author = text_of(activity.get("actor")) or text_of(actor.get("id"))
    handle = _handle(actor, author)
    name = text_of(actor.get("name")) or None
    if kind == "Announce":
        boosted = normalise_url(text_of(activity.get("object")))
        activity_id = text_of(activity.get("id"))
        if not activity_id:
            return None
        links = (
            (FoundLink(url=boosted, display=boosted, found_by=FoundBy.ENTITY, position=0),) if boosted else ()
        )
        return Post(
            id=activity_id,
            platform=Platform.MASTODON,
            author_name=name,
            author_handle=handle,
            text="",
            posted_at=text_of(activity.get("published")) or None,
            url=None,
            source=source,
            links=links,
        )
    note = activity.get("object")
    if kind != "Create" or not isinstance(note, dict) or not text_of(note.get("id")):
        return None
    base = text_of(note.get("url")) or text_of(note.get("id"))
    body = post_from_html(text_of(note.get("content")), base=base, platform=Platform.MASTODON)
    summary = text_of(note.get("summary")).strip()
    tags: list[Any] = note["tag"] if isinstance(note.get("tag"), list) else []
    return Post(
        id=text_of(note.get("id")),
        platform=Platform.MASTODON,
        author_name=name,
        author_handle=handle or _handle({}, text_of(note.get("attributedTo"))),
        text=f"{summary}\n\n{body.text}".strip() if summary else body.text,
        posted_at=text_of(note.get("published")) or None,
        url=normalise_url(text_of(note.get("url"))) if text_of(note.get("url")) else None,
        source=source,
        hashtags=_tag_names(tags, "Hashtag", "#") or body.hashtags,
        mentions=_tag_names(tags, "Mention", "@") or body.mentions,
        links=body.links,
    )


def _handle(actor: dict[str, Any], actor_url: str) -> str | None:
    username = text_of(actor.get("preferredUsername"))
    try:
        host = urlsplit(actor_url).hostname if actor_url else None
    except ValueError:  # "http://[bad": no host to name
        host = None
    if not username and actor_url:
        username = actor_url.rstrip("/").rsplit("/", 1)[-1].lstrip("@")
    if not username:
        return None
    return f"{username}@{host}" if host else username


def _tag_names(tags: list[Any], kind: str, prefix: str) -> tuple[str, ...]:
    names = (
        text_of(t.get("name")).lstrip(prefix) for t in tags if isinstance(t, dict) and t.get("type") == kind
    )
    return tuple(dict.fromkeys(n for n in names if n))
