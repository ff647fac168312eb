"""Which network addresses archiver may connect to.

A URL written by a stranger must never make archiver reach into the network it
runs in: loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT,
multicast, reserved and unspecified addresses are refused, in IPv4 and IPv6,
including IPv6 forms that embed an IPv4 address.  The ranges are listed explicitly
rather than taken from ``ipaddress``'s flags, whose answers change between Python
versions (``::ffff:127.0.0.1`` is not "loopback" on 3.11).
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["BLOCKED_NETWORKS", "WEB_PORTS", "address_verdict", "literal_address"]

# The ports a link may name.  A URL is also a way to make archiver speak HTTP to a
# mail server, a cache or a database on a public address; links to web pages use
# these (the list of Advocate, a guard used in production for the same purpose).
WEB_PORTS = frozenset({80, 443, 8000, 8080, 8443})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA special-purpose registries, IPv4 and IPv6, plus the IPv6 transition ranges
# that carry an IPv4 address inside them (checked again on the embedded address).
BLOCKED_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::ffff:0:0:0/96", "IPv4-translated"),  # RFC 2765 SIIT: ::ffff:0:7f00:1 is 127.0.0.1
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "NAT64"),
        ("100::/64", "discard"),
        ("2001::/32", "Teredo"),
        ("2001:10::/28", "ORCHID"),
        ("2001:20::/28", "ORCHIDv2"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

_HEX_DIGITS = frozenset("0123456789abcdefx.")


def address_verdict(address: str | IPAddress) -> str | None:
    """Return why an address is refused (``"127.0.0.1 is loopback"``), or None if it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    except ValueError:
        return f"{address!s} is not an IP address"
    for network, why in BLOCKED_NETWORKS:
        if ip.version == network.version and ip in network:
            return f"{ip} is {why}"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and address_verdict(embedded):
            return f"{ip} embeds {address_verdict(embedded)}"
    if not ip.is_global:
        return f"{ip} is not a global address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """Return the address a host names literally, in any spelling, or None for a name.

    Besides dotted quads and bracketed IPv6 this catches what the C library also
    accepts as an IPv4 address: ``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
    ``127.1``.
    """
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host:
        return None
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if not set(host) <= _HEX_DIGITS or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
