"""Capping how deep a page nests before the HTML parser sees it.

The parser's work grows with the square of the nesting (100,000 nested ``<div>`` take
tens of seconds), and no page anyone reads nests more than a few dozen elements deep.
``cap_nesting`` walks the page's tags once and drops the start tags that would open an
element deeper than ``MAX_DEPTH``; their text stays.

It follows the HTML tokenizer (comments, quoted attributes, raw text, ``/>``) and the
parts of tree building that change how deep the parser's stack of open elements goes:
end tags that close only what is in scope, start tags that close an open ``<p>`` or
``<li>``, formatting elements that the parser opens again after they were closed
(``<b>``, ``<font>``: the list of active formatting elements, its markers and its limit
of three alike), and foreign content (``<svg>``, ``<math>``), where ``<style>`` is not
raw text and ``/>`` closes.  Where following the parser exactly would cost more, it
errs on the side of counting deeper than the parser does: a hostile page can then lose
tags, never make the parse slow.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque

__all__ = ["MAX_DEPTH", "cap_nesting"]

MAX_DEPTH = 256


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WS = "\t\n\f\r "
# A start or end tag after its "<" or "</", as the tokenizer reads it: a quote opens a
# value only after "=", an unquoted value runs to white space or ">".  Possessive
# quantifiers keep a tag that never ends from costing more than one pass.
_TAG = re.compile(
    rf"""([A-Za-z][^{_WS}/>]*+)
    ((?:[{_WS}]++|/(?!>)|[^{_WS}/>][^{_WS}/=>]*+
        (?:[{_WS}]*+=[{_WS}]*+(?:"[^"]*+"|'[^']*+'|[^{_WS}>"'][^{_WS}>]*+|(?=>)))?+
    )*+)
    (/?)>""",
    re.VERBOSE,
)
_COMMENT_END = re.compile(r"--!?>")
_VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr"
)
_RAW_TEXT = _names("script style xmp iframe noembed noframes textarea title")
_FORMATTING = _names("a b big code em font i nobr s small strike strong tt u")
# Elements whose closing clears the active formatting elements back to their marker.
_MARKERS = _names("applet object marquee template td th caption")
_SPECIAL = _names(
    "address applet area article aside base basefont bgsound blockquote body br button caption "
    "center col colgroup dd details dir div dl dt embed fieldset figcaption figure footer form "
    "frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li link "
    "listing main marquee menu meta nav noembed noframes noscript object ol p param plaintext pre "
    "script search section select source style summary table tbody td template textarea tfoot th "
    "thead title tr track ul wbr xmp mi mo mn ms mtext annotation-xml foreignobject desc"
)
_SCOPE = _names(
    "applet caption html table td th marquee object template mi mo mn ms mtext annotation-xml "
    "foreignobject desc title"
)
# End tags that close their element when it is in scope, and what is open above it.
_CLOSED_IN_SCOPE = _names(
    "address article aside blockquote button center details dialog dir div dl fieldset figcaption "
    "figure footer form header hgroup listing main menu nav ol pre search section select summary "
    "ul p li dd dt applet marquee object template"
)
_TABLE_SCOPE = frozenset({"html", "table", "template"})
_TABLE_PARTS = _names("table tbody thead tfoot tr td th caption colgroup")
_HEADINGS = _names("h1 h2 h3 h4 h5 h6")
# Start tags the parser may ignore where they stand, so nothing closes on their strength.
_PHANTOM_IN_BODY = _names("html head body form frameset")
# Start tags that close an open <p> first.
_CLOSES_P = _names(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr li dd dt listing main menu nav ol p plaintext "
    "pre search section summary ul xmp"
)
# Elements the parser closes, when they are the current node, before some others.
_IMPLIED_END = _names("dd dt li optgroup option p rb rp rt rtc")
_RUBY_PARTS = frozenset({"rb", "rp", "rt", "rtc"})
# The current nodes in which a <table> start tag closes the open table first.
_TABLE_CONTEXT = _names("table tbody thead tfoot tr")
_FONT_BREAKOUT = re.compile(r"(?:^|[\t\n\f\r /])(?:color|face|size)(?:[\t\n\f\r /=]|$)", re.IGNORECASE)
# Start tags that leave <svg> or <math> for HTML again.
_BREAKOUT = _names(
    "b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
    "li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var"
)
# Foreign elements inside which tags follow the HTML rules again.
_SVG_ISLANDS = frozenset({"foreignobject", "desc", "title"})
_MATH_ISLANDS = frozenset({"mi", "mo", "mn", "ms", "mtext"})
_HTML_ENCODING = re.compile(r"encoding\s*=\s*[\"']?\s*(?:text/html|application/xhtml\+xml)", re.IGNORECASE)


class _Open:
    """An element on the stack of open elements, and its active formatting entry.

    A ``phantom`` is one the parser may have ignored (a ``<td>`` outside any table, a
    second ``<body>``): it counts, but nothing is closed on the strength of it.
    """

    __slots__ = ("name", "foreign", "island", "phantom", "active")

    def __init__(self, name: str, foreign: str, phantom: bool, island: bool) -> None:
        self.name = name
        self.foreign = foreign  # "svg" or "math" for foreign elements, "" for HTML ones
        self.island = island  # a foreign element inside which HTML rules hold again
        self.phantom = phantom
        self.active: _Active | None = None


class _Active:
    """An entry of the list of active formatting elements."""

    __slots__ = ("name", "key", "segment", "on_stack", "live")

    def __init__(self, name: str, key: str, segment: _Segment) -> None:
        self.name = name
        self.key = key
        self.segment = segment
        self.on_stack = True
        self.live = True


class _Segment:
    """The active formatting elements after one marker: counted by kind, oldest first."""

    __slots__ = ("by_key", "alive", "anchors", "entries")

    def __init__(self) -> None:
        self.by_key: defaultdict[str, deque[_Active]] = defaultdict(deque)
        self.alive: defaultdict[str, int] = defaultdict(int)  # live entries by kind
        self.anchors: list[_Active] = []
        self.entries: list[_Active] = []


# The sets of elements that bound a search of the stack, by the kind of search.
_BOUNDARIES = {
    "scope": _SCOPE,
    "button": _SCOPE | {"button"},
    "list": _SCOPE | {"ol", "ul"},
    "table": _TABLE_SCOPE,
    "special": _SPECIAL,
    "list item": _SPECIAL - {"address", "div", "p"},
}
_CATEGORIES = {
    name: tuple(kind for kind, members in _BOUNDARIES.items() if name in members)
    for name in frozenset().union(*_BOUNDARIES.values())
}


class _Stack:
    """The open elements as the parser would have them, or deeper.

    Where each name and each kind of boundary stands is kept as it changes, so that
    finding what an end tag closes costs the same however deep the stack is.
    """

    def __init__(self) -> None:
        self.open: list[_Open] = []
        self.where: defaultdict[tuple[str, bool], list[int]] = defaultdict(list)
        self.bounds: defaultdict[str, list[int]] = defaultdict(list)
        self.segments = [_Segment()]
        self.latent = 0  # formatting elements closed but still to be opened again
        self.frameset = False  # a frameset may have made the parser ignore what follows

    @property
    def depth(self) -> int:
        return len(self.open) + self.latent

    @property
    def foreign(self) -> int:
        return len(self.open) - len(self.bounds["html"])

    def push(
        self,
        name: str,
        *,
        foreign: str = "",
        attributes: str = "",
        phantom: bool = False,
        reopened: _Active | None = None,
    ) -> None:
        island = (foreign == "svg" and name in _SVG_ISLANDS) or (
            foreign == "math" and (name in _MATH_ISLANDS or _is_html_annotation(name, attributes))
        )
        element = _Open(name, foreign, phantom, island)
        index = len(self.open)
        self.open.append(element)
        self.where[name, bool(foreign)].append(index)
        for kind in _CATEGORIES.get(name, ()):
            self.bounds[kind].append(index)
        if foreign:
            return
        self.bounds["html"].append(index)
        if name in _MARKERS:
            self.segments.append(_Segment())
        elif reopened is not None:
            reopened.on_stack = True
            self.latent -= 1
            element.active = reopened
        elif name in _FORMATTING and not phantom:
            element.active = self._activate(name, " ".join(attributes.split()))

    def _activate(self, name: str, attributes: str) -> _Active:
        segment = self.segments[-1]
        key = f"{name} {attributes}"
        alike = segment.by_key[key]
        if segment.alive[key] >= 3:  # the parser keeps three alike: the oldest goes
            while not alike[0].live:
                alike.popleft()
            self.forget(alike.popleft())
        entry = _Active(name, key, segment)
        segment.alive[key] += 1
        alike.append(entry)
        segment.entries.append(entry)
        if name == "a":
            segment.anchors.append(entry)
        return entry

    def reconstruct(self) -> None:
        """Open again the formatting elements closed since the last one still open."""
        entries = self.segments[-1].entries
        closed: list[_Active] = []
        while entries and not (entries[-1].live and entries[-1].on_stack):
            entry = entries.pop()
            if entry.live:
                closed.append(entry)
        for entry in reversed(closed):
            self.push(entry.name, phantom=self.frameset, reopened=entry)
            entries.append(entry)

    def forget(self, entry: _Active) -> None:
        """Take an entry off the list of active formatting elements."""
        if not entry.live:
            return
        if not entry.on_stack:
            self.latent -= 1
        entry.segment.alive[entry.key] -= 1
        entry.live = False

    def pop(self) -> None:
        element = self.open.pop()
        self.where[element.name, bool(element.foreign)].pop()
        for kind in _CATEGORIES.get(element.name, ()):
            self.bounds[kind].pop()
        if element.foreign:
            return
        self.bounds["html"].pop()
        if element.name in _MARKERS and len(self.segments) > 1:
            for alike in self.segments.pop().by_key.values():
                for entry in alike:
                    self.forget(entry)
        elif element.active is not None and element.active.live:
            element.active.on_stack = False
            self.latent += 1

    def pop_through(self, index: int) -> None:
        while len(self.open) > index:
            self.pop()

    def find(self, names: frozenset[str], boundary: str) -> int | None:
        """Return where the nearest HTML element of ``names`` is open above every boundary."""
        nearest = max((self.where[name, False][-1] for name in names if self.where[name, False]), default=-1)
        bounds = self.bounds[boundary]
        if nearest < 0 or (bounds and bounds[-1] > nearest and self.open[bounds[-1]].name not in names):
            return None
        return None if self.open[nearest].phantom else nearest

    def find_foreign(self, name: str) -> int | None:
        """Return where the foreign element an end tag closes is open, above any HTML one."""
        places = self.where[name, True]
        html = self.bounds["html"]
        if not places or (html and html[-1] > places[-1]):
            return None
        return None if self.open[places[-1]].phantom else places[-1]

    def unsure_of_raw_text(self) -> bool:
        """Whether the parser may be in a mode that ignores a raw-text start tag: inside a
        template (whose contents can be a column group, where <iframe> is ignored and its
        "raw text" is markup) or a select."""
        return bool(self.where["template", False] or self.where["select", False])

    def top(self) -> _Open | None:
        return self.open[-1] if self.open else None


def cap_nesting(html: str, max_depth: int = MAX_DEPTH) -> str:
    """Return the HTML without the start tags that would nest deeper than ``max_depth``."""
    stack = _Stack()
    parts: list[str] = []
    kept = scan = 0
    while scan >= 0 and (start := html.find("<", scan)) >= 0:
        scan = start + 1
        following = html[scan : scan + 1]
        if following == "!":
            top = stack.top()
            foreign = top is not None and bool(top.foreign) and not stack.frameset
            scan = _after_markup_declaration(html, scan + 1, foreign=foreign)
        elif following == "?":
            scan = _after(html, ">", scan)
        elif following == "/":
            tag = _TAG.match(html, scan + 1)
            if tag is None:
                scan = scan + 2 if html.startswith(">", scan + 1) else _after(html, ">", scan)
                continue
            scan = tag.end()
            _end_tag(stack, tag.group(1).lower())
        elif following.isascii() and following.isalpha():
            tag = _TAG.match(html, scan)
            if tag is None:
                break  # a tag that never ends: the rest of the page is inside it
            scan = tag.end()
            name = tag.group(1).lower()
            raw = stack.foreign == 0 and not stack.frameset and not stack.unsure_of_raw_text()
            if raw and name in _RAW_TEXT:
                _close_before(stack, name)
                scan = _after_raw_text(html, name, scan)
                continue
            if raw and name == "plaintext":
                break
            opens = _would_open(stack, name, tag.group(2), self_closing=bool(tag.group(3)))
            if opens and stack.depth >= max_depth:
                parts += [html[kept:start], " "]
                kept = scan
                continue
            _start_tag(stack, name, tag.group(2), self_closing=bool(tag.group(3)))
    if not parts:
        return html
    parts.append(html[kept:])
    return "".join(parts)


def _after(html: str, text: str, position: int) -> int:
    found = html.find(text, position)
    return -1 if found < 0 else found + len(text)


def _after_markup_declaration(html: str, position: int, *, foreign: bool) -> int:
    """Return where a comment, doctype or CDATA section that starts at ``position`` ends."""
    if html.startswith("--", position):
        if html.startswith(">", position + 2):
            return position + 3
        if html.startswith("->", position + 2):
            return position + 4
        end = _COMMENT_END.search(html, position + 2)
        return -1 if end is None else end.end()
    if foreign and html.startswith("[CDATA[", position):
        return _after(html, "]]>", position)
    return _after(html, ">", position)


def _after_raw_text(html: str, name: str, position: int) -> int:
    end = re.compile(rf"</{name}[{_WS}/>]", re.IGNORECASE).search(html, position)
    return -1 if end is None else end.end()


def _is_html_annotation(name: str, attributes: str) -> bool:
    return name == "annotation-xml" and _HTML_ENCODING.search(attributes) is not None


def _in_foreign_content(stack: _Stack) -> bool:
    """Return True when the current node is an SVG or MathML element, not an HTML island."""
    top = stack.top()
    return top is not None and bool(top.foreign) and not top.island


def _breaks_out(name: str, attributes: str) -> bool:
    """Return True when a start tag inside SVG or MathML ends it (``<div>``, ``<p>``...)."""
    return name in _BREAKOUT or (name == "font" and _FONT_BREAKOUT.search(attributes) is not None)


def _would_open(stack: _Stack, name: str, attributes: str, *, self_closing: bool) -> bool:
    foreign = _in_foreign_content(stack) and not _breaks_out(name, attributes)
    if foreign or name in ("svg", "math"):
        return not self_closing
    return name not in _VOID


def _start_tag(stack: _Stack, name: str, attributes: str, *, self_closing: bool) -> None:
    if _in_foreign_content(stack):
        if not _breaks_out(name, attributes):
            if not self_closing:
                namespace = stack.open[-1].foreign
                stack.push(name, foreign=namespace, attributes=attributes, phantom=stack.frameset)
            return
        while _in_foreign_content(stack):
            stack.pop()
    if name == "frameset":
        stack.frameset = True
    if stack.foreign == 0:
        _close_before(stack, name)
        stack.reconstruct()
    if name in _VOID:
        return
    if name in ("svg", "math"):
        if not self_closing:
            stack.push(name, foreign=name, phantom=stack.frameset)
        return
    phantom = name in _PHANTOM_IN_BODY or stack.frameset
    if name in _TABLE_PARTS and name != "table":
        phantom = not _open_table_parts(stack, name) or phantom
    stack.push(name, attributes=attributes, phantom=phantom)


def _open_table_parts(stack: _Stack, name: str) -> bool:
    """Open the table parts the parser implies before ``name``; True when it is certain."""
    top = stack.top()
    if top is None or top.phantom or top.foreign:
        return False
    if name in ("tbody", "thead", "tfoot", "caption", "colgroup"):
        return top.name == "table"
    if top.name == "table" and name in ("tr", "td", "th"):
        stack.push("tbody")
        top = stack.top()
    if top is not None and top.name in ("tbody", "thead", "tfoot") and name in ("td", "th"):
        stack.push("tr")
        top = stack.top()
    if name == "tr":
        return top is not None and top.name in ("tbody", "thead", "tfoot")
    return top is not None and top.name == "tr"


def _close_before(stack: _Stack, name: str) -> None:
    """Close what the parser closes before opening ``name``, where that is certain."""
    top = stack.top()
    if name == "a":
        segment = stack.segments[-1]
        while segment.anchors and not segment.anchors[-1].live:
            segment.anchors.pop()
        if segment.anchors:
            anchor = segment.anchors[-1]
            if not anchor.on_stack:
                segment.anchors.pop()
                stack.forget(anchor)
            elif top is not None and top.active is anchor:
                segment.anchors.pop()
                stack.forget(anchor)
                stack.pop()
        return
    if name in _RUBY_PARTS:
        if stack.find(frozenset({"ruby"}), "scope") is not None:
            keep = "rtc" if name in ("rp", "rt") else ""
            while (top := stack.top()) is not None and top.name in _IMPLIED_END and top.name != keep:
                stack.pop()
        return
    if name == "button":
        found = stack.find(frozenset({"button"}), "scope")
        if found is not None:
            stack.pop_through(found)
        return
    if name in ("li", "dd", "dt"):
        closes = frozenset({"li"}) if name == "li" else frozenset({"dd", "dt"})
        found = stack.find(closes, "list item")
        if found is not None:
            stack.pop_through(found)
    elif name in ("td", "th", "tr"):
        found = stack.find(frozenset({"tr"} if name == "tr" else {"td", "th"}), "table")
        if found is not None:
            stack.pop_through(found)
        return
    elif name in ("option", "optgroup") and top is not None and top.name == "option" and not top.phantom:
        stack.pop()
        return
    elif name == "table" and top is not None and top.name in _TABLE_CONTEXT and not top.phantom:
        found = stack.find(frozenset({"table"}), "table")
        if found is not None:
            stack.pop_through(found)
        return
    if name in _CLOSES_P:
        found = stack.find(frozenset({"p"}), "button")
        if found is not None:
            stack.pop_through(found)
    top = stack.top()
    if name in _HEADINGS and top is not None and top.name in _HEADINGS and not top.phantom:
        stack.pop()


def _end_tag(stack: _Stack, name: str) -> None:
    if name in ("p", "br"):  # these two end SVG and MathML as start tags do
        while _in_foreign_content(stack):
            stack.pop()
    top = stack.top()
    if top is not None and top.foreign and top.name == name and not top.phantom:
        stack.pop()
        return
    if stack.foreign > 0 and top is not None and top.foreign:
        found = stack.find_foreign(name)
        if found is not None:
            stack.pop_through(found)
            return
    if name in _FORMATTING:
        if top is not None and top.name == name and not top.foreign and not top.phantom:
            if top.active is not None:
                stack.forget(top.active)
            stack.pop()
        return
    if name in ("body", "html", "br"):
        return
    if name in _HEADINGS:
        found = stack.find(_HEADINGS, "scope")
    elif name in _TABLE_PARTS:
        found = stack.find(frozenset({name}), "table")
    elif name in _CLOSED_IN_SCOPE:
        found = stack.find(frozenset({name}), {"p": "button", "li": "list"}.get(name, "scope"))
    else:
        found = stack.find(frozenset({name}), "special")
    if found is not None:
        stack.pop_through(found)
