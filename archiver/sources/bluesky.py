"""Bluesky posts as the AT Protocol records them: an API's post views and a repository's records.

A post record (``app.bsky.feed.post``) carries its text as shown, where the app
shortens long links (``www.youtube.com/watch?v=tEeS...``), and the whole links in
its facets (``app.bsky.richtext.facet#link``) and its embed (``app.bsky.embed.external``).
Links come from those, never from the shortened text, which is therefore never
stored as a cut link; hashtags and mentions come from their facets too.

A repository file (``com.atproto.sync.getRepo``, a CAR of DAG-CBOR blocks, read
with libipld) holds an account's every record under a Merkle search tree whose keys
are ``COLLECTION/RKEY``: every ``app.bsky.feed.post`` record is a post.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import libipld

from ..extract import extract_text_parts, merge_links
from ..models import FoundBy, FoundLink, ParseError, Platform, Post, SourceFormat
from ..urls import normalise_url
from . import source
from .records import each_record, mapping_of, stable_id, text_of
from .timestamps import utc_timestamp

__all__ = [
    "BLUESKY_APP",
    "AuthorView",
    "at_uri_parts",
    "feed_item_post",
    "parse_repository",
    "permalink",
    "post_view_post",
    "record_post",
]

BLUESKY_APP = "https://bsky.app"
POST_COLLECTION = "app.bsky.feed.post"
_LINK = "app.bsky.richtext.facet#link"
_MENTION = "app.bsky.richtext.facet#mention"
_TAG = "app.bsky.richtext.facet#tag"
_REPOST = "app.bsky.feed.defs#reasonRepost"
# A repository's tree is walked at most this deep: a hostile file may nest or loop.
MAX_TREE_DEPTH = 128


@dataclass(frozen=True, slots=True)
class AuthorView:
    """Who wrote a post: the DID always, the handle and name when known."""

    did: str
    handle: str | None = None
    name: str | None = None

    @property
    def shown(self) -> str:
        """The handle, or the DID when no handle is known."""
        return self.handle or self.did


def at_uri_parts(uri: str) -> tuple[str, str, str] | None:
    """Return the repository (DID or handle), collection and record key of ``at://``, or None."""
    if not uri.startswith("at://"):
        return None
    parts = uri[len("at://") :].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def permalink(author: AuthorView, rkey: str) -> str:
    """Return the post's page on bsky.app."""
    return f"{BLUESKY_APP}/profile/{author.shown}/post/{rkey}"


def _web_address(uri: str) -> str | None:
    """Return the bsky.app page of an ``at://`` post (a quoted post), or None."""
    parts = at_uri_parts(uri)
    if parts is None or parts[1] != POST_COLLECTION:
        return None
    return f"{BLUESKY_APP}/profile/{parts[0]}/post/{parts[2]}"


def record_post(
    record: dict[str, Any], *, uri: str, author: AuthorView, source: str, posted_at: str | None = None
) -> Post:
    """Return the post of one ``app.bsky.feed.post`` record stored under ``uri``."""
    text = text_of(record.get("text"))
    facet_links, hashtags, mentions, covered = _facets(
        [*_list(record.get("facets")), *_legacy_entities(record.get("entities"))], text
    )
    # Links typed into the text outside any facet (clients that write no facets); the
    # spans the facets cover are left out, so a shortened link shown there is not read.
    outside = _blank(text, covered)
    parts = extract_text_parts(outside, platform=Platform.BLUESKY)
    rkey = (at_uri_parts(uri) or ("", "", ""))[2]
    tags = (
        [t for t in (record.get("tags") or []) if isinstance(t, str) and t]
        if isinstance(record.get("tags"), list)
        else []
    )
    return Post(
        id=uri,
        platform=Platform.BLUESKY,
        author_name=author.name,
        author_handle=author.shown,
        text=text,
        posted_at=posted_at or utc_timestamp(record.get("createdAt")),
        url=permalink(author, rkey) if rkey else None,
        source=source,
        hashtags=tuple(dict.fromkeys([*hashtags, *tags, *parts.hashtags])),
        mentions=tuple(dict.fromkeys([*mentions, *parts.mentions])),
        links=merge_links(facet_links, _embed_links(record.get("embed")), parts.links),
    )


