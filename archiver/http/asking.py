"""One polite request: refused where the settings forbid it, within the host's limit and a time limit.

Every step that asks a server something (a link's hop, a web archive's listing, a
capture request) asks through ``ask``: the address rules first, then a slot of the
host's limit, a status worth retrying slows the host down and raises ``Transient``,
and every other failure becomes a ``HopFailed`` or ``Transient`` naming what went wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..models import LinkStatus
from ..urls import hostname
from .client import Answer, HostClients
from .outcomes import HopFailed, Transient, classify
from .politeness import HostLimiter
from .retries import RETRYABLE_STATUS, parse_retry_after
from .settings import ResolverSettings

__all__ = ["ask"]

T = TypeVar("T")


async def ask(
    url: str,
    read: Callable[[Answer], Awaitable[T]],
    *,
    clients: HostClients,
    limiter: HostLimiter,
    settings: ResolverSettings,
    timeout: float,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> T:
    """Return what ``read`` makes of the answer to one request, or raise what the request came to."""
    host = hostname(url)
    reason = settings.refusal(url)
    if reason:
        raise HopFailed(LinkStatus.BLOCKED, f"refused: {reason}")
    try:
        async with (
            limiter.slot(host),
            asyncio.timeout(timeout),
            clients.get(host, url, headers, method=method, content=content) as answer,
        ):
            if answer.status in RETRYABLE_STATUS:
                # Raises: the host's wait is kept, and the request is worth another try.
                limiter.slow_down(
                    host,
                    answer.status,
                    parse_retry_after(answer.header("retry-after")),
                    max_wait=settings.max_retry_after,
                    deadline=settings.deadline,
                )
            return await read(answer)
    except (HopFailed, Transient):
        raise
    except TimeoutError as ex:
        raise Transient(f"no complete answer within {timeout:g} s", status=LinkStatus.TIMEOUT) from ex
    except Exception as ex:  # noqa: BLE001 - every other failure becomes a status
        raise classify(ex) from ex
