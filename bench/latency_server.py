"""A latency-injecting HTTP/1.1 server for the benchmark, on loopback addresses only.

It listens on one port of many 127.0.0.x addresses, so that each address is a host of
its own: 20 shorteners (127.0.0.10-29) and 50 final hosts (127.0.0.100-149).  Every
response waits ``--delay`` seconds.  A link ``/s/<i>`` on a shortener redirects to
``/r/<i>`` on its final host, which redirects to ``/p/<i>``, a 200 page: three responses
a link.  With ``--spread`` it also listens on 200 more addresses (127.0.1.1-200), whose
links ``/t/<i>`` redirect to ``/u/<i>`` on another of them, then to ``/p/<i>``: a
collection whose links spread over many hosts.  With ``--cpu-ms`` every response also
costs that much CPU in the server's one process, as a real web server or proxy spends
on each request, so the server competes with the client for the machine's cores.
``GET /__stats`` on 127.0.0.2 reports requests and the peak in flight per host;
``GET /__reset`` clears them.  It prints ``ready <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import time
from collections import Counter

SHORTENERS = [f"127.0.0.{10 + i}" for i in range(20)]
FINALS = [f"127.0.0.{100 + i}" for i in range(50)]
SPREAD = [f"127.0.1.{1 + i}" for i in range(200)]
CONTROL = "127.0.0.2"
PAGE = b"<!doctype html><html><head><title>final page</title></head><body>ok</body></html>"


def padded_page(kilobytes: int) -> bytes:
    """Return a final page of about ``kilobytes`` KB of article-like text and markup.

    Words are drawn (seeded) from a vocabulary of a few thousand made-up words, so the page
    compresses about as much as a real article's HTML (3 to 4 times), not as a repeated word.
    """
    if not kilobytes:
        return PAGE
    chance = random.Random(kilobytes)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    vocabulary = [
        "".join(chance.choice(letters[: 8 + n % 18]) for _ in range(2 + n % 9)) for n in range(4000)
    ]
    paragraphs = []
    size = 0
    while size < kilobytes * 1024:
        words = " ".join(chance.choice(vocabulary) for _ in range(chance.randint(40, 120)))
        paragraph = f'<p class="para-{chance.randint(1, 9)}">{words.capitalize()}.</p>\n'
        paragraphs.append(paragraph)
        size += len(paragraph)
    body = "<article>" + "".join(paragraphs) + "</article>"
    return PAGE.replace(b"<body>ok</body>", b"<body>" + body.encode() + b"</body>")


def final_host(i: int) -> str:
    return FINALS[(i * 7) % len(FINALS)]


def link(i: int, port: int) -> str:
    return f"http://{SHORTENERS[i % len(SHORTENERS)]}:{port}/s/{i}"


def final_url(i: int, port: int) -> str:
    return f"http://{final_host(i)}:{port}/p/{i}"


def spread_host(i: int) -> str:
    return SPREAD[i % len(SPREAD)]


def spread_link(i: int, port: int) -> str:
    """The i-th link of a collection spread over the 200 ``--spread`` hosts."""
    return f"http://{spread_host(i)}:{port}/t/{i}"


def spread_final_url(i: int, port: int) -> str:
    return f"http://{spread_host(i * 7 + 3)}:{port}/p/{i}"


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0

    def enter(self, host: str) -> None:
        self.requests += 1
        self.in_flight[host] += 1
        self.peak[host] = max(self.peak[host], self.in_flight[host])
        self.peak_total = max(self.peak_total, sum(self.in_flight.values()))

    def leave(self, host: str) -> None:
        self.in_flight[host] -= 1

    def report(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "peak_per_host": max([*self.peak.values(), 0]),
            "peak_total": self.peak_total,
        }


class Connection(asyncio.Protocol):
    def __init__(self, stats: Stats, delay: float, port: int, cpu: float = 0.0, page: bytes = PAGE) -> None:
        self.page = page
        self.stats = stats
        self.delay = delay
        self.port = port
        self.cpu = cpu
        self.buffer = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.host = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.host = transport.get_extra_info("sockname")[0]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        if self.busy or b"\r\n\r\n" not in self.buffer:
            return
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        if self.host == CONTROL:
            self._control(path)
            return
        self.busy = True
        self.stats.enter(self.host)
        asyncio.get_running_loop().call_later(self.delay, self._respond, path)

    def _control(self, path: str) -> None:
        if path == "/__reset":
            self.stats.__init__()  # type: ignore[misc]
        body = json.dumps(self.stats.report()).encode()
        self._write(200, body, "application/json")

    def _respond(self, path: str) -> None:
        self.stats.leave(self.host)
        self.busy = False
        if self.cpu:
            done = time.process_time() + self.cpu
            while time.process_time() < done:
                pass
        kind, _, number = path.strip("/").partition("/")
        try:
            i = int(number)
        except ValueError:
            self._write(404, b"not found")
            return
        if kind == "s":
            self._write(301, b"", location=f"http://{final_host(i)}:{self.port}/r/{i}")
        elif kind == "r":
            self._write(301, b"", location=f"http://{final_host(i)}:{self.port}/p/{i}")
        elif kind == "t":
            self._write(301, b"", location=f"http://{spread_host(i * 7 + 3)}:{self.port}/u/{i}")
        elif kind == "u":
            self._write(301, b"", location=f"http://{spread_host(i * 7 + 3)}:{self.port}/p/{i}")
        elif kind == "p":
            self._write(200, self.page)
        else:
            self._write(404, b"not found")
        self._next()

    def _write(
        self, status: int, body: bytes, content_type: str = "text/html", location: str | None = None
    ) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        )
        if location:
            head += f"Location: {location}\r\n"
        self.transport.write(head.encode() + b"\r\n" + body)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy:
            self.stats.leave(self.host)


async def serve(port: int, delay: float, cpu: float = 0.0, page: bytes = PAGE, spread: bool = False) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    servers = []
    for host in [CONTROL, *SHORTENERS, *FINALS, *(SPREAD if spread else [])]:
        server = await loop.create_server(
            lambda: Connection(stats, delay, port, cpu, page), host, port, backlog=1024, reuse_address=True
        )
        servers.append(server)
    print(f"ready {port}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--cpu-ms", type=float, default=0.0, help="CPU milliseconds each response costs")
    parser.add_argument("--page-kb", type=int, default=0, help="size of the final pages (0: a tiny page)")
    parser.add_argument("--spread", action="store_true", help="also listen on 200 hosts, 127.0.1.1-200")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay, args.cpu_ms / 1000, padded_page(args.page_kb), args.spread))


if __name__ == "__main__":
    main()
