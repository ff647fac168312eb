"""Run twitter-text's extraction conformance suite through ``archiver ingest``.

Usage: python bench/conformance.py PATH [--show-failures]

PATH is twitter-text's ``conformance/extract.yml`` (or the folder holding it), from a
checkout of the public twitter/twitter-text repository; the suite is not shipped with
archiver.  Every case becomes one post of a JSON Lines file, the file is ingested by the
``archiver`` command into a fresh database, and what archiver stored (links as the post
showed them, hashtags, mentions) is compared with the suite's expectation.  Prints one
line per group (urls*, hashtags*, mentions* sections) with cases, passed and the
percentage; ``--show-failures`` lists every case that differs.

Comparison: the suite lists links as the text shows them (``t.co/abc`` without a
scheme); archiver's ``post_links.display_url`` is that text.  archiver keeps each link,
hashtag and mention once a post, so the expectation is compared without repeats.
Cashtags, replies and list slugs are not archiver's business and are not run.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

GROUPS = ("urls", "hashtags", "mentions")
# Which key of an expectation dict holds the value, by group.
KEYS = {"urls": "url", "hashtags": "hashtag", "mentions": "screen_name"}


def load_cases(path: Path) -> list[dict[str, Any]]:
    """Return the suite's cases of the three groups, each with its group, section and expectation."""
    if path.is_dir():
        path = (
            path / "extract.yml" if (path / "extract.yml").exists() else path / "conformance" / "extract.yml"
        )
    suite = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
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
    command = [str(archiver), "ingest", "--db", str(db), "--format", "jsonl", str(source)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return db


def stored(db: Path) -> dict[str, dict[str, list[str]]]:
    """Return, by post id, the links (as shown), hashtags and mentions archiver stored."""
    conn = sqlite3.connect(db)
    found: dict[str, dict[str, list[str]]] = {}
    for post_id, hashtags, mentions in conn.execute("select id, hashtags, mentions from posts"):
        found[post_id] = {"urls": [], "hashtags": json.loads(hashtags), "mentions": json.loads(mentions)}
    rows = conn.execute("select post_id, display_url from post_links order by post_id, position")
    for post_id, display in rows:
        found[post_id]["urls"].append(display)
    conn.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="twitter-text's conformance/extract.yml or its folder")
    parser.add_argument("--show-failures", action="store_true", help="list every case that differs")
    options = parser.parse_args()
    cases = load_cases(options.path)
    with tempfile.TemporaryDirectory() as tmp:
        found = stored(ingest(cases, Path(tmp)))
    failures = []
    for group in GROUPS:
        mine = [c for c in cases if c["group"] == group]
        passed = 0
        for case in mine:
            got = found.get(case["id"], {}).get(group, [])
            if got == case["expected"]:
                passed += 1
            else:
                failures.append((case, got))
        print(f"{group:<9} {len(mine):>4} cases {passed:>4} passed {100 * passed / len(mine):6.1f} %")
    if options.show_failures:
        for case, got in failures:
            print(f"\n{case['id']}: {case['description']}")
            print(f"  text:     {case['text']!r}")
            print(f"  expected: {case['expected']!r}")
            print(f"  archiver: {got!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
