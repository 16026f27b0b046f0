"""Place names in Korean text -> the 17 시·도 (short forms: 서울, 경기, 충남 …).

Covers every 시·도 in its full, short and former spellings (강원도/강원특별자치도,
전라북도/전북특별자치도 …) and the 시 (cities) of each province. 군 and the 구 of the
metropolitan cities are left out: many 구 names (중구, 동구, 서구) exist in several cities.
"""

from __future__ import annotations

import re
from collections import Counter

from corpus.institutes import REGIONS

CITIES: dict[str, tuple[str, ...]] = {
    "경기": (
        "수원",
        "성남",
        "고양",
        "용인",
        "부천",
        "안산",
        "안양",
        "남양주",
        "화성",
        "평택",
        "의정부",
        "시흥",
        "파주",
        "김포",
        "광명",
        "군포",
        "하남",
        "오산",
        "이천",
        "안성",
        "의왕",
        "양주",
        "구리",
        "포천",
        "동두천",
        "과천",
        "여주",
    ),
    "강원": ("춘천", "원주", "강릉", "동해", "태백", "속초", "삼척"),
    "충북": ("청주", "충주", "제천"),
    "충남": ("천안", "공주", "보령", "아산", "서산", "논산", "계룡", "당진"),
    "전북": ("전주", "군산", "익산", "정읍", "남원", "김제"),
    "전남": ("목포", "여수", "순천", "나주", "광양"),
    "경북": ("포항", "경주", "김천", "안동", "구미", "영주", "영천", "상주", "문경", "경산"),
    "경남": ("창원", "진주", "통영", "사천", "김해", "밀양", "거제", "양산"),
    "제주": ("서귀포",),
}

_FORMS: dict[str, str] = {}
for _short, _forms in REGIONS.items():
    for _f in (_short, *_forms):
        _FORMS[_f] = _short
for _region, _cities in CITIES.items():
    for _c in _cities:
        _FORMS[_c + "시"] = _region
_FORMS["제주시"] = "제주"
# Short forms that are also common words or names: 경기 (economy), 세종 (the king),
# 광주 (also a city in 경기). Only their full forms count.
for _ambiguous in ("경기", "세종", "광주", "광주시"):
    _FORMS.pop(_ambiguous, None)

# Longest first, so 경기도 wins over 경기 and 서귀포시 over 서귀포.
_PATTERN = re.compile(
    "(?<![가-힣])(" + "|".join(sorted(map(re.escape, _FORMS), key=len, reverse=True)) + ")"
)


def mentioned_regions(text: str, min_count: int = 2) -> list[str]:
    """Regions named at least ``min_count`` times, most mentioned first."""
    counts = Counter(map(_FORMS.__getitem__, _PATTERN.findall(text)))
    return [r for r, n in counts.most_common() if n >= min_count]
