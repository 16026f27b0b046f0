"""Search suggestions: completions while typing, 초성 input, typos and the wrong keyboard
layout, from a structure built at index time (never from the documents at query time).

Built from the store (on ingest and reindex) out of the collection's frequent terms and
phrases, document titles, the user dictionary and institute and publisher names; saved
in the data directory. Every entry has a key: its 두벌식 keystrokes with spaces removed
(스마트 시티 -> ㅅㅡㅁㅏㅌㅡㅅㅣㅌㅣ), so spacing never matters. Lookups:

- prefix: the query's keystrokes are a prefix of the key (스마트 시 -> 스마트시티; a
  half-typed last syllable works too: 스맡 -> 스마트);
- initials (초성): ㅅㅁㅌㅅㅌ or 스ㅁㅌ against a second sorted array of 초성 keys;
- layout: latin letters read as 두벌식 keys (tmakxmtlxl -> 스마트시티), and Hangul read as
  latin keys (ㄷㄴㅎ -> ESG);
- typo: edit distance over keystroke jamo (탄소중닙 -> 탄소중립), through a
  deletion index (every key with one jamo removed), verified with Damerau-Levenshtein.

Each lookup is a binary search over sorted arrays; prefixes that cover many entries have
their best entries precomputed, so a one-letter query costs the same as a long one.
Ranking: match quality first (prefix > 초성, layout > typo), then frequency.
"""

from __future__ import annotations

import heapq
import logging
import marshal
import math
import os
import re
import sys
import threading
import time
import unicodedata
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzers import jamo
from policykb.models import UNKNOWN_PUBLISHER, Document
from policykb.service import RequestError, int_param

log = logging.getLogger(__name__)

FORMAT = 1
KINDS = ("term", "phrase", "title", "dictionary", "institute", "publisher", "catalogue")
WORD_KINDS = frozenset({"term", "phrase", "dictionary", "institute", "publisher"})
MAX_QUERY = 100  # characters; longer input is an error
MAX_LIMIT = 20
SCAN = 600  # a prefix range longer than this is answered from the precomputed best
TOP = 20  # best entries kept per large prefix range
MAX_TERMS = 200_000  # terms and phrases kept (most frequent first)
MAX_TITLE = 80  # longer titles are not suggested
TYPO_WORDS = 150_000  # entries in the typo index (most frequent words)
TYPO_MIN = 4  # shortest key (in jamo) corrected for typos
TYPO_MAX = 40  # longest entry key (in jamo) kept for typo lookups
DICT_WEIGHT = 20  # a dictionary word counts as if this many documents had it
END = "\U0010ffff"

QUALITY = {"prefix": 10.0, "initials": 8.0, "layout": 8.0, "typo": 6.0}

_NUMERIC_RE = re.compile(r"^[\d.,%~\-]+$")
_HANGUL_RE = re.compile("[\uac00-\ud7a3]")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str  # one of KINDS
    match: str  # prefix | initials | layout | typo
    weight: int  # documents (or uses) behind the entry
    score: float

    def to_json(self) -> dict:
        return {"text": self.text, "kind": self.kind, "match": self.match, "weight": self.weight}


def key_of(text: str) -> str:
    """The lookup key: NFC, spaces removed, 두벌식 keystrokes, latin lowercased."""
    return jamo.keystrokes(_SPACE_RE.sub("", unicodedata.normalize("NFC", text)))


def initials_key(text: str) -> str:
    return jamo.initials(_SPACE_RE.sub("", unicodedata.normalize("NFC", text)))


def damerau(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (adjacent transpositions count 1), or
    ``limit + 1`` when it is larger than ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = i
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)]


def _deletes(key: str) -> set[str]:
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


