"""The address guard: no request to loopback, private, link-local or other internal addresses."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_resolve import resolve_one, settings_for

from archiver.http import ResolverSettings
from archiver.http.guard import WEB_PORTS, address_verdict, literal_address

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.2.1",
    "::",
    "::1",
    "fe80::1",
    "fec0::1",
    "fd00::1",
    "ff02::2",
    "::ffff:127.0.0.1",
    "::ffff:a9fe:a9fe",
    "::ffff:0:7f00:1",
    "::ffff:0:a9fe:a9fe",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "100.63.255.254", "100.128.0.1", "2606:4700:4700::1111", "93.184.216.34"]


@pytest.mark.parametrize("address", BLOCKED)
def test_internal_addresses_are_refused(address):
    assert address_verdict(address) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert address_verdict(address) is None


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "127.1",
        "017700000001",
        "0177.0.0.1",
        "127.000.000.001",
        "[::ffff:127.0.0.1]",
        "[0:0:0:0:0:ffff:169.254.169.254]",
        "0",
        "4294967295",
    ],
)
def test_literal_spellings_are_recognised_and_refused(host):
    address = literal_address(host)
    assert address is not None
    assert address_verdict(address) is not None


def test_names_are_not_literals():
    assert literal_address("example.com") is None
    assert literal_address("cafe.be") is None
    assert literal_address("1.1.1.1.1") is None


private_ipv4 = st.one_of(
    st.integers(0x7F000000, 0x7FFFFFFF),
    st.integers(0x0A000000, 0x0AFFFFFF),
    st.integers(0xA9FE0000, 0xA9FEFFFF),
    st.integers(0xC0A80000, 0xC0A8FFFF),
    st.integers(0xAC100000, 0xAC1FFFFF),
    st.integers(0x64400000, 0x647FFFFF),
).map(ipaddress.IPv4Address)


@given(private_ipv4)
def test_every_spelling_of_a_private_address_is_refused(ip):
    value = int(ip)
    for spelling in (str(ip), str(value), hex(value), "0" + oct(value)[2:], f"[::ffff:{ip}]"):
        address = literal_address(spelling)
        assert address is not None, spelling
        assert address_verdict(address) is not None, spelling


@given(st.ip_addresses(v=6))
def test_ipv6_verdicts_never_pass_embedded_private_ipv4(ip):
    embedded = ip.ipv4_mapped or ip.sixtofour
    if embedded is not None and address_verdict(embedded):
        assert address_verdict(ip) is not None


# -- end to end, through the client ----------------------------------------------


@pytest.mark.asyncio
async def test_loopback_link_is_blocked_before_any_connection(server):
    base, recorder = server
    result = await resolve_one(f"{base}/final", ResolverSettings())
    assert result.status == "blocked"
    assert recorder.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/to-metadata", "/to-decimal", "/to-mapped"])
async def test_redirect_to_an_internal_literal_is_blocked(server, path):
    base, recorder = server
    result = await resolve_one(base + path, settings_for(base))
    assert result.status == "blocked"
    assert result.hops[0].status_code == 302
    assert len(result.hops) == 2  # the refused URL is kept as the last hop
    assert recorder.paths() == [path]


@pytest.mark.asyncio
async def test_name_resolving_to_loopback_is_blocked(server):
    base, recorder = server

    async def rebinding(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "rebind.test" else ["127.0.0.2"]

    # The first hop is let through on the server's own address and port; the redirect
    # names a host that resolves to a loopback address and must be refused.
    result = await resolve_one(f"{base}/to-name?name=rebind2.test", settings_for(base), resolver=rebinding)
    assert result.status == "blocked"
    assert "127.0.0.2" in (result.error or "")
    assert recorder.paths() == ["/to-name?name=rebind2.test"]


@pytest.mark.asyncio
async def test_public_looking_name_that_resolves_to_127_0_0_1_is_blocked(server):
    base, recorder = server

    async def everything_is_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    result = await resolve_one(
        f"{base}/to-name?name=www.example.com&port=80", settings_for(base), resolver=everything_is_loopback
    )
    assert result.status == "blocked"
    assert "127.0.0.1 is loopback" in (result.error or "")
    assert result.hops[-1].url == "http://www.example.com/final"


@pytest.mark.asyncio
async def test_allow_private_lifts_the_guard(server):
    base, _ = server
    result = await resolve_one(f"{base}/to-decimal-here", ResolverSettings(allow_private=True))
    assert result.status == "ok"
    assert urlsplit(result.final_url or "").hostname == "2130706433"


@pytest.mark.asyncio
async def test_environment_proxy_is_ignored(server, monkeypatch):
    base, recorder = server
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    result = await resolve_one(f"{base}/final", settings_for(base))
    assert result.status == "ok"
    assert recorder.paths() == ["/final"]


@pytest.mark.asyncio
async def test_tls_failure_with_an_untrusted_certificate(tmp_path):
    import http.server
    import ssl
    import threading

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)

    class QuietServer(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # the failed handshake is the point
            pass

    httpd = QuietServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        result = await resolve_one(
            f"https://127.0.0.1:{port}/", ResolverSettings(exempt=frozenset({("127.0.0.1", port)}))
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.status == "tls_error"


@pytest.mark.asyncio
async def test_proxy_resolves_names_and_literals_are_still_checked(server, forward_proxy):
    base, recorder = server
    proxy, seen = forward_proxy
    port = urlsplit(base).port
    settings = ResolverSettings(proxy=proxy, ports=WEB_PORTS | {port}, probe=False)
    # The name does not resolve here; the proxy resolves it (to the test server).
    result = await resolve_one(f"http://archive-target.test:{port}/hop/1", settings)
    assert result.status == "ok"
    assert seen == [f"http://archive-target.test:{port}/hop/1", f"http://archive-target.test:{port}/hop/0"]
    # An internal IP literal is refused here, before anything reaches the proxy.
    refused = await resolve_one(f"http://169.254.169.254:{port}/latest", settings)
    assert refused.status == "blocked"
    assert len(seen) == 2


# -- ports -------------------------------------------------------------------------


class RecordingResolver:
    """A DNS that knows no name and remembers what it was asked."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.names.append(host)
        raise OSError(-2, "Name or service not known")


