"""Registered domains by the Public Suffix List, offline."""

from __future__ import annotations

import ipaddress

import tldextract

__all__ = ["registered_domain"]

# The suffix list bundled with tldextract, never fetched: a cron job on a box with
# black-holed egress would otherwise hang on the first call, and a cache directory
# under $HOME may not be writable.  Private suffixes (blogspot.com, github.io) are
# left out on purpose so that foo.blogspot.com groups under blogspot.com.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


def registered_domain(host: str | None) -> str | None:
    """Return the registered domain of a host (``bbc.co.uk``), or None for IPs and bare names."""
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") or _is_ip(host):
        return None
    return _EXTRACT(host).top_domain_under_public_suffix or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
