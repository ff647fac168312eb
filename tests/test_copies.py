"""Copies of what each link showed (--copies): WARC records warcio checks, digests of what servers sent."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TestServer as QuietServer
from conftest import serve_in_thread
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import cli
from archiver.models import Exchange
from archiver.preserve import CopyWriter, repair_copies

FINAL = b"<html><head><title>The report</title></head><body><p>What the report said.</p></body></html>"
BIG = b"<html><body>" + b"x" * 300_000 + b"</body></html>"
NOISE_BYTES = 400_000
ZIPPED = b"<html><body><p>sent gzip-encoded</p></body></html>"
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title><link>https://blog.example/</link>'
    b"<item><title>One</title><link>https://blog.example/1</link><guid>1</guid>"
    b"<description>See the report</description></item></channel></rss>"
)


class Site(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    final = FINAL

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        headers: dict[str, str] = {"Content-Type": "text/html; charset=utf-8"}
        if self.path == "/short":
            status, body, headers["Location"] = 302, b"moved", "/middle"
        elif self.path == "/middle":
            status, body, headers["Location"] = 301, b"", "/final"
        elif self.path == "/final":
            status, body = 200, type(self).final
        elif self.path == "/feed":
            status, body, headers["Location"] = 301, b"", "/feed.xml"
        elif self.path == "/feed.xml":
            status, body = 200, FEED
            headers["Content-Type"] = "application/rss+xml"
        elif self.path == "/slow":
            # A large download that trickles: longer than a check may take to read whole.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(100 * 10_000))
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"z" * 10_000)
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass  # archiver hung up, as it should once its copy is long enough
            return
        elif self.path == "/cut":
            # An answer that ends early: it promises more than it sends, then hangs up.
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "50000")
            self.end_headers()
            self.wfile.write(FINAL)
            self.close_connection = True
            return
        elif self.path == "/big":
            status, body = 200, BIG
        elif self.path.startswith("/noise/"):
            status, body = 200, os.urandom(NOISE_BYTES)  # gzip cannot make it smaller
            headers["Content-Type"] = "application/octet-stream"
        elif self.path == "/zipped":
            status, body = 200, gzip.compress(ZIPPED)
            headers["Content-Encoding"] = "gzip"
        else:
            status, body = 404, b"no such page"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def served() -> Iterator[tuple[str, type[Site]]]:
    handler = type("BoundSite", (Site,), {"final": FINAL})
    with serve_in_thread(QuietServer(("127.0.0.1", 0), handler)) as base:
        yield base, handler


@pytest.fixture
def site(served) -> str:
    return served[0]


def archive(tmp_path: Path, base: str, paths: list[str], *extra: str):
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(f'{{"id": "{i}", "text": "see {base}{p}"}}\n' for i, p in enumerate(paths)))
    return CliRunner().invoke(
        cli,
        ["archive", str(posts), "--db", str(tmp_path / "a.db"), "--allow-private", "--no-probe", *extra],
        catch_exceptions=False,
    )


def copies(tmp_path: Path) -> list[dict]:
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from copies order by id")]


def warc_check(folder: Path) -> None:
    files = sorted(folder.glob("*.warc.gz"))
    assert files
    warcio = Path(sys.executable).parent / "warcio"
    done = subprocess.run([str(warcio), "check", *map(str, files)], capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


def payload_at(folder: Path, row: dict) -> tuple[str, bytes, object]:
    with open(folder / row["warc_file"], "rb") as file:
        file.seek(row["offset"])
        record = next(iter(ArchiveIterator(file)))
        return record.rec_type, record.content_stream().read(), record.rec_headers


def test_every_hop_of_a_chain_is_kept_and_its_digest_is_what_the_server_sent(tmp_path, site):
    result = archive(tmp_path, site, ["/short", "/big", "/zipped"], "--copies", "--copy-limit", "100000")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "copies"
    warc_check(folder)
    assert not list(folder.glob("*.open"))
    rows = {row["url"].removeprefix(site): row for row in copies(tmp_path)}
    assert set(rows) == {"/short", "/middle", "/final", "/big", "/zipped"}
    assert [rows[p]["status"] for p in ("/short", "/middle", "/final")] == [302, 301, 200]
    sent = {"/short": b"moved", "/middle": b"", "/final": FINAL, "/zipped": ZIPPED, "/big": BIG[:100_000]}
    for path, body in sent.items():
        row = rows[path]
        assert row["payload_sha256"] == hashlib.sha256(body).hexdigest(), path
        kind, payload, headers = payload_at(folder, row)
        assert kind == "response" and payload == body, path
        assert row["link_id"] is not None
    # The cut body says so, in its row and in its record.
    assert rows["/big"]["truncated"] == 1
    assert payload_at(folder, rows["/big"])[2].get_header("WARC-Truncated") == "length"
    # The gzip travelled; the record keeps the page as read and says how it travelled.
    _, _, zipped = payload_at(folder, rows["/zipped"])
    with open(folder / rows["/zipped"]["warc_file"], "rb") as file:
        file.seek(rows["/zipped"]["offset"])
        record = next(iter(ArchiveIterator(file)))
        assert record.http_headers.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
        assert record.http_headers.get_header("Content-Encoding") is None
    shown = CliRunner().invoke(cli, ["stats", "--db", str(tmp_path / "a.db")]).output
    assert f"copies: {len(rows)} answers kept" in shown
    # The hops of the chain in the order they were asked.
    order = [r["url"].removeprefix(site) for r in copies(tmp_path) if r["url"].removeprefix(site) in sent]
    assert order.index("/short") < order.index("/middle") < order.index("/final")


def test_a_recheck_with_the_same_page_is_a_revisit_and_a_changed_one_a_new_copy(tmp_path, served):
    site, handler = served
    assert archive(tmp_path, site, ["/final"], "--copies").exit_code == 0
    recheck = ["resolve", "--db", str(tmp_path / "a.db"), "--allow-private", "--no-probe", "--copies"]
    recheck += ["--recheck-after", "0"]
    again = CliRunner().invoke(cli, recheck, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    rows = copies(tmp_path)
    assert [r["revisit"] for r in rows] == [0, 1]
    kind, _, headers = payload_at(tmp_path / "copies", rows[1])
    assert kind == "revisit" and headers.get_header("WARC-Refers-To") == rows[0]["record_id"]
    handler.final = b"<html><body>changed</body></html>"
    changed = CliRunner().invoke(cli, recheck)
    assert changed.exit_code == 0, changed.output
    rows = copies(tmp_path)
    assert [r["revisit"] for r in rows] == [0, 1, 0]
    assert rows[2]["payload_sha256"] == hashlib.sha256(handler.final).hexdigest()
    warc_check(tmp_path / "copies")


def test_without_copies_nothing_is_written(tmp_path, site):
    assert archive(tmp_path, site, ["/short"]).exit_code == 0
    assert not (tmp_path / "copies").exists() and copies(tmp_path) == []


def test_a_copies_folder_that_cannot_be_written_costs_the_copies_not_the_checks(tmp_path, site):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    result = archive(tmp_path, site, ["/short"], "--copies", "--copies-dir", str(blocked / "copies"))
    assert result.exit_code == 0, result.output
    assert result.output.count("copies cannot be written") == 1
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("select status from links").fetchone()[0] == "ok"
    assert copies(tmp_path) == []


def exchange(n: int, body: bytes = b"<html>page</html>") -> Exchange:
    return Exchange(
        f"https://example.org/{n}", "2024-01-01T10:00:00Z", (("User-Agent", "t"),), 200, "OK", (), body
    )


KILLED_MID_WRITE = """
import os, signal, sys
from archiver.models import Exchange
from archiver.preserve import CopyWriter
writer = CopyWriter(sys.argv[1])
for n in range(3):
    page = Exchange(f"https://example.org/{n}", "2024-01-01T10:00:00Z", (), 200, "OK", (), b"<html>p</html>")
    writer.write(page)