def _facets(facets: Any, text: str) -> tuple[list[FoundLink], list[str], list[str], list[tuple[int, int]]]:
    """Return the links, hashtags and mentions of a record's facets, and the byte spans they cover."""
    links: list[FoundLink] = []
    hashtags: list[str] = []
    mentions: list[str] = []
    covered: list[tuple[int, int]] = []
    encoded = text.encode("utf-8")
    for facet in facets if isinstance(facets, list) else []:
        index = mapping_of(mapping_of(facet).get("index"))
        start, end = index.get("byteStart"), index.get("byteEnd")
        span = (
            (start, end)
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(encoded)
            else None
        )
        shown = encoded[span[0] : span[1]].decode("utf-8", errors="replace") if span else ""
        for feature in mapping_of(facet).get("features") or []:
            feature = mapping_of(feature)
            kind = text_of(feature.get("$type"))
            if kind == _LINK:
                uri = text_of(feature.get("uri")).strip()
                url = normalise_url(uri) if uri else None
                if url is not None:
                    links.append(FoundLink(url, shown or uri, FoundBy.ENTITY, len(links)))
                    if span:
                        covered.append(span)
            elif kind == _TAG and text_of(feature.get("tag")):
                hashtags.append(text_of(feature.get("tag")).lstrip("#"))
                if span:
                    covered.append(span)
            elif kind == _MENTION:
                name = shown.lstrip("@").strip() or text_of(feature.get("did"))
                if name:
                    mentions.append(name)
                if span:
                    covered.append(span)
    return links, hashtags, mentions, covered


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _legacy_entities(entities: Any) -> list[dict[str, Any]]:
    """Return the facets that the ``entities`` of records written before facets (early 2023) stand for.

    ``{"type": "link", "value": URL, "index": {"start", "end"}}`` and ``"mention"``
    with a DID: the same as a link or mention facet over the same bytes.
    """
    facets = []
    kinds = {"link": (_LINK, "uri"), "mention": (_MENTION, "did")}
    for entity in _list(entities):
        entity = mapping_of(entity)
        kind = kinds.get(text_of(entity.get("type")))
        index = mapping_of(entity.get("index"))
        if kind is None:
            continue
        facets.append(
            {
                "index": {"byteStart": index.get("start"), "byteEnd": index.get("end")},
                "features": [{"$type": kind[0], kind[1]: text_of(entity.get("value"))}],
            }
        )
    return facets


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Return the text with the byte spans replaced by spaces."""
    if not spans:
        return text
    encoded = bytearray(text.encode("utf-8"))
    for start, end in spans:
        encoded[start:end] = b" " * (end - start)
    return encoded.decode("utf-8", errors="replace")


def _embed_links(embed: Any) -> list[FoundLink]:
    """Return the links of a record's embed: a link card, a quoted post, or both with media."""
    embed = mapping_of(embed)
    kind = text_of(embed.get("$type")).split("#")[0]
    found: list[str] = []
    if kind == "app.bsky.embed.external":
        found.append(text_of(mapping_of(embed.get("external")).get("uri")))
    elif kind == "app.bsky.embed.record":
        found.append(_web_address(text_of(mapping_of(embed.get("record")).get("uri"))) or "")
    elif kind == "app.bsky.embed.recordWithMedia":
        found.append(
            _web_address(text_of(mapping_of(mapping_of(embed.get("record")).get("record")).get("uri"))) or ""
        )
        found += [link.url for link in _embed_links(embed.get("media"))]
    links: list[FoundLink] = []
    for uri in found:
        url = normalise_url(uri.strip()) if uri.strip() else None
        if url is not None:
            links.append(FoundLink(url, uri.strip(), FoundBy.ENTITY, len(links)))
    return links


def _author(profile: Any) -> AuthorView | None:
    profile = mapping_of(profile)
    did = text_of(profile.get("did"))
    if not did:
        return None
    handle = text_of(profile.get("handle"))
    # "handle.invalid" is what an AppView shows for a handle that no longer resolves.
    return AuthorView(
        did,
        handle if handle and handle != "handle.invalid" else None,
        text_of(profile.get("displayName")).strip() or None,
    )


def post_view_post(view: Any, *, source: str) -> Post | None:
    """Return the post of an AppView ``postView`` (getPosts, getAuthorFeed's ``post``), or None."""
    view = mapping_of(view)
    uri = text_of(view.get("uri"))
    author = _author(view.get("author"))
    record = mapping_of(view.get("record"))
    if not uri or author is None or text_of(record.get("$type")) not in ("", POST_COLLECTION):
        return None
    return record_post(record, uri=uri, author=author, source=source)


def feed_item_post(item: Any, *, source: str) -> Post | None:
    """Return the post of a getAuthorFeed item: the post, or a repost as the reposter's post."""
    item = mapping_of(item)
    post = post_view_post(item.get("post"), source=source)
    reason = mapping_of(item.get("reason"))
    if post is None or text_of(reason.get("$type")) != _REPOST:
        return post
    by = _author(reason.get("by"))
    if by is None:
        return post
    reposted_at = utc_timestamp(reason.get("indexedAt"))
    repost_id = text_of(reason.get("uri")) or stable_id("repost", by.did, post.id, reposted_at or "")
    return Post(
        id=repost_id,
        platform=Platform.BLUESKY,
        author_name=by.name,
        author_handle=by.shown,
        text=f"Reposted @{post.author_handle}: {post.text}",
        posted_at=reposted_at,
        url=post.url,
        source=source,
        hashtags=post.hashtags,
        mentions=post.mentions,
        links=post.links,
    )