# ------------------------------------------------------------------------------ build
class Collector:
    """Counts what the collection offers as suggestions, one document at a time."""

    def __init__(self) -> None:
        self.df: Counter[str] = Counter()
        self.surfaces: Counter[tuple[str, str]] = Counter()  # (term, as written)
        self.titles: Counter[str] = Counter()
        self.names: dict[str, Counter[str]] = {"institute": Counter(), "publisher": Counter()}
        self.documents = 0
        self._usable: dict[str, bool] = {}  # term -> worth suggesting (not a number, ...)

    def add(self, doc: Document) -> None:
        if doc.canonical_id:  # a copy: counted once, with its original
            return
        self.documents += 1
        surfaces, usable = self.surfaces, self._usable
        terms: set[str] = set()
        for text, tokens in [(doc.title, doc.title_tokens)] + [
            (p.text, p.tokens) for p in doc.passages
        ]:
            for t in tokens:
                term = t.term
                ok = usable.get(term)
                if ok is None:
                    ok = usable[term] = len(term) >= 2 and not _NUMERIC_RE.match(term)
                # predicates (추진하다, 크다) are not search words
                if not ok or (not t.joined and term.endswith("다")):
                    continue
                terms.add(term)
                if t.joined or term.isascii():  # keep how it is written: 주택 공급, FTA
                    surface = text[t.start : t.end]
                    if surface == term:
                        continue
                    if "  " in surface or "\n" in surface:
                        surface = _SPACE_RE.sub(" ", surface).strip()
                    if surface.replace(" ", "").lower() == term.lower():
                        surfaces[(term, surface)] += 1
        self.df.update(terms)
        title = _SPACE_RE.sub(" ", doc.title or "").strip()
        if 2 <= len(title) <= MAX_TITLE:
            self.titles[title] += 1
        if doc.institute:
            self.names["institute"][doc.institute] += 1
        if doc.institute_published and doc.institute_published != doc.institute:
            self.names["publisher"][doc.institute_published] += 1
        if doc.publisher not in (UNKNOWN_PUBLISHER, doc.institute, doc.institute_published):
            self.names["publisher"][doc.publisher] += 1


@dataclass
class _Entry:
    text: str
    kind: str
    weight: int


def build(
    documents: Iterable[Document],
    dictionary: Iterable[str] = (),
    names: Iterable[str] = (),
    catalogue: Iterable[str] = (),
) -> SuggestIndex:
    """Build the index from ``documents`` (their analyzed tokens), the user dictionary's
    words, registry names (institutes, their aliases) and catalogue titles."""
    started = time.perf_counter()
    col = Collector()
    for doc in documents:
        col.add(doc)
    min_df = 2 if col.documents >= 200 else 1
    entries: dict[str, _Entry] = {}

    def add(text: str, kind: str, weight: int) -> None:
        _add_entry(entries, text, kind, weight)

    terms = [(t, n) for t, n in col.df.items() if n >= min_df]
    terms.sort(key=lambda tn: -tn[1])
    written: dict[str, tuple[str, int]] = {}  # term -> its most common written form
    for (term, surface), uses in col.surfaces.items():
        if uses > written.get(term, ("", 0))[1]:
            written[term] = (surface, uses)
    for term, n in terms[:MAX_TERMS]:
        text, kind = term, "term"
        if term in written:
            surface, uses = written[term]
            if uses * 2 > n:  # mostly written so: suggest it as written (주택 공급, FTA)
                text, kind = surface, ("phrase" if " " in surface else "term")
        add(text, kind, n)
    dictionary = list(dictionary)
    for word in dictionary:
        add(word, "dictionary", max(DICT_WEIGHT, col.df.get(word.replace(" ", ""), 0)))
    for kind, counter in col.names.items():
        for name, n in counter.items():
            add(name, kind, n)
    for name in names:
        add(name, "institute", 1)
    for title, n in col.titles.items():
        add(title, "title", n)
    for title in catalogue:
        add(title, "catalogue", 1)
    index = SuggestIndex.from_entries(list(entries.items()), dictionary)
    log.info(
        "suggestions: %d entries from %d documents in %.1fs",
        len(index.texts),
        col.documents,
        time.perf_counter() - started,
    )
    return index


def _add_entry(entries: dict[str, _Entry], text: str, kind: str, weight: int) -> None:
    """Add a candidate; candidates with the same key are one entry (their weights add up,
    the heavier one names it; a dictionary word keeps its spelling)."""
    text = _SPACE_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    key = key_of(text)
    if not key:
        return
    have = entries.get(key)
    if have is None:
        entries[key] = _Entry(text, kind, weight)
        return
    if weight > have.weight:
        have.text, have.kind = (have.text if have.kind == "dictionary" else text), kind
    have.weight += weight