path = next(writer.folder.glob("*.open"))
print(path.stat().st_size, flush=True)
with open(path, "ab") as file:
    file.write(b"\\x1f\\x8b\\x08\\x00 half a record")  # the start of a record, then the kill
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


FULL_DISK = """
import os, resource, sys
from archiver.models import Exchange
from archiver.preserve import CopyWriter
resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))  # past it a write fails, as on a full disk
writer = CopyWriter(sys.argv[1])
for n, body in enumerate([b"<html>first</html>", os.urandom(100_000), b"<html>third</html>"]):
    page = Exchange(f"https://example.org/{n}", "2024-01-01T10:00:00Z", (), 200, "OK", (), body)
    try:
        writer.write(page)
        print("kept", n)
    except OSError as ex:
        print("failed", n, ex.errno)
writer.close()
"""


def test_a_write_that_fails_part_way_takes_its_record_back_and_the_file_reads_whole(tmp_path):
    folder = tmp_path / "copies"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["kept 0", "failed 1 27", "kept 2"]  # 27: EFBIG
    warc_check(folder)
    (warc,) = folder.glob("*.warc.gz")
    with open(warc, "rb") as file:
        kept = [
            (r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in ArchiveIterator(file)
            if r.rec_type == "response"
        ]
    assert kept == [
        ("https://example.org/0", b"<html>first</html>"),
        ("https://example.org/2", b"<html>third</html>"),
    ]


def test_an_answer_that_ends_early_is_checked_as_without_copies_and_leaves_no_broken_file(tmp_path, site):
    assert archive(tmp_path, site, ["/cut"], "--copies").exit_code == 0
    with sqlite3.connect(tmp_path / "a.db") as conn:
        status, error = conn.execute("select status, error from links").fetchone()
    # As without copies: the connection failed before the answer was whole, and the row says so.
    assert status == "connect_error" and "without sending complete message body" in error
    assert copies(tmp_path) == []  # no copy of an answer never whole
    assert not list((tmp_path / "copies").glob("*.open"))
    for warc in (tmp_path / "copies").glob("*.warc.gz"):
        warc_check(warc.parent)


def test_a_file_cut_by_a_kill_is_repaired_to_its_last_whole_record(tmp_path):
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_WRITE, str(tmp_path)], capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    whole = int(killed.stdout)
    assert len(list(tmp_path.glob("*.open"))) == 1
    # The next writer on the folder finds the file left open and cuts it back.
    repaired = repair_copies(tmp_path)
    final = tmp_path / repaired[0]
    assert len(repaired) == 1 and final.stat().st_size == whole and not list(tmp_path.glob("*.open"))
    warc_check(tmp_path)
    kinds = [r.rec_type for r in ArchiveIterator(io.BytesIO(final.read_bytes()))]
    assert kinds == ["warcinfo"] + ["response", "request"] * 3


