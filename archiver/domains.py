"""Registered domains by the Public Suffix List, offline."""

from __future__ import annotations

import functools
import ipaddress

import tldextract

__all__ = ["is_top_level_domain", "registered_domain"]

# The suffix list bundled with tldextract, never fetched: a cron job on a box with
# black-holed egress would otherwise hang on the first call, and a cache directory
# under $HOME may not be writable.  Private suffixes (blogspot.com, github.io) are
# left out on purpose so that foo.blogspot.com groups under blogspot.com.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


# Hosts repeat (a run checks many links of one site): their domains are remembered.
@functools.lru_cache(maxsize=4096)
def registered_domain(host: str | None) -> str | None:
    """Return the registered domain of a host (``bbc.co.uk``), or None for IPs and bare names."""
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") or _is_ip(host):
        return None
    return _EXTRACT(host).top_domain_under_public_suffix or None


def domain_or_host(host: str | None) -> str | None:
    """Return a host's registered domain, or the host itself where it has none.

    IP addresses, intranet names and suffixes newer than the bundled Public Suffix List
    have no registered domain; they stand for themselves, so that their links still
    count in every domain facet and chart.
    """
    domain = registered_domain(host)
    if domain is not None or not host:
        return domain
    return host.strip().rstrip(".").lower().strip("[]") or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_top_level_domain(label: str, *, special_use: bool = False) -> bool:
    """Return True when a lower-case label is a top-level domain (``com``, ``jp``, ``みんな``).

    ``special_use`` also accepts the reserved names (``onion``, ``test``, ``invalid``...).
    """
    return label in _top_level_domains() or (special_use and label in _SPECIAL_USE_TLDS)


# Special-use names (RFC 6761, RFC 7686) are in no suffix list but are written in
# posts after a scheme: .onion links are real, and the others are recorded (and fail)
# as written.  Without a scheme they are file names ("notes.test").
_SPECIAL_USE_TLDS = frozenset({"onion", "test", "example", "invalid", "localhost"})


@functools.cache
def _top_level_domains() -> frozenset[str]:
    # The last label of every ICANN rule: IANA's delegated TLDs, IDN ones in Unicode.
    return frozenset(rule.rsplit(".", 1)[-1].lstrip("!") for rule in _EXTRACT.tlds)
