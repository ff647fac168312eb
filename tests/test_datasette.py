"""The published archive: a real `archiver serve` process answering over HTTP."""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import FIXTURES

from archiver import store
from archiver.models import Hop, Resolution
from archiver.sources import iter_posts

ROOT = Path(__file__).resolve().parents[1]
METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    db_path = folder / "archive.db"
    db = store.open_database(db_path)
    store.save_posts(db, iter_posts(FIXTURES / "page" / "embedded.txt"))
    t0 = "2026-01-01T00:00:00Z"
    store.save_resolutions(
        db,
        [
            Resolution(
                "https://t.co/dLWAZRTC3H",
                "ok",
                (Hop("https://t.co/dLWAZRTC3H", 301, "location"), Hop("https://www.bbc.co.uk/news/a", 200)),
                t0,
                200,
                "https://www.bbc.co.uk/news/a",
            ),
            Resolution(
                "https://t.co/Z9ixm4GsEx",
                "dns_error",
                (Hop("https://t.co/Z9ixm4GsEx", None),),
                t0,
                error="cannot resolve t.co",
            ),
        ],
    )
    db.close()
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver",
            "serve",
            "--db",
            str(db_path),
            "--port",
            str(port),
            "--metadata",
            str(ROOT / "metadata.yml"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/-/versions.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("archiver serve did not start")
    try:
        yield base, db_path
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_metadata_is_served(served):
    base, _ = served
    metadata = httpx.get(f"{base}/-/metadata.json").json()
    assert metadata["title"] == "archiver"
    page = httpx.get(f"{base}/archive/links").text
    assert "Every distinct link found in a post" in page


def test_every_table_and_view_in_metadata_exists(served):
    base, _ = served
    described = set(METADATA["databases"]["archive"]["tables"])
    served_tables = {t["name"] for t in httpx.get(f"{base}/archive.json").json()["tables"]}
    views = {v["name"] for v in httpx.get(f"{base}/archive.json").json()["views"]}
    assert described <= served_tables | views


def test_full_text_search(served):
    base, _ = served
    rows = httpx.get(f"{base}/archive/posts.json?_search=cartoons&_shape=array").json()
    assert len(rows) == 1 and rows[0]["author_handle"] == "mikenov"


def test_facets(served):
    base, _ = served
    data = httpx.get(f"{base}/archive/links.json").json()
    status_facet = {r["value"]: r["count"] for r in data["facet_results"]["status"]["results"]}
    assert status_facet == {"pending": 8, "ok": 1, "dns_error": 1}
    assert {"final_domain", "is_shortener"} <= set(data["facet_results"])
    posts = httpx.get(f"{base}/archive/posts.json").json()
    assert {"platform", "author_handle"} <= set(posts["facet_results"])


@pytest.mark.parametrize("query", sorted(METADATA["databases"]["archive"]["queries"]))
def test_canned_queries_run(served, query):
    base, _ = served
    response = httpx.get(f"{base}/archive/{query}.json?_shape=array")
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_canned_query_answers(served):
    base, _ = served
    top = httpx.get(f"{base}/archive/top_domains.json?_shape=array").json()
    assert top[0]["final_domain"] == "bbc.co.uk"
    failed = httpx.get(f"{base}/archive/links_failed.json?_shape=array").json()
    assert [r["url"] for r in failed] == ["https://t.co/Z9ixm4GsEx"]


@pytest.mark.parametrize("table", ["posts", "links", "post_links", "redirects", "checks", "runs"])
def test_csv_and_json_export_match_the_database(served, table):
    import sqlite3

    base, db_path = served
    with sqlite3.connect(db_path) as conn:
        count = conn.execute(f"select count(*) from {table}").fetchone()[0]
    response = httpx.get(f"{base}/archive/{table}.csv?_stream=on")
    assert response.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == count
    rows = httpx.get(f"{base}/archive/{table}.json?_shape=array&_size=max").json()
    assert len(rows) == count


def test_canned_queries_do_not_hide_tables_or_views():
    database = METADATA["databases"]["archive"]
    assert not set(database["queries"]) & set(database["tables"])
