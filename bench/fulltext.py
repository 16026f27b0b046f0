"""Full-text benchmark: long reports (20-400 pages) against short documents, both engines,
one run.

    python -m bench --only fulltext            # from bench/run_all.py
    python -m bench.fulltext [--pages 100000] [--no-es] [--reps 5] [--quick]

The long corpus is assembled from real text: every passage of the public-docs files as
policykb ingests them (``Ingester.run`` into bench/.cache/fulltext/public, kept between runs)
and kdi-epic summaries (the cached analysis of bench.common.load_corpus), shuffled at
passage level and cut into pages whose lengths are drawn from the real public-docs pages,
so no two documents are alike. Metadata (title, institute, date, type) comes from kdi-epic
rows. The short corpus is the same number of kdi-epic documents (one to three passages).
Analysis is never repeated: pages reuse the analyzed passages.

Reported: ingest time (store write, embedded and Elasticsearch rebuild), index size,
service p50/p99 for the issue-8 query mix (bench/search.py cases), the document page
(``/documents/<id>?q=…`` first response: time and size) for long and short documents, and
the PRISM report case (public-docs + corpus/sample, queries that match the 480k-character
report against queries that match only short documents, and its document page).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench.common import (  # noqa: E402
    CACHE,
    CpuMeter,
    Goal,
    Section,
    Table,
    command_meta,
    fmt_num,
    log,
    median,
    other_load_note,
    percentile,
    stopwatch,
    write_results,
)

SEED = 20261201
MIN_PAGES, MAX_PAGES = 20, 400
FOLDER = CACHE / "fulltext"
PRISM_FILE = "1342000_edu_curriculum_map"
PRISM_QUERIES = ["교육과정", "학생"]  # match the report
WARM_SECONDS = 20.0  # per runner, before measuring (Elasticsearch JIT, caches)
SHORT_QUERIES = ["스마트시티", "도시"]  # as in the issue (도시 matches many short documents)
DOC_PAGE_REPS = 7
# The PRISM case's service queries: runs per query and warm-up runs before them. Seven
# runs after one warm-up read 1.56x (tenth session) and 2.21x (eleventh) where 40 runs on
# the same index gave 1.51x.
PRISM_REPS = 30
PRISM_WARM = 5


@dataclass
class Pool:
    """Analyzed passages to draw from: (text, tokens) pairs, plus real page lengths."""

    passages: list  # list[Passage] (seq/page rewritten per use)
    page_chars: list[int]


# Bump when the corpus assembly (long_documents, the short corpus) changes: cached builds
# of an older assembly are then ignored.
BUILD_VERSION = 1


def build_key(target: int, n_kdi: int, analyzer_id: str, public_docs: int) -> str:
    """Key of a built corpus: everything its stores depend on (parameters, analysis). The
    index schema is not part of it: an index records the SCHEMA_VERSION it was built with
    and is rebuilt from the cached store's corpus when that changed (code that changes an
    index bumps it, as for a product index on disk)."""
    parts = {
        "build": BUILD_VERSION,
        "pages": target,
        "kdi": n_kdi,
        "seed": SEED,
        "page_range": [MIN_PAGES, MAX_PAGES],
        "analyzer": analyzer_id,
        "public_documents": public_docs,
    }
    raw = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def build_root() -> Path:
    """Where built corpora are kept between runs: POLICYKB_BENCH_BUILD_DIR, else the
    system temp folder (a 100,000-page build takes about 2 GB)."""
    return Path(os.environ.get("POLICYKB_BENCH_BUILD_DIR") or tempfile.gettempdir())


class BuildCache:
    """Stores and embedded indexes of one corpus build (``policykb-fulltext-<key>/`` under
    :func:`build_root`), reused by the next run with the same key. A part counts as built
    once its record is in build.json, written after the part is complete. Elasticsearch
    indexes are reused while the same node still holds them (their physical names are
    recorded)."""

    def __init__(self, key: str, fresh: bool = False) -> None:
        self.key = key
        self.folder = build_root() / f"policykb-fulltext-{key}"
        if fresh:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = self.folder / "build.json"

    def records(self) -> dict:
        try:
            return json.loads(self._file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def get(self, part: str) -> dict | None:
        return self.records().get(part)

    def put(self, part: str, record: dict) -> None:
        data = self.records()
        data[part] = record
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self._file)

    def forget(self, part: str) -> None:
        data = self.records()
        if data.pop(part, None) is not None:
            self._file.write_text(json.dumps(data, indent=1))


class CachedAnalysis:
    """Stands for an earlier analyzer (``--corpus-analyzer``): its identity names the
    cached corpus build and kdi-epic analysis to reuse; analyzing anything with it is an
    error (the current analyzer would be used under the old name)."""

    def __init__(self, identity: str) -> None:
        self.identity = identity

    @property
    def lexicon(self):
        raise SystemExit(
            f"--corpus-analyzer {self.identity}: its kdi-epic analysis is not cached under "
            f"{CACHE / 'corpus' / self.identity}; run without the option to build anew"
        )


def public_data_dir() -> Path:
    return FOLDER / "public"


def ingest_public(reingest: bool = False) -> tuple[Path, dict]:
    """public-docs + corpus/sample through policykb's real ingest, once (the data dir is
    kept under bench/.cache/fulltext/public; ``reingest`` runs the ingest again)."""
    from bench.common import PUBLIC_DOCS
    from corpus import SAMPLE_DIR
    from policykb.settings import load_settings
    from wiring.runtime import Runtime

    data = public_data_dir()
    rt = Runtime(load_settings({"data_dir": str(data), "rate_limit": 0}, environ={}))
    if rt.store.count_documents() and not reingest:
        with stopwatch() as t:
            if rt.backend.count() == 0:  # index removed (or schema change): refill it
                rt.backend.rebuild(
                    rt.store.iter_documents(canonical_only=True), rt.store.count_documents()
                )
        log(f"public-docs: cached data dir {data} ({t[0]:.1f} s to open)")
        return data, {"cached": True, "documents": rt.store.count_documents()}
    with stopwatch() as t:
        report = rt.ingester().run([PUBLIC_DOCS, SAMPLE_DIR])
        rt.backend.count()  # a schema change rebuilds here
    rt.store.close()
    log(f"public-docs ingest: {report.added} added, {report.failed} failed, {t[0]:.1f} s")
    return data, {"seconds": t[0], "added": report.added, "failed": report.failed}


def build_pool(public_store, kdi_docs: list) -> Pool:
    from policykb.models import Passage

    con = public_store._conn()
    rows = con.execute(
        "SELECT p.page, p.text, p.tokens FROM passages p JOIN documents d ON d.id = p.doc_id "
        "WHERE d.canonical_id IS NULL ORDER BY p.doc_id, p.seq"
    ).fetchall()
    from analyzers.tokens import tokens_from_json

    passages = [Passage(0, None, r["text"], tokens_from_json(r["tokens"])) for r in rows]
    page_chars = [
        r[0]
        for r in con.execute(
            "SELECT SUM(LENGTH(p.text)) FROM passages p JOIN documents d ON d.id = p.doc_id "
            "WHERE d.canonical_id IS NULL AND p.page IS NOT NULL GROUP BY p.doc_id, p.page"
        )
        if r[0] >= 200
    ]
    for d in kdi_docs:
        passages.extend(Passage(0, None, p.text, p.tokens) for p in d.passages)
    return Pool(passages, page_chars)


def long_documents(pool: Pool, meta_docs: list, target_pages: int) -> Iterator:
    """Deterministic stream of long documents (same every call): metadata of kdi-epic
    documents, bodies of pages cut from the shuffled passage pool."""
    from policykb.models import Document, Passage

    rng = random.Random(SEED)
    order = list(range(len(pool.passages)))
    rng.shuffle(order)
    cursor = 0
    pages_left = target_pages
    for i, meta in enumerate(meta_docs):
        if pages_left <= 0:
            return
        n_pages = min(pages_left, rng.randint(MIN_PAGES, MAX_PAGES))
        pages_left -= n_pages
        passages = []
        for page in range(1, n_pages + 1):
            want, have = rng.choice(pool.page_chars), 0
            while have < want:
                if cursor == len(order):
                    rng.shuffle(order)
                    cursor = 0
                src = pool.passages[order[cursor]]
                cursor += 1
                passages.append(Passage(len(passages), page, src.text, src.tokens))
                have += len(src.text)
        yield Document(
            id=f"long-{i:05d}",
            title=meta.title,
            institute=meta.institute,
            regions=meta.regions,
            doc_type="연구보고서",
            date=meta.date,
            institute_published=meta.institute_published,
            page_count=n_pages,
            passages=passages,
            title_tokens=meta.title_tokens,
        )


PAGED_MIN, PAGED_MAX = 1, 3  # pages per document of the equal-pages short corpus


def paged_documents(pool: Pool, meta_docs: list, target_pages: int, n_long: int) -> Iterator:
    """The equal-pages short corpus: the long corpus's pages, in order, cut into documents
    of 1-3 pages (press-release size), so it has the long corpus's passages, pages and
    text volume in many short documents. Metadata: the kdi-epic rows the long documents
    do not use, in turn (ids are new)."""
    from dataclasses import replace

    from policykb.models import Passage

    rng = random.Random(SEED + 1)
    metas = meta_docs[n_long:] or meta_docs
    j = 0
    for long in long_documents(pool, meta_docs, target_pages):
        pages: dict[int, list] = {}
        for p in long.passages:
            pages.setdefault(p.page, []).append(p)
        order = sorted(pages)
        i = 0
        while i < len(order):
            chunk = order[i : i + rng.randint(PAGED_MIN, PAGED_MAX)]
            i += len(chunk)
            rows = [(n, p) for n, page in enumerate(chunk, 1) for p in pages[page]]
            passages = [Passage(seq, n, p.text, p.tokens) for seq, (n, p) in enumerate(rows)]
            yield replace(
                metas[j % len(metas)],
                id=f"paged-{j:06d}",
                page_count=len(chunk),
                passages=passages,
                content_hash=None,
                simhash=None,
                canonical_id=None,
            )
            j += 1


def count_long(pool: Pool, meta_docs: list, target_pages: int) -> tuple[int, int, int]:
    docs = pages = chars = 0
    for d in long_documents(pool, meta_docs, target_pages):
        docs += 1
        pages += d.page_count
        chars += sum(len(p.text) for p in d.passages)
    return docs, pages, chars


def write_store(docs: Iterator, path: Path, analyzer_id: str) -> float:
    from policykb.store import DocumentStore

    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = DocumentStore(path)
    with stopwatch() as t:
        batch = []
        for d in docs:
            batch.append(d)
            if len(batch) == 50:
                with store.connect() as con:
                    for x in batch:
                        store.put_document(x, analyzer_id, con)
                batch = []
        with store.connect() as con:
            for x in batch:
                store.put_document(x, analyzer_id, con)
    store.close()
    return t[0]


def cached_store(cache: BuildCache, name: str, docs, analyzer_id: str) -> dict:
    """The corpus ``name``'s store in the build folder, written unless cached: {"seconds"
    (of the original write), "cached"}."""
    rec = cache.get(f"store/{name}")
    path = cache.folder / name / "store.sqlite3"
    if rec and path.exists():
        log(f"{name}: cached store {path} (written in {rec['seconds']:.1f} s)")
        return {**rec, "cached": True}
    cache.forget(f"store/{name}")
    for part in ("embedded", "elasticsearch"):  # indexes of an older store are stale
        cache.forget(f"{part}/{name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {"seconds": write_store(docs(), path, analyzer_id)}
    cache.put(f"store/{name}", rec)
    return {**rec, "cached": False}


def index_both(
    name: str, make_docs, n: int, es_url: str | None, cache: BuildCache | None = None
) -> dict:
    """Rebuild the embedded index (data dir ``name``) and, with ``es_url``, an ES alias;
    with ``cache``, both are reused when that build already made them."""
    from policykb.backends.base import SCHEMA_VERSION
    from policykb.backends.elastic import ElasticBackend
    from policykb.backends.embedded import EmbeddedBackend

    out: dict = {}
    root = cache.folder if cache is not None else FOLDER
    folder = root / name / "index"
    rec = cache.get(f"embedded/{name}") if cache is not None else None
    if rec and rec.get("schema") == SCHEMA_VERSION and folder.is_dir():
        emb = EmbeddedBackend(folder)
        if not emb.needs_rebuild and emb.count() == n:
            out["embedded"] = {"backend": emb, **rec, "cached": True}
            log(f"{name}: cached embedded index (built in {rec['seconds']:.1f} s)")
        else:
            rec = None
    if "embedded" not in out:
        shutil.rmtree(folder, ignore_errors=True)
        emb = EmbeddedBackend(folder)
        with stopwatch() as t:
            emb.rebuild(make_docs(), n)
        rec = {"seconds": t[0], "bytes": emb.info()["size_bytes"], "schema": SCHEMA_VERSION}
        if cache is not None:
            cache.put(f"embedded/{name}", rec)
        out["embedded"] = {"backend": emb, **rec, "cached": False}
        log(f"{name}: embedded rebuild {t[0]:.1f} s")
    if es_url:
        alias = f"policykb-fulltext-{name}" + (f"-{cache.key}" if cache is not None else "")
        es = ElasticBackend(es_url, alias, shards=1, replicas=0)
        rec = cache.get(f"elasticsearch/{name}") if cache is not None else None
        live = es.physical_indices() + es.physical_indices(es.passage_alias)
        if (
            rec
            and rec.get("schema") == SCHEMA_VERSION
            and rec.get("url") == es_url
            and rec.get("indices") == live
            and es.count() == n
        ):
            out["elasticsearch"] = {"backend": es, **rec, "cached": True}
            log(f"{name}: cached Elasticsearch indexes {live} (built in {rec['seconds']:.1f} s)")
            # Built before rebuilds ended in a force merge: merge them as a rebuild now
            # leaves them (one segment each; returns at once when they already are).
            with stopwatch() as t:
                es.merge_segments()
            log(f"{name}: Elasticsearch indexes merged to one segment in {t[0]:.1f} s")
            return out
        es.drop_all()
        with stopwatch() as t:
            es.rebuild(make_docs(), n)
        stats = es.es.indices.stats(index=[es.alias, es.passage_alias], metric="store")
        size = stats["_all"]["primaries"]["store"]["size_in_bytes"]
        live = es.physical_indices() + es.physical_indices(es.passage_alias)
        rec = {"seconds": t[0], "bytes": size, "url": es_url, "indices": live}
        rec["schema"] = SCHEMA_VERSION
        if cache is not None:
            cache.put(f"elasticsearch/{name}", rec)
        out["elasticsearch"] = {"backend": es, **rec, "cached": False}
        log(f"{name}: Elasticsearch rebuild {t[0]:.1f} s")
    return out


def doc_page_times(client, ids: list[str], q: str, reps: int) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for _ in range(reps):
        for doc_id in ids:
            with stopwatch() as t:
                resp = client.get(f"/documents/{doc_id}?q={q}")
            assert resp.status_code == 200, resp.status_code
            times.append(t[0] * 1000)
            sizes.append(len(resp.data))
    return times, sizes


def app_client(data: Path, backend, analyzer):
    from policykb.settings import load_settings
    from wiring.runtime import Runtime
    from wiring.wsgi import create_app

    settings = load_settings({"data_dir": str(data), "rate_limit": 0}, environ={})
    rt = Runtime(settings)
    rt.__dict__["backend"] = backend  # the measured engine
    rt.__dict__["analyzer"] = analyzer
    app = create_app({"TESTING": True}, settings=settings)
    app.extensions["policykb"] = rt
    return app.test_client(), rt


def prism_case(data: Path, es_url: str | None, analyzer, reps: int) -> tuple[Table, dict]:
    """The issue's report case, in process, on both engines."""
    from policykb.backends.elastic import ElasticBackend
    from policykb.backends.embedded import EmbeddedBackend
    from policykb.service import parse_request

    runs = max(reps, PRISM_REPS)
    backends = {"embedded": EmbeddedBackend(data / "index")}
    if es_url:
        es = ElasticBackend(es_url, "policykb-fulltext-public", shards=1, replicas=0)
        from policykb.store import DocumentStore

        store = DocumentStore(data / "store.sqlite3")
        if (
            not es.physical_indices(es.passage_alias)
            or es.needs_rebuild
            or es.count() != store.count_documents()
        ):
            es.drop_all()
            es.rebuild(
                (d for d in store.iter_documents() if d.canonical_id is None),
                store.count_documents(),
            )
        backends["elasticsearch"] = es
    table = Table(
        "PRISM report case: public-docs + corpus/sample, in process",
        ["engine", "query", "hits", "service p50 ms", "max ms", "vs 스마트시티 p50"],
    )
    data_out: dict = {}
    for name, backend in backends.items():
        client, rt = app_client(data, backend, analyzer)
        row = (
            rt.store._conn()
            .execute(
                "SELECT id, canonical_id FROM documents WHERE source_path LIKE ?",
                (f"%/{PRISM_FILE}.hwp",),
            )
            .fetchone()
        )
        report_ids = [i for i in dict.fromkeys([row[1], row[0]]) if i]
        p50s: dict[str, float] = {}
        queries = SHORT_QUERIES + PRISM_QUERIES
        reqs = {q: parse_request({"q": [q]}, rt.settings) for q in queries}
        for q in queries:
            for _ in range(PRISM_WARM):
                rt.service.search(reqs[q])
        # Interleaved (one run of each query in turn), as the corpus mix is: a machine
        # that slows or speeds up during the runs moves every query alike, not the ratio.
        times: dict[str, list[float]] = {q: [] for q in queries}
        totals: dict[str, int] = {}
        for _ in range(runs):
            for q in queries:
                with stopwatch() as t:
                    totals[q] = rt.service.search(reqs[q]).total
                times[q].append(t[0] * 1000)
        for q in queries:
            ts = times[q]
            p50s[q] = median(ts)
            base = p50s[SHORT_QUERIES[0]]
            table.add(
                name, q, totals[q], f"{p50s[q]:.1f}", f"{max(ts):.1f}", f"{p50s[q] / base:.2f}x"
            )
        doc_ms, doc_bytes = doc_page_times(client, report_ids, "학생", reps)
        table.add(
            name,
            "document page ?q=학생",
            "-",
            f"{median(doc_ms):.1f}",
            f"{max(doc_ms):.1f}",
            f"{max(doc_bytes) / 1024:.0f} KB",
        )
        data_out[name] = {
            "p50_ms": p50s,
            "report_vs_short": max(p50s[q] for q in PRISM_QUERIES) / p50s[SHORT_QUERIES[0]],
            "doc_page_p50_ms": median(doc_ms),
            "doc_page_max_ms": max(doc_ms),
            "doc_page_kb": max(doc_bytes) / 1024,
        }
    table.notes.append(
        f"{runs} runs per query, the queries interleaved, after {PRISM_WARM} warm-up runs "
        "each; ratio = the slower report "
        "query's p50 over "
        "스마트시티's (which matches short documents only). The report: "
        f"{PRISM_FILE}.hwp (476k characters, 640 passages, no page numbers) and its canonical "
        "copy, the 415-page PDF of the same report that search results show; the document "
        "page row covers both."
    )
    return table, data_out


