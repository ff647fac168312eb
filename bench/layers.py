"""CPU per request, layer by layer: what each part of archiver's HTTP stack costs.

Requests go one at a time to the benchmark's server with no delay, so the time
measured is the client's own work (and a loopback round trip).  From the bottom:
asyncio streams with no HTTP library, httpcore's pool on its own network backend and
on archiver's (archiver/http/backend.py), a plain httpx client, archiver's client
(http.build_client) and archiver's resolver, per hop of a three-hop chain.
At 64 links in flight against 50 ms answers a client sees 1,280 answers a second,
so every 100 µs here is an eighth of a core.

    python bench/layers.py        # writes bench/results-layers.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpcore
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from latency_server import FINALS, link  # noqa: E402
from run import latency_server  # noqa: E402

from archiver.http import ResolverSettings  # noqa: E402
from archiver.http.backend import AsyncioBackend  # noqa: E402
from archiver.http.client import build_client  # noqa: E402
from archiver.resolve import resolve_many  # noqa: E402

Request = Callable[[], Awaitable[None]]

# What a process pays before its first request: the interpreter, asyncio, the
# libraries archiver is built on, and archiver's command line with all it imports.
START_UPS = [
    ("the interpreter (`python -c pass`)", "pass"),
    ("+ asyncio (what the reference client imports)", "import asyncio, json, urllib.parse"),
    (
        "+ httpx, tenacity, tldextract, sqlite-utils",
        "import asyncio, httpx, tenacity, tldextract, sqlite_utils",
    ),
    ("archiver's command line (`import archiver.cli`)", "import archiver.cli"),
]


def start_up(code: str, runs: int = 7) -> float:
    """The shortest wall time of a fresh interpreter running ``code``, in ms."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def measure(request: Request, count: int, *, rounds: int = 3, warm_up: int = 50) -> tuple[float, float]:
    """CPU and wall µs per request: the best of ``rounds`` rounds of ``count`` requests in a row.

    ``warm_up`` requests go first (connections opened, caches warm).  The best round is
    the one least disturbed by the rest of the machine.
    """
    for _ in range(warm_up):
        await request()
    best = (float("inf"), float("inf"))
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await request()
        best = min(
            best, ((time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6)
        )
    return best


async def layers(port: int, count: int) -> list[tuple[str, float, float]]:
    host = FINALS[0]
    url = f"http://{host}:{port}/p/1"
    rows = []

    reader, writer = await asyncio.open_connection(host, port)
    request_line = f"GET /p/1 HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()

    async def raw() -> None:
        writer.write(request_line)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)

    rows.append(("asyncio streams, no HTTP library", *await measure(raw, count)))
    writer.close()

    for name, backend in (
        ("httpcore pool, anyio backend (httpcore's default)", None),
        ("httpcore pool, archiver's asyncio backend", AsyncioBackend()),
    ):
        pool = httpcore.AsyncConnectionPool(network_backend=backend)

        async def core(pool: httpcore.AsyncConnectionPool = pool) -> None:
            async with pool.stream("GET", url) as response:
                async for _ in response.aiter_stream():
                    pass

        rows.append((name, *await measure(core, count)))
        await pool.aclose()

    plain = httpx.AsyncClient()

    async def plain_get() -> None:
        async with plain.stream("GET", url) as response:
            async for _ in response.aiter_raw():
                pass

    rows.append(("httpx.AsyncClient, defaults", *await measure(plain_get, count)))
    await plain.aclose()

    own = build_client(timeout=10, max_connections=1, user_agent="bench", allow_private=True)

    async def own_get() -> None:
        async with own.stream(url) as response:
            async for _ in response.aiter_raw():
                pass

    rows.append(("archiver's client (http.build_client)", *await measure(own_get, count)))
    await own.aclose()

    # The resolver: whole links of three hops, one link at a time, counted per hop.
    settings = ResolverSettings(allow_private=True, concurrency=1, per_host=1)
    links = [link(i, port) for i in range(count // 3)]
    chunks = iter([links[: len(links) // 10]] + [links] * 3)  # a short round to warm up, then 3

    async def resolve_round() -> None:
        async for resolution in resolve_many(next(chunks), settings=settings):
            if resolution.status != "ok":
                raise RuntimeError(f"{resolution.url}: {resolution.status} {resolution.error}")

    await resolve_round()
    cpu, wall = await measure(resolve_round, 1, rounds=3, warm_up=0)
    hops = 3 * len(links)
    rows.append(("archiver's resolver (resolve_many), per hop", cpu / hops, wall / hops))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--requests", type=int, default=3000)
    parser.add_argument("--output", default=str(HERE / "results-layers.md"))
    args = parser.parse_args()
    with latency_server(0.0) as port:
        rows = asyncio.run(layers(port, args.requests))
    lines = [
        "# CPU per request, layer by layer",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"httpcore {httpcore.__version__}. Rounds of {args.requests:,} requests one at a time to the "
        "benchmark's server with no delay (a 200 page of 82 bytes; for the resolver, three-hop "
        "links); the best of three rounds.",
        "",
        f"Command: `{' '.join(['python bench/layers.py', *sys.argv[1:]])}`",
        "",
        "| layer | CPU µs per request | wall µs per request |",
        "|---|---|---|",
        *(f"| {name} | {cpu:,.0f} | {wall:,.0f} |" for name, cpu, wall in rows),
        "",
        "Start-up, the shortest of seven runs:",
        "",
        "| a fresh process running | wall ms |",
        "|---|---|",
        *(f"| {name} | {start_up(code):.0f} |" for name, code in START_UPS),
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
