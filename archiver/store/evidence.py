"""What an evidence package holds of the archive: the posts and links asked for, their copies and rows."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from ..models import Rot
from ..urls import link_id, normalise_url

__all__ = ["COPIES_OF_CHAINS", "chosen_posts_and_links", "copies_for_links", "link_pages", "rows_about"]

# The tables whose rows about chosen posts and links a package records, and how.
_ROWS_ABOUT = {
    "posts": "select * from posts where id in (select value from json_each(:posts))",
    "post_links": "select * from post_links where post_id in (select value from json_each(:posts)) "
    "or link_id in (select value from json_each(:links))",
    "links": "select * from links where id in (select value from json_each(:links))",
    "redirects": "select * from redirects where link_id in (select value from json_each(:links))",
    "checks": "select * from checks where link_id in (select value from json_each(:links))",
    "captures": "select * from captures where link_id in (select value from json_each(:links))",
    "copies": "select * from copies where id in (select value from json_each(:copies))",
    # The probes whose answers a package holds: what a soft-404 verdict rests on.
    "probes": "select * from probes where url in (select url from copies "
    "where id in (select value from json_each(:copies)))",
    # Where the posts were read from (an archive member's posts name it as ARCHIVE!MEMBER).
    "sources": "select * from sources where location in (select source from posts "
    "where id in (select value from json_each(:posts))) or location in (select substr(source, 1, "
    "instr(source, '!') - 1) from posts where id in (select value from json_each(:posts)))",
}


def chosen_posts_and_links(db: Database, ids: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Return the posts and links ``ids`` name (post ids, link ids or link URLs), and those naming nothing.

    A post brings the links it carries.
    """
    posts: list[str] = []
    links: list[str] = []
    unknown: list[str] = []
    for wanted in ids:
        if _exists(db, "posts", wanted):
            posts.append(wanted)
            links += [
                row[0] for row in db.execute("select link_id from post_links where post_id = ?", [wanted])
            ]
        elif _exists(db, "links", wanted):
            links.append(wanted)
        elif (url := normalise_url(wanted)) is not None and _exists(db, "links", link_id(url)):
            links.append(link_id(url))
        else:
            unknown.append(wanted)
    return posts, list(dict.fromkeys(links)), unknown


def _exists(db: Database, table: str, key: str) -> bool:
    return db.execute(f"select 1 from [{table}] where id = ?", [key]).fetchone() is not None


# The copies of the chains of the links in ``:links`` (a JSON array of link ids).  A copy
# is recorded once, for the link whose chain asked first: a hop two links share (their
# common final page, or a link that is a hop of another's chain) is found by its URL,
# among the copies of the runs that checked the chosen links.  A link judged a soft 404
# also brings the copy of the probe's answer that judged it (the same run, its host).
COPIES_OF_CHAINS = f"""
with chosen(id) as (select value from json_each(:links)),
chain_urls(url) as (
  select url from links where id in chosen
  union select url from redirects where link_id in chosen
  union select final_url from checks where link_id in chosen and final_url is not null
),
checking_runs(run_id) as (select run_id from checks where link_id in chosen),
judging_probes(run_id, url) as (
  select probes.run_id, probes.url from checks join probes on probes.run_id = checks.run_id
  and substr(checks.final_url, 1, length(probes.origin) + 1) = probes.origin || '/'
  where checks.link_id in chosen and checks.rot = '{Rot.SOFT_404}'
)
select * from copies where link_id in chosen
union
select * from copies where url in chain_urls and run_id in checking_runs
union
select copies.* from judging_probes join copies on copies.url = judging_probes.url
and copies.run_id = judging_probes.run_id
order by recorded_at, id
"""


def copies_for_links(db: Database, links: list[str]) -> list[dict[str, Any]]:
    """Return the copies of the links' chains, and the first copy each revisit among them refers to."""
    rows = list(db.query(COPIES_OF_CHAINS, {"links": json.dumps(links)}))
    chosen = {row["id"] for row in rows}
    for row in [r for r in rows if r["revisit"]]:
        original = next(
            db.query(
                "select * from copies where url = ? and payload_sha256 = ? and revisit = 0 and truncated = 0 "
                "and recorded_at <= ? order by recorded_at desc, id desc limit 1",
                [row["url"], row["payload_sha256"], row["recorded_at"]],
            ),
            None,
        )
        if original is not None and original["id"] not in chosen:
            chosen.add(original["id"])
            rows.append(original)
    return sorted(rows, key=lambda row: (row["recorded_at"], row["id"]))


def link_pages(db: Database, links: list[str]) -> dict[str, tuple[str, str | None]]:
    """Return each link's URL and title, by link id."""
    return {
        row["id"]: (row["url"], row["title"])
        for row in db.query(
            "select id, url, title from links where id in (select value from json_each(?))",
            [json.dumps(links)],
        )
    }


def rows_about(
    db: Database, posts: list[str], links: list[str], copies: list[int]
) -> dict[str, list[dict[str, Any]]]:
    """Return what the archive stores about the posts, links and copies, table by table."""
    parameters = {"posts": json.dumps(posts), "links": json.dumps(links), "copies": json.dumps(copies)}
    return {
        table: [dict(row) for row in db.query(sql, parameters)]
        for table, sql in _ROWS_ABOUT.items()
        if db[table].exists()
    }
