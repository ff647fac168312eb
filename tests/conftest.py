"""Shared fixtures: a real HTTP server on 127.0.0.1 with a route for every behaviour."""

from __future__ import annotations

import contextlib
import gzip
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def new_archives_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests start their archive with a plain ``archive`` or ``ingest``: as
    ARCHIVER_CREATE=1 (``--create``) allows.  Tests of the refusal to start one
    unasked take the variable away."""
    monkeypatch.setenv("ARCHIVER_CREATE", "1")


def best_time(read, argument, rounds: int = 3) -> float:
    """Return the shortest of ``rounds`` CPU times of ``read(argument)`` in this thread, in seconds.

    For the tests that a reader is linear: its time on an input four times as long.  The
    thread's own CPU time, so that tests running beside it on the other core do not count.
    """
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        read(argument)
        times.append(time.thread_time() - start)
    return min(times)


SEED_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"

# Large bodies are built once, so that building them does not count as the
# memory the client used to read them.
HUGE_BODY = b"<title>huge</title>" + b"x" * (8 * 1024 * 1024)
GZIP_BOMB = gzip.compress(b"\0" * (20 * 1024 * 1024))
GZIP_GZIP_BOMB = gzip.compress(GZIP_BOMB)


class Recorder:
    """What the test server saw: every request, and the peak of requests in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str]] = []  # (method, host header, path)
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.counters: defaultdict[str, int] = defaultdict(int)

    def enter(self, method: str, host: str, path: str) -> None:
        with self.lock:
            self.requests.append((method, host, path))

    def busy(self, host: str, seconds: float) -> None:
        """Count this request as in flight while it waits; the peaks are never overstated."""
        with self.lock:
            self.in_flight[host] += 1
            self.peak[host] = max(self.peak[host], self.in_flight[host])
            self.peak_total = max(self.peak_total, sum(self.in_flight.values()))
        try:
            time.sleep(seconds)
        finally:
            with self.lock:
                self.in_flight[host] -= 1

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, _, path in self.requests]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.peak.clear()
            self.peak_total = 0
            self.counters.clear()


