"""The query language: parse user text into a tree, then analyze it into engine-neutral
clauses. Nothing the user types reaches a search engine as syntax: backends only ever see
the analyzed clauses defined here.

Syntax: words, "exact phrase", -exclusion (-word, -"phrase"), OR (or |) between items,
parentheses, and field filters in Korean or English: 기관:/institute:, 지역:/region:,
유형:/type:, 연도:/year: (2019 or 2018..2020), 발행기관:/publisher:
(the issuing body as shown, 미상 included; aliases such as 국토부 resolve to 국토교통부).

Words (``match=auto``): a query of up to :data:`MSM_ALL_UP_TO` words needs every word; a
longer one needs :data:`MSM_RATIO` of its terms (rounded up; a question
:data:`QUESTION_MSM_RATIO`), and each missing term costs
its share of the score (coordination), so a pasted title whose target lacks one word still
finds it. A question's asked-for noun (해 in "명성황후가 암살당한 해는?") scores but is not
required (:func:`question_focus`). Each word scores once, however many parts Kiwi splits it
into (the backends' ``WORD_ONCE``). Only the ASCII ``"`` opens a phrase; Korean typography (「」『』‘’“”·, [보도자료],
a "- 부제 -" subtitle) is plain text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from analyzers import Analyzer
from analyzers.bigram import char_bigrams
from analyzers.kiwi import fold_width
from corpus import institutes as registry
from policykb.errors import InputError
from policykb.models import DOC_TYPES


class QuerySyntaxError(InputError, ValueError):
    """The query cannot be read; ``message`` is Korean text for the user, the parameter
    is always ``q``."""

    def __init__(self, message: str, code: str = "bad_query") -> None:
        super().__init__(message, code=code, param="q")


# ----------------------------------------------------------------------------- parse tree
@dataclass(frozen=True)
class Word:
    text: str
    # an aside: the number (from 1) of the parenthesis attached to a word it was written
    # in (``물가대책(안)``, ``인공지능(AI)``), 0 for none; a short one scores but is not
    # required (see ASIDES_OPTIONAL)
    aside: int = 0


@dataclass(frozen=True)
class PhraseNode:
    text: str


@dataclass(frozen=True)
class NotNode:
    child: Node


@dataclass(frozen=True)
class OrNode:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AndNode:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class FieldFilter:
    field: str  # institute | region | doc_type | year
    value: str


# A node of the parse tree.
Node = Word | PhraseNode | NotNode | OrNode | AndNode | FieldFilter

FIELD_NAMES = {
    "기관": "institute",
    "institute": "institute",
    "지역": "region",
    "region": "region",
    "유형": "doc_type",
    "type": "doc_type",
    "doc_type": "doc_type",
    "연도": "year",
    "year": "year",
    "발행기관": "publisher",
    "publisher": "publisher",
}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<quote>")
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens of the query language. Parentheses group only where they start a word
    (``(교통 OR 주거)``); attached to a word (``유닛(ECU)``, ``의결(1.25)``) they are text,
    as is a ``)`` with nothing to close (``1) 목표``): a pasted title is never regrouped.
    A ``-`` excludes only at the start of a word (``에이(A)-벤처스`` is text)."""
    tokens: list[tuple[str, str]] = []
    groups: list[bool | int] = []  # per open "(": True when it is syntax, else its number
    attached = 0  # parentheses attached to a word so far
    i = 0
    while i < len(text):
        m = _TOKEN_RE.match(text, i)
        assert m is not None
        kind = m.lastgroup or ""
        if kind == "quote":
            end = text.find('"', m.end())
            if end < 0:
                raise QuerySyntaxError(
                    '따옴표(")가 닫히지 않았습니다. 구절 검색은 "도시 재생"처럼 '
                    "따옴표 두 개로 감싸 주세요.",
                    "unbalanced_quote",
                )
            tokens.append(("phrase", text[m.end() : end]))
            i = end + 1
            continue
        if kind == "lparen":
            syntax = i == 0 or text[i - 1].isspace() or text[i - 1] in "(-"
            if not syntax:
                attached += 1
            groups.append(True if syntax else attached)
            if not syntax:
                tokens.append(("ws", " "))
                i = m.end()
                continue
        elif kind == "rparen":
            if not groups or groups.pop() is not True:
                tokens.append(("ws", " "))
                i = m.end()
                continue
        value = m.group()
        after_group = text[i - 1 : i] == "(" and bool(groups) and groups[-1] is True
        if kind == "word" and value.startswith("-") and i and not text[i - 1].isspace():
            if not after_group:
                # "에이(A)-벤처스": a hyphen attached to text before it is no exclusion
                value = value.lstrip("-")
        inside = [g for g in groups if g is not True]
        if kind == "word" and inside and not _is_exclusion(value):
            kind = f"aside:{inside[-1]}"  # inside parentheses attached to a word
        if kind != "ws" and value:
            tokens.append((kind, value))
        i = m.end()
    # a parenthesis never closed holds no aside: its words are words ("인공지능(AI 정책")
    unclosed = {f"aside:{g}" for g in groups if g is not True}
    return [("word" if k in unclosed else k, v) for k, v in tokens if k != "ws"]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self) -> AndNode:
        node = self.sequence()
        if self.peek() is not None:
            raise QuerySyntaxError("닫는 괄호 ')'가 여는 괄호보다 많습니다.", "unbalanced_paren")
        return node

    def sequence(self) -> AndNode:
        items = []
        while (tok := self.peek()) is not None and tok[0] != "rparen":
            item = self.or_expr()
            if isinstance(item, AndNode) and all(isinstance(c, Word) for c in item.children):
                # "(6.25~27)", "(퀀텀 코리아)": a group of plain words means the same words
                # in the run (a pasted title's aside), not a separately required group.
                items.extend(item.children)
            else:
                items.append(item)
        return AndNode(tuple(items))

    def or_expr(self) -> object:
        children = [self.unary()]
        while (tok := self.peek()) is not None and _is_word(tok) and tok[1] in ("OR", "|"):
            self.i += 1
            if self.peek() is None or self.peek()[0] == "rparen":
                break  # trailing OR: ignore it
            children.append(self.unary())
        return children[0] if len(children) == 1 else OrNode(tuple(children))

    def unary(self) -> object:
        tok = self.peek()
        assert tok is not None
        if tok[0] == "word" and _is_exclusion(tok[1]):
            self.i += 1
            return NotNode(self.atom(("word", tok[1][1:])))
        if tok[0] == "word" and tok[1] == "-" and self.i + 1 < len(self.tokens):
            self.i += 1
            nxt = self.peek()
            if nxt is not None and nxt[0] in ("phrase", "lparen"):
                return NotNode(self.primary())
            return Word("-")
        return self.primary()

    def primary(self) -> object:
        tok = self.peek()
        assert tok is not None
        if tok[0] == "lparen":
            self.i += 1
            inner = self.sequence()
            if self.peek() is None:
                raise QuerySyntaxError("여는 괄호 '('가 닫히지 않았습니다.", "unbalanced_paren")
            self.i += 1
            return inner
        self.i += 1
        return self.atom(tok)

    @staticmethod
    def atom(tok: tuple[str, str]) -> object:
        kind, value = tok
        if kind == "phrase":
            return PhraseNode(value)
        aside = int(kind.partition(":")[2]) if kind.startswith("aside:") else 0
        return _field_filter(value) or Word(value, aside=aside)


