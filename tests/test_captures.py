"""Web-archive captures: TimeMaps and CDX answers read, lookups and Save Page Now against local archives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from click.testing import CliRunner

from archiver import pipeline, store
from archiver.cli import cli
from archiver.http import ResolverSettings
from archiver.models import Capture, LookupJob, LookupResult
from archiver.pipeline import ask_archives
from archiver.preserve import (
    ArchiveClient,
    CaptureSettings,
    Endpoint,
    ListingError,
    parse_cdx,
    parse_timemap,
    summarise,
)
from tests.conftest import TestServer as QuietServer
from tests.conftest import serve_in_thread

# -- reading archives' answers ----------------------------------------------------------

# Shaped like the Wayback Machine's link-format TimeMaps: one link a line, ending in ",".
TIMEMAP = ",\n".join(
    [
        '<http://example.com/story>; rel="original"',
        '<https://web.archive.org/web/timemap/link/http://example.com/story>; rel="self"; '
        'type="application/link-format"; from="Fri, 20 Dec 1996 00:00:00 GMT"',
        '<https://web.archive.org/web/http://example.com/story>; rel="timegate"',
        '<https://web.archive.org/web/19961220000000/http://example.com/story>; rel="first memento"; '
        'datetime="Fri, 20 Dec 1996 00:00:00 GMT"',
        '<https://web.archive.org/web/20150301120000/http://example.com/story>; rel="memento"; '
        'datetime="Sun, 01 Mar 2015 12:00:00 GMT"',
        '<https://web.archive.org/web/20240101000000/http://example.com/story>; rel="last memento"; '
        'datetime="Mon, 01 Jan 2024 00:00:00 GMT"',
    ]
).encode()


def test_a_timemap_lists_its_mementos_and_nothing_else():
    captures = parse_timemap(TIMEMAP)
    assert [c.captured_at for c in captures] == [
        "1996-12-20T00:00:00Z",
        "2015-03-01T12:00:00Z",
        "2024-01-01T00:00:00Z",
    ]
    assert captures[1].url == "https://web.archive.org/web/20150301120000/http://example.com/story"
    assert parse_timemap(b"") == []
    with pytest.raises(ListingError):
        parse_timemap(b"<!doctype html> Too many requests")  # a page, not a TimeMap
    with pytest.raises(ListingError):
        parse_timemap(b"Rate limited; try again later")


def test_timemaps_as_archives_really_write_them():
    # Folded lines, no space before a parameter, an unquoted rel, a memento listed twice.
    folded = (
        b"  <http://a.example>;rel=original,\n"
        b'  <http://arch.example/tm/http://a.example>\n    ; rel="self";type="application/link-format",\n'
        b"  <http://arch.example/20000620180259/http://a.example>\n"
        b'    ; rel="first memento";datetime="Tue, 20 Jun 2000 18:02:59 GMT"\n'
        b'    ; license="http://creativecommons.org/publicdomain/zero/1.0/",\n'
        b"  <http://arch.example/20000620180259/http://a.example>; rel=memento;"
        b' datetime="Tue, 20 Jun 2000 18:02:59 GMT",\n'
        b"  <http://arch.example/20091027204954/http://a.example>\n"
        b'     ; rel="last memento";datetime="Tue, 27 Oct 2009 20:49:54 GMT"\n'
    )
    assert [c.captured_at for c in parse_timemap(folded)] == ["2000-06-20T18:02:59Z", "2009-10-27T20:49:54Z"]


def test_a_cdx_answer_cut_off_mid_array_keeps_its_whole_rows():
    cut = (
        b'[["urlkey","timestamp","original","mimetype","statuscode"],\n'
        b'["a,example)/","20240101000000","https://a.example/","text/html","200"],\n'
        b'["a,example)/","20240101000001","https://a.example/","warc/revisit","-"],\n'
        b'["a,example)/","2024010'
    )
    captures = parse_cdx(cut, Endpoint.parse("https://web.archive.org/cdx/search/cdx"))
    assert [(c.captured_at, c.http_status) for c in captures] == [
        ("2024-01-01T00:00:00Z", 200),
        ("2024-01-01T00:00:01Z", None),
    ]


def test_a_cdx_answer_becomes_captures_shown_under_the_replay_path():
    body = json.dumps(
        [
            ["timestamp", "original", "statuscode"],
            ["20150301120000", "http://example.com/story", "200"],
            ["20200101000000", "http://example.com/story", "404"],
            ["2019", "http://example.com/story", "-"],
            ["not-a-date", "http://example.com/story", "200"],
        ]
    ).encode()
    wayback = Endpoint.parse("https://web.archive.org/cdx/search/cdx")
    captures = parse_cdx(body, wayback)
    assert captures == [
        Capture(
            "https://web.archive.org/web/20150301120000/http://example.com/story", "2015-03-01T12:00:00Z", 200
        ),
        Capture(
            "https://web.archive.org/web/20200101000000/http://example.com/story", "2020-01-01T00:00:00Z", 404
        ),
        Capture("https://web.archive.org/web/2019/http://example.com/story", "2019-01-01T00:00:00Z", None),
    ]
    pywb = Endpoint.parse("http://localhost:8080/my-web/cdx")
    assert pywb.kind == "cdx"
    assert pywb.replay_url("20150301120000", "http://a.example/") == (
        "http://localhost:8080/my-web/20150301120000/http://a.example/"
    )
    assert Endpoint.parse("https://arquivo.pt/wayback/timemap/link/").kind == "timemap"
    assert parse_cdx(b"", wayback) == [] and parse_cdx(b"[]", wayback) == []
    with pytest.raises(ListingError):
        parse_cdx(b"<html>error</html>", wayback)


def test_the_capture_kept_is_the_good_one_closest_to_the_post():
    captures = [
        Capture("a", "2010-01-01T00:00:00Z", 200),
        Capture("b", "2019-06-01T00:00:00Z", 404),
        Capture("c", "2018-01-01T00:00:00Z", 200),
        Capture("d", "2024-01-01T00:00:00Z", None),
    ]
    summary = summarise(captures, near="2019-05-30T10:00:00Z")
    assert (summary.count, summary.first.url, summary.latest.url, summary.closest.url) == (4, "a", "d", "c")
    assert summarise([], near="2019-01-01").count == 0


# -- local archives -----------------------------------------------------------------------


@dataclass
class Archive:
    """What a local web archive holds and saw."""

    captures: dict[str, list[str]] = field(default_factory=dict)  # URL -> timestamps
    busy_once: set[str] = field(default_factory=set)  # URLs answered 429 the first time
    quota: int = 100  # captures Save Page Now makes a day
    saves_made: int = 0
    requests: list[tuple[float, str, str]] = field(default_factory=list)  # (time, method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answer_all: bytes | None = None  # a hostile archive's one answer to every request


@contextlib.contextmanager
def local_archive(archive: Archive) -> Iterator[str]:
    """A CDX API at /cdx, TimeMaps at /timemap/link/URL and Save Page Now at /save."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def send(self, status: int, body: bytes, kind: str = "application/json", **headers: str) -> None:
            if archive.answer_all is not None:
                status, body, headers = 200, archive.answer_all, {}
            self.send_response(status)
            self.send_header("Content-Type", kind)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            with archive.lock:
                archive.requests.append((time.monotonic(), "GET", self.path))
            if parts.path == "/cdx":
                url = parse_qs(parts.query)["url"][0]
                if url in archive.busy_once:
                    archive.busy_once.discard(url)
                    self.send(429, b"slow down", "text/plain", Retry_After="3")
                    return
                rows = [["timestamp", "original", "statuscode"]]
                rows += [[ts, url, "200"] for ts in archive.captures.get(url, [])]
                self.send(200, json.dumps(rows if len(rows) > 1 else []).encode())
            elif parts.path.startswith("/timemap/link/"):
                url = unquote(self.path.removeprefix("/timemap/link/"))
                stamps = archive.captures.get(url, [])
                if not stamps:
                    self.send(404, b"no captures", "text/plain")
                    return
                lines = [f'<{url}>; rel="original"']
                for ts in stamps:
                    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.strptime(ts, "%Y%m%d%H%M%S"))
                    lines.append(f'<http://archive.test/{ts}/{url}>; rel="memento"; datetime="{when}"')
                self.send(200, ",\n".join(lines).encode(), "application/link-format")
            elif parts.path == "/save/status/user":
                if "Authorization" not in self.headers:
                    self.send(401, b'{"message": "log in"}')
                    return
                left = archive.quota - archive.saves_made
                body = {
                    "available": left,
                    "daily_captures": archive.saves_made,
                    "daily_captures_limit": archive.quota,
                }
                self.send(200, json.dumps(body).encode())
            elif parts.path.startswith("/save/status/"):
                job = parts.path.rsplit("/", 1)[1]
                url = unquote(job.removeprefix("spn2-").split("-", 1)[1])
                self.send(
                    200,
                    json.dumps(
                        {"status": "success", "timestamp": "20261129120000", "original_url": url}
                    ).encode(),
                )
            else:
                self.send(404, b"not here", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            with archive.lock:
                archive.requests.append((time.monotonic(), "POST", self.path))
                if archive.saves_made >= archive.quota:
                    self.send(429, b'{"message": "You have reached your daily limit"}', Retry_After="3600")
                    return
                archive.saves_made += 1
            url = form["url"][0]
            archive.captures.setdefault(url, []).append("20261129120000")
            job = f"spn2-{archive.saves_made:08x}-{quote(url, safe='')}"
            self.send(200, json.dumps({"url": url, "job_id": job}).encode())

    with serve_in_thread(QuietServer(("127.0.0.1", 0), Handler)) as base:
        yield base


@contextlib.contextmanager
def links_site() -> Iterator[str]:
    """Pages to link to: /live-1 and /live-2 answer; /gone is a 404."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            status, body = (404, b"gone") if self.path == "/gone" else (200, b"<title>Live</title>live")
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve_in_thread(QuietServer(("127.0.0.1", 0), Handler)) as base:
        yield base


def archive_run(tmp_path, site: str, *options: str, env: dict[str, str] | None = None):
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        '{"id": "1", "created_at": "2019-05-30T10:00:00Z", "text": "see '
        + site
        + "/gone and "
        + site
        + '/live-1"}\n'
        '{"id": "2", "text": "and ' + site + '/live-2 and https://example.org/cut-off-arti\\u2026"}\n'
    )
    result = CliRunner(env=env or {}).invoke(
        cli,
        [
            "archive",
            str(posts),
            "--db",
            str(tmp_path / "archive.db"),
            "--allow-private",
            "--no-probe",
            *options,
        ],
        catch_exceptions=False,
    )
    db = store.open_database(tmp_path / "archive.db")
    return result, db


def test_the_default_run_asks_no_archive(tmp_path):
    with links_site() as site:
        result, db = archive_run(tmp_path, site)
    assert result.exit_code == 0, result.output
    assert db["capture_lookups"].count == 0 and db["capture_requests"].count == 0
    assert "captures" not in result.output
    db.close()


def test_lookups_in_a_cdx_api_and_a_timemap_keep_the_capture_closest_to_the_post(tmp_path):
    cdx, timemap = Archive(), Archive()
    with links_site() as site, local_archive(cdx) as cdx_base, local_archive(timemap) as tm_base:
        cdx.captures[f"{site}/gone"] = ["20100101000000", "20190601000000", "20240101000000"]
        cdx.busy_once.add(f"{site}/gone")
        timemap.captures[f"{site}/live-1"] = ["20200101000000"]
        result, db = archive_run(
            tmp_path,
            site,
            "--captures",
            "lookup",
            "--captures-url",
            f"{cdx_base}/cdx",
            "--captures-url",
            f"{tm_base}/timemap/link/",
        )
    assert result.exit_code == 0, result.output
    assert "captures: 6 looked up (2 found, 0 failed)" in result.output
    gone = db.execute(
        "select archived_url, archived_at, capture_count, rot from links where url like '%/gone'"
    ).fetchone()
    assert gone == (f"{cdx_base}/20190601000000/{site}/gone", "2019-06-01T00:00:00Z", 3, "dead")
    live = db.execute("select archived_url, capture_count from links where url like '%/live-1'").fetchone()
    assert live == (f"http://archive.test/20200101000000/{site}/live-1", 1)
    rows = {
        (r["url"].rsplit("/", 1)[1], r["archive"].split(":")[-1] == cdx_base.rsplit(":", 1)[1]): r["status"]
        for r in db.query("select * from capture_lookups")
    }
    assert rows == {
        ("gone", True): "found",
        ("gone", False): "none",
        ("live-1", True): "none",
        ("live-1", False): "found",
        ("live-2", True): "none",
        ("live-2", False): "none",
    }
    roles = {r["roles"] for r in db.query("select roles from captures where url like '%/gone'")}
    assert roles == {"first", "closest", "latest"}
    # The 429 was waited out as its Retry-After asked, then answered.
    asked = [t for t, _, path in cdx.requests if "gone" in path]
    assert len(asked) == 2 and asked[1] - asked[0] >= 2.9  # backoff alone waits 1-2 s
    # The cut-off link was never looked up, nor requested.
    assert not any("cut-off" in path for _, _, path in cdx.requests + timemap.requests)
    db.close()


def test_a_deeply_nested_answer_is_a_failed_lookup_and_save_and_the_run_goes_on(tmp_path):
    # 400 KB of "[" took the standard library's decoder past Python's recursion limit: the
    # RecursionError ended the run (interrupted, exit 1) and every later run the same way.
    hostile = Archive(answer_all=b"[" * 400_000)
    with links_site() as site, local_archive(hostile) as base:
        options = (
            "--captures-url",
            f"{base}/cdx",
            "--captures-save-url",
            f"{base}/save",
            "--save-spacing",
            "0",
        )
        keys = {"ARCHIVER_IA_ACCESS_KEY": "key", "ARCHIVER_IA_SECRET_KEY": "secret"}
        result, db = archive_run(tmp_path, site, "--captures", "save", *options, env=keys)
    assert result.exit_code == 0, result.output
    assert "captures: 3 looked up (0 found, 3 failed)" in result.output
    lookups = list(db.query("select status, error from capture_lookups"))
    assert len(lookups) == 3
    assert all(row["status"] == "failed" and "not a CDX JSON answer" in row["error"] for row in lookups)
    [run] = list(db.query("select status from runs"))
    assert run["status"] == "completed"
    db.close()


def test_a_saves_answer_nested_too_deep_is_a_failed_save():
    from archiver.preserve.archives import _job_of

    assert _job_of("[" * 400_000) == (None, None)


def test_a_recent_lookup_is_not_repeated_until_it_is_due(tmp_path):
    cdx = Archive()
    with links_site() as site, local_archive(cdx) as base:
        options = ("--captures", "lookup", "--captures-url", f"{base}/cdx")
        archive_run(tmp_path, site, *options)[1].close()
        first = len(cdx.requests)
        result, db = archive_run(tmp_path, site, *options)
    assert first == 3 and len(cdx.requests) == 3
    assert "captures: 0 looked up" in result.output
    db.close()


def test_save_asks_for_live_pages_no_archive_has_within_the_quota(tmp_path):
    cdx = Archive()
    with links_site() as site, local_archive(cdx) as base:
        options = (
            "--captures",
            "save",
            "--captures-url",
            f"{base}/cdx",
            "--captures-save-url",
            f"{base}/save",
            "--save-spacing",
            "0",
            "--save-limit",
            "1",
        )
        result, db = archive_run(tmp_path, site, *options)
    assert result.exit_code == 0, result.output
    # Two live links had no capture; the limit allowed one; the dead link is never saved.
    [request] = list(db.query("select * from capture_requests"))
    assert request["status"] == "saved" and request["url"] == f"{site}/live-1"
    assert request["capture_url"] == f"{base}/web/20261129120000/{site}/live-1"
    assert [m for _, m, _ in cdx.requests].count("POST") == 1
    assert "1 asked for, 1 made, 0 captures left of today's quota" in result.output
    saved = db.execute("select archived_url from links where url = ?", [f"{site}/live-1"]).fetchone()[0]
    assert saved == request["capture_url"]
    db.close()


def test_an_accounts_own_quota_and_a_429_stop_the_saves(tmp_path):
    cdx = Archive(quota=1)
    keys = {"ARCHIVER_IA_ACCESS_KEY": "key", "ARCHIVER_IA_SECRET_KEY": "secret"}
    with links_site() as site, local_archive(cdx) as base:
        options = (
            "--captures",
            "save",
            "--captures-url",
            f"{base}/cdx",
            "--captures-save-url",
            f"{base}/save",
        )
        result, db = archive_run(tmp_path, site, *options, "--save-spacing", "0", env=keys)
        assert [m for _, m, _ in cdx.requests].count("POST") == 1  # the account had one left
        assert "0 captures left of today's quota" in result.output
        db.close()
        # Another archive, the same account: the archive says no with a 429.
        (tmp_path / "other").mkdir()
        cdx.quota = 0
        cdx.saves_made = 0
        result, db = archive_run(tmp_path / "other", site, *options, "--save-spacing", "0")
    assert result.exit_code == 0, result.output
    assert "Save Page Now asked to slow down" in result.output
    assert db["capture_requests"].count == 0
    db.close()


def test_lookups_go_through_the_guard_and_skip_links_never_requested(tmp_path):
    archive = Archive()
    db = store.open_database(tmp_path / "archive.db")
    for lid, status, final in (
        ("a", "ok", "https://news.example/a"),
        ("b", "blocked", None),
        ("c", "invalid", None),
        ("d", "truncated", None),
        ("e", "pending", None),
    ):
        db["links"].insert(
            {
                "id": lid,
                "url": f"https://news.example/{lid}",
                "host": "news.example",
                "status": status,
                "final_url": final,
                "first_seen_at": "2026-01-01T00:00:00Z",
            }
        )
    assert [row[1] for row in pipeline.links_due_for_lookup(db)] == ["https://news.example/a"]
    with local_archive(archive) as base:
        settings = CaptureSettings(mode="lookup", endpoints=(f"{base}/cdx",))
        # The archive is on an internal address and the run does not allow those.
        counts = asyncio.run(ask_archives(db, settings, ResolverSettings(), report=lambda m: None))
    assert (counts.looked_up, counts.failed) == (1, 1)
    [lookup] = list(db.query("select * from capture_lookups"))
    assert lookup["status"] == "failed" and "refused" in lookup["error"]
    assert archive.requests == []
    db.close()


def test_lookups_go_through_the_runs_proxy(tmp_path, forward_proxy):
    proxy, seen = forward_proxy
    db = store.open_database(tmp_path / "archive.db")
    db["links"].insert(
        {
            "id": "a",
            "url": "https://news.example/a",
            "host": "news.example",
            "status": "ok",
            "final_url": "https://news.example/a",
            "first_seen_at": "2026-01-01T00:00:00Z",
        }
    )
    port = int(proxy.rsplit(":", 1)[1])
    # A name that resolves nowhere here: only the proxy can reach it (it sends everything to
    # the test server, which has no CDX API and answers 404).
    settings = CaptureSettings(mode="lookup", endpoints=("http://archive.test:8080/cdx",))
    resolving = ResolverSettings(proxy=proxy, ports=frozenset({80, 443, 8080, port}))
    counts = asyncio.run(ask_archives(db, settings, resolving, report=lambda m: None))
    assert counts.looked_up == 1
    assert [url for url in seen if url.startswith("http://archive.test:8080/cdx?")]
    assert db.execute("select error from capture_lookups").fetchone()[0] == "HTTP 404"
    db.close()


def test_a_paged_timemap_is_read_page_by_page():
    from archiver.preserve.listing import timemap_pages

    first = (
        b'<http://a.example/>; rel="original",\n'
        b'<http://arch.example/tm/1/http://a.example/>; rel="self"; type="application/link-format";'
        b' from="Tue, 20 Jun 2000 18:02:59 GMT",\n'
        b'<http://arch.example/tm/2/http://a.example/>; rel="timemap"; type="application/link-format";'
        b' from="Wed, 21 Jun 2000 00:00:00 GMT",\n'
        b'<http://arch.example/tm/json/http://a.example/>; rel="timemap"; type="application/json";'
        b' from="Wed, 21 Jun 2000 00:00:00 GMT",\n'
        b'<javascript:alert(1)>; rel="timemap"; from="Wed, 21 Jun 2000 00:00:00 GMT",\n'
        b'<http://arch.example/20000620180259/http://a.example/>; rel="memento";'
        b' datetime="Tue, 20 Jun 2000 18:02:59 GMT"'
    )
    assert timemap_pages(first, "http://arch.example/tm/1/http://a.example/") == [
        "http://arch.example/tm/2/http://a.example/"
    ]

    pages: dict[str, bytes] = {}
    with timemap_site(pages) as base:

        def page(number: int, stamps: list[str], next_page: int | None) -> bytes:
            lines = [f'<{base}/tm/{number}/https://a.example/>; rel="self"; type="application/link-format"']
            if next_page:
                lines.append(
                    f'<{base}/tm/{next_page}/https://a.example/>; rel="timemap";'
                    ' type="application/link-format"; from="Sat, 01 Jan 2011 00:00:00 GMT"'
                )
            for stamp in stamps:
                lines.append(
                    f'<{base}/{stamp}/https://a.example/>; rel="memento"; datetime="{stamp_date(stamp)}"'
                )
            return ",\n".join(lines).encode()

        pages["/tm/link/https://a.example/"] = page(1, ["20100101000000"], 2)
        pages["/tm/2/https://a.example/"] = page(2, ["20110101000000", "20120101000000"], 3)
        pages["/tm/3/https://a.example/"] = page(3, ["20130101000000"], 2)  # back to page 2: read once
        result = look_up_in_timemap(base)
    assert result.summary is not None
    assert (result.summary.count, result.summary.capped) == (4, False)
    assert result.summary.latest.captured_at == "2013-01-01T00:00:00Z"


@contextlib.contextmanager
def timemap_site(pages: dict[str, bytes], asked: list[str] | None = None) -> Iterator[str]:
    """An archive answering the link-format ``pages`` by path (filled once its address is
    known), every path it was asked for noted in ``asked``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            if asked is not None:
                asked.append(self.path)
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/link-format")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve_in_thread(QuietServer(("127.0.0.1", 0), Handler)) as base:
        yield base


def look_up_in_timemap(base: str) -> LookupResult:
    """Look https://a.example/ up in the TimeMap at ``base``/tm/link/, as a run would."""
    port = int(base.rsplit(":", 1)[1])
    client = ArchiveClient(
        ResolverSettings(exempt=frozenset({("127.0.0.1", port)}), ports=frozenset({port})),
        CaptureSettings(mode="lookup", endpoints=(f"{base}/tm/link/",)),
    )

    async def look() -> LookupResult:
        try:
            return await client.lookup(
                LookupJob("a", "https://a.example/", None), Endpoint.parse(f"{base}/tm/link/")
            )
        finally:
            await client.aclose()

    return asyncio.run(look())


def stamp_date(stamp: str) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.strptime(stamp, "%Y%m%d%H%M%S"))


