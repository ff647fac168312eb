"""Workers over one queue: results handed over as they come, the workers cancelled when nobody takes them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["HandOver", "as_they_come"]

T = TypeVar("T")
HandOver = Callable[[T], Awaitable[None]]


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def as_they_come(
    worker: Callable[[HandOver[T]], Coroutine[Any, Any, None]], *, workers: int, buffer: int = 0
) -> AsyncGenerator[T, None]:
    """Run ``workers`` copies of ``worker`` and yield what they hand over, as it comes.

    Each copy is given the function it hands a result over with; at most ``buffer``
    results wait to be taken (0: no bound).  When the caller stops taking results, the
    workers are cancelled; a worker's error reaches the caller as it was raised (the
    first, when several failed), not wrapped in an exception group.
    """
    results: asyncio.Queue[tuple[T] | None] = asyncio.Queue(maxsize=buffer)

    async def hand_over(result: T) -> None:
        await results.put((result,))

    async def run() -> None:
        cancelled = False
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker(hand_over))
        except asyncio.CancelledError:
            cancelled = True  # the caller is gone: nobody would take the end-mark
            raise
        except BaseExceptionGroup as failed:
            # An ArchiverError (a cluster lost) must reach the caller as itself.
            raise _first(failed) from None
        finally:
            if not cancelled:
                await results.put(None)

    runner = asyncio.create_task(run())
    try:
        while (item := await results.get()) is not None:
            yield item[0]
        await runner
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
