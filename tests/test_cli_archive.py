"""The archive command end to end, in real processes against a local server."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from archive_fixture import free_port
from click.testing import CliRunner
from conftest import FIXTURES

from archiver.cli import cli


def write_page(folder: Path, base: str, paths: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "page.txt"
    lines = []
    for i, path in enumerate(paths):
        lines.append(f"Post number {i} links to {base}{path}")
        lines.append(f"— Test Author (@tester) May {1 + i % 28}, 2024")
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return page


def run_archiver(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def table(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_archive_then_rerun_adds_and_sends_nothing(tmp_path, server):
    base, recorder = server
    page = write_page(tmp_path / "inbox", base, ["/hop/2", "/status/404", "/meta", "/loop"])
    db = tmp_path / "archive.db"
    first = run_archiver("archive", str(page), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "4 posts added, 4 links added, 4 links checked" in first.stdout
    assert "http_error: 1" in first.stdout and "ok: 2" in first.stdout and "redirect_loop: 1" in first.stdout
    assert table(
        db, "select count(*) from redirects where link_id in (select id from links where url like '%hop/2')"
    ) == [(3,)]
    requests_after_first = len(recorder.requests)

    second = run_archiver("archive", str(page), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "0 posts added, 0 links added, 0 links checked" in second.stdout
    assert len(recorder.requests) == requests_after_first
    assert table(db, "select count(*) from posts") == [(4,)]
    assert table(db, "select count(*), count(distinct command) from runs where status = 'completed'") == [
        (2, 1)
    ]


def test_recheck_after_zero_re_requests_every_good_link_now(tmp_path, server):
    base, recorder = server
    page = write_page(tmp_path / "inbox", base, ["/hop/2", "/meta", "/status/404"])
    db = tmp_path / "archive.db"
    first = run_archiver("archive", str(page), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    good = [url for (url,) in table(db, "select url from links where status = 'ok'")]
    assert len(good) == 2
    recorder.requests.clear()
    again = run_archiver(
        "archive", str(page), "--db", str(db), "--allow-private", "--recheck-after", "0", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    requested = {f"{base}{path}" for path in recorder.paths()}
    assert set(good) <= requested
    assert f"{base}/status/404" not in requested  # a failure waits for its back-off
    assert table(db, "select count(*) from checks") == [(5,)]


def test_default_sources_and_offline_links_complete(tmp_path):
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    (data / "pages").mkdir()
    (data / "pages" / "one.txt").write_text(
        "See https://unresolvable.invalid/a\n— Test Author (@tester) May 2, 2024\n", encoding="utf-8"
    )
    (data / "sources.txt").write_text("# listed sources\npages/one.txt\n", encoding="utf-8")
    (data / "inbox" / "two.txt").write_text("And http://also-unresolvable.invalid/b too\n", encoding="utf-8")
    result = run_archiver("archive", "--timeout", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 posts added, 2 links added, 2 links checked" in result.stdout
    statuses = table(data / "archive.db", "select status from links")
    assert {s for (s,) in statuses} <= {"dns_error", "timeout", "connect_error"}


def test_missing_named_source_is_reported_and_the_rest_archived(tmp_path, server):
    base, _ = server
    page = write_page(tmp_path / "in", base, ["/final"])
    db = tmp_path / "archive.db"
    result = run_archiver(
        "archive", str(tmp_path / "nope.txt"), str(page), "--db", str(db), "--allow-private", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "nope.txt" in result.stderr and "Traceback" not in result.stderr
    assert table(db, "select status from links") == [("ok",)]


def test_broken_file_in_a_folder_does_not_stop_the_run(tmp_path, server):
    base, _ = server
    folder = tmp_path / "in"
    write_page(folder, base, ["/final"])
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 10)
    db = tmp_path / "archive.db"
    result = run_archiver("archive", str(folder), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "photo.jpg" in result.stderr
    assert table(db, "select count(*) from posts") == [(1,)]


def start_slow_archive(
    tmp_path: Path,
    base: str,
    links: int,
    *,
    delay_ms: int = 300,
    until: str = "select count(*) from runs",
    output: int = subprocess.DEVNULL,
    sigint_ignored: bool = False,
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start a real `archiver archive` whose links take a while; wait until ``until`` counts a row."""
    page = write_page(tmp_path / "in", base, [f"/delay?ms={delay_ms}&n={i}" for i in range(links)])
    db = tmp_path / "archive.db"
    args = [sys.executable, "-m", "archiver", "archive", str(page), "--db", str(db), "--allow-private"]
    args += ["--concurrency", "2", "--per-host", "2"]
    # A job started in the background by a script, or under nohup, starts with SIGINT ignored.
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    process = subprocess.Popen(args, cwd=tmp_path, stdout=output, stderr=output, preexec_fn=ignore)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            if db.exists() and table(db, until)[0][0]:
                break
        except sqlite3.OperationalError:
            continue
    return process, db


