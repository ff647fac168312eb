"""Rot verdicts: soft 404s, parked domains, front pages, content drift; the fingerprint behind them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from archiver import store
from archiver.http import ResolverSettings
from archiver.models import Fingerprint, FirstGood, Hop, LinkStatus, Probe, Resolution, Rot, Via
from archiver.pipeline import RecheckSettings, RunSettings, run
from archiver.preserve import CHANGED_BITS, judge
from archiver.resolve.fingerprint import fingerprint, simhash, text_distance
from archiver.sources import SourceEntry
from tests.conftest import TestServer as QuietServer
from tests.conftest import serve_in_thread

T0 = "2026-01-01T00:00:00Z"
SENTENCE = (
    "archivists keep the record of what was said and where its links led so that a reader"
    " years later can follow the same path and see the same page or learn that it is gone"
)
WORDS = SENTENCE.split()


def article(title: str, topic: str, *, words: int = 120, h1: str | None = None, extra: str = "") -> bytes:
    """A page with a title and enough text of its own to have a text hash."""
    body = " ".join(f"{topic}{i % 37} {WORDS[i % len(WORDS)]}" for i in range(words))
    heading = f"<h1>{h1}</h1>" if h1 else ""
    head = f"<html lang='en'><head><title>{title}</title></head>"
    return f"{head}<body>{heading}<p>{body}</p>{extra}</body></html>".encode()


# -- the fingerprint --------------------------------------------------------------------


def test_a_fingerprint_keeps_what_identifies_a_page():
    page = (
        "<html lang='en-GB'><head><title> Budget  2026 </title>"
        "<link rel='canonical stylesheet' href='https://news.example/budget'>"
        "<meta property='og:title' content='The budget'><meta property='og:site_name' content='News'>"
        "<script>var hidden = 'not text'</script></head>"
        "<body><h1>Budget</h1><p>" + " ".join(WORDS * 2) + "</p><style>.x{}</style></body></html>"
    )
    seen = fingerprint(page)
    assert (seen.title, seen.heading, seen.canonical_url, seen.og_title, seen.site_name, seen.language) == (
        "Budget 2026",
        "Budget",
        "https://news.example/budget",
        "The budget",
        "News",
        "en-gb",
    )
    assert seen.text_hash is not None and len(seen.text_hash) == 16
    assert "hidden" not in seen.excerpt and ".x{}" not in seen.excerpt
    assert seen.words == 1 + len(WORDS) * 2


def test_the_text_hash_tells_a_small_edit_from_another_text():
    text = [f"{WORDS[i % len(WORDS)]}{i % 50}" for i in range(600)]
    edited = list(text)
    edited[100:103] = ["an", "edited", "phrase"]
    other = [f"{w}x{i % 41}" for i, w in enumerate(text)]
    assert text_distance(simhash(text), simhash(text)) == 0
    assert text_distance(simhash(text), simhash(edited)) <= 4
    assert text_distance(simhash(text), simhash(other)) > CHANGED_BITS
    assert simhash(WORDS[:5]) is None  # too few words to say anything
    assert text_distance(None, simhash(text)) is None


# -- the rules, on resolutions ----------------------------------------------------------


def resolved(
    final_url: str,
    *,
    hops: tuple[Hop, ...] | None = None,
    page: Fingerprint | None = None,
    probe: Probe | None = None,
    status: LinkStatus = LinkStatus.OK,
) -> Resolution:
    return Resolution(
        url=(hops[0].url if hops else final_url),
        status=status,
        hops=hops or (Hop(final_url, 200),),
        checked_at=T0,
        http_status=200 if status == LinkStatus.OK else 404,
        final_url=final_url,
        error=None if status == LinkStatus.OK else "HTTP 404",
        title=page.title if page else None,
        fingerprint=page,
        probe=probe,
    )


@pytest.mark.parametrize(
    ("title", "heading"),
    [
        ("Page not found – The Daily", None),
        ("404", None),
        ("Error 404 | Shop", None),
        ("Not Found", None),
        ("News – 404 Not Found", None),
        (None, "Oops! That page can’t be found."),
        ("Seite nicht gefunden", None),
        ("Page introuvable", None),
        ("Página no encontrada", None),
        ("Pagina non trovata", None),
        ("ページが見つかりません", None),
        ("Страница не найдена", None),
    ],
)
def test_a_page_whose_title_or_heading_says_not_found_is_a_soft_404(title, heading):
    verdict = judge(
        resolved("https://news.example/2019/story", page=Fingerprint(title=title, heading=heading))
    )
    assert verdict.rot == Rot.SOFT_404
    assert (title or heading) in (verdict.evidence or "")


@pytest.mark.parametrize(
    "title",
    [
        "Found at last: a lost manuscript",
        "The 4040 bus route",
        "Lost and found",
        "bash: command not found – fixing your PATH",
        "The 404 Media podcast",
        "Why the 404 page of GitHub is cooler",
    ],
)
def test_ordinary_titles_are_not_soft_404s(title):
    assert judge(resolved("https://news.example/a", page=Fingerprint(title=title))).rot == Rot.NONE


def test_a_chain_through_a_parking_service_is_parked():
    hops = (
        Hop("https://t.co/abc", 301, Via.LOCATION),
        Hop("https://old-blog.example/post", 302, Via.LOCATION),
        Hop("https://sedoparking.com/old-blog.example", 200),
    )
    verdict = judge(resolved("https://sedoparking.com/old-blog.example", hops=hops, page=Fingerprint()))
    assert verdict.rot == Rot.PARKED
    assert "sedoparking.com" in (verdict.evidence or "")


def test_the_front_page_rule_looks_past_shorteners_and_wrappers():
    shortened_home = (Hop("https://bit.ly/x", 301, Via.LOCATION), Hop("https://example.org/", 200))
    assert judge(resolved("https://example.org/", hops=shortened_home, page=Fingerprint())).rot == Rot.NONE
    died = (
        Hop("https://bit.ly/y", 301, Via.LOCATION),
        Hop("https://example.org/2019/05/story?id=4", 301, Via.LOCATION),
        Hop("https://example.org/en/", 200),
    )
    verdict = judge(resolved("https://example.org/en/", hops=died, page=Fingerprint()))
    assert verdict.rot == Rot.FRONT_PAGE
    assert "example.org/2019/05/story" in (verdict.evidence or "")


def test_domain_and_content_changes_compare_with_the_first_good_check():
    first = FirstGood("2025-01-01T00:00:00Z", "example.org", "Story", simhash(WORDS * 3))
    same = Fingerprint(title="Story", text_hash=simhash(WORDS * 3))
    assert judge(resolved("https://example.org/story", page=same), first_good=first).rot == Rot.NONE
    moved = judge(resolved("https://elsewhere.example/story", page=same), first_good=first)
    assert moved.rot == Rot.DOMAIN_CHANGED
    assert "example.org" in (moved.evidence or "")
    other = Fingerprint(title="Casino", text_hash=simhash([f"{w}z{i}" for i, w in enumerate(WORDS * 3)]))
    changed = judge(resolved("https://example.org/story", page=other), first_good=first)
    assert changed.rot == Rot.CONTENT_CHANGED
    assert "Story" in (changed.evidence or "") and "Casino" in (changed.evidence or "")


def test_failed_checks_are_dead_and_unrequested_links_get_no_verdict():
    assert judge(resolved("https://example.org/x", status=LinkStatus.HTTP_ERROR)).rot == Rot.DEAD
    for status in (LinkStatus.BLOCKED, LinkStatus.INVALID, LinkStatus.TRUNCATED, LinkStatus.PENDING):
        assert judge(resolved("https://example.org/x", status=status)).rot is None


# -- against real servers ---------------------------------------------------------------


@contextlib.contextmanager
def site(routes: dict[str, Callable[[], tuple[int, dict[str, str], bytes]]], unknown=None) -> Iterator[str]:
    """A web site on 127.0.0.1: a route table, and what it answers for any other path."""

    class Site(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        seen: list[str] = []

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.seen.append(self.path)
            answer = routes.get(self.path.split("?")[0]) or unknown or (lambda: (404, {}, b"no such page"))
            status, headers, body = answer()
            self.send_response(status)
            for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve_in_thread(QuietServer(("127.0.0.1", 0), Site)) as base:
        yield base


def archive_links(tmp_path, base: str, paths: list[str], **resolving) -> dict[str, dict]:
    """Run an archive of one post carrying ``paths`` of ``base``; return the links by path."""
    posts = tmp_path / "posts.jsonl"
    lines = [f'{{"id": "{i}", "text": "see {base}{path}"}}' for i, path in enumerate(paths)]
    posts.write_text("\n".join(lines) + "\n")
    db_path = str(tmp_path / "archive.db")
    settings = RunSettings(
        db_path=db_path,
        command="archive",
        sources=(SourceEntry(str(posts)),),
        resolver=ResolverSettings(allow_private=True, **resolving),
        recheck=RecheckSettings(every_link=True),
        create=True,
    )
    run(settings, report=lambda message: None)
    db = store.open_database(db_path)
    try:
        return {row["url"].removeprefix(base): row for row in db.query("select * from links")}
    finally:
        db.close()


def page(body: bytes, status: int = 200, **headers: str) -> Callable[[], tuple[int, dict[str, str], bytes]]:
    return lambda: (status, headers, body)


def test_a_host_that_answers_every_path_with_its_front_page_makes_its_links_soft_404s(tmp_path):
    home = article("Shop – Home", "shop")
    routes = {
        "/": page(home),
        "/products/lamp-2019": page(home),
        "/about/team": page(article("Our team", "team")),
    }
    with site(routes, unknown=page(home)) as base:
        links = archive_links(tmp_path, base, ["/products/lamp-2019", "/about/team"])
    gone, real = links["/products/lamp-2019"], links["/about/team"]
    assert gone["status"] == "ok" and gone["rot"] == "soft_404"
    assert "a path that does not exist" in gone["rot_evidence"] and "answered 200" in gone["rot_evidence"]
    assert real["rot"] == "none"
    db = store.open_database(tmp_path / "archive.db")
    [probe] = list(db.query("select * from probes"))
    assert probe["origin"] == base and probe["http_status"] == 200 and probe["title"] == "Shop – Home"
    db.close()


def test_an_honest_host_is_probed_once_and_its_not_found_pages_served_with_200_are_caught(tmp_path):
    routes = {
        "/en/missing": page(article("Page not found – Daily", "nf")),
        "/de/fehlt": page(article("Zeitung", "de", h1="Seite nicht gefunden")),
        "/ja/nai": page(article("ページが見つかりません", "ja")),
        "/story": page(article("A real story", "story")),
    }
    with site(routes) as base:
        links = archive_links(tmp_path, base, list(routes))
    assert {path: row["rot"] for path, row in links.items()} == {
        "/en/missing": "soft_404",
        "/de/fehlt": "soft_404",
        "/ja/nai": "soft_404",
        "/story": "none",
    }
    assert "main heading says" in links["/de/fehlt"]["rot_evidence"]
    db = store.open_database(tmp_path / "archive.db")
    assert [(p["http_status"], p["status"]) for p in db.query("select * from probes")] == [
        (404, "http_error")
    ]
    db.close()


def test_parking_pages_dead_articles_on_the_front_page_and_login_walls(tmp_path):
    routes = {
        "/": page(article("Example News", "home")),
        "/2019/05/story": page(b"", 301, Location="/"),
        "/members/post": page(b"", 302, Location="/login?next=/members/post"),
        "/login": page(article("Sign in", "login")),
        "/parked": page(
            article("old-blog.example", "ads", extra="<p>This domain is for sale! Buy this domain.</p>")
        ),
    }
    with site(routes) as base:
        links = archive_links(tmp_path, base, ["/2019/05/story", "/members/post", "/parked"], probe=False)
    assert links["/2019/05/story"]["rot"] == "front_page"
    assert links["/members/post"]["rot"] == "front_page"
    assert "login" in links["/members/post"]["rot_evidence"]
    assert links["/parked"]["rot"] == "parked"
    assert "for sale" in links["/parked"]["rot_evidence"]


def test_a_page_whose_text_changes_between_runs_is_content_changed_with_both_fingerprints(tmp_path):
    current = {"body": article("Council approves the budget", "budget")}
    routes = {"/news/budget": lambda: (200, {}, current["body"])}
    with site(routes) as base:
        first = archive_links(tmp_path, base, ["/news/budget"], probe=False)["/news/budget"]
        # A small edit (a corrected word) is the same page.
        current["body"] = current["body"].replace(b"budget3 ", b"budgets ", 1)
        edited = archive_links(tmp_path, base, ["/news/budget"], probe=False)["/news/budget"]
        current["body"] = article("Best casino bonuses", "casino")
        changed = archive_links(tmp_path, base, ["/news/budget"], probe=False)["/news/budget"]
    assert (first["rot"], edited["rot"], changed["rot"]) == ("none", "none", "content_changed")
    assert "Council approves the budget" in changed["rot_evidence"]
    db = store.open_database(tmp_path / "archive.db")
    checks = list(db.query("select title, text_hash, rot from checks order by id"))
    db.close()
    assert [c["title"] for c in checks] == ["Council approves the budget"] * 2 + ["Best casino bonuses"]
    assert checks[0]["text_hash"] != checks[2]["text_hash"]
    assert text_distance(checks[0]["text_hash"], checks[2]["text_hash"]) > CHANGED_BITS
    assert changed["rot_since"] == db_checked_at(tmp_path, 3)


def db_checked_at(tmp_path, check_number: int) -> str:
    db = store.open_database(tmp_path / "archive.db")
    try:
        return db.execute("select checked_at from checks where id = ?", [check_number]).fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("paths", "probe", "probed"),
    [(["/deep/page"], False, 0), (["/"], True, 0), (["/deep/page", "/other/page"], True, 1)],
    ids=["--no-probe", "a front page tells nothing", "once a host"],
)
def test_when_a_host_is_probed(tmp_path, paths, probe, probed):
    routes = {path: page(article(path, "p")) for path in ("/", "/deep/page", "/other/page")}
    with site(routes) as base:
        archive_links(tmp_path, base, paths, probe=probe)
    db = store.open_database(tmp_path / "archive.db")
    assert db["probes"].count == probed
    db.close()


def test_an_older_archive_gets_verdict_columns_and_its_failing_links_are_dead(tmp_path):
    from sqlite_utils import Database

    from archiver.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m009_rot_verdicts_and_fingerprints")
    for lid, status in (("a", "http_error"), ("b", "ok"), ("c", "blocked")):
        old["links"].insert(
            {
                "id": lid,
                "url": f"https://x.example/{lid}",
                "host": "x.example",
                "first_seen_at": T0,
                "status": status,
            }
        )
    old.close()
    db = store.open_database(path)
    assert [(r["id"], r["rot"]) for r in db.query("select id, rot from links order by id")] == [
        ("a", "dead"),
        ("b", None),
        ("c", None),
    ]
    db.close()


def test_a_page_the_fingerprint_cannot_read_costs_only_its_fingerprint(monkeypatch):
    import asyncio

    from archiver.resolve import response

    class Page:
        status = 200
        locations: list[str] = []
        charset = "utf-8"

        def header(self, name: str, default: str = "") -> str:
            return "text/html" if name == "content-type" else default

        async def read(self, cap: int, *, enough: object = None) -> tuple[bytes, bool]:
            return b"<title>Kept</title><p>" + b"word " * 40, False

    def choke(html: str) -> Fingerprint:
        raise RecursionError("a page too deep for the reader")

    monkeypatch.setattr(response, "fingerprint", choke)
    answer = asyncio.run(response.interpret(Page(), "https://example.org/a"))  # type: ignore[arg-type]
    assert (answer.status_code, answer.title, answer.fingerprint) == (200, "Kept", None)


# -- real parked and not-found pages, by what they say (shaped like the ones found) ------

PLACEHOLDERS = {
    "OnlyDomains": (
        "<html><head><title>example.com.au</title></head><body><div class='logo'>OnlyDomains</div>"
        "<h2>Domain parked by OnlyDomains</h2><p>This domain name has been registered.</p></body></html>",
        Rot.PARKED,
    ),
    "DonDominio": (
        "<html><head><title>midominio.es</title></head><body><h1>midominio.es</h1>"
        "<p>Parking del dominio proporcionado por DonDominio</p></body></html>",
        Rot.PARKED,
    ),
    "a German host's placeholder": (
        "<html><head><title>Willkommen</title></head><body><h1>Domain nicht aktiv!</h1>"
        "<p>Hier entsteht eine neue Internetpräsenz.</p></body></html>",
        Rot.PARKED,
    ),
    "Hugo, the site's name as title": (
        "<html><head><title>Jane's Notes</title></head><body><nav>Home Posts Tags About</nav>"
        "<main><span class='error'>404 - Page not found</span><a href='/'>Back home</a></main></body></html>",
        Rot.SOFT_404,
    ),
    "not available any more": (
        "<html><head><title>Regional News</title></head><body><h1>Regional News</h1>"
        "<p>Sorry, this page is not available any more.</p><p>Search our archive</p></body></html>",
        Rot.SOFT_404,
    ),
    "Hexo, the site's name as title and heading": (
        "<html><head><title>Tom's blog</title></head><body><h1>Tom's blog</h1><div class='content'>"
        "<p>404</p><p>Archives Categories Tags</p></div></body></html>",
        Rot.SOFT_404,
    ),
}


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_parked_and_not_found_pages_are_known_by_what_they_say(name):
    html, rot = PLACEHOLDERS[name]
    assert judge(resolved("https://example.org/2023/05/a-story", page=fingerprint(html))).rot == rot


def test_an_article_that_mentions_a_404_is_not_one():
    body = article(
        "How we fixed our 404 pages", "web", words=400, extra="<p>The 404 page was not found often.</p>"
    )
    assert (
        judge(resolved("https://example.org/2023/05/404s", page=fingerprint(body.decode()))).rot == Rot.NONE
    )


def test_the_text_of_a_page_with_a_large_head_is_read(tmp_path):
    # Only the first 64 KB were read: a large news site's inline scripts and styles filled
    # them, so its page had no text to compare and drift went unseen.
    head = "<script>var config = " + '"x",' * 60_000 + "0;</script>"
    body = article("A story", "story", words=300).decode().replace("<head>", f"<head>{head}")
    assert len(body) > 200_000
    with site({"/story": page(body.encode())}) as base:
        links = archive_links(tmp_path, base, ["/story"])
    stored = links["/story"]
    assert stored["status"] == "ok" and stored["rot"] == "none"
    with store.open_database(tmp_path / "archive.db") as db:  # type: ignore[attr-defined]
        (words,) = db.execute("select words from checks").fetchone()
    assert words >= 300
