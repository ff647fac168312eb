"""A database file is SQL too: archiver opens only archives whose schema it wrote."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from archiver import store
from archiver.cli import cli
from archiver.models import DatabaseError
from archiver.store.schema import ForeignSchema


def archive_with(tmp_path, *statements: str):
    path = tmp_path / "archive.db"
    store.open_database(path).close()
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


STRANGERS = {
    "a view of its own": "create view cost as select length(zeroblob(1000000000)) as n",
    "archiver's view rewritten": "drop view links_rotten",  # then made again below
    "a trigger that runs while upgrading": (
        "create trigger spy after update on links begin select length(zeroblob(1000000000)); end"
    ),
    "a table of its own": "create table notes (x)",
    "a default that computes": "alter table posts add column padding blob default (zeroblob(1000000000))",
    "an index on an expression": "create index heavy on posts (length(zeroblob(1000000000)))",
    "a partial index": "create index some on posts (id) where length(zeroblob(10)) > 0",
}


@pytest.mark.parametrize("statement", STRANGERS.values(), ids=STRANGERS.keys())
def test_an_archive_holding_sql_archiver_did_not_write_is_refused_by_every_way_in(tmp_path, statement):
    extra = ["create view links_rotten as select length(zeroblob(1000000000)) as n"]
    path = archive_with(tmp_path, statement, *(extra if "drop view" in statement else []))
    before = path.read_bytes()
    with pytest.raises(ForeignSchema, match="not an archive archiver wrote"):
        store.open_read_only(path)
    if "drop view" not in statement:  # a writable open makes archiver's views anew
        with pytest.raises(ForeignSchema, match="not an archive archiver wrote"):
            store.open_database(path)
    if "drop view" in statement:
        return  # archive, serve and stats open it writable, and so replace the view
    for command in ("archive", "serve", "stats"):
        result = CliRunner().invoke(cli, [command, "--db", str(path)])
        assert result.exit_code == 1, (command, result.output)
        assert "not an archive archiver wrote" in result.output
    assert path.read_bytes() == before  # nothing of the stranger's ran or changed


def test_a_database_of_another_program_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("create table customers (id integer primary key, name text)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="it holds a table 'customers'"):
        store.open_database(path)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("select name from sqlite_master")] == ["customers"]
    conn.close()


def test_an_archive_archiver_wrote_opens_and_its_views_are_made_anew(tmp_path):
    path = archive_with(tmp_path)
    db = store.open_database(path)
    assert "links_rotten" in db.view_names()
    db.close()
    store.open_read_only(path).close()


def test_datasette_reads_with_the_schema_distrusted(tmp_path):
    from datasette.app import Datasette

    path = archive_with(tmp_path)

    async def trusted() -> int:
        datasette = Datasette([str(path)])
        await datasette.invoke_startup()
        result = await datasette.get_database().execute("pragma trusted_schema")
        return result.first()[0]

    import asyncio

    assert asyncio.run(trusted()) == 0
