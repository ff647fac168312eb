"""Redirector wrappers that carry their target in the URL, unwrapped without a request.

A link copied from Google's results (``google.com/url?q=…``), Facebook's link shim
(``l.facebook.com/l.php?u=…``) or an AMP cache leads to a URL written inside it.
Asking the wrapper would tell Google or Facebook who follows the link, and several
answer with a warning page rather than a redirect, so the chain would end on the
wrapper.  Only known wrappers are unwrapped: a ``?next=`` or ``?url=`` on any other
site (a login form, a share dialog) is not a redirect, and is requested as it is.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from ..urls import normalise_url

__all__ = ["unwrap"]

# google.com, www.google.de, google.co.uk, google.com.br, ...
_GOOGLE = re.compile(r"(?:www\.)?google(?:\.com?)?\.[a-z]{2,3}")

# host pattern, path, the query parameters that hold the target (first present wins)
_QUERY_WRAPPERS: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (_GOOGLE, "/url", ("q", "url")),
    (re.compile(r"lm?\.facebook\.com|l\.messenger\.com"), "/l.php", ("u",)),
    (re.compile(r"l\.instagram\.com|l\.threads\.(?:net|com)"), "/", ("u",)),
    (re.compile(r"(?:www\.|m\.)?youtube\.com"), "/redirect", ("q",)),
    (re.compile(r"(?:html\.)?duckduckgo\.com"), "/l/", ("uddg",)),
    (re.compile(r"(?:m\.)?vk\.com|away\.vk\.com"), "/away.php", ("to",)),
    (re.compile(r"steamcommunity\.com"), "/linkfilter/", ("u", "url")),
    (re.compile(r"slack-redir\.net"), "/link", ("url",)),
    (re.compile(r"t\.umblr\.com"), "/redirect", ("z",)),
    (re.compile(r"(?:www\.)?linkedin\.com"), "/redir/redirect", ("url",)),
    (re.compile(r"[a-z0-9-]+\.safelinks\.protection\.outlook\.com"), "/", ("url",)),
]

# AMP caches serve a page at /c/s/<host>/<path> (https) or /c/<host>/<path> (http).
_AMP_CACHE = re.compile(r"[a-z0-9-]+\.cdn\.ampproject\.org")
_AMP_CACHE_PATH = re.compile(r"/[cv]/(s/)?(?P<rest>[^/?#]+\.[^/?#]+(?:/.*)?)")
_GOOGLE_AMP_PATH = re.compile(r"/amp/(s/)?(?P<rest>[^/?#]+\.[^/?#]+(?:/.*)?)")


def unwrap(url: str) -> str | None:
    """Return the normalised URL a known wrapper leads to, or None when ``url`` is not one.

    The target must be an absolute http(s) URL; anything else (a relative path, a
    ``javascript:`` value, a missing parameter) leaves the wrapper to be requested.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    for hosts, path, names in _QUERY_WRAPPERS:
        if parts.path == path and hosts.fullmatch(host):
            query = parse_qs(parts.query)
            for name in names:
                if query.get(name):
                    return _absolute(query[name][0])
            return None
    for hosts, paths in ((_AMP_CACHE, _AMP_CACHE_PATH), (_GOOGLE, _GOOGLE_AMP_PATH)):
        if hosts.fullmatch(host) and (match := paths.fullmatch(parts.path)):
            scheme = "https" if match.group(1) else "http"
            tail = f"?{parts.query}" if parts.query else ""
            return _absolute(f"{scheme}://{match.group('rest')}{tail}")
    return None


def _absolute(target: str) -> str | None:
    target = target.strip()
    if not target.lower().startswith(("http://", "https://")):
        return None
    return normalise_url(target)
