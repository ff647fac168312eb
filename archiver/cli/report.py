"""What a run shows while it runs and when it ends: failures, progress, the summary line."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from .. import pipeline
from ..clock import utc_now
from ..models import AlreadyRunning, ArchiverError, RunStatus

__all__ = ["FAILURES_SHOWN", "run_command"]

# A run stopped by Ctrl-C or SIGTERM exits as a shell reports a process those signals
# ended, after recording and printing how far it got.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
# Failures a run prints before saying how many more.
FAILURES_SHOWN = 20


def run_command(ctx: click.Context, settings: pipeline.RunSettings) -> pipeline.RunOutcome:
    """Run a command through the library, print its failed sources and summary, exit as it ended.

    Done or stopped by --time-limit: returns (the command may still exit 1 for missing
    sources).  Ctrl-C: exit 130.  SIGTERM: exit 143.
    """
    report = _CappedReport(settings.db_path, terminal=_on_terminal(ctx))
    try:
        outcome = pipeline.run(
            settings, report=report, progress=_progress_bar(ctx), reading=_reading_line(ctx)
        )
    except AlreadyRunning as ex:
        click.echo(f"archiver: {ex}", err=True)
        sys.exit(pipeline.EXIT_ALREADY_RUNNING)
    except (ArchiverError, OSError) as ex:
        # A database that cannot be opened, a cluster that cannot be reached.
        raise click.ClickException(str(ex)) from ex
    report.close()
    click.echo(_summary(settings, outcome))
    if outcome.status == RunStatus.INTERRUPTED:
        sys.exit(EXIT_TERMINATED if outcome.stopped_by == signal.SIGTERM else EXIT_INTERRUPTED)
    return outcome


class _CappedReport:
    """Prints what a run reports on stderr, its failures once each and at most FAILURES_SHOWN.

    A list of a thousand broken lines would otherwise bury the summary; the rest are
    counted, and ``archiver sources`` lists every source with its error.
    """

    def __init__(self, db_path: str, *, terminal: bool = False) -> None:
        self._db_path = db_path
        self._failures = 0
        self._clear = "\r\x1b[K" if terminal else ""  # over the progress line, if any

    def __call__(self, line: str) -> None:
        if line.startswith(("error:", "warning:")):
            self._failures += 1
            if self._failures > FAILURES_SHOWN:
                return
        click.echo(self._clear + line, err=True)

    def close(self) -> None:
        more = self._failures - FAILURES_SHOWN
        if more > 0:
            click.echo(
                f"… and {more} more failed; 'archiver sources --db {self._db_path}' lists every "
                "source with its error",
                err=True,
            )


def _on_terminal(ctx: click.Context) -> bool:
    return sys.stderr.isatty() and not (ctx.obj or {}).get("quiet")


def _progress_bar(ctx: click.Context) -> pipeline.Progress:
    """Return a progress bar for resolving, drawn on stderr when it is a terminal: links
    done of the total, the rate, and the time left once the rate means something."""
    hidden = not _on_terminal(ctx)

    @contextmanager
    def bar(total: int) -> Iterator[Callable[[int], None]]:
        started = time.monotonic()
        done = 0
        with click.progressbar(
            length=total,
            label="Resolving",
            file=sys.stderr,
            hidden=hidden,
            show_pos=True,
            show_eta=False,
            item_show_func=lambda rate: rate,
        ) as drawn:

            def advance(n: int) -> None:
                nonlocal done
                done += n
                drawn.update(n, _rate(done, total, time.monotonic() - started))

            yield advance

    return bar


def _rate(done: int, total: int, seconds: float) -> str:
    """Return "12.5 links/s, 3:20 left": the time left only after a few seconds of links."""
    if seconds <= 0 or not done:
        return ""
    rate = done / seconds
    if seconds < 5 or done >= total:
        return f"{rate:,.1f} links/s"
    left = int((total - done) / rate)
    return f"{rate:,.1f} links/s, {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left"


def _reading_line(ctx: click.Context) -> pipeline.ReadingProgress | None:
    """Return what shows, on a terminal, how far the sources are read: posts and bytes."""
    if not _on_terminal(ctx):
        return None
    shown = 0.0

    def show(reading: pipeline.Reading) -> None:
        nonlocal shown
        now = time.monotonic()
        if not reading.done and now - shown < 0.2:
            return
        shown = now
        name = Path(reading.source).name or reading.source
        line = f"Reading {name[:40]}: {reading.records:,} posts, {reading.bytes_read / 1e6:,.1f} MB read"
        click.echo(f"\r\x1b[K{line}", file=sys.stderr, nl=reading.done)

    return show


def _summary(settings: pipeline.RunSettings, outcome: pipeline.RunOutcome) -> str:
    """Return the one line a cron log keeps: when, what was stored, and what needs a look."""
    detail = ", ".join(f"{name}: {n}" for name, n in sorted(outcome.checks.items()))
    line = (
        f"{utc_now()} {settings.command}: {outcome.posts_added} posts added, "
        f"{outcome.links_added} links added, {outcome.links_checked} links checked"
        + (f" ({detail})" if detail else "")
        + f" in {outcome.seconds:.1f} s"
    )
    notes = []
    if outcome.failed_sources:
        notes.append(f"{_count(len(outcome.failed_sources), 'source')} failed")
    if outcome.partial_sources:
        notes.append(f"{_count(outcome.partial_sources, 'source')} read in part")
    if outcome.links_due == 0:
        notes.append("nothing due")
    if outcome.sources_left:
        notes.append(f"{_count(outcome.sources_left, 'source')} left for the next run (--time-limit)")
    if outcome.links_left:
        notes.append(f"{outcome.links_left} left for the next run (--time-limit)")
    if outcome.captures is not None:
        notes.append(_captures_note(outcome.captures))
    if outcome.cluster_requests is not None:
        notes.append(_cluster_note(outcome.cluster_requests, outcome.cluster_lost))
    if outcome.new_archive:
        notes.append(f"new archive at {settings.db_path}")
    if outcome.status == RunStatus.INTERRUPTED:
        notes.append("interrupted")
    return "; ".join([line, *notes])


def _captures_note(counts: pipeline.CaptureCounts) -> str:
    """Return what a run asked web archives, for the summary line."""
    note = f"captures: {counts.looked_up} looked up ({counts.found} found, {counts.failed} failed)"
    if counts.asked or counts.saved:
        note += f", {counts.asked} asked for, {counts.saved} made"
    if counts.saves_left is not None:
        note += f", {_count(counts.saves_left, 'capture')} left of today's quota"
    if counts.stopped:
        note += f" (stopped: {counts.stopped})"
    return note


def _cluster_note(requests: dict[str, int], lost: list[str]) -> str:
    """Return how many workers took part and the requests each made, for the summary line."""
    each = ", ".join(
        f"{address} {n}" + (" (lost)" if address in lost else "") for address, n in sorted(requests.items())
    )
    return f"cluster: {_count(len(requests), 'worker')}, requests: {each}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
