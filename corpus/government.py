"""Issuing bodies of Korean public documents (발행기관) that are not in the institute
registry: central ministries and agencies, public corporations and local governments,
with the short names documents use and a few units whose body is never printed beside
them (a press release's header logo is an image; only "담당 부서 대외경제국" is text).

The data is ``corpus/data/government.tsv``: ``body<TAB>kind<TAB>aliases<TAB>units``
(aliases and units ``|``-separated). Kinds: 중앙행정기관, 공공기관, 광역자치단체,
기초자치단체, 지방의회.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "government.tsv"

# 발간등록번호 11-NNNNNNN-…: the 7-digit 행정기관 code of the central body that published it.
REGISTRATION_CODES = {
    "1051000": "기획재정부",
    "1192000": "해양수산부",
    "1342000": "교육부",
    "1352000": "보건복지부",
    "1492000": "고용노동부",
    "1543000": "농림축산식품부",
    "1613000": "국토교통부",
    "1721000": "과학기술정보통신부",
    "1730000": "새만금개발청",
    "1741000": "행정안전부",
}
_REGISTRATION_RE = re.compile(r"(?<!\d)11\s*-\s*(\d{7})\s*-\s*\d{6}")


@dataclass(frozen=True, slots=True)
class Body:
    name: str
    kind: str
    aliases: tuple[str, ...]
    units: tuple[str, ...]


@lru_cache(maxsize=1)
def bodies() -> tuple[Body, ...]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = (line.split("\t") + ["", "", ""])[:4]
        name, kind, aliases, units = (c.strip() for c in cols)
        out.append(
            Body(
                name,
                kind,
                tuple(a for a in aliases.split("|") if a),
                tuple(u for u in units.split("|") if u),
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def _spellings() -> tuple[tuple[str, Body], ...]:
    """Every name and alias, longest first (서울특별시 before 서울시)."""
    pairs = [(b.name, b) for b in bodies()] + [(a, b) for b in bodies() for a in b.aliases]
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    names = "|".join(re.escape(s) for s, _ in _spellings())
    # not inside a longer Hangul word on the left (…의 국토교통부 ok, 범정부 no)
    return re.compile(rf"(?<![가-힣])({names})")


def lookup(name: str) -> Body | None:
    """The body a name or alias (spaces ignored: 서 울 특 별 시) stands for."""
    squeezed = re.sub(r"\s+", "", name)
    for spelling, body in _spellings():
        if squeezed == spelling.replace(" ", ""):
            return body
    return None


def find_bodies(text: str) -> list[tuple[int, Body, str]]:
    """(offset, body, spelling) of every body named in ``text``, in text order."""
    by_spelling = dict(_spellings())
    return [(m.start(), by_spelling[m.group(1)], m.group(1)) for m in _pattern().finditer(text)]


def body_of_unit(unit: str) -> Body | None:
    """The body a listed unit (실·국·과, 소속기관) belongs to."""
    squeezed = re.sub(r"\s+", "", unit)
    for body in bodies():
        if squeezed in body.units:
            return body
    return None


def find_units(text: str) -> list[tuple[int, Body, str]]:
    found = []
    for body in bodies():
        for unit in body.units:
            i = text.find(unit)
            if i >= 0:
                found.append((i, body, unit))
    return sorted(found, key=lambda f: f[0])


def body_from_registration_number(text: str) -> Body | None:
    """The central body of a 발간등록번호 (11-1342000-000315-01 -> 교육부)."""
    m = _REGISTRATION_RE.search(text)
    if not m or m.group(1) not in REGISTRATION_CODES:
        return None
    return lookup(REGISTRATION_CODES[m.group(1)])


__all__ = [
    "Body",
    "bodies",
    "body_from_registration_number",
    "body_of_unit",
    "find_bodies",
    "find_units",
    "lookup",
]
