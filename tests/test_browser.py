"""The published archive in a real browser: Debian's chromium driven by Playwright.

Mandatory in CI (``.ci/run`` installs chromium); skipped with the reason elsewhere when
chromium is missing.  Screenshots of the main pages are kept under test-artifacts/.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from archive_fixture import ROOT, served_archive

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
# As root, in a container, on a machine with no network but the local server.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"chromium is required in CI and was not found at {CHROMIUM}")
    pytest.skip(
        "chromium is not installed (apt-get install chromium); .ci/run installs it", allow_module_level=True
    )

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with served_archive(tmp_path_factory.mktemp("browser")) as site:
        yield site


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_links_table_and_a_facet(site, page):
    base, _ = site
    page.goto(f"{base}/archive/links")
    assert "Every distinct link found in a post" in page.content()
    screenshot(page, "links")
    page.click(".facet-info[data-column='status'] a:has-text('dns_error')")
    page.wait_for_url("**status=dns_error**")
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1
    assert "t.co/Z9ixm4GsEx" in rows.first.inner_text()


def test_search_posts(site, page):
    base, _ = site
    page.goto(f"{base}/archive/posts")
    page.fill("input#_search", "cartoons")
    page.keyboard.press("Enter")
    page.wait_for_url("**_search=cartoons**")
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1
    screenshot(page, "search")


def test_dashboard_charts_draw(site, page):
    base, _ = site
    page.goto(f"{base}/-/dashboards/links")
    page.wait_for_selector(".vega-embed svg, .vega-embed canvas", timeout=20000)
    drawn = page.locator(".vega-embed svg, .vega-embed canvas")
    assert drawn.count() >= 4
    screenshot(page, "dashboard")


def test_csv_download_matches_the_database(site, page):
    base, db_path = site
    page.goto(f"{base}/archive/links")
    with page.expect_download() as download_info:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; a.download = 'links.csv';"
            " document.body.appendChild(a); a.click(); }",
            f"{base}/archive/links.csv?_stream=on&_dl=1",
        )
    path = download_info.value.path()
    downloaded = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    with sqlite3.connect(db_path) as conn:
        urls = sorted(row[0] for row in conn.execute("select url from links"))
    assert sorted(row["url"] for row in downloaded) == urls


# -- a reporter's path through the published archive (#16) --------------------------------

SCREENSHOTS = ROOT / "docs" / "screenshots"
GREEN, RED = "#1a7f37", "#cf222e"


def readme_screenshot(page, name: str, section: str | None = None) -> None:
    """A screenshot the README shows: retaken by every run of the browser tests.

    With ``section``, that part of the page alone: a post's id holds a digest of the path
    it was read from, which differs from one checkout to another.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if section is not None:
        page.locator(section).screenshot(path=path)
        return
    # Without the footer, whose query timings would change the picture at every run.
    page.add_style_tag(content="footer.ft { display: none; }")
    page.screenshot(path=path, full_page=False)


def story_archive(folder: Path) -> Path:
    """The fixture archive, with a link that resolved once and fails now, and posts tagged in two cases."""
    from archive_fixture import build_archive

    from archiver import pipeline, store
    from archiver.models import Hop, Post, Resolution

    db_path = build_archive(folder / "archive.db")
    db = store.open_database(db_path)
    good = "https://t.co/dLWAZRTC3H"
    failed = Resolution(good, "http_error", (Hop(good, 404),), "2026-03-01T00:00:00Z", 404, good, "HTTP 404")
    pipeline.save_resolutions(db, [failed])
    store.save_posts(
        db,
        [
            Post(
                "a1",
                "mastodon",
                "Desk",
                "desk",
                "Notes on #AI",
                "2026-02-01",
                None,
                "notes.txt",
                hashtags=("AI",),
            ),
            Post(
                "a2",
                "mastodon",
                "Desk",
                "Desk",
                "More on #ai",
                "2026-02-02",
                None,
                "notes.txt",
                hashtags=("ai",),
            ),
        ],
    )
    db.close()
    return db_path


