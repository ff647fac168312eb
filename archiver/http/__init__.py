"""archiver's HTTP stack, serving every step that makes a request.

The address guard and network backend (``guard``, ``backend``), the pools and
connections (``pool``, ``connection``), the client (``client``), politeness
(``politeness``), retries with Retry-After (``retries``), what a request comes to
(``outcomes``), the one redirect follower (``redirects``), the settings every request
obeys (``settings``), one polite request (``asking``) and workers over one queue
(``workers``).  The only home of
httpx, httpcore, h11, certifi and tenacity imports in archiver.
"""

from __future__ import annotations

from .asking import ask
from .backend import AsyncioBackend, Resolver
from .client import (
    Answer,
    BodyTooLarge,
    HostClients,
    HTTPClient,
    build_client,
    get,
    ssl_context,
)
from .guard import WEB_PORTS, address_verdict, literal_address
from .outcomes import HopFailed, Interpreted, classify
from .politeness import Dispatcher, HostLimiter
from .redirects import REDIRECT_STATUS, Chain, Onward, follow_chain, join_url, loop_key
from .retries import MAX_SERVER_WAIT, parse_retry_after, with_retries
from .settings import DEFAULT_USER_AGENT, ResolverSettings
from .workers import HandOver, as_they_come

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_SERVER_WAIT",
    "REDIRECT_STATUS",
    "WEB_PORTS",
    "Answer",
    "AsyncioBackend",
    "BodyTooLarge",
    "Chain",
    "Dispatcher",
    "HTTPClient",
    "HandOver",
    "HopFailed",
    "HostClients",
    "HostLimiter",
    "Interpreted",
    "Onward",
    "Resolver",
    "ResolverSettings",
    "address_verdict",
    "as_they_come",
    "ask",
    "build_client",
    "classify",
    "follow_chain",
    "get",
    "join_url",
    "literal_address",
    "loop_key",
    "parse_retry_after",
    "ssl_context",
    "with_retries",
]
