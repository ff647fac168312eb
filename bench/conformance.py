"""Run twitter-text's extraction conformance suite through ``archiver ingest``.

Usage: python bench/conformance.py PATH [--show-failures] [--output FILE]

PATH is twitter-text's ``conformance/extract.yml`` (or the folder holding it), from a
checkout of the public twitter/twitter-text repository; the suite is not shipped with
archiver.  Every case becomes one post of a JSON Lines file, the file is ingested by the
``archiver`` command into a fresh database, and what archiver stored (links as the post
showed them, hashtags, mentions) is compared with the suite's expectation.  Prints one
line per group (urls*, hashtags*, mentions* sections) with cases, passed and the
percentage; ``--show-failures`` lists every case that differs; ``--output`` also writes
the table as Markdown (``bench/results-conformance.md``, which the README quotes).

Comparison: the suite lists links as the text shows them (``t.co/abc`` without a
scheme); archiver's ``post_links.display_url`` is that text.  archiver keeps each link,
hashtag and mention once a post, so the expectation is compared without repeats.
Cashtags, replies and list slugs are not archiver's business and are not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

GROUPS = ("urls", "hashtags", "mentions")
# Which key of an expectation dict holds the value, by group.
KEYS = {"urls": "url", "hashtags": "hashtag", "mentions": "screen_name"}


def suite_file(path: Path) -> Path:
    """Return the path of extract.yml given it, its folder or the repository's root."""
    if not path.is_dir():
        return path
    return path / "extract.yml" if (path / "extract.yml").exists() else path / "conformance" / "extract.yml"


def load_cases(path: Path) -> list[dict[str, Any]]:
    """Return the suite's cases of the three groups, each with its group, section and expectation."""
    suite = yaml.safe_load(suite_file(path).read_text(encoding="utf-8"))["tests"]
    cases = []
    for section, entries in suite.items():
        group = next((g for g in GROUPS if section.startswith(g)), None)
        if group is None:
            continue
        for number, entry in enumerate(entries):
            expected = [e[KEYS[group]] if isinstance(e, dict) else e for e in entry["expected"]]
            cases.append(
                {
                    "id": f"{section}-{number}",
                    "group": group,
                    "section": section,
                    "description": entry["description"],
                    "text": entry["text"],
                    "expected": list(dict.fromkeys(expected)),
                }
            )
    return cases


def ingest(cases: list[dict[str, Any]], workdir: Path) -> Path:
    """Ingest one post a case with the archiver command; return the database's path."""
    source = workdir / "cases.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps({"id": case["id"], "text": case["text"]}) + "\n")
    db = workdir / "conformance.db"
    archiver = Path(sys.executable).with_name("archiver")
    command = [str(archiver), "ingest", "--db", str(db), "--create", "--format", "jsonl", str(source)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return db


def stored(db: Path) -> dict[str, dict[str, list[str]]]:
    """Return, by post id, the links (as shown), hashtags and mentions archiver stored."""
    conn = sqlite3.connect(db)
    found: dict[str, dict[str, list[str]]] = {}
    # A post's key in the archive is its platform and its id ("web:urls-3").
    for key, hashtags, mentions in conn.execute("select id, hashtags, mentions from posts"):
        found[key.removeprefix("web:")] = {
            "urls": [],
            "hashtags": json.loads(hashtags),
            "mentions": json.loads(mentions),
        }
    rows = conn.execute("select post_id, display_url from post_links order by post_id, position")
    for key, display in rows:
        found[key.removeprefix("web:")]["urls"].append(display)
    conn.close()
    return found


def write_results(output: Path, suite: Path, rows: list[tuple[str, int, int]]) -> None:
    """Write the table of groups, cases and passes as Markdown, naming the suite by its digest."""
    digest = hashlib.sha256(suite.read_bytes()).hexdigest()[:12]
    lines = [
        "# twitter-text extraction conformance",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}; "
        f"conformance/extract.yml with SHA-256 {digest}…, each case a post through `archiver ingest`.",
        "",
        "Command: `make conformance TWITTER_TEXT=path/to/twitter-text`",
        "",
        "| group | cases | passed | agreement |",
        "|---|---|---|---|",
        *(
            f"| {group} | {cases} | {passed} | {100 * passed / cases:.1f} % |"
            for group, cases, passed in rows
        ),
    ]
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="twitter-text's conformance/extract.yml or its folder")
    parser.add_argument("--show-failures", action="store_true", help="list every case that differs")
    parser.add_argument("--output", type=Path, help="also write the table as Markdown to this file")
    options = parser.parse_args()
    cases = load_cases(options.path)
    with tempfile.TemporaryDirectory() as tmp:
        found = stored(ingest(cases, Path(tmp)))
    failures = []
    rows = []
    for group in GROUPS:
        mine = [c for c in cases if c["group"] == group]
        passed = 0
        for case in mine:
            got = found.get(case["id"], {}).get(group, [])
            if got == case["expected"]:
                passed += 1
            else:
                failures.append((case, got))
        rows.append((group, len(mine), passed))
        print(f"{group:<9} {len(mine):>4} cases {passed:>4} passed {100 * passed / len(mine):6.1f} %")
    if options.output:
        write_results(options.output, suite_file(options.path), rows)
    if options.show_failures:
        for case, got in failures:
            print(f"\n{case['id']}: {case['description']}")
            print(f"  text:     {case['text']!r}")
            print(f"  expected: {case['expected']!r}")
            print(f"  archiver: {got!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
