"""A server on 127.0.0.1 that answers like Mastodon's API, Bluesky's AppView and Telegram's channel pages.

Each test fills a ``Platforms`` with the posts it wants served and the faults it
wants shown (a rate limit used up, a 429, a suspended account); every request is
recorded with its headers.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libipld
from conftest import TestServer, serve_in_thread


@dataclass
class Platforms:
    """What the fake platforms hold and how they misbehave."""

    # Mastodon: acct -> account id; account id -> statuses (any order); tag -> statuses.
    accounts: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tags: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    account_errors: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # Bluesky: actor -> feed items, newest first; at-uri -> post view (getPosts).
    feeds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    post_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    feed_errors: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    get_posts_status: int = 200
    # Telegram: channel -> messages (id, text html, datetime), any order.
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    private_channels: set[str] = field(default_factory=set)
    # Faults: rate-limit headers on every answer; 429s to answer before the next real answers.
    rate_limit: dict[str, str] = field(default_factory=dict)
    limit_after: int | None = None  # answers from this many requests on say none is left
    resets_in: float | None = None  # every answer: none left, reset in this many seconds (Bluesky's headers)
    too_many: int = 0
    delay: float = 0.0  # seconds before each answer
    retry_after: str = "0"
    # Other documents by path (a feed).
    documents: dict[str, bytes] = field(default_factory=dict)
    # Every request: (path with query, headers).
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def paths(self, start: str = "") -> list[str]:
        return [path for path, _ in self.seen if path.startswith(start)]


class PlatformHandler(BaseHTTPRequestHandler):
    platforms: Platforms
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        state = self.platforms
        state.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if state.delay:
            time.sleep(state.delay)
        if state.too_many:
            state.too_many -= 1
            self._json(429, {"error": "Too many requests"}, {"Retry-After": state.retry_after})
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/api/v1/accounts/lookup":
            acct = query.get("acct", "")
            if acct in state.account_errors:
                self._json(*state.account_errors[acct])
            elif acct in state.accounts:
                self._json(200, {"id": state.accounts[acct], "acct": acct})
            else:
                self._json(404, {"error": "Record not found"})
        elif path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
            account = path.split("/")[4]
            self._timeline(state.statuses.get(account, []), query)
        elif path.startswith("/api/v1/timelines/tag/"):
            self._timeline(state.tags.get(path.rsplit("/", 1)[1], []), query)
        elif path == "/xrpc/app.bsky.feed.getAuthorFeed":
            self._author_feed(query)
        elif path == "/xrpc/app.bsky.feed.getPosts":
            uris = parse_qs(parts.query).get("uris", [])
            if state.get_posts_status != 200:
                self._json(state.get_posts_status, {"error": "InternalServerError"})
            else:
                self._json(200, {"posts": [state.post_views[u] for u in uris if u in state.post_views]})
        elif path in state.documents:
            data = state.documents[path]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif path.startswith("/s/"):
            self._channel(path[3:].strip("/"), query)
        else:
            self._json(404, {"error": "not found"})

    def _timeline(self, statuses: list[dict[str, Any]], query: dict[str, str]) -> None:
        ordered = sorted(statuses, key=lambda s: int(s["id"]), reverse=True)
        limit = int(query.get("limit", "20"))
        if "min_id" in query:
            above = [s for s in ordered if int(s["id"]) > int(query["min_id"])]
            page = above[-limit:]
        else:
            if "max_id" in query:
                ordered = [s for s in ordered if int(s["id"]) < int(query["max_id"])]
            if "since_id" in query:
                ordered = [s for s in ordered if int(s["id"]) > int(query["since_id"])]
            page = ordered[:limit]
        headers = {}
        if page:
            base = f"http://{self.headers['Host']}{urlsplit(self.path).path}"
            headers["Link"] = (
                f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        self._json(200, page, headers)

    def _author_feed(self, query: dict[str, str]) -> None:
        actor = query.get("actor", "")
        if actor in self.platforms.feed_errors:
            self._json(*self.platforms.feed_errors[actor])
            return
        if actor not in self.platforms.feeds:
            self._json(400, {"error": "InvalidRequest", "message": "Profile not found"})
            return
        items = self.platforms.feeds[actor]
        start = int(query.get("cursor", "0"))
        limit = int(query.get("limit", "50"))
        page = items[start : start + limit]
        answer: dict[str, Any] = {"feed": page}
        if start + limit < len(items):
            answer["cursor"] = str(start + limit)
        self._json(200, answer)

    def _channel(self, name: str, query: dict[str, str]) -> None:
        if name in self.platforms.private_channels or name not in self.platforms.channels:
            self.send_response(302)
            self.send_header("Location", f"/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        messages = sorted(self.platforms.channels[name], key=lambda m: m["id"])
        if "before" in query:
            messages = [m for m in messages if m["id"] < int(query["before"])]
        page = messages[-20:]
        body = [
            '<html><body><div class="tgme_channel_info">channel</div><section class="tgme_channel_history">'
        ]
        if page and page[0]["id"] > min(m["id"] for m in self.platforms.channels[name]):
            before = page[0]["id"]
            body.append(
                f'<a class="tme_messages_more" data-before="{before}" href="/s/{name}?before={before}"></a>'
            )
        for message in page:
            body.append(
                '<div class="tgme_widget_message_wrap">'
                f'<div class="tgme_widget_message" data-post="{name}/{message["id"]}">'
                '<div class="tgme_widget_message_owner_name">'
                f"<span>{html.escape(message.get('owner', 'Channel'))}</span></div>"
                f'<div class="tgme_widget_message_text">{message["html"]}</div>'
                + (
                    f'<a class="tgme_widget_message_link_preview" href="{message["preview"]}">preview</a>'
                    if message.get("preview")
                    else ""
                )
                + f'<a class="tgme_widget_message_date" href="https://t.me/{name}/{message["id"]}">'
                f'<time datetime="{message["datetime"]}">time</time></a></div></div>'
            )
        body.append("</section></body></html>")
        data = "".join(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        limits = dict(self.platforms.rate_limit)
        if self.platforms.limit_after is not None and len(self.platforms.seen) >= self.platforms.limit_after:
            limits = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2999-01-01T00:00:00.000Z"}
        if self.platforms.resets_in is not None:
            limits = {
                "ratelimit-remaining": "0",
                "ratelimit-reset": f"{time.time() + self.platforms.resets_in:.0f}",
            }
        for name, header in {**limits, **(headers or {})}.items():
            self.send_header(name, header)
        self.end_headers()
        self.wfile.write(data)


def serve_platforms(platforms: Platforms) -> Iterator[str]:
    handler = type("BoundPlatforms", (PlatformHandler,), {"platforms": platforms})
    with serve_in_thread(TestServer(("127.0.0.1", 0), handler)) as base:
        yield base


# -- building what the platforms answer ---------------------------------------------------


_EPOCH = datetime(2024, 1, 1)


def mastodon_status(
    number: int,
    *,
    host: str = "social.example",
    user: str = "alice",
    content: str | None = None,
    created_at: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": str(number),
        "uri": f"https://{host}/users/{user}/statuses/{number}",
        "url": f"https://{host}/@{user}/{number}",
        "created_at": created_at or (_EPOCH + timedelta(hours=number)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "account": {
            "acct": user,
            "username": user,
            "display_name": user.title(),
            "url": f"https://{host}/@{user}",
        },
        "content": content if content is not None else f"<p>post {number}</p>",
        "tags": [],
        "mentions": [],
        "card": None,
        "reblog": None,
        **extra,
    }


def bluesky_item(
    number: int,
    *,
    did: str = "did:plc:alice",
    handle: str = "alice.test",
    text: str | None = None,
    **record: Any,
) -> dict[str, Any]:
    uri = f"at://{did}/app.bsky.feed.post/3k{number:08d}"
    when = f"2024-02-01T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}.000Z"
    return {
        "post": {
            "uri": uri,
            "cid": "bafy",
            "author": {"did": did, "handle": handle, "displayName": handle.split(".")[0].title()},
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text or f"post {number}",
                "createdAt": when,
                **record,
            },
            "indexedAt": when,
        }
    }


def link_facet(text: str, shown: str, uri: str) -> dict[str, Any]:
    start = text.encode().index(shown.encode())
    return {
        "index": {"byteStart": start, "byteEnd": start + len(shown.encode())},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
    }


# -- a Bluesky repository file -----------------------------------------------------------


def _cid(block: bytes) -> bytes:
    return bytes([1, 0x71, 0x12, 0x20]) + hashlib.sha256(block).digest()


def _varint(number: int) -> bytes:
    out = b""
    while True:
        low, number = number & 0x7F, number >> 7
        if not number:
            return out + bytes([low])
        out += bytes([low | 0x80])


def repository_car(
    did: str, records: dict[str, dict[str, Any]], *, split: bool = True, drop_right: bool = False
) -> bytes:
    """Return a CAR of a repository holding ``records`` by ``COLLECTION/RKEY``.

    ``split`` puts the keys in a two-level tree (a left subtree, the root's entries
    and a right subtree); ``drop_right`` leaves the right subtree's block out, as a
    partial export would.
    """
    blocks: dict[bytes, bytes] = {}

    def put(value: Any) -> bytes:
        data = libipld.encode_dag_cbor(value)
        cid = _cid(data)
        blocks[cid] = data
        return cid

    def node(keys: list[str], left: bytes | None = None, right: bytes | None = None) -> bytes:
        entries = []
        before = b""
        for index, key in enumerate(keys):
            raw = key.encode()
            shared = 0
            while shared < min(len(raw), len(before)) and raw[shared] == before[shared]:
                shared += 1
            entries.append(
                {
                    "p": shared,
                    "k": raw[shared:],
                    "v": put(records[key]),
                    "t": right if index == len(keys) - 1 else None,
                }
            )
            before = raw
        return put({"l": left, "e": entries})

    keys = sorted(records)
    if split and len(keys) >= 3:
        third = len(keys) // 3
        left = node(keys[:third])
        right = node(keys[2 * third :])
        root = node(keys[third : 2 * third], left, right)
        if drop_right:
            del blocks[right]
    else:
        root = node(keys)
    commit = put({"did": did, "version": 3, "data": root, "rev": "3k", "prev": None, "sig": b"\x00" * 64})
    header = libipld.encode_dag_cbor({"version": 1, "roots": [commit]})
    out = _varint(len(header)) + header
    for cid, data in blocks.items():
        out += _varint(len(cid) + len(data)) + cid + data
    return out
