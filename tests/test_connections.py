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

from archiver.http import ResolverSettings
from archiver.http.backend import HIGH_WATER, AsyncioBackend
from archiver.http.pool import KeepAlivePool
from archiver.models import Resolution
from archiver.resolve import resolve_many

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


# -- archiver's HTTP/1.1 connections (h11 over these streams) ---------------------------


def _pool() -> KeepAlivePool:
    return KeepAlivePool(backend=AsyncioBackend(), ssl_context=ssl.create_default_context(), max_idle=2)


async def _get(pool: KeepAlivePool, port: int, path: str = "/", *, read: bool = True) -> tuple[int, bytes]:
    request = httpcore.Request(
        "GET",
        f"http://127.0.0.1:{port}{path}",
        headers=[(b"Host", f"127.0.0.1:{port}".encode())],
        extensions={"timeout": {"connect": 5, "read": 5, "write": 5}},
    )
    response = await pool.handle_async_request(request)
    body = b""
    if read:
        body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
    await response.stream.aclose()  # type: ignore[union-attr]
    return response.status, body


@contextlib.asynccontextmanager
async def answering(*answers: bytes) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that answers the n-th request of each connection with answers[n]
    (the last one again after that); yield its port and the requests' first lines,
    each prefixed with the number of the connection that carried it."""
    seen: list[bytes] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        try:
            for index in range(100):
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(b"%d " % number + head.split(b"\r\n", 1)[0])
                writer.write(answers[min(index, len(answers) - 1)])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up
        finally:
            writer.close()

    async with tcp_server(handle) as port:
        yield port, seen


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.asyncio
async def test_a_connection_carries_the_next_request_once_its_answer_was_read():
    pool = _pool()
    async with answering(OK) as (port, seen):
        assert await _get(pool, port, "/a") == (200, b"ok")
        assert await _get(pool, port, "/b") == (200, b"ok")
        await pool.aclose()
    assert seen == [b"1 GET /a HTTP/1.1", b"1 GET /b HTTP/1.1"]


@pytest.mark.asyncio
async def test_an_answer_left_unread_or_ending_the_connection_is_never_followed_on_it():
    long_body = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100_000
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    pool = _pool()
    async with answering(long_body) as (port, seen):
        assert await _get(pool, port, "/unread", read=False) == (200, b"")
        assert (await _get(pool, port, "/next"))[0] == 200
        await pool.aclose()
    assert seen == [b"1 GET /unread HTTP/1.1", b"2 GET /next HTTP/1.1"]
    async with answering(closing) as (port, seen):
        assert await _get(pool, port, "/a") == (200, b"ok")
        assert await _get(pool, port, "/b") == (200, b"ok")
        await pool.aclose()
    assert seen == [b"1 GET /a HTTP/1.1", b"2 GET /b HTTP/1.1"]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nok",  # a body where none may be
        b"HTTP/1.1 304 Not Modified\r\n\r\n<title>Not Found</title>",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged",
    ],
    ids=["body on a 204", "body on a 304", "more than Content-Length"],
)
@pytest.mark.asyncio
async def test_bytes_after_an_answers_end_never_answer_the_next_request(answer):
    # They were read as the next request's answer: a run stored the soft-404 probe's page
    # title on another link of the same host.
    pool = _pool()
    seen: list[bytes] = []

    async def by_path(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0]
                seen.append(line)
                writer.write(answer if b" /first " in line else OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up
        finally:
            writer.close()

    async with tcp_server(by_path) as port:
        await _get(pool, port, "/first")
        assert await _get(pool, port, "/second") == (200, b"ok")
        await pool.aclose()
    assert seen == [b"GET /first HTTP/1.1", b"GET /second HTTP/1.1"]


@pytest.mark.asyncio
async def test_interim_answers_are_skipped_for_the_final_one():
    pool = _pool()
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
    async with answering(interim + OK) as (port, _):
        assert await _get(pool, port) == (200, b"ok")
        await pool.aclose()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"", "Server disconnected without sending a response"),
        (b"SMTP ready\r\n\r\n", "illegal status line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (101 * 1024), "Receive buffer too long"),  # headers past 100 KB
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "peer closed connection"),  # cut off
    ],
    ids=["no answer", "not HTTP", "endless headers", "short body"],
)
@pytest.mark.asyncio
async def test_a_broken_answer_is_a_protocol_error_and_its_connection_is_closed(answer, message):
    pool = _pool()

    async def hang_up_after(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async with tcp_server(hang_up_after) as port:
        with pytest.raises(httpcore.RemoteProtocolError, match=message):
            await _get(pool, port)
        assert await _idle_connections(pool) == 0
        await pool.aclose()


async def _idle_connections(pool: KeepAlivePool) -> int:
    """How many connections the pool would hand out again (it reuses the newest first)."""
    count = 0
    while await pool._reusable(httpcore.Origin(b"http", b"127.0.0.1", 0)) is not None:  # noqa: SLF001
        count += 1
    return count
