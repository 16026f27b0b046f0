"""Header and cover-page metadata of Korean press releases and research reports."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from ingest.dates import parse_date

_HEADER_LABEL_RE = re.compile(
    r"^(보도자료|보도\s*일시|보도\s*시점|배포\s*일시|배포|작성|담당\s*부서|담당자?|연락처|문의|"
    r"엠바고|\(온라인\)|\(지\s*면\)|\(인터넷\)|\(방송\)|보도|즉시|사진\s*있음|쪽수|매수|"
    r"붙임|■|□?\s*보도)"
)
_BULLET_RE = re.compile(r"^[-–□○■◇◆▶▷●•※<〈\[*]")
_DEPT_RE = re.compile(
    r"([가-힣A-Za-z·ㆍ]+(?:연구센터|센터|연구실|연구단|본부|사업단|위원회|추진단|팀|과|국|실|단|처))"
)
_PHONE_RE = re.compile(r"0\d{1,2}[-)]\s?\d{3,4}-\d{4}")
_CONTACT_RE = re.compile(
    r"([가-힣]{2,4})\s*(?:(?:[가-힣]{1,6})\s*)?\(?\s*☎?\s*(0\d{1,2}[-)]\s?\d{3,4}-\d{4})"
)
_MD_RE = re.compile(r"(\d{1,2})\s*[.월]\s*(\d{1,2})\s*일?\s*\(\s*([월화수목금토일])\s*\)")
_WEEKDAYS = "월화수목금토일"
# Labels and job titles that precede phone numbers but are not names.
_NOT_NAMES = frozenset(
    "연락처 전화 담당자 책임자 문의 담당 작성 배포 서기관 사무관 주무관 과장 팀장 국장 실장 "
    "센터장 연구원 연구위원 선임연구원 부연구위원 관리원 대변인 부대변인 홍보팀 기자".split()
)


@dataclass
class PressMeta:
    title: str | None = None
    subtitle: str | None = None
    date: str | None = None
    department: str | None = None
    contacts: list[str] = field(default_factory=list)


def infer_year(
    month: int, day: int, weekday: str, today: datetime.date | None = None
) -> int | None:
    """The most recent year (not in the future, at most 20 years back) in which
    ``month``/``day`` fell on ``weekday`` (월..일): press releases often omit the year."""
    today = today or datetime.date.today()
    for year in range(today.year, today.year - 20, -1):
        try:
            d = datetime.date(year, month, day)
        except ValueError:
            continue
        if d <= today and _WEEKDAYS[d.weekday()] == weekday:
            return year
    return None


def is_press_release(text: str) -> bool:
    head = text[:400]
    return "보도자료" in head or bool(re.search(r"보도\s*(일시|시점)", head))


def _header_lines(lines: list[str]) -> int:
    """Index of the first line after the press-release header block."""
    i = 0
    for n, line in enumerate(lines[:25]):
        s = line.strip()
        if not s:
            continue
        if _HEADER_LABEL_RE.match(s) or (parse_date(s) and len(s) < 45) or _PHONE_RE.search(s):
            i = n + 1
            continue
        if n - i > 2:
            break
    return i


def parse_press_release(text: str) -> PressMeta:
    meta = PressMeta()
    lines = [line.strip() for line in text.split("\n")]
    start = _header_lines(lines)
    header = "\n".join(lines[:start])
    meta.date = parse_date(header)
    body = [line for line in lines[start:] if line]
    title_lines: list[str] = []
    for line in body[:6]:
        if _BULLET_RE.match(line):
            if line.startswith(("-", "–")) and title_lines and meta.subtitle is None:
                meta.subtitle = line.strip("-– ").strip()
            break
        if title_lines and (len(title_lines[-1]) > 40 or len(line) > 40):
            break
        title_lines.append(line)
        if len(" ".join(title_lines)) > 120:
            break
    if title_lines:
        meta.title = " ".join(title_lines).strip()
    if meta.date is None:
        meta.date = _date_without_year(text)
    meta.department, meta.contacts = _department_and_contacts(text)
    return meta


def _date_without_year(text: str) -> str | None:
    m = _MD_RE.search(text[:3000])
    if not m:
        return None
    month, day, weekday = int(m.group(1)), int(m.group(2)), m.group(3)
    year = infer_year(month, day, weekday)
    return datetime.date(year, month, day).isoformat() if year else None


def _department_and_contacts(text: str) -> tuple[str | None, list[str]]:
    department = None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.search(r"(담당\s*부서)\s*[:：]?\s*(.*)", line) or re.match(
            r"\s*(작성|담당)\s*[:：]?\s*(.*)", line
        )
        if not m:
            continue
        rest = m.group(2)
        if not _DEPT_RE.search(rest):  # table cells: the value is on the next lines
            rest += " " + " ".join([x for x in lines[i + 1 : i + 8] if x.strip()][:3])
        d = _DEPT_RE.search(rest)
        if d:
            department = d.group(1)
            break
    contacts = []
    for m in _CONTACT_RE.finditer(text):
        name = m.group(1)
        if name in _NOT_NAMES or name.endswith(("팀", "과", "국", "실", "센터")):
            continue
        entry = f"{name} {m.group(2)}"
        if entry not in contacts:
            contacts.append(entry)
    return department, contacts[:10]


# Cover-page field lines of a research report (parse_report_cover).
_COVER_TITLE = re.compile(r"(?:제목|보고서명|과제명)\s*[:：]\s*(.+)")
_COVER_AUTHORS = re.compile(r"(?:연구책임자|책임연구원|연구진|공동연구진|연구자)\s*[:：]?\s*(.+)")
_COVER_YEAR = re.compile(r"(?:발행연도|발행일|발간일|발행년도)\s*[:：]?\s*(\d{4})")
_COVER_PUBLISHER = re.compile(r"(?:발행처|발행기관|발간처)\s*[:：]?\s*(.+)")


@dataclass
class ReportMeta:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    publisher: str | None = None


def parse_report_cover(text: str) -> ReportMeta:
    """Cover-page fields of a research report: title, 연구책임자/연구진, 발행연도, 발행처."""
    meta = ReportMeta()
    head = text[:3000]
    for line in head.split("\n"):
        s = line.strip().lstrip("#").strip()
        m = _COVER_TITLE.match(s)
        if m and not meta.title:
            meta.title = m.group(1).strip()
        m = _COVER_AUTHORS.match(s)
        if m:
            for name in re.findall(r"[가-힣]{2,4}(?=\s|$|,|·|\()", m.group(1)):
                if name not in meta.authors and name not in (
                    "연구위원",
                    "부연구위원",
                    "연구원",
                    "선임연구위원",
                    "책임연구원",
                ):
                    meta.authors.append(name)
        m = _COVER_YEAR.match(s)
        if m:
            meta.year = int(m.group(1))
        m = _COVER_PUBLISHER.match(s)
        if m:
            meta.publisher = m.group(1).strip()
    return meta
