"""The README and the manual in docs/: short, linked, current, and their commands work as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest

from archiver.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
QUICK_START = re.compile(r"<!-- quick start:.*?-->\n```\n(.*?)```\n<!-- end of quick start -->", re.S)
# What differs from run to run: when, how long, and what the network answered (none here).
VARIABLE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "TIME"),
    (re.compile(r" in \d+\.\d s"), " in S"),
    (re.compile(r" \((?:[a-z_]+: \d+(?:, )?)+\)"), " (STATUSES)"),
    (re.compile(r"^  [a-z_]+ +\d+$", re.M), "  STATUS COUNT"),
]


def _masked(text: str) -> str:
    for pattern, mask in VARIABLE:
        text = pattern.sub(mask, text)
    return text


def test_the_readme_fits_a_few_screens():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


class _Nowhere(BaseHTTPRequestHandler):
    """A proxy that goes nowhere: every request and tunnel is answered 404, none leaves the machine."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_CONNECT(self) -> None:  # noqa: N802 - the name http.server calls
        self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nowhere():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nowhere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_readme_quick_start_runs_as_written(tmp_path, nowhere):
    """Every "$" line of the quick start, run in a copy of the clone's data, prints what it shows."""
    session = QUICK_START.search(README.read_text(encoding="utf-8"))
    assert session, "README.md has no quick start"
    shutil.copytree(ROOT / "data", tmp_path / "data", ignore=shutil.ignore_patterns("*.db*", "public"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # Links end as errors without a request leaving the machine, as on one offline.
        "ARCHIVER_PROXY": nowhere,
    }
    env.pop("ARCHIVER_CREATE", None)  # the quick start makes its archive with init
    steps = re.split(r"^\$ ", session.group(1), flags=re.M)[1:]
    assert len(steps) >= 4
    for step in steps:
        command, _, shown = step.partition("\n")
        ran = subprocess.run(
            shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, f"{command}\n{ran.stderr}"
        assert _masked(ran.stdout) == _masked(shown), command


def _code_lines(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


def _archiver_commands() -> list[tuple[str, str]]:
    found = []
    for path in [README, *DOCS]:
        for line in _code_lines(path.read_text(encoding="utf-8")):
            command = re.sub(r"^\$ |^\S*/bin/|^\d+ [\d*,/]+ \* \* \* \S*/bin/", "", line.strip())
            if command.startswith("archiver "):
                command = re.split(r" #| >| \|", command)[0].strip()
                found.append((path.name, command))
    return found


@pytest.mark.parametrize(("where", "command"), _archiver_commands())
def test_every_archiver_command_in_the_readme_and_docs_parses(where, command, tmp_path):
    """Each archiver command the README and docs show names a command and options it has."""
    words = shlex.split(command.replace("~", str(tmp_path)), posix=True)[1:]
    words = [re.sub(r"^[A-Z][A-Z_]*$", "x", word) for word in words]  # placeholders: FOLDER, URL
    try:
        if not words or words[0].startswith("-"):
            cli.make_context("archiver", list(words))
            return
        name, *args = words
        assert name in cli.commands, f"{where}: {command}"
        with click.Context(cli, info_name="archiver") as parent:
            existing = [a if not a.endswith((".yml", ".yaml")) else str(ROOT / "metadata.yml") for a in args]
            cli.commands[name].make_context(name, existing, parent=parent)
    except click.exceptions.Exit as ended:  # --help, --version
        assert ended.exit_code == 0


def _anchors(path: Path) -> set[str]:
    anchors, inside = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside and re.match(r"#{1,6} ", line):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_between_the_readme_and_the_docs_arrives(path):
    text = re.sub(r"`[^`\n]*`", "", path.read_text(encoding="utf-8"))  # no link in code
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        arrives = (path.parent / file).resolve() if file else path
        assert arrives.exists(), f"{path.name}: {target}"
        if anchor and arrives.suffix == ".md":
            assert anchor in _anchors(arrives), f"{path.name}: {target}"


def test_every_command_has_its_help_in_the_cli_reference():
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"`archiver {name} --help`" in reference, name