def test_a_paged_timemap_is_read_within_one_budget_for_the_whole_lookup(monkeypatch):
    # Ten pages of 16 MB, 4 lookups at once, held over 1 GiB: the byte cap was per page and
    # every memento was kept.  Now the pages share one budget and the mementos one limit.
    import archiver.preserve.archives as client_module

    monkeypatch.setattr(client_module, "LISTING_CAP", 200_000)
    monkeypatch.setattr(client_module, "MEMENTO_LIMIT", 2_500)
    pages: dict[str, bytes] = {}
    asked: list[str] = []
    with timemap_site(pages, asked) as base:

        def page(number: int, mementos: int) -> bytes:
            lines = [
                f'<{base}/tm/{number + 1}/https://a.example/>; rel="timemap";'
                ' type="application/link-format"; from="Sat, 01 Jan 2011 00:00:00 GMT"'
            ]
            for n in range(mementos):
                stamp = f"2011{1 + n % 12:02d}{1 + n % 28:02d}{n % 24:02d}{n % 60:02d}{number:02d}"
                lines.append(
                    f'<{base}/{stamp}/{n}/https://a.example/>; rel="memento"; datetime="{stamp_date(stamp)}"'
                )
            return ",\n".join(lines).encode()

        pages["/tm/link/https://a.example/"] = page(1, 600)  # about 75 KB a page
        for number in range(2, 11):
            pages[f"/tm/{number}/https://a.example/"] = page(number, 600)
        result = look_up_in_timemap(base)
    assert result.summary is not None and result.summary.capped
    # 200 KB in all: two whole pages and the start of a third, never the ten.
    assert len(asked) == 3
    assert 1_200 <= result.summary.count < 1_800


def test_a_timemap_keeps_at_most_the_memento_limit(monkeypatch):
    import archiver.preserve.archives as client_module

    monkeypatch.setattr(client_module, "MEMENTO_LIMIT", 3)
    body = ",\n".join(
        f'<http://arch.example/2010010{n}000000/https://a.example/>; rel="memento"; '
        f'datetime="{stamp_date(f"2010010{n}000000")}"'
        for n in range(1, 8)
    ).encode()
    assert len(parse_timemap(body, limit=client_module.MEMENTO_LIMIT)) == 3
