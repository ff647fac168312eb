"""The published archive: Datasette as `archiver serve` runs it, in-process, and a real `archiver serve`."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
import yaml
from archive_fixture import ROOT, archive_in_process, served_archive
from datasette.utils import tilde_encode

METADATA = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with archive_in_process(tmp_path_factory.mktemp("served")) as site:
        yield site


def test_metadata_is_served(served):
    base, _ = served
    metadata = base.get("/-/metadata.json").json()
    assert metadata["title"] == "archiver"
    page = base.get("/archive/links").text
    assert "Every distinct link found in a post" in page


def test_the_owner_of_a_local_instance_can_run_any_sql(served):
    base, db_path = served
    rows = base.get("/archive.json?sql=select+count(*)+as+n+from+posts&_shape=array").json()
    assert rows == [{"n": 6}]
    served_db = base.get("/-/databases.json").json()[0]
    assert served_db["path"] == str(db_path)  # only --public hides it


def test_every_table_and_view_in_metadata_exists(served):
    base, _ = served
    described = set(METADATA["databases"]["archive"]["tables"])
    served_tables = {t["name"] for t in base.get("/archive.json").json()["tables"]}
    views = {v["name"] for v in base.get("/archive.json").json()["views"]}
    assert described <= served_tables | views


def test_full_text_search(served):
    base, _ = served
    rows = base.get("/archive/posts.json?_search=cartoons&_shape=array").json()
    assert len(rows) == 1 and rows[0]["author_handle"] == "mikenov"


def test_facets(served):
    base, _ = served
    data = base.get("/archive/links.json").json()
    status_facet = {r["value"]: r["count"] for r in data["facet_results"]["status"]["results"]}
    assert status_facet == {"pending": 8, "ok": 1, "dns_error": 1}
    assert {"final_domain", "is_shortener"} <= set(data["facet_results"])
    posts = base.get("/archive/posts.json").json()
    assert {"platform", "author_handle_folded"} <= set(posts["facet_results"])


@pytest.mark.parametrize("query", sorted(METADATA["databases"]["archive"]["queries"]))
def test_canned_queries_run(served, query):
    base, _ = served
    response = base.get(f"/archive/{query}.json?_shape=array")
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_canned_query_answers(served):
    base, _ = served
    top = base.get("/archive/top_domains.json?_shape=array").json()
    assert top[0]["final_domain"] == "bbc.co.uk"
    failed = base.get("/archive/links_failed.json?_shape=array").json()
    assert [r["url"] for r in failed] == ["https://t.co/Z9ixm4GsEx"]


@pytest.mark.parametrize("table", ["posts", "links", "post_links", "redirects", "checks", "runs"])
def test_csv_and_json_export_match_the_database(served, table):
    import sqlite3

    base, db_path = served
    with sqlite3.connect(db_path) as conn:
        count = conn.execute(f"select count(*) from {table}").fetchone()[0]
    response = base.get(f"/archive/{table}.csv?_stream=on")
    assert response.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == count
    rows = base.get(f"/archive/{table}.json?_shape=array&_size=max").json()
    assert len(rows) == count


def test_canned_queries_do_not_hide_tables_or_views():
    database = METADATA["databases"]["archive"]
    assert not set(database["queries"]) & set(database["tables"])


def test_array_and_date_facets(served):
    base, _ = served
    posts = base.get("/archive/posts.json").json()
    hashtags = {r["value"]: r["count"] for r in posts["facet_results"]["hashtags_folded"]["results"]}
    assert hashtags["bloggers"] == 1 and hashtags["osint"] == 1
    days = {r["value"]: r["count"] for r in posts["facet_results"]["posted_at"]["results"]}
    assert days == {"2024-05-16": 5}
    checks = base.get("/archive/checks.json").json()
    assert {r["value"] for r in checks["facet_results"]["checked_at"]["results"]} == {"2026-01-01"}


def test_link_chain_view_reads_as_one_string(served):
    base, _ = served
    rows = base.get("/archive/link_chains.json?_shape=array&url=https://t.co/dLWAZRTC3H").json()
    assert rows[0]["chain"] == "301 https://t.co/dLWAZRTC3H -> 200 https://www.bbc.co.uk/news/a"


def test_domains_view(served):
    base, _ = served
    rows = base.get("/archive/domains.json?_shape=array").json()
    assert [(r["domain"], r["links"], r["posts"], r["authors"]) for r in rows] == [("bbc.co.uk", 1, 1, 1)]


def test_search_covers_post_text_and_page_titles(served):
    base, _ = served
    links = base.get("/archive/links.json?_search=Summit+statement&_shape=array").json()
    assert [r["url"] for r in links] == ["https://t.co/dLWAZRTC3H"]
    page = base.get("/-/search?q=cartoons").text
    assert "posts" in page and "cartoons" in page


def test_url_cells_link_out_without_referrer_or_ranking(served):
    base, _ = served
    page = base.get("/archive/links").text
    assert 'href="https://www.bbc.co.uk/news/a" rel="nofollow noopener noreferrer ugc"' in page
    assert '<time datetime="2026-01-01T00:00:00Z">2026-01-01 00:00:00 UTC</time>' in page


def test_atom_feeds_of_link_rot(served):
    base, _ = served
    failed = base.get("/archive/newly_failed_links.atom")
    assert failed.status_code == 200
    assert "application/xml" in failed.headers["content-type"] or "atom" in failed.headers["content-type"]
    assert "dns_error: https://t.co/Z9ixm4GsEx" in failed.text
    domains = base.get("/archive/newly_seen_domains.atom")
    assert domains.status_code == 200 and "bbc.co.uk" in domains.text


def test_dashboard_page_is_served_with_its_charts(served):
    base, _ = served
    page = base.get("/-/dashboards/links")
    assert page.status_code == 200
    for title in (
        "Links archived per day",
        "Check outcomes per day",
        "Top final domains",
        "Shorteners and where they lead",
    ):
        assert title in page.text
    assert "cdn.jsdelivr" not in page.text and "unpkg.com" not in page.text  # drawn without internet


def test_every_table_view_and_column_is_described(tmp_path):
    from archiver import store

    db = store.open_database(tmp_path / "archive.db")
    described = METADATA["databases"]["archive"]["tables"]
    tables = [t for t in db.table_names() if not t.startswith("_") and "_fts" not in t]
    table_columns = {c.name for t in tables for c in db[t].columns}
    for name in tables:
        assert described[name]["description"], name
        missing = {c.name for c in db[name].columns} - set(described[name].get("columns", {})) - {"id"}
        assert not missing, f"{name}: {missing}"
    for name in db.view_names():
        assert described[name]["description"], name
        # Columns a view adds of its own are described; the others are described on their table.
        own = {c.name for c in db[name].columns} - table_columns
        assert not own - set(described[name].get("columns", {})), name


def test_json_cells_are_pretty_printed(served):
    base, _ = served
    page = base.get("/archive/posts?_search=Morning").text
    assert '<pre style="white-space: pre-wrap">[\n    &#34;NewsReview&#34;,' in page


@pytest.fixture(scope="module")
def served_mine(tmp_path_factory):
    # A database of another name, served from its own folder (not the repository).
    with served_archive(tmp_path_factory.mktemp("research"), name="mine.db") as site:
        yield site


@pytest.fixture(scope="module")
def published_mine(tmp_path_factory):
    with served_archive(tmp_path_factory.mktemp("research-public"), "--public", name="mine.db") as site:
        yield site


def _chart_queries(base: str) -> list[tuple[str, str]]:
    config = httpx.get(f"{base}/-/metadata.json").json()["plugins"]["datasette-dashboards"]
    return [(c["db"], c["query"]) for d in config.values() for c in d["charts"].values()]


@pytest.mark.parametrize("site", ["served_mine", "published_mine"])
def test_any_database_from_any_folder_is_served_with_the_metadata(site, request):
    from urllib.parse import quote

    base, db_path = request.getfixturevalue(site)
    metadata = httpx.get(f"{base}/-/metadata.json").json()
    assert list(metadata["databases"]) == ["mine"]
    assert "Every distinct link found in a post" in httpx.get(f"{base}/mine/links").text
    facets = httpx.get(f"{base}/mine/links.json").json()["facet_results"]
    assert {"status", "final_domain"} <= set(facets)
    assert httpx.get(f"{base}/mine/top_domains.json").status_code == 200
    feed = httpx.get(f"{base}/mine/newly_failed_links.atom")
    assert feed.status_code == 200 and "<feed" in feed.text and "t.co/Z9ixm4GsEx" in feed.text
    assert "/mine/newly_failed_links.atom" in httpx.get(f"{base}/mine").text
    dashboard = httpx.get(f"{base}/-/dashboards/links")
    assert dashboard.status_code == 200 and "does not exist" not in dashboard.text
    charts = _chart_queries(base)
    assert charts and {db for db, _ in charts} == {"mine"}
    for db, query in charts:
        answer = httpx.get(f"{base}/{db}.json?sql={quote(query, safe='')}&_shape=objects")
        assert answer.status_code == 200, query


def test_export_names_a_canned_query_from_any_folder(tmp_path):
    import json
    import subprocess
    import sys

    from archive_fixture import build_archive

    db_path = build_archive(tmp_path / "mine.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "export",
            "newly_failed_links",
            "--format",
            "jsonl",
            "--db",
            str(db_path),
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["url"] for row in rows] == ["https://t.co/Z9ixm4GsEx"]
    unknown = subprocess.run(
        [sys.executable, "-m", "archiver", "export", "nothing_like_it", "--db", str(db_path)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "top_domains" in unknown.stderr


def test_rotten_links_and_their_captures_are_published(tmp_path):
    from archive_fixture import build_archive, open_in_process

    from archiver import pipeline, store
    from archiver.models import Capture, Fingerprint, Hop, LookupJob, LookupResult, LookupStatus, Resolution
    from archiver.preserve import summarise

    db_path = build_archive(tmp_path / "archive.db")
    db = store.open_database(db_path)
    gone = "https://t.co/dXzLm4GKPZ"
    pipeline.save_resolutions(
        db,
        [
            Resolution(
                gone,
                "ok",
                (Hop(gone, 301, "location"), Hop("https://news.example/2019/story", 200)),
                "2026-02-01T00:00:00Z",
                200,
                "https://news.example/2019/story",
                title="Page not found",
                fingerprint=Fingerprint(title="Page not found"),
            )
        ],
    )
    dead = db.execute("select id from links where url = 'https://t.co/Z9ixm4GsEx'").fetchone()[0]
    capture = Capture("https://web.archive.org/web/2025/https://t.co/Z9ixm4GsEx", "2025-01-01T00:00:00Z", 200)
    pipeline.save_lookups(
        db,
        [
            LookupResult(
                LookupJob(dead, "https://t.co/Z9ixm4GsEx", "2025-06-01T00:00:00Z"),
                "web.archive.org",
                "2026-02-01T00:00:00Z",
                LookupStatus.FOUND,
                summarise([capture], near="2025-06-01T00:00:00Z"),
            )
        ],
    )
    db.close()
    base = open_in_process(db_path)
    try:
        rotten = base.get("/archive/links_rotten.json?_shape=array").json()
        assert [(r["url"], r["rot"]) for r in rotten] == [(gone, "soft_404")]
        captured = base.get("/archive/gone_but_captured.json?_shape=array").json()
        assert [(r["url"], r["archived_url"]) for r in captured] == [("https://t.co/Z9ixm4GsEx", capture.url)]
        feed = base.get("/archive/newly_rotten_links.atom")
        assert feed.status_code == 200
        assert "soft_404: " + gone in feed.text and f"Capture: {capture.url}" in feed.text
        dashboard = base.get("/-/dashboards/links").text
        assert "Links by rot verdict" in dashboard
        chart = METADATA["plugins"]["datasette-dashboards"]["links"]["charts"]["rot-verdicts"]["query"]
        counts = base.get("/archive.json", params={"sql": chart, "_shape": "array"}).json()
        by_verdict = {r["rot"]: r["links"] for r in counts}
        assert by_verdict == {"not checked": 7, "none": 1, "dead": 1, "soft_404": 1}
    finally:
        base.close()


def test_a_links_page_tells_its_story_and_a_posts_page_where_its_links_go(tmp_path):
    from archive_fixture import build_archive, open_in_process

    from archiver import pipeline, store
    from archiver.models import Hop, Resolution
    from archiver.urls import link_id

    db_path = build_archive(tmp_path / "archive.db")
    db = store.open_database(db_path)
    good = "https://t.co/dLWAZRTC3H"
    # The link that resolved once now fails: its page keeps and labels the last good chain.
    pipeline.save_resolutions(
        db,
        [Resolution(good, "http_error", (Hop(good, 404),), "2026-03-01T00:00:00Z", 404, good, "HTTP 404")],
    )
    post_id = db.execute("select post_id from post_links where link_id = ?", [link_id(good)]).fetchone()[0]
    db.close()
    base = open_in_process(db_path)
    try:
        page = base.get(f"/archive/links/{link_id(good)}").text
        story = page.split('<section class="story link-story">', 1)[1].split("</section>", 1)[0]
        assert "Where this link goes" in story
        assert '<span class="badge failed">http_error</span>' in story
        assert "last good chain, seen 2026-01-01 00:00:00 UTC" in story
        chain = story.split('<ol class="chain">', 1)[1].split("</ol>", 1)[0]
        assert chain.index("https://t.co/dLWAZRTC3H") < chain.index("https://www.bbc.co.uk/news/a")
        assert "Location header" in chain
        history = story.split('<table class="timeline">', 1)[1].split("</table>", 1)[0]
        assert history.index("2026-03-01 00:00:00 UTC") < history.index("2026-01-01 00:00:00 UTC")
        assert "Michael Novakhov" in story and "Reading list for the day" in story
        post_page = base.get(f"/archive/posts/{tilde_encode(post_id)}").text
        post = post_page.split('<section class="story post-story">', 1)[1].split("</section>", 1)[0]
        assert f'<a class="post-link" href="/archive/links/{link_id(good)}">{good}</a>' in post
        assert '<span class="badge failed">http_error</span>' in post
        # Ids in views lead to the row pages; the destinations view carries the post's text.
        failed = base.get("/archive/failed_links").text
        assert f'<a href="/archive/links/{link_id(good)}">{link_id(good)}</a>' in failed
        destinations = base.get("/archive/post_destinations.json?_shape=array").json()
        assert destinations and all(0 < len(d["text"]) <= 141 for d in destinations)
        listing = base.get("/archive/post_destinations").text
        assert f'href="/archive/posts/{tilde_encode(post_id)}"' in listing
    finally:
        base.close()


def test_hashtag_and_handle_facets_count_any_case_once(tmp_path):
    from archive_fixture import open_in_process

    from archiver import store
    from archiver.models import Post

    db_path = tmp_path / "archive.db"
    db = store.open_database(db_path)
    posts = [
        Post("1", "twitter", "A", "NewsDesk", "On #AI today", "2026-01-01", None, "a", hashtags=("AI",)),
        Post("2", "twitter", "A", "newsdesk", "#ai and #Ai", "2026-01-02", None, "a", hashtags=("ai", "Ai")),
        Post("3", "mastodon", "B", "other", "#Climate", "2026-01-03", None, "b", hashtags=("Climate",)),
    ]
    store.save_posts(db, posts)
    db.close()
    base = open_in_process(db_path)
    try:
        data = base.get("/archive/posts.json").json()
        tags = {r["value"]: r["count"] for r in data["facet_results"]["hashtags_folded"]["results"]}
        assert tags == {"ai": 2, "climate": 1}
        handles = {r["value"]: r["count"] for r in data["facet_results"]["author_handle_folded"]["results"]}
        assert handles == {"newsdesk": 2, "other": 1}
        spelled = base.get("/archive/posts.json?_shape=array&_sort=posted_at").json()
        assert [json.loads(p["hashtags"]) for p in spelled] == [["AI"], ["ai", "Ai"], ["Climate"]]
        assert [p["author_handle"] for p in spelled] == ["NewsDesk", "newsdesk", "other"]
    finally:
        base.close()


def test_the_database_page_starts_with_what_a_reader_starts_from(served):
    base, _ = served
    page = base.get("/archive").text
    start = page.split('<section class="start-here">', 1)[1].split("</section>", 1)[0]
    titles = [part.split(">", 1)[1].split("<", 1)[0] for part in start.split('<li><a href="')[1:]]
    assert titles[:3] == ["Posts", "Links", "Domains"] and "Dashboards" in titles
    assert "(10)" in start and "Every distinct link found in a post" in start
    tables = page.split("</section>", 1)[1]
    assert "_sqlite_migrations" not in tables.split("hidden table", 1)[0]


def test_a_strangers_javascript_url_is_never_a_link_on_the_pages(tmp_path):
    from archive_fixture import build_archive, open_in_process

    from archiver import store
    from archiver.preserve import parse_timemap
    from archiver.urls import link_id

    hostile = "javascript:alert(document.cookie)"
    # A TimeMap is an archive's text: its mementos must be web addresses.
    timemap = f'<{hostile}>; rel="memento"; datetime="Sun, 01 Mar 2015 12:00:00 GMT"'.encode()
    assert (
        parse_timemap(
            timemap + b',\n<https://a.example/1>; rel="memento"; datetime="Sun, 01 Mar 2015 12:00:00 GMT"'
        )[0].url
        == "https://a.example/1"
    )
    db_path = build_archive(tmp_path / "archive.db")
    db = store.open_database(db_path)
    good = "https://t.co/dLWAZRTC3H"
    # What a feed or an export claimed, stored as it came.
    db.execute("update posts set url = ?", [hostile])
    db.execute(
        "insert into captures (link_id, capture_url, url, archive, captured_at, roles, found_at) "
        "values (?, ?, ?, 'x', '2025-01-01T00:00:00Z', 'closest', '2025-01-01T00:00:00Z')",
        [link_id(good), hostile, good],
    )
    db.execute("update links set archived_url = ? where id = ?", [hostile, link_id(good)])
    db.conn.commit()
    post_id = db.execute("select id from posts limit 1").fetchone()[0]
    db.close()
    base = open_in_process(db_path)
    try:
        for path in (f"/archive/links/{link_id(good)}", f"/archive/posts/{tilde_encode(post_id)}"):
            page = base.get(f"{path}").text
            story = page.split('<section class="story', 1)[1].split("</section>", 1)[0]
            assert 'href="javascript' not in story, path
    finally:
        base.close()


def test_dead_links_are_the_links_judged_dead_and_start_here_counts_them(tmp_path):
    # "Dead links" showed 0 rows while the rot facet said dead 4 (a 404, two 410s, a
    # redirect loop, never once ok): the view counted only links that had been ok once.
    import asyncio

    from datasette.app import Datasette

    from archiver import pipeline, publish, store
    from archiver.models import Hop, Resolution
    from archiver.sources import parse_bytes

    db_path = tmp_path / "archive.db"
    db = store.open_database(db_path)
    urls = [f"https://gone.example/{n}" for n in range(5)]
    line = json.dumps({"id": "1", "text": " ".join(urls)}) + "\n"
    store.save_posts(db, parse_bytes(line.encode(), source="p.jsonl", fmt="jsonl"))
    failures = [("http_error", 404), ("http_error", 410), ("http_error", 410), ("redirect_loop", None)]
    resolutions = [
        Resolution(url, status, (Hop(url, code),), "2026-01-01T00:00:00Z", code)
        for url, (status, code) in zip(urls, failures, strict=False)
    ]
    resolutions.append(Resolution(urls[4], "ok", (Hop(urls[4], 200),), "2026-01-01T00:00:00Z", 200, urls[4]))
    pipeline.save_resolutions(db, resolutions)
    db.close()
    metadata = publish.for_database(publish.load_metadata(ROOT / "metadata.yml"), "archive")

    async def pages() -> tuple[int, str, dict]:
        datasette = Datasette([str(db_path)], metadata=metadata)
        dead = await datasette.client.get("/archive/dead_links.json?_shape=array")
        start = await datasette.client.get("/archive")
        facet = await datasette.client.get("/archive/links.json?_facet=rot")
        return len(dead.json()), start.text, facet.json()

    dead, start, facet = asyncio.run(pages())
    rot = {row["value"]: row["count"] for row in facet["facet_results"]["rot"]["results"]}
    assert rot["dead"] == 4 and dead == 4
    assert "Dead links</a> (4)" in start
