"""The Kiwi analyzer: content morphemes with offsets into the original text.

Documents and queries go through :meth:`Analyzer.analyze`; nothing else turns text into
index terms. Each token keeps ``start``/``end`` character offsets into the string that was
analyzed, so highlights land on the original words (협의체 inside 협의체를).

Primary tokens are the content morphemes at consecutive positions (for phrases). Extra
tokens (``joined=True``) share the position of their first part and span the words they
stand for:

- every pair of adjacent nouns, written together or one space apart (스마트 + 시티 ->
  스마트시티), and longer runs that spell a dictionary word (도시 재생 뉴딜 -> 도시재생뉴딜);
- the parts of a dictionary compound (스마트시티 -> 스마트, 시티);
- the canonical form of a synonym or abbreviation (국토부 -> 국토교통부).

The query side accepts, for each primary token, the token itself or any extra token
covering it, so spelling and spacing variants, compounds and abbreviations match.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from kiwipiepy import Kiwi, Match

from analyzers.lexicon import DEFAULT_SYNONYMS, DEFAULT_USER_DICT, Lexicon, load_lexicon
from analyzers.tokens import Token

NOUN_TAGS = frozenset({"NNG", "NNP", "XR"})
FOREIGN_TAGS = frozenset({"SL"})
NUMBER_TAGS = frozenset({"SN"})
HANJA_TAGS = frozenset({"SH"})
PREDICATE_TAGS = frozenset({"VV", "VA"})
JOINABLE_TAGS = NOUN_TAGS | FOREIGN_TAGS | HANJA_TAGS
# Light verbs and copulas carry no topic.
STOP_TERMS = frozenset({"하다", "되다", "있다", "없다", "이다", "아니다", "같다"})
MAX_JOIN = 4  # longest run of parts joined back into a dictionary word
# Letter-spaced words, as headings, tables and title pages set them ("위 촉 장",
# "아 프 리 카", "서 울 특 별 시", an author "차 우 규"): a run of at least three single
# Hangul syllables one to three spaces apart, alone between non-Hangul characters. Kiwi
# reads each syllable as a word, so the run is also analysed closed up and its terms are
# added over the letters they cover (a run that was ordinary words, "한 번 더", only adds a
# few extra terms beside the usual ones).
_SPACED_RUN = re.compile(
    r"(?<![\uac00-\ud7a3])[\uac00-\ud7a3](?: {1,3}[\uac00-\ud7a3]){2,}(?![\uac00-\ud7a3])"
)
_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
# A long noun Kiwi returns whole (공해방지법, 규제샌드박스, OOV or dictionary compound) is
# indexed as its parts plus the whole word, when Kiwi's n-best analysis spells it as nouns
# only, at most DECOMPOUND_MARGIN (log-probability) below its best reading: so "공해 방지법"
# and "공해방지법" meet, and a part finds the compound. Loanwords (이모티콘, 인센티브) have no
# such reading and stay whole.
DECOMPOUND_MIN = 4  # syllables
DECOMPOUND_MARGIN = 9.0
DECOMPOUND_CANDIDATES = 8
DECOMPOUND_CACHE = 200_000

MATCH_OPTIONS = Match.ALL | Match.JOIN_NOUN_PREFIX | Match.JOIN_NOUN_SUFFIX

# 3: multi-word dictionary forms split at spaces; 4: long nouns decompounded; 5: full-width
# ASCII read as ASCII; 6: letter-spaced words (위 촉 장) read closed up as well
ANALYZER_VERSION = "6"

# Full-width forms of ASCII (U+FF01-FF5E: ２０２３, ＡＩ, （주）) and the ideographic space,
# as HWP files and pasted text often carry them: one character for one, so offsets hold.
_WIDTH_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

AnalyzedToken = Token  # the former name of the token type


def fold_width(text: str) -> str:
    """``text`` with full-width ASCII forms as ASCII and the ideographic space as a space
    (same length: an offset into the result is an offset into ``text``)."""
    return text.translate(_WIDTH_FOLD)


def normalize_text(text: str) -> str:
    """Unicode NFC; the analyzer and the store agree on this form."""
    return unicodedata.normalize("NFC", text)


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


_kiwis: dict[str, tuple[Kiwi, threading.Lock]] = {}
_kiwis_lock = threading.RLock()
# Kiwis kept for dictionaries no longer asked for (a dictionary edit makes a new one); an
# analyzer in use keeps its own Kiwi alive.
KEEP_KIWIS = 1


# Threads of its own for each Kiwi built from now on (0: single-threaded); see
# :func:`set_kiwi_threads`.
_kiwi_threads = 0

_spare: list[Kiwi] = []  # built without user words and never used: for the next dictionary
_spare_building = threading.Event()


def _new_kiwi(threads: int = 0) -> Kiwi:
    with warnings.catch_warnings():
        # 0 means single-threaded since kiwipiepy 0.21; it warns about the old meaning.
        warnings.simplefilter("ignore", DeprecationWarning)
        return Kiwi(num_workers=threads)


def set_kiwi_threads(threads: int) -> None:
    """Give the Kiwis this process builds from now on ``threads`` threads of their own,
    which :meth:`Analyzer.analyze_stream` uses (one model load instead of a second Kiwi).
    For a process that streams (an ingest run), never for one that forks workers after
    loading Kiwi: threads do not survive a fork. Tokens are the same either way."""
    global _kiwi_threads
    _kiwi_threads = threads


def prepare_spare_kiwi(wait: bool = False) -> None:
    """Build a Kiwi for the next user-dictionary edit in the background (its model loads
    now, not during the edit; a dictionary edit then only adds its words). At most one
    is kept; ``wait`` blocks until it is ready."""

    def build() -> None:
        try:
            kiwi = _new_kiwi()
            with _kiwis_lock:
                if not _spare:
                    _spare.append(kiwi)
        finally:
            _spare_building.clear()

    with _kiwis_lock:
        start = not _spare and not _spare_building.is_set()
        if start:
            _spare_building.set()
    if start:
        thread = threading.Thread(target=build, name="spare-kiwi", daemon=True)
        thread.start()
        if wait:
            thread.join()


def _kiwi_for(lexicon: Lexicon) -> tuple[Kiwi, threading.Lock]:
    """One Kiwi per process and user dictionary (a Kiwi takes ~0.4 GB), warmed up; the
    least recently used beyond :data:`KEEP_KIWIS` are dropped from the cache."""
    with _kiwis_lock:
        if lexicon.user_digest in _kiwis:
            _kiwis[lexicon.user_digest] = _kiwis.pop(lexicon.user_digest)  # most recent last
        else:
            kiwi = _spare.pop() if _spare and not _kiwi_threads else _new_kiwi(_kiwi_threads)
            for w in lexicon.user_words:
                kiwi.add_user_word(w.word, w.tag, w.score)
            kiwi.tokenize("워밍업 문장입니다.")  # load the model now, not on the first query
            _kiwis[lexicon.user_digest] = (kiwi, threading.Lock())
            while len(_kiwis) > KEEP_KIWIS:
                del _kiwis[next(iter(_kiwis))]
        return _kiwis[lexicon.user_digest]


_threaded: dict[tuple[str, int], Kiwi] = {}


def _threaded_kiwi(lexicon: Lexicon, threads: int) -> Kiwi:
    """A Kiwi with ``threads`` threads of its own for streams (:meth:`Analyzer.analyze_stream`),
    the same dictionary as :func:`_kiwi_for`'s; one per process and dictionary (the latest)."""
    key = (lexicon.user_digest, threads)
    with _kiwis_lock:
        kiwi = _threaded.get(key)
        if kiwi is None:
            kiwi = _new_kiwi(threads)
            for w in lexicon.user_words:
                kiwi.add_user_word(w.word, w.tag, w.score)
            kiwi.tokenize("워밍업 문장입니다.")
            _threaded.clear()
            _threaded[key] = kiwi
        return kiwi


