"""Where archiver's CPU goes while it resolves: a py-spy profile of the benchmark's run.

Runs ``archiver resolve`` on the benchmark's workload (2,000 links by default, at one
in-flight:per-host setting) under py-spy, writes a flame graph and the raw samples
to ``bench/profiles/``, and prints the share of samples by the innermost library on
the stack (h11, httpcore, httpx, anyio, tenacity, sqlite-utils, tldextract, archiver's
own modules, the event loop) to ``bench/results-profile.md``.  The profiled run is
slower than the timed one in run.py; only the shares are meant to be read.

    make bench-profile
    python bench/profile.py --setting 20:2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from latency_server import link  # noqa: E402
from run import (  # noqa: E402
    PEERS_VENV,
    control,
    ensure_peers,
    ingest_posts,
    latency_server,
    resolve_command,
)

PY_SPY = PEERS_VENV / "bin" / "py-spy"
LIBRARIES = ("h11", "httpcore", "httpx", "anyio", "sniffio", "tenacity", "sqlite_utils", "tldextract", "idna")
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):\d+\)$")


def owner(frame: str) -> str | None:
    """The library or archiver module a py-spy frame belongs to, or None for the rest."""
    match = FRAME.match(frame)
    if match is None:
        return None
    path = match.group("file")
    top = path.split("/")[0].removesuffix(".py")
    if top in LIBRARIES:
        return top
    if "archiver/" in path or top == "archiver":
        module = path.rsplit("archiver/", 1)[-1].removesuffix(".py").replace("/", ".")
        return f"archiver.{module}"
    return None


# Modules that only drive the run: a sample whose innermost archiver frame is one of
# these is counted by what it is doing (the event loop, an import).
DRIVERS = ("archiver.__main__", "archiver.cli", "archiver.pipeline")


def classify(frames: list[str]) -> str | None:
    """What a sampled stack is busy with: a library, an archiver module, the event loop, imports.

    None for a thread-pool worker waiting for work (py-spy does not always see it as idle).
    """
    if frames and frames[-1].startswith("_worker (concurrent/futures/thread.py"):
        return None
    if any("importlib" in frame for frame in frames):
        return "imports"
    for frame in reversed(frames):
        found = owner(frame)
        if found is not None and found not in DRIVERS:
            return found
    leaf = frames[-1] if frames else ""
    if "asyncio/" in leaf or "selectors" in leaf:
        return "event loop (asyncio)"
    return "other"


def shares(raw: Path) -> tuple[int, Counter[str]]:
    """Samples by what each sampled stack is busy with (see ``classify``)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        busy = classify(stack.split(";")[1:]) if number.isdigit() else None  # [0] names the thread
        if busy is not None:
            counts[busy] += int(number)
    return sum(counts.values()), counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--links", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--setting", default="64:8", help="in flight:per host")
    parser.add_argument("--rate", type=int, default=500, help="samples a second")
    parser.add_argument("--output", default=str(HERE / "results-profile.md"))
    args = parser.parse_args()
    ensure_peers()  # py-spy is installed beside the peers
    concurrency, per_host = (int(x) for x in args.setting.split(":"))
    profiles = HERE / "profiles"
    profiles.mkdir(exist_ok=True)
    name = f"archiver-{concurrency}x{per_host}"
    raw, svg = profiles / f"{name}.txt", profiles / f"{name}.svg"
    with tempfile.TemporaryDirectory() as folder, latency_server(args.delay) as port:
        work = Path(folder)
        posts = work / "links.jsonl"
        posts.write_text(
            "".join(json.dumps({"id": str(i), "text": link(i, port)}) + "\n" for i in range(args.links))
        )
        # One run per output format (py-spy writes one), each on a fresh archive of the links.
        for output, form in ((raw, "raw"), (svg, "flamegraph")):
            db = work / f"{form}.db"
            ingest_posts(posts, db)
            control(port, "/__reset")
            spy = subprocess.run(
                [
                    str(PY_SPY),
                    "record",
                    "--rate",
                    str(args.rate),
                    "--format",
                    form,
                    "-o",
                    str(output),
                    "--",
                    *resolve_command(db, concurrency, per_host),
                ],
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            if spy.returncode != 0:
                # Most often: ptrace is not permitted (a container without CAP_SYS_PTRACE).
                raise SystemExit(f"py-spy failed ({spy.returncode}):\n{spy.stderr[-2000:]}")
    total, counts = shares(raw)
    lines = [
        "# Where archiver's CPU goes",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. "
        f"py-spy at {args.rate} samples a second on `archiver resolve` of {args.links:,} benchmark links "
        f"at {args.setting} (in flight:per host), L={args.delay * 1000:.0f} ms; idle threads are not sampled "
        "(nor counted: thread-pool workers waiting for work). Each sample counts once, for the innermost "
        "library or archiver module on its stack; the writer thread's SQLite work shows as sqlite_utils "
        "and archiver.store.",
        "",
        f"Command: `{' '.join(['python bench/profile.py', *sys.argv[1:]])}`; "
        f"flame graph: `bench/profiles/{svg.name}`.",
        "",
        "| innermost on the stack | samples | share |",
        "|---|---|---|",
        *(f"| {key} | {count:,} | {count / total:.1%} |" for key, count in counts.most_common()),
        f"| all | {total:,} | 100% |",
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
