"""What keeping copies costs: `archiver resolve` with and without --copies, and the disk the copies take.

The same workload as bench/run.py (each link a shortener, a redirect and a final page
on local hosts with injected latency), with final pages of about --page-kb KB of
article text, against both kinds of server, directly and through a forward proxy.
Prints one Markdown table (also written to bench/results-copies.md).

    python bench/copies.py                 # N=2,000, 64:8, 100 KB pages
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from latency_server import link  # noqa: E402
from run import (  # noqa: E402
    PROJECT_PYTHON,
    SERVERS,
    control,
    forward_proxy,
    latency_server,
    resolve_command,
    run_measured,
)

HEADER = (
    "| server | copies | links | wall s | CPU s | CPU ms / request | requests | copies MB "
    "| MB / 1,000 links |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def measure(work: Path, links: int, port: int, setting: tuple[int, int], proxy: str | None, copies: bool):
    db = work / ("copies.db" if copies else "plain.db")
    folder = work / "copies"
    for path in [db, Path(f"{db}-wal"), Path(f"{db}-shm")]:
        path.unlink(missing_ok=True)
    if folder.exists():
        for file in folder.iterdir():
            file.unlink()
    posts = work / "links.jsonl"
    posts.write_text("".join(json.dumps({"id": str(i), "text": link(i, port)}) + "\n" for i in range(links)))
    subprocess.run(
        [str(PROJECT_PYTHON), "-m", "archiver", "-q", "ingest", str(posts), "--db", str(db), "--create"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    control(port, "/__reset")
    command = resolve_command(db, *setting, proxy=proxy) + ["--no-probe"]
    if copies:
        command += ["--copies", "--copies-dir", str(folder)]
    measured = run_measured(command, cwd=work)
    requests = control(port, "/__stats")["requests"]
    size = sum(f.stat().st_size for f in folder.glob("*.warc.gz")) if copies else 0
    return measured, requests, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--links", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--setting", default="64:8")
    parser.add_argument("--page-kb", type=int, default=100)
    parser.add_argument("--output", default=str(HERE / "results-copies.md"))
    args = parser.parse_args()
    setting = tuple(int(x) for x in args.setting.split(":"))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for route in ("direct", "proxy"):
            for server, cpu_ms in SERVERS.items():
                for copies in (False, True):
                    with (
                        latency_server(args.delay, cpu_ms, args.page_kb) as port,
                        forward_proxy() if route == "proxy" else contextlib.nullcontext(None) as proxy,
                    ):
                        measured, requests, size = measure(work, args.links, port, setting, proxy, copies)
                    name = server if route == "direct" else f"{server}, via proxy"
                    row = (
                        f"| {name} | {'yes' if copies else 'no'} | {args.links:,} | {measured.wall:.1f} | "
                        f"{measured.cpu:.1f} | {measured.cpu / requests * 1000:.2f} | {requests:,} | "
                        f"{size / 1e6:.1f} | {size / 1e6 / args.links * 1000:.1f} |"
                    )
                    print(row, flush=True)
                    rows.append(row)
    report = [
        "# What copies cost",
        "",
        f"`python bench/copies.py {' '.join(sys.argv[1:])}` on {datetime.now(UTC):%Y-%m-%d}, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}: "
        f"{args.links:,} links, {args.setting} (in flight : per host), "
        f"{args.delay * 1000:.0f} ms a response, "
        f"final pages of about {args.page_kb} KB of text; each link is three requests.",
        "",
        HEADER,
        *rows,
        "",
    ]
    Path(args.output).write_text("\n".join(report))


if __name__ == "__main__":
    main()