def _top_table(keys: list[str], ids: array, weights: array) -> dict[str, list[int]]:
    """For every prefix whose range in ``keys`` is longer than :data:`SCAN`, the ids of its
    :data:`TOP` heaviest entries."""
    table: dict[str, list[int]] = {}
    length = 1
    while True:
        found = False
        start = 0
        n = len(keys)
        while start < n:
            if len(keys[start]) < length:
                start += 1
                continue
            prefix = keys[start][:length]
            end = bisect_left(keys, prefix + END, start)
            if end - start > SCAN:
                found = True
                table[prefix] = heapq.nlargest(
                    TOP, (ids[i] for i in range(start, end)), key=weights.__getitem__
                )
            start = end
        if not found:
            return table
        length += 1


class SuggestIndex:
    """Sorted arrays over the entries; see the module docstring."""

    def __init__(self, data: dict) -> None:
        self.texts: list[str] = data["texts"]
        self.kinds: bytes = data["kinds"]
        self.weights = array("i", data["weights"])
        self.pkeys: list[str] = data["pkeys"]
        self.pids = array("i", data["pids"])
        self.ptop: dict[str, list[int]] = data["ptop"]
        self.ikeys: list[str] = data["ikeys"]
        self.iids = array("i", data["iids"])
        self.itop: dict[str, list[int]] = data["itop"]
        self.tkeys: list[str] = data["tkeys"]  # deletion keys, sorted
        self.toffsets = array("i", data["toffsets"])
        self.tids = array("i", data["tids"])
        self.keys: list[str] = data["keys"]  # entry id -> key
        # the user dictionary's words it was built with (None: an index from before)
        self.dictionary: list[str] | None = data.get("dictionary")

    def with_dictionary(self, words: Iterable[str]) -> SuggestIndex:
        """This index with the user dictionary ``words`` instead of the ones it was built
        with, the rest unchanged: what a dictionary edit changes at once (the full rebuild
        that follows also counts the terms the edit re-analyzed). A removed word's entry
        goes, even where the collection had it as a term too: its documents were just
        re-analyzed without it, and the rebuild puts back what they still have."""
        words = list(words)
        old, new = set(self.dictionary or ()), set(words)
        gone = {key_of(w) for w in old - new}
        entries = {
            key: _Entry(self.texts[i], KINDS[self.kinds[i]], self.weights[i])
            for i, key in enumerate(self.keys)
            if key not in gone
        }
        for word in words:
            if word not in old:
                _add_entry(entries, word, "dictionary", DICT_WEIGHT)
        return SuggestIndex.from_entries(list(entries.items()), words)

    @classmethod
    def from_entries(
        cls, items: list[tuple[str, _Entry]], dictionary: list[str] | None = None
    ) -> SuggestIndex:
        items.sort(key=lambda kv: kv[0])
        texts = [e.text for _, e in items]
        keys = [k for k, _ in items]
        weights = array("i", (min(e.weight, 2**31 - 1) for _, e in items))
        kinds = bytes(KINDS.index(e.kind) for _, e in items)
        pids = array("i", range(len(items)))
        inits = sorted((initials_key(t), i) for i, t in enumerate(texts) if _HANGUL_RE.search(t))
        ikeys = [k for k, _ in inits]
        iids = array("i", (i for _, i in inits))
        word_ids = [
            i
            for i in range(len(items))
            if KINDS[kinds[i]] in WORD_KINDS and TYPO_MIN <= len(keys[i]) <= TYPO_MAX
        ]
        word_ids.sort(key=lambda i: -weights[i])
        postings: dict[str, list[int]] = {}
        for i in word_ids[:TYPO_WORDS]:
            for d in {keys[i], *_deletes(keys[i])}:
                postings.setdefault(d, []).append(i)
        tkeys = sorted(postings)
        toffsets = array("i", [0])
        tids = array("i")
        for d in tkeys:
            tids.extend(postings[d])
            toffsets.append(len(tids))
        return cls(
            {
                "texts": texts,
                "kinds": kinds,
                "weights": weights,
                "pkeys": keys,
                "pids": pids,
                "ptop": _top_table(keys, pids, weights),
                "ikeys": ikeys,
                "iids": iids,
                "itop": _top_table(ikeys, iids, weights),
                "tkeys": tkeys,
                "toffsets": toffsets,
                "tids": tids,
                "keys": keys,
                "dictionary": dictionary,
            }
        )

    # ---------------------------------------------------------------------- storage
    def save(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file)."""
        data = {
            "format": FORMAT,
            "python": list(sys.version_info[:2]),
            "texts": self.texts,
            "kinds": self.kinds,
            "weights": self.weights.tobytes(),
            "pkeys": self.pkeys,
            "pids": self.pids.tobytes(),
            "ptop": self.ptop,
            "ikeys": self.ikeys,
            "iids": self.iids.tobytes(),
            "itop": self.itop,
            "tkeys": self.tkeys,
            "toffsets": self.toffsets.tobytes(),
            "tids": self.tids.tobytes(),
            "dictionary": self.dictionary,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(data))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SuggestIndex | None:
        """The saved index, or None when it is missing or was written by another format or
        Python version (rebuild it then)."""
        try:
            data = marshal.loads(path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("python") != list(sys.version_info[:2])
        ):
            return None
        for name in ("weights", "pids", "iids", "toffsets", "tids"):
            arr = array("i")
            arr.frombytes(data[name])
            data[name] = arr
        data["keys"] = data["pkeys"]
        return cls(data)

    # ----------------------------------------------------------------------- lookup
    def __len__(self) -> int:
        return len(self.texts)

    def _range(
        self, keys: list[str], ids: array, top: dict[str, list[int]], prefix: str
    ) -> tuple[list[int], bool]:
        """Ids of entries whose key starts with ``prefix``: all of them when few, else the
        precomputed best (second value False)."""
        lo = bisect_left(keys, prefix)
        hi = bisect_left(keys, prefix + END, lo)
        if hi - lo <= SCAN:
            return [ids[i] for i in range(lo, hi)], True
        best = top.get(prefix)
        if best is None:  # not precomputed (cannot happen for a table built here)
            best = heapq.nlargest(
                TOP, (ids[i] for i in range(lo, hi)), key=self.weights.__getitem__
            )
        return list(best), False

    def _prefix(self, key: str) -> list[int]:
        return self._range(self.pkeys, self.pids, self.ptop, key)[0]

    def _initials(self, q: str) -> list[int]:
        pattern = _SPACE_RE.sub("", q)
        ids, complete = self._range(self.ikeys, self.iids, self.itop, jamo.initials(pattern))
        if all(ch in jamo.CONSONANTS for ch in pattern):
            return ids
        lead = ""
        for ch in pattern:  # the syllables before the first lone consonant: a key prefix
            if ch in jamo.CONSONANTS:
                break
            lead += ch
        if not complete and lead:
            by_lead, lead_complete = self._range(self.pkeys, self.pids, self.ptop, key_of(lead))
            if lead_complete:
                ids = by_lead
        return [i for i in ids if jamo.matches_initials(pattern, self.texts[i].replace(" ", ""))]

    def _typos(self, key: str) -> list[tuple[int, int]]:
        limit = 1 if len(key) < 8 else 2
        if len(key) > TYPO_MAX + limit:
            # no entry is that close; the probes (every key with two jamo deleted) of a
            # pasted paragraph are tens of thousands of long strings (12 s for 500 syllables)
            return []
        probes = {key, *_deletes(key)}
        if limit == 2:
            for d in list(probes):
                probes |= _deletes(d)
        seen: set[int] = set()
        out: list[tuple[int, int]] = []
        for p in probes:
            j = bisect_left(self.tkeys, p)
            if j == len(self.tkeys) or self.tkeys[j] != p:
                continue
            for k in range(self.toffsets[j], self.toffsets[j + 1]):
                i = self.tids[k]
                if i in seen:
                    continue
                seen.add(i)
                d = damerau(key, self.keys[i], limit)
                if 0 < d <= limit:
                    out.append((i, d))
        return out

    def suggest(self, q: str, limit: int = 10) -> list[Suggestion]:
        """The best ``limit`` suggestions for the typed text ``q``."""
        q = _SPACE_RE.sub(" ", unicodedata.normalize("NFC", q)).strip()
        key = key_of(q)
        if not key or not self.texts:
            return []
        found: dict[int, tuple[float, str]] = {}

        def offer(ids: Iterable[int], match: str, penalty: float = 0.0) -> None:
            base = QUALITY[match] - penalty
            for i in ids:
                score = base + math.log1p(self.weights[i])
                if i not in found or found[i][0] < score:
                    found[i] = (score, match)

        offer(self._prefix(key), "prefix")
        compact = q.replace(" ", "")
        if jamo.is_initials(compact):
            offer(self._initials(compact), "initials")
        if compact.isascii() and any(c.isalpha() for c in compact):
            offer(self._prefix(key_of(jamo.latin_to_jamo(compact))), "layout")
        elif any(jamo.is_syllable(c) or jamo.is_jamo(c) for c in compact):
            latin = jamo.jamo_to_latin(compact)
            if latin.isascii() and latin != key:
                offer(self._prefix(latin), "layout")
        if len(key) >= TYPO_MIN and len(found) < limit:
            for i, d in self._typos(key):
                offer([i], "typo", 2.0 * d)
        out = [
            Suggestion(self.texts[i], KINDS[self.kinds[i]], match, self.weights[i], round(s, 3))
            for i, (s, match) in sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
        ]
        if len(out) < limit and " " in q:  # complete the last word after the others
            head, _, last = q.rpartition(" ")
            have = {s.text for s in out}
            for s in self.suggest(last, limit):
                text = f"{head} {s.text}"
                if text not in have and len(out) < limit:
                    out.append(Suggestion(text, s.kind, s.match, s.weight, s.score - 1.0))
                    have.add(text)
        return out

    def known(self, word: str) -> bool:
        """Whether ``word`` (spacing ignored) is an entry itself."""
        key = key_of(word)
        j = bisect_left(self.pkeys, key)
        return j < len(self.pkeys) and self.pkeys[j] == key

    def corrections(self, q: str, limit: int = 3, keep: Collection[str] = ()) -> list[Suggestion]:
        """What ``q`` may have meant (typo, layout, 초성 expansion), excluding itself and
        plain completions: the candidates for "did you mean". A query of several words
        that has none as a whole gets its unknown words corrected one by one (not those
        in ``keep``: words known to be in the collection)."""
        own = key_of(q)
        out: list[Suggestion] = []
        words = q.split()
        if len(words) > 1:
            fixed = []
            for word in words:
                known = word in keep or self.known(word)
                best = None if known else next(iter(self.corrections(word, 1)), None)
                fixed.append(best.text if best else word)
            if fixed != words:
                out.append(Suggestion(" ".join(fixed), "phrase", "typo", 0, 0.0))
        out += [
            s
            for s in self.suggest(q, 10)
            if s.match != "prefix" and key_of(s.text) != own and s.text not in {o.text for o in out}
        ]
        return out[:limit]


# ------------------------------------------------------------------------------ service
class Suggester:
    """The saved index of a data directory, reloaded when a newer one is written (by an
    ingest or reindex in another process)."""

    CHECK_SECONDS = 2.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index: SuggestIndex | None = None
        self._mtime: float | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def index(self) -> SuggestIndex | None:
        now = time.monotonic()
        if self._index is not None and now - self._checked < self.CHECK_SECONDS:
            return self._index
        with self._lock:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                return self._index
            if mtime != self._mtime or self._index is None:
                index = SuggestIndex.load(self.path)
                if index is not None:
                    self._index, self._mtime = index, mtime
            return self._index

    def suggest(self, q: str, limit: int = 10) -> list[Suggestion]:
        index = self.index()
        return index.suggest(q, limit) if index is not None else []

    def corrections(self, q: str, limit: int = 3, keep: Collection[str] = ()) -> list[Suggestion]:
        index = self.index()
        return index.corrections(q, limit, keep) if index is not None else []


def parse_suggest_request(args: Mapping[str, Sequence[str]]) -> tuple[str, int]:
    """Validate ``q`` and ``limit`` (name -> list of strings, as from a query string)."""
    values = args.get("q")
    if values is None:
        raise RequestError("검색어(q)를 입력해 주세요.", "q", "missing_parameter")
    q = str(values[-1] if values else "").strip()
    if len(q) > MAX_QUERY:
        raise RequestError(
            f"추천을 받을 검색어가 너무 깁니다 ({len(q)}자). {MAX_QUERY}자 이하로 줄여 주세요.",
            "q",
            "query_too_long",
        )
    if any(unicodedata.category(ch) == "Cc" for ch in q):
        raise RequestError("검색어에 제어 문자를 쓸 수 없습니다.", "q")
    limit = int_param(args, "limit", 10, 1, MAX_LIMIT, strict=True)
    return q, limit
