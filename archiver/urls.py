"""Normalising URLs into the form archiver stores and compares."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import idna

__all__ = [
    "is_deep",
    "MAX_URL_LENGTH",
    "hostname",
    "is_shortener",
    "link_id",
    "normalise_url",
]

# Longer URLs are not followed or stored: httpx refuses 64 KiB anyway, and a URL of
# that size in a post is an attack or an accident, never a link someone clicked.
MAX_URL_LENGTH = 8192

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SURROGATE = re.compile("[\ud800-\udfff]")
_USER_NAME = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]+")

# Hosts whose links are shortened redirects although ural's list does not name them.
_EXTRA_SHORTENERS = frozenset({"pic.twitter.com", "pic.x.com"})
# The commonest shorteners, answered without asking ural (which parses the URL again).
_COMMON_SHORTENERS = frozenset(
    {"t.co", "bit.ly", "ow.ly", "buff.ly", "tinyurl.com", "goo.gl", "dlvr.it", "ift.tt"}
)


# The shape of most links (https://t.co/AbCdEfGhIj): an ASCII host, no port, no user,
# a path without query or fragment.  Such a URL is normalised without urlsplit, which
# matters when a 160 MB archive holds 200,000 of them.
_PLAIN_URL = re.compile(
    r"(https?)://((?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63})(/[^\x00-\x20\\?#]*)?", re.IGNORECASE
)


def normalise_url(raw: str, *, base: str | None = None) -> str | None:
    """Return the stored form of an http(s) URL, or None when it is not one.

    Lower-cases scheme and host, maps the host through IDNA (UTS #46), drops the
    default port, a trailing dot and any password, and keeps path, query and
    fragment as they were written.
    """
    raw = raw.strip()
    if not raw.isascii() and _SURROGATE.search(raw):
        return None  # a lone surrogate is no character a URL can hold (or be stored with)
    if base is not None:
        raw = urljoin(base, raw)
    plain = _PLAIN_URL.fullmatch(raw) if len(raw) <= MAX_URL_LENGTH else None
    if plain is not None and "xn--" not in plain.group(2).lower():
        scheme, host, path = plain.groups()
        return f"{scheme.lower()}://{host.lower()}{path or '/'}"
    return _normalise_split(raw)


def _normalise_split(raw: str) -> str | None:
    if not raw or len(raw) > MAX_URL_LENGTH or any(ord(c) < 33 for c in raw):
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "\\" in parts.netloc:
        return None
    host = _normalise_host(parts.hostname)
    if host is None:
        return None
    netloc = host
    if parts.username:
        # A user name may hold only what RFC 3986 allows there; "http://[::1]@evil.com/"
        # is no URL (and would hide its host from whoever reads it).
        if not _USER_NAME.fullmatch(parts.username):
            return None
        netloc = f"{parts.username}@{netloc}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    return urlunsplit(SplitResult(scheme, netloc, path, parts.query, parts.fragment))


def _normalise_host(host: str) -> str | None:
    host = host.rstrip(".").lower()
    if not host:
        return None
    if ":" in host:  # an IPv6 literal; urlsplit has already removed the brackets
        return f"[{host}]"
    if host.isascii():
        labels = host.split(".")
        if not all(_valid_label(label) for label in labels):
            return None
        # An A-label must decode ("xn--zz" does not): no resolver would take it.
        if any(label.startswith("xn--") and not _valid_a_label(label) for label in labels):
            return None
        return host
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        # IDNA 2008 refuses symbols that IDNA 2003 allowed and that registries still
        # serve (http://✪df.ws); browsers reach them, so archiver does too.
        try:
            encoded = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    # The mapping may make what no host can be: "…t.co" becomes "...t.co".
    return _normalise_host(encoded) if encoded.isascii() and encoded != host else None


def _valid_a_label(label: str) -> bool:
    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    else:
        return True
    try:  # IDNA 2003 labels (xn--df-oiy, ✪df) are kept, as in Unicode form
        label.encode("ascii").decode("idna")
    except UnicodeError:
        return False
    return True


def _valid_label(label: str) -> bool:
    return 0 < len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)


def hostname(url: str) -> str:
    """Return the lower-case host of a normalised URL, without brackets or port."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:
        return plain.group(2).lower()
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_shortener(url: str) -> bool:
    """Return True when the URL's host is a known link shortener (t.co, bit.ly, ...)."""
    host = hostname(url)
    if host in _EXTRA_SHORTENERS or host in _COMMON_SHORTENERS:
        return True
    # Imported on first use: ural compiles large patterns (0.1 s) that a resolve-only
    # run never needs.
    from ural import is_shortened_url

    try:
        return bool(is_shortened_url(url))
    except Exception:  # noqa: BLE001 - ural is a heuristic library; a URL it chokes on is not a shortener
        return False


def link_id(url: str) -> str:
    """Return the stable id of a link: the first 16 hex digits of the URL's SHA-256."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# A path that is a site's front page: /, /index.html, /home, /en/, /de-de/.
_FRONT_PATH = re.compile(r"/?(?:(?:index|default|home)(?:\.\w{1,5})?|[a-z]{2}(?:[-_][a-z]{2})?/?)?", re.I)


def is_deep(url: str) -> bool:
    """Return whether a URL names something below a site's front page (a path or a query)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.query) or _FRONT_PATH.fullmatch(parts.path) is None