def run(
    quick: bool = False,
    use_es: bool = True,
    pages: int | None = None,
    reps: int = 5,
    kdi: int | None = None,
    fresh: bool = False,
    keep_es: bool = False,
    paged: bool = False,
    corpus_analyzer: str | None = None,
    warm: float = WARM_SECONDS,
) -> Section:
    from analyzers import get_analyzer
    from bench import indexing
    from bench.common import load_corpus, load_kdi_rows
    from bench.search import Runner, cases, measure, summary
    from policykb.settings import load_settings
    from policykb.store import DocumentStore

    target = pages or (10_000 if quick else 100_000)
    sec = Section("Full text")
    analyzer = get_analyzer()
    FOLDER.mkdir(parents=True, exist_ok=True)
    public, ingest_info = ingest_public()
    n_kdi = kdi or (5000 if quick else 20000)
    public_docs = DocumentStore(public / "store.sqlite3").count_documents(canonical_only=False)
    # The corpus's analysis: the current analyzer's, or (--corpus-analyzer) an earlier one
    # whose cached build is reused (queries are always analyzed by the current one).
    corpus_an = CachedAnalysis(corpus_analyzer) if corpus_analyzer else analyzer
    cache = BuildCache(build_key(target, n_kdi, corpus_an.identity, public_docs), fresh)
    root = cache.folder
    log(f"corpus build folder: {root}")
    made: dict = {}  # the passage pool and documents, assembled only if something is built

    def assemble() -> dict:
        if not made:
            kdi_docs, _build = load_corpus(n_kdi, corpus_an, load_kdi_rows())
            pool = build_pool(DocumentStore(public / "store.sqlite3"), kdi_docs)
            n_long, n_pages, n_chars = count_long(pool, kdi_docs, target)
            short_docs = kdi_docs[-n_long:]  # metadata rows the long documents do not reuse
            made.update(pool=pool, meta=kdi_docs, short=short_docs)
            cache.put(
                "corpus",
                {
                    "n_long": n_long,
                    "n_pages": n_pages,
                    "n_chars": n_chars,
                    "short_chars": sum(len(p.text) for d in short_docs for p in d.passages),
                    "short_ids": [d.id for d in short_docs],
                    "page_lengths": len(pool.page_chars),
                    "pool_passages": len(pool.passages),
                },
            )
        return made

    info = cache.get("corpus") or (assemble() and cache.get("corpus"))
    n_long, n_pages, n_chars = info["n_long"], info["n_pages"], info["n_chars"]
    short_chars = info["short_chars"]
    log(f"long corpus: {n_long} documents, {n_pages} pages, {n_chars:,} chars; short: {n_long}")

    def make_long():
        m = assemble()
        return long_documents(m["pool"], m["meta"], target)

    def make_short():
        return iter(assemble()["short"])

    def make_paged():
        m = assemble()
        return paged_documents(m["pool"], m["meta"], target, n_long)

    stores = {
        "long": cached_store(cache, "long", make_long, corpus_an.identity),
        "short": cached_store(cache, "short", make_short, corpus_an.identity),
    }
    corpora = ["long", "short"]
    paged_info = None
    if paged:  # the equal-pages short corpus, clearly apart from the comparison
        paged_info = cache.get("corpus/paged")
        if paged_info is None:
            n_docs = n_chars_p = 0
            for d in make_paged():
                n_docs += 1
                n_chars_p += sum(len(p.text) for p in d.passages)
            paged_info = {"n_docs": n_docs, "n_chars": n_chars_p}
            cache.put("corpus/paged", paged_info)
        stores["paged"] = cached_store(cache, "paged", make_paged, corpus_an.identity)
        corpora.append("paged")
        log(f"equal-pages short corpus: {paged_info['n_docs']:,} documents of 1-3 pages")
    store_s = {k: v["seconds"] for k, v in stores.items()}
    with indexing.elasticsearch(use_es, keep_data=keep_es) as es:
        es_url = es.url if es is not None else None
        built = {
            "long": index_both("long", make_long, n_long, es_url, cache),
            "short": index_both("short", make_short, n_long, es_url, cache),
        }
        if paged_info:
            built["paged"] = index_both("paged", make_paged, paged_info["n_docs"], es_url, cache)
        ingest = Table(
            "Full text: corpora and ingest (documents arrive analyzed)",
            ["corpus", "documents", "pages", "characters", "store write s"]
            + [f"{e} rebuild s / index MB" for e in built["long"]],
        )
        rows = [("long", n_long, fmt_num(n_pages), n_chars)]
        rows.append(("short", n_long, "1-3 passages each", short_chars))
        if paged_info:
            rows.append(("paged", paged_info["n_docs"], fmt_num(n_pages), paged_info["n_chars"]))
        for name, n_docs, pages_label, chars in rows:
            ingest.add(
                name,
                fmt_num(n_docs),
                pages_label,
                fmt_num(chars),
                f"{store_s[name]:.1f}",
                *[f"{b['seconds']:.1f} / {b['bytes'] / 2**20:.0f}" for b in built[name].values()],
            )
        ingest.notes.append(
            f"Long documents: {MIN_PAGES}-{MAX_PAGES} pages each, page lengths drawn from "
            f"{info['page_lengths']:,} real public-docs pages, passages drawn from "
            f"{info['pool_passages']:,} analyzed passages (public-docs ingest + {n_kdi:,} kdi-epic "
            "summaries) in a shuffled order. Rebuild includes passage entries."
        )
        from policykb.backends import embedded as emb

        ingest.notes.append(
            "Embedded passage lookups: "
            + (
                "the native reader (policykb_native, `make native`)."
                if emb.policykb_native is not None and emb.USE_NATIVE
                else "the Python path (policykb_native not built or POLICYKB_NATIVE=0)."
            )
        )
        if corpus_an is not analyzer:
            ingest.notes.append(
                f"The corpora were analyzed by an earlier analyzer ({corpus_an.identity}, "
                f"--corpus-analyzer); queries by the current one ({analyzer.identity})."
            )
        if paged_info:
            ingest.notes.append(
                "paged: the equal-pages short corpus (--paged-short), the long corpus's pages "
                f"in order cut into documents of {PAGED_MIN}-{PAGED_MAX} pages with kdi-epic "
                "metadata: the same passages and text volume as the long corpus in short "
                "documents. short: the issue's comparison, as many short documents as long ones."
            )
        reused = [
            f"{c} {part}"
            for c in corpora
            for part, rec in [("store", stores[c]), *built[c].items()]
            if rec.get("cached")
        ]
        if reused:
            ingest.notes.append(
                "Reused from an earlier run with the same parameters (times are that run's): "
                + ", ".join(reused)
                + f"; build folder {root}."
            )
        sec.tables.append(ingest)

        runners = []
        for corpus in corpora:
            store = DocumentStore(root / corpus / "store.sqlite3")
            settings = load_settings({"data_dir": str(root / corpus)}, environ={})
            for engine, b in built[corpus].items():
                runners.append(
                    Runner(f"{engine}/{corpus}", b["backend"], store, analyzer, settings)
                )
        log(f"search: {len(cases())} queries x {reps} reps on {len(runners)} runners")
        meter = CpuMeter((es.pid,) if es is not None and es.pid else ()).start()
        result = measure(runners, reps, warm)
        load = meter.stop()
        s = summary(result)
        engines = list(built["long"])
        others = [c for c in corpora if c != "long"]
        table = Table(
            "Full text: service latency, long vs short corpus (same queries, interleaved)",
            ["query kind"]
            + [f"{e} {c} p50/p99 ms" for e in engines for c in corpora]
            + [f"{e} long/{c} p50" for e in engines for c in others],
        )

        def ratio(e: str, c: str, mode: str, cat: str) -> str:
            return f"{s[f'{e}/long'][mode][cat][0] / s[f'{e}/{c}'][mode][cat][0]:.2f}x"

        for cat in [*dict.fromkeys(c.category for c in cases()), "all"]:
            row = [cat]
            for e in engines:
                for c in corpora:
                    p50, p99, _ = s[f"{e}/{c}"]["service"][cat]
                    row.append(f"{p50:.1f} / {p99:.1f}")
            row += [ratio(e, c, "service", cat) for e in engines for c in others]
            table.add(*row)
        cpu_row = ["all, CPU ms of this process"]
        for e in engines:
            for c in corpora:
                p50, p99, _ = s[f"{e}/{c}"]["service_cpu"]["all"]
                cpu_row.append(f"{p50:.2f} / {p99:.2f}")
        cpu_row += [ratio(e, c, "service_cpu", "all") for e in engines for c in others]
        table.add(*cpu_row)
        shown = {
            name: sum(min(t, 10) for t in totals.values()) / max(1, len(totals))
            for name, totals in result["totals"].items()
        }
        table.add(
            "hits on the result page (mean)",
            *[f"{shown[f'{e}/{c}']:.1f}" for e in engines for c in corpora],
            *["" for _e in engines for _c in others],
        )
        if "paged" in corpora:
            table.notes.append(
                "paged = the equal-pages short corpus (the long corpus's pages as documents of "
                f"{PAGED_MIN}-{PAGED_MAX} pages); short = as many short documents as long ones, "
                "the issue's comparison (its goal is long/short)."
            )
        table.notes.append(
            "The CPU row: CPU time of the benchmark process during each call (for "
            "Elasticsearch without the server's own work), which the other processes' load "
            "hardly changes, unlike wall-clock time on a shared machine."
        )
        table.notes.append(
            f"{len(cases())} queries x {reps} repetitions per runner, after a warm-up of at "
            f"least {warm:g} s per runner; SearchService.search "
            "(parse, Kiwi, backend, re-rank, metadata, passage lookup, snippets of 10 hits). "
            + other_load_note([load])
        )
        sec.tables.append(table)

        pages_table = Table(
            "Full text: document page (/documents/<id>?q=…, first response)",
            ["engine", "corpus", "p50 ms", "p99 ms", "largest KB"],
        )
        doc_data: dict = {}
        for corpus in ("long", "short"):
            ids = [f"long-{i:05d}" for i in range(0, n_long, max(1, n_long // 10))][:10]
            if corpus == "short":
                short_ids = info["short_ids"]
                ids = short_ids[:: max(1, len(short_ids) // 10)][:10]
            for engine, b in built[corpus].items():
                client, _rt = app_client(root / corpus, b["backend"], analyzer)
                doc_page_times(client, ids[:2], "도시", 1)  # warm
                ms, sizes = doc_page_times(client, ids, "도시", max(1, reps // 2))
                pages_table.add(
                    engine,
                    corpus,
                    f"{median(ms):.1f}",
                    f"{percentile(ms, 99):.1f}",
                    f"{max(sizes) / 1024:.0f}",
                )
                doc_data[f"{engine}/{corpus}"] = {
                    "p50": median(ms),
                    "p99": percentile(ms, 99),
                    "max_kb": max(sizes) / 1024,
                }
        sec.tables.append(pages_table)

        prism_table, prism = prism_case(public, es_url, analyzer, DOC_PAGE_REPS)
        sec.tables.append(prism_table)
        for corpus in corpora:
            es_built = built[corpus].get("elasticsearch")
            if es_built and not keep_es:  # the node's data lives in the shared cache
                es_built["backend"].drop_all()
                cache.forget(f"elasticsearch/{corpus}")

    for e in engines:
        p99 = s[f"{e}/long"]["service"]["all"][1]
        sec.goals.append(
            Goal(f"{e} long corpus service p99", "<= 100 ms", f"{p99:.1f} ms", p99 <= 100)
        )
        r = s[f"{e}/long"]["service"]["all"][0] / s[f"{e}/short"]["service"]["all"][0]
        sec.goals.append(
            Goal(f"{e} long p50 / short p50, service", "<= 1.5x", f"{r:.2f}x", r <= 1.5)
        )
        pr = prism[e]
        sec.goals.append(
            Goal(
                f"{e} PRISM report queries vs short-document query (p50)",
                "<= 2x",
                f"{pr['report_vs_short']:.2f}x",
                pr["report_vs_short"] <= 2,
            )
        )
        sec.goals.append(
            Goal(
                f"{e} PRISM document page first response",
                "<= 300 KB and <= 100 ms",
                f"{pr['doc_page_kb']:.0f} KB, p50 {pr['doc_page_p50_ms']:.1f} ms",
                pr["doc_page_kb"] <= 300 and pr["doc_page_p50_ms"] <= 100,
            )
        )
    sec.data = {
        "pages": n_pages,
        "long_documents": n_long,
        "long_chars": n_chars,
        "short_chars": short_chars,
        "public_ingest": ingest_info,
        "build_folder": str(root),
        "corpus_analyzer": corpus_an.identity,
        "query_analyzer": analyzer.identity,
        "cached": {
            c: {
                part: bool(rec.get("cached"))
                for part, rec in [("store", stores[c]), *built[c].items()]
            }
            for c in corpora
        },
        "paged": paged_info,
        "hits_shown_mean": shown,
        "store_seconds": store_s,
        "index": {
            c: {e: {"seconds": b["seconds"], "bytes": b["bytes"]} for e, b in built[c].items()}
            for c in built
        },
        "service": {k: v["service"] for k, v in s.items()},
        "service_cpu": {k: v["service_cpu"] for k, v in s.items()},
        "document_page": doc_data,
        "prism": prism,
        "other_load_cores": load["others"],
    }
    return sec


def write(sec: Section, meta: dict) -> tuple[Path, Path]:
    from bench.report import now

    return write_results("fulltext", "fulltext", sec, meta, f"Full-text benchmark ({now()})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.fulltext", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="10,000 pages, 5,000 kdi rows")
    p.add_argument("--pages", type=int, help="pages in the long corpus (default 100000)")
    p.add_argument("--no-es", action="store_true", help="skip Elasticsearch")
    p.add_argument("--reps", type=int, default=5, help="repetitions per query")
    p.add_argument("--kdi", type=int, help="kdi-epic rows in the pool (default 20000)")
    p.add_argument(
        "--fresh", action="store_true", help="build the corpus again even if a build is cached"
    )
    p.add_argument(
        "--keep-es",
        action="store_true",
        help="leave the Elasticsearch indexes for the next run on the same node",
    )
    p.add_argument(
        "--paged-short",
        action="store_true",
        help="also an equal-pages short corpus: the long corpus's pages as 1-3-page documents",
    )
    p.add_argument(
        "--corpus-analyzer",
        metavar="IDENTITY",
        help="reuse the cached corpus build analyzed by this earlier analyzer identity "
        "(nothing is analyzed with it; queries use the current analyzer)",
    )
    p.add_argument(
        "--warm",
        type=float,
        default=WARM_SECONDS,
        metavar="SECONDS",
        help=f"warm each runner for at least this long before measuring (default {WARM_SECONDS:g})",
    )
    args = p.parse_args(argv)
    with stopwatch() as t:
        sec = run(
            args.quick,
            not args.no_es,
            args.pages,
            args.reps,
            args.kdi,
            args.fresh,
            args.keep_es,
            args.paged_short,
            args.corpus_analyzer,
            args.warm,
        )
    sec.seconds = t[0]
    sec.print()
    meta = {
        **command_meta("bench.fulltext", argv),
        "seconds": t[0],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    json_path, md_path = write(sec, meta)
    log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
