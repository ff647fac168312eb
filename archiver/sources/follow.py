"""Following an account, a tag or a channel: what has been read of it, and its pages as they come.

A followed source is read through its platform's public API (Mastodon, Bluesky) or
public web preview (Telegram), a page at a time.  The first run reads back to the
account's first post; later runs read only what is newer than the newest post read,
then go on reading back where an earlier run stopped.  What has been read is a
``Cursor``, stored with the source after each page's posts are stored, so a run
that is stopped (time limit, rate limit, kill) loses nothing and the next run takes
up where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol, TypeVar

from ..models import Post

__all__ = ["Cursor", "Follower", "Page", "read_each"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a followed source has been read; stored as JSON with the source."""

    # The newest item read (a Mastodon status id, a Telegram message id, a Bluesky
    # feed time): the next run reads what came after it.  None: never read.
    newest: str | None = None
    # Where reading back goes on (max_id, a cursor, before=); None: from the top.
    back: str | None = None
    whole: bool = False  # read back to the first post
    oldest_at: str | None = None  # the time of the oldest post read
    newest_at: str | None = None  # the time of the newest post read
    target: str | None = None  # what the platform calls the source (a Mastodon account id)
    known: tuple[str, ...] = field(default=())  # Bluesky: the feed's newest items at the last read

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Cursor:
        """Return a stored cursor; a missing or unreadable one is a source never read."""
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = {}
        if not isinstance(value, dict):
            return cls()
        text_fields = ("newest", "back", "oldest_at", "newest_at", "target")
        known = value.get("known")
        return cls(
            **{name: value[name] for name in text_fields if isinstance(value.get(name), str)},
            whole=value.get("whole") is True,
            known=tuple(k for k in known if isinstance(k, str)) if isinstance(known, list) else (),
        )

    def started(self) -> Cursor:
        """Return the cursor to read from: one that never found a post reads from the top again."""
        return self if self.newest is not None else replace(self, back=None, whole=False)

    def having_read(self, posts: Iterable[Post]) -> Cursor:
        """Return the cursor with the times of ``posts`` taken into its oldest and newest."""
        times = [p.posted_at for p in posts if p.posted_at]
        if not times:
            return self
        oldest = min([t for t in (self.oldest_at, *times) if t])
        newest = max([t for t in (self.newest_at, *times) if t])
        return replace(self, oldest_at=oldest, newest_at=newest)


@dataclass(frozen=True, slots=True)
class Page:
    """Posts of one page, and the cursor that holds once they are stored."""

    posts: list[Post]
    cursor: Cursor
    skipped: int = 0  # items of the page that could not be read as posts


def read_each(items: Iterable[T], read: Callable[[T], Post | None]) -> tuple[list[Post], int]:
    """Return the posts of a page's items, and how many could not be read as one.

    An item is a stranger's record: one that fails to read costs only itself.
    """
    posts: list[Post] = []
    skipped = 0
    for item in items:
        try:
            post = read(item)
        except Exception:  # noqa: BLE001 - one item's failure is that item's
            post = None
        if post is None:
            skipped += 1
        else:
            posts.append(post)
    return posts, skipped


class Follower(Protocol):
    """A followed source: its pages from where ``cursor`` says reading stopped."""

    def pages(self, cursor: Cursor) -> AsyncGenerator[Page, None]: ...