def _is_word(tok: tuple[str, str]) -> bool:
    """A word of text, in an aside or not (see :func:`_lex`)."""
    return tok[0] == "word" or tok[0].startswith("aside:")


def _field_filter(word: str) -> FieldFilter | None:
    """The field filter a word of the query is (``연도:2023``, ``기관:국토연구원``), or None."""
    name, colon, value = word.partition(":")
    field = FIELD_NAMES.get(name.lower()) if colon else None
    return FieldFilter(field, value) if field and value else None


def _is_exclusion(word: str) -> bool:
    """``-word`` excludes; ``-부제-``, ``--`` or ``-2.5%`` are text (subtitles, numbers)."""
    if len(word) < 2 or word[0] != "-" or word.endswith("-"):
        return False
    return word[1].isalpha()


def _subtitle_dashes(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A pasted title's "-부제 … 끝-" subtitle (a ``-word`` whose dash a later word's
    trailing dash closes) is text, not an exclusion: both dashes are dropped."""
    out = list(tokens)
    for i, (kind, value) in enumerate(out):
        if kind != "word" or not _is_exclusion(value):
            continue
        close = next(
            (j for j in range(i + 1, len(out)) if _is_word(out[j]) and out[j][1].endswith("-")),
            None,
        )
        if close is not None and len(out[close][1]) > 1:
            out[i] = ("word", value[1:])
            out[close] = (out[close][0], out[close][1][:-1])
    return out


def parse(text: str) -> AndNode:
    """Parse ``text``; raises :class:`QuerySyntaxError` on unbalanced quotes or parentheses."""
    return _Parser(_subtitle_dashes(_lex(text))).parse()


def plain(text: str) -> AndNode:
    """``text`` as plain words, with no query syntax at all."""
    return AndNode(tuple(Word(w) for w in text.split()))


def parse_lenient(text: str) -> tuple[AndNode, list[str]]:
    """Parse, or on a syntax error fall back to plain words with a notice."""
    try:
        return parse(text), []
    except QuerySyntaxError as exc:
        plain = re.sub(r'["()]', " ", text)
        return parse(plain), [exc.message + " 따옴표와 괄호를 빼고 일반 검색으로 찾았습니다."]


# ------------------------------------------------------------------------ analyzed clauses
@dataclass(frozen=True)
class TermAlt:
    """Matches a document containing any of ``terms`` (a part or its joined compounds)."""

    terms: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    """Alternatives that must match (all of them, or at least ``min_match``); ``phrase``
    (parts in order) is a ranking bonus."""

    alts: tuple[TermAlt, ...]
    phrase: tuple[str, ...] = ()
    min_match: int | None = None  # None: every alternative
    bigrams: tuple[str, ...] = ()  # character bigrams of the raw words (ranking only)
    compounds: tuple[str, ...] = ()  # single terms spelling the whole run (ranking only)
    # soft: min_match is not a filter but a coordination bonus (any term matches; a
    # document with at least min_match of them scores COORD_BONUS times more)
    soft: bool = False
    # the alternatives of each query word (a word Kiwi splits into parts has several):
    # the backends score each word once (its best alternative), matching stays per part
    words: tuple[tuple[TermAlt, ...], ...] = ()
    # the word of the query each alternative comes from, as typed (same order as alts):
    # how a partial match names the words it lacks
    spelled: tuple[str, ...] = ()
    # alternatives that score but are not required (the asked-for noun of a question)
    optional: tuple[TermAlt, ...] = ()
    # the run is a question someone asks (:func:`asks`): its proximity pairs weigh
    # QUESTION_PAIR_BOOST (policykb.backends.base.pair_boost)
    question: bool = False

    @property
    def required(self) -> int:
        return len(self.alts) if self.min_match is None else min(self.min_match, len(self.alts))


@dataclass(frozen=True)
class Phrase:
    """Parts at consecutive positions, or a single term spelling the whole phrase as one
    compound (phrase "스마트 시티" also matches 스마트시티)."""

    parts: tuple[str, ...]
    compounds: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnyOf:
    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class Bool:
    must: tuple[Clause, ...] = ()
    must_not: tuple[Clause, ...] = ()


# An analyzed, engine-neutral clause (the backends translate these).
Clause = AllOf | Phrase | AnyOf | Bool


@dataclass
class QueryFilters:
    institutes: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    doc_types: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    publishers: list[str] = field(default_factory=list)


def resolve_publisher(value: str) -> str:
    """A publisher filter value: a government body's canonical name for its aliases
    (국토부 -> 국토교통부), a registry institute's name, or the value as given."""
    from corpus import government

    body = government.lookup(value)
    if body:
        return body.name
    inst = registry.lookup(value)
    return inst.name if inst else value.strip()


