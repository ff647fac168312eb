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


def recheck(work: Path, port: int, setting: tuple[int, int]) -> int:
    """Re-check every link of the last run with copies (pages unchanged): the bytes it adds."""
    db, folder = work / "copies.db", work / "copies"
    before = sum(f.stat().st_size for f in folder.glob("*.warc.gz"))
    command = resolve_command(db, *setting) + [
        "--no-probe",
        "--recheck-all",
        "--copies",
        "--copies-dir",
        str(folder),
    ]
    run_measured(command, cwd=work)
    return sum(f.stat().st_size for f in folder.glob("*.warc.gz")) - before


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
    rechecked = per_link = 0
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
                        if copies and route == "direct" and not rechecked:
                            rechecked = recheck(work, port, setting)
                            per_link = size / args.links
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
        f"A re-check of the same {args.links:,} links, their pages unchanged, adds "
        f"{rechecked / 1e6:.2f} MB ({rechecked / args.links / 1e3:.2f} KB a link: a revisit record "
        "for each answer, no second copy of a body).",
        "",
        "## A month of copies",
        "",
        "Every link is checked when it is new and re-checked every 30 days (the default "
        "--recheck-after). So a month of an archive that finds N new links a day and holds L "
        f"links costs about 30 x N x {per_link / 1e3:.0f} KB for the new links, plus, for its "
        f"re-checks, L x {rechecked / args.links / 1e3:.2f} KB when the pages are unchanged, up to "
        f"L x {per_link / 1e3:.0f} KB when every page changed:",
        "",
        "| new links a day | links held | new links' copies | re-checks, pages unchanged | "
        "re-checks, all pages changed |",
        "|---|---|---|---|---|",
        *(
            f"| {n:,} | {held:,} | {30 * n * per_link / 1e6:,.0f} MB "
            f"| {held * rechecked / args.links / 1e6:,.1f} MB | {held * per_link / 1e6:,.0f} MB |"
            for n, held in ((100, 10_000), (1_000, 100_000))
        ),
        "",
    ]
    Path(args.output).write_text("\n".join(report))


if __name__ == "__main__":
    main()