def test_files_rotate_at_their_size_limit(tmp_path):
    writer = CopyWriter(tmp_path, rotate_at=4000)
    records = [writer.write(exchange(n, os.urandom(1500))) for n in range(6)]
    writer.close()
    assert len({r.warc_file for r in records}) >= 3
    warc_check(tmp_path)


def test_a_public_copy_of_the_archive_holds_no_copies_and_hides_their_table(tmp_path, site):
    from archiver import publish, store

    assert archive(tmp_path, site, ["/short"], "--copies").exit_code == 0
    assert copies(tmp_path)
    public = tmp_path / "public" / "a.db"
    publish.snapshot(store.open_database(str(tmp_path / "a.db")), public, public=True)
    with sqlite3.connect(public) as conn:
        assert conn.execute("select count(*) from copies").fetchone()[0] == 0
    from archiver.publish.metadata import write_metadata

    written = write_metadata(publish.load_metadata(), tmp_path / "metadata.json", public=True)
    tables = json.loads(written.read_text())["databases"]["archive"]["tables"]
    assert tables["copies"]["hidden"] is True
    assert copies(tmp_path)  # the archive itself keeps them


def test_a_feed_fetched_is_kept_with_its_redirect_as_copies_of_its_source(tmp_path, site):
    db = tmp_path / "a.db"
    result = CliRunner().invoke(
        cli,
        ["ingest", f"{site}/feed", "--db", str(db), "--allow-private", "--copies"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = copies(tmp_path)
    assert [(r["url"].removeprefix(site), r["status"], r["source"]) for r in rows] == [
        ("/feed", 301, f"{site}/feed"),
        ("/feed.xml", 200, f"{site}/feed"),
    ]
    assert rows[1]["payload_sha256"] == hashlib.sha256(FEED).hexdigest()
    warc_check(tmp_path / "copies")


def test_a_slow_large_download_costs_its_copy_its_end_never_the_check(tmp_path, site):
    result = archive(tmp_path, site, ["/slow"], "--copies", "--timeout", "2")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("select status, http_status from links").fetchone() == ("ok", 200)
    (row,) = copies(tmp_path)
    assert row["truncated"] == 1 and row["length"] > 0
    kind, payload, headers = payload_at(tmp_path / "copies", row)
    assert headers.get_header("WARC-Truncated") == "length" and 0 < len(payload) < 1_000_000


def test_a_links_page_lists_its_copies_locally_and_never_in_public(tmp_path, site):
    from archive_fixture import open_in_process

    from archiver.urls import link_id

    result = archive(tmp_path, site, ["/short"], "--copies")
    assert result.exit_code == 0, result.output
    db = tmp_path / "a.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select payload_sha256, bytes from copies order by id").fetchall()
    path = f"/a/links/{link_id(site + '/short')}"
    local = open_in_process(db)
    try:
        page = local.get(path).text
    finally:
        local.close()
    assert "Your copies" in page
    for sha256, size in rows:
        assert sha256[:16] in page and f"<td>{size}</td>" in page
    public = open_in_process(db, public=True)
    try:
        shown = public.get(path).text
    finally:
        public.close()
    assert "Your copies" not in shown and rows[0][0][:16] not in shown


def test_an_evidence_package_of_a_post_validates_and_verifies_and_holds_its_chains_copies(tmp_path, site):
    import zipfile

    assert archive(tmp_path, site, ["/short", "/zipped"], "--copies").exit_code == 0
    db = tmp_path / "a.db"
    with sqlite3.connect(db) as conn:
        post_id = conn.execute("select post_id from post_links limit 1").fetchone()[0]
        link_of_post = conn.execute("select link_id from post_links where post_id = ?", [post_id]).fetchone()[
            0
        ]
        copied = conn.execute(
            "select payload_sha256 from copies where link_id = ?", [link_of_post]
        ).fetchall()
    package = tmp_path / "case.wacz"
    made = CliRunner().invoke(
        cli, ["evidence", post_id, "--db", str(db), "-o", str(package)], catch_exceptions=False
    )
    assert made.exit_code == 0, made.output
    validator = Path(sys.executable).parent / "wacz"
    checked = subprocess.run([str(validator), "validate", "-f", str(package)], capture_output=True, text=True)
    assert checked.returncode == 0 and "Validation succeeded" in checked.stdout, (
        checked.stdout + checked.stderr
    )
    verified = CliRunner().invoke(cli, ["evidence", "--verify", str(package)])
    assert verified.exit_code == 0, verified.output
    with zipfile.ZipFile(package) as wacz:
        warc = wacz.read("archive/data.warc.gz")
        record = json.loads(wacz.read("archiver/record.json"))
        pages = wacz.read("pages/pages.jsonl").decode().splitlines()
        index = wacz.read("indexes/index.cdx").decode()
    payloads = [
        hashlib.sha256(r.content_stream().read()).hexdigest()
        for r in ArchiveIterator(io.BytesIO(warc))
        if r.rec_type == "response"
    ]
    assert sorted(payloads) == sorted(sha for (sha,) in copied)
    assert [row["id"] for row in record["tables"]["posts"]] == [post_id]
    assert record["tables"]["links"][0]["id"] == link_of_post and record["tables"]["checks"]
    (source,) = record["tables"]["sources"]  # where the post was read from, with its digest
    assert source["location"] == record["tables"]["posts"][0]["source"] and len(source["sha256"]) == 64
    assert json.loads(pages[0])["format"] == "json-pages-1.0" and len(pages) == 2
    assert index.count("\n") == len(payloads)  # a line a response, each findable by its URL
    assert f'"url": "{site}/final"' in index and f'"url": "{site}/short"' in index

    # A package changed after it was written no longer verifies.
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(tampered, "w") as copy:
        for item in source.infolist():
            data = source.read(item.filename)
            copy.writestr(
                item, data.replace(b'"text"', b'"TEXT"') if item.filename == "archiver/record.json" else data
            )
    refused = CliRunner().invoke(cli, ["evidence", "--verify", str(tampered)])
    assert (
        refused.exit_code == 1 and "archiver/record.json: its SHA-256 is not the one listed" in refused.output
    )


def test_each_links_package_holds_the_hops_it_shares_with_another_links_chain(tmp_path, site):
    import zipfile

    from archive_fixture import open_in_process

    from archiver.urls import link_id

    # /middle is a link of its own and a hop of /short's chain; both end on /final. Each
    # answer is read (and copied) once a run, for whichever chain asked first.
    assert archive(tmp_path, site, ["/short", "/middle"], "--copies", "--no-probe").exit_code == 0
    db = tmp_path / "a.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from copies").fetchone()[0] == 3
    chains = {"/short": ["/short", "/middle", "/final"], "/middle": ["/middle", "/final"]}
    for path, chain in chains.items():
        package = tmp_path / f"{path.strip('/')}.wacz"
        made = CliRunner().invoke(cli, ["evidence", site + path, "--db", str(db), "-o", str(package)])
        assert made.exit_code == 0, made.output
        with zipfile.ZipFile(package) as wacz:
            warc = wacz.read("archive/data.warc.gz")
            pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").decode().splitlines()[1:]]
        responses = [
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(io.BytesIO(warc))
            if r.rec_type == "response"
        ]
        assert sorted(responses) == sorted(site + hop for hop in chain), path
        assert [page["url"] for page in pages] == [site + path]
    # A link's page lists the same copies, shared hops included.
    local = open_in_process(db)
    try:
        with sqlite3.connect(db) as conn:
            for path, chain in chains.items():
                page = local.get(f"/a/links/{link_id(site + path)}").text
                for hop in chain:
                    (sha256,) = conn.execute(
                        "select payload_sha256 from copies where url = ?", [site + hop]
                    ).fetchone()
                    assert sha256[:16] in page, (path, hop)
    finally:
        local.close()