class Analyzer:
    """Kiwi plus the lexicon's compounds and synonyms; thread-safe."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or load_lexicon()
        self._kiwi, self._lock = _kiwi_for(self.lexicon)
        self._splits: dict[str, tuple[str, ...] | None] = {}  # long noun -> parts
        self._parts = {w.word: w.parts for w in self.lexicon.user_words if w.parts}
        self._known = {w.word for w in self.lexicon.user_words}
        self._synonyms: dict[str, str] = {}
        for group in self.lexicon.synonym_groups:
            keys = [self._key(entry) for entry in group]
            canonical = keys[0]
            self._known.update(keys)
            for key in keys[1:]:
                if key and key != canonical:
                    self._synonyms[key] = canonical
        self.identity = self._identity()

    @property
    def lexicon_version(self) -> str:
        """The digest of the dictionary and synonyms (part of :attr:`identity`)."""
        return self.lexicon.digest

    def lexicon_maps(self) -> tuple[dict[str, tuple[str, ...]], frozenset[str], dict[str, str]]:
        """What the lexicon adds to Kiwi's analysis, as data: compound parts by word, the
        known words (runs of nouns spelling one are joined) and synonym -> canonical term.
        Two analyzers differ on a text only where these (or Kiwi's user words) differ."""
        return dict(self._parts), frozenset(self._known), dict(self._synonyms)

    def _identity(self) -> str:
        import kiwipiepy

        raw = (
            f"kiwipiepy={kiwipiepy.__version__};analyzer={ANALYZER_VERSION};"
            f"match={int(MATCH_OPTIONS)};lexicon={self.lexicon.digest}"
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def _key(self, entry: str) -> str:
        """The single term an entry of the lexicon stands for (its parts concatenated)."""
        primary = [t.term for t in self._base(fold_width(normalize_text(entry)))]
        return "".join(primary)

    def _base(self, text: str) -> list[_Prim]:
        with self._lock:
            morphs = self._kiwi.tokenize(text, match_options=MATCH_OPTIONS)
        return _prims(text, morphs, self._split)

    def _split(self, noun: str) -> tuple[str, ...] | None:
        """The parts of a long noun Kiwi returned whole (see :data:`DECOMPOUND_MARGIN`),
        or None; words of the lexicon stay as they are."""
        if (
            len(noun) < DECOMPOUND_MIN
            or noun in self._known
            or noun in self._parts
            or not all("\uac00" <= c <= "\ud7a3" for c in noun)
        ):
            return None
        if noun in self._splits:
            return self._splits[noun]
        with self._lock:
            readings = self._kiwi.analyze(
                noun, top_n=DECOMPOUND_CANDIDATES, match_options=MATCH_OPTIONS
            )
        parts = None
        best = readings[0][1] if readings else 0.0
        for morphs, score in readings:
            if score < best - DECOMPOUND_MARGIN:
                break
            if (
                len(morphs) > 1
                and len(morphs[0].form) > 1  # 비+수도권: a prefix, not a part (비수도권)
                and all(m.tag in NOUN_TAGS and not m.oov for m in morphs)
                and "".join(m.form for m in morphs) == noun
            ):
                parts = tuple(m.form for m in morphs)
                break
        if len(self._splits) >= DECOMPOUND_CACHE:
            self._splits.clear()
        self._splits[noun] = parts
        return parts

    def analyze(self, text: str) -> list[Token]:
        """Index terms of ``text`` (expected NFC) with offsets into ``text``; full-width
        ASCII forms are read as ASCII (``２０２３`` is the term ``2023``)."""
        if not text or not text.strip():
            return []
        text = fold_width(text)
        return self._tokens(text, self._base(text))

    def analyze_many(self, texts: list[str]) -> list[list[Token]]:
        return [self.analyze(t) for t in texts]

    def analyze_stream(self, texts: Iterable[str], threads: int = 2) -> Iterator[list[Token]]:
        """:meth:`analyze` of each text, in order, with Kiwi's own ``threads`` threads:
        the texts are pulled lazily (the iterable may do work per item) and Kiwi analyses
        ahead of the caller without the GIL while the caller post-processes each result
        here. Same tokens as :meth:`analyze` (the same Kiwi configuration and code)."""
        # A Kiwi built with threads (set_kiwi_threads) serves the stream itself, without
        # the lock: kiwipiepy documents a Kiwi with its own pool shared by Python threads
        # (a call for one text runs on the calling thread), so a query or a title analyzed
        # meanwhile goes on as usual.
        own = self._kiwi.num_workers >= threads
        kiwi = self._kiwi if own else _threaded_kiwi(self.lexicon, threads)
        pending: deque[str] = deque()

        def feed() -> Iterator[str]:
            for text in texts:
                text = fold_width(text) if text else text
                pending.append(text)
                if text and text.strip():
                    yield text

        for morphs in kiwi.tokenize(feed(), match_options=MATCH_OPTIONS):
            text = pending.popleft()
            while not (text and text.strip()):
                yield []
                text = pending.popleft()
            yield self._tokens(text, _prims(text, morphs, self._split))
        while pending:  # trailing empty texts
            pending.popleft()
            yield []

    def _tokens(self, text: str, prim: list[_Prim]) -> list[Token]:
        out: list[Token] = []
        seen: set[tuple[str, int, int]] = set()

        def extra(term: str, start: int, end: int, pos: int) -> None:
            if (term, start, end) not in seen:
                seen.add((term, start, end))
                out.append(Token(term, start, end, pos, True))
                canonical = self._synonyms.get(term)
                if canonical and (canonical, start, end) not in seen:
                    seen.add((canonical, start, end))
                    out.append(Token(canonical, start, end, pos, True))

        # link[k]: prim[k] continues a run of nouns from prim[k - 1] (each pair once)
        link = [False] + [_joinable(a, b, text[a.end : b.start]) for a, b in pairwise(prim)]
        last = len(prim) - 1
        for pos, p in enumerate(prim):
            seen.add((p.term, p.start, p.end))
            out.append(Token(p.term, p.start, p.end, pos, False))
            if p.whole:  # a decompounded noun: the whole word over its parts
                extra(p.whole, p.start, p.whole_end, pos)
            canonical = self._synonyms.get(p.term)
            if canonical:
                extra(canonical, p.start, p.end, pos)
            parts = self._parts.get(p.term)
            if parts and text[p.start : p.end] == p.term:
                offset = p.start
                for part in parts:
                    extra(part, offset, offset + len(part), pos)
                    offset += len(part)
            # Runs of adjacent nouns: every pair, longer runs when they spell a known word.
            if pos == last or not link[pos + 1]:
                continue
            joined = p.term
            end = p.end
            for k in range(pos + 1, min(pos + MAX_JOIN, len(prim))):
                if not link[k]:
                    break
                nxt = prim[k]
                joined += nxt.term
                end = nxt.end
                if k == pos + 1 or joined in self._known:
                    extra(joined, p.start, end, pos)
        if " " in text:
            runs = list(_SPACED_RUN.finditer(text))
            primaries = [(t.start, t.position) for t in out if not t.joined] if runs else []
            for run in runs:
                self._closed_up(run, primaries, extra)
            if runs:  # positions non-decreasing, as the engines' position lists need
                out.sort(key=lambda t: t.position)
        return out

    def _closed_up(self, run: re.Match, primaries: list[tuple[int, int]], extra: Callable) -> None:
        """The terms of the letter-spaced ``run`` read closed up (see :data:`_SPACED_RUN`),
        added through ``extra`` as tokens over the letters they cover, at the position of
        the last primary token (``primaries``: (start, position), in order) starting at
        or before them."""
        at = [run.start() + m.start() for m in _SYLLABLE.finditer(run.group())]
        closed = "".join(run.group().split())
        for t in self._tokens(closed, self._base(closed)):
            if len(t.term) < 2:
                continue
            start, end = at[t.start], at[t.end - 1] + 1
            pos = 0
            for p_start, p_pos in primaries:  # the last primary starting at or before
                if p_start > start:
                    break
                pos = p_pos
            extra(t.term, start, end, pos)


@dataclass(slots=True)
class _Prim:  # not frozen: built for every content morpheme, and frozen init costs 3x
    term: str
    tag: str
    start: int
    end: int
    whole: str = ""  # the first part of a decompounded noun: the noun and its end
    whole_end: int = 0


_TERM_TAGS = NOUN_TAGS | HANJA_TAGS | FOREIGN_TAGS | NUMBER_TAGS  # a term as they are


def _prims(text: str, morphs, split: Callable[[str], tuple[str, ...] | None]) -> list[_Prim]:
    """The primary terms of Kiwi's morphemes of ``text`` (most morphemes, the particles
    and endings, are passed over on their tag alone); ``split`` gives the parts of a long
    noun Kiwi returned whole (:meth:`Analyzer._split`), indexed with the noun."""
    out: list[_Prim] = []
    append = out.append
    n = len(text)
    for m in morphs:
        tag = m.tag
        if tag not in _TERM_TAGS:
            if not tag.startswith(("VV", "VA")):
                continue
            tag = tag.split("-")[0]
            if tag not in PREDICATE_TAGS:
                continue
        term = _term_of(m.form, tag)
        if not term or term in STOP_TERMS:
            continue
        start = m.start
        end = min(start + m.len, n)
        if " " in term:
            # Kiwi knows some titles as one multi-word noun ("파우스트 서곡"): index
            # each word, so a single word finds it and both engines see the same terms.
            for w in re.finditer(r"\S+", text[start:end]):
                if w.group() not in STOP_TERMS:
                    append(_Prim(w.group(), tag, start + w.start(), start + w.end()))
            continue
        if tag in NOUN_TAGS and term == text[start:end]:
            parts = split(term)
            if parts:
                offset = start
                for i, part in enumerate(parts):
                    if i == 0:
                        append(_Prim(part, tag, offset, offset + len(part), term, end))
                    else:
                        append(_Prim(part, tag, offset, offset + len(part)))
                    offset += len(part)
                continue
        append(_Prim(term, tag, start, end))
    return out


def _joinable(a: _Prim, b: _Prim, gap: str) -> bool:
    return (
        a.tag in JOINABLE_TAGS
        and b.tag in JOINABLE_TAGS
        and (a.tag in FOREIGN_TAGS) == (b.tag in FOREIGN_TAGS)
        and gap in ("", " ", "\n")
    )


_analyzers: dict[tuple, Analyzer] = {}
_analyzers_lock = threading.Lock()
KEEP_ANALYZERS = 4


def get_analyzer(
    user_dict: Path | str | None = DEFAULT_USER_DICT,
    synonyms: Path | str | None = DEFAULT_SYNONYMS,
) -> Analyzer:
    """The process-wide analyzer for these lexicon files (the shipped ones by default);
    a changed file gives a new analyzer with a new identity. Analyzers of the same
    dictionary share one Kiwi."""
    lexicon = load_lexicon(user_dict, synonyms)
    key = (lexicon.user_digest, lexicon.synonym_digest, str(user_dict), str(synonyms))
    with _analyzers_lock:
        if key in _analyzers:
            _analyzers[key] = _analyzers.pop(key)
        else:
            _analyzers[key] = Analyzer(lexicon)
            while len(_analyzers) > KEEP_ANALYZERS:
                del _analyzers[next(iter(_analyzers))]
        return _analyzers[key]
