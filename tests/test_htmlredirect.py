"""Redirects written in a page: Refresh values, meta refresh, JavaScript, the title, in linear time."""

from __future__ import annotations

import re

import pytest
from conftest import best_time
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.resolve.htmlredirect import find_js_redirect, find_meta_refresh, find_title, parse_refresh

# The one-expression reading of a Refresh value this module had: right, but it
# backtracks over a run of spaces (23 s for 3,000).  Kept here as the reference.
_REFERENCE = re.compile(
    r"""^\s*(?P<delay>\d+(?:\.\d*)?)?\s*[;,]?\s*(?:url\s*=\s*)?(?P<quote>['"]?)(?P<url>[^'"]*)(?P=quote)\s*$""",
    re.IGNORECASE | re.DOTALL,
)


def reference(value: str) -> str | None:
    match = _REFERENCE.match(value)
    if not match or not match.group("url").strip():
        return None
    if float(match.group("delay") or 0) > 30:
        return None
    return match.group("url").strip()


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("0; url=/next", "/next"),
        ("0;URL='/a b'", "/a b"),
        ('0; url="/q"', "/q"),
        ("/direct", "/direct"),
        ("5", None),
        ("0; url=", None),
        ("45; url=/x", None),
        ("0; url='/x", None),
    ],
)
def test_refresh_values(value, target):
    assert parse_refresh(value) == target


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.;, urlURL='\"/ab\t=", max_size=30))
def test_refresh_reads_as_the_one_expression_did(value):
    assert parse_refresh(value) == reference(value)


@pytest.mark.parametrize(
    ("read", "unit"),
    [
        (parse_refresh, lambda n: "0;" + " " * n + "'x"),
        (find_title, lambda n: "<title>" * n),
        (find_title, lambda n: "<title " + "a" * n),
        (find_meta_refresh, lambda n: "<meta " * n),
        (find_js_redirect, lambda n: "location='" * n),
    ],
)
def test_page_readers_are_linear(read, unit):
    small, large = best_time(read, unit(2000)), best_time(read, unit(8000))
    # Linear work grows 4 times with the input; quadratic work 16 times.
    assert large < 8 * small + 0.005, (small, large)


def test_the_title_is_found():
    assert find_title("<html><head><TITLE lang=en>  A &amp; B\n page </title ></head>") == "A & B page"
    assert find_title("<title>open") is None
