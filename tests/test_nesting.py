"""The nesting cap: whatever hides the nesting, the parser never sees a page much deeper than the cap."""

from __future__ import annotations

import random

import pytest
from selectolax.lexbor import LexborHTMLParser

from archiver.extract.html import parse_html
from archiver.extract.nesting import MAX_DEPTH, cap_nesting


def tree_depth(tree: LexborHTMLParser) -> int:
    """Return how deep the parsed document's elements nest, template contents included."""
    deepest = 0
    stack = [(tree.root, 1)]
    while stack:
        node, depth = stack.pop()
        if node is None:
            continue
        deepest = max(deepest, depth)
        if node.tag == "template":  # its contents are a fragment of their own
            inner = node.html or ""
            inner = inner[inner.find(">") + 1 : inner.rfind("<")]
            deepest = max(deepest, depth + tree_depth(LexborHTMLParser(inner)) - 2)
        child = node.first_child
        while child is not None:
            if not child.is_text_node and not (child.tag or "").startswith("-"):
                stack.append((child, depth + 1))
            child = child.next
    return deepest


# Each hides 3,000 levels of nesting from a scanner that skips or miscounts something.
HIDDEN_NESTING = {
    "template": "<template>" + "<div>" * 3000,
    "noscript": "<noscript>" + "<div>" * 3000,
    "self-closing syntax on HTML elements": "<div/>" * 3000,
    "style inside svg is not raw text": "<svg><style>" + "<div>" * 3000,
    "script inside svg is not raw text": "<svg><script>" + "<div>" * 3000,
    "title inside svg, never closed": "<svg><title>" + "<div>" * 3000,
    "a quoted attribute holding <": '<div title="<">' * 3000,
    "a quoted attribute holding >": "<div title='>'>" * 3000,
    "an empty comment <!-->": "<!-->" + "<div>" * 3000,
    "an end tag with attributes ends a script": "<script></script x>" + "<div>" * 3000 + "</script>",
    "end tags of elements not open": "<div></span>" * 3000,
    "end tags stopped by an element between": "<span><div></span>" * 3000,
    "a tag longer than 4 KB": ("<div " + "a" * 5000 + ">") * 300,
    "formatting elements opened again": "".join(f"<div><b id={n}>x</div>" for n in range(3000)),
    "cells outside any table": "<listing><dt><div><td>" * 1000,
    "math foreignObject is no HTML island": "<math><foreignObject><div/><![CDATA[" * 1000,
    "ruby parts close a paragraph": "<ruby><p><rp>" * 1000,
    "a template's column group ignores <iframe>": "<template><col></button></table></i><iframe>" * 1000,
}


@pytest.mark.parametrize("html", HIDDEN_NESTING.values(), ids=HIDDEN_NESTING.keys())
def test_nesting_hidden_from_a_scanner_is_capped(html):
    assert tree_depth(parse_html(html)) <= MAX_DEPTH + 8


# Tokens, white space between them ("_" stands for a space inside a tag).
_SOUP_TEXT = """
<div> </div> <span> </span> <p> </p> <b> </b> <b_x=1> <i> </i> <a> </a> <font_color=r> </font>
<svg> </svg> <math> </math> <g> </g> <g/> <div/> <style> </style> <script> </script> <title>
</title> <foreignObject> <mtext> <template> </template> <noscript> <table> </table> <tr> <td>
</td> <li> <ul> <dd> <button> </button> <select> <option> <h1> </h1> <textarea> <!-- --> <!-->
x <object> <caption> <br> </br> <ruby> <rt> <rp> <frameset> <xmp> <![CDATA[ ]]> <col> <em>
<annotation-xml_encoding=text/html> <desc> <plaintext> <div_a='<'>
"""
_SOUP = [token.replace("_", " ") for token in _SOUP_TEXT.split()]


def test_no_mix_of_tags_nests_the_parsed_page_past_a_multiple_of_the_cap():
    # Token soups repeated hundreds of times: the parser's own depth after the cap must
    # not grow with the repetitions (it did, before, for dozens of these mixes).
    rng = random.Random(20261206)
    cap = 16
    for _ in range(300):
        unit = "".join(rng.choice(_SOUP) for _ in range(rng.randint(1, 7)))
        depth = tree_depth(LexborHTMLParser(cap_nesting(unit * 240, cap)))
        assert depth <= 4 * cap, unit


def test_ordinary_old_markup_loses_no_tag():
    # Unclosed <p>, <li>, cells, <font> and anchors close themselves in the parser: a long
    # old page of them is shallow, and the cap must not count it deep and drop its links.
    rows = "".join(f'<tr><td><font face=arial><a href="https://example.com/{n}">{n}</a>' for n in range(400))
    items = "".join(f"<li><p>item {n}<p>more" for n in range(400))
    html = f"<html><body><table>{rows}</table><ul>{items}</ul><div><b><i>x</i></b></div>"
    assert cap_nesting(html) == html
    assert len(parse_html(html).css("a")) == 400


def test_the_scan_grows_linearly_when_formatting_elements_come_and_go():
    # One <b> left open and then <b></b> over and over: each <b> counted the closed ones
    # again (80,000 took about 70 s).  The parser itself takes no longer for more of them.
    from conftest import best_time

    small = best_time(cap_nesting, "<b>" + "<b></b>" * 20_000, rounds=2)
    large = best_time(cap_nesting, "<b>" + "<b></b>" * 80_000, rounds=2)
    assert large < 8 * small + 0.05, (small, large)  # four times the work; sixteen if quadratic
