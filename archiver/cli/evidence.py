"""``archiver evidence``: an evidence package (WACZ) of posts and links, or the check of one."""

from __future__ import annotations

import sys

import click

from .. import preserve, publish
from ..preserve import CopySettings
from . import open_existing
from .options import db_option

__all__ = ["evidence"]


@click.command()
@click.argument("ids", nargs=-1)
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The package to write (FILE.wacz)")
@click.option(
    "--copies-dir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Where the copies are (default: copies/ beside the database)",
)
@click.option("--verify", "verify", type=click.Path(dir_okay=False), help="Check a package instead")
def evidence(
    ids: tuple[str, ...], db_path: str, output: str | None, copies_dir: str | None, verify: str | None
) -> None:
    """Write an evidence package (WACZ) of posts and links: your copies of what the links showed,
    with what archiver stored about them and the SHA-256 of every file; or --verify one.

    ID: a post's id, a link's id or a link's URL.

    Example:

    \b
        archiver evidence https://t.co/abc twitter:1400000001 -o case-12.wacz
        archiver evidence --verify case-12.wacz
    """
    if verify is not None:
        problems = publish.verify_evidence(verify)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if problems:
            sys.exit(1)
        click.echo(f"{verify}: every file matches its SHA-256")
        return
    if not ids or output is None:
        raise click.UsageError("name the posts or links (ID...) and the package to write (-o FILE.wacz)")
    db = open_existing(db_path, read_only=True)
    folder = preserve.copies_folder(CopySettings(keep=True, folder=copies_dir), db_path)
    written = publish.write_evidence(db, ids, output, copies_folder=folder)
    for problem in written.missing:
        click.echo(f"warning: {problem}", err=True)
    click.echo(
        f"{output}: {len(written.posts)} post(s), {len(written.links)} link(s), "
        f"{written.copies} copied answer(s)"
    )
    if not written.copies:
        click.echo("error: no copy of these links: run with --copies to keep them", err=True)
        sys.exit(1)
