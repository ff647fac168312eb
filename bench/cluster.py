"""Resolving on a Dask cluster: links a second, CPU per request and politeness, by workers.

Generates N links (20,000 by default) spread over the latency server's 200 ``--spread``
hosts (three responses a link, L=50 ms each), ingests them once, then resolves a fresh
copy of that archive with ``archiver resolve`` in one process and with ``--cluster
local:W`` for each W asked (1, 2 and 4 worker processes on this machine), at the same
per-worker setting.  Wall time is measured around the command (a local cluster's
start-up included, and shown apart); CPU time is the command's and its children's (the
worker processes; ``wait4``), and the coordinator's own beside it (sampled from /proc),
which bounds how far more workers can take a run; the server counts the requests and the most in flight on
any host.  Results in ``bench/results-cluster.md``.

    make bench-cluster
    python bench/cluster.py --links 2000 --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from latency_server import spread_final_url, spread_link  # noqa: E402
from run import PROJECT_PYTHON, control, ingest_posts, latency_server  # noqa: E402

STARTED = re.compile(r"cluster: (\d+) workers at ")


TICKS = os.sysconf("SC_CLK_TCK")


def own_cpu(pid: int) -> float | None:
    """CPU seconds a running process has used itself, its children left out (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def resolve(db: Path, setting: str, workers: int, work: Path) -> dict[str, float]:
    """Resolve ``db`` in one process (workers 0) or on a local cluster; return the measures.

    ``cpu`` is the command's with its children (the worker processes), ``coordinator_cpu``
    the command's own, sampled until it ends.
    """
    concurrency, per_host = setting.split(":")
    command = [
        str(PROJECT_PYTHON), "-m", "archiver", "-q", "resolve", "--db", str(db), "--allow-private",
        "--concurrency", concurrency, "--per-host", per_host,
        *(["--cluster", f"local:{workers}"] if workers else []),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    own = 0.0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        own = own_cpu(process.pid) or own
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"archiver resolve failed: {error[-2000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "coordinator_cpu": own,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def correct(db: Path, count: int, port: int) -> float:
    with sqlite3.connect(db) as conn:
        finals = dict(conn.execute("select url, final_url from links where status = 'ok'").fetchall())
    return (
        sum(1 for i in range(count) if finals.get(spread_link(i, port)) == spread_final_url(i, port)) / count
    )


def start_up(workers: int, work: Path) -> float:
    """Seconds a run takes to start a local cluster of ``workers``, its actors placed, and close it."""
    probe = (
        "import asyncio, time\n"
        "from archiver.cluster import hop_owners\n"
        "from archiver.http import ResolverSettings\n"
        "async def main():\n"
        "    started = time.perf_counter()\n"
        f"    async with hop_owners('local:{workers}', ResolverSettings(), copy_limit=0):\n"
        "        print(time.perf_counter() - started)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    script = work / "start_up.py"
    script.write_text(probe)
    done = subprocess.run(
        [str(PROJECT_PYTHON), str(script)], capture_output=True, text=True, check=True, cwd=work
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--links", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--setting", default="64:4", help="in flight:per host, for each worker")
    parser.add_argument("--workers", default="1,2,4", help="local cluster sizes (0: one process, no cluster)")
    parser.add_argument("--output", default=str(HERE / "results-cluster.md"))
    args = parser.parse_args()
    sizes = [0, *(int(w) for w in args.workers.split(",") if w and int(w))]
    subprocess.run([str(PROJECT_PYTHON), "-m", "compileall", "-q", str(HERE.parent / "archiver")], check=True)
    rows = []
    with latency_server(args.delay, spread=True) as port, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        posts = work / "links.jsonl"
        with posts.open("w") as out:
            for i in range(args.links):
                out.write(json.dumps({"id": str(i), "text": spread_link(i, port)}) + "\n")
        template = work / "template.db"
        ingest_posts(posts, template, cwd=work)
        concurrency = int(args.setting.split(":")[0])
        for workers in sizes:
            db = work / f"run-{workers}.db"
            shutil.copy(template, db)
            control(port, "/__reset")
            measured = resolve(db, args.setting, workers, work)
            stats = control(port, "/__stats")
            requests = stats["requests"]
            floor = args.links * 3 * args.delay / (concurrency * max(1, workers))
            row = {
                "workers": workers,
                **measured,
                "floor": floor,
                "links_per_s": args.links / measured["wall"],
                "cpu_ms": measured["cpu"] / requests * 1000,
                "coordinator_ms": measured["coordinator_cpu"] / requests * 1000,
                "requests": requests,
                "peak_per_host": stats["peak_per_host"],
                "peak_total": stats["peak_total"],
                "correct": correct(db, args.links, port),
                "start_up": start_up(workers, work) if workers else 0.0,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    write_report(rows, args)


def write_report(rows: list[dict[str, float]], args: argparse.Namespace) -> None:
    lines = [
        "# Resolving on a cluster",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. "
        f"N={args.links:,} links over 200 hosts, L={args.delay * 1000:.0f} ms a response, 3 responses a "
        f"link; {args.setting} (in flight:per host) for each worker. The workers are processes on this "
        "one machine (`--cluster local:W`), so they share its cores with the coordinator and the server.",
        "",
        "Command: `" + " ".join(["python bench/cluster.py", *sys.argv[1:]]) + "`",
        "",
        "| workers | wall s | floor s | links/s | CPU s | CPU ms / request | coordinator's CPU ms / request "
        "| requests | most in flight on a host | in flight overall | correct | cluster start-up s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {'one process' if not row['workers'] else int(row['workers'])} | {row['wall']:.1f} | "
            f"{row['floor']:.1f} | {row['links_per_s']:,.0f} | {row['cpu']:.1f} | {row['cpu_ms']:.2f} | "
            f"{row['coordinator_ms']:.2f} | "
            f"{int(row['requests']):,} | {int(row['peak_per_host'])} | {int(row['peak_total'])} | "
            f"{row['correct']:.1%} | {row['start_up']:.1f} |"
        )
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
