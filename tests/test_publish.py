"""The hardened configuration for a public deployment (`archiver serve --public`, `make publish-check`)."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from archive_fixture import ROOT, served_archive
from datasette.utils import tilde_encode

from archiver import publish, store


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    with served_archive(tmp_path_factory.mktemp("public"), "--public") as site:
        yield site


def test_robots_are_blocked(public):
    base, _ = public
    robots = httpx.get(f"{base}/robots.txt")
    assert robots.status_code == 200 and "Disallow: /" in robots.text


def test_limits_are_set(public):
    base, _ = public
    settings = httpx.get(f"{base}/-/settings.json").json()
    assert settings["sql_time_limit_ms"] == 1000
    assert settings["max_returned_rows"] == 1000
    assert settings["allow_download"] is False


def test_table_pages_try_no_facets_beyond_the_chosen_ones(tmp_path, public):
    # Datasette's suggestions tried a facet on every column for each page shown: a second
    # for the links page of 100,000 links.  Locally and in public, metadata's facets only.
    from archive_fixture import build_archive, open_in_process

    base, _ = public
    assert "suggested-facets" not in httpx.get(f"{base}/archive/links").text
    local = open_in_process(build_archive(tmp_path / "archive.db"))
    try:
        page = local.get("/archive/links")
    finally:
        local.close()
    assert page.status_code == 200 and "facet-info" in page.text and "suggested-facets" not in page.text


def test_database_file_cannot_be_downloaded(public):
    base, _ = public
    assert httpx.get(f"{base}/archive.db").status_code in (403, 404)


def test_a_snapshot_is_served_immutable_not_the_live_file(public):
    base, db_path = public
    databases = httpx.get(f"{base}/-/databases.json").json()
    (served,) = databases
    assert served["is_mutable"] is False and served["name"] == "archive"
    assert (db_path.parent / "public" / "archive.db").is_file()
    # Writing to the live archive does not touch what is published.
    with sqlite3.connect(db_path) as conn:
        conn.execute("delete from post_links")
    rows = httpx.get(f"{base}/archive/post_links.json?_shape=array").json()
    assert len(rows) == 10


def test_no_file_path_of_the_machine_is_published(public):
    base, db_path = public
    # The archive's folder, and the folder its posts were read from (the test fixtures).
    folders = (str(db_path.parent), str(ROOT))
    post = httpx.get(f"{base}/archive/posts.json?_shape=array&_size=1").json()[0]
    assert post["source"] == "embedded.txt"
    pages = ["/-/databases.json", "/-/databases", "/archive", "/archive.json", "/-/metadata.json"]
    pages += ["/archive/posts", "/archive/posts.json", "/archive/post_destinations", "/archive/sources"]
    pages += [f"/archive/posts/{tilde_encode(post['id'])}"]
    for page in pages:
        response = httpx.get(f"{base}{page}")
        assert response.status_code == 200, page
        assert not any(folder in response.text for folder in folders), page
    # The archive served locally keeps the full paths: it is its owner's.
    db = store.open_database(db_path)
    assert db.execute("select source from posts limit 1").fetchone()[0].startswith(str(ROOT))
    db.close()


@pytest.mark.parametrize(
    ("location", "public"),
    [
        ("/home/reporter/sources/informant-7/export.zip!data/tweets.js", "export.zip!data/tweets.js"),
        ("/srv/archive/inbox/page.html", "page.html"),
        ("inbox/notes.txt", "notes.txt"),
        ("C:\\Users\\me\\feed.xml", "feed.xml"),
        ("https://example.org/feed.xml", "https://example.org/feed.xml"),
    ],
)
def test_a_public_copy_names_local_sources_by_file_name(tmp_path, location, public):
    db = store.open_database(tmp_path / "archive.db")
    db["sources"].insert({"location": location, "format": "page", "first_seen_at": "2026-01-01T00:00:00Z"})
    publish.snapshot(db, tmp_path / "public" / "archive.db", public=True)
    db.close()
    copy = store.open_database(tmp_path / "public" / "archive.db")
    assert copy.execute("select location from sources").fetchone()[0] == public
    copy.close()


@pytest.mark.parametrize(
    "query",
    [
        "sql=select+zeroblob(300000000)",
        "sql=select+1",
        "sql=select+final_domain,+links+from+top_final_domains+limit+15+",  # not quite a chart's
        "_where=length(zeroblob(300000000))>0",
    ],
)
@pytest.mark.parametrize("page", ["/archive.json", "/archive", "/archive.csv", "/archive/links.json"])
def test_a_visitor_cannot_run_sql_of_their_own(public, page, query):
    base, _ = public
    response = httpx.get(f"{base}{page}?{query}", timeout=10)
    assert response.status_code == 403
    assert "does not run other SQL" in response.json()["error"]


def test_the_dashboards_own_queries_still_run(public):
    import json
    from urllib.parse import quote

    base, _ = public
    config = json.loads(httpx.get(f"{base}/-/metadata.json").text)["plugins"]["datasette-dashboards"]
    charts = [chart for dashboard in config.values() for chart in dashboard["charts"].values()]
    assert len(charts) >= 4
    for chart in charts:
        # The URL the dashboard's page fetches (encodeURIComponent of the query).
        url = f"{base}/{chart['db']}.json?sql={quote(chart['query'], safe='')}&&_shape=objects"
        response = httpx.get(url)
        assert response.status_code == 200, chart["query"]
        assert "rows" in response.json()


def test_optional_parts_of_a_dashboard_query_are_allowed_each_way():
    from archiver.publish.datasette_plugin import published_queries

    class Site:
        def plugin_config(self, name):
            query = "select * from links where 1 [[and host = :host]] [[and status = :status]]"
            return {"d": {"charts": {"c": {"db": "archive", "query": query}}}} if name != "archiver" else None

    allowed = published_queries(Site())
    assert "select * from links where 1 and host = :host and status = :status" in allowed
    assert "select * from links where 1  and status = :status" in allowed
    assert "select * from links where 1  " in allowed
    assert len(allowed) == 4


def test_responses_are_gzipped(public):
    base, _ = public
    response = httpx.get(f"{base}/archive/links.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"


def test_canned_queries_and_dashboards_still_work(public):
    base, _ = public
    assert httpx.get(f"{base}/archive/top_domains.json").status_code == 200
    assert httpx.get(f"{base}/-/dashboards/links").status_code == 200


def test_csv_export_cells_never_run_as_spreadsheet_formulas():
    import io

    from archiver.publish.export import write_rows

    rows = [
        {"title": '=HYPERLINK("http://evil.example","click")', "n": -3, "text": "@SUM(1+1)"},
        {"title": "+cmd|' /C calc'!A0", "n": 4, "text": "-2+3"},
        {"title": "plain = fine", "n": 5, "text": "ok"},
    ]
    out = io.StringIO()
    assert write_rows(rows, ["title", "n", "text"], "csv", out) == 3
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("\"'=HYPERLINK(") and lines[1].endswith(",-3,'@SUM(1+1)")
    assert lines[2] == "'+cmd|' /C calc'!A0,4,'-2+3"
    assert lines[3] == "plain = fine,5,ok"


def test_metadata_is_fitted_to_the_served_name_unless_it_names_it_already(tmp_path):
    from archiver.publish import for_database, load_metadata

    shipped = load_metadata()
    fitted = for_database(shipped, "mine")
    assert list(fitted["databases"]) == ["mine"]
    assert (
        "/mine/newly_failed_links.atom"
        in fitted["databases"]["mine"]["queries"]["newly_failed_links"]["title"]
    )
    assert "archive" in shipped["databases"]  # the shipped metadata is not changed
    own = tmp_path / "own.yml"
    own.write_text("title: Mine\ndatabases:\n  mine:\n    description: my own\n", encoding="utf-8")
    assert for_database(load_metadata(own), "mine")["databases"] == {"mine": {"description": "my own"}}


def test_the_public_snapshot_can_be_written_for_datasette_publish(tmp_path):
    from archive_fixture import build_archive
    from click.testing import CliRunner

    from archiver.cli import cli

    db_path = build_archive(tmp_path / "archive.db")
    result = CliRunner().invoke(cli, ["serve", "--db", str(db_path), "--public", "--write-only"])
    assert result.exit_code == 0, result.output
    snapshot, metadata = (tmp_path / "public" / "archive.db"), (tmp_path / "public" / "metadata.json")
    assert result.output.split() == [str(snapshot), str(metadata)]
    with sqlite3.connect(snapshot) as conn:
        assert {row[0] for row in conn.execute("select source from posts")} == {"embedded.txt"}
    assert '"public": true' in metadata.read_text()
    refused = CliRunner().invoke(cli, ["serve", "--db", str(db_path), "--write-only"])
    assert refused.exit_code == 2 and "--public" in refused.output


def test_a_public_copy_shows_the_names_the_sources_file_gives(tmp_path):
    from click.testing import CliRunner

    from archiver.cli import cli
    from archiver.sources import SourceEntry, read_source_list

    folder = tmp_path / "reporting" / "informant-7"
    (folder / "dropbox" / "day1").mkdir(parents=True)
    (folder / "dropbox" / "day1" / "x.txt").write_text("Seen https://a.invalid/x\n", encoding="utf-8")
    (folder / "tips.txt").write_text("A tip https://a.invalid/tip\n", encoding="utf-8")
    (folder / "plain.txt").write_text("Plain https://a.invalid/plain\n", encoding="utf-8")
    listing = folder / "sources.txt"
    listing.write_text(
        'page tips.txt as "Tip line"   # a comment\ndropbox as "Dropbox"\nplain.txt\n',
        encoding="utf-8",
    )
    assert read_source_list(listing) == [
        SourceEntry(str(folder / "tips.txt"), "page", "Tip line"),
        SourceEntry(str(folder / "dropbox"), None, "Dropbox"),
        SourceEntry(str(folder / "plain.txt"), None, None),
    ]
    db_path = folder / "archive.db"
    runner = CliRunner()
    ran = runner.invoke(cli, ["archive", "--db", str(db_path), "--sources", str(listing), "--timeout", "1"])
    assert ran.exit_code == 0, ran.output
    written = runner.invoke(cli, ["serve", "--db", str(db_path), "--public", "--write-only"])
    assert written.exit_code == 0, written.output
    with sqlite3.connect(folder / "public" / "archive.db") as conn:
        assert {r[0] for r in conn.execute("select source from posts")} == {
            "Tip line",
            "Dropbox/day1/x.txt",
            "plain.txt",
        }
        assert {r[0] for r in conn.execute("select location from sources")} == {
            "Tip line",
            "Dropbox/day1/x.txt",
            "plain.txt",
        }
        dump = "\n".join(conn.iterdump())
    assert "informant-7" not in dump and str(tmp_path) not in dump


def test_a_named_file_in_the_inbox_is_read_once_and_keeps_its_name(tmp_path):
    from click.testing import CliRunner

    from archiver.cli import cli

    folder = tmp_path / "mine"
    (folder / "inbox").mkdir(parents=True)
    (folder / "inbox" / "note.txt").write_text("Read https://a.invalid/story\n", encoding="utf-8")
    (folder / "sources.txt").write_text('inbox/note.txt as "Notebook"\n', encoding="utf-8")
    runner = CliRunner()
    # The sources file lists the file, and the inbox beside it holds it too.
    ran = runner.invoke(cli, ["archive", "--db", str(folder / "archive.db"), "--timeout", "1"])
    assert ran.exit_code == 0, ran.output
    written = runner.invoke(cli, ["serve", "--db", str(folder / "archive.db"), "--public", "--write-only"])
    assert written.exit_code == 0, written.output
    with sqlite3.connect(folder / "public" / "archive.db") as conn:
        assert conn.execute("select source from posts").fetchall() == [("Notebook",)]


def test_every_state_the_metadata_names_is_one_of_the_vocabulary():
    """A status or verdict written in metadata.yml's SQL is a value archiver stores, never a typo."""
    import re

    from archiver.models import LinkStatus, LookupStatus, Rot, RunStatus, SaveStatus, SourceStatus

    text = (ROOT / "metadata.yml").read_text(encoding="utf-8")
    vocabularies = {
        "status": {*LinkStatus, *LookupStatus, *SaveStatus, *RunStatus},
        "last_status": set(SourceStatus),
        "rot": set(Rot),
    }
    compared = re.compile(
        r"\b(status|last_status|rot)\s*(?:not\s+in|in|!=|=|is\s+not|is)\s*(\([^)]*\)|'[^']*')", re.I
    )
    found = 0
    for column, values in compared.findall(text):
        for literal in re.findall(r"'([^']*)'", values):
            found += 1
            assert literal in vocabularies[column.lower()], (column, literal)
    assert found >= 8
