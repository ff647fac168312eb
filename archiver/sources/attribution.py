"""Reading an embedded post's attribution line: ``— Name (@handle) May 16, 2024``.

Embeds are written in the reader's language and by several platforms, so the name may
hold anything (parentheses, quotes, emoji, dashes) and the date comes in many forms:
``May 16, 2024``, ``Feb 11, 2025 at 7:30 PM``, ``11. Februar 2025``, ``11 févr. 2025``,
``11 de febrero de 2025``, ``2025年2月11日 19:30``, ``2025-02-11``.  The line is read from
its end: a date, right before it ``(@handle)``, before that a dash and the name.  Each
step looks only at a bounded stretch of the line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .timestamps import utc_timestamp

__all__ = ["Attribution", "find_attribution", "parse_date"]

# Longer than any date with its time ("11 de septiembre de 2025, 19:30:00 p. m.").
_MAX_DATE_LENGTH = 64
_MAX_NAME_LENGTH = 100
_HANDLE = re.compile(r"@([A-Za-z0-9_][A-Za-z0-9_.-]{0,252})\)")
_SEPARATORS = ("\u2014", "\u2013", "&mdash;", "--", "-")

_MONTH_NAMES = {
    1: "january jan januar janv janvier enero ene janeiro jan gennaio gen januari jan январь янв января",
    2: "february feb februar fevr fevrier febrero fevereiro fev febbraio februari февраль февр фев февраля",
    3: "march mar marz maerz mars marzo marco mar maart март мар марта",
    4: "april apr avril avr abril abr aprile april апрель апр апреля",
    5: "may mai mayo maio maggio mag mei май мая",
    6: "june jun juni juin junio junho giugno giu juni июнь июн июня",
    7: "july jul juli juillet juil julio julho luglio lug juli июль июл июля",
    8: "august aug aout août agosto ago augustus август авг августа",
    9: "september sep sept septembre septiembre setembro set settembre sett сентябрь сен сент сентября",
    10: "october oct oktober okt octobre octubre outubro out ottobre ott октябрь окт октября",
    11: "november nov novembre noviembre novembro novembre nov ноябрь ноя нояб ноября",
    12: "december dec dezember dez decembre diciembre dic dezembro dicembre dic december декабрь дек декабря",
}
MONTHS = {name: number for number, names in _MONTH_NAMES.items() for name in names.split()}

_TIME = r"(?:\s*(?:,|at|à|um|a las|às|alle|om|в)?\s*\d{1,2}[:.h]\d{2}(?::\d{2})?\s*(?:[ap]\.?\s?m\.?|uhr)?)?"
_DATE_FORMS = (
    # May 16, 2024 / Feb 11, 2025 at 7:30 PM
    re.compile(rf"(?P<month>[^\W\d_]{{3,12}})\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}}){_TIME}", re.I),
    # 11. Februar 2025 / 11 févr. 2025 / 11 de febrero de 2025 / 11 февр. 2025 г.
    re.compile(
        rf"(?P<day>\d{{1,2}})\.?\s+(?:de\s+)?(?P<month>[^\W\d_]{{3,12}})\.?,?\s+(?:de\s+)?(?P<year>\d{{4}})"
        rf"(?:\s*г\.)?{_TIME}",
        re.I,
    ),
    # 2025年2月11日 19:30 / 2025년 2월 11일
    re.compile(
        rf"(?P<year>\d{{4}})\s*[年년]\s*(?P<month>\d{{1,2}})\s*[月월]\s*(?P<day>\d{{1,2}})\s*[日일]{_TIME}"
    ),
    # 2025-02-11, 2025-02-11T19:30:00Z, 2025/02/11
    re.compile(
        r"(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})(?:[T\s]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)?",
        re.I,
    ),
)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who wrote an embedded post and when, and where its line starts."""

    start: int  # where the attribution (its dash, or the name) starts in the line
    name: str | None
    handle: str
    date: str | None  # YYYY-MM-DD, with the time when the embed gives it (see parse_date)


def find_attribution(line: str) -> Attribution | None:
    """Return the attribution that ends ``line``, or None when the line does not end with one."""
    line = line.rstrip()
    search_end = len(line)
    for _ in range(8):  # the handle is one of the last few "(@" of the line
        opening = line.rfind("(@", 0, search_end)
        if opening < 0:
            return None
        search_end = opening
        handle = _HANDLE.match(line, opening + 1)
        if handle is None:
            continue
        tail = line[handle.end() :].strip()
        if len(tail) > _MAX_DATE_LENGTH:
            return None
        date = parse_date(tail)
        if date is None:
            continue
        before = _name_before(line, opening)
        if before is None:
            return None  # no dash: "(@handle) date" inside the text of a post
        return Attribution(start=before[0], name=before[1], handle=handle.group(1), date=date)
    return None


def _name_before(line: str, opening: int) -> tuple[int, str | None] | None:
    """Return where the attribution starts and the display name between its dash and ``(@``."""
    window_start = max(0, opening - _MAX_NAME_LENGTH - 8)
    window = line[window_start:opening]
    for separator in _SEPARATORS:
        dash = window.rfind(separator)
        # A hyphen separates only with space after it ("- Name"), never inside a name.
        if dash >= 0 and (separator != "-" or window[dash + 1 : dash + 2] == " "):
            name = window[dash + len(separator) :].strip()
            return window_start + dash, name or None
    return None


def parse_date(text: str) -> str | None:
    """Return the date written in one of the embed forms, or None, with its time when given.

    ``YYYY-MM-DD``; ``YYYY-MM-DDTHH:MM:SSZ`` in UTC when the time has a zone (Bluesky's
    embeds write ``2026-04-19T21:26:45.000Z``); ``YYYY-MM-DDTHH:MM`` as written when it
    has none ("Feb 11, 2025 at 7:30 PM", in the zone of whoever embedded it).
    """
    text = text.strip()
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match is None:
            continue
        month = _month(match.group("month"))
        day, year = int(match.group("day")), int(match.group("year"))
        if month is not None and 1 <= day <= 31 and 1000 <= year <= 9999:
            date = f"{year:04d}-{month:02d}-{day:02d}"
            return _with_time(date, text[max(match.end(g) for g in ("year", "month", "day")) :])
    return None


_CLOCK = re.compile(r"(\d{1,2})[:.h](\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(?:([ap])\.?\s?m\.?)?", re.I)
_ZONE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.I)


def _with_time(date: str, rest: str) -> str:
    """Return the date with the time written after it, if any and if it is a time of day."""
    clock = _CLOCK.search(rest)
    if clock is None:
        return date
    hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
    meridiem = (clock.group(4) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            return date
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return date
    if _ZONE.search(rest.strip()):
        zoned = utc_timestamp(f"{date}T{rest.strip().lstrip('Tt ')}")
        return zoned if zoned and zoned.endswith("Z") else date
    return f"{date}T{hour:02d}:{minute:02d}" + (f":{second:02d}" if clock.group(3) else "")


def _month(value: str) -> int | None:
    if value.isdigit():
        number = int(value)
        return number if 1 <= number <= 12 else None
    folded = "".join(c for c in unicodedata.normalize("NFKD", value.lower()) if not unicodedata.combining(c))
    return MONTHS.get(folded) or MONTHS.get(value.lower())
