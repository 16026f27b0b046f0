"""The Kiwi analyzer: content morphemes with offsets into the original text.

Documents and queries go through :meth:`Analyzer.analyze`; nothing else turns text into
index terms. Each token keeps ``start``/``end`` character offsets into the string that was
analyzed, so highlights land on the original words (협의체 inside 협의체를).

Compounds and spacing: Kiwi reads 스마트시티 as one noun and 스마트 시티 as two. Every pair of
adjacent nouns (written together or separated by one space) is therefore also emitted as a
joined term at the first part's position (스마트 + 시티 -> 스마트시티). The query side asks, for
each part, "the part itself or a joined form containing it", so both spellings match.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
import warnings
from dataclasses import dataclass

from kiwipiepy import Kiwi, Match

# Tags whose morphemes become index terms.
NOUN_TAGS = frozenset({"NNG", "NNP", "XR"})
FOREIGN_TAGS = frozenset({"SL"})
NUMBER_TAGS = frozenset({"SN"})
HANJA_TAGS = frozenset({"SH"})
PREDICATE_TAGS = frozenset({"VV", "VA"})
JOINABLE_TAGS = NOUN_TAGS | FOREIGN_TAGS | HANJA_TAGS
# Light verbs and copulas carry no topic.
STOP_TERMS = frozenset({"하다", "되다", "있다", "없다", "이다", "아니다", "같다"})

MATCH_OPTIONS = Match.ALL | Match.JOIN_NOUN_PREFIX | Match.JOIN_NOUN_SUFFIX

ANALYZER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class AnalyzedToken:
    """One index term. ``position`` counts content tokens; joined compounds share the
    position of their first part and have ``joined=True``."""

    term: str
    start: int
    end: int
    position: int
    joined: bool = False
    # True when the next content token follows this one directly or after one space,
    # so the two may be read as one compound (used by the query side).
    joins_next: bool = False


def normalize_text(text: str) -> str:
    """Unicode NFC; the analyzer and the store agree on this form."""
    return unicodedata.normalize("NFC", text)


class Analyzer:
    """Thread-safe wrapper around one Kiwi instance (one per process, warmed up once)."""

    def __init__(self, num_workers: int = 0) -> None:
        with warnings.catch_warnings():
            # 0 means single-threaded since kiwipiepy 0.21; it warns about the old meaning.
            warnings.simplefilter("ignore", DeprecationWarning)
            self._kiwi = Kiwi(num_workers=num_workers)
        self._parallel = num_workers != 0
        self._lock = threading.Lock()
        self._kiwi.tokenize("워밍업 문장입니다.")  # load the model now, not on the first query
        self.identity = self._identity()

    def _identity(self) -> str:
        import kiwipiepy

        raw = f"kiwipiepy={kiwipiepy.__version__};analyzer={ANALYZER_VERSION};match={int(MATCH_OPTIONS)}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def analyze(self, text: str) -> list[AnalyzedToken]:
        """Index terms of ``text`` (expected NFC) with offsets into ``text``."""
        if not text or not text.strip():
            return []
        with self._lock:
            morphs = self._kiwi.tokenize(text, match_options=MATCH_OPTIONS)
        return _terms_from_morphs(text, morphs)

    def analyze_many(self, texts: list[str]) -> list[list[AnalyzedToken]]:
        if not texts:
            return []
        if not self._parallel:
            return [self.analyze(t) for t in texts]
        with self._lock:
            results = list(self._kiwi.tokenize(texts, match_options=MATCH_OPTIONS))
        return [
            _terms_from_morphs(t, m) if t.strip() else []
            for t, m in zip(texts, results, strict=True)
        ]


def _term_of(form: str, tag: str) -> str | None:
    if tag in NOUN_TAGS or tag in HANJA_TAGS:
        return form
    if tag in FOREIGN_TAGS:
        return form.lower()
    if tag in NUMBER_TAGS:
        return form.replace(",", "")
    if tag in PREDICATE_TAGS:
        return form + "다"
    return None


def _terms_from_morphs(text: str, morphs) -> list[AnalyzedToken]:
    content: list[tuple[str, str, int, int]] = []  # term, tag, start, end
    for m in morphs:
        tag = m.tag.split("-")[0] if m.tag.startswith(("VV", "VA")) else m.tag
        term = _term_of(m.form, tag)
        if not term or term in STOP_TERMS:
            continue
        start = m.start
        end = m.start + m.len
        if end > len(text):
            end = len(text)
        content.append((term, tag, start, end))

    out: list[AnalyzedToken] = []
    for pos, (term, tag, start, end) in enumerate(content):
        joins_next = False
        if pos + 1 < len(content):
            nterm, ntag, nstart, _nend = content[pos + 1]
            gap = text[end:nstart]
            joins_next = (
                tag in JOINABLE_TAGS
                and ntag in JOINABLE_TAGS
                and (tag in FOREIGN_TAGS) == (ntag in FOREIGN_TAGS)
                and gap in ("", " ", "\n")
            )
        out.append(AnalyzedToken(term, start, end, pos, False, joins_next))
        if joins_next:
            nterm, _ntag, _nstart, nend = content[pos + 1]
            out.append(AnalyzedToken(term + nterm, start, nend, pos, True, False))
    return out


_analyzer: Analyzer | None = None
_analyzer_lock = threading.Lock()


def get_analyzer() -> Analyzer:
    """The process-wide analyzer, created (and warmed up) on first use."""
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                _analyzer = Analyzer()
    return _analyzer