@dataclass
class AnalyzedQuery:
    root: Bool
    highlight_terms: frozenset[str]
    filters: QueryFilters
    empty: bool  # no search terms (browse with filters only)
    # the periods the query's words name ("2023년 8월", "’21년"): a ranking prior
    dates: tuple[DateRef, ...] = ()
    # the query as typed less its field filters (words_without_filters): what a
    # question's wording and a title's length are read from
    words: str = ""


@dataclass(frozen=True)
class DateRef:
    """A period a query names: a year, a month or quarter of a year, or a month or a day
    of a month of any year (``year`` 0: "8월 의료제품 허가 현황", "(8.10)")."""

    year: int
    month: int | None = None
    day: int | None = None
    quarter: int | None = None  # 1-4: "2022년 3분기", "’23.3분기", "2023년 1/4분기"


# "2023년 8월", "2023. 8.", "2023.08", "’23.8월", "[23.3월]", "’23년 6월": a month of a year;
# "2021년", "2021", "’21년", "(2024.12.)" without a month: a year. A two-digit year needs an
# apostrophe or a following ".8월" or "년 5월" ("20년 후" is no date); a four-digit one is
# 1900-2099 standing alone.
_YEAR4 = r"(?<![\d.,])(?P<y4>(?:19|20)\d\d)"
_YEAR2 = r"(?:[’‘'`](?P<y2>\d\d)|(?<![\d.,])(?P<y2m>\d\d)(?=(?:\.|년)\s*\d{1,2}\s*월))"
_MONTH_NO = r"(?P<m>1[0-2]|0?[1-9])"
_MONTH = rf"(?:\s*년도?\s*{_MONTH_NO}\s*월|\s*\.\s*{_MONTH_NO.replace('m>', 'm2>')}(?:\s*월|(?![\d~가-힣])))"
# "2022년 3분기", "2023.4분기", "’23.3분기", "2023년 1/4분기": a quarter of a year
_QUARTER = r"(?:\s*년도?\s*|\s*\.\s*)(?P<q>[1-4])(?:\s*/\s*4)?\s*분기"
_DATE_RE = re.compile(rf"(?:{_YEAR4}|{_YEAR2})(?:{_QUARTER}|{_MONTH})?(?!\d)")
# "8월 의료제품 허가 현황", "(8월 경제 브리프)": a month of any year (not "1~3월", "3.6월")
_BARE_MONTH_RE = re.compile(r"(?<![\d.~∼/])(1[0-2]|[1-9])\s*월(?!\s*\d)")
# The parts of a query's dates read (switches for `policykb eval --ablate`).
QUARTERS = True
BARE_MONTHS = True
# "(8.10)", "(11.5.)", "(6.25~27)", "(3.6.~3.12.)": a month and day in parentheses
_DAY_RE = re.compile(r"\((1[0-2]|0?[1-9])\.\s*(3[01]|[12]\d|0?[1-9])\.?\s*(?=[)~∼(-])")


