"""Link resolution against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

import pytest

from archiver.http import ResolverSettings, parse_retry_after
from archiver.models import Resolution
from archiver.resolve import resolve_many


def settings_for(base: str, **overrides: object) -> ResolverSettings:
    """Guard on, with only the test server's own address and port let through; no probe
    (its request would be in every count of requests; tests/test_rot.py tests it)."""
    port = urlsplit(base).port
    values: dict[str, object] = {"exempt": frozenset({("127.0.0.1", port)}), "timeout": 5.0, "probe": False}
    values.update(overrides)
    return ResolverSettings(**values)  # type: ignore[arg-type]


async def resolve_all(urls: list[str], settings: ResolverSettings, **kwargs: object) -> dict[str, Resolution]:
    return {r.url: r async for r in resolve_many(urls, settings=settings, **kwargs)}  # type: ignore[arg-type]


async def resolve_one(url: str, settings: ResolverSettings, **kwargs: object) -> Resolution:
    return (await resolve_all([url], settings, **kwargs))[url]


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.mark.asyncio
async def test_redirect_chain_records_every_hop(server):
    base, recorder = server
    result = await resolve_one(f"{base}/hop/3", settings_for(base))
    assert result.status == "ok"
    assert result.final_url == f"{base}/hop/0"
    assert [(h.url, h.status_code, h.via) for h in result.hops] == [
        (f"{base}/hop/3", 302, "location"),
        (f"{base}/hop/2", 302, "location"),
        (f"{base}/hop/1", 302, "location"),
        (f"{base}/hop/0", 200, None),
    ]
    assert result.title == "Hop zero"
    assert [m for m, _, _ in recorder.requests] == ["GET"] * 4


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_every_redirect_status_is_followed(server, code):
    base, _ = server
    result = await resolve_one(f"{base}/hop/1?code={code}", settings_for(base))
    assert result.status == "ok"
    assert result.hops[0].status_code == code


@pytest.mark.asyncio
async def test_relative_locations_are_joined(server):
    base, _ = server
    result = await resolve_one(f"{base}/rel/a", settings_for(base))
    assert [h.url for h in result.hops] == [f"{base}/rel/a", f"{base}/rel/b", f"{base}/final?from=rel"]
    assert result.status == "ok"


@pytest.mark.asyncio
async def test_protocol_relative_location(server):
    base, _ = server
    result = await resolve_one(f"{base}/protocol-relative", settings_for(base))
    assert result.final_url == f"{base}/final"


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "via"), [("/meta", "meta"), ("/js", "js"), ("/refresh", "refresh")])
async def test_page_redirects_are_followed(server, path, via):
    base, _ = server
    result = await resolve_one(base + path, settings_for(base))
    assert result.status == "ok"
    assert [(h.url, h.via) for h in result.hops] == [(base + path, via), (f"{base}/final", None)]
    assert result.title == "The final page"


@pytest.mark.asyncio
async def test_self_redirect_is_a_loop_after_one_hop(server):
    base, recorder = server
    result = await resolve_one(f"{base}/loop", settings_for(base))
    assert result.status == "redirect_loop"
    assert len(recorder.requests) == 1
    assert result.final_url == f"{base}/loop"


@pytest.mark.asyncio
async def test_two_page_loop(server):
    base, recorder = server
    result = await resolve_one(f"{base}/loop-a", settings_for(base))
    assert result.status == "redirect_loop"
    assert recorder.paths() == ["/loop-a", "/loop-b"]


@pytest.mark.asyncio
async def test_too_many_hops_stops_without_the_extra_request(server):
    base, recorder = server
    result = await resolve_one(f"{base}/hop/30", settings_for(base, max_hops=10))
    assert result.status == "too_many_redirects"
    assert len(recorder.requests) == 11  # the link and its 10 redirects; the 11th target is not requested
    assert result.hops[-1].url == f"{base}/hop/19"
    assert result.hops[-1].status_code is None
    # The final URL is the last one requested; the refused next hop is only the last row.
    assert result.final_url == f"{base}/hop/20" and recorder.paths()[-1] == "/hop/20"


@pytest.mark.asyncio
async def test_exactly_max_hops_is_fine(server):
    base, _ = server
    result = await resolve_one(f"{base}/hop/10", settings_for(base, max_hops=10))
    assert result.status == "ok"


@pytest.mark.asyncio
async def test_404_end_is_an_http_error_without_retries(server):
    base, recorder = server
    result = await resolve_one(f"{base}/status/404", settings_for(base))
    assert (result.status, result.http_status, result.final_url) == ("http_error", 404, f"{base}/status/404")
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_dead_port_is_a_connect_error(server, closed_port):
    sleep = RecordingSleep()
    url = f"http://127.0.0.1:{closed_port}/x"
    settings = ResolverSettings(exempt=frozenset({("127.0.0.1", closed_port)}), timeout=2)
    result = await resolve_one(url, settings, sleep=sleep)
    assert result.status == "connect_error"
    assert result.final_url is None
    assert len(sleep.calls) == 2  # three attempts, two waits


@pytest.mark.asyncio
async def test_unknown_name_is_a_dns_error():
    async def no_such_name(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    result = await resolve_one("https://no-such-host.invalid/x", ResolverSettings(), resolver=no_such_name)
    assert result.status == "dns_error"
    assert "no-such-host.invalid" in (result.error or "")


@pytest.mark.asyncio
async def test_503_then_ok_is_retried(server):
    base, recorder = server
    sleep = RecordingSleep()
    result = await resolve_one(f"{base}/flaky/a?fail=2", settings_for(base), sleep=sleep)
    assert result.status == "ok"
    assert recorder.paths().count("/flaky/a?fail=2") == 3
    assert len(sleep.calls) == 2
    assert all(0 < s <= 30 for s in sleep.calls)


@pytest.mark.asyncio
async def test_persistent_503_is_recorded_after_the_attempts(server):
    base, recorder = server
    result = await resolve_one(f"{base}/flaky/b?fail=99", settings_for(base), sleep=RecordingSleep())
    assert (result.status, result.http_status) == ("http_error", 503)
    assert recorder.paths().count("/flaky/b?fail=99") == 3


@pytest.mark.asyncio
async def test_retry_after_seconds_is_honoured(server):
    base, _ = server
    sleep = RecordingSleep()
    result = await resolve_one(f"{base}/retry-after/s?fail=1&value=7", settings_for(base), sleep=sleep)
    assert result.status == "ok"
    assert 7 in sleep.calls


@pytest.mark.asyncio
async def test_retry_after_http_date_is_honoured(server):
    base, _ = server
    sleep = RecordingSleep()
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 40))
    from urllib.parse import quote

    result = await resolve_one(
        f"{base}/retry-after/d?fail=1&value={quote(when)}", settings_for(base), sleep=sleep
    )
    assert result.status == "ok"
    assert any(35 <= s <= 41 for s in sleep.calls)


@pytest.mark.asyncio
async def test_retry_after_beyond_the_cap_defers_the_host(server):
    base, recorder = server
    result = await resolve_one(
        f"{base}/retry-after/long?fail=5&value=86400", settings_for(base), sleep=RecordingSleep()
    )
    assert (result.status, result.http_status) == ("http_error", 429)
    assert result.retry_after == 86400
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_a_host_whose_waits_add_up_past_the_cap_is_left_for_the_next_run(server):
    base, recorder = server
    urls = [f"{base}/retry-after/again{n}?fail=99&value=50" for n in range(20)]
    results = await resolve_all(urls, settings_for(base), sleep=RecordingSleep())
    assert {r.status for r in results.values()} == {"http_error"}
    # 50 s, then 50 s more, then the third answer would pass 120 s: the host is left
    # (with two requests in flight to a host, a fourth may already be on its way).
    assert len(recorder.requests) <= 4
    assert sum("left for a later run" in (r.error or "") for r in results.values()) >= 16


def test_parse_retry_after_forms():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after("") is None


@pytest.mark.asyncio
async def test_hanging_server_times_out(server):
    base, _ = server
    result = await resolve_one(f"{base}/slow?seconds=3", settings_for(base, timeout=0.5, attempts=1))
    assert result.status == "timeout"


@pytest.mark.asyncio
async def test_trickling_body_cannot_hold_a_link(server):
    base, _ = server
    started = time.monotonic()
    result = await resolve_one(f"{base}/trickle", settings_for(base, timeout=1.0, attempts=1))
    assert result.status == "timeout"
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/huge", "/gzip-bomb", "/gzip-gzip"])
async def test_large_and_bomb_bodies_are_capped(server, path):
    import tracemalloc

    base, _ = server
    peaks = []
    for _ in range(3):  # the least of three: a thread of another test's server may allocate meanwhile
        tracemalloc.start()
        result = await resolve_one(base + path, settings_for(base))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert result.status == "ok"
        if peaks[-1] < 6 * 1024 * 1024:
            break
    assert min(peaks) < 6 * 1024 * 1024, peaks  # the bodies decode to 8-20 MB


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/to-javascript", "/to-data", "/to-userinfo", "/to-bad-punycode"])
async def test_non_http_location_is_invalid(server, path):
    base, _ = server
    result = await resolve_one(base + path, settings_for(base))
    assert result.status == "invalid"
    assert result.hops[0].status_code == 302
    assert result.hops[-1].url.startswith(("javascript:", "data:", "http://[::1]@", "http://xn--zz"))


@pytest.mark.asyncio
async def test_a_page_in_a_charset_no_text_codec_stands_for_is_read_as_utf8(server):
    base, _ = server
    result = await resolve_one(f"{base}/odd-charset", settings_for(base))
    assert (result.status, result.title) == ("ok", "Odd \ufffd charset")


@pytest.mark.asyncio
async def test_redirect_without_location_is_an_http_error(server):
    base, _ = server
    result = await resolve_one(f"{base}/no-location", settings_for(base))
    assert (result.status, result.http_status) == ("http_error", 302)


@pytest.mark.asyncio
async def test_a_cookie_set_on_one_hop_is_sent_on_the_next(server):
    base, _ = server
    result = await resolve_one(f"{base}/cookie/set", settings_for(base))
    assert result.status == "ok", result.error
    assert result.final_url == f"{base}/cookie/check"
    assert result.title == "with cookie"


@pytest.mark.asyncio
@pytest.mark.parametrize("count", [3000, 60])
async def test_a_cookie_flood_is_not_kept_or_sent(server, count):
    base, _ = server
    urls = [f"{base}/cookie/flood?n={count}&link={n}" for n in range(3)]
    results = await resolve_all(urls, settings_for(base))
    assert {r.status for r in results.values()} == {"ok"}
    assert {r.title for r in results.values()} == {"cookie bytes: 0"}


@pytest.mark.asyncio
async def test_resolves_with_get_even_where_head_fails(server):
    base, recorder = server
    result = await resolve_one(f"{base}/head405", settings_for(base))
    assert result.status == "ok"
    assert {m for m, _, _ in recorder.requests} == {"GET"}


@pytest.mark.asyncio
async def test_each_url_is_requested_once_per_run(server):
    base, recorder = server
    urls = [f"{base}/hop/2", f"{base}/hop/1", f"{base}/rel/a"]
    results = await resolve_all(urls, settings_for(base))
    assert all(r.status == "ok" for r in results.values())
    assert sorted(recorder.paths()) == sorted(
        ["/hop/2", "/hop/1", "/hop/0", "/rel/a", "/rel/b", "/final?from=rel"]
    )


async def to_loopback(host: str, port: int) -> list[str]:
    """A fake DNS: every name is this machine, so one server plays many hosts."""
    return ["127.0.0.1"]


@pytest.mark.asyncio
async def test_per_host_limit_is_never_exceeded(server):
    base, recorder = server
    port = urlsplit(base).port
    urls = [f"http://one.test:{port}/delay?ms=60&n={i}" for i in range(20)]
    results = await resolve_all(urls, settings_for(base, concurrency=10, per_host=3), resolver=to_loopback)
    assert {r.status for r in results.values()} == {"ok"}
    assert recorder.peak[f"one.test:{port}"] == 3


@pytest.mark.asyncio
async def test_links_through_one_shortener_keep_it_asked_at_its_limit_while_others_follow_on(server):
    # A chain held its first host's slot to its end: links that all passed one shortener
    # asked it a third of the time.  Its requests stay at --per-host; the chains overlap.
    base, recorder = server
    port = urlsplit(base).port
    urls = [
        f"http://short.test:{port}/go?ms=40&to="
        + quote(f"http://final{i % 5}.test:{port}/delay?ms=80&n={i}", safe="")
        for i in range(24)
    ]
    results = await resolve_all(urls, settings_for(base, concurrency=20, per_host=2), resolver=to_loopback)
    assert {r.status for r in results.values()} == {"ok"}
    assert recorder.peak[f"short.test:{port}"] == 2
    assert recorder.peak_total > 2  # while two ask the shortener, others are at their pages


@pytest.mark.asyncio
async def test_global_limit_is_never_exceeded(server):
    base, recorder = server
    port = urlsplit(base).port
    urls = [f"http://host{i % 5}.test:{port}/delay?ms=60&n={i}" for i in range(40)]
    results = await resolve_all(urls, settings_for(base, concurrency=4, per_host=2), resolver=to_loopback)
    assert {r.status for r in results.values()} == {"ok"}
    assert recorder.peak_total == 4
    assert max(recorder.peak.values()) <= 2


@pytest.mark.asyncio
async def test_one_slow_host_does_not_hold_up_the_others(server):
    base, recorder = server
    port = urlsplit(base).port

    busy = [f"http://busy.test:{port}/delay?ms=200&n={i}" for i in range(10)]
    quick = [f"http://quick{i}.test:{port}/delay?ms=10" for i in range(10)]
    order = [
        r.url
        async for r in resolve_many(
            busy + quick, settings=settings_for(base, concurrency=6, per_host=2), resolver=to_loopback
        )
    ]
    # The quick hosts finish while busy.test still has links queued behind its two slots.
    assert set(order[:10]) >= set(quick[:5])


@pytest.mark.asyncio
async def test_a_wrapper_is_unwrapped_without_a_request(server):
    base, recorder = server
    looked_up: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        raise OSError(-2, "Name or service not known")

    wrapper = f"https://www.google.com/url?q={base}/hop/1&sa=D"
    result = await resolve_one(wrapper, settings_for(base), resolver=resolver)
    assert result.status == "ok"
    assert result.final_url == f"{base}/hop/0"
    assert [(h.url, h.status_code, h.via) for h in result.hops] == [
        (wrapper, None, "unwrapped"),
        (f"{base}/hop/1", 302, "location"),
        (f"{base}/hop/0", 200, None),
    ]
    assert recorder.paths() == ["/hop/1", "/hop/0"]
    assert looked_up == []  # Google was never asked, not even its address


@pytest.mark.asyncio
async def test_an_unwrapped_target_still_meets_the_guard(server):
    base, recorder = server
    result = await resolve_one(
        "https://l.facebook.com/l.php?u=http%3A%2F%2F10.0.0.1%2Fadmin", settings_for(base)
    )
    assert result.status == "blocked"
    assert result.hops[0].via == "unwrapped"
    assert recorder.requests == []


@pytest.mark.asyncio
async def test_wrappers_nested_deeper_than_max_hops_stop_without_a_request(server):
    base, recorder = server
    url = f"{base}/hop/0"
    for _ in range(12):
        url = f"https://www.google.com/url?q={quote(url, safe='')}"
    result = await resolve_one(url, settings_for(base, max_hops=10))
    assert result.status == "too_many_redirects"
    assert [h.via for h in result.hops[:10]] == ["unwrapped"] * 10
    assert recorder.requests == []
    assert result.final_url is None  # nothing was requested


@pytest.mark.asyncio
async def test_a_fragment_is_carried_across_redirects_without_one(server):
    base, recorder = server
    result = await resolve_one(f"{base}/hop/2#section-2", settings_for(base))
    assert result.status == "ok"
    assert [h.url for h in result.hops] == [f"{base}/hop/{n}#section-2" for n in (2, 1, 0)]
    assert result.final_url == f"{base}/hop/0#section-2"
    assert recorder.paths() == ["/hop/2", "/hop/1", "/hop/0"]  # fragments are never sent


@pytest.mark.asyncio
async def test_failing_links_keep_no_memory_per_failure():
    import gc
    import tracemalloc

    from archive_fixture import free_port

    port = free_port()  # nothing listens: every link fails to connect

    async def peak(count: int) -> int:
        urls = [f"http://127.0.0.1:{port}/missing/{n}" for n in range(count)]
        settings = ResolverSettings(allow_private=True, attempts=1, timeout=2.0)
        tracemalloc.start()
        results = [r.status async for r in resolve_many(urls, settings=settings)]
        gc.collect()
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert set(results) == {"connect_error"}
        return top

    # Each failure used to keep its traceback (25 KB): 900 more failures, 22 MB more.  What
    # a failure keeps now is its answer in the run's answer cache (about 2-4 KB a failure,
    # within its 16 MB budget), so the bound is 10 KB a failure.  The least of three
    # pairs: a thread of another test's server may allocate meanwhile.
    growth = []
    for _ in range(3):
        small, large = await peak(300), await peak(1200)
        growth.append(large - small)
        if growth[-1] < 9_000_000:
            break
    assert min(growth) < 9_000_000, growth


@pytest.mark.asyncio
async def test_answers_kept_in_a_run_are_bounded_by_bytes_not_count():
    from archiver.http.outcomes import HopFailed, Interpreted
    from archiver.resolve.answers import ANSWER_OVERHEAD, AnswerCache

    cache = AnswerCache(budget=2_000_000)
    long_location = "https://example.org/" + "a" * 100_000
    for n in range(100):  # 100 answers with a 100 KB Location each: 10 MB unbounded
        key = f"https://short.example/{n}"
        cache.reserve(key).set_result(Interpreted(301, long_location, "location", None))
        cache.settled(key)
    assert cache.used <= cache.budget
    assert 10 <= len(cache) <= 20
    assert cache.get("https://short.example/99") is not None  # the newest are kept
    assert cache.get("https://short.example/0") is None

    failing = AnswerCache(budget=100 * (ANSWER_OVERHEAD + 100))
    for n in range(1000):
        key = f"https://dead.example/{n}"
        failing.reserve(key).set_exception(HopFailed("connect_error", "refused"))
        failing.settled(key)
    assert failing.used <= failing.budget and 100 <= len(failing) <= 115

    # An answer still in flight is never dropped, whatever the budget.
    tight = AnswerCache(budget=1)
    waiting = tight.reserve("https://slow.example/")
    tight.reserve("https://quick.example/").set_result(Interpreted(200, None, None, "x" * 10))
    tight.settled("https://quick.example/")
    assert tight.get("https://slow.example/") is waiting and tight.used == 0


@pytest.mark.asyncio
async def test_a_wait_past_the_runs_time_limit_leaves_the_host_for_the_next_run(server):
    base, recorder = server
    urls = [f"{base}/retry-after/late{n}?fail=1&value=30" for n in range(6)]
    sleep = RecordingSleep()
    # 30 s asked, within what a run waits for a host (120 s), but 10 s are left of the run.
    settings = settings_for(base, deadline=time.monotonic() + 10)
    results = await resolve_all(urls, settings, sleep=sleep)
    assert {r.status for r in results.values()} == {"http_error"}
    assert sleep.calls == []
    assert len(recorder.requests) <= 2  # one answer each from the two requests in flight
    errors = [r.error or "" for r in results.values()]
    assert any("left of the run's time limit" in e for e in errors)
    assert sum("left for a later run" in e for e in errors) >= 4
    assert {r.retry_after for r in results.values()} >= {30}

    # With the time to wait, the same host is waited for.
    settings = settings_for(base, deadline=time.monotonic() + 600)
    result = await resolve_one(f"{base}/retry-after/in-time?fail=1&value=30", settings, sleep=sleep)
    assert result.status == "ok" and 30 in sleep.calls


@pytest.mark.asyncio
async def test_results_come_as_workers_hand_them_over_and_a_caller_may_stop_early():
    import asyncio
    import contextlib

    from archiver.http import as_they_come

    todo = list(range(20))

    async def worker(hand_over) -> None:
        while todo:
            item = todo.pop()
            await asyncio.sleep(0)
            await hand_over(item)

    assert sorted([n async for n in as_they_come(worker, workers=3)]) == list(range(20))

    # A caller that stops while the buffer is full ends the workers at once.
    busy = 0

    async def endless(hand_over) -> None:
        nonlocal busy
        busy += 1
        try:
            while True:
                await hand_over(None)  # a result may be None too
        finally:
            busy -= 1

    started = time.monotonic()
    async with asyncio.timeout(5), contextlib.aclosing(as_they_come(endless, workers=4, buffer=2)) as results:
        async for result in results:
            assert result is None
            await asyncio.sleep(0.01)  # let the workers fill the buffer
            break
    assert busy == 0
    assert time.monotonic() - started < 2  # not held until something else cancels it

    async def failing(hand_over) -> None:
        raise ValueError("a worker's error")

    # The worker's own error, not an exception group: the caller catches what it knows.
    with pytest.raises(ValueError, match="a worker's error"):
        [n async for n in as_they_come(failing, workers=2)]


@pytest.mark.asyncio
async def test_links_are_read_as_needed_and_a_long_run_of_one_host_does_not_stall_the_others():
    from archiver.http import Dispatcher

    read = 0

    def links():
        nonlocal read
        for i in range(100_000):  # a million links' worth of a run, read as taken
            read += 1
            yield (f"https://bit.ly/{i}", None)
        read += 1
        yield ("https://example.org/after", None)

    dispatcher = Dispatcher(links(), per_host=2, window=50, most=200_000)
    assert read == 50
    first = [await dispatcher.take() for _ in range(2)]
    assert [host for host, _ in first] == ["bit.ly", "bit.ly"]
    # bit.ly has both its slots: the next link is the one of another host, read past bit.ly's run.
    host, (url, _) = await dispatcher.take()
    assert (host, url) == ("example.org", "https://example.org/after")
    await dispatcher.done("bit.ly")
    host, _ = await dispatcher.take()
    assert host == "bit.ly"

    bounded = Dispatcher(links(), per_host=2, window=50, most=1_000)
    read = 0
    for _ in range(2):
        await bounded.take()
    await bounded.done("bit.ly")  # the third take would wait: bit.ly is full and nothing else within 1,000
    await bounded.take()
    assert read <= 1_000 + 50  # never more than `most` links waiting
