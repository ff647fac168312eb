"""archiver at scale: 100k and a million links, a re-run, the served pages, a Twitter archive, pages.

    make bench-scale
    python bench/scale.py --help

Resolution runs against the same latency server as bench/run.py; the archive ingest
is compared with twitter-to-sqlite (installed into bench/.venv only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from latency_server import final_url, link  # noqa: E402
from run import (  # noqa: E402
    PEERS_VENV,
    PROJECT_PYTHON,
    control,
    ensure_peers,
    latency_server,
    resolve_command,
    run_measured,
)

ARCHIVER = [str(PROJECT_PYTHON), "-m", "archiver"]
WORDS = ["archive", "link", "summit", "press", "statement", "report", "thread", "photo", "live", "news"]


def resolve_scale(work: Path, port: int, count: int, concurrency: int, per_host: int) -> dict[str, object]:
    db = work / f"scale-{count}.db"
    posts = work / f"scale-{count}.jsonl"
    # Written a line at a time: a child process's peak RSS starts at this process's size when
    # it is started, so the bench keeps itself small (a million lines joined were 200 MB).
    with posts.open("w") as out:
        for i in range(count):
            out.write(json.dumps({"id": str(i), "text": link(i, port)}) + "\n")
    subprocess.run(
        [*ARCHIVER, "-q", "ingest", str(posts), "--db", str(db), "--create"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    control(port, "/__reset")
    log = work / "resolve.log"
    started = time.perf_counter()
    with log.open("w") as errors:
        process = subprocess.Popen(
            resolve_command(db, concurrency, per_host, verbosity="-v"),
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        _, _, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    writing = float(re.search(r"wrote \d+ resolutions in ([\d.]+) s", log.read_text()).group(1))
    stats = control(port, "/__stats")
    with sqlite3.connect(db) as conn:
        correct = sum(
            1
            for url, final in conn.execute("select url, final_url from links")
            if final == final_url(int(url.rsplit("/", 1)[1]), port)
        )
    control(port, "/__reset")
    rerun = run_measured([*ARCHIVER, "-q", "resolve", "--db", str(db), "--allow-private"], cwd=work)
    rerun_requests = control(port, "/__stats")["requests"]
    size = db.stat().st_size
    return {
        "links": count,
        "bytes_per_link": size / count,
        "pages": datasette_times(db),
        "wall": wall,
        "links_per_s": count / wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "writing_s": writing,
        "correct": correct / count,
        "requests": stats["requests"],
        "peak_per_host": stats["peak_per_host"],
        "rerun_wall": rerun.wall,
        "rerun_requests": rerun_requests,
    }


# What a reporter opens on the published archive, timed on the archive just resolved.
PAGES = {
    "links table": "/{db}/links",
    "a link's page": "/{db}/links/{link}",
    "facet by domain": "/{db}/links?_facet=final_domain",
    "search": "/{db}/links?_search=story",
}


def datasette_times(db: Path) -> dict[str, float]:
    """Serve ``db`` with `archiver serve` and return, per page, the slowest of three loads."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*ARCHIVER, "serve", "--db", str(db), "--port", str(port)],
        cwd=db.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=120) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get(f"{base}/-/versions.json")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            with sqlite3.connect(db) as conn:
                link = conn.execute("select id from links order by rowid limit 1 offset 500").fetchone()[0]
            times = {}
            for name, path in PAGES.items():
                url = base + path.format(db=db.stem, link=link)
                slowest = 0.0
                for _ in range(3):
                    started = time.perf_counter()
                    answer = client.get(url)
                    slowest = max(slowest, time.perf_counter() - started)
                    answer.raise_for_status()
                times[name] = slowest
            return times
    finally:
        process.terminate()
        process.wait(timeout=30)


