"""archiver's HTTP stack: the client factory, the network backend and the address guard.

The only home of httpx, httpcore and certifi imports in archiver.
"""

from __future__ import annotations

from .backend import AsyncioBackend, BlockedAddress, GuardedBackend, NameResolutionError, Resolver
from .client import (
    Answer,
    BodyTooLarge,
    HostClients,
    HTTPClient,
    RequestFailed,
    RequestTimedOut,
    UnusableURL,
    build_client,
    get,
    ssl_context,
)
from .guard import WEB_PORTS, address_verdict, literal_address

__all__ = [
    "WEB_PORTS",
    "Answer",
    "AsyncioBackend",
    "BlockedAddress",
    "BodyTooLarge",
    "GuardedBackend",
    "HTTPClient",
    "HostClients",
    "NameResolutionError",
    "RequestFailed",
    "RequestTimedOut",
    "Resolver",
    "UnusableURL",
    "address_verdict",
    "build_client",
    "get",
    "literal_address",
    "ssl_context",
]
