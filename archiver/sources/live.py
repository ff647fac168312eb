"""The followed sources of a run: Mastodon and Bluesky accounts, hashtags, Telegram channels.

``Following`` holds the one API client a run's followed sources share (one request
at a time to a host, rate limits kept) and gives each its follower by format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..http import ResolverSettings
from ..models import Exchange, Post, SourceFormat, UnknownFormat
from .api import ApiClient, Sleep
from .bluesky_api import DEFAULT_BLUESKY_API, BlueskyAuthorFeed, complete_bluesky_links
from .follow import Follower
from .mastodon_api import MastodonTimeline
from .telegram import TelegramChannel

__all__ = ["LIVE_FORMATS", "Following", "LiveSettings"]

LIVE_FORMATS = frozenset({SourceFormat.MASTODON, SourceFormat.BLUESKY, SourceFormat.TELEGRAM})


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How followed sources are read: the Bluesky AppView, and Mastodon access tokens by instance."""

    bluesky_api: str = DEFAULT_BLUESKY_API
    # HOST -> TOKEN (ARCHIVER_MASTODON_TOKEN): a token is sent only to its own instance.
    mastodon_tokens: Mapping[str, str] = field(default_factory=dict)


class Following:
    """The followers of a run's live sources, over one API client."""

    def __init__(
        self,
        resolving: ResolverSettings,
        settings: LiveSettings | None = None,
        *,
        resolver: Any = None,
        sleep: Sleep = asyncio.sleep,
        keep: Callable[[Exchange, str | None], None] | None = None,
    ) -> None:
        self.settings = settings or LiveSettings()
        self.client = ApiClient(
            resolving, tokens=self.settings.mastodon_tokens, resolver=resolver, sleep=sleep, keep=keep
        )

    def follower(self, location: str, fmt: str) -> Follower:
        """Return the follower of a source; SourceUnavailable when the address is not one of its kind."""
        client = self.client.for_source(location)
        if fmt == SourceFormat.MASTODON:
            return MastodonTimeline(client, location)
        if fmt == SourceFormat.BLUESKY:
            return BlueskyAuthorFeed(client, location, api=self.settings.bluesky_api)
        if fmt == SourceFormat.TELEGRAM:
            return TelegramChannel(client, location)
        raise UnknownFormat(f"{location}: {fmt} is not a followed source ({', '.join(sorted(LIVE_FORMATS))})")

    async def complete_bluesky(self, posts: list[Post]) -> list[Post]:
        """Return feed posts with the whole links of their Bluesky records where the text cut them."""
        return await complete_bluesky_links(self.client, posts, api=self.settings.bluesky_api)

    async def aclose(self) -> None:
        await self.client.aclose()