def query_dates(text: str) -> tuple[DateRef, ...]:
    """The years, months and days the query ``text`` names, in order (no duplicates;
    excluded words and field filters such as 연도:2019 are not read). A question names
    none: its date is when something happened ("2002년 대선 후보로 … 정당의 이름은?"),
    not when a document about it was issued."""
    if is_question(text):
        return ()
    text = fold_width(text)  # ２０２３년 ８월 is 2023년 8월
    text = re.sub(r"(?<!\S)-\S+|\S+:\S+", " ", text)
    out: list[DateRef] = []
    for m in _DATE_RE.finditer(text):
        if m.group("y4"):
            year = int(m.group("y4"))
        else:
            year = 2000 + int(m.group("y2") or m.group("y2m"))
        month = m.group("m") or m.group("m2")
        month = int(month) if month else None
        quarter = int(m.group("q")) if m.group("q") and QUARTERS else None
        ref = DateRef(year, month, quarter=quarter)
        if ref not in out:
            out.append(ref)
    for m in _BARE_MONTH_RE.finditer(_DATE_RE.sub(" ", text)) if BARE_MONTHS else ():
        ref = DateRef(0, int(m.group(1)))
        if ref not in out:
            out.append(ref)
    for m in _DAY_RE.finditer(text):
        ref = DateRef(0, int(m.group(1)), int(m.group(2)))
        if ref not in out:
            out.append(ref)
    return tuple(out)


def _alts_for(tokens) -> tuple[list[TermAlt], list[str]]:
    """For each primary token: itself or any extra token (joined compound, synonym)
    whose span covers it."""
    alts: list[TermAlt] = []
    for _, alt in _token_alts(tokens):
        if alt not in alts:
            alts.append(alt)
    return alts, [t.term for t in tokens if not t.joined]


def _token_alts(tokens) -> list[tuple[object, TermAlt]]:
    """(primary token, its alternative) in order."""
    extras = [t for t in tokens if t.joined]
    out = []
    for p in tokens:
        if p.joined:
            continue
        terms = [p.term] + [x.term for x in extras if x.start <= p.start and p.end <= x.end]
        out.append((p, TermAlt(tuple(dict.fromkeys(terms)))))
    return out


def _spelled(typed: list[tuple[str, tuple[TermAlt, ...]]], alts) -> tuple[str, ...]:
    """For each of ``alts``: the query word it comes from, as typed (from
    :func:`_typed_words`)."""
    word_of = {a: w for w, word_alts in typed for a in word_alts}
    return tuple(word_of.get(a, a.terms[0]) for a in alts)


