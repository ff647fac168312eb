"""How links are resolved: the settings of a run, the options of the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from .backend import Resolver
from .guard import WEB_PORTS, address_verdict, literal_address

__all__ = ["DEFAULT_USER_AGENT", "ResolverSettings"]

DEFAULT_USER_AGENT = f"archiver/{__version__} (link archiver; resolves links found in posts)"


@dataclass(frozen=True, slots=True)
class ResolverSettings:
    """How links are resolved; the CLI's resolver options."""

    concurrency: int = 20  # requests in flight overall
    per_host: int = 2  # requests in flight to one host
    timeout: float = 15.0  # seconds for one request, body included
    max_hops: int = 10  # redirects followed per link
    attempts: int = 3  # tries of one request on transient failures
    max_retry_after: float = 120.0  # longer Retry-After: give up for this run
    # When the run must stop (--time-limit), as a time.monotonic() value: a host that
    # asks to wait past it is left for the next run at once.
    deadline: float | None = None
    allow_private: bool = False
    # (address, port) pairs the guard lets through while refusing the rest of the
    # private ranges: one intranet service, or a test server on 127.0.0.1.
    exempt: frozenset[tuple[str, int]] = frozenset()
    ports: frozenset[int] = WEB_PORTS  # the ports a URL may name (exempt pairs' ports too)
    proxy: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    # Ask each host whose link ended on a deep page, once a run, for a path that does
    # not exist, to tell soft 404s (resolve/probe.py).
    probe: bool = True

    def client_options(self, resolver: Resolver | None = None) -> dict[str, Any]:
        """Return the settings every HTTP client of a run is built with."""
        return {
            "timeout": self.timeout,
            "user_agent": self.user_agent,
            "allow_private": self.allow_private,
            "proxy": self.proxy,
            "resolver": resolver,
            "exempt": self.exempt,
        }

    def refusal(self, url: str) -> str | None:
        """Return why a URL may not be requested before any connection, or None.

        Refused: a host written as an IP literal of an internal address, and a port
        outside ``ports``.  Names are checked once resolved, by the transport.
        """
        if self.allow_private:
            return None
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return "not a valid URL"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "not a valid port"
        literal = literal_address(host)
        if literal is not None and (str(literal), port) in self.exempt:
            return None
        verdict = address_verdict(literal) if literal is not None else None
        if verdict is None and port not in self.ports and all(port != p for _, p in self.exempt):
            listed = ", ".join(str(p) for p in sorted(self.ports))
            return f"port {port} is not a web port ({listed}; --allow-port adds one)"
        return verdict
