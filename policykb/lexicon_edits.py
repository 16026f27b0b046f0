"""Dictionary and synonym edits that go live in seconds.

An edit (add or remove a user word or a synonym group, or new file texts from the admin
page) is planned, optionally only previewed, then applied:

1. The new lexicon is validated (a Korean message names the problem; nothing changes).
2. What the edit can change is worked out from the two analyzers: the Kiwi user words,
   compound parts, known words and synonym mappings that differ. A passage (or title, or
   author line) can tokenize differently only if its text contains one of those words,
   ignoring spaces, line breaks and case (the analyzer joins nouns across a space or a
   line break and lower-cases Latin letters; Kiwi reads 알파시틴 as 알파시티 + ㄴ, so the
   last syllable matches with any final consonant), or, for terms that are not spelled in
   the text (predicates, numbers), its stored tokens contain it. Synonym groups chained
   through a shared entry are followed.
3. Only those texts are re-analyzed; the ones whose tokens really change are written with
   the new analyzer's identity, and only their documents are re-indexed through the
   backend's normal ``index`` path (searches keep answering).
4. The new identity is appended to the store's analysis lineage: every other stored
   analysis is, by step 2, what the new analyzer gives too. A full ``policykb reindex
   --reanalyze`` afterwards changes no token.

One edit runs at a time (a lock file in the lexicon folder, across processes).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from analyzers import Analyzer, get_analyzer
from analyzers.kiwi import fold_width, prepare_spare_kiwi
from analyzers.lexicon import (
    UserWord,
    check_synonym_group,
    check_user_word,
    load_lexicon,
    parse_synonyms,
    parse_user_dict,
    synonym_line,
    user_word_line,
)
from policykb.analysis import analyze_authors
from policykb.analysis_lock import AnalysisLock
from policykb.backends import SearchBackend
from policykb.errors import ConflictError, InputError, TooLargeError
from policykb.models import Token
from policykb.store import INDEX_PENDING_KEY, DocumentStore

log = logging.getLogger(__name__)

USER_DICT_NAME = "userdict.tsv"
SYNONYMS_NAME = "synonyms.txt"
MAX_EXAMPLES = 5
PREDICATE_TAGS = frozenset({"VV", "VA"})
TITLE, AUTHORS = None, -1  # the "seq" of a document's title and author line
INDEX_BATCH = 200
MAX_LEXICON_BYTES = 1_000_000  # per file


class LexiconEditError(InputError):
    """A bad edit: nothing was changed. ``param`` names the field at fault."""

    code = "input_lexicon"


class LexiconBusy(ConflictError):
    """Another lexicon edit is running (HTTP 409)."""

    code = "lexicon_busy"


# ---------------------------------------------------------------------- what can change
def match_form(text: str) -> str:
    """``text`` as the affected-text search compares it: no spaces or line breaks (the
    analyzer joins nouns across them), lower case (Latin terms are lower-cased), full-width
    ASCII as ASCII (as the analyzer reads it: ＡＩ허브 is AI허브)."""
    return fold_width(text).replace(" ", "").replace("\n", "").lower()


def _last_syllable_any_coda(word: str) -> str:
    """A regex for ``word`` whose last Hangul syllable may carry any final consonant."""
    last = word[-1]
    code = ord(last) - 0xAC00
    if not 0 <= code < 11172:
        return re.escape(word)
    base = 0xAC00 + code - code % 28
    return re.escape(word[:-1]) + f"[{chr(base)}-{chr(base + 27)}]"


@dataclass
class Needles:
    """What an edit can change: words searched in texts, terms searched in tokens."""

    words: set[str] = field(default_factory=set)
    terms: set[str] = field(default_factory=set)
    everything: bool = False  # a one-syllable predicate: any text may change

    def add_word(self, word: str) -> None:
        form = match_form(word)
        if form:
            self.words.add(form)

    def regex(self) -> re.Pattern | None:
        if not self.words:
            return None
        alts = sorted((_last_syllable_any_coda(w) for w in self.words), key=len, reverse=True)
        return re.compile("|".join(alts))


def _user_word_keys(words: Iterable[UserWord]) -> set[tuple[str, str, float]]:
    return {(w.word, w.tag, w.score) for w in words}


def needles_between(old: Analyzer, new: Analyzer) -> Needles:
    """Everything on which ``old`` and ``new`` may analyze a text differently."""
    out = Needles()
    if old.lexicon.user_digest != new.lexicon.user_digest:
        changed = _user_word_keys(old.lexicon.user_words) ^ _user_word_keys(new.lexicon.user_words)
        for word, tag, _score in changed:
            out.add_word(word)
            if tag in PREDICATE_TAGS:
                # A stem is conjugated (부르다 -> 불러): look for what stays of it.
                if len(word) >= 2:
                    out.add_word(word[:-1])
                else:
                    out.everything = True
    old_parts, old_known, old_syn = old.lexicon_maps()
    new_parts, new_known, new_syn = new.lexicon_maps()
    for word in set(old_parts) | set(new_parts):
        if old_parts.get(word) != new_parts.get(word):
            out.add_word(word)
    for word in old_known ^ new_known:
        out.add_word(word)
    keys = {k for k in set(old_syn) | set(new_syn) if old_syn.get(k) != new_syn.get(k)}
    # A term's canonical is mapped once more (국교부 -> 국토부 -> 국토교통부): follow chains.
    while True:
        more = {k for m in (old_syn, new_syn) for k, c in m.items() if c in keys} - keys
        if not more:
            break
        keys |= more
    for key in keys:
        out.add_word(key)
        if key.endswith("다") or any(c.isdigit() for c in key):
            out.terms.add(key)  # predicates and numbers are not spelled so in the text
    return out


def affected_texts(store: DocumentStore, needles: Needles) -> set[tuple[str, int | None]]:
    """(doc id, seq) of the passages, (doc id, None) of the titles and (doc id, -1) of the
    author lines that ``needles`` may change."""
    out: set[tuple[str, int | None]] = set()
    pattern = needles.regex()
    if pattern is not None or needles.everything:
        for doc_id, seq, text in store.iter_analysis_texts():
            if needles.everything or pattern.search(match_form(text)):
                out.add((doc_id, seq))
    return out | store.analyses_with_terms(sorted(needles.terms))


# ------------------------------------------------------------------------- the plan
@dataclass
class TextChange:
    doc_id: str
    seq: int | None  # passage seq; None: the title; -1: the author line
    text: str
    before: list[Token]
    after: list[Token]

    @property
    def where(self) -> str:
        if self.seq is TITLE:
            return "제목"
        if self.seq == AUTHORS:
            return "저자"
        return f"본문 {self.seq + 1}번째 단락"

    def diff(self) -> dict:
        """Terms (with the words they cover) the edit removes and adds, and an excerpt
        around the first change."""

        def key(t: Token) -> tuple:
            return (t.term, t.start, t.end)

        before, after = {key(t) for t in self.before}, {key(t) for t in self.after}
        removed = sorted(before - after, key=lambda k: (k[1], k[2]))
        added = sorted(after - before, key=lambda k: (k[1], k[2]))
        spans = [k[1] for k in removed + added] or [0]
        start = max(0, min(spans) - 30)
        excerpt = self.text[start : start + 90].replace("\n", " ")
        return {
            "doc_id": self.doc_id,
            "where": self.where,
            "excerpt": ("…" if start else "") + excerpt + "…",
            "removed": [k[0] for k in removed],
            "added": [k[0] for k in added],
        }


@dataclass
class QueryImpact:
    query: str
    before: list[str]
    after: list[str]

    def to_json(self) -> dict:
        return {"query": self.query, "terms_before": self.before, "terms_after": self.after}


@dataclass
class EditPlan:
    """What an edit changes; applying it writes exactly this."""

    description: str
    old: Analyzer
    new: Analyzer
    texts: dict[str, str]  # file name -> new text
    examined: int  # passages, titles and author lines re-analyzed
    examined_documents: int
    changes: list[TextChange]
    restamp: list[TextChange]  # unchanged tokens, but stored by a stale analyzer
    queries: list[QueryImpact]
    seconds: float = 0.0
    analyzer_seconds: float = 0.0  # of which: the new analyzer (a new Kiwi for new words)

    @property
    def passages(self) -> int:
        return sum(1 for c in self.changes if c.seq is not None and c.seq >= 0)

    @property
    def documents(self) -> list[str]:
        return sorted({c.doc_id for c in self.changes})

    def examples(self, n: int = MAX_EXAMPLES) -> list[dict]:
        return [c.diff() for c in self.changes[:n]]

    def to_json(self) -> dict:
        return {
            "edit": self.description,
            "examined": self.examined,
            "examined_documents": self.examined_documents,
            "passages": self.passages,
            "documents": len(self.documents),
            "texts": len(self.changes),
            "examples": self.examples(),
            "queries": [q.to_json() for q in self.queries],
            "lexicon_version": self.new.lexicon_version,
        }

    def summary(self) -> str:
        return (
            f"{self.passages}개 단락, {len(self.documents)}개 문서의 분석이 바뀝니다 "
            f"(검사한 텍스트 {self.examined}개)"
        )


@dataclass
class EditResult:
    plan: EditPlan
    indexed: int
    seconds: float

    def line(self) -> str:
        return (
            f"re-analyzed {self.plan.examined} passages in "
            f"{self.plan.examined_documents} documents "
            f"({self.plan.passages} passages in {len(self.plan.documents)} documents changed, "
            f"{self.indexed} re-indexed) in {self.seconds:.1f} s"
        )

    def counts(self) -> dict:
        return {
            "examined": self.plan.examined,
            "passages": self.plan.passages,
            "documents": len(self.plan.documents),
            "indexed": self.indexed,
        }

    def summary(self) -> str:
        return (
            f"저장했습니다. 텍스트 {self.plan.examined}개({self.plan.examined_documents}개 문서)를 "
            f"다시 분석해 {self.plan.passages}개 단락, {len(self.plan.documents)}개 문서의 "
            f"분석이 바뀌었고 {self.indexed}개 문서를 다시 색인했습니다 "
            f"({self.seconds:.1f}초). 검색에 바로 반영됩니다."
        )

    def to_json(self) -> dict:
        return {**self.plan.to_json(), "indexed": self.indexed, "seconds": self.seconds}


def _changes(
    store: DocumentStore, new: Analyzer, targets: set[tuple[str, int | None]], valid: set[str]
) -> tuple[list[TextChange], list[TextChange]]:
    by_doc: dict[str, set[int | None]] = {}
    for doc_id, seq in targets:
        by_doc.setdefault(doc_id, set()).add(seq)
    changed: list[TextChange] = []
    restamp: list[TextChange] = []
    for doc_id in sorted(by_doc):
        found = store.analysis_of(doc_id)
        if found is None:
            continue
        doc, own, stamps = found
        own_valid = own in valid
        passages = {p.seq: p for p in doc.passages}
        for seq in sorted(by_doc[doc_id], key=lambda s: -2 if s is None else s):
            if seq is TITLE:
                text, before = doc.title, doc.title_tokens
                stale = not own_valid
            elif seq == AUTHORS:
                text, before = " ".join(doc.authors), doc.author_tokens
                stale = not own_valid
            elif seq in passages:
                text, before = passages[seq].text, passages[seq].tokens
                stale = stamps.get(seq) not in valid
            else:
                continue
            # the same calls as analyze_document (the author line: analyze_authors)
            after = analyze_authors(new, doc.authors) if seq == AUTHORS else new.analyze(text)
            change = TextChange(doc_id, seq, text, before, after)
            if after != before:
                changed.append(change)
            elif stale:
                restamp.append(change)
    return changed, restamp


def _query_terms(analyzer: Analyzer, query: str) -> list[str]:
    return sorted({t.term for t in analyzer.analyze(query)})


def query_impacts(
    old: Analyzer, new: Analyzer, queries: Iterable[str], changes: list[TextChange]
) -> list[QueryImpact]:
    """The queries whose results may change: their analysis changes, or a term they look
    for is added to or removed from some text."""
    touched: set[str] = set()
    for c in changes:
        d = c.diff()
        touched.update(d["removed"])
        touched.update(d["added"])
    out = []
    for q in dict.fromkeys(q.strip() for q in queries if q and q.strip()):
        before, after = _query_terms(old, q), _query_terms(new, q)
        if before != after or touched.intersection(before) or touched.intersection(after):
            out.append(QueryImpact(q, before, after))
    return out


# ----------------------------------------------------------------------- the editor
class LexiconEditor:
    """Plans and applies lexicon edits on a store and its backend. ``files`` are the
    dictionary and synonym files in use; edits are written to ``lexicon_dir``."""

    def __init__(
        self,
        store: DocumentStore,
        backend: SearchBackend,
        lexicon_dir: Path,
        files: tuple[Path, Path],
        analyzer: Analyzer,
        queries: Callable[[], Iterable[str]] | None = None,
        lock: AnalysisLock | None = None,
    ) -> None:
        self.store = store
        # held alone while an edit is applied: no ingest, reindex or import runs meanwhile
        self.lock = lock
        self.backend = backend
        self.lexicon_dir = Path(lexicon_dir)
        self.files = files
        self.analyzer = analyzer
        self.queries = queries or (lambda: ())

    @staticmethod
    def prepare(wait: bool = False) -> None:
        """Load a Kiwi for the next dictionary edit in the background (the admin page does
        when opened): an edit then only adds its words to it."""
        prepare_spare_kiwi(wait)

    # -------------------------------------------------------------- texts of an edit
    def current_texts(self) -> dict[str, str]:
        user_dict, synonyms = self.files
        return {
            USER_DICT_NAME: user_dict.read_text(encoding="utf-8"),
            SYNONYMS_NAME: synonyms.read_text(encoding="utf-8"),
        }

    @staticmethod
    def _with_lines(text: str, keep: Callable[[str], bool], add: str | None = None) -> str:
        lines = [ln for ln in text.splitlines() if keep(ln)]
        if add is not None:
            lines.append(add)
        return "\n".join(lines) + "\n"

    @staticmethod
    def _entry_line(line: str) -> bool:
        return bool(line.strip()) and not line.lstrip().startswith("#")

    def texts_adding_word(
        self, word: str, tag: str = "NNP", score: float = 0.0, parts: tuple[str, ...] = ()
    ) -> dict[str, str]:
        word = (word or "").strip()
        try:
            check_user_word(word, tag, parts)
        except ValueError as exc:
            raise LexiconEditError(f"낱말을 추가하지 않았습니다: {exc}", param="word") from None
        texts = self.current_texts()
        line = user_word_line(UserWord(word, tag, score, parts))
        texts[USER_DICT_NAME] = self._with_lines(
            texts[USER_DICT_NAME],
            lambda ln: not (self._entry_line(ln) and ln.split("\t")[0].strip() == word),
            line,
        )
        return texts

    def texts_removing_word(self, word: str) -> dict[str, str]:
        word = (word or "").strip()
        if not word:
            raise LexiconEditError("낱말이 비어 있습니다.", param="word")
        texts = self.current_texts()

        def other(ln: str) -> bool:
            return not (self._entry_line(ln) and ln.split("\t")[0].strip() == word)

        new = self._with_lines(texts[USER_DICT_NAME], other)
        if new == self._with_lines(texts[USER_DICT_NAME], lambda ln: True):
            raise LexiconEditError(f"사용자 사전에 없는 낱말입니다: {word}", param="word")
        texts[USER_DICT_NAME] = new
        return texts

    def _groups(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (ln, tuple(e.strip() for e in ln.split(",") if e.strip()))
            for ln in text.splitlines()
            if self._entry_line(ln)
        ]

    def texts_adding_synonyms(self, canonical: str, variants: Iterable[str]) -> dict[str, str]:
        entries = tuple(e.strip() for e in (canonical, *variants))
        try:
            check_synonym_group(entries)
        except ValueError as exc:
            raise LexiconEditError(
                f"동의어를 추가하지 않았습니다: {exc}", param="synonyms"
            ) from None
        entries = tuple(dict.fromkeys(entries))
        texts = self.current_texts()
        # The group of the same canonical form is replaced (merged with the new entries).
        old = [g for ln, g in self._groups(texts[SYNONYMS_NAME]) if g and g[0] == entries[0]]
        merged = tuple(dict.fromkeys([*(old[0] if old else ()), *entries]))
        texts[SYNONYMS_NAME] = self._with_lines(
            texts[SYNONYMS_NAME],
            lambda ln: not (self._entry_line(ln) and ln.split(",")[0].strip() == entries[0]),
            synonym_line(merged),
        )
        return texts

    def texts_removing_synonyms(
        self, canonical: str, variants: Iterable[str] = ()
    ) -> dict[str, str]:
        """Without variants: the whole group of ``canonical``; else only those entries (the
        group goes when fewer than two remain)."""
        canonical = (canonical or "").strip()
        drop = {v.strip() for v in variants if v.strip()}
        if not canonical:
            raise LexiconEditError("동의어 대표형이 비어 있습니다.", param="synonyms")
        texts = self.current_texts()
        found = [g for _ln, g in self._groups(texts[SYNONYMS_NAME]) if g and g[0] == canonical]
        if not found:
            raise LexiconEditError(
                f"대표형이 {canonical}인 동의어 묶음이 없습니다.", param="synonyms"
            )
        missing = drop - set(found[0])
        if missing:
            raise LexiconEditError(
                f"{canonical} 묶음에 없는 항목입니다: {', '.join(sorted(missing))}",
                param="synonyms",
            )
        rest = tuple(e for e in found[0] if e not in drop) if drop else ()
        texts[SYNONYMS_NAME] = self._with_lines(
            texts[SYNONYMS_NAME],
            lambda ln: not (self._entry_line(ln) and ln.split(",")[0].strip() == canonical),
            synonym_line(rest) if len(rest) >= 2 else None,
        )
        return texts

    # ------------------------------------------------------------- plan and apply
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.lexicon_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lexicon_dir / ".edit.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LexiconBusy(
                    "다른 사전·동의어 편집이 진행 중입니다. 끝난 뒤 다시 시도해 주세요."
                ) from None
            yield
        finally:
            os.close(fd)

    def _pending_analyzer(self, texts: dict[str, str]) -> Analyzer:
        if any(len(t.encode()) > MAX_LEXICON_BYTES for t in texts.values()):
            raise TooLargeError("사전 파일이 너무 큽니다.", param="user_dict")
        pending = self.lexicon_dir / ".pending"
        pending.mkdir(parents=True, exist_ok=True)
        try:
            parse_user_dict(Path(USER_DICT_NAME), texts[USER_DICT_NAME])
            parse_synonyms(Path(SYNONYMS_NAME), texts[SYNONYMS_NAME])
        except ValueError as exc:
            raise LexiconEditError(f"저장하지 않았습니다: {exc}") from None
        for name, text in texts.items():
            (pending / name).write_text(text, encoding="utf-8")
        return get_analyzer(pending / USER_DICT_NAME, pending / SYNONYMS_NAME)

    def _check_current(self) -> None:
        """The analyzer this edit starts from must be the one of the files in use: an
        edit saved by another process since it was loaded would otherwise be planned
        against the wrong tokens (the runtime reloads it before an edit; this catches
        an edit that landed in between)."""
        files = [
            self.lexicon_dir / name if (self.lexicon_dir / name).exists() else path
            for name, path in zip((USER_DICT_NAME, SYNONYMS_NAME), self.files, strict=True)
        ]
        if load_lexicon(*files).digest != self.analyzer.lexicon_version:
            raise LexiconBusy(
                "다른 곳에서 사전·동의어가 방금 바뀌었습니다. 바뀐 내용을 확인하고 다시 "
                "시도해 주세요."
            )

    def _plan(self, texts: dict[str, str], description: str) -> EditPlan:
        started = time.perf_counter()
        self._check_current()
        old = self.analyzer
        new = self._pending_analyzer(texts)
        analyzer_seconds = time.perf_counter() - started
        valid = set(self.store.valid_analyses(old.identity))
        if new.identity == old.identity:
            targets: set = set()
        else:
            targets = affected_texts(self.store, needles_between(old, new))
        changes, restamp = _changes(self.store, new, targets, valid)
        queries = query_impacts(old, new, self.queries(), changes)
        plan = EditPlan(
            description,
            old,
            new,
            texts,
            len(targets),
            len({d for d, _s in targets}),
            changes,
            restamp,
            queries,
        )
        plan.seconds = time.perf_counter() - started
        plan.analyzer_seconds = analyzer_seconds
        return plan

    def preview(self, texts: dict[str, str], description: str = "") -> EditPlan:
        """What saving ``texts`` would change; nothing is written."""
        with self._exclusive():
            return self._plan(texts, description)

    def apply(self, texts: dict[str, str], description: str = "") -> EditResult:
        """Save ``texts`` as the dictionary and synonyms: re-analyze what they change,
        re-index those documents, and make the new files the ones in use."""
        started = time.perf_counter()
        with self._exclusive(), self.lock.exclusive() if self.lock else nullcontext():
            plan = self._plan(texts, description)
            old, new = plan.old, plan.new
            docs = sorted({c.doc_id for c in plan.changes + plan.restamp})
            lineage = self.store.valid_analyses(old.identity)
            with self.store.connect() as con:
                for doc_id in docs:
                    mine = [c for c in plan.changes + plan.restamp if c.doc_id == doc_id]
                    passages = {c.seq: c.after for c in mine if c.seq is not None and c.seq >= 0}
                    title = next((c.after for c in mine if c.seq is TITLE), None)
                    authors = next((c.after for c in mine if c.seq == AUTHORS), None)
                    self.store.replace_analysis(doc_id, passages, new.identity, con, title, authors)
                if new.identity != old.identity:
                    self.store.set_lineage([*lineage, new.identity], con)
                # ...and those an interrupted edit left un-indexed
                left = [d for d in (self.store.get_meta(INDEX_PENDING_KEY) or "").split(",") if d]
                pending = self.store.indexed_among(sorted({*plan.documents, *left}))
                self.store.set_meta(INDEX_PENDING_KEY, ",".join(pending), con)
            for name, text in texts.items():
                src = self.lexicon_dir / ".pending" / name
                src.write_text(text, encoding="utf-8")
                os.replace(src, self.lexicon_dir / name)
            indexed = 0
            for i in range(0, len(pending), INDEX_BATCH):
                batch = [self.store.get_document(d) for d in pending[i : i + INDEX_BATCH]]
                outcome = self.backend.index(d for d in batch if d is not None)
                indexed += outcome.indexed
            with self.store.connect() as con:
                self.store.set_meta(INDEX_PENDING_KEY, "", con)
            self.analyzer = new
            result = EditResult(plan, indexed, time.perf_counter() - started)
            log.info("lexicon edit %s: %s", description or "(texts)", result.line())
            return result