def _word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-separated word of ``text``."""
    return [m.span() for m in re.finditer(r"\S+", text)]


def _word_alts(text: str, tokens, i: int) -> tuple[TermAlt, ...]:
    """The alternatives of the primary tokens starting in word ``i`` of ``text``."""
    start, end = _word_spans(text)[i]
    return tuple(dict.fromkeys(a for t, a in _token_alts(tokens) if start <= t.start < end))


def _typed_words(text: str, tokens) -> list[tuple[str, tuple[TermAlt, ...]]]:
    """Each whitespace-separated word of ``text`` (query punctuation stripped) with its
    term alternatives, in order: a primary token belongs to the word its start falls in,
    an alternative to its first; words without one are left out."""
    spans = _word_spans(text)
    words: list[tuple[str, list[TermAlt]]] = [(text[a:b], []) for a, b in spans]
    seen: set[TermAlt] = set()
    for tok, alt in _token_alts(tokens):
        if alt in seen:
            continue
        seen.add(alt)
        i = next((k for k, (a, b) in enumerate(spans) if a <= tok.start < b), None)
        if i is None:  # offsets outside the text: a word of its own
            words.append((tok.term, [alt]))
        else:
            words[i][1].append(alt)
    return [
        (w.strip('"()-').rstrip("?？") or alts[0].terms[0], tuple(alts))
        for w, alts in words
        if alts
    ]


# Asides of a pasted title (``물가대책(안)``, ``인공지능(AI)``, ``현황[잠정]``,
# ``[보도자료]``): the words in brackets are a label, a gloss or a tag the document's
# text often does not repeat; under match=auto they score without being required.
ASIDES_OPTIONAL = True
ASIDE_MAX_WORDS = 2  # a longer parenthesis is content ("(자금세탁방지 관련 … 확인)")
# Brackets inside or before a word, each closed by its own kind; a full-width
# parenthesis only attached to a word, as an ASCII one (the lexer's)
_BRACKETED = re.compile(r"\[[^\[\]]*\]|［[^［］]*］|〔[^〔〕]*〕|【[^【】]*】|(?<=\S)（[^（）]*）")
# a date or number in brackets ("(2023년 3월)", "(3.17)") tells one issue of a series from
# the next: it stays required like any word
_DIGIT = re.compile(r"\d")


def _is_aside(text: str) -> bool:
    """Whether a bracketed ``text`` (brackets included or not) reads as an aside: at
    most :data:`ASIDE_MAX_WORDS` words and no digit."""
    return len(text.split()) <= ASIDE_MAX_WORDS and not _DIGIT.search(text)


def _aside_spans(text: str, asides: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The character spans of ``text`` that are asides: ``asides`` (one span per
    attached parenthesis) plus its bracketed parts, those :func:`_is_aside`."""
    spans = [*asides, *(m.span() for m in _BRACKETED.finditer(text))]
    return [(a, b) for a, b in spans if _is_aside(text[a:b])]


# A question asks for the entity named by its last noun ("명성황후가 암살당한 해는?": 해,
# "... 대학교 이름은 무엇인가?": 이름); the answer's text names the entity, rarely the
# noun. Words that only ask (interrogative pronouns and their forms) are skipped.
QUESTION_FOCUS = True
_INTERROGATIVE = re.compile(
    r"^(무엇|뭐|누구|누가|어디|언제|몇|얼마|어느|무슨|왜|어떻게|어떤|어째서)"
)
_INTERROGATIVE_END = re.compile(r"(는가|은가|인가|나요|까요|니까|는지|을까|었나|았나|였나|하나)$")
_FOCUS_PARTICLES = ("은", "는", "이", "가")


def words_without_filters(q: str) -> str:
    """``q`` less the field filters :func:`parse` reads in it (``연도:2023``,
    ``(기관:국토연구원)`` …; not a word inside a quoted phrase): the words a question's
    wording and a title's length are read from."""
    try:
        filters = {v for kind, v in _lex(q) if _is_word((kind, v)) and _field_filter(v)}
    except QuerySyntaxError:  # a lenient parse: every word is text
        return q
    if not filters:
        return q
    return " ".join(w for w in q.split() if w.strip("()") not in filters)


def is_question(text: str) -> bool:
    """Whether ``text`` reads as a question: it ends with ``?`` or an interrogative
    ending (-는가, -인가, -나요 …)."""
    raw = text.split()
    if not raw:
        return False
    last = raw[-1].rstrip("?？ ")
    return text.rstrip().endswith(("?", "？")) or bool(_INTERROGATIVE_END.search(last))


def asks(text: str) -> bool:
    """Whether ``text`` is a question someone asks (ends with ``?`` or a direct
    interrogative ending: 무엇인가?, 졸업했나요?), not a title worded as an indirect
    question ("… 영위할 수 있는지", a legal interpretation's subject), which names its
    document's subject rather than restating one of its sentences."""
    if not is_question(text):
        return False
    return not text.rstrip().rstrip("?？ ").endswith("지")


def is_interrogative(word: str) -> bool:
    """Whether ``word`` only asks (무엇인가, 누구, 몇, 어느 …)."""
    return bool(_INTERROGATIVE.match(word))


def question_focus(text: str, tokens) -> int | None:
    """Index (in ``text.split()``) of the asked-for noun of a question, or None. A
    question ends with ``?`` or an interrogative ending; its focus is the last word, or
    the one before a closing interrogative word, when that word is a noun followed by a
    topic or subject particle (해는, 이름은, 곳은, 사람은, 것은)."""
    raw = text.split()
    if len(raw) < 2:
        return None
    last = raw[-1].rstrip("?？ ")
    if not is_question(text):
        return None
    i = len(raw) - 1
    if _INTERROGATIVE.match(last):
        i -= 1
    word = raw[i].rstrip("?？")
    if i < 1 or len(word) < 2 or not word.endswith(_FOCUS_PARTICLES):
        return None
    spans = _word_spans(text)
    start = spans[i][0]
    noun_end = start + len(word) - 1
    ends = [t.end for t in tokens if not t.joined and start <= t.start < spans[i][1]]
    return i if ends and max(ends) == noun_end else None


