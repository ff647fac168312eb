"""Resolving on a Dask cluster: each host asked by one worker, one archive, faults survived.

The servers listen on several loopback addresses (127.0.0.41 and up), each address a host
of its own to archiver's per-host limits, and count the requests in flight at each.
The cluster is a ``LocalCluster`` of four worker processes, started by the test
(``--cluster local:4``) or by the module's fixture, whose scheduler address the runs
are given, so that a test can kill one of its workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Recorder
from conftest import TestServer as QuietServer

from archiver.cluster import ClusterLost, HopOwner, Owners
from archiver.http import HopFailed, ResolverSettings
from archiver.models import LinkStatus

distributed = pytest.importorskip("distributed")

# One worker of the suite runs them all (make test: --dist loadgroup), so one cluster of
# four processes is started for the module, not one on each of the suite's workers.
pytestmark = pytest.mark.xdist_group("cluster")

SHORTENERS = [f"127.0.0.{41 + i}" for i in range(4)]
FINALS = [f"127.0.0.{51 + i}" for i in range(4)]
RATE_LIMITED = "127.0.0.61"


class Hosts(BaseHTTPRequestHandler):
    """Shorteners that redirect to final hosts, final pages, and a host that answers 429 once."""

    protocol_version = "HTTP/1.1"
    recorder: Recorder
    delay: float
    ports: dict[str, int]
    times: list[tuple[float, int]]  # (when, status) of each request to the rate-limited host
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        host = self.headers.get("Host", "").rsplit(":", 1)[0]
        self.recorder.enter("GET", host, self.path)
        with contextlib.suppress(OSError):
            self.recorder.busy(host, self.delay)
            self._answer(host, urlsplit(self.path).path)

    def _answer(self, host: str, path: str) -> None:
        last = path.rsplit("/", 1)[1]
        n = int(last) if last.isdigit() else 0
        if host == RATE_LIMITED:
            with self.lock:
                first = not self.times
                self.times.append((time.monotonic(), 429 if first else 200))
            if first:
                self._send(429, b"", {"Retry-After": "1"})
                return
        if path.startswith("/s/"):
            final = FINALS[n % len(FINALS)]
            self._send(301, b"", {"Location": f"http://{final}:{self.ports[final]}/page/{n}"})
        elif path.startswith("/page/") or host == RATE_LIMITED:
            self._send(200, f"<html><title>Page {n}</title><p>Text of page {n}.</p></html>".encode())
        else:
            self._send(404, b"<title>Not found</title>")

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def loopback_hosts(delay: float) -> Iterator[type[Hosts]]:
    """Start one server on each test address; yield the handler class, which holds what they saw."""
    handler = type("BoundHosts", (Hosts,), {"recorder": Recorder(), "delay": delay, "ports": {}, "times": []})
    servers = []
    try:
        for address in [*SHORTENERS, *FINALS, RATE_LIMITED]:
            server = QuietServer((address, 0), handler)
            handler.ports[address] = server.server_address[1]
            servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        yield handler
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def short_link(handler: type[Hosts], n: int) -> str:
    host = SHORTENERS[n % len(SHORTENERS)]
    return f"http://{host}:{handler.ports[host]}/s/{n}"


def write_links(folder: Path, urls: list[str]) -> Path:
    posts = folder / "links.jsonl"
    posts.write_text("".join(json.dumps({"id": str(i), "text": url}) + "\n" for i, url in enumerate(urls)))
    return posts


def archiver(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def ingest(folder: Path, urls: list[str], name: str = "archive.db") -> Path:
    db = folder / name
    done = archiver("ingest", str(write_links(folder, urls)), "--db", str(db), "--create", cwd=folder)
    assert done.returncode == 0, done.stderr
    return db


def rows(db: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def start_resolving(db: Path, address: str, *options: str) -> subprocess.Popen[str]:
    """Start ``archiver resolve`` of ``db`` on the cluster at ``address``, in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "resolve", "--db", str(db), "--allow-private", *options,
         "--cluster", address],
        cwd=db.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(ready: Callable[[], bool], run: subprocess.Popen[str]) -> None:
    """Wait, a minute at most, until ``ready()`` while ``run`` goes on."""
    deadline = time.monotonic() + 60
    while not ready():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    """Four worker processes and their scheduler, for the runs that are given its address."""
    with distributed.LocalCluster(
        n_workers=4, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


def test_the_per_host_limit_holds_across_the_whole_cluster(tmp_path):
    with loopback_hosts(delay=0.05) as hosts:
        db = ingest(tmp_path, [short_link(hosts, n) for n in range(160)])
        hosts.recorder.reset()
        done = archiver(
            "resolve", "--db", str(db), "--allow-private", "--per-host", "2", "--concurrency", "16",
            "--cluster", "local:4", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "cluster: 4 workers, requests: " in done.stdout
        peak = hosts.recorder.peak
        seen = len(hosts.recorder.requests)
    assert set(peak) >= {*SHORTENERS, *FINALS}
    assert max(peak.values()) <= 2, peak
    assert rows(db, "select status, count(*) from links group by status") == [("ok", 160)]
    # More than one worker asked: the hosts were spread over the cluster.
    made = [int(part.rsplit(" ", 1)[1]) for part in done.stdout.strip().split("requests: ")[1].split(", ")]
    assert sum(1 for n in made if n) >= 2, done.stdout
    assert sum(made) == seen  # each worker's count is what the servers saw of it


def test_a_retry_after_is_honoured_by_every_worker(tmp_path, cluster):
    with loopback_hosts(delay=0.0) as hosts:
        port = hosts.ports[RATE_LIMITED]
        db = ingest(tmp_path, [f"http://{RATE_LIMITED}:{port}/p/{n}" for n in range(40)])
        done = archiver(
            "resolve", "--db", str(db), "--allow-private", "--per-host", "1", "--concurrency", "40",
            "--no-probe", "--cluster", cluster.scheduler_address, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        times = list(hosts.times)
    refused_at = times[0][0]
    assert times[0][1] == 429
    later = [when - refused_at for when, _ in times[1:]]
    # The host asked for a second; nobody asked it again sooner, whichever worker's
    # chain the link was on (one request at a time: none was on its way already).
    assert later and min(later) >= 0.95, later[:5]
    assert rows(db, "select status, count(*) from links group by status") == [("ok", 40)]


def _record(db: Path) -> dict[str, list[tuple]]:
    """What a run stored, the columns of times and run numbers left out."""
    return {
        "links": rows(
            db,
            "select url, status, http_status, error, final_url, final_host, final_domain, hops, title, "
            "consecutive_failures, rot from links order by url",
        ),
        "redirects": rows(
            db,
            "select links.url, hop, redirects.url, status_code, via from redirects "
            "join links on links.id = redirects.link_id order by links.url, hop",
        ),
        "checks": rows(
            db,
            "select links.url, checks.status, checks.http_status, checks.final_url, checks.final_domain, "
            "checks.hops, checks.error, checks.title, checks.text_hash, checks.words, checks.rot "
            "from checks join links on links.id = checks.link_id order by links.url",
        ),
        "probes": rows(
            db,
            "select origin, status, http_status, title, text_hash from probes order by origin",
        ),
    }


def test_a_cluster_run_stores_what_a_single_process_run_stores(tmp_path, cluster):
    with loopback_hosts(delay=0.0) as hosts:
        urls = [short_link(hosts, n) for n in range(60)]
        urls += [f"http://{FINALS[0]}:{hosts.ports[FINALS[0]]}/missing/{n}" for n in range(5)]
        single = ingest(tmp_path, urls, "single.db")
        spread = ingest(tmp_path, urls, "cluster.db")
        common = ["--allow-private", "--per-host", "2"]
        assert archiver("resolve", "--db", str(single), *common, cwd=tmp_path).returncode == 0
        done = archiver(
            "resolve", "--db", str(spread), *common, "--cluster", cluster.scheduler_address, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
    one, other = _record(single), _record(spread)
    assert len(one["links"]) == 65 and len(one["redirects"]) > 65
    assert {status for _, status, http_status, *_ in one["probes"]} == {"http_error"}
    assert one == other


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(tmp_path, cluster):
    with loopback_hosts(delay=0.25) as hosts:
        db = ingest(tmp_path, [short_link(hosts, n) for n in range(64)])
        client = distributed.Client(cluster.scheduler_address, timeout=30)
        try:
            workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
            victim = Owners(workers).owner(FINALS[0])
            hosts.recorder.reset()
            run = start_resolving(db, cluster.scheduler_address, "--per-host", "2", "--no-probe")
            # Once the final hosts are being asked, the owner of one of them dies.
            wait_until(lambda: any(host in FINALS for _, host, _ in list(hosts.recorder.requests)), run)
            with contextlib.suppress(Exception):
                client.run(os._exit, 1, workers=[victim])
            out, err = run.communicate(timeout=120)
        finally:
            client.close()
    assert run.returncode == 0, err
    assert f"cluster worker {victim} lost" in err
    assert f"{victim} " in out and "(lost)" in out
    assert rows(db, "select status, count(*) from links group by status") == [("ok", 64)]
    # One check a link, one row a hop: nothing doubled by the hops asked again.
    assert rows(db, "select count(*), count(distinct link_id) from checks") == [(64, 64)]
    assert rows(
        db, "select count(*) from (select link_id, hop from redirects group by 1, 2 having count(*) > 1)"
    ) == [(0,)]


def test_an_unreachable_scheduler_is_an_error_before_any_request(tmp_path, closed_port):
    with loopback_hosts(delay=0.0) as hosts:
        db = ingest(tmp_path, [short_link(hosts, n) for n in range(4)])
        hosts.recorder.reset()
        done = archiver(
            "resolve",
            "--db",
            str(db),
            "--allow-private",
            "--cluster",
            f"tcp://127.0.0.1:{closed_port}",
            cwd=tmp_path,
        )
        assert hosts.recorder.requests == []
    assert done.returncode == 1
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{closed_port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert rows(db, "select status, count(*) from links group by status") == [("pending", 4)]
    # The run's row says it failed, and why, for whoever reads the archive later.
    (status, error), *_ = rows(db, "select status, error from runs order by id desc")
    assert status == "failed" and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{closed_port}" in error


@pytest.mark.parametrize("spec", ["local:0", "local:x", "local:"])
def test_a_bad_local_cluster_size_is_an_error(tmp_path, spec):
    db = ingest(tmp_path, ["http://127.0.0.1:9/x"])
    done = archiver("resolve", "--db", str(db), "--cluster", spec, cwd=tmp_path)
    assert done.returncode == 1
    assert "local:N takes a number of workers from 1 to 256" in done.stderr


def test_without_cluster_dask_is_never_imported(tmp_path, server):
    base, _ = server
    db = ingest(tmp_path, [f"{base}/final"])
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from archiver.cli import cli\n"
        f"result = CliRunner().invoke(cli, ['resolve', '--db', {str(db)!r}, '--allow-private'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert rows(db, "select status from links") == [("ok",)]


def test_every_host_has_one_owner_and_a_lost_worker_moves_only_its_own():
    workers = [f"tcp://10.0.0.{i}:8786" for i in range(1, 5)]
    owners = Owners(workers)
    hosts = [f"host{i}.example" for i in range(2000)]
    before = {host: owners.owner(host) for host in hosts}
    assert before == {host: Owners(reversed(workers)).owner(host) for host in hosts}  # any order, same owner
    share = Counter(before.values())
    assert set(share) == set(workers) and min(share.values()) > 350, share
    owners.remove(workers[0])
    after = {host: owners.owner(host) for host in hosts}
    moved = {host for host in hosts if before[host] != after[host]}
    assert moved == {host for host in hosts if before[host] == workers[0]}
    assert workers[0] not in after.values()
    for worker in workers[1:]:
        owners.remove(worker)
    with pytest.raises(LookupError):
        owners.owner("host1.example")


def test_a_hop_failure_crosses_to_the_coordinator_whole():
    failure = HopFailed(LinkStatus.HTTP_ERROR, "host asked to wait", http_status=429, retry_after=2.5)
    copied = pickle.loads(pickle.dumps(failure))
    assert (copied.status, copied.error, copied.http_status, copied.retry_after) == (
        LinkStatus.HTTP_ERROR,
        "host asked to wait",
        429,
        2.5,
    )
    assert issubclass(ClusterLost, Exception)


def test_an_interrupted_cluster_run_keeps_what_it_stored_and_a_re_run_resumes(tmp_path, cluster):
    with loopback_hosts(delay=0.2) as hosts:
        db = ingest(tmp_path, [short_link(hosts, n) for n in range(48)])
        run = start_resolving(db, cluster.scheduler_address, "--per-host", "1", "--no-probe")
        wait_until(lambda: rows(db, "select count(*) from checks") != [(0,)], run)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 143, err
        stored = rows(db, "select count(*) from checks")[0][0]
        assert 0 < stored < 48
        address = cluster.scheduler_address
        rerun = archiver(
            "resolve", "--db", str(db), "--allow-private", "--no-probe", "--cluster", address, cwd=tmp_path
        )
        assert rerun.returncode == 0, rerun.stderr
    assert f"{48 - stored} links checked" in rerun.stdout
    assert rows(db, "select status, count(*) from links group by status") == [("ok", 48)]
    assert rows(db, "select count(*), count(distinct link_id) from checks") == [(48, 48)]
    assert [status for (status,) in rows(db, "select status from runs order by id")] == [
        "completed",
        "interrupted",
        "completed",
    ]


def test_the_guard_and_the_proxy_reach_the_workers(tmp_path, cluster, server, forward_proxy):
    base, _ = server
    proxy, seen = forward_proxy
    port = urlsplit(base).port
    # The name resolves nowhere but at the proxy; the internal literal must never leave.
    named, internal = f"http://archive-target.test:{port}/hop/1", f"http://169.254.169.254:{port}/latest"
    db = ingest(tmp_path, [named, internal])
    done = archiver(
        "resolve", "--db", str(db), "--proxy", proxy, "--allow-port", str(port), "--no-probe",
        "--cluster", cluster.scheduler_address, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(rows(db, "select url, status from links")) == [(internal, "blocked"), (named, "ok")]
    assert seen == [named, f"http://archive-target.test:{port}/hop/0"]


def test_a_run_whose_every_worker_is_lost_ends_with_an_error_and_keeps_what_it_stored(tmp_path):
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as one,
        distributed.Client(one.scheduler_address, timeout=30) as client,
        loopback_hosts(delay=0.3) as hosts,
    ):
        db = ingest(tmp_path, [short_link(hosts, n) for n in range(40)])
        (worker,) = client.scheduler_info(n_workers=-1)["workers"]
        run = start_resolving(db, one.scheduler_address, "--per-host", "1", "--no-probe")
        wait_until(lambda: rows(db, "select count(*) from checks") != [(0,)], run)
        with contextlib.suppress(Exception):
            client.run(os._exit, 1, workers=[worker])
        out, err = run.communicate(timeout=120)
    assert run.returncode == 1, (out, err)
    assert f"every worker of the cluster was lost ({worker})" in err
    assert "Traceback" not in err
    (status, error), *_ = rows(db, "select status, error from runs order by id desc")
    assert status == "failed" and f"every worker of the cluster was lost ({worker})" in error
    stored = rows(db, "select count(*), count(distinct link_id) from checks")[0]
    assert 0 < stored[0] == stored[1] < 40
    assert rows(db, "select count(*) from links where status = 'ok'") == [(stored[0],)]


def test_archive_ingests_here_and_resolves_on_the_cluster(tmp_path, cluster):
    with loopback_hosts(delay=0.0) as hosts:
        posts = write_links(tmp_path, [short_link(hosts, n) for n in range(12)])
        db = tmp_path / "archive.db"
        done = archiver(
            "archive", str(posts), "--db", str(db), "--create", "--allow-private",
            "--cluster", cluster.scheduler_address, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert "12 posts added, 12 links added, 12 links checked (ok: 12)" in done.stdout
    assert "cluster: 4 workers, requests: " in done.stdout
    assert rows(db, "select count(*) from redirects") == [(24,)]  # the short link and its page


def test_copies_made_on_the_workers_are_written_by_the_coordinator(tmp_path, cluster):
    with loopback_hosts(delay=0.0) as hosts:
        db = ingest(tmp_path, [short_link(hosts, n) for n in range(6)])
        done = archiver(
            "resolve", "--db", str(db), "--allow-private", "--no-probe", "--copies",
            "--cluster", cluster.scheduler_address, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    copies = rows(db, "select url, status, warc_file from copies order by url")
    assert len(copies) == 12  # each link's redirect and its page
    assert {status for _, status, _ in copies} == {200, 301}
    warcs = sorted({str(db.parent / "copies" / file) for _, _, file in copies})
    warcio = Path(sys.executable).parent / "warcio"
    check = subprocess.run([str(warcio), "check", *warcs], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_worker_with_no_hop_yet_holds_the_collect_call_rather_than_spin():
    async def collect() -> tuple[float, list]:
        owner = HopOwner(ResolverSettings(), copy_limit=0)
        started = time.monotonic()
        answered, requests = await owner.collect(0.3)
        await owner.close()
        return time.monotonic() - started, [answered, requests]

    waited, got = asyncio.run(collect())
    assert got == [[], 0]
    assert waited >= 0.25