def test_the_probes_answer_is_copied_for_no_link(tmp_path, site):
    posts = tmp_path / "posts.jsonl"
    posts.write_text(f'{{"id": "1", "text": "see {site}/short"}}\n')
    done = CliRunner().invoke(
        cli, ["archive", str(posts), "--db", str(tmp_path / "a.db"), "--allow-private", "--copies"]
    )
    assert done.exit_code == 0, done.output
    with sqlite3.connect(tmp_path / "a.db") as conn:
        (probe_url,) = conn.execute("select url from probes").fetchone()
        kept = conn.execute("select url, link_id, source, status from copies order by id").fetchall()
        (link,) = conn.execute("select id from links").fetchone()
    by_url = {url: (link_id, source, status) for url, link_id, source, status in kept}
    assert by_url[probe_url] == (None, None, 404)  # was the id of the probe's own random URL
    assert {by_url[site + hop][0] for hop in ("/short", "/middle", "/final")} == {link}


class EverythingFound(BaseHTTPRequestHandler):
    """A host that answers every path, one that cannot exist too, with the same page."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = (
            b"<html><head><title>Welcome</title></head><body><p>"
            + b"Our home page. " * 40
            + b"</p></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_soft_404s_package_holds_the_probes_answer_it_rests_on(tmp_path):
    import zipfile

    with serve_in_thread(QuietServer(("127.0.0.1", 0), EverythingFound)) as base:
        posts = tmp_path / "posts.jsonl"
        posts.write_text(f'{{"id": "1", "text": "see {base}/reports/2024/budget"}}\n')
        done = CliRunner().invoke(
            cli, ["archive", str(posts), "--db", str(tmp_path / "a.db"), "--allow-private", "--copies"]
        )
        assert done.exit_code == 0, done.output
    db = tmp_path / "a.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("select rot from links").fetchone() == ("soft_404",)
        (probe_url,) = conn.execute("select url from probes").fetchone()
    package = tmp_path / "case.wacz"
    made = CliRunner().invoke(
        cli, ["evidence", f"{base}/reports/2024/budget", "--db", str(db), "-o", str(package)]
    )
    assert made.exit_code == 0, made.output
    with zipfile.ZipFile(package) as wacz:
        warc = wacz.read("archive/data.warc.gz")
        record = json.loads(wacz.read("archiver/record.json"))
    responses = {
        r.rec_headers.get_header("WARC-Target-URI")
        for r in ArchiveIterator(io.BytesIO(warc))
        if r.rec_type == "response"
    }
    assert responses == {f"{base}/reports/2024/budget", probe_url}
    assert [row["url"] for row in record["tables"]["probes"]] == [probe_url]


def test_an_evidence_package_is_written_and_verified_a_part_at_a_time(tmp_path, site):
    import tracemalloc

    from archiver import store
    from archiver.publish import verify_evidence, write_evidence

    paths = [f"/noise/{n}" for n in range(30)]
    assert archive(tmp_path, site, paths, "--copies", "--no-probe").exit_code == 0
    db = store.open_database(tmp_path / "a.db")
    links = [row[0] for row in db.execute("select id from links")]
    package = tmp_path / "case.wacz"
    tracemalloc.start()
    evidence = write_evidence(db, links, package, copies_folder=tmp_path / "copies")
    written_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    verification = verify_evidence(package)
    verified_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    db.close()
    assert evidence.copies == 30 and not evidence.missing
    assert verification.problems == []
    whole = 30 * NOISE_BYTES  # 12 MB of copies: held in memory, the package alone would take more
    assert package.stat().st_size > whole
    assert written_peak < whole / 3, written_peak  # 2.4 MB; 14 MB when the package was built in memory
    assert verified_peak < whole / 3, verified_peak  # 2.3 MB; 12 MB when each file was read whole
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".case.wacz")]  # no scratch left


def test_an_evidence_package_too_large_for_its_disk_is_a_clear_error_and_leaves_nothing(
    tmp_path, site, tiny_disk
):
    assert archive(tmp_path, site, ["/noise/1", "/noise/2"], "--copies", "--no-probe").exit_code == 0
    package = tiny_disk / "case.wacz"  # 800 KB of copies on a 300 KB disk
    result = CliRunner().invoke(
        cli,
        [
            "evidence",
            f"{site}/noise/1",
            f"{site}/noise/2",
            "--db",
            str(tmp_path / "a.db"),
            "-o",
            str(package),
        ],
    )
    assert result.exit_code == 1, result.output
    assert f"no package written: {package}: No space left on device" in result.output
    assert "Traceback" not in result.output
    assert list(tiny_disk.iterdir()) == []  # no half package, no scratch files


def test_evidence_without_copies_or_of_an_unknown_id_says_so(tmp_path, site):
    assert archive(tmp_path, site, ["/final"]).exit_code == 0  # no --copies
    db = tmp_path / "a.db"
    result = CliRunner().invoke(
        cli, ["evidence", f"{site}/final", "no-such-post", "--db", str(db), "-o", str(tmp_path / "x.wacz")]
    )
    assert result.exit_code == 1
    assert "no-such-post: no post or link of the archive" in result.output
    assert "no copy of these links: none was kept when they were checked (run with --copies" in result.output
    assert (tmp_path / "x.wacz").exists()  # archiver's record of the link, without copies

    nothing = CliRunner().invoke(
        cli, ["evidence", "no-such-post", "--db", str(db), "-o", str(tmp_path / "none.wacz")]
    )
    assert nothing.exit_code == 1 and "no package written: no-such-post: no post or link" in nothing.output
    assert not (tmp_path / "none.wacz").exists()


def test_a_package_is_dated_by_a_time_stamping_authority_and_its_token_checked(tmp_path, site):
    from cryptography.hazmat.primitives import serialization
    from timestamping import Authority, AuthorityHandler

    assert archive(tmp_path, site, ["/final"], "--copies").exit_code == 0
    db = tmp_path / "a.db"
    authority = Authority()
    seen: list[bytes] = []
    handler = type("BoundAuthority", (AuthorityHandler,), {"authority": authority, "seen": seen})
    package = tmp_path / "dated.wacz"
    with serve_in_thread(QuietServer(("127.0.0.1", 0), handler)) as tsa:
        made = CliRunner().invoke(
            cli,
            ["evidence", f"{site}/final", "--db", str(db), "-o", str(package)]
            + ["--timestamp-url", f"{tsa}/tsr", "--allow-private"],
            catch_exceptions=False,
        )
    assert made.exit_code == 0, made.output
    assert len(seen) == 1
    root = tmp_path / "root.pem"
    root.write_bytes(authority.root.public_bytes(serialization.Encoding.PEM))
    checked = CliRunner().invoke(cli, ["evidence", "--verify", str(package), "--tsa-cert", str(root)])
    assert checked.exit_code == 0, checked.output
    assert "time-stamped 20" in checked.output and "its signature verified" in checked.output
    unchecked = CliRunner().invoke(cli, ["evidence", "--verify", str(package)])
    assert unchecked.exit_code == 0 and "its signature not checked" in unchecked.output
    # Another authority's root does not vouch for this token.
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(Authority().root.public_bytes(serialization.Encoding.PEM))
    refused = CliRunner().invoke(cli, ["evidence", "--verify", str(package), "--tsa-cert", str(stranger)])
    assert refused.exit_code == 1 and "signature does not verify" in refused.output
    validator = Path(sys.executable).parent / "wacz"
    assert (
        subprocess.run([str(validator), "validate", "-f", str(package)], capture_output=True).returncode == 0
    )


def test_a_time_stamp_that_cannot_be_had_writes_no_package(tmp_path, site, closed_port):
    assert archive(tmp_path, site, ["/final"], "--copies").exit_code == 0
    package = tmp_path / "x.wacz"
    result = CliRunner().invoke(
        cli,
        ["evidence", f"{site}/final", "--db", str(tmp_path / "a.db"), "-o", str(package)]
        + ["--timestamp-url", f"http://127.0.0.1:{closed_port}/tsr", "--allow-private"],
    )
    assert result.exit_code == 1 and "the time-stamp failed" in result.output
    assert not package.exists() and not list(tmp_path.glob("*.partial"))


def article(words: str) -> bytes:
    text = " ".join(f"{word}{n}" for n in range(60) for word in words.split())
    return f"<html><head><title>{words.split()[0]}</title></head><body><p>{text}</p></body></html>".encode()


def test_a_changed_page_shows_what_it_showed_then_beside_now(tmp_path, served):
    from archive_fixture import open_in_process

    from archiver.urls import link_id

    site, handler = served
    handler.final = article("election results announced minister")
    assert archive(tmp_path, site, ["/final"], "--copies").exit_code == 0
    handler.final = article("recipes chocolate cake baking oven")
    recheck = ["resolve", "--db", str(tmp_path / "a.db"), "--allow-private", "--no-probe", "--copies"]
    assert CliRunner().invoke(cli, [*recheck, "--recheck-after", "0"]).exit_code == 0
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("select rot from links").fetchone()[0] == "content_changed"
    local = open_in_process(tmp_path / "a.db")
    try:
        page = local.get(f"/a/links/{link_id(site + '/final')}").text
    finally:
        local.close()
    assert "What the page showed then, and now" in page
    then, now = page.index("election0 results0"), page.index("recipes0 chocolate0")
    assert then < now  # then on the left, now on the right


def test_an_older_archives_probe_copies_are_given_to_no_link(tmp_path):
    from sqlite_utils import Database

    from archiver import store
    from archiver.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m019_probe_copies_of_no_link")
    old["links"].insert(
        {"id": "real", "url": "http://a.example/x", "host": "a.example", "first_seen_at": "T"}
    )
    for link in ("real", "of-the-probes-random-url", None):
        old["copies"].insert({"link_id": link, "url": f"http://a.example/{link}"})
    old.close()
    db = store.open_database(path)
    assert [row["link_id"] for row in db["copies"].rows] == ["real", None, None]
