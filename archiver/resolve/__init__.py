"""Resolving links: every redirect hop, the final URL, and what the final page showed.

``resolve_many`` takes URLs and yields a ``Resolution`` for each as it completes.
Redirects are followed by hand, one request at a time through ``archiver.http``, so
that every hop is recorded: Location (all of 301/302/303/307/308, relative or
absolute), the Refresh header, ``<meta http-equiv="refresh">`` and the one-line
JavaScript redirects that shorteners serve.  A failed link comes back as data, never
as an exception.

The modules, in the order a link meets them: ``many`` (workers over the dispatcher),
``chain`` (one link's hops and its Resolution), ``hops`` (one hop asked: politely, with
retries, here or by the owner of its host on a cluster), ``wrappers`` (targets carried in the
URL), ``answers`` (one request per URL a run), ``response`` and ``htmlredirect`` (what
an answer says), ``fingerprint`` (what the final page showed), ``probe`` (what a host
answers for a page that cannot exist).
"""

from __future__ import annotations

from .answers import AnswerCache
from .fingerprint import fingerprint, simhash, text_distance
from .hops import Asked, Asker, HopAsker
from .many import resolve_many

__all__ = [
    "AnswerCache",
    "Asked",
    "Asker",
    "HopAsker",
    "fingerprint",
    "resolve_many",
    "simhash",
    "text_distance",
]
