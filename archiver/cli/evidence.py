"""``archiver evidence``: an evidence package (WACZ) of posts and links, or the check of one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import preserve, publish
from ..http import ResolverSettings
from ..models import ArchiverError
from ..preserve import CopySettings
from . import open_existing
from .options import NETWORK, GroupedCommand, db_option

__all__ = ["evidence"]


@click.command(cls=GroupedCommand)
@click.argument("ids", nargs=-1)
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The package to write (FILE.wacz)")
@click.option(
    "--copies-dir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Where the copies are (default: copies/ beside the database)",
)
@click.option(
    "--timestamp-url",
    metavar="URL",
    envvar="ARCHIVER_TIMESTAMP_URL",
    help="An RFC 3161 time-stamping authority to date the package by (also ARCHIVER_TIMESTAMP_URL)",
)
@click.option("--verify", "verify", type=click.Path(dir_okay=False), help="Check a package instead")
@click.option(
    "--tsa-cert",
    "tsa_certs",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="PEM",
    help="With --verify: a root certificate of the time-stamping authority, to check the token's "
    "signature (repeatable)",
)
@NETWORK.apply
def evidence(
    ids: tuple[str, ...],
    db_path: str,
    output: str | None,
    copies_dir: str | None,
    timestamp_url: str | None,
    verify: str | None,
    tsa_certs: tuple[str, ...],
    network: ResolverSettings,
) -> None:
    """Write an evidence package (WACZ) of posts and links: your copies of what the links showed,
    with what archiver stored about them and the SHA-256 of every file; or --verify one.

    ID: a post's id, a link's id or a link's URL.

    Example:

    \b
        archiver evidence https://t.co/abc twitter:1400000001 -o case-12.wacz
        archiver evidence --verify case-12.wacz --tsa-cert tsa-root.pem
    """
    if verify is not None:
        try:
            roots = [Path(pem).read_bytes() for pem in tsa_certs]
        except OSError as ex:
            raise click.ClickException(f"{ex.filename}: {ex.strerror}") from ex
        checked = publish.verify_evidence(verify, roots=roots)
        for problem in checked.problems:
            click.echo(f"error: {problem}", err=True)
        if checked.problems:
            sys.exit(1)
        click.echo(f"{verify}: every file matches its SHA-256")
        stamp = checked.timestamp
        if stamp is not None:
            how = (
                "its signature verified"
                if stamp.signature_checked
                else "its signature not checked (--tsa-cert)"
            )
            click.echo(f"time-stamped {stamp.time} by {stamp.authority}; {how}")
        return
    if not ids or output is None:
        raise click.UsageError("name the posts or links (ID...) and the package to write (-o FILE.wacz)")
    db = open_existing(db_path, read_only=True)
    folder = preserve.copies_folder(CopySettings(keep=True, folder=copies_dir), db_path)
    try:
        written = publish.write_evidence(
            db, ids, output, copies_folder=folder, timestamp_url=timestamp_url, settings=network
        )
    except publish.TimestampError as ex:
        raise click.ClickException(f"no package written: the time-stamp failed: {ex}") from ex
    except ArchiverError as ex:
        raise click.ClickException(f"no package written: {ex}") from ex
    except OSError as ex:  # a full disk, a folder that cannot be written
        raise click.ClickException(f"no package written: {output}: {ex.strerror or ex}") from ex
    for problem in written.missing:
        click.echo(f"warning: {problem}", err=True)
    click.echo(
        f"{output}: {len(written.posts)} post(s), {len(written.links)} link(s), "
        f"{written.copies} copied answer(s)"
    )
    if not written.copies:
        click.echo(
            "error: no copy of these links: none was kept when they were checked (run with "
            "--copies to keep them), or they never answered; the package holds archiver's "
            "record of them only",
            err=True,
        )
        sys.exit(1)
