"""Dates in the formats Korean documents use."""

from __future__ import annotations

import re
from datetime import date

_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(20\d{2}|19\d{2})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일"),
    re.compile(r"(?<!\d)(20\d{2}|19\d{2})\s*[.\-/]\s*(\d{1,2})\s*[.\-/]\s*(\d{1,2})(?!\d)"),
    re.compile(r"(?<![\d.])'(\d{2})\s*\.\s*(\d{1,2})\s*\.\s*(\d{1,2})(?!\d)"),
    re.compile(r"(?<![\d.])['‘’](\d{2})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일"),
)


def parse_date(text: str) -> str | None:
    """The first date in ``text`` as ISO (2018. 9. 19., 2018년 9월 19일, '18.9.19, 2018-09-19)."""
    best: tuple[int, str] | None = None
    for pat in _DATE_PATTERNS:
        m = pat.search(text)
        if not m:
            continue
        y, mo, d = m.groups()
        year = int(y) + (2000 if len(y) == 2 else 0)
        try:
            iso = date(year, int(mo), int(d)).isoformat()
        except ValueError:
            continue
        if best is None or m.start() < best[0]:
            best = (m.start(), iso)
    return best[1] if best else None


def normalize_date(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if re.fullmatch(r"\d{4}", raw):
        return f"{raw}-01-01"
    if re.fullmatch(r"\d{4}-\d{2}", raw):
        return f"{raw}-01"
    return parse_date(raw)


__all__ = ["normalize_date", "parse_date"]