def generate_archive(folder: Path, count: int) -> tuple[int, int]:
    """Write a Twitter archive with ``count`` tweets; return (bytes of tweet.js, t.co links)."""
    data = folder / "data"
    data.mkdir(parents=True)
    (data / "account.js").write_text(
        'window.YTD.account.part0 = [ { "account" : { "username" : "bench_user", '
        '"accountDisplayName" : "Bench User", "accountId" : "1" } } ]'
    )
    rng = random.Random(7)
    links = 0
    with (data / "tweet.js").open("w", encoding="utf-8") as out:
        out.write("window.YTD.tweet.part0 = [ ")
        for i in range(count):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40)))
            urls = []
            if rng.random() < 0.87:
                code = "".join(rng.choice("abcdefghijkLMNOPQRS0123456789") for _ in range(10))
                urls.append(
                    {
                        "url": f"https://t.co/{code}",
                        "expanded_url": f"https://example.com/story/{i}",
                        "display_url": f"example.com/story/{i}",
                        "indices": ["0", "23"],
                    }
                )
                links += 1
            text = words + (" \U0001f4f0" if i % 5 == 0 else "") + "".join(" " + u["url"] for u in urls)
            tweet = {
                "tweet": {
                    "edit_info": {
                        "initial": {
                            "editTweetIds": [str(10**18 + i)],
                            "editableUntil": "2024-05-16T09:15:00.000Z",
                            "editsRemaining": "5",
                            "isEditEligible": True,
                        }
                    },
                    "retweeted": False,
                    "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
                    "entities": {
                        "hashtags": [{"text": rng.choice(WORDS), "indices": ["1", "9"]}],
                        "symbols": [],
                        "user_mentions": [],
                        "urls": urls,
                    },
                    "display_text_range": ["0", str(len(text))],
                    "favorite_count": str(rng.randint(0, 50)),
                    "id_str": str(10**18 + i),
                    "truncated": False,
                    "retweet_count": str(rng.randint(0, 9)),
                    "id": str(10**18 + i),
                    "created_at": "Thu May 16 08:15:00 +0000 2024",
                    "favorited": False,
                    "full_text": text,
                    "lang": "en",
                }
            }
            out.write((",\n" if i else "") + json.dumps(tweet, indent=2))
        out.write(" ]\n")
    return (data / "tweet.js").stat().st_size, links


def ingest_compare(work: Path, count: int) -> list[dict[str, object]]:
    folder = work / "twitter-archive"
    size, links = generate_archive(folder, count)
    rows = []
    measured = run_measured(
        [*ARCHIVER, "-q", "ingest", str(folder), "--db", str(work / "ingest.db"), "--create"], cwd=work
    )
    with sqlite3.connect(work / "ingest.db") as conn:
        posts, stored_links = conn.execute(
            "select (select count(*) from posts), (select count(*) from links)"
        ).fetchone()
    rows.append(
        {
            "tool": "archiver ingest",
            "wall": measured.wall,
            "rss_mb": measured.rss_mb,
            "posts": posts,
            "links": stored_links,
            "mb_per_s": size / 1e6 / measured.wall,
        }
    )
    peer = PEERS_VENV / "bin" / "twitter-to-sqlite"
    measured = run_measured(
        [str(peer), "import", str(work / "t2s.db"), str(folder / "data" / "tweet.js")], cwd=work
    )
    with sqlite3.connect(work / "t2s.db") as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
        table = next(t for t in tables if "tweet" in t and "fts" not in t)
        posts = conn.execute(f"select count(*) from [{table}]").fetchone()[0]
    rows.append(
        {
            "tool": "twitter-to-sqlite import",
            "wall": measured.wall,
            "rss_mb": measured.rss_mb,
            "posts": posts,
            "links": 0,
            "mb_per_s": size / 1e6 / measured.wall,
        }
    )
    print(f"tweet.js: {size / 1e6:.0f} MB, {count:,} tweets, {links:,} t.co links", flush=True)
    return rows


def generate_page(path: Path, target_bytes: int) -> int:
    """Write a seed-style text page of embedded tweets (about ``target_bytes``); return its posts."""
    rng = random.Random(11)
    posts = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < target_bytes:
            code = "".join(rng.choice("abcdefghijkLMNOPQRS0123456789") for _ in range(10))
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
            out.write(
                f"{words} #{rng.choice(WORDS)} https://t.co/{code} pic.twitter.com/{code[::-1]}\n"
                f"— Bench Author (@bench_author) May {1 + posts % 28}, 2024\n"
            )
            if posts % 10 == 0:
                out.write("Filed under: summit diary, with a link to podcastchoices.com/adchoices\n")
            posts += 1
    return posts


