"""The id a post is stored under, so that no source can take another's post."""

from __future__ import annotations

import hashlib

__all__ = ["post_key"]


def post_key(platform: str, native_id: str, scope: str | None = None) -> str:
    """Return the id a post is stored under: its platform's id, within its source if scoped.

    ``twitter:1400000001`` for a tweet of an archive export, and for a post a feed or a
    page claims, the same with a digest of that source
    (``twitter:1400000001@3f2a9c0d1b7e``): a stranger's feed whose ``<guid>`` is a
    real tweet's id, or a page embedding a made-up tweet under a real id, gets a post
    of its own and never takes the real one's place.
    """
    key = f"{platform}:{native_id}"
    if scope is None:
        return key
    return f"{key}@{hashlib.sha256(scope.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