class Handler(BaseHTTPRequestHandler):
    recorder: Recorder
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        if self.path.startswith("/head405"):
            self._send(405)
            return
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        host = self.headers.get("Host", "")
        self.recorder.enter(self.command, host, self.path)
        # The client may hang up early, as the resolver does once it has read enough.
        with contextlib.suppress(OSError):
            self._route(urlsplit(self.path), host)

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location: str, code: int = 302) -> None:
        self._send(code, b"", {"Location": location})

    def _route(self, parts, host: str) -> None:  # noqa: C901 - one route table
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        port = self.server.server_address[1]
        if path.startswith("/hop/"):
            n = int(path.rsplit("/", 1)[1])
            if n > 0:
                self._redirect(f"/hop/{n - 1}", code=int(query.get("code", 302)))
            else:
                self._send(200, b"<html><head><title>Hop zero</title></head><body>end</body></html>")
        elif path == "/final":
            self._send(200, b"<html><head><title>The final page</title></head><body>ok</body></html>")
        elif path == "/rel/a":
            self._redirect("../rel/b", 301)
        elif path == "/rel/b":
            self._redirect("/final?from=rel", 308)
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"status page")
        elif path == "/loop":
            self._redirect("/loop")
        elif path == "/loop-a":
            self._redirect("/loop-b")
        elif path == "/loop-b":
            self._redirect("/loop-a", 307)
        elif path == "/meta":
            self._send(
                200,
                b'<html><head><noscript><META http-equiv="refresh" content="0;URL=/final"></noscript>'
                b"</head><body>moving</body></html>",
            )
        elif path == "/js":
            self._send(200, b'<html><script>location.replace("\\/final")</script></html>')
        elif path == "/refresh":
            self._send(200, b"refreshing", {"Refresh": "0; url=/final"})
        elif path.startswith("/flaky/"):
            key = path
            self.recorder.counters[key] += 1
            if self.recorder.counters[key] <= int(query.get("fail", 2)):
                self._send(int(query.get("code", 503)), b"busy")
            else:
                self._redirect("/final", 301)
        elif path.startswith("/retry-after/"):
            key = path
            self.recorder.counters[key] += 1
            if self.recorder.counters[key] <= int(query.get("fail", 1)):
                self._send(429, b"slow down", {"Retry-After": query.get("value", "3")})
            else:
                self._send(200, b"<title>after waiting</title>")
        elif path == "/slow":
            time.sleep(float(query.get("seconds", 3)))
            self._send(200, b"late")
        elif path == "/delay":
            self.recorder.busy(host, float(query.get("ms", 50)) / 1000)
            self._send(200, b"<title>delayed</title>")
        elif path == "/go":  # a shortener: a while, then a redirect to ?to=
            self.recorder.busy(host, float(query.get("ms", 50)) / 1000)
            self._redirect(query["to"])
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        elif path == "/huge":
            self._send(200, HUGE_BODY)
        elif path == "/gzip-bomb":
            self._send(200, GZIP_BOMB, {"Content-Encoding": "gzip"})
        elif path == "/gzip-gzip":
            self._send(200, GZIP_GZIP_BOMB, {"Content-Encoding": "gzip, gzip"})
        elif path == "/to-javascript":
            self._redirect("javascript:alert(1)")
        elif path == "/to-bad-punycode":
            self._redirect("http://xn--zz.example.com/")
        elif path == "/odd-charset":
            self._send(200, b"<title>Odd \xff charset</title>", {"Content-Type": "text/html; charset=zip"})
        elif path == "/to-userinfo":
            self._redirect("http://[::1]@evil.example/")
        elif path == "/to-data":
            self._redirect("data:text/html,<script>alert(1)</script>")
        elif path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif path == "/to-decimal":
            self._redirect("http://2130706433/latest/meta-data/")
        elif path == "/to-decimal-here":
            self._redirect(f"http://2130706433:{port}/final")
        elif path == "/to-mapped":
            self._redirect(f"http://[::ffff:127.0.0.1]:{port}/final")
        elif path == "/to-name":
            self._redirect(f"http://{query['name']}:{query.get('port', port)}/final")
        elif path == "/protocol-relative":
            self._redirect(f"//{host}/final")
        elif path == "/head405":
            self._redirect("/final", 301)
        elif path == "/cookie/flood":
            # A host that answers thousands of cookies, then shows what it was sent.
            self.send_response(302)
            for n in range(int(query.get("n", "3000"))):
                self.send_header("Set-Cookie", f"c{n}=v")
            self.send_header("Location", "/cookie/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/cookie/echo":
            sent = len(self.headers.get("Cookie") or "")
            self._send(200, f"<title>cookie bytes: {sent}</title>".encode())
        elif path == "/cookie/set":
            self._send(302, b"", {"Location": "/cookie/check", "Set-Cookie": "seen=1; Path=/cookie"})
        elif path == "/cookie/check":
            if "seen=1" in self.headers.get("Cookie", ""):
                self._send(200, b"<title>with cookie</title>")
            else:
                self._redirect("/cookie/set")
        elif path == "/no-location":
            self._send(302, b"nowhere")
        elif path == "/feeds/blog.xml":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304, b"", {"ETag": '"v1"'})
            else:
                body = (FIXTURES / "feed" / "blog.xml").read_bytes()
                self._send(
                    200,
                    body,
                    {
                        "Content-Type": "application/rss+xml",
                        "ETag": '"v1"',
                        "Last-Modified": "Thu, 16 May 2024 18:00:00 GMT",
                    },
                )
        elif path == "/feeds/turns-into-html.xml":
            self.recorder.counters[path] += 1
            name = "blog.xml" if self.recorder.counters[path] == 1 else "error-page.html"
            self._send(200, (FIXTURES / "feed" / name).read_bytes())
        elif path == "/feeds/moved":
            self._redirect("/feeds/moved-again", 301)
        elif path == "/feeds/moved-again":
            self._redirect("/feeds/blog.xml", 302)
        elif path == "/feed-page":
            self._send(200, (FIXTURES / "page" / "embedded.html").read_bytes())
        else:
            self._send(404, b"not found")


class TestServer(ThreadingHTTPServer):
    """A threading server that stays quiet when a client hangs up, as the resolver does on purpose."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_in_thread(server: ThreadingHTTPServer) -> Iterator[str]:
    """Run a server in a daemon thread; yield its base URL, then shut it down."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def http_server() -> Iterator[tuple[str, Recorder]]:
    """Start the test server on 127.0.0.1 on a free port; yield its base URL and recorder."""
    recorder = Recorder()
    handler = type("BoundHandler", (Handler,), {"recorder": recorder})
    with serve_in_thread(TestServer(("127.0.0.1", 0), handler)) as base:
        yield base, recorder


@pytest.fixture
def server(http_server: tuple[str, Recorder]) -> tuple[str, Recorder]:
    """The session's test server with a fresh request log."""
    base, recorder = http_server
    recorder.reset()
    return base, recorder


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ForwardProxy(BaseHTTPRequestHandler):
    """A plain HTTP forward proxy that sends every request to the test server, whatever its host."""

    target: tuple[str, int]
    seen: list[str]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        import http.client

        self.seen.append(self.path)
        parts = urlsplit(self.path)
        upstream = http.client.HTTPConnection(*self.target, timeout=10)
        upstream.request(
            "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers={"Host": parts.netloc}
        )
        response = upstream.getresponse()
        body = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        upstream.close()


@pytest.fixture
def forward_proxy(http_server: tuple[str, Recorder]) -> Iterator[tuple[str, list[str]]]:
    """Start a forward proxy in front of the test server; yield its URL and the requests it saw."""
    base, _ = http_server
    seen: list[str] = []
    target = ("127.0.0.1", int(urlsplit(base).port or 80))
    handler = type("BoundProxy", (ForwardProxy,), {"target": target, "seen": seen})
    with serve_in_thread(TestServer(("127.0.0.1", 0), handler)) as proxy:
        yield proxy, seen


@pytest.fixture
def tiny_disk(tmp_path):
    """A 300 KB tmpfs; skipped where mounting is not allowed."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
