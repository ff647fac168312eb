"""The answers of one run, so that each distinct URL is requested once, in bounded memory."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from ..http import HopFailed, Interpreted

__all__ = ["ANSWERS_BYTES", "ANSWER_OVERHEAD", "AnswerCache"]

# How much memory the finished answers kept to spare repeated requests within a run
# may take, counted as the characters they hold plus a fixed cost each.
ANSWERS_BYTES = 16 * 1024 * 1024
ANSWER_OVERHEAD = 600


class AnswerCache:
    """The answers of one run by URL, the oldest finished ones dropped past a byte budget.

    An entry's cost is the text it holds (URL, next URL, title, error) plus a fixed
    overhead, so a run of failing links, or of answers with long Location headers,
    takes bounded memory whatever the number of links.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._entries: OrderedDict[str, asyncio.Future[Interpreted]] = OrderedDict()
        self._costs: OrderedDict[str, int] = OrderedDict()  # finished ones, oldest first

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> asyncio.Future[Interpreted] | None:
        return self._entries.get(key)

    def reserve(self, key: str) -> asyncio.Future[Interpreted]:
        """Return a new unfinished answer for ``key``; others asking for it wait on it."""
        pending: asyncio.Future[Interpreted] = asyncio.get_running_loop().create_future()
        self._entries[key] = pending
        return pending

    def settled(self, key: str) -> None:
        """Count a finished answer, then drop the oldest finished ones past the budget."""
        pending = self._entries.get(key)
        if pending is None or key in self._costs:
            return
        cost = ANSWER_OVERHEAD + len(key) + _answer_text_length(pending)
        self._costs[key] = cost
        self.used += cost
        while self.used > self.budget and self._costs:
            self.forget(next(iter(self._costs)))

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
        self.used -= self._costs.pop(key, 0)


def _answer_text_length(answer: asyncio.Future[Interpreted]) -> int:
    failure = answer.exception()
    if isinstance(failure, HopFailed):
        return len(failure.error)
    if failure is not None:
        return len(str(failure))
    response = answer.result()
    fingerprint = response.fingerprint.size() if response.fingerprint is not None else 0
    return len(response.next_url or "") + len(response.via or "") + len(response.title or "") + fingerprint
