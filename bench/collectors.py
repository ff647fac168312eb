"""Ingesting what collectors write: a flattened twarc2 file and a zstd Pushshift dump, against a floor.

Generates N flattened twarc2 tweets (a third retweets, each with a t.co link and its
recorded expansion, hashtags and mentions, shaped as ``twarc2 flatten`` writes them) and a
zstd dump of N Reddit comments and submissions, then times ``archiver ingest`` of each
beside ``sqlite-utils insert --nl`` of the same lines into one table: the floor (no
extraction, no links, one table).  Wall time, CPU time and peak RSS are the process's own.

    python bench/collectors.py              # N = 1,000,000 -> bench/results-collectors.md
    python bench/collectors.py -n 200000
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import run_measured  # noqa: E402

BIN = Path(sys.executable).parent


def tweet(n: int) -> dict[str, object]:
    author = {"id": str(1000 + n % 5000), "username": f"user{n % 5000}", "name": f"User {n % 5000}"}
    short = f"https://t.co/{n:010d}"
    text = f"Post {n} about the summit #Summit{n % 50} with @user{(n + 1) % 5000} {short}"
    line: dict[str, object] = {
        "id": str(1_400_000_000_000_000_000 + n),
        "author_id": author["id"],
        "author": author,
        "created_at": "2021-04-08T19:34:32.000Z",
        "conversation_id": str(1_400_000_000_000_000_000 + n),
        "lang": "en",
        "public_metrics": {"retweet_count": n % 7, "reply_count": 0, "like_count": n % 11, "quote_count": 0},
        "text": text,
        "entities": {
            "urls": [
                {
                    "start": 60,
                    "end": 83,
                    "url": short,
                    "expanded_url": f"https://news.example/{n}",
                    "display_url": f"news.example/{n}",
                }
            ],
            "hashtags": [{"start": 25, "end": 33, "tag": f"Summit{n % 50}"}],
            "mentions": [{"start": 40, "end": 50, "username": f"user{(n + 1) % 5000}"}],
        },
        "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all", "version": "2.14.0"},
    }
    if n % 3 == 0:
        original = dict(line, id=str(1_300_000_000_000_000_000 + n), author={"id": "7", "username": "source"})
        line["text"] = "RT @source: " + text[:80] + "…"
        line["referenced_tweets"] = [dict(original, type="retweeted")]
    return line


def reddit(n: int) -> dict[str, object]:
    if n % 4 == 0:
        return {
            "id": f"s{n:x}",
            "author": f"user{n % 5000}",
            "created_utc": 1672531200 + n,
            "subreddit": "news",
            "title": f"Story {n}",
            "selftext": "",
            "url": f"https://news.example/{n}",
            "is_self": False,
            "permalink": f"/r/news/comments/s{n:x}/story/",
            "score": n % 100,
        }
    return {
        "id": f"c{n:x}",
        "author": f"user{n % 5000}",
        "created_utc": 1672531200 + n,
        "subreddit": "news",
        "body": f"Comment {n}: see https://example.org/{n} for more",
        "link_id": f"t3_s{n - n % 4:x}",
        "parent_id": f"t3_s{n - n % 4:x}",
        "score": n % 50,
    }


def write_lines(path: Path, make, count: int, *, zstd: bool = False) -> None:  # type: ignore[no-untyped-def]
    with open(path, "wb") as raw:
        out = zstandard.ZstdCompressor(level=3).stream_writer(raw) if zstd else raw
        for start in range(0, count, 10_000):
            out.write(
                "".join(json.dumps(make(n)) + "\n" for n in range(start, min(count, start + 10_000))).encode()
            )
        if zstd:
            out.flush(zstandard.FLUSH_FRAME)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--records", type=int, default=1_000_000)
    parser.add_argument("--output", default=str(HERE / "results-collectors.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as folder:
        work = Path(folder)
        for label, name, make, zstd in (
            ("flattened twarc2", "tweets.jsonl", tweet, False),
            ("Pushshift, zstd", "RC_bench.zst", reddit, True),
        ):
            source = work / name
            write_lines(source, make, args.records, zstd=zstd)
            plain = work / f"{name}.plain"
            if zstd:
                with open(source, "rb") as raw, open(plain, "wb") as out:
                    zstandard.ZstdDecompressor().copy_stream(raw, out)
            else:
                plain = source
            archived = run_measured(
                [
                    str(BIN / "archiver"),
                    "-q",
                    "ingest",
                    str(source),
                    "--db",
                    str(work / f"{name}.db"),
                    "--create",
                ],
                cwd=work,
            )
            floor = run_measured(
                [
                    str(BIN / "sqlite-utils"),
                    "insert",
                    str(work / f"{name}-floor.db"),
                    "lines",
                    str(plain),
                    "--nl",
                ],
                cwd=work,
            )
            rows.append((label, source.stat().st_size, archived, floor))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Ingesting collectors' output",
        "",
        f"{now}, {platform.python_version()}, {args.records:,} records a file.",
        "",
        f"Command: `python bench/collectors.py -n {args.records}`",
        "",
        "| file | MB on disk | archiver s | records/s | CPU s | peak RSS MB | floor s | floor RSS MB "
        "| archiver / floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, size, archived, floor in rows:
        lines.append(
            f"| {label} | {size / 1e6:,.0f} | {archived.wall:.1f} | {args.records / archived.wall:,.0f} | "
            f"{archived.cpu:.1f} | {archived.rss_mb:.0f} | {floor.wall:.1f} | {floor.rss_mb:.0f} | "
            f"{archived.wall / floor.wall:.2f} |"
        )
    Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
