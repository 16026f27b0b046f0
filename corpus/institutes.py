"""Registry of research institutes and the 17 시·도 regions they cover.

The 17 members of the 2018 smart-city research council (국토연구원 and 16 regional
institutes) are registered with their regions, type, former names and lineage, so filters
and search both know that 경남발전연구원 is today's 경남연구원 and that a filter on
광주전남연구원 should also find documents of its successors 광주연구원 and 전남연구원.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# The 17 시·도 in the order Statistics Korea lists them, with accepted spellings
# (full, short, former names). The short form is the canonical value used in the index.
REGIONS: dict[str, tuple[str, ...]] = {
    "서울": ("서울특별시", "서울시"),
    "부산": ("부산광역시", "부산시"),
    "대구": ("대구광역시", "대구시"),
    "인천": ("인천광역시", "인천시"),
    "광주": ("광주광역시", "광주시"),
    "대전": ("대전광역시", "대전시"),
    "울산": ("울산광역시", "울산시"),
    "세종": ("세종특별자치시", "세종시"),
    "경기": ("경기도",),
    "강원": ("강원특별자치도", "강원도"),
    "충북": ("충청북도",),
    "충남": ("충청남도",),
    "전북": ("전북특별자치도", "전라북도"),
    "전남": ("전라남도",),
    "경북": ("경상북도",),
    "경남": ("경상남도",),
    "제주": ("제주특별자치도", "제주도"),
}

_REGION_LOOKUP: dict[str, str] = {}
for _short, _forms in REGIONS.items():
    _REGION_LOOKUP[_short] = _short
    for _form in _forms:
        _REGION_LOOKUP[_form] = _short


def canonical_region(name: str) -> str | None:
    """The short form (경기) of any accepted spelling (경기도), or None if unknown."""
    return _REGION_LOOKUP.get(name.strip().replace(" ", ""))


@dataclass(frozen=True)
class Institute:
    key: str
    name: str
    english: str
    kind: str  # national | provincial | city
    regions: tuple[str, ...]
    sigungu: str | None = None
    aliases: tuple[str, ...] = ()
    member: bool = True  # member of the 2018 smart-city research council
    predecessors: tuple[str, ...] = ()  # keys
    founded: str | None = None
    dissolved: str | None = None
    successors: tuple[str, ...] = field(default=())
    registered: bool = False  # added at run time (a catalogue named it), not shipped


INSTITUTES: tuple[Institute, ...] = (
    Institute(
        "krihs",
        "국토연구원",
        "Korea Research Institute for Human Settlements",
        "national",
        (),
        aliases=("KRIHS", "국토硏"),
    ),
    Institute(
        "gri",
        "강원연구원",
        "Gangwon Research Institute",
        "provincial",
        ("강원",),
        aliases=("강원발전연구원",),
    ),
    Institute(
        "ggi",
        "경기연구원",
        "Gyeonggi Research Institute",
        "provincial",
        ("경기",),
        aliases=("경기개발연구원",),
    ),
    Institute(
        "gbsa",
        "경기도 경제과학진흥원",
        "Gyeonggi Business & Science Accelerator",
        "provincial",
        ("경기",),
        aliases=("경기도경제과학진흥원", "경과원", "GBSA"),
    ),
    Institute(
        "gni",
        "경남연구원",
        "Gyeongnam Institute",
        "provincial",
        ("경남",),
        aliases=("경남발전연구원",),
    ),
    Institute(
        "gyri", "고양시정연구원", "Goyang Research Institute", "city", ("경기",), sigungu="고양시"
    ),
    Institute(
        "gjjn",
        "광주전남연구원",
        "Gwangju Jeonnam Research Institute",
        "provincial",
        ("광주", "전남"),
        dissolved="2024",
        successors=("gjri", "jni"),
    ),
    Institute(
        "dgi",
        "대구경북연구원",
        "Daegu Gyeongbuk Development Institute",
        "provincial",
        ("대구", "경북"),
        dissolved="2024",
        successors=("dpi", "gbri"),
    ),
    Institute(
        "dsi",
        "대전세종연구원",
        "Daejeon Sejong Research Institute",
        "provincial",
        ("대전", "세종"),
        aliases=("대전발전연구원",),
    ),
    Institute(
        "si",
        "서울연구원",
        "The Seoul Institute",
        "provincial",
        ("서울",),
        aliases=("서울시정개발연구원",),
    ),
    Institute(
        "suwon", "수원시정연구원", "Suwon Research Institute", "city", ("경기",), sigungu="수원시"
    ),
    Institute(
        "uri",
        "울산연구원",
        "Ulsan Research Institute",
        "provincial",
        ("울산",),
        aliases=("울산발전연구원",),
    ),
    Institute(
        "jbri",
        "전북연구원",
        "Jeonbuk Research Institute",
        "provincial",
        ("전북",),
        aliases=("전북발전연구원",),
    ),
    Institute(
        "jri",
        "제주연구원",
        "Jeju Research Institute",
        "provincial",
        ("제주",),
        aliases=("제주발전연구원",),
    ),
    Institute(
        "cwri", "창원시정연구원", "Changwon Research Institute", "city", ("경남",), sigungu="창원시"
    ),
    Institute(
        "cni",
        "충남연구원",
        "Chungnam Institute",
        "provincial",
        ("충남",),
        aliases=("충남발전연구원",),
    ),
    Institute(
        "cbri",
        "충북연구원",
        "Chungbuk Research Institute",
        "provincial",
        ("충북",),
        aliases=("충북발전연구원",),
    ),
    # Successors and regional institutes outside the 2018 council.
    Institute(
        "gjri",
        "광주연구원",
        "Gwangju Research Institute",
        "provincial",
        ("광주",),
        member=False,
        predecessors=("gjjn",),
        founded="2024",
    ),
    Institute(
        "jni",
        "전남연구원",
        "Jeonnam Research Institute",
        "provincial",
        ("전남",),
        member=False,
        predecessors=("gjjn",),
        founded="2024",
    ),
    Institute(
        "dpi",
        "대구정책연구원",
        "Daegu Policy Institute",
        "provincial",
        ("대구",),
        member=False,
        predecessors=("dgi",),
        founded="2024",
    ),
    Institute(
        "gbri",
        "경북연구원",
        "Gyeongbuk Research Institute",
        "provincial",
        ("경북",),
        member=False,
        predecessors=("dgi",),
        founded="2024",
    ),
    Institute(
        "ii",
        "인천연구원",
        "Incheon Institute",
        "provincial",
        ("인천",),
        member=False,
        aliases=("인천발전연구원",),
    ),
    Institute(
        "bdi",
        "부산연구원",
        "Busan Development Institute",
        "provincial",
        ("부산",),
        member=False,
        aliases=("부산발전연구원",),
    ),
)

_BY_KEY = {i.key: i for i in INSTITUTES}
_BY_NAME: dict[str, Institute] = {}
for _inst in INSTITUTES:
    for _n in (_inst.name, _inst.key, *_inst.aliases):
        _BY_NAME[_n.replace(" ", "").lower()] = _inst


UNKNOWN = "미상"  # the institute of a document whose publisher is not in the registry


def canonical_names(name: str) -> list[str] | None:
    """Institute names a filter on ``name`` matches: the institute's whole lineage, just
    :data:`UNKNOWN` for documents of unknown publishers, None for an unknown name."""
    if name.strip() == UNKNOWN:
        return [UNKNOWN]
    inst = lookup(name)
    return [i.name for i in lineage(inst)] if inst else None


def lookup(name: str) -> Institute | None:
    """Find an institute by current name, former name, alias or key (spaces ignored)."""
    return _BY_NAME.get(name.strip().replace(" ", "").lower())


def by_key(key: str) -> Institute:
    return _BY_KEY[key]


def lineage(inst: Institute) -> list[Institute]:
    """The institute with all its predecessors and successors (transitively)."""
    seen: dict[str, Institute] = {}
    todo = [inst.key]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        cur = _BY_KEY[key]
        seen[key] = cur
        todo.extend(cur.predecessors)
        todo.extend(cur.successors)
        todo.extend(i.key for i in INSTITUTES if key in i.predecessors)
    return list(seen.values())


def register(name: str, regions: tuple[str, ...] = (), kind: str = "provincial") -> Institute:
    """Add an institute the shipped registry does not know (a non-member named by a
    catalogue); returns the existing entry when ``name`` is already known. Its key is
    ASCII (``x`` and a hash of the name) so it can name an OAI-PMH set."""
    global INSTITUTES
    known = lookup(name)
    if known is not None:
        return known
    clean = " ".join(name.split())
    key = "x" + hashlib.sha1(clean.replace(" ", "").encode()).hexdigest()[:10]
    inst = Institute(
        key,
        clean,
        "",
        kind,
        tuple(r for r in (canonical_region(r) for r in regions) if r),
        member=False,
        registered=True,
    )
    INSTITUTES = (*INSTITUTES, inst)
    _BY_KEY[key] = inst
    _BY_NAME[clean.replace(" ", "").lower()] = inst
    return inst


def all_names_in_text_order() -> list[tuple[str, Institute]]:
    """(spelling, institute) pairs, longest spelling first, for recognition in text."""
    pairs = []
    for inst in INSTITUTES:
        if inst.registered:  # only shipped names: workers must recognize the same ones
            continue
        for n in (inst.name, *inst.aliases):
            if len(n) >= 4:
                pairs.append((n, inst))
    pairs.sort(key=lambda p: -len(p[0]))
    return pairs