def _whole_run_compounds(tokens) -> tuple[str, ...]:
    parts = [t for t in tokens if not t.joined]
    start, end = parts[0].start, parts[-1].end
    return tuple(
        dict.fromkeys(t.term for t in tokens if t.joined and t.start == start and t.end == end)
    )


def resolve_region(value: str) -> str:
    region = registry.canonical_region(value)
    if region is None:
        raise QuerySyntaxError(
            f"알 수 없는 지역입니다: {value}. 17개 시·도 이름(예: 서울, 경기, 충남)을 써 주세요.",
            "unknown_region",
        )
    return region


def resolve_institutes(value: str) -> list[str]:
    names = registry.canonical_names(value)
    if names is None:
        raise QuerySyntaxError(f"알 수 없는 기관입니다: {value}", "unknown_institute")
    return names


def resolve_doc_type(value: str) -> str:
    if value not in DOC_TYPES:
        raise QuerySyntaxError(
            f"알 수 없는 문서 유형입니다: {value}. 가능한 값: " + ", ".join(DOC_TYPES),
            "unknown_doc_type",
        )
    return value


def parse_year_range(value: str) -> tuple[int | None, int | None]:
    m = re.fullmatch(r"(\d{4})?(?:\s*(\.\.|~|-)\s*(\d{4})?)?", value.strip())
    if not m or not (m.group(1) or m.group(3)):
        raise QuerySyntaxError(
            f"연도는 2019 또는 2018..2020 형식으로 써 주세요: {value}", "bad_year"
        )
    lo = int(m.group(1)) if m.group(1) else None
    hi = int(m.group(3)) if m.group(3) else (lo if not m.group(2) else None)
    return lo, hi


MATCH_MODES = ("auto", "all", "any")
# match=auto: every word of a query of up to MSM_ALL_UP_TO words; beyond, MSM_RATIO of the
# terms (rounded up). Tuned on the dev halves of `policykb eval` (bench/README.md).
MSM_ALL_UP_TO = 3
# A phrase inside a long query counts like its words (see QueryAnalysis._long_run).
PHRASE_IN_LONG = True
MSM_RATIO = 0.8
# ... and a question someone asks (:func:`asks`) QUESTION_MSM_RATIO: a question rewords its
# answer's sentence, so fewer of its words are the document's (dev halves, eighth session:
# titles 0.75 -> 0.8 gained on fsc and kdi, questions at 0.8 lost on KorQuAD -0.0043).
QUESTION_MSM_RATIO = 0.75
# True: for long queries the minimum is a coordination bonus, not a filter.
MSM_SOFT = True
# A longer query keeps its MAX_QUERY_TERMS most informative terms (lowest document
# frequency) instead of being refused.
MAX_QUERY_TERMS = 32


def minimum_should_match(words: int, terms: int, question: bool = False) -> int | None:
    """Terms a document must contain for a run of ``words`` words analyzed into ``terms``
    term alternatives under ``match=auto`` (None: all of them); ``question``: the run is a
    question someone asks (:data:`QUESTION_MSM_RATIO` instead of :data:`MSM_RATIO`)."""
    if words <= MSM_ALL_UP_TO:
        return None
    ratio = QUESTION_MSM_RATIO if question else MSM_RATIO
    need = max(min(terms, MSM_ALL_UP_TO), math.ceil(ratio * terms))
    return None if need >= terms else need


def analyze_query(tree: AndNode, analyzer: Analyzer, match: str = "auto") -> AnalyzedQuery:
    """Turn a parse tree into engine-neutral clauses, analyzing text with ``analyzer``.

    ``match="all"`` requires every word of a run of plain words, ``"auto"`` every word
    of a short run and most terms of a long one (:func:`minimum_should_match`), ``"any"``
    one (ranked retrieval: more matching words rank higher)."""
    return QueryAnalysis(analyzer, match).run(tree)


