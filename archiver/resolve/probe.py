"""Probing a host: what it answers for a path that cannot exist, once a host a run.

A host that answers any unknown path with 200 makes "status 200" meaningless for its
links; comparing a link's page with the probe's answer tells a soft 404 apart from the
page that was linked (``archiver.preserve.rot``).  The probe is one more request a host a run,
sent like any other (guard, limits, retries), and only for hosts whose link ended on
a deep HTML page, where the comparison can tell something.
"""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlsplit

from ..models import Probe, Resolution
from ..urls import is_deep
from .chain import ChainFollower

__all__ = ["Prober"]


class Prober:
    """Asks each host (scheme, name and port), once a run, for a path that does not exist."""

    def __init__(self, follower: ChainFollower) -> None:
        self._follower = follower
        self._probes: dict[str, asyncio.Future[Probe]] = {}

    async def probe_for(self, resolution: Resolution) -> Probe | None:
        """Return the probe of the host a link ended on, or None when it tells nothing."""
        final_url = resolution.final_url
        if not resolution.ok or resolution.fingerprint is None or final_url is None or not is_deep(final_url):
            return None
        parts = urlsplit(final_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pending = self._probes.get(origin)
        if pending is None:
            pending = self._probes[origin] = asyncio.get_running_loop().create_future()
            try:
                pending.set_result(await self._probe(origin))
            except BaseException:
                del self._probes[origin]
                pending.cancel()
                raise
        return await asyncio.shield(pending)

    async def _probe(self, origin: str) -> Probe:
        # Random, so that no cache or earlier capture can answer for the host.
        url = f"{origin}/{secrets.token_hex(12)}"
        result = await self._follower.follow(url, of_link=False)
        return Probe(
            origin=origin,
            url=url,
            status=result.status,
            checked_at=result.checked_at,
            http_status=result.http_status,
            final_url=result.final_url,
            fingerprint=result.fingerprint,
        )