def test_overlapping_run_exits_75_and_the_first_is_unharmed(tmp_path, server):
    base, _ = server
    first, db = start_slow_archive(tmp_path, base, links=30)
    try:
        second = run_archiver("archive", "--db", str(db), "--allow-private", cwd=tmp_path)
        assert first.poll() is None, "the first run must still be going"
        assert second.returncode == 75
        assert "another archiver run" in second.stderr
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert table(db, "select status, count(*) from links group by status") == [("ok", 30)]
    assert table(db, "select status from runs") == [("completed",)]


def test_datasette_reads_while_archive_writes(tmp_path, server):
    base, _ = server
    writer, db = start_slow_archive(tmp_path, base, links=24)
    port = free_port()
    reader = subprocess.Popen(
        [sys.executable, "-m", "archiver", "serve", "--db", str(db), "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answers = []
    try:
        while writer.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/archive/links.json?_shape=array", timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)  # still starting
                continue
            answers.append(response.status_code)
            time.sleep(0.05)
    finally:
        reader.terminate()
        reader.wait(timeout=10)
        if writer.poll() is None:
            writer.kill()
        writer.wait()
    assert writer.returncode == 0
    assert len(answers) > 5 and set(answers) == {200}
    assert table(db, "select count(*) from links where status = 'ok'") == [(24,)]


def test_unwritable_database_is_exit_1_without_traceback(tmp_path):
    result = run_archiver("resolve", "--db", "/proc/archive.db", cwd=tmp_path)
    assert result.returncode == 1
    assert "/proc/archive.db" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_database_is_exit_1(tmp_path):
    db = tmp_path / "archive.db"
    db.write_bytes(b"garbage" * 1000)
    result = run_archiver("stats", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1
    assert "not a usable SQLite database" in result.stderr


@pytest.mark.parametrize(
    ("signum", "exit_status", "sigint_ignored"),
    [(signal.SIGINT, 130, False), (signal.SIGTERM, 143, False), (signal.SIGTERM, 143, True)],
    ids=["SIGINT", "SIGTERM", "SIGTERM with SIGINT ignored"],
)
def test_a_run_stopped_by_a_signal_records_and_prints_what_it_did(
    tmp_path, server, signum, exit_status, sigint_ignored
):
    base, _ = server
    process, db = start_slow_archive(
        tmp_path,
        base,
        24,
        delay_ms=400,
        until="select count(*) from checks",
        output=subprocess.PIPE,
        sigint_ignored=sigint_ignored,
    )
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == exit_status, stderr
    assert "Traceback" not in stderr
    ((checked,),) = table(db, "select count(*) from checks")
    assert 0 < checked < 24, "the signal must land mid-resolve"
    assert table(db, "select status, posts_added, links_added, links_checked from runs") == [
        ("interrupted", 24, 24, checked)
    ]
    (summary,) = [line for line in stdout.splitlines() if " archive: " in line]
    assert f"24 posts added, 24 links added, {checked} links checked" in summary
    assert summary.endswith("; interrupted")
    # Nothing resolved was lost: the next run checks only what was left.
    rerun = run_archiver("resolve", "--db", str(db), "--allow-private", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{24 - checked} links checked" in rerun.stdout


def test_a_run_an_error_stops_is_recorded_as_failed_with_the_error(tmp_path, server, monkeypatch):
    base, _ = server
    page = write_page(tmp_path, base, ["/hop/1"])
    db = tmp_path / "archive.db"

    async def broken(*args, **kwargs):
        raise RuntimeError("the resolver broke")

    monkeypatch.setattr(importlib.import_module("archiver.pipeline.run"), "resolve_and_save", broken)
    result = CliRunner().invoke(cli, ["archive", str(page), "--db", str(db), "--create", "--allow-private"])
    assert isinstance(result.exception, RuntimeError)
    # Ingested before the error, and kept; the run says it failed, and why, not 'interrupted'.
    assert table(db, "select status, error, posts_added, links_added from runs") == [
        ("failed", "RuntimeError: the resolver broke", 1, 1)
    ]
    monkeypatch.undo()
    rerun = CliRunner().invoke(cli, ["resolve", "--db", str(db), "--allow-private"])
    assert rerun.exit_code == 0, rerun.output
    assert table(db, "select status, error from runs order by id") == [
        ("failed", "RuntimeError: the resolver broke"),
        ("completed", None),
    ]


def test_the_summary_line_is_what_a_cron_log_needs(tmp_path, server):
    import re

    base, _ = server
    page = write_page(tmp_path / "inbox", base, ["/hop/1"])
    db = tmp_path / "new" / "folder" / "archive.db"  # a folder that does not exist yet
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    first = run_archiver(
        "archive", str(page), str(broken), str(missing), "--db", str(db), "--allow-private", cwd=tmp_path
    )
    lines = first.stdout.splitlines()
    assert first.returncode == 1  # a named source is missing
    assert re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ archive: 1 posts added, 1 links added, 1 links checked", lines[-1]
    )
    assert "; 2 sources failed" in lines[-1] and f"; new archive at {db}" in lines[-1]
    # Each failure once, on stderr, and nothing of them among the summary on stdout.
    failed = [line for line in first.stderr.splitlines() if line.startswith(("error: ", "warning: "))]
    assert len(failed) == 2 and any(str(broken) in line for line in failed)
    assert any(str(missing) in line for line in failed)
    assert not any(str(broken) in line or str(missing) in line for line in lines)

    again = run_archiver("archive", str(page), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    last = again.stdout.splitlines()[-1]
    assert "0 links checked" in last and last.endswith("; nothing due")
    assert "new archive" not in last and "failed" not in last
    assert table(db, "select status from runs order by id") == [("completed",), ("completed",)]


@pytest.mark.parametrize(
    ("where", "says", "status"),
    [
        ("a-file/sub/archive.db", "a-file is a file, not a folder", 1),
        ("a-file/archive.db", "a-file is a file, not a folder", 1),
        ("a-folder", "is a directory", 2),  # click's own check of --db
    ],
)
def test_a_database_path_that_cannot_be_made_says_why(tmp_path, where, says, status):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    result = run_archiver("ingest", str(FIXTURES / "page" / "embedded.txt"), "--db", where, cwd=tmp_path)
    assert result.returncode == status
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr
    assert where in result.stderr and says in result.stderr


def test_kill_9_mid_resolve_then_rerun_completes(tmp_path, server):
    base, _ = server
    process, db = start_slow_archive(tmp_path, base, 24, delay_ms=400, until="select count(*) from checks")
    checked = table(db, "select count(*) from checks")[0][0]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert 0 < checked < 24, "the kill must land mid-resolve"
    assert table(db, "pragma integrity_check") == [("ok",)]
    pending = table(db, "select count(*) from links where status = 'pending'")[0][0]
    assert pending > 0
    assert table(db, "select status from runs") == [("running",)]

    page = tmp_path / "in" / "page.txt"
    rerun = run_archiver("archive", str(page), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "0 posts added, 0 links added" in rerun.stdout
    assert table(db, "select status, count(*) from links group by status") == [("ok", 24)]
    assert table(db, "select count(*) from posts") == [(24,)]
    assert table(db, "select status from runs order by id") == [("unfinished",), ("completed",)]
    assert table(
        db, "select count(*) from (select link_id from redirects group by link_id, hop having count(*) > 1)"
    ) == [(0,)]


def test_a_run_empties_the_write_ahead_log_while_a_reader_keeps_the_archive_open(tmp_path, server):
    base, _ = server
    page = write_page(tmp_path / "in", base, [f"/hop/1?n={i}" for i in range(5)])
    db = tmp_path / "archive.db"
    assert run_archiver("ingest", str(page), "--db", str(db), cwd=tmp_path).returncode == 0
    reader = sqlite3.connect(db)  # like Datasette: open for the whole run, between queries
    try:
        assert reader.execute("select count(*) from links").fetchone() == (5,)
        result = run_archiver("resolve", "--db", str(db), "--allow-private", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert reader.execute("select count(*) from links where status = 'ok'").fetchone() == (5,)
        assert Path(f"{db}-wal").stat().st_size == 0
    finally:
        reader.close()


def test_time_limit_stops_resolving_and_the_next_run_goes_on(tmp_path, server):
    base, _ = server
    page = write_page(tmp_path / "in", base, [f"/delay?ms=1500&n={i}" for i in range(12)])
    db = tmp_path / "archive.db"
    slow = ["--allow-private", "--concurrency", "2", "--per-host", "2"]
    # 12 links of 1.5 s, two at a time, need 9 s; the run may take 6 s (0.1 minutes).
    first = run_archiver("archive", str(page), "--db", str(db), *slow, "--time-limit", "0.1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    done = table(db, "select count(*) from links where status = 'ok'")[0][0]
    assert 0 < done < 12
    assert table(db, "select count(*) from links where status = 'pending'") == [(12 - done,)]
    assert f"{done} links checked" in first.stdout
    assert f"{12 - done} left for the next run" in first.stdout
    assert table(db, "select status, links_checked from runs") == [("time_limit", done)]

    rerun = run_archiver("resolve", "--db", str(db), "--allow-private", "--per-host", "12", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{12 - done} links checked" in rerun.stdout
    assert table(db, "select status, count(*) from links group by status") == [("ok", 12)]


@pytest.mark.parametrize("command", ["archive", "ingest", "resolve", "serve", "stats"])
def test_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_usage_error_is_exit_2():
    result = CliRunner().invoke(cli, ["resolve", "--concurrency", "0"])
    assert result.exit_code == 2


def test_stats_lists_statuses_and_domains(tmp_path, server):
    base, _ = server
    page = write_page(tmp_path / "in", base, ["/final", "/status/500"])
    db = tmp_path / "archive.db"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["archive", str(page), "--db", str(db), "--allow-private"], catch_exceptions=False
    )
    assert result.exit_code == 0
    result = runner.invoke(cli, ["stats", "--db", str(db)], catch_exceptions=False)
    assert "posts: 2" in result.output and "links: 2" in result.output
    assert "ok" in result.output and "http_error" in result.output


def test_page_url_source_is_fetched_and_archived(tmp_path, server):
    base, recorder = server
    db = tmp_path / "archive.db"
    result = run_archiver("ingest", f"{base}/feed-page", "--db", str(db), "--allow-private", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert recorder.paths() == ["/feed-page"]
    assert table(db, "select count(*) from posts where platform = 'twitter'") == [(3,)]
    assert table(db, "select url from posts where platform = 'web'") == [(f"{base}/feed-page",)]
    assert (f"{base}/about",) in table(db, "select url from links")


def test_page_url_on_an_internal_address_is_refused(tmp_path, server):
    base, recorder = server
    db = tmp_path / "archive.db"
    result = run_archiver("ingest", f"{base}/feed-page", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1
    assert "refused" in result.stderr and "127.0.0.1" in result.stderr
    assert recorder.requests == []


def test_recheck_all_requests_resolved_links_again(tmp_path, server):
    base, recorder = server
    page = write_page(tmp_path / "in", base, ["/final"])
    db = tmp_path / "archive.db"
    runner = CliRunner()
    args = ["--db", str(db), "--allow-private", "--no-probe"]
    assert runner.invoke(cli, ["archive", str(page), *args], catch_exceptions=False).exit_code == 0
    assert runner.invoke(cli, ["resolve", "--due-only", *args], catch_exceptions=False).exit_code == 0
    assert recorder.paths() == ["/final"]
    result = runner.invoke(cli, ["resolve", "--recheck-all", *args], catch_exceptions=False)
    assert "1 links checked (ok: 1)" in result.output
    assert recorder.paths() == ["/final", "/final"]
    assert table(db, "select count(*) from checks") == [(2,)]


def test_full_disk_is_a_clear_error(tmp_path, tiny_disk):
    page = tmp_path / "big.txt"
    page.write_text(
        "".join(
            f"Post {i} https://example.org/page/{i}?q={'x' * 50}\n— Someone (@someone) May 1, 2024\n"
            for i in range(3000)
        ),
        encoding="utf-8",
    )
    db = tiny_disk / "archive.db"
    result = run_archiver("ingest", str(page), "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1
    assert "disk is full" in result.stderr and str(db) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def read_only_archive(tmp_path):
    """An archive in a folder nobody may write: a read-only mount as root, else file modes."""
    built = tmp_path / "built" / "archive.db"
    made = run_archiver("ingest", str(FIXTURES / "page" / "embedded.txt"), "--db", str(built), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "readonly"
    folder.mkdir()
    if os.geteuid() != 0:
        shutil.copy(built, folder / "archive.db")
        (folder / "archive.db").chmod(0o444)
        folder.chmod(0o555)
        yield folder / "archive.db"
        folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        shutil.copy(built, folder / "archive.db")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder / "archive.db"
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_stats_sources_and_export_read_an_archive_they_cannot_write(tmp_path, read_only_archive):
    db = str(read_only_archive)
    stats = run_archiver("stats", "--db", db, cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert "posts: 6" in stats.stdout and "links: 10" in stats.stdout
    listing = run_archiver("sources", "--db", db, cwd=tmp_path)
    assert listing.returncode == 0 and "embedded.txt" in listing.stdout, listing.stderr
    exported = run_archiver("export", "posts", "--format", "jsonl", "--db", db, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 6
    assert sorted(p.name for p in read_only_archive.parent.iterdir()) == ["archive.db"]
    # A run, which must write, says why it cannot.
    run = run_archiver("ingest", str(FIXTURES / "page" / "embedded.txt"), "--db", db, cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr and db in run.stderr


def test_a_new_database_in_a_folder_that_cannot_be_written_says_so(tmp_path, read_only_archive):
    db = read_only_archive.parent / "another.db"
    result = run_archiver("ingest", str(FIXTURES / "page" / "embedded.txt"), "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{db}: cannot create the database: its folder {db.parent} is not writable" in result.stderr


def test_live_feed_conditional_get_and_only_new_items(tmp_path, server):
    base, recorder = server
    db = tmp_path / "archive.db"
    runner = CliRunner()
    args = ["ingest", f"{base}/feeds/blog.xml", "--db", str(db), "--allow-private"]
    first = runner.invoke(cli, args, catch_exceptions=False)
    assert "2 posts added, 3 links added" in first.output
    second = runner.invoke(cli, args, catch_exceptions=False)
    assert "0 posts added, 0 links added" in second.output
    assert recorder.paths() == ["/feeds/blog.xml", "/feeds/blog.xml"]
    assert table(db, "select last_status, http_status, etag, format from sources") == [
        ("not_modified", 304, '"v1"', "feed")
    ]
    listing = runner.invoke(cli, ["sources", "--db", str(db)], catch_exceptions=False)
    assert f"{base}/feeds/blog.xml" in listing.output and "posts: 2" in listing.output


def test_feed_that_turns_into_an_html_error_page(tmp_path, server):
    base, _ = server
    db = tmp_path / "archive.db"
    runner = CliRunner()
    args = [
        "ingest",
        f"{base}/feeds/turns-into-html.xml",
        "--db",
        str(db),
        "--allow-private",
        "--format",
        "feed",
    ]
    assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    again = runner.invoke(cli, args, catch_exceptions=False)
    assert "not an RSS or Atom feed" in again.output
    assert table(db, "select count(*) from posts") == [(2,)]  # nothing archived is lost
    assert table(db, "select last_status from sources") == [("error",)]
    stats = runner.invoke(cli, ["stats", "--db", str(db)], catch_exceptions=False)
    assert "sources with problems:" in stats.output and "turns-into-html.xml: error" in stats.output


def test_failing_feed_url_is_recorded(tmp_path, server):
    base, _ = server
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        cli, ["ingest", f"{base}/status/500", "--db", str(db), "--allow-private"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert table(db, "select last_status, last_error from sources") == [
        ("error", f"{base}/status/500: HTTP 500")
    ]


def test_archive_export_links_start_from_their_expansion(tmp_path, server):
    import json

    base, recorder = server
    folder = tmp_path / "export" / "data"
    folder.mkdir(parents=True)
    tweet = {
        "id_str": "1",
        "created_at": "Thu May 16 08:15:00 +0000 2024",
        "full_text": "see https://t.co/AbCdEfGhIj",
        "entities": {
            "urls": [
                {
                    "url": "https://t.co/AbCdEfGhIj",
                    "expanded_url": f"{base}/hop/1",
                    "display_url": "127.0.0.1/hop/1",
                }
            ]
        },
    }
    (folder / "tweets.js").write_text(
        "window.YTD.tweets.part0 = " + json.dumps([{"tweet": tweet}]), encoding="utf-8"
    )
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        cli,
        ["archive", str(tmp_path / "export"), "--db", str(db), "--allow-private", "--no-probe"],
        catch_exceptions=False,
    )
    assert "1 links checked (ok: 1)" in result.output
    assert recorder.paths() == ["/hop/1", "/hop/0"]  # t.co itself is never asked
    assert table(db, "select hop, url, status_code, via from redirects order by hop") == [
        (0, "https://t.co/AbCdEfGhIj", None, "expanded"),
        (1, f"{base}/hop/1", 302, "location"),
        (2, f"{base}/hop/0", 200, None),
    ]
    assert table(db, "select expanded_url, hops, final_url from links") == [
        (f"{base}/hop/1", 2, f"{base}/hop/0")
    ]


def test_a_page_with_an_unread_embed_is_partial_on_every_run(tmp_path):
    from conftest import FIXTURES

    page = FIXTURES / "page" / "embeds-intl.html"
    db = tmp_path / "archive.db"
    for _ in range(2):
        result = CliRunner().invoke(cli, ["ingest", str(page), "--db", str(db)], catch_exceptions=False)
        assert result.exit_code == 0
        assert f"{page}: 1 of 5 embedded posts could not be read" in result.stderr
        assert table(db, "select last_status from sources") == [("partial",)]
    assert table(db, "select count(*) from posts") == [(5,)]


def test_folders_are_walked_without_symlinks_and_never_read_the_archive_itself(tmp_path):
    from conftest import FIXTURES

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("private notes https://private.example/secret\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "post.txt").write_text("A post https://example.com/a\n")
    (inbox / "loop").symlink_to("..", target_is_directory=True)
    (inbox / "linked.txt").symlink_to(outside / "private.txt")
    archive = inbox / "export"
    shutil.copytree(FIXTURES / "twitter" / "archive", archive)
    (archive / "data" / "stolen.js").symlink_to(outside / "private.txt")
    db = inbox / "archive.db"
    for _ in range(2):
        result = CliRunner().invoke(cli, ["ingest", str(inbox), "--db", str(db)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "warning" not in result.stderr and "error" not in result.stderr, result.stderr
    sources = {Path(s).name for (s,) in table(db, "select location from sources")}
    assert sources == {"post.txt", "export"}
    assert table(db, "select count(*) from links where url like '%private%'") == [(0,)]


def test_the_time_limit_covers_reading_sources_and_fetching_feeds(tmp_path, server):
    base, _ = server
    later = tmp_path / "later.txt"
    later.write_text("Read by the next run https://example.com/later\n")
    db = tmp_path / "archive.db"
    started = time.monotonic()
    args = ["archive", f"{base}/slow?seconds=6", str(later), "--db", str(db), "--allow-private"]
    result = CliRunner().invoke(cli, [*args, "--time-limit", "0.02"], catch_exceptions=False)
    assert time.monotonic() - started < 4  # 1.2 s of limit, not the feed's 6 s
    assert "not fetched before the time limit" in result.stderr
    assert "time limit reached: 1 source(s) left for the next run" in result.stderr
    assert table(db, "select count(*) from posts") == [(0,)]
    result = CliRunner().invoke(cli, ["ingest", str(later), "--db", str(db)], catch_exceptions=False)
    assert table(db, "select count(*) from posts") == [(1,)]


def test_ingest_takes_a_timeout_and_a_time_limit_for_feeds(tmp_path, server):
    base, _ = server
    db = tmp_path / "archive.db"
    started = time.monotonic()
    args = ["ingest", f"{base}/slow?seconds=6", "--db", str(db), "--allow-private", "--timeout", "1"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert time.monotonic() - started < 5 and "slow" in result.stderr
    started = time.monotonic()
    args = ["ingest", f"{base}/slow?seconds=6", "--db", str(db), "--allow-private", "--time-limit", "0.02"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert time.monotonic() - started < 4 and "not fetched before the time limit" in result.stderr


def test_init_makes_an_archive_of_ones_own_apart_from_the_demo(tmp_path):
    # A demo folder in the working directory, as in a clone of the repository.
    (tmp_path / "data" / "inbox").mkdir(parents=True)
    (tmp_path / "data" / "inbox" / "demo.txt").write_text(
        "Demo post https://demo.invalid/x\n", encoding="utf-8"
    )
    made = run_archiver("init", "mine", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "mine" / "inbox").is_dir() and (tmp_path / "mine" / "archive.db").is_file()
    listed = tmp_path / "mine" / "sources.txt"
    assert listed.read_text(encoding="utf-8").startswith("# Sources archived")
    assert "archiver archive --db mine/archive.db" in made.stdout

    (tmp_path / "mine" / "inbox" / "mine.txt").write_text(
        "My post https://mine.invalid/a\n", encoding="utf-8"
    )
    listed.write_text(listed.read_text(encoding="utf-8") + "notes.txt\n", encoding="utf-8")
    (tmp_path / "mine" / "notes.txt").write_text("A note https://notes.invalid/b\n", encoding="utf-8")
    run = run_archiver("archive", "--db", "mine/archive.db", "--timeout", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    urls = {url for (url,) in table(tmp_path / "mine" / "archive.db", "select url from links")}
    assert urls == {"https://mine.invalid/a", "https://notes.invalid/b"}

    # Again: what is there is kept.
    listed.write_text("# my own list\n", encoding="utf-8")
    again = run_archiver("init", "mine", cwd=tmp_path)
    assert again.returncode == 0 and "kept as it was" in again.stdout
    assert listed.read_text(encoding="utf-8") == "# my own list\n"


@pytest.mark.parametrize("how", ["option", "environment"])
def test_sources_names_the_list_to_read(tmp_path, how):
    folder = tmp_path / "lists"
    (folder / "inbox").mkdir(parents=True)
    (folder / "inbox" / "a.txt").write_text("From the inbox https://inbox.invalid/a\n", encoding="utf-8")
    (folder / "watch.txt").write_text("b.txt\n", encoding="utf-8")
    (folder / "b.txt").write_text("Listed https://listed.invalid/b\n", encoding="utf-8")
    args = ["archive", "--db", str(tmp_path / "x.db"), "--timeout", "1"]
    env = dict(os.environ)
    if how == "option":
        args += ["--sources", str(folder / "watch.txt")]
    else:
        env["ARCHIVER_SOURCES"] = str(folder / "watch.txt")
    result = subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    urls = {url for (url,) in table(tmp_path / "x.db", "select url from links")}
    assert urls == {"https://inbox.invalid/a", "https://listed.invalid/b"}


def test_a_missing_archive_is_made_only_when_asked_for(tmp_path, monkeypatch):
    # A mistyped --db started a new, empty archive and exited 0; a bare `archiver archive`
    # in another folder made ./data/archive.db there.
    monkeypatch.delenv("ARCHIVER_CREATE", raising=False)
    page = tmp_path / "page.txt"
    page.write_text("see https://example.com/a\n")
    typo = tmp_path / "archve.db"
    for command in ("archive", "ingest"):
        result = run_archiver(command, str(page), "--db", str(typo), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert f"{typo}: no archive there" in result.stderr and "--create" in result.stderr
    result = run_archiver("resolve", "--db", str(typo), cwd=tmp_path)
    assert result.returncode == 1 and "no archive there" in result.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_archiver("archive", cwd=elsewhere)
    assert result.returncode == 1 and "data/archive.db: no archive there" in result.stderr
    assert not typo.exists() and list(elsewhere.iterdir()) == []
    made = run_archiver("ingest", str(page), "--db", str(typo), "--create", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"new archive at {typo}" in made.stdout
    again = run_archiver("ingest", str(page), "--db", str(typo), cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_a_thousand_failures_are_printed_once_each_up_to_a_cap_and_grouped_by_stats(tmp_path):
    # 1,000 bad lines in sources.txt gave 2,002 lines of output (stderr and stdout), and
    # stats then printed one line a failing source.
    sources = tmp_path / "sources.txt"
    sources.write_text("".join(f"{tmp_path}/missing-{n}.txt\n" for n in range(1000)))
    db = tmp_path / "archive.db"
    result = run_archiver("archive", "--db", str(db), "--sources", str(sources), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error:", "warning:"))]
    assert len(errors) == 20
    assert f"… and 980 more failed; 'archiver sources --db {db}' lists every source" in result.stderr
    assert len(result.stdout.splitlines()) == 1 and "1000 sources failed" in result.stdout
    stats = run_archiver("stats", "--db", str(db), cwd=tmp_path)
    assert "sources with problems: 1000" in stats.stdout
    assert len(stats.stdout.splitlines()) < 30
    [grouped] = [line for line in stats.stdout.splitlines() if "1000 sources: error:" in line]
    assert "missing-" in grouped  # one example names a source


def run_on_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run archiver with its stderr on a terminal (a pseudo-terminal); return the exit
    status and what the terminal showed."""
    import pty

    control, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "archiver", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(control, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(control)
    return process.wait(timeout=120), shown.decode(errors="replace")


def test_a_terminal_is_shown_counts_of_posts_read_and_of_links_done(tmp_path, server):
    # At 100,000 links the bar sat at 0 % with an ETA of "1d 10:52:05" and no count, and
    # a 100,000-row CSV showed nothing for 23 s.
    base, _ = server
    rows = tmp_path / "posts.csv"
    rows.write_text("id,text\n" + "".join(f"{n},post {n}\n" for n in range(5000)))
    db = tmp_path / "archive.db"
    status, shown = run_on_terminal("ingest", str(rows), "--db", str(db), cwd=tmp_path)
    assert status == 0, shown
    assert re.search(r"Reading posts\.csv: 5,000 posts, 0\.\d MB read", shown)
    page = write_page(tmp_path / "inbox", base, [f"/hop/1?n={n}" for n in range(6)])
    status, shown = run_on_terminal("archive", str(page), "--db", str(db), "--allow-private", cwd=tmp_path)
    assert status == 0, shown
    assert re.search(r"Resolving .* 6/6 +[\d.,]+ links/s", shown), shown
    assert "1d " not in shown


def test_reading_progress_is_told_while_a_source_is_read(tmp_path):
    from archiver import pipeline
    from archiver.sources import SourceEntry

    rows = tmp_path / "posts.csv"
    rows.write_text("id,text\n" + "".join(f"{n},post {n}\n" for n in range(2500)))
    told: list[pipeline.Reading] = []
    settings = pipeline.RunSettings(
        db_path=str(tmp_path / "archive.db"),
        command="ingest",
        sources=(SourceEntry(str(rows)),),
        resolve=False,
        create=True,
    )
    pipeline.run(settings, report=lambda line: None, reading=told.append)
    size = rows.stat().st_size
    assert [(r.records, r.bytes_read, r.done) for r in told] == [
        (0, 0, False),
        (1000, 0, False),
        (2000, 0, False),
        (2500, size, False),
        (2500, size, True),
    ]


@pytest.mark.parametrize(
    ("name", "content", "options", "says"),
    [
        (
            "pages.jsonl",
            '{"data": [{"id": "1", "text": "hi"}], "includes": {}}\n{"data": []}\n',
            (),
            "not JSON Lines of posts: none of its 2 line(s)",
        ),
        (
            "posts.csv",
            "id,text\n1,hello https://example.com\n",
            ("--format", "jsonl"),
            "not JSON Lines of posts",
        ),
        (
            "posts.csv",
            "id,text\n1,hello https://example.com\n",
            ("--format", "feed"),
            "not an RSS or Atom feed",
        ),
        ("posts.csv", "id,text\n1,hello\n", ("--format", "twitter-archive"), "not a Twitter archive file"),
    ],
    ids=["twarc2 API pages", "CSV forced as JSON Lines", "CSV forced as a feed", "CSV forced as an archive"],
)
def test_a_named_source_that_is_not_of_its_format_says_so_and_exits_1(tmp_path, name, content, options, says):
    # It printed "... the other lines were read" (there were none) and exited 0.
    source = tmp_path / name
    source.write_text(content)
    for command in ("ingest", "archive"):
        result = run_archiver(
            command, str(source), "--db", str(tmp_path / "archive.db"), *options, cwd=tmp_path
        )
        assert result.returncode == 1, result.stderr
        assert f"error: {source}: {says}" in result.stderr
        assert "the other" not in result.stderr


def test_twarc2_pages_are_named_as_such():
    from archiver.models import ParseError
    from archiver.sources import parse_bytes

    with pytest.raises(ParseError, match="look like Twitter API pages"):
        list(parse_bytes(b'{"data": [{"id": "1", "text": "hi"}]}\n', source="p.jsonl", fmt="jsonl"))
