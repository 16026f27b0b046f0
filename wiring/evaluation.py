"""Retrieval evaluation: policykb through its real ingest and search path against BM25
peers, on several real sets, each split into a dev half (tune here) and a test half
(report here; never tuned on).

Sets (read at run time, never copied into the repository; judgments built at run time):
- ``korquad``: KorQuAD 1.0 dev, question -> its paragraph, paragraphs without their article
  title; ``korquad-titles``: the same with the article title as the document's title.
- ``kdi``: kdi-epic known item: ministry press releases and research reports, title ->
  its summary (title removed from the summary).
- ``public-docs``: press releases and reports of ../shared/data/public-docs, the title
  metadata ingest finds -> the document's text without that title; the other files of the
  folder are distractors.
- ``fsc``: ``card-legal-data`` ``fsc/law_interpretations``, title -> text without title.
- ``pipc``: ``card-legal-data`` ``pipc/guidelines`` (long documents), same.
Each set also reports its long-query slice (queries of :data:`LONG_QUERY_WORDS`+ words).

Peers in the same run: whitespace BM25 and character-bigram BM25 (tantivy), and Lucene
nori BM25 with Elasticsearch's defaults (bench/nori/NoriBm25.java on the local JDK). All
peers index title + text. policykb documents are written as text files with a manifest and
ingested by :class:`ingest.pipeline.Ingester` into the embedded engine; the Elasticsearch
index is built from the same store by ``Runtime.reindex``; queries go through
:meth:`SearchService.rank` (default ``match=auto``, the ranking users see).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tantivy

from analyzers.bigram import char_bigrams
from policykb.analysis import analyze_document
from policykb.models import Document, Passage

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("POLICYKB_EVAL_CACHE", REPO / ".cache" / "eval"))
LONG_QUERY_WORDS = 10
TOP_K = 100
CARD_LEGAL = "card-legal-data==2026.10.22.105248"
LUCENE_VERSION = "9.12.3"
LUCENE_ARTIFACTS = ("lucene-core", "lucene-analysis-common", "lucene-analysis-nori")


@dataclass(frozen=True)
class EvalDoc:
    id: str
    title: str
    text: str
    date: str = ""


@dataclass(frozen=True)
class EvalQuery:
    text: str
    relevant: str


@dataclass
class EvalSet:
    name: str
    label: str
    docs: list[EvalDoc]
    queries: list[EvalQuery]


@dataclass
class Metrics:
    system: str
    ndcg10: float
    recall10: float
    recall100: float
    mrr: float
    queries: int
    ms_per_query: float

    @classmethod
    def from_ranks(cls, system: str, ranks: list[int | None], seconds: float) -> Metrics:
        n = max(1, len(ranks))
        return cls(
            system,
            sum(1 / math.log2(r + 1) for r in ranks if r and r <= 10) / n,
            sum(1 for r in ranks if r and r <= 10) / n,
            sum(1 for r in ranks if r and r <= 100) / n,
            sum(1 / r for r in ranks if r) / n,
            len(ranks),
            seconds * 1000 / n,
        )

    def row(self) -> str:
        return (
            f"{self.system:<28} {self.ndcg10:8.4f} {self.recall10:8.4f} "
            f"{self.recall100:8.4f} {self.mrr:8.4f} {self.ms_per_query:8.2f}"
        )


HEADER = f"{'system':<28} {'nDCG@10':>8} {'R@10':>8} {'R@100':>8} {'MRR':>8} {'ms/q':>8}"


@dataclass
class Run:
    """Ranked ids per query of one system on one set, and the search time."""

    system: str
    ranked: list[list[str]]
    seconds: float
    extra: dict = field(default_factory=dict)


def half_of(query: EvalQuery) -> str:
    """``dev`` or ``test``, fixed by the target document (every question of a paragraph
    falls in the same half)."""
    return "dev" if hashlib.sha1(query.relevant.encode()).digest()[0] % 2 == 0 else "test"


def is_long(query: EvalQuery) -> bool:
    return len(query.text.split()) >= LONG_QUERY_WORDS


def slices(queries: list[EvalQuery]) -> dict[str, list[int]]:
    """Query indices per reported slice: dev, test, and their long-query parts."""
    out: dict[str, list[int]] = {"dev": [], "test": [], "dev long": [], "test long": []}
    for i, q in enumerate(queries):
        h = half_of(q)
        out[h].append(i)
        if is_long(q):
            out[f"{h} long"].append(i)
    return out


def metrics_for(run: Run, queries: list[EvalQuery], idx: list[int]) -> Metrics:
    ranks = []
    for i in idx:
        ids = run.ranked[i]
        rel = queries[i].relevant
        ranks.append(ids.index(rel) + 1 if rel in ids else None)
    seconds = run.seconds * len(idx) / max(1, len(queries))
    return Metrics.from_ranks(run.system, ranks, seconds)


# --------------------------------------------------------------------------- data sets
def _hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)


def _without(text: str, title: str) -> str:
    """``text`` with every occurrence of ``title`` (and a leading "제목: title") removed."""
    if title:
        text = text.replace(title, " ")
    return re.sub(r"^\s*제목:\s*", "", text).strip()


def load_korquad(path: Path, titles: bool = True) -> tuple[list[EvalDoc], list[EvalQuery]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    docs: list[EvalDoc] = []
    queries: list[EvalQuery] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            doc_id = f"kq{len(docs):04d}"
            docs.append(EvalDoc(doc_id, article["title"] if titles else "", para["context"]))
            queries.extend(EvalQuery(qa["question"], doc_id) for qa in para["qas"])
    return docs, queries


def _kdi_rows(folder: Path) -> list[tuple[str, str, str, str]]:
    """(kind, title, date, summary) of every Korean row of kdi-epic, cached as JSON."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = hashlib.sha1(
        "".join(f"{p.name}{p.stat().st_size}" for p in sorted(folder.glob("*.xlsx"))).encode()
    ).hexdigest()[:12]
    cached = CACHE / f"kdi-{stamp}.json"
    if cached.exists():
        return [tuple(r) for r in json.loads(cached.read_text(encoding="utf-8"))]
    from openpyxl import load_workbook

    rows: list[tuple[str, str, str, str]] = []
    for xlsx in sorted(folder.glob("*_metadata_*.xlsx")):
        kind = "report" if xlsx.name.startswith("research") else "press"
        wb = load_workbook(xlsx, read_only=True)
        it = wb.active.iter_rows(values_only=True)
        header = [str(h) for h in next(it)]
        ti, di, si = header.index("자료명"), header.index("발간일"), header.index("요약")
        for row in it:
            title, summary = str(row[ti] or "").strip(), str(row[si] or "").strip()
            if len(summary) < 200 or not _hangul(summary[:50]) or not _hangul(title):
                continue
            date = str(row[di] or "").strip().replace(".", "-")
            rows.append((kind, title, date, summary))
        wb.close()
    cached.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return rows


