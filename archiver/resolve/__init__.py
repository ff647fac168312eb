"""Resolving links: every redirect hop, politely, safely, with retries.

``resolve_many`` takes URLs and yields a ``Resolution`` for each as it completes.
Redirects are followed by hand, one request at a time, so that every hop is
recorded: Location (all of 301/302/303/307/308, relative or absolute), the Refresh
header, ``<meta http-equiv="refresh">`` and the one-line JavaScript redirects that
shorteners serve.  A failed link comes back as data, never as an exception.

The modules, in the order a link meets them: ``many`` (workers and the dispatcher),
``chain`` (one link's hops and its Resolution), ``wrappers`` (targets carried in the
URL), ``politeness`` (per-host limits and waits), ``answers`` (one request per URL a
run), ``retries`` (tenacity and Retry-After), ``response`` and ``htmlredirect`` (what
an answer says), ``outcomes`` (failures), ``settings``.
"""

from __future__ import annotations

from .answers import AnswerCache
from .many import resolve_many
from .politeness import HostLimiter
from .retries import MAX_SERVER_WAIT, parse_retry_after
from .settings import DEFAULT_USER_AGENT, ResolverSettings

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_SERVER_WAIT",
    "AnswerCache",
    "HostLimiter",
    "ResolverSettings",
    "parse_retry_after",
    "resolve_many",
]
