"""Which worker owns which host: rendezvous hashing, so that a lost worker moves only its own hosts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["Owners"]


def _weight(worker: str, host: str) -> bytes:
    return hashlib.blake2b(f"{worker}\n{host}".encode(errors="surrogatepass"), digest_size=8).digest()


class Owners:
    """The workers of a run, and for each host the one that asks it.

    Highest random weight (rendezvous) hashing: a host belongs to the worker with the
    greatest hash of (worker, host).  Every host has exactly one owner at a time, the
    same on every call, and when a worker leaves only the hosts it owned move, each
    to the worker that came second for it.
    """

    def __init__(self, workers: Iterable[str]) -> None:
        self.workers: list[str] = sorted(set(workers))
        self._cache: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.workers)

    def __contains__(self, worker: object) -> bool:
        return worker in self.workers

    def owner(self, host: str) -> str:
        """Return the worker that owns ``host``; raises LookupError when no worker is left."""
        found = self._cache.get(host)
        if found is None:
            if not self.workers:
                raise LookupError("no worker left")
            found = max(self.workers, key=lambda worker: _weight(worker, host))
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[host] = found
        return found

    def remove(self, worker: str) -> None:
        """Take ``worker`` out: the hosts it owned go to their next owners."""
        if worker in self.workers:
            self.workers.remove(worker)
            self._cache = {host: owner for host, owner in self._cache.items() if owner != worker}