@pytest.fixture(scope="module")
def story_site(tmp_path_factory):
    from archive_fixture import start_server

    db_path = story_archive(tmp_path_factory.mktemp("story"))
    # Public, as a reporter would see it published (and the README's screenshots show no
    # folder of the machine that took them).
    process, base = start_server(db_path, "--public")
    try:
        yield base, db_path
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_from_the_home_page_to_a_post_and_a_links_story_without_sql(story_site, page):
    base, _ = story_site
    page.goto(base)
    page.click("a:has-text('archive')")
    page.click(".start-here a:has-text('Posts')")
    page.fill("input#_search", "delegations")
    page.keyboard.press("Enter")
    page.wait_for_url("**_search=delegations**")
    page.click("table.rows-and-columns tbody tr td.col-id a")
    story = page.locator("section.post-story")
    assert "Michael Novakhov" in story.inner_text()
    readme_screenshot(page, "post-page", "section.post-story")
    page.click("section.post-story a.post-link:has-text('t.co/dLWAZRTC3H')")
    link = page.locator("section.link-story")
    text = link.inner_text()
    assert "Where this link goes" in text and "http_error" in text
    # The latest check failed: the chain shown is the last good one, and says so.
    assert "last good chain, seen 2026-01-01 00:00:00 UTC" in text
    steps = page.locator("section.link-story ol.chain li")
    assert steps.count() == 2 and "Location header" in steps.first.inner_text()
    history = page.locator("section.link-story table.timeline tr")
    assert history.count() == 3  # a header and two checks, the failure first
    assert "2026-03-01" in history.nth(1).inner_text()
    # The outcome reads in its colour: failed red.
    badge = page.locator("section.link-story p.outcome .badge")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(207, 34, 46)"
    readme_screenshot(page, "link-page", "section.link-story")


def test_check_outcomes_are_coloured_by_meaning_in_the_chart(story_site, page):
    base, _ = story_site
    page.goto(f"{base}/-/dashboards/links")
    page.wait_for_selector(".vega-embed svg, .vega-embed canvas", timeout=20000)
    page.wait_for_timeout(1000)
    chart = page.locator(".dashboard-card", has_text="Check outcomes per day")
    fills = chart.locator("svg path[fill], svg rect[fill]").evaluate_all(
        "marks => marks.map(m => m.getAttribute('fill').toLowerCase())"
    )
    assert GREEN in fills and RED in fills  # ok green, http_error and dns_error red
    readme_screenshot(page, "dashboard")


def test_the_hashtag_facet_counts_any_case_once(story_site, page):
    base, _ = story_site
    page.goto(f"{base}/archive/posts")
    facet = page.locator(".facet-info[data-column='hashtags_folded']")
    assert "ai 2" in " ".join(facet.inner_text().split())
    facet.locator("a:has-text('ai')").first.click()
    page.wait_for_url("**hashtags_folded**")
    assert page.locator("table.rows-and-columns tbody tr").count() == 2