class QueryAnalysis:
    """One analysis of one parse tree: walks the nodes, analyzes their text, collects the
    field filters and the terms to highlight (those of positive clauses only)."""

    def __init__(self, analyzer: Analyzer, match: str = "auto") -> None:
        self.analyzer = analyzer
        self.match = match
        self.filters = QueryFilters()
        self.highlight: set[str] = set()

    def run(self, tree: AndNode) -> AnalyzedQuery:
        root = self._and(tree.children, True)
        if root is None:
            root = Bool()
        return AnalyzedQuery(root, frozenset(self.highlight), self.filters, empty=not root.must)

    def _min_match(self, words: int, alts: int, question: bool = False) -> int | None:
        match self.match:
            case "any":
                return 1
            case "auto":
                return minimum_should_match(words, alts, question)
            case _:
                return None

    def _text(
        self, text: str, positive: bool, asides: Sequence[tuple[int, int]] = ()
    ) -> AllOf | None:
        """A run of plain words: each part (or a compound covering it) is required, or
        ``min_match`` of them; the parts of asides (``asides``: character spans of
        ``text``, and bracketed parts of words) and a question's asked-for noun score
        without being required."""
        tokens = self.analyzer.analyze(text)
        if not tokens:
            return None
        alts, parts = _alts_for(tokens)
        if positive:
            self.highlight.update(t.term for t in tokens)
        typed = _typed_words(text, tokens)
        words = tuple(word_alts for _, word_alts in typed)
        optional: tuple[TermAlt, ...] = ()
        focus = question_focus(text, tokens) if QUESTION_FOCUS and self.match == "auto" else None
        if focus is not None:
            optional = _word_alts(text, tokens, focus)
        spans = _aside_spans(text, asides) if ASIDES_OPTIONAL and self.match == "auto" else []

        def in_aside(tok) -> bool:
            return any(b <= tok.start < e for b, e in spans)

        if spans:
            # an alternative a word outside the asides also has stays required
            pairs = _token_alts(tokens)
            outside = {a for t, a in pairs if not in_aside(t)}
            optional = tuple(
                dict.fromkeys(
                    [*optional, *(a for t, a in pairs if in_aside(t) and a not in outside)]
                )
            )
        optional = optional[:MAX_QUERY_TERMS]  # bounded like the required terms
        if optional and len(optional) < len(alts):
            # the asked-for noun and the asides score; the other words are matched as
            # usual (all of a short query, most of a long one)
            alts = [a for a in alts if a not in optional]
            words = tuple(w for w in (tuple(a for a in w if a in alts) for w in words) if w)
        else:
            optional = ()
        question = asks(text)
        # the length rule counts the words as typed, asides included (a pasted title)
        min_match = self._min_match(len(text.split()), len(alts), question)
        return AllOf(
            tuple(alts),
            tuple(parts) if len(parts) > 1 else (),
            min_match=min_match,
            soft=MSM_SOFT and self.match == "auto" and min_match is not None,
            bigrams=tuple(dict.fromkeys(char_bigrams(fold_width(text)))) if positive else (),
            compounds=_whole_run_compounds(tokens) if len(parts) > 1 else (),
            words=words,
            spelled=_spelled(typed, alts),
            optional=optional,
            question=question,
        )

    def _phrase(self, text: str, positive: bool) -> Clause | None:
        tokens = self.analyzer.analyze(text)
        parts = [t.term for t in tokens if not t.joined]
        if not parts:
            return None
        if positive:
            self.highlight.update(t.term for t in tokens)
        if len(parts) == 1:
            alts, _ = _alts_for(tokens)
            return AllOf(tuple(alts))
        return Phrase(tuple(parts), _whole_run_compounds(tokens))

    def _node(self, node: Node, positive: bool) -> Clause | None:
        match node:
            case Word(text=text):
                return self._text(text, positive)
            case PhraseNode(text=text):
                return self._phrase(text, positive)
            case FieldFilter():
                self._filter(node)
                return None
            case NotNode(child=child):
                inner = self._node(child, False)
                return None if inner is None else Bool(must_not=(inner,))
            case OrNode(children=children):
                kids = [c for c in (self._node(ch, positive) for ch in children) if c is not None]
                if not kids:
                    return None
                return kids[0] if len(kids) == 1 else AnyOf(tuple(kids))
            case AndNode(children=children):
                inner = self._and(children, positive)
                if inner is not None and len(inner.must) == 1 and not inner.must_not:
                    return inner.must[0]
                return inner
        raise TypeError(node)

    def _and(self, children: tuple[Node, ...], positive: bool) -> Bool | None:
        """Consecutive plain words form one run (one :class:`AllOf`); negations collect
        into ``must_not``."""
        must: list[Clause] = []
        must_not: list[Clause] = []
        run: list[tuple[str, int]] = []  # (text, its parenthesis: Word.aside)
        soft_phrases = positive and self._long_run(children)
        for ch in children:
            if isinstance(ch, Word) or (soft_phrases and isinstance(ch, PhraseNode)):
                run.append((ch.text, ch.aside if isinstance(ch, Word) else 0))
                continue
            self._flush(run, must, positive)
            clause = self._node(ch, positive)
            match clause:
                case None:
                    pass
                case Bool(must=(), must_not=negated) if negated:
                    must_not.extend(negated)
                case _:
                    must.append(clause)
        self._flush(run, must, positive)
        if not must and not must_not:
            return None
        return Bool(tuple(must), tuple(must_not))

    def _long_run(self, children: tuple[Node, ...]) -> bool:
        """Under ``match=auto``, whether a phrase among plain words is read as its words:
        in a long query (more than :data:`MSM_ALL_UP_TO` words, a pasted title with
        "quoted" words) a phrase counts toward the minimum like any word, as in
        Elasticsearch's minimum-should-match, instead of excluding every document
        without it; its words keep the run's phrase and proximity bonuses."""
        if not PHRASE_IN_LONG or self.match != "auto":
            return False
        if not any(isinstance(c, Word) for c in children):
            return False
        n = sum(len(c.text.split()) for c in children if isinstance(c, Word | PhraseNode))
        return n > MSM_ALL_UP_TO

    def _flush(self, run: list[tuple[str, int]], must: list[Clause], positive: bool) -> None:
        if run:
            asides: dict[int, tuple[int, int]] = {}  # parenthesis -> its span in the run
            at = 0
            for text, aside in run:
                if aside:
                    asides[aside] = (asides.get(aside, (at, 0))[0], at + len(text))
                at += len(text) + 1
            clause = self._text(" ".join(t for t, _ in run), positive, list(asides.values()))
            if clause is not None:
                must.append(clause)
            run.clear()

    def _filter(self, node: FieldFilter) -> None:
        filters = self.filters
        match node.field:
            case "institute":
                filters.institutes.extend(resolve_institutes(node.value))
            case "region":
                filters.regions.append(resolve_region(node.value))
            case "doc_type":
                filters.doc_types.append(resolve_doc_type(node.value))
            case "year":
                filters.year_from, filters.year_to = parse_year_range(node.value)
            case "publisher":
                filters.publishers.append(resolve_publisher(node.value))


