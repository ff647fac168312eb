"""The published archive in a real browser: Debian's chromium driven by Playwright.

Mandatory in CI (``.ci/run`` installs chromium); skipped with the reason elsewhere when
chromium is missing.  Screenshots of the main pages are kept under test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
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
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
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
