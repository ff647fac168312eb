"""Retries and Retry-After: how long to wait before another attempt, and what a server may ask."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from ..clock import parse_http_date
from .outcomes import HopFailed, Transient

__all__ = [
    "BACKOFF",
    "MAX_SERVER_WAIT",
    "RETRYABLE_STATUS",
    "WaitRetryAfter",
    "parse_retry_after",
    "with_retries",
]

# Answers worth another try: the server is overloaded or asks us to slow down.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


# The longest wait a server may ask for: a week.  Retry-After: 999999999999 is clamped to
# it, so no date computed from it overflows.
MAX_SERVER_WAIT = 7 * 86400.0


# Between tries when the server says nothing: 1 s, 2 s, 4 s... at most 30 s, with jitter.
BACKOFF = wait_exponential_jitter(initial=1, max=30)


class WaitRetryAfter(wait_base):
    """Wait what a Transient failure's Retry-After asked for (at most ``max_wait``), else ``fallback``.

    Written as tenacity writes its waits (``wait_exception``): built once, asked per try.
    """

    def __init__(self, *, max_wait: float, fallback: wait_base = BACKOFF) -> None:
        self.max_wait = max_wait
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, Transient) and error.retry_after is not None:
            return min(error.retry_after, self.max_wait)
        return float(self.fallback(retry_state))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the seconds a Retry-After value asks for (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to HTTP
        return min(float(value), MAX_SERVER_WAIT)
    when = parse_http_date(value)
    if when is None:
        return None
    current = now if now is not None else time.time()
    return min(max(0.0, when.timestamp() - current), MAX_SERVER_WAIT)


async def with_retries(
    attempt: Callable[[], Awaitable[T]], *, attempts: int, max_wait: float, sleep: Sleep
) -> T:
    """Return ``attempt()``, tried again on a Transient failure (at most ``attempts`` times).

    Between tries: exponential backoff with jitter, or what the server's Retry-After
    asked for (at most ``max_wait``).  A Transient failure that is still there at
    the end becomes the HopFailed it stands for.
    """

    try:
        async for trial in AsyncRetrying(
            retry=retry_if_exception_type(Transient),
            stop=stop_after_attempt(attempts),
            wait=WaitRetryAfter(max_wait=max_wait),
            sleep=sleep,
            reraise=True,
        ):
            with trial:
                return await attempt()
    except Transient as ex:
        raise HopFailed(ex.status, str(ex), http_status=ex.http_status, retry_after=ex.retry_after) from ex
    raise AssertionError("unreachable: tenacity either returns or re-raises")