# ------------------------------------------------------------------------ long queries
def _walk_allof(clause: Clause, fn: Callable[[AllOf], AllOf]) -> Clause:
    """``clause`` with every :class:`AllOf` inside replaced by ``fn(AllOf)``."""
    match clause:
        case AllOf():
            return fn(clause)
        case AnyOf(clauses=clauses):
            return AnyOf(tuple(_walk_allof(c, fn) for c in clauses))
        case Bool(must=must, must_not=must_not):
            return Bool(tuple(_walk_allof(c, fn) for c in must), must_not)
    return clause


def _count_alts(clause: Clause) -> int:
    match clause:
        case AllOf(alts=alts):
            return len(alts)
        case AnyOf(clauses=clauses):
            return sum(_count_alts(c) for c in clauses)
        case Bool(must=must):
            return sum(_count_alts(c) for c in must)
    return 0


def limit_terms(
    aq: AnalyzedQuery,
    doc_freqs: Callable[[list[str]], dict[str, int]],
    limit: int = MAX_QUERY_TERMS,
) -> tuple[AnalyzedQuery, bool]:
    """Keep the ``limit`` most informative term alternatives (lowest document frequency
    of their first term; earlier ones on ties) of a long query; (query, whether pruned).
    Minimum-should-match is recomputed over the kept terms."""
    if _count_alts(aq.root) <= limit:
        return aq, False
    alts: list[TermAlt] = []

    def collect(c: AllOf) -> AllOf:
        alts.extend(c.alts)
        return c

    _walk_allof(aq.root, collect)
    df = doc_freqs(list(dict.fromkeys(a.terms[0] for a in alts)))
    order = sorted(range(len(alts)), key=lambda i: (df.get(alts[i].terms[0], 0), i))
    keep_ids = {id(alts[i]) for i in order[:limit]}
    kept_terms = {alts[i].terms[0] for i in order[:limit]}

    def prune(c: AllOf) -> AllOf:
        kept = tuple(a for a in c.alts if id(a) in keep_ids)
        if not kept:
            kept = c.alts[:1]
        if c.min_match is None:
            need = None
        elif c.min_match == 1:
            need = 1
        else:
            need = minimum_should_match(len(kept), len(kept), c.question)
        words = tuple(w for w in (tuple(a for a in w if a in kept) for w in c.words) if w)
        return replace(
            c,
            alts=kept,
            words=words,
            phrase=tuple(p for p in c.phrase if p in kept_terms),
            min_match=need,
        )

    return replace(aq, root=_walk_allof(aq.root, prune)), True