@pytest.mark.asyncio
@pytest.mark.parametrize("port", [22, 25, 6379, 11211, 65535])
async def test_a_link_to_a_non_web_port_is_blocked_before_any_lookup(port):
    dns = RecordingResolver()
    result = await resolve_one(f"http://mail.example.com:{port}/", ResolverSettings(), resolver=dns)
    assert result.status == "blocked"
    assert f"port {port} is not a web port" in (result.error or "")
    assert dns.names == []


@pytest.mark.asyncio
@pytest.mark.parametrize("url", ["http://example.com/", "https://example.com/", "http://example.com:8080/"])
async def test_web_ports_go_on_to_the_lookup(url):
    dns = RecordingResolver()
    result = await resolve_one(url, ResolverSettings(), resolver=dns)
    assert result.status == "dns_error"
    assert dns.names == ["example.com"]


@pytest.mark.asyncio
async def test_allow_port_adds_a_port():
    dns = RecordingResolver()
    settings = ResolverSettings(ports=WEB_PORTS | {8888})
    result = await resolve_one("http://example.com:8888/", settings, resolver=dns)
    assert result.status == "dns_error"
    assert dns.names == ["example.com"]


@pytest.mark.asyncio
async def test_a_redirect_to_a_non_web_port_is_blocked(server):
    base, recorder = server
    dns = RecordingResolver()
    result = await resolve_one(
        f"{base}/to-name?name=cache.example.com&port=6379", settings_for(base), resolver=dns
    )
    assert result.status == "blocked"
    assert result.hops[-1].url == "http://cache.example.com:6379/final"
    assert recorder.paths() == ["/to-name?name=cache.example.com&port=6379"]
    assert dns.names == []