def feed_item_key(item: Any) -> str:
    """Return what tells one getAuthorFeed item from another: a repost is not its post."""
    item = mapping_of(item)
    uri = text_of(mapping_of(item.get("post")).get("uri"))
    reason = mapping_of(item.get("reason"))
    if text_of(reason.get("$type")) == _REPOST:
        by = text_of(mapping_of(reason.get("by")).get("did"))
        return text_of(reason.get("uri")) or f"{uri}#repost:{by}:{text_of(reason.get('indexedAt'))}"
    return uri


def feed_item_time(item: Any) -> str | None:
    """Return when an item entered the feed (a repost's time, else the post's), in UTC."""
    item = mapping_of(item)
    reason = mapping_of(item.get("reason"))
    post = mapping_of(item.get("post"))
    return utc_timestamp(
        reason.get("indexedAt") or post.get("indexedAt") or mapping_of(post.get("record")).get("createdAt")
    )


# -- repository files --------------------------------------------------------------------


def _is_car(name: str, head: bytes) -> bool:
    # A CAR v1 starts with the varint length of its header, a DAG-CBOR map holding
    # "roots" and "version".
    return name.lower().endswith(".car") or (b"eroots" in head[:64] and b"gversion" in head[:64])


@source(SourceFormat.BLUESKY_REPO, detect=_is_car)
def parse_repository(data: bytes, *, source: str) -> Iterator[Post]:
    """A Bluesky repository file (CAR), as com.atproto.sync.getRepo gives it: a whole account."""
    try:
        header, blocks = libipld.decode_car(data)
    except (ValueError, TypeError) as ex:
        raise ParseError(f"{source}: not a readable repository file (CAR): {ex}") from ex
    roots = mapping_of(header).get("roots") if isinstance(header, dict) else None
    commit = mapping_of(blocks.get(roots[0])) if isinstance(roots, list) and roots else {}
    did = text_of(commit.get("did"))
    if not did or not isinstance(commit.get("data"), bytes):
        raise ParseError(f"{source}: a CAR file, but not a repository (its root is no signed commit)")
    author = AuthorView(did)
    records = _tree_entries(blocks, commit["data"], source=source)

    def read(entry: tuple[str, bytes]) -> Post | None:
        key, cid = entry
        collection, _, rkey = key.partition("/")
        record = blocks.get(cid)
        if collection != POST_COLLECTION or not isinstance(record, dict):
            return None
        return record_post(record, uri=f"at://{did}/{collection}/{rkey}", author=author, source=source)

    yield from each_record(records, read, source=source)


def _tree_entries(blocks: dict[bytes, Any], root: bytes, *, source: str) -> Iterator[tuple[str, bytes]]:
    """Yield every ``(key, record CID)`` of a repository's Merkle search tree, in key order.

    A node is ``{"l": left subtree, "e": [{"p": prefix length, "k": key suffix, "v":
    record, "t": right subtree}]}``; each key shares ``p`` bytes with the one before.
    """
    missing = 0
    seen: set[bytes] = set()
    # Each stack item: a node to open, or a (key, CID) to hand out, in order.
    stack: list[tuple[bytes, int] | tuple[str, bytes]] = [(root, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item[0], str):
            yield item
            continue
        cid, depth = item
        if cid in seen or depth > MAX_TREE_DEPTH:
            continue
        seen.add(cid)
        node = blocks.get(cid)
        if not isinstance(node, dict):
            missing += 1
            continue
        ordered: list[tuple[bytes, int] | tuple[str, bytes]] = []
        if isinstance(node.get("l"), bytes):
            ordered.append((node["l"], depth + 1))
        key = b""
        for entry in node.get("e") or []:
            entry = mapping_of(entry)
            prefix, suffix, value = entry.get("p"), entry.get("k"), entry.get("v")
            if not isinstance(prefix, int) or not isinstance(suffix, bytes) or not isinstance(value, bytes):
                continue
            key = key[:prefix] + suffix
            ordered.append((key.decode("utf-8", errors="replace"), value))
            if isinstance(entry.get("t"), bytes):
                ordered.append((entry["t"], depth + 1))
        stack.extend(reversed(ordered))
    if missing:
        raise ParseError(
            f"{source}: {missing} part(s) of the repository's tree are not in the file (a partial export);"
            " the posts of the others were read"
        )
