"""archiver's benchmark: link resolution against a latency-injecting local server.

Runs archiver and the tools researchers use today (urlexpander, minet resolve, a plain
asyncio + httpx loop, a sequential loop) on the same generated workload, each in its
own process, and prints one Markdown table (also written to bench/results.md).

    make bench                      # N=2,000, L=50 ms, at 20:2 and 64:8
    python bench/run.py --help

No request leaves the machine: the server listens on 127.0.0.x addresses only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = HERE / ".venv"
PROJECT_PYTHON = Path(sys.executable)
sys.path.insert(0, str(HERE))

from latency_server import SHORTENERS, final_url, link  # noqa: E402

# The kinds of server every setting is measured against: the latency server alone, and
# the same server spending CPU on each response as a real web server or proxy does.
SERVERS = {"latency": 0.0, "cpu 0.5 ms": 0.5}


@dataclass
class Result:
    server: str
    tool: str
    setting: str
    links: int
    wall: float
    floor: float
    correct: float
    cpu: float
    peak_rss_mb: float
    requests: int
    peak_per_host: int
    peak_total: int

    def row(self) -> str:
        return (
            f"| {self.server} | {self.tool} | {self.setting} | {self.links:,} | "
            f"{self.wall:.1f} | {self.floor:.2f} | "
            f"{self.wall / self.floor:.2f} | {self.links / self.wall:,.0f} | {self.correct:.1%} | "
            f"{self.cpu:.1f} | {self.cpu / max(1, self.requests) * 1000:.2f} | "
            f"{self.peak_rss_mb:.0f} | {self.requests:,} | {self.peak_per_host} | "
            f"{self.peak_total} |"
        )


# Not a tool: asyncio streams and no HTTP library, the closest any Python client can
# come to the floor against this server on this machine (bench/peers/raw_asyncio.py).
REFERENCE = "raw asyncio streams (reference)"

HEADER = (
    "| server | tool | in flight : per host | links | wall s | floor s | wall / floor | links/s "
    "| correct final URLs | CPU s | CPU ms / request | peak RSS MB | requests | peak per host "
    "| peak in flight |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def control(port: int, path: str) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.2:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def latency_server(
    delay: float, cpu_ms: float = 0.0, page_kb: int = 0, spread: bool = False
) -> Iterator[int]:
    """Start bench/latency_server.py on a free port; yield the port."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "latency_server.py"),
            "--port",
            str(port),
            "--delay",
            str(delay),
            "--cpu-ms",
            str(cpu_ms),
            "--page-kb",
            str(page_kb),
            *(["--spread"] if spread else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        if not server.stdout.readline().startswith("ready"):
            raise RuntimeError("the latency server did not start")
        yield port
    finally:
        server.terminate()
        server.wait()


@contextlib.contextmanager
def forward_proxy() -> Iterator[str]:
    """Start bench/forward_proxy.py on a free port of 127.0.0.3; yield its URL."""
    port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, str(HERE / "forward_proxy.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.stdout is not None
        if not proxy.stdout.readline().startswith("ready"):
            raise RuntimeError("the forward proxy did not start")
        yield f"http://127.0.0.3:{port}"
    finally:
        proxy.terminate()
        proxy.wait()


# The tools that can send their requests through a proxy.
PROXY_TOOLS = ("archiver", "minet resolve")


def ensure_peers() -> None:
    """Install the peer tools into bench/.venv, once."""
    stamp = PEERS_VENV / ".installed"
    if stamp.exists() and stamp.read_text() == (HERE / "requirements.txt").read_text():
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)], check=True)
    subprocess.run(
        [
            str(PEERS_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(HERE / "requirements.txt"),
        ],
        check=True,
    )
    stamp.write_text((HERE / "requirements.txt").read_text())


class Measured(NamedTuple):
    wall: float  # seconds, around the process
    cpu: float  # seconds of CPU, user and system, the process's own
    rss_mb: float  # the process's own peak RSS


def run_measured(command: list[str], *, cwd: Path) -> Measured:
    """Run a command; return its wall time, CPU time and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {error[-2000:]}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def correct_fraction(results: dict[str, str], indices: list[int], port: int) -> float:
    good = sum(1 for i in indices if results.get(link(i, port)) == final_url(i, port))
    return good / len(indices)


def resolve_command(
    db: Path, concurrency: int, per_host: int, *, verbosity: str = "-q", proxy: str | None = None
) -> list[str]:
    """The `archiver resolve` command line every benchmark of archiver runs."""
    return [
        str(PROJECT_PYTHON),
        "-m",
        "archiver",
        verbosity,
        "resolve",
        "--db",
        str(db),
        "--allow-private",
        "--concurrency",
        str(concurrency),
        "--per-host",
        str(per_host),
        *(["--proxy", proxy] if proxy else []),
    ]


def ingest_posts(posts: Path, db: Path, *, cwd: Path | None = None) -> None:
    """Ingest ``posts`` into a new archive at ``db``: the first step of every resolve benchmark."""
    subprocess.run(
        [str(PROJECT_PYTHON), "-m", "archiver", "-q", "ingest", str(posts), "--db", str(db), "--create"],
        check=True,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
    )


def bench_archiver(
    work: Path, indices: list[int], port: int, concurrency: int, per_host: int, proxy: str | None = None
) -> tuple[Measured, dict[str, str]]:
    db = work / "archiver.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    posts = work / "links.jsonl"
    posts.write_text("".join(json.dumps({"id": str(i), "text": link(i, port)}) + "\n" for i in indices))
    ingest_posts(posts, db)
    control(port, "/__reset")
    measured = run_measured(resolve_command(db, concurrency, per_host, proxy=proxy), cwd=work)
    with sqlite3.connect(db) as conn:
        results = dict(conn.execute("select url, final_url from links"))
    return measured, results


def bench_peer(
    tool: str,
    work: Path,
    indices: list[int],
    port: int,
    concurrency: int,
    per_host: int,
    proxy: str | None = None,
) -> tuple[Measured, dict[str, str]]:
    urls = work / "urls.txt"
    urls.write_text("".join(link(i, port) + "\n" for i in indices))
    output = work / f"{tool}.out"
    peers_python = str(PEERS_VENV / "bin" / "python")
    if tool == "urlexpander":
        command = [
            peers_python,
            str(HERE / "peers" / "urlexpander_run.py"),
            str(urls),
            str(output),
            str(concurrency),
        ]
    elif tool == "minet resolve":
        table = work / "urls.csv"
        with table.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["url"])
            writer.writerows([link(i, port)] for i in indices)
        command = [
            str(PEERS_VENV / "bin" / "minet"),
            "resolve",
            "url",
            "-i",
            str(table),
            "-t",
            str(concurrency),
            "--domain-parallelism",
            str(per_host),
            "--throttle",
            "0",
            "--silent",
            "-o",
            str(output),
            *(["-x", proxy] if proxy else []),
        ]
    elif tool == "asyncio + httpx (one pool)":
        command = [
            str(PROJECT_PYTHON),
            str(HERE / "peers" / "httpx_pool.py"),
            str(urls),
            str(output),
            str(concurrency),
        ]
    elif tool == REFERENCE:
        command = [
            str(PROJECT_PYTHON),
            str(HERE / "peers" / "raw_asyncio.py"),
            str(urls),
            str(output),
            str(concurrency),
            str(per_host),
        ]
    elif tool == "sequential loop":
        command = [str(PROJECT_PYTHON), str(HERE / "peers" / "sequential.py"), str(urls), str(output)]
    else:
        raise ValueError(tool)
    control(port, "/__reset")
    measured = run_measured(command, cwd=work)
    if tool == "minet resolve":
        with output.open(newline="") as handle:
            results = {row["url"]: row["resolved_url"] for row in csv.DictReader(handle)}
    else:
        results = json.loads(output.read_text())
    return measured, results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--links", type=int, default=2000)
    parser.add_argument(
        "--delay", type=float, default=0.05, help="seconds the server waits before each response"
    )
    parser.add_argument("--settings", default="20:2,64:8", help="in flight:per host pairs")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"kinds of server: {', '.join(SERVERS)}")
    parser.add_argument(
        "--routes",
        default="direct,proxy",
        help="direct, and/or through a forward proxy (archiver and minet only)",
    )
    parser.add_argument(
        "--tools",
        default=f"archiver,urlexpander,minet resolve,asyncio + httpx (one pool),{REFERENCE},sequential loop",
    )
    parser.add_argument(
        "--sequential-links", type=int, default=100, help="links for the sequential loop (it is slow)"
    )
    parser.add_argument("--output", default=str(HERE / "results.md"))
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if any(t != "archiver" for t in tools):
        ensure_peers()
    # Compiled once before any timing: the first timed run would otherwise pay for
    # compiling every module changed since the last run.
    subprocess.run([str(PROJECT_PYTHON), "-m", "compileall", "-q", str(HERE.parent / "archiver")], check=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        routes = [name.strip() for name in args.routes.split(",") if name.strip()]
        for route in routes:
            for server in [name.strip() for name in args.servers.split(",") if name.strip()]:
                for number, setting in enumerate(args.settings.split(",")):
                    chosen = tools if route == "direct" else [t for t in tools if t in PROXY_TOOLS]
                    results += bench_setting(args, work, chosen, server, number, setting, route)
    write_report(results, args)


def bench_setting(
    args: argparse.Namespace,
    work: Path,
    tools: list[str],
    server: str,
    number: int,
    setting: str,
    route: str = "direct",
) -> list[Result]:
    """Measure every tool at one setting against one kind of server, directly or through a proxy."""
    results: list[Result] = []
    concurrency, per_host = (int(x) for x in setting.split(":"))
    for tool in tools:
        if tool == "sequential loop" and (number > 0 or server != next(iter(SERVERS)) or route != "direct"):
            continue  # one link at a time whatever the setting: measured once
        # A fresh server for each tool: no tool inherits another's connections.
        with (
            latency_server(args.delay, SERVERS[server]) as port,
            forward_proxy() if route == "proxy" else contextlib.nullcontext(None) as proxy,
        ):
            count = args.sequential_links if tool == "sequential loop" else args.links
            indices = list(range(count))
            effective = 1 if tool == "sequential loop" else min(concurrency, per_host * len(SHORTENERS))
            floor = count * 3 * args.delay / effective
            if tool == "archiver":
                measured, resolved = bench_archiver(work, indices, port, concurrency, per_host, proxy)
            else:
                measured, resolved = bench_peer(tool, work, indices, port, concurrency, per_host, proxy)
            stats = control(port, "/__stats")
            result = Result(
                server if route == "direct" else f"{server}, via proxy",
                tool,
                setting if tool != "sequential loop" else "1:1",
                count,
                measured.wall,
                floor,
                correct_fraction(resolved, indices, port),
                measured.cpu,
                measured.rss_mb,
                stats["requests"],
                stats["peak_per_host"],
                stats["peak_total"],
            )
            results.append(result)
            print(result.row(), flush=True)
    return results


def write_report(results: list[Result], args: argparse.Namespace) -> None:
    command = "python bench/run.py " + " ".join(sys.argv[1:])
    lines = [
        "# Benchmark results",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}. N={args.links:,} links, "
        f"L={args.delay * 1000:.0f} ms per response, 3 responses a link (shortener 301, final host 301, "
        "final page 200), 20 shortener "
        f"hosts and 50 final hosts on 127.0.0.x.",
        "",
        f"Command: `{command.strip()}`",
        "",
        "The floor is N × 3 × L / (links in flight): no tool can finish sooner. Servers: "
        "`latency` waits L before each response; `cpu 0.5 ms` also spends 0.5 ms of CPU on each, "
        "competing with the client for the machine's cores.",
        "",
        HEADER,
        *(r.row() for r in results),
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