def test_public_pages_show_no_path_of_the_machine(tmp_path_factory, page):
    from archive_fixture import start_server

    db_path = story_archive(tmp_path_factory.mktemp("public-story"))
    process, base = start_server(db_path, "--public")
    try:
        for path in ("/archive/posts", "/archive/sources", "/archive/post_destinations", "/archive"):
            page.goto(f"{base}{path}")
            content = page.content()
            assert str(ROOT) not in content and str(db_path.parent) not in content, path
        # No SQL box or "edit SQL" link: a public instance would refuse what they send.
        page.goto(f"{base}/archive")
        assert page.locator("form.sql").count() == 1 and not page.locator("form.sql").is_visible()
        page.goto(f"{base}/archive/links")
        assert not page.locator("a:has-text('View and edit SQL')").is_visible()
        page.goto(f"{base}/archive/posts")
        page.click("table.rows-and-columns tbody tr td.col-id a")
        assert "from embedded.txt" in page.locator("section.post-story").inner_text() or "from notes.txt" in (
            page.locator("section.post-story").inner_text()
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_links_table_shows_url_status_and_destination_at_laptop_width(story_site, page):
    base, _ = story_site
    page.goto(f"{base}/archive/links")
    for column in ("url", "status", "final_url", "final_domain"):
        header = page.locator(f"table.rows-and-columns th.col-{column}")
        box = header.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, column
        assert box["y"] + box["height"] <= 800, column  # on the first screen, too
    screenshot(page, "links-table")


def test_the_owner_of_a_local_instance_keeps_the_sql_box(site, page):
    base, _ = site
    page.goto(f"{base}/archive")
    assert page.locator("form.sql").is_visible()


# -- what a reporter reads first (1280×800) ----------------------------------------------


def test_the_posts_table_shows_posts_on_the_first_screen(story_site, page):
    # The rows started at y≈1,282, below a screen of notes, filters and facets; the id
    # column took half of a 3,302 px table and posted_at was off-screen.
    base, _ = story_site
    page.goto(f"{base}/archive/posts")
    first = page.locator("table.rows-and-columns tbody tr").first.bounding_box()
    assert first is not None and first["y"] < 800
    for column in ("platform", "author_name", "text", "posted_at"):
        box = page.locator(f"table.rows-and-columns th.col-{column}").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, column
    text = page.locator("table.rows-and-columns tbody td.col-text a.post-link").first
    assert "/archive/links/" in (text.get_attribute("href") or "")  # the archive's own link page
    readme_screenshot(page, "posts-table")


def test_start_here_counts_the_dead_links_the_rot_facet_counts(story_site, page):
    base, _ = story_site
    page.goto(f"{base}/archive/links?rot=dead")
    dead = int(page.locator("h3").first.inner_text().split()[0])
    page.goto(f"{base}/archive")
    item = page.locator(".start-here li", has_text="Dead links")
    assert f"Dead links ({dead})" in item.inner_text() and dead > 0
    item.locator("a").click()
    # Waits for the page the link leads to (a count taken at once may read the page left).
    sync_api.expect(page.locator("table.rows-and-columns tbody tr")).to_have_count(dead)


def test_a_healthy_links_page_says_yes_and_a_missing_title_says_why(site, page):
    # A healthy link's page answered "Still the page linked?" with a green "none", read as
    # "no"; a link without a title showed "Title: none".
    base, _ = site
    page.goto(f"{base}/archive/links?rot=none")
    page.click("table.rows-and-columns tbody tr td.col-id a")
    story = page.locator("section.link-story")
    answer = story.locator("dt:has-text('Still the page that was linked?') + dd .badge")
    assert answer.inner_text() == "Yes"
    page.goto(f"{base}/archive/links?status=dns_error")
    page.click("table.rows-and-columns tbody tr td.col-id a")
    title = page.locator("section.link-story dt:has-text('Title') + dd").inner_text()
    assert title == "no page reached"


def test_search_results_lead_to_the_archives_own_pages(story_site, page):
    # Results linked only to external URLs, statuses were not coloured, times were raw.
    base, _ = story_site
    page.goto(f"{base}/-/search?q=summit")
    page.wait_for_selector("#search-all-results table[data-archiver], #search-all-results div[data-archiver]")
    page.wait_for_timeout(500)
    links = page.locator("#search-all-results div", has_text="in archive: links").first
    assert links.locator("span.value-http_error").count() >= 1
    assert "UTC" in links.locator("td").all_inner_texts().__str__()
    posts = page.locator("#search-all-results div", has_text="in archive: posts").first
    posts.locator("td a[href*='/archive/posts/']").first.click()
    sync_api.expect(page.locator("section.post-story")).to_be_visible()


def test_the_rot_chart_has_no_legend_to_cut_and_the_database_page_no_repeats(story_site, site, page):
    base, _ = story_site
    page.goto(f"{base}/-/dashboards/links")
    page.wait_for_selector(".vega-embed svg", timeout=20000)
    chart = page.locator(".dashboard-card", has_text="Links by rot verdict")
    assert chart.locator("svg .role-legend").count() == 0  # the bars name the verdicts
    page.goto(f"{base}/archive")
    queries = page.locator("h2#queries + ul li").all_inner_texts()
    views = {v.split()[0] for v in page.locator("h2#views + ul li").all_inner_texts()}
    assert not any("changed" in q and "content" in q for q in queries) and "content_changed" in views
    local, _ = site
    page.goto(f"{local}/archive")
    page.wait_for_load_state("load")
    editor = page.evaluate("() => document.querySelector('.CodeMirror').CodeMirror.getValue()")
    assert editor.startswith("select posted_at, author_handle, platform, text from posts")


# -- an evidence package replayed where anyone would open it -----------------------------

REPLAY_VIEWER = ROOT / ".cache" / "replaywebpage-2.5.3"  # `make replay-viewer` puts it there
REPLAYED_TEXT = "What the link showed on the day: 7f3a"


class Chain(BaseHTTPRequestHandler):
    """A shortened link: 302 to a 301 to the page."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        moves = {"/short": (302, "/middle"), "/middle": (301, "/final")}
        status, location = moves.get(self.path, (200 if self.path == "/final" else 404, ""))
        body = f"<html><head><title>Then</title></head><body><p>{REPLAYED_TEXT}</p></body></html>".encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_an_evidence_package_replays_its_chain_in_replaywebpage(tmp_path, page):
    if not (REPLAY_VIEWER / "sw.js").exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{REPLAY_VIEWER} is missing: .ci/run runs make replay-viewer first")
        pytest.skip("ReplayWeb.page is not here: make replay-viewer fetches it (needs npm)")
    from conftest import TestServer, serve_in_thread

    posts = tmp_path / "posts.jsonl"
    db = tmp_path / "a.db"
    with serve_in_thread(TestServer(("127.0.0.1", 0), Chain)) as origin:
        posts.write_text(f'{{"id": "p1", "text": "see {origin}/short"}}\n')
        # As a user runs it (and apart from the browser's event loop in this process).
        archiver(
            ["archive", str(posts), "--db", str(db), "--create", "--allow-private", "--no-probe", "--copies"]
        )
    # The site is gone: what shows next comes from the package alone.
    www = tmp_path / "www"
    (www / "replay").mkdir(parents=True)
    shutil.copy(REPLAY_VIEWER / "ui.js", www / "ui.js")
    shutil.copy(REPLAY_VIEWER / "sw.js", www / "replay" / "sw.js")
    archiver(["evidence", "web:p1", "--db", str(db), "-o", str(www / "case.wacz")])
    (www / "index.html").write_text(
        '<!doctype html><html><head><script src="./ui.js"></script></head><body>'
        f'<replay-web-page source="case.wacz" url="{origin}/short" style="display:block;height:600px">'
        "</replay-web-page></body></html>"
    )
    handler = functools.partial(Quiet, directory=str(www))
    with serve_in_thread(TestServer(("127.0.0.1", 0), handler)) as viewer:
        page.goto(f"{viewer}/index.html")
        shown = None
        # Seconds alone; on a machine busy with other work the viewer's service worker
        # has taken over half a minute to start.
        deadline = time.monotonic() + 90
        while shown is None and time.monotonic() < deadline:
            shown = next((f for f in page.frames if REPLAYED_TEXT in _content(f)), None)
            page.wait_for_timeout(250)
        screenshot(page, "evidence-replay")
    # Asked for the short link, the replay followed its two redirects to the page.
    assert shown is not None, [f.url for f in page.frames]
    assert shown.url.endswith(f"mp_/{origin}/final"), shown.url


def archiver(arguments: list[str]) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "archiver"), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _content(frame) -> str:
    try:
        return frame.content()
    except sync_api.Error:  # a frame navigating away as it is read
        return ""