def page_ingest(work: Path, sizes_mb: list[int]) -> list[dict[str, object]]:
    """Ingest generated seed-style pages of the given sizes: MB/s and peak memory."""
    rows = []
    for size_mb in sizes_mb:
        page = work / f"page-{size_mb}mb.txt"
        planned = generate_page(page, size_mb * 1_000_000)
        db = work / f"page-{size_mb}.db"
        measured = run_measured([*ARCHIVER, "-q", "ingest", str(page), "--db", str(db), "--create"], cwd=work)
        with sqlite3.connect(db) as conn:
            posts, tweets, links = conn.execute(
                "select (select count(*) from posts), "
                "(select count(*) from posts where platform = 'twitter'), (select count(*) from links)"
            ).fetchone()
        if tweets != planned:  # besides the tweets, the page's own text is one 'web' post
            raise RuntimeError(f"{page.name}: {tweets} tweets stored of the {planned} written")
        rows.append(
            {
                "tool": f"archiver ingest, {size_mb} MB seed-style text page",
                "wall": measured.wall,
                "rss_mb": measured.rss_mb,
                "posts": posts,
                "links": links,
                "mb_per_s": page.stat().st_size / 1e6 / measured.wall,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--setting", default="64:8")
    parser.add_argument("--tweets", type=int, default=100_000)
    parser.add_argument("--pages", default="1,10", help="sizes in MB of generated seed-style pages")
    parser.add_argument("--output", default=str(HERE / "results-scale.md"))
    args = parser.parse_args()
    ensure_peers()
    concurrency, per_host = (int(x) for x in args.setting.split(":"))
    lines = [
        "# Benchmark results at scale",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Links: L={args.delay * 1000:.0f} ms per response, "
        f"{args.setting} (in flight:per host), 3 responses a link.",
        "",
        f"Command: `{' '.join(['python bench/scale.py', *sys.argv[1:]])}`",
        "",
    ]
    with latency_server(args.delay) as port, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        lines += [
            "| links | wall s | links/s | peak RSS MB | writing s (share) | correct | requests | "
            "peak per host | re-run wall s | re-run requests |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        served = []
        for count in (int(s) for s in args.sizes.split(",") if s):
            r = resolve_scale(work, port, count, concurrency, per_host)
            lines.append(
                f"| {r['links']:,} | {r['wall']:.1f} | {r['links_per_s']:,.0f} | {r['rss_mb']:.0f} | "
                f"{r['writing_s']:.1f} ({r['writing_s'] / r['wall']:.0%}) | {r['correct']:.1%} | "
                f"{r['requests']:,} | {r['peak_per_host']} | {r['rerun_wall']:.2f} | "
                f"{r['rerun_requests']} |"
            )
            print(lines[-1], flush=True)
            pages = r["pages"]
            served.append(
                f"| {r['links']:,} | {r['bytes_per_link']:,.0f} | "
                + " | ".join(f"{pages[name]:.2f}" for name in PAGES)
                + " |"
            )
            print(served[-1], flush=True)
        lines += [
            "",
            "The archive each run leaves, served by `archiver serve` (Datasette): bytes of "
            "database a link (its post and row included), and the slowest of three loads of each "
            "page, in seconds.",
            "",
            "| links | bytes / link | " + " | ".join(f"{name} s" for name in PAGES) + " |",
            "|---|---|" + "---|" * len(PAGES),
            *served,
        ]
        lines += [
            "",
            "| ingest | wall s | MB/s | peak RSS MB | posts | links |",
            "|---|---|---|---|---|---|",
        ]
        pages = [int(x) for x in args.pages.split(",") if x]
        for row in [*ingest_compare(work, args.tweets), *page_ingest(work, pages)]:
            lines.append(
                f"| {row['tool']} | {row['wall']:.1f} | {row['mb_per_s']:.1f} | {row['rss_mb']:.0f} | "
                f"{row['posts']:,} | {row['links']:,} |"
            )
            print(lines[-1], flush=True)
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