def load_kdi_known_item(
    folder: Path, max_docs: int = 6000, max_queries: int = 0, reports: float = 1 / 3
) -> tuple[list[EvalDoc], list[EvalQuery]]:
    """Press releases and research reports (about ``reports`` of them), spread evenly over
    the collection; the summary (title removed) is the document, its title a query for it
    (every document's, or ``max_queries`` evenly spaced ones)."""
    rows = _kdi_rows(Path(folder))
    press = [r for r in rows if r[0] == "press"]
    report = [r for r in rows if r[0] == "report"]
    n_report = min(len(report), int(max_docs * reports))
    n_press = min(len(press), max_docs - n_report)
    picked = [press[i * len(press) // n_press] for i in range(n_press)]
    picked += [report[i * len(report) // n_report] for i in range(n_report)] if n_report else []
    docs, titles = [], {}
    seen_titles: set[str] = set()
    for _, title, date, summary in picked:
        if title in seen_titles:
            continue
        seen_titles.add(title)
        doc = EvalDoc(f"kdi{len(docs):05d}", "", _without(summary, title), date)
        docs.append(doc)
        titles[doc.id] = title
    queries = [EvalQuery(titles[d.id], d.id) for d in docs]
    return docs, sample_queries(queries, max_queries) if max_queries else queries


def card_legal_dir() -> Path:
    """The installed ``card-legal-data`` package's folder, installed with pip if absent."""
    spec = importlib.util.find_spec("card_legal_data")
    if spec is None or not spec.submodule_search_locations:
        log.info("installing %s with pip", CARD_LEGAL)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", CARD_LEGAL], check=True
        )
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("card_legal_data")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{CARD_LEGAL} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def load_card_legal(kind: str, max_queries: int = 0) -> tuple[list[EvalDoc], list[EvalQuery]]:
    """``kind`` = ``fsc/law_interpretations`` or ``pipc/guidelines``: title -> text
    without the title (every document's title, or ``max_queries`` evenly spaced ones)."""
    docs: list[EvalDoc] = []
    titles: dict[str, str] = {}
    seen: set[str] = set()
    for path in sorted((card_legal_dir() / kind).glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        title, text = str(rec.get("title") or "").strip(), str(rec.get("text") or "")
        body = _without(text, title)
        if not title or title in seen or len(body) < 50:
            continue
        seen.add(title)
        doc = EvalDoc(f"cl{len(docs):05d}", "", body, str(rec.get("version_date") or ""))
        docs.append(doc)
        titles[doc.id] = title
    queries = [EvalQuery(titles[d.id], d.id) for d in docs]
    return docs, sample_queries(queries, max_queries) if max_queries else queries


PUBLIC_DOC_QUERIES = ("보도자료", "정책연구", "규제영향분석서")


def load_public_docs(folder: Path, analyzer) -> tuple[list[EvalDoc], list[EvalQuery]]:
    """Every file of public-docs through the real ingest (extraction and metadata); press
    releases and reports give the queries: the title ingest found -> the text without it."""
    from policykb.backends.embedded import EmbeddedBackend
    from policykb.store import DocumentStore

    folder = Path(folder)
    categories: dict[str, str] = {}
    with (folder / "INDEX.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            categories[str((folder / row["path"]).resolve())] = row["category"]
    from ingest.pipeline import Ingester

    with tempfile.TemporaryDirectory() as tmp:
        store = DocumentStore(Path(tmp) / "store.sqlite")
        backend = EmbeddedBackend(Path(tmp) / "index")
        Ingester(store, backend, analyzer).run([folder])
        docs, queries = [], []
        for rec in store.list_files("indexed"):
            doc = store.get_document(rec.doc_id) if rec.doc_id else None
            if doc is None:
                continue
            body = _without(doc.text, doc.title)
            if len(body) < 100:
                continue
            ev = EvalDoc(f"pd{len(docs):04d}", "", body, doc.date or "")
            docs.append(ev)
            category = categories.get(str(Path(rec.path).resolve()), "")
            title = doc.title.strip()
            if (
                any(c in category for c in PUBLIC_DOC_QUERIES)
                and _hangul(title)
                and len(title.split()) >= 2
            ):
                queries.append(EvalQuery(title, ev.id))
        store.close()
    return docs, queries


def load_sets(
    shared: Path, analyzer, names: Iterable[str] | None = None, max_queries: int = 0
) -> Iterator[EvalSet]:
    """The evaluation sets whose data is present, loaded one at a time (a missing one is
    logged and skipped)."""
    wanted = set(names or SET_NAMES)
    korquad = shared / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
    loaders: dict[str, tuple[str, Callable[[], tuple[list[EvalDoc], list[EvalQuery]]]]] = {
        "korquad": (
            "KorQuAD 1.0 dev, paragraphs without titles (question -> paragraph)",
            lambda: load_korquad(korquad, titles=False),
        ),
        "korquad-titles": (
            "KorQuAD 1.0 dev, paragraphs with their article titles",
            lambda: load_korquad(korquad, titles=True),
        ),
        "kdi": (
            "kdi-epic known item: press releases and research reports (title -> summary)",
            lambda: load_kdi_known_item(shared / "kdi-epic" / "xlsx"),
        ),
        "public-docs": (
            "public-docs press releases and reports (title -> body without title)",
            lambda: load_public_docs(shared / "public-docs", analyzer),
        ),
        "fsc": (
            "card-legal-data fsc/law_interpretations (title -> text without title)",
            lambda: load_card_legal("fsc/law_interpretations"),
        ),
        "pipc": (
            "card-legal-data pipc/guidelines, long documents (title -> text without title)",
            lambda: load_card_legal("pipc/guidelines"),
        ),
    }
    for name in SET_NAMES:
        if name not in wanted:
            continue
        label, load = loaders[name]
        try:
            docs, queries = load()
        except (FileNotFoundError, RuntimeError, subprocess.CalledProcessError) as exc:
            log.warning("skipping %s: %s", name, exc)
            continue
        if max_queries:
            queries = sample_queries(queries, max_queries)
        yield EvalSet(name, label, docs, queries)


SET_NAMES = ("korquad", "korquad-titles", "kdi", "public-docs", "fsc", "pipc")


def sample_queries(queries: list[EvalQuery], n: int) -> list[EvalQuery]:
    """At most ``n`` queries, evenly spaced (deterministic)."""
    if len(queries) <= n:
        return list(queries)
    return [queries[i * len(queries) // n] for i in range(n)]


# ------------------------------------------------------------------------------ peers
def whitespace_tokens(text: str) -> list[str]:
    return text.split()


def run_tantivy_bm25(
    name: str, tokenize: Callable[[str], list[str]], docs: list[EvalDoc], queries: list[EvalQuery]
) -> Run:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
    schema = sb.build()
    with tempfile.TemporaryDirectory() as tmp:
        index = tantivy.Index(schema, path=tmp)
        writer = index.writer(64_000_000, 1)
        for d in docs:
            terms = tokenize(f"{d.title} {d.text}")
            doc = tantivy.Document()
            doc.add_text("id", d.id)
            if terms:
                doc.add_pre_tokenized_text(
                    "body",
                    tantivy.PreTokenizedString(
                        " ".join(terms), [tantivy.Token(t, i, 0, 0) for i, t in enumerate(terms)]
                    ),
                )
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
        ranked: list[list[str]] = []
        started = time.perf_counter()
        for q in queries:
            terms = list(dict.fromkeys(tokenize(q.text)))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in terms]
            )
            hits = searcher.search(query, TOP_K).hits
            ranked.append([searcher.doc(addr)["id"][0] for _, addr in hits])
        elapsed = time.perf_counter() - started
    return Run(name, ranked, elapsed)


def _flat(text: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", text)


def nori_classpath() -> str:
    """Lucene jars (fetched with mvn into .cache/nori/lib) and the compiled peer."""
    base = REPO / ".cache" / "nori"
    lib, classes = base / "lib", base / "classes"
    source = REPO / "bench" / "nori" / "NoriBm25.java"
    jars = [lib / f"{a}-{LUCENE_VERSION}.jar" for a in LUCENE_ARTIFACTS]
    if not all(j.exists() for j in jars):
        lib.mkdir(parents=True, exist_ok=True)
        for a in LUCENE_ARTIFACTS:
            subprocess.run(
                [
                    "mvn",
                    "-q",
                    "dependency:copy",
                    f"-Dartifact=org.apache.lucene:{a}:{LUCENE_VERSION}",
                    f"-DoutputDirectory={lib}",
                ],
                check=True,
                cwd=base,
            )
    cp = ":".join(str(j) for j in jars)
    compiled = classes / "NoriBm25.class"
    if not compiled.exists() or compiled.stat().st_mtime < source.stat().st_mtime:
        classes.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-cp", cp, "-d", str(classes), str(source)], check=True)
    return f"{cp}:{classes}"


def run_nori(docs: list[EvalDoc], queries: list[EvalQuery]) -> Run:
    """Lucene nori BM25 with Elasticsearch's defaults, in a JVM (bench/nori)."""
    cp = nori_classpath()
    with tempfile.TemporaryDirectory() as tmp:
        d, q, o = (Path(tmp) / n for n in ("docs.tsv", "queries.txt", "out.tsv"))
        d.write_text(
            "".join(f"{x.id}\t{_flat(x.title)} {_flat(x.text)}\n" for x in docs), encoding="utf-8"
        )
        q.write_text("".join(f"{_flat(x.text)}\n" for x in queries), encoding="utf-8")
        proc = subprocess.run(
            ["java", "-Xmx1g", "-cp", cp, "NoriBm25", str(d), str(q), str(o), str(TOP_K)],
            check=True,
            capture_output=True,
            text=True,
        )
        m = re.search(r"search_ms ([\d.]+)", proc.stderr)
        seconds = float(m.group(1)) / 1000 if m else 0.0
        lines = o.read_text(encoding="utf-8").split("\n")
        ranked = [[i for i in lines[k].split("\t") if i] for k in range(len(queries))]
    return Run("nori-bm25 (ES defaults)", ranked, seconds)


# ---------------------------------------------------------------------------- policykb
def build_documents(docs: list[EvalDoc], analyzer) -> list[Document]:
    """Documents analyzed as ingest would, without files (for tests that need many
    documents quickly; the evaluation itself goes through the real ingest)."""
    from ingest.passages import split_passages

    out = []
    for d in docs:
        raw = split_passages([(None, d.text)])
        doc = Document(
            d.id,
            d.title,
            "eval",
            [],
            "기타",
            None,
            passages=[Passage(i, None, p.text) for i, p in enumerate(raw)],
        )
        analyze_document(doc, analyzer)
        out.append(doc)
    return out


def write_corpus(docs: list[EvalDoc], folder: Path) -> dict[str, str]:
    """Each document as a text file plus a manifest.csv; returns file path -> eval id."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "title", "institute", "doc_type", "date", "url"])
        for d in docs:
            name = f"{d.id}.txt"
            (folder / name).write_text(d.text, encoding="utf-8")
            w.writerow([name, d.title, "", "", d.date, ""])
            paths[str(folder / name)] = d.id
    return paths


@dataclass
class PolicykbIndex:
    """An eval set ingested by policykb: runtimes per engine and, per store id, the eval
    ids of its duplicate group (the shown document first, then its copies)."""

    runtimes: dict[str, object]
    groups: dict[str, list[str]]


def _groups(store, files: dict[str, str]) -> dict[str, list[str]]:
    eval_of = {rec.doc_id: files[rec.path] for rec in store.list_files() if rec.doc_id}
    groups: dict[str, list[str]] = {}
    for doc_id, canonical in store.canonical_ids().items():
        if doc_id in eval_of:
            groups.setdefault(canonical or doc_id, []).append(eval_of[doc_id])
    for head, members in groups.items():
        if head in eval_of:  # the shown document first
            members.remove(eval_of[head])
            members.insert(0, eval_of[head])
    return groups


def ingest_code_digest() -> str:
    """A digest of the source of the ``ingest`` and ``corpus`` packages: what turns an
    evaluation file into a stored document (text cleaning, titles, metadata) beside the
    analyzer, so an edit there makes a new cache key instead of reusing stale documents."""
    import corpus
    import ingest

    h = hashlib.sha1()
    for package in (ingest, corpus):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(f"{path.relative_to(root.parent)}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def corpus_key(docs: list[EvalDoc], analyzer_identity: str) -> str:
    """What an ingested eval index depends on: the documents (ids, titles, texts, dates),
    the analyzer's identity, the index schema version and the ingest code
    (:func:`ingest_code_digest`)."""
    from policykb.backends.base import SCHEMA_VERSION

    h = hashlib.sha1(f"{analyzer_identity}\0{SCHEMA_VERSION}\0{ingest_code_digest()}".encode())
    for d in docs:
        h.update(f"\0{d.id}\0{d.title}\0{d.date}\0{d.text}".encode())
    return h.hexdigest()[:16]


def _read_done(folder: Path) -> dict[str, str] | None:
    try:
        return json.loads((folder / "done.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return None


@contextmanager
def policykb_index(
    docs: list[EvalDoc],
    engines: Iterable[str],
    es_url: str | None,
    tag: str,
    cache: Path | None = None,
    reindex: bool = False,
) -> Iterator[PolicykbIndex]:
    """Ingest ``docs`` with the real pipeline (embedded engine), then build the
    Elasticsearch index from the same store with ``Runtime.reindex``.

    With ``cache`` the ingested store and embedded index are kept in
    ``cache/<tag>-<corpus_key>/`` and reused by the next run while the documents, the
    analyzer identity and the schema version are unchanged (a change of index-time code
    without a schema bump needs ``reindex``: the engine index is rebuilt from the kept
    store, no analysis)."""
    from policykb.settings import load_settings
    from wiring.runtime import Runtime

    if cache is not None:
        from analyzers import get_analyzer

        shipped = load_settings({}, environ={})  # a fresh data dir uses the shipped lexicon
        key = corpus_key(docs, get_analyzer(shipped.user_dict, shipped.synonyms).identity)
        tmp = Path(cache) / f"{tag}-{key}"
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=f"policykb-eval-{tag}-"))
    runtimes: dict[str, object] = {}
    try:
        base = {"data_dir": str(tmp / "data"), "rate_limit": 0}
        files = _read_done(tmp) if cache is not None else None
        if files is None:
            shutil.rmtree(tmp / "data", ignore_errors=True)
            files = write_corpus(docs, tmp / "files")
            emb = Runtime(load_settings({**base, "backend": "embedded"}, environ={}))
            emb.ingester().run([tmp / "files"])
            if cache is not None:
                (tmp / "done.json").write_text(json.dumps({"files": files}), encoding="utf-8")
        else:
            log.info("reusing the ingested %s index in %s", tag, tmp)
            emb = Runtime(load_settings({**base, "backend": "embedded"}, environ={}))
            if reindex:
                emb.reindex()
        engines = list(engines)
        if "embedded" in engines:
            runtimes["embedded"] = emb
        if "elasticsearch" in engines:
            es = Runtime(
                load_settings(
                    {
                        **base,
                        "backend": "elasticsearch",
                        "es_url": es_url or "http://127.0.0.1:9200",
                        "es_index": f"policykb-eval-{tag}",
                    },
                    environ={},
                )
            )
            runtimes["elasticsearch"] = es
            es.reindex()
        yield PolicykbIndex(runtimes, _groups(emb.store, files))
    finally:
        if "elasticsearch" in runtimes:
            try:
                runtimes["elasticsearch"].backend.drop_all()
            except Exception:  # noqa: BLE001 - cleanup only
                log.warning("could not drop the eval index", exc_info=True)
        if cache is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_policykb(
    system: str, rt, groups: dict[str, list[str]], queries: list[EvalQuery], match: str = "auto"
) -> Run:
    """policykb's ranking for each query; a hit on a duplicate group counts for the
    query's target when the target is in the group (the UI shows copies with the hit)."""
    from policykb.service import SearchRequest

    ranked: list[list[str]] = []
    started = time.perf_counter()
    for q in queries:
        hits = rt.service.rank(SearchRequest(q=q.text, size=TOP_K, match=match))
        ids = []
        for h in hits:
            group = groups.get(h.id) or [h.id]
            ids.append(q.relevant if q.relevant in group else group[0])
        ranked.append(ids)
    return Run(system, ranked, time.perf_counter() - started)


# ------------------------------------------------------------------------- ablation
# Ranking components and the setting that switches each off (or the variant tried).
ABLATIONS: dict[str, list[tuple[str, str, object]]] = {
    "title boost 2": [("policykb.backends.base", "TITLE_BOOST", 2.0)],
    "no phrase bonus": [("policykb.backends.base", "PHRASE_BOOST", 0.0)],
    "compound bonus on": [("policykb.backends.base", "COMPOUND_BONUS", True)],
    "no proximity pairs": [("policykb.backends.base", "PAIR_BOOST", 0.0)],
    "no bigram field": [("policykb.backends.base", "BIGRAM_BOOST", 0.0)],
    "bigram 0.4": [("policykb.backends.base", "BIGRAM_BOOST", 0.4)],
    "bigram 0.8": [("policykb.backends.base", "BIGRAM_BOOST", 0.8)],
    "bigram 1.6": [("policykb.backends.base", "BIGRAM_BOOST", 1.6)],
    "sum, not dis_max": [("policykb.backends.base", "DIS_MAX", False)],
    "recency prior 0.15": [("policykb.service", "RECENCY_WEIGHT", 0.15)],
    "no date prior": [("policykb.service", "DATE_WEIGHT", 0.0)],
    "dates: no quarters": [("policykb.query", "QUARTERS", False)],
    "dates: no months without a year": [("policykb.query", "BARE_MONTHS", False)],
    "no answer sentence": [("policykb.service", "ANSWER_WEIGHT", 0.0)],
    "msm 60%": [("policykb.query", "MSM_RATIO", 0.6)],
    "msm 90%": [("policykb.query", "MSM_RATIO", 0.9)],
    "match=any": [],
    "hard msm (filter)": [("policykb.query", "MSM_SOFT", False)],
    "coord 1.0": [("policykb.backends.base", "COORD_BONUS", 1.0)],
    "coord 0.25": [("policykb.backends.base", "COORD_BONUS", 0.25)],
    "all, else any": [
        ("policykb.query", "MSM_ALL_UP_TO", 1000),
        ("policykb.query", "MSM_SOFT", False),
    ],
}


def parse_patch(text: str) -> tuple[str, str, object]:
    """``module:NAME=VALUE`` (VALUE a Python literal) as a :func:`patched` setting; the
    module must exist and already define NAME."""
    import ast
    import importlib

    try:
        target, value = text.split("=", 1)
        mod, name = target.split(":", 1)
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{text!r}: expected module:NAME=VALUE (a Python literal)") from exc
    try:
        module = importlib.import_module(mod)
    except ImportError as exc:
        raise ValueError(f"{text!r}: no module {mod}") from exc
    if not hasattr(module, name):
        raise ValueError(f"{text!r}: {mod} has no {name}")
    return mod, name, parsed


@contextmanager
def patched(settings: list[tuple[str, str, object]]) -> Iterator[None]:
    import importlib

    old = []
    for mod, name, value in settings:
        m = importlib.import_module(mod)
        old.append((m, name, getattr(m, name)))
        setattr(m, name, value)
    try:
        yield
    finally:
        for m, name, value in old:
            setattr(m, name, value)


# ------------------------------------------------------------------------------ run
def only_half(s: EvalSet, half: str) -> EvalSet:
    """The set with only the queries of one half (``dev`` or ``test``; ``all`` keeps
    both): the other half is then neither run nor scored."""
    if half == "all":
        return s
    return EvalSet(s.name, s.label, s.docs, [q for q in s.queries if half_of(q) == half])


def run_peers(s: EvalSet, cache: Path | None = None) -> list[Run]:
    """The BM25 peers on one set; with ``cache`` their rankings are kept as JSON in
    ``cache/<set>-peers-<key>.json`` (key: documents and queries) and reused."""
    path = None
    if cache is not None:
        h = hashlib.sha1(corpus_key(s.docs, "peers").encode())
        for q in s.queries:
            h.update(f"\0{q.text}\0{q.relevant}".encode())
        path = Path(cache) / f"{s.name}-peers-{h.hexdigest()[:16]}.json"
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            return [Run(r["system"], r["ranked"], r["seconds"]) for r in kept]
        except (OSError, ValueError, KeyError):
            pass
    runs = [
        run_tantivy_bm25("whitespace-bm25", whitespace_tokens, s.docs, s.queries),
        run_tantivy_bm25("bigram-bm25", char_bigrams, s.docs, s.queries),
    ]
    try:
        runs.append(run_nori(s.docs, s.queries))
    except (OSError, subprocess.CalledProcessError) as exc:
        log.warning("nori peer failed: %s", exc)
        path = None  # not kept: the next run tries nori again
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"system": r.system, "ranked": r.ranked, "seconds": r.seconds} for r in runs]
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return runs


def query_ranks(run: Run, queries: list[EvalQuery]) -> list[int | None]:
    """The rank of each query's target in ``run`` (None: not in its list)."""
    out: list[int | None] = []
    for ids, q in zip(run.ranked, queries, strict=True):
        out.append(ids.index(q.relevant) + 1 if q.relevant in ids else None)
    return out


def evaluate_set(
    s: EvalSet,
    engines: Iterable[str],
    es_url: str | None = None,
    peers: bool = True,
    ablate: bool = False,
    cache: Path | None = None,
    reindex: bool = False,
    ranks: dict[str, list[int | None]] | None = None,
) -> dict[str, dict[str, Metrics]]:
    """Every system on one set: {slice: {system: metrics}} (slices dev, test, and their
    long-query parts; see :func:`only_half`). With ``ablate`` each component's ablation
    runs on the embedded engine and is reported for the dev slices only. ``cache``: see
    :func:`policykb_index` and :func:`run_peers`. ``ranks``, when given, receives each
    system's per-query target ranks (for ``bench.ranking_compare``)."""
    runs: list[Run] = run_peers(s, cache) if peers else []
    ablation_runs: list[Run] = []
    with policykb_index(s.docs, engines, es_url, s.name, cache, reindex) as idx:
        for engine, rt in idx.runtimes.items():
            runs.append(run_policykb(f"policykb ({engine})", rt, idx.groups, s.queries))
        if ablate and "embedded" in idx.runtimes:
            rt = idx.runtimes["embedded"]
            dev = [q for q in s.queries if half_of(q) == "dev"]
            for name, settings in ABLATIONS.items():
                match = "any" if name == "match=any" else "auto"
                with patched(settings):
                    ablation_runs.append(
                        run_policykb(f"  {name}", rt, idx.groups, dev, match=match)
                    )
    if ranks is not None:
        ranks.update({r.system: query_ranks(r, s.queries) for r in runs})
        # each ablation's ranks of the dev queries (None on the test half, not run), under
        # a "policykb" name so bench.ranking_compare never takes one for a peer
        if ablation_runs:
            dev_ix = [i for i, q in enumerate(s.queries) if half_of(q) == "dev"]
            for r in ablation_runs:
                got = query_ranks(r, [s.queries[i] for i in dev_ix])
                full: list[int | None] = [None] * len(s.queries)
                for i, rank in zip(dev_ix, got, strict=True):
                    full[i] = rank
                ranks[f"policykb ablation: {r.system.strip()}"] = full
    out: dict[str, dict[str, Metrics]] = {}
    for sl, ix in slices(s.queries).items():
        if not ix:
            continue
        out[sl] = {r.system: metrics_for(r, s.queries, ix) for r in runs}
    if ablation_runs:
        dev = [q for q in s.queries if half_of(q) == "dev"]
        for sl in ("dev", "dev long"):
            ix = [i for i, q in enumerate(dev) if sl == "dev" or is_long(q)]
            if ix:
                out[sl].update({r.system: metrics_for(r, dev, ix) for r in ablation_runs})
    return out


def run_benchmark(docs, queries, analyzer, backends) -> list[Metrics]:
    """Compatibility helper: peers and policykb on one set, all queries (no halves).
    ``backends`` are (name, backend) pairs; only their names are used (the engines are
    built through the real ingest path)."""
    engines = [name for name, backend in backends]
    es_url = next((getattr(b, "url", None) for n, b in backends if n == "elasticsearch"), None)
    s = EvalSet("adhoc", "", docs, queries)
    runs = [
        run_tantivy_bm25("whitespace-bm25", whitespace_tokens, docs, queries),
        run_tantivy_bm25("bigram-bm25", char_bigrams, docs, queries),
    ]
    with policykb_index(s.docs, engines, es_url, "adhoc") as idx:
        for engine, rt in idx.runtimes.items():
            runs.append(run_policykb(f"policykb ({engine})", rt, idx.groups, queries))
    every = list(range(len(queries)))
    return [metrics_for(r, queries, every) for r in runs]


def markdown_report(report: dict) -> str:
    """The JSON report of `policykb eval` as Markdown tables (one per set and slice)."""
    half = "dev" if report.get("half") == "dev" else "test"
    lines = [
        f"Tuned on: {report.get('tuned_on', 'dev')} halves; reported: {half} halves.",
        "",
        f"| set, {half} half | queries | best peer | nDCG@10 | policykb embedded | "
        "policykb Elasticsearch | margin (worse engine) | engines apart |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["sets"].items():
        for sl in (half, f"{half} long"):
            rows = s["slices"].get(sl)
            if not rows:
                continue
            peers = {k: v["ndcg10"] for k, v in rows.items() if not k.startswith("policykb")}
            if not peers:  # a run without peers (--no-peers)
                peers = {"(no peer)": 0.0}
            best = max(peers, key=peers.get)
            emb = rows.get("policykb (embedded)", {}).get("ndcg10")
            es = rows.get("policykb (elasticsearch)", {}).get("ndcg10")
            ours = [v for v in (emb, es) if v is not None]
            n = next(iter(rows.values()))["queries"]
            lines.append(
                f"| {name} {sl} | {n} | {best} | {peers[best]:.4f} | "
                f"{emb if emb is None else f'{emb:.4f}'} | {es if es is None else f'{es:.4f}'} | "
                f"{min(ours) - peers[best]:+.4f} | "
                f"{abs(emb - es) if emb is not None and es is not None else 0:.4f} |"
            )
    lines.append("")
    for name, s in report["sets"].items():
        lines.append(f"### {name}: {s['label']} ({s['documents']} documents)")
        lines.append("")
        for sl, rows in s["slices"].items():
            n = next(iter(rows.values()))["queries"]
            lines.append(f"{sl} ({n} queries)")
            lines.append("")
            lines.append("| system | nDCG@10 | R@10 | R@100 | MRR | ms/q |")
            lines.append("|---|---|---|---|---|---|")
            for system, m in rows.items():
                lines.append(
                    f"| {system.strip()} | {m['ndcg10']:.4f} | {m['recall10']:.4f} | "
                    f"{m['recall100']:.4f} | {m['mrr']:.4f} | {m['ms_per_query']:.1f} |"
                )
            lines.append("")
    return "\n".join(lines)
