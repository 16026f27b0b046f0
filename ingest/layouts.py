"""Document types, titles, issuing bodies and dates from the layouts real Korean public
documents use: press releases (headline block after the header table), report covers
(title or 과제명/사업명, skipping 발간등록번호/ISBN/연구책임자), regulatory impact
analyses (the law's name), approval documents (the 제목 line, or the title under the
결재 block), notices/RFPs and forms of laws (별표/별지 서식).

Rules only look at text; they are measured on the labelled public-docs set
(tests/data/public_docs_labels.tsv, ``policykb metadata-eval``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from corpus import government
from ingest.dates import parse_date

# ----------------------------------------------------------------------------- helpers
_WS = re.compile(r"\s+")
_HANGUL = re.compile(r"[가-힣]")
_PRESS_WORDS = (
    "보도자료",
    "보도참고자료",
    "보도설명자료",
    "설명자료",
    "해명자료",
    "보도해명자료",
    "동정자료",
    "참고자료",
)
_FORM_MARK = re.compile(
    r"^[■□\s]*(?:[^\[【<]{0,60})?[\[【<〈]\s*(?:별지|별표|서식)\s*(?:제?\s*[\d-]+\s*(?:호)?\s*"
    r"(?:서식)?)?\s*[\]】>〉]"
)
_DATE_ONLY = re.compile(
    r"^(?:20\d{2}|19\d{2})\s*\.\s*\d{1,2}\s*\.(?:\s*\d{1,2}\s*\.?)?\s*(?:\([월화수목금토일]\))?$"
)
_APPROVAL_ROLE = re.compile(
    r"(주무관|팀장|과장|국장|실장|본부장|단장|원장|소장|대장|센터장|담당관|관리관|주사|협\s*조|"
    r"전결|代|서기관|사무관|시\s*민|의장|부장|차장|소방[장위교령사]|지대장|사무국장)"
)
_LABEL_LINE = re.compile(
    r"^(문서번호|결재일자|공개여부|방침번호|등록일자|수신|수신자|경유|\(경유\)|제목|발신|시행|접수|"
    r"협조자?|결\s*재|붙임)\b"
)
_BULLET = re.compile(r"^[-–▴▲□○■◇◆▶▷●•※<〈\[*ㅇ◦∘󰂐]")
_PAGE_NO = re.compile(r"^[-–]\s*[\divxlcIVXLC]+\s*[-–]$")
_NAME = re.compile(r"^[가-힣]{2,4}$")


def squeeze(text: str) -> str:
    return _WS.sub("", text)


def clean_title(text: str) -> str:
    """Whitespace collapsed, letter spacing (보 도 자 료) closed up."""
    text = _WS.sub(" ", text).strip()
    if re.fullmatch(r"(?:[가-힣] )+[가-힣]", text):
        text = text.replace(" ", "")
    return text


def _lines(text: str, limit: int = 200) -> list[str]:
    out = []
    for raw in text.split("\n"):
        s = _WS.sub(" ", raw).strip()
        if s:
            out.append(s)
            if len(out) >= limit:
                break
    return out


def _header_like(line: str) -> bool:
    """Header-table words of press releases, contact lines, URLs and request phrases."""
    s = squeeze(line)
    if not s:
        return True
    if any(s.startswith(w) for w in _PRESS_WORDS):
        return True
    if re.match(
        r"(보도(일시|시점)?|배포(일시)?|엠바고|즉시|담당(부서|자)?|책임자|연락처|문의|작성|매수|쪽수|"
        r"사진|붙임|\(온라인\)|\(지면\)|\(인터넷\)|\(방송\)|\(조간\)|\(석간\)|온라인|지면|"
        r"주시기바랍니다|바로보도|보도하여주시기|즉시보도|보도해)",
        s,
    ):
        return True
    if re.search(r"https?://|www\.|@|☎|\d{2,4}-\d{3,4}-\d{4}", line):
        return True
    if parse_date(line) and len(s) < 40:
        return True
    return bool(re.fullmatch(r"[\d\s.:()월화수목금토일~-]+", line))


# ------------------------------------------------------------------------------- types
def classify(text: str, filename: str = "") -> str:
    """One of DOC_TYPES recognized from the text (and, last, the file name)."""
    lines = _lines(text, 200)
    head = "\n".join(lines[:40])
    top = squeeze(" ".join(lines[:6]))
    first = lines[0] if lines else ""
    if any(w in top[:60] for w in _PRESS_WORDS) or re.search(r"보도(일시|시점)", top):
        return "보도자료"
    if "규제영향분석서" in top[:40]:
        return "규제영향분석서"
    if _FORM_MARK.match(first) or (len(lines) > 1 and _FORM_MARK.match(lines[1])):
        return "서식·별표"
    squeezed_head = squeeze(head)
    if ("문서번호" in squeezed_head[:300] and re.search("결재일자|\n결\\s*재\n", head)) or (
        re.search(r"\n\(?경유\)?\n", "\n".join(lines[:30])) and "\n제목" in "\n".join(lines[:40])
    ):
        return "결재문서"
    if re.search(
        r"제안요청서|공고제?\d{2,4}-\d+호|모집공고|입찰공고|공모요강|RFP|공고$", squeezed_head[:600]
    ) or re.search(r"공고$", squeeze(" ".join(lines[:3]))):
        return "공고·제안요청서"
    if "정책연구" in squeezed_head[:400] or (
        government.body_from_registration_number(head) and "연구" in squeezed_head[:400]
    ):
        return "정책연구"
    if _running_title(lines) and _running_title(lines).endswith("연구"):
        return "정책연구"
    if "본양식" in squeezed_head[:800] or "작성양식" in squeezed_head[:800]:
        return "서식·별표"
    if len(re.findall(r"[\[［]\s*[√V✔]?\s*[\]］]", head)) >= 4:
        return "서식·별표"
    cover = squeeze(" ".join(lines[:8])) + " " + filename
    if any(w in cover for w in ("정책브리프", "이슈리포트", "이슈 리포트", "브리프")):
        return "정책브리프"
    if any(w in cover for w in ("세미나", "토론회", "포럼", "워크숍")):
        return "세미나자료"
    if any(w in squeezed_head[:600] for w in ("연구보고서", "연구책임자", "기본연구", "수시연구")):
        return "연구보고서"
    return "기타"


# ------------------------------------------------------------------------------ titles
def press_title(text: str) -> str | None:
    """The headline block: the first run of non-header lines after the press-release word,
    stopping at a subtitle/bullet, a body sentence or the next header label."""
    lines = _lines(text, 60)
    start = 0
    for i, line in enumerate(lines[:8]):
        if any(w in squeeze(line) for w in _PRESS_WORDS):
            start = i + 1
            break
    run: list[str] = []
    for line in lines[start:40]:
        if _header_like(line) or _is_slogan(line):
            if run:
                break
            continue
        if _BULLET.match(line) or _PAGE_NO.match(line):
            if run:
                break
            continue
        if not _HANGUL.search(line):
            if run:
                break
            continue
        body_sentence = bool(re.search(r"(했다|하였다|한다|된다|이다|있다|밝혔다)\.?$", line))
        # a wrapped body line (PDF text has no paragraph breaks): long, ends mid-sentence
        wrapped = (
            bool(run)
            and len(line) >= 30
            and bool(re.search(r"[로은는이가을를에와과며고서]$", line))
        )
        if body_sentence or wrapped or len(line) > 90:
            break
        if run and len(" ".join(run)) + len(line) > 110:
            break
        run.append(line)
    return clean_title(" ".join(run)) if run else None


def _is_slogan(line: str) -> bool:
    return bool(
        re.search(r"\"[A-Z ]{4,}\"|“[A-Z ]{4,}”|좋은 도시,|모이면|청렴|슬로건|함께하는 ", line)
    )


_COVER_SKIP = re.compile(
    r"^(발간\s*등록\s*번호|발간등록번호|ISBN|ISSN|11\s*-\s*\d{7}|연\s*구\s*책\s*임\s*자|책임연구원|"
    r"공\s*동\s*연\s*구|연\s*구\s*진|연구보조|연\s*구\s*협\s*력|최\s*종\s*보\s*고\s*서|제출문|"
    r"[nㅁ■□]\s*연구)"
)


def cover_title(text: str) -> str | None:
    """A report cover's title: field values first (과제명, 사업명, 보고서명, 제목), then the
    first cover lines, skipping registration numbers, ISBN and author blocks; a running
    page header repeated through the summary when the file has no cover."""
    lines = _lines(text, 400)
    field = _field_value(lines[:120], ("과제명", "사업명", "보고서명", "연구과제명", "제목"))
    if field and not (lines and _COVER_SKIP.match(lines[0])):
        return field
    run: list[str] = []
    for line in lines[:15]:
        if _COVER_SKIP.match(line) or _PAGE_NO.match(line):
            if run:
                break
            continue
        if parse_date(line) or re.fullmatch(r"(19|20)\d{2}\s*\.\s*\d{1,2}\s*\.?", line):
            break
        if re.match(r"^(\d+[).]|[가-하][.)]|[ⅠⅡⅢⅣⅤ]|제\s*\d+\s*[장절])", line):
            break
        if not _HANGUL.search(line):
            if run:
                break
            continue
        run.append(line)
        if len(" ".join(run)) > 60 or len(run) >= 3:
            break
    if run and not re.match(r"^(\d+[).]|[가-하][.)])", run[0]):
        return clean_title(" ".join(run))
    return _running_title(lines)


_NUMBERED = re.compile(r"^\d+\)")


@functools.lru_cache(maxsize=8192)
def _label_key(line: str) -> str:
    """The line squeezed, without a leading "1)": what a field label is looked for in
    (the same lines are looked at for each label in turn)."""
    return _NUMBERED.sub("", squeeze(line))


def _field_value(lines: list[str], labels: tuple[str, ...]) -> str | None:
    """``사업명 : X`` on one line, or the label alone with the value on the next line."""
    for i, line in enumerate(lines):
        s = _label_key(line)
        for label in labels:
            if not s.startswith(label):
                continue
            m = re.match(r"^\s*(?:\d+\)\s*)?" + r"\s*".join(label) + r"\s*[:：]?\s*(.*)$", line)
            value = m.group(1).strip() if m else ""
            value = re.sub(r"^\((?:한글|국문)\)\s*", "", value)
            if not value and i + 1 < len(lines):
                value = re.sub(r"^\((?:한글|국문)\)\s*", "", lines[i + 1])
                if value in ("국문", "(국문)", "(한글)", "한글"):
                    value = ""
            if len(value) >= 4 and _HANGUL.search(value) and not _LABEL_LINE.match(value):
                return clean_title(value)
    return None


def _running_title(lines: list[str]) -> str | None:
    """A line repeated as a page header (>= 3 times) in the first pages."""
    counts: dict[str, int] = {}
    for line in lines[:200]:
        if len(line) >= 8 and _HANGUL.search(line) and not _PAGE_NO.match(line):
            counts[line] = counts.get(line, 0) + 1
    best = max(counts.items(), key=lambda kv: kv[1], default=(None, 0))
    return best[0] if best[1] >= 3 else None


def analysis_title(text: str) -> str | None:
    """규제영향분석서: the law or decree named under the heading."""
    lines = _lines(text, 20)
    for i, line in enumerate(lines[:5]):
        if "규제영향분석서" in squeeze(line):
            rest = line.replace("규제영향분석서", "").strip()
            parts = [rest] if rest else []
            for nxt in lines[i + 1 : i + 4]:
                if re.match(r"^<?\s*목\s*차|^소관부처|^\d+\.", nxt):
                    break
                parts.append(nxt)
            return clean_title(" ".join(parts)) if parts else None
    return None


def approval_title(text: str) -> str | None:
    """결재문서: the 제목 line; in the export layout (문서번호/결재일자 table) the title
    under the 결재 block, which is followed by its date line."""
    lines = _lines(text, 120)
    for i, line in enumerate(lines[:60]):
        m = re.match(r"^제\s*목\s*[:：]?\s*(.*)$", line)
        if m:
            value = m.group(1).strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            if value:
                return clean_title(value)
    for i, line in enumerate(lines[:60]):
        if i + 1 < len(lines) and _DATE_ONLY.match(lines[i + 1]) and _title_like(line):
            parts = [line]
            j = i - 1
            while j >= 0 and _title_like(lines[j]) and len(lines[j]) > 6 and len(parts) < 3:
                parts.insert(0, lines[j])
                j -= 1
            return clean_title(" ".join(parts))
    if lines and len(lines[0]) >= 8 and _title_like(lines[0]) and not _BULLET.match(lines[0]):
        if not re.search(r"(니다|다)\.?$", lines[0]):
            return clean_title(lines[0])
    after = 0
    for i, line in enumerate(lines[:40]):
        if re.fullmatch(r"협\s*조", line):
            after = i + 1
            break
    for line in lines[after:40]:
        if len(line) >= 8 and _title_like(line) and not _BULLET.match(line):
            return clean_title(line)
    return None


def _title_like(line: str) -> bool:
    if not _HANGUL.search(line) or _LABEL_LINE.match(line) or _NAME.match(line):
        return False
    if _APPROVAL_ROLE.fullmatch(line) or re.fullmatch(r"[代]?\s*[가-힣]{2,4}", line):
        return False
    if re.fullmatch(r"(전결\s*)?\d{2}/\d{2}", line) or parse_date(line) == line:
        return False
    if len(line) <= 8 and _APPROVAL_ROLE.search(line):
        return False
    return not re.match(r"^[가-힣A-Za-z0-9]+-\d+$", line)  # a document number


def notice_title(text: str) -> str | None:
    """공고·제안요청서: 사업명 field, else the cover lines after the 공고 number line
    (joined until one ends in 공고/모집/계획), before the word 제안요청서."""
    lines = _lines(text, 80)
    field = _field_value(lines[:80], ("사업명",))
    if field:
        return field
    run: list[str] = []
    for line in lines[:8]:
        s = squeeze(line)
        if re.search(r"공고\s*제?\s*[\d-]+\s*호$", line) or _header_like(line):
            if run:
                break
            continue
        if re.match(r"^(제안\s*요청서|\(RFP)", line) or _BULLET.match(line):
            break
        run.append(line)
        if re.search(r"(공고|모집|계획|요청서)$", s) or len(run) >= 3:
            break
    return clean_title(" ".join(run)) if run else None


def form_title(text: str) -> str | None:
    """서식·별표: the line after the 별표/별지 mark (with its "(…관련)" line)."""
    lines = _lines(text, 20)
    for i, line in enumerate(lines[:3]):
        if not _FORM_MARK.match(line):
            continue
        for j in range(i + 1, min(i + 6, len(lines))):
            cand = lines[j]
            if re.fullmatch(r"\(?(앞쪽|앞면|뒤쪽)\)?", cand) or re.fullmatch(r"제\s+호", cand):
                continue
            if not _HANGUL.search(cand) or cand.startswith("※"):
                continue
            cand = cand.strip("<>〈〉 ")
            if j + 1 < len(lines) and re.fullmatch(r"\(.*관련\)", lines[j + 1]):
                cand += lines[j + 1]
            return clean_title(cand)
    return None


def title_for(text: str, doc_type: str) -> str | None:
    if doc_type == "보도자료":
        return press_title(text)
    if doc_type == "규제영향분석서":
        return analysis_title(text)
    if doc_type == "결재문서":
        return approval_title(text)
    if doc_type == "공고·제안요청서":
        return notice_title(text)
    if doc_type == "서식·별표":
        return form_title(text) or approval_title(text)
    if doc_type in ("정책연구", "연구보고서"):
        return cover_title(text)
    return None


# --------------------------------------------------------------------------- publishers
@dataclass(slots=True)
class Issuer:
    publisher: str | None
    department: str | None = None


_UNIT_RE = re.compile(
    r"^([가-힣0-9]{2,20}(?:소방서|소방재난본부|특수구조단|사업소|센터|구조대|본부|사무소|"
    r"박물관|도서관|위원회|연구원|개발원|원|실|국|과|단|처|청))$"
)
_COUNCIL_RE = re.compile(r"(?<![가-힣])([가-힣]{1,6}(?:구|군|시)의회)")
_REGIONAL_OFFICE_RE = re.compile(r"(?<![가-힣])([가-힣]{1,4}지방)([가-힣]{1,6}청)(?![가-힣])")
_MINISTER_RE = re.compile(
    r"([가-힣]{2,15}(?:부|처|청|위원회|공사|공단))\s*\(\s*(?:장관|차관|청장|처장|위원장|사장|"
    r"이사장)\b"
)


def issuer_for(text: str, doc_type: str) -> Issuer:
    """The issuing body (발행기관) and the unit inside it, from the text only."""
    lines = _lines(text, 200)
    head = "\n".join(lines[:40])
    # 1. explicit fields
    for label in ("소관부처", "발행처", "발행기관", "발간처", "중앙행정기관명", "작성자"):
        value = _field_value(lines[:80], (label,))
        if value:
            body = _first_body(value)
            if body:
                return Issuer(body)
    # 2. local councils in the header (서초구의회 사무국)
    m = _COUNCIL_RE.search(head)
    if m and doc_type == "결재문서":
        return Issuer(m.group(1), _unit_after(head, m.group(1)))
    # 3. letterhead of approval documents: the line above 수신
    if doc_type in ("결재문서", "서식·별표"):
        issuer = _letterhead(lines, text)
        if issuer:
            return issuer
    # 4. "행정안전부(장관 윤호중)는" in a press release
    if doc_type == "보도자료":
        m = _MINISTER_RE.search(text[:4000])
        if m:
            body = government.lookup(m.group(1))
            if body:
                return Issuer(body.name)
    # 4b. a regional office of a national agency (경인지방통계청 -> 통계청)
    m = _REGIONAL_OFFICE_RE.search(head)
    if m and government.lookup(m.group(2)):
        return Issuer(government.lookup(m.group(2)).name, m.group(0))
    # 5. a body named near the top (not in an address: 경기도 부천시 양지로 …)
    found = _not_addresses("\n".join(lines[:12]))
    if found:
        _, body, spelling = found[0]
        return Issuer(body.name, _unit_after(head, spelling))
    # 6. 발간등록번호
    body = government.body_from_registration_number(head)
    if body:
        return Issuer(body.name)
    # 7. a unit whose body is known (담당 부서 대외경제국 -> 기획재정부)
    units = government.find_units(text[:20000])
    if units:
        _, body, unit = units[0]
        return Issuer(body.name, unit)
    # 8. the export layout of 서울 정보소통광장 (문서번호 / 결재일자 / 공개여부 table,
    # 방침번호 column "시민", 대시민공개): 서울특별시's own system
    top = squeeze(" ".join(lines[:8]))
    if doc_type in ("결재문서", "서식·별표") and (
        top.startswith("문서번호") and "결재일자" in top and "공개여부" in top
    ):
        return Issuer("서울특별시")
    # 9. the body the document names most (not as an address)
    if doc_type in ("보도자료", "공고·제안요청서", "정책연구"):
        counts: dict[str, int] = {}
        for _, body, _spelling in _not_addresses(text):
            if body.kind != "광역자치단체":
                counts[body.name] = counts.get(body.name, 0) + 1
        if counts:
            return Issuer(max(counts.items(), key=lambda kv: kv[1])[0])
    return Issuer(None)


_ADDRESS_AFTER = re.compile(r"\s*[가-힣]{1,6}(?:시|군|구)\s+[가-힣0-9]")


def _not_addresses(text: str) -> list[tuple[int, government.Body, str]]:
    out = []
    for at, body, spelling in government.find_bodies(text):
        if body.kind == "광역자치단체" and _ADDRESS_AFTER.match(text, at + len(spelling)):
            continue
        out.append((at, body, spelling))
    return out


def _first_body(value: str) -> str | None:
    found = government.find_bodies(value)
    if found:
        return found[0][1].name
    body = government.lookup(value.split()[0]) if value.split() else None
    return body.name if body else None


def _unit_after(text: str, spelling: str) -> str | None:
    m = re.search(
        re.escape(spelling)
        + r"\s*([가-힣0-9]{2,15}(?:사업소|센터|지역협력단|사무국|본부|처|실|국|과|팀))",
        text,
    )
    return m.group(1) if m else None


def _letterhead(lines: list[str], text: str) -> Issuer | None:
    for i, line in enumerate(lines[:40]):
        if squeeze(line) not in ("수신", "수신자") or i == 0:
            continue
        name = squeeze(lines[i - 1])
        if re.fullmatch(r"[A-Z]{2}[-\w*]+", name) and i >= 2:  # a receipt number line
            name = squeeze(lines[i - 2])
        body = government.lookup(name)
        if body:
            return Issuer(body.name)
        found = government.find_bodies(name)
        if found and found[0][0] == 0:
            return Issuer(found[0][1].name, name[len(found[0][2]) :] or None)
        if _UNIT_RE.match(name):
            local = _local_government(text)
            return Issuer(local, name) if local else None
    return None


def _local_government(text: str) -> str | None:
    """The metropolitan or provincial government of a unit: named in its address, its
    letterhead or its 수신 line (서울특별시 동작구 …, 서울특별시장)."""
    if re.search(r"탄생응원 서울|SEOUL MY SOUL|서\s*울\s*특\s*별\s*시", text[:3000]):
        return "서울특별시"  # its letterhead slogans and name
    for _, body, _spelling in government.find_bodies(text):
        if body.kind == "광역자치단체":
            return body.name
    return None


# ------------------------------------------------------------------------------- dates
def date_for(text: str, doc_type: str) -> tuple[bool, str | None]:
    """(decided, date): the layout's own date field when it has one; ``decided`` False
    leaves the date to the generic rules."""
    head = text[:6000]
    if doc_type == "결재문서":
        m = re.search(
            r"시행\s+[^\s()]+\s*\(?\s*((?:19|20)\d{2}\s*\.\s*\d{1,2}\s*\.\s*\d{1,2})", head
        )
        m = m or re.search(r"결재일자\s*((?:19|20)\d{2}\s*\.\s*\d{1,2}\s*\.\s*\d{1,2})", head)
        if m:
            return True, parse_date(m.group(1))
        return False, None
    if doc_type == "규제영향분석서":
        m = re.search(r"((?:19|20)\d{2}\s*\.\s*\d{1,2}\s*\.\s*\d{1,2}\s*\.?)\s*작\s*성", head)
        return True, parse_date(m.group(1)) if m else None
    if doc_type in ("정책연구", "연구보고서", "공고·제안요청서"):
        for line in _lines(text, 30)[:30]:
            m = re.fullmatch(r"((?:19|20)\d{2})\s*\.\s*(\d{1,2})\s*\.?", line)
            if m and 1 <= int(m.group(2)) <= 12:
                return True, f"{m.group(1)}-{int(m.group(2)):02d}-01"
    if doc_type == "정책연구":
        return True, None
    return False, None


__all__ = [
    "Issuer",
    "classify",
    "clean_title",
    "date_for",
    "issuer_for",
    "squeeze",
    "title_for",
]
