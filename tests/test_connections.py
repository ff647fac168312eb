"""archiver's asyncio connections for httpcore, against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.server
import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpcore
import pytest
import trustme

from archiver.http.backend import HIGH_WATER, AsyncioBackend
from archiver.models import Resolution
from archiver.resolve import ResolverSettings, resolve_many

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(handle: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_a_large_body_arrives_whole_while_the_buffer_stays_bounded():
    body = bytes(range(256)) * (8 * 1024)  # 2 MiB

    async def send_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()
        writer.close()

    async with tcp_server(send_all) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        received = bytearray()
        largest_buffer = 0
        while True:
            await asyncio.sleep(0.001)  # let the socket deliver more than one read takes
            largest_buffer = max(largest_buffer, len(stream._protocol.buffer))  # type: ignore[attr-defined]
            chunk = await stream.read(4096, timeout=5)
            if not chunk:
                break
            received += chunk
        await stream.aclose()
    assert bytes(received) == body
    # Reading stops once HIGH_WATER is buffered; one socket read may land on top.
    assert largest_buffer <= HIGH_WATER + 256 * 1024


@pytest.mark.asyncio
async def test_a_silent_server_is_a_read_timeout_and_a_closed_port_a_connect_error():
    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async with tcp_server(say_nothing) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1024, timeout=0.2)
        await stream.aclose()
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)


@pytest.mark.asyncio
async def test_an_idle_connection_closed_by_the_server_is_not_reused():
    async def one_answer_then_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async with tcp_server(one_answer_then_hang_up) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        assert stream.get_extra_info("is_readable") is False
        await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        assert await stream.read(1024, timeout=5) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        await asyncio.sleep(0.1)
        # httpcore asks this before reusing a connection: the server has hung up.
        assert stream.get_extra_info("is_readable") is True
        assert await stream.read(1024, timeout=5) == b""
        await stream.aclose()

        # Through httpx and the resolver: two requests, two connections, both answered.
        settings = ResolverSettings(exempt=frozenset({("127.0.0.1", port)}))
        results = [r async for r in resolve_many([f"http://127.0.0.1:{port}/a"], settings=settings)]
        again = [r async for r in resolve_many([f"http://127.0.0.1:{port}/b"], settings=settings)]
    assert [r.status for r in results + again] == ["ok", "ok"]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[int]]]:
    """An HTTPS server whose certificate a test CA signed; yield its URL, the CA file and a
    list that counts the TLS connections it accepted."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    connections: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            connections.append(1)
            super().setup()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/start":
                self.send_response(301)
                self.send_header("Location", "/end")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                body = b"<title>over TLS</title>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", str(ca_file), connections
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_chain_over_one_verified_connection(tls_server, monkeypatch):
    base, ca_file, connections = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    port = int(base.rsplit(":", 1)[1])
    settings = ResolverSettings(exempt=frozenset({("127.0.0.1", port)}))
    connections.clear()

    async def resolve() -> list[Resolution]:
        return [r async for r in resolve_many([f"{base}/start"], settings=settings)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [result] = asyncio.run(resolve())  # a run's own event loop, closed when it ends
        gc.collect()
    # Every connection was closed before the loop ended, the TLS ones included.
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert result.status == "ok", result.error
    assert result.final_url == f"{base}/end"
    assert result.title == "over TLS"
    assert [hop.status_code for hop in result.hops] == [301, 200]
    assert len(connections) == 1  # the redirect's connection carried the second request
