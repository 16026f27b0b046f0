"""Indexing throughput: analyzed kdi-epic Documents into the embedded engine (tantivy) and
into Elasticsearch (bulk chunk size and parallel bulk threads tuned), at every corpus size.
Also writes the SQLite document store the search and HTTP benchmarks need."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    CACHE,
    REPO,
    CorpusBuild,
    CpuMeter,
    Section,
    Table,
    fmt_num,
    fmt_ratio,
    log,
    other_load_note,
    profile_call,
    stopwatch,
    vm_rss_mb,
)

ES_PORT, ES_TRANSPORT_PORT = 9280, 9380
ES_NODE = "bench-es"
BULK_CHUNKS = (200, 500, 1000)
PARALLEL_THREADS = (2, 4)
TUNE_DOCS = 10_000
STORE_BATCH = 1000


def data_dir(n: int) -> Path:
    """bench/.cache/data-<n>: a policykb data dir (index/, and store.sqlite3 for the
    largest size) that ``search_app`` can serve."""
    return CACHE / f"data-{n}"


def es_alias(n: int) -> str:
    return f"policykb-bench-{n}"


# --------------------------------------------------------------------- Elasticsearch node
@dataclass
class EsHandle:
    url: str
    pid: int | None = None  # set when this run started the node
    version: str = ""
    notes: list[str] = field(default_factory=list)


def _es_local():
    spec = importlib.util.spec_from_file_location("es_local", REPO / "scripts" / "es_local.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["es_local"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@contextmanager
def elasticsearch(enabled: bool, keep_data: bool = False) -> Iterator[EsHandle | None]:
    """``POLICYKB_BENCH_ES_URL`` if set, else a node started here on port 9280 (stopped on
    exit; ``keep_data`` starts it on the indexes an earlier run left, instead of a fresh
    node); None when disabled or Java/Maven are missing."""
    url = os.environ.get("POLICYKB_BENCH_ES_URL")
    if url:
        yield EsHandle(url)
        return
    if not enabled:
        yield None
        return
    es_local = _es_local()
    node = es_local.Node(
        ES_NODE, ES_PORT, ES_TRANSPORT_PORT, cluster="policykb-bench", heap_mb=1024
    )
    if node.pid() and node.running():  # left over from an interrupted run of ours
        node.stop()
    log(f"starting Elasticsearch {es_local.ES_VERSION} on {node.url}")
    try:
        with stopwatch() as t:
            node.start(keep_data=keep_data)
    except es_local.ESUnavailable as exc:
        log(f"Elasticsearch unavailable, skipping it: {exc}")
        yield None
        return
    handle = EsHandle(node.url, node.pid(), es_local.ES_VERSION)
    handle.notes.append(f"node started in {t[0]:.1f} s (heap 1024 MB)")
    try:
        yield handle
    finally:
        log("stopping Elasticsearch")
        node.stop()


# ----------------------------------------------------------------------------- the store
def ensure_store(docs: list, analyzer_id: str, path: Path) -> dict:
    """Write ``docs`` into a DocumentStore at ``path`` unless it already holds exactly them."""
    from policykb.store import DocumentStore

    sig = hashlib.sha256(("\n".join(d.id for d in docs) + analyzer_id).encode()).hexdigest()
    marker = path.with_suffix(".json")
    if path.exists() and marker.exists() and json.loads(marker.read_text()).get("sig") == sig:
        return {"cached": True, "documents": len(docs)}
    for suffix in ("", "-wal", "-shm", ".json"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = DocumentStore(path)
    with stopwatch() as t:
        for i in range(0, len(docs), STORE_BATCH):
            with store.connect() as con:
                for doc in docs[i : i + STORE_BATCH]:
                    store.put_document(doc, analyzer_id, con)
    store.close()
    marker.write_text(json.dumps({"sig": sig, "documents": len(docs)}))
    return {"cached": False, "documents": len(docs), "seconds": t[0]}


# -------------------------------------------------------------------------------- engines
def index_embedded(docs: list, n: int) -> tuple[object, float, int]:
    """Rebuild the embedded index of data-<n> from the first n docs: (backend, s, bytes)."""
    from policykb.backends.embedded import EmbeddedBackend

    folder = data_dir(n) / "index"
    shutil.rmtree(folder, ignore_errors=True)
    backend = EmbeddedBackend(folder)
    with stopwatch() as t:
        backend.rebuild(iter(docs[:n]), n)
    return backend, t[0], backend.info()["size_bytes"]


def es_backend(url: str, n: int):
    from policykb.backends.elastic import ElasticBackend

    return ElasticBackend(url, es_alias(n), shards=1, replicas=0)


def es_rebuild(backend, docs: list, n: int, chunk: int) -> float:
    """policykb's own path: ``ElasticBackend.rebuild`` (streaming_bulk), BULK_CHUNK = chunk."""
    from policykb.backends import elastic

    saved = elastic.BULK_CHUNK
    elastic.BULK_CHUNK = chunk
    try:
        with stopwatch() as t:
            backend.rebuild(iter(docs[:n]), n)
    finally:
        elastic.BULK_CHUNK = saved
    return t[0]


def es_parallel(backend, docs: list, n: int, chunk: int, threads: int) -> float:
    """The same documents, mapping and settings through ``helpers.parallel_bulk`` (policykb's
    ``to_source``), into a throw-away index: what a parallel rebuild would gain."""
    from elasticsearch.helpers import parallel_bulk

    from policykb.backends.elastic import to_source

    name = backend._new_index_name() + "-parallel"
    backend._create_index(name, bulk_load=True)
    actions = (
        {"_op_type": "index", "_index": name, "_id": d.id, "_source": to_source(d)}
        for d in docs[:n]
    )
    errors = 0
    try:
        with stopwatch() as t:
            for ok, _ in parallel_bulk(
                backend.es,
                actions,
                thread_count=threads,
                chunk_size=chunk,
                max_chunk_bytes=20 * 1024 * 1024,
                raise_on_error=False,
            ):
                errors += not ok
            backend.es.indices.put_settings(index=name, settings={"refresh_interval": "1s"})
            backend.es.indices.refresh(index=name)
    finally:
        backend.es.indices.delete(index=name, ignore_unavailable=True)
    if errors:
        raise RuntimeError(f"{errors} documents failed in parallel_bulk")
    return t[0]


def _chars(docs: list) -> int:
    return sum(len(d.title) + sum(len(p.text) for p in d.passages) for d in docs)


def _tokens(docs: list) -> int:
    return sum(len(d.title_tokens) + sum(len(p.tokens) for p in d.passages) for d in docs)


# ----------------------------------------------------------------------------------- run
def run(
    docs: list,
    sizes: list[int],
    es: EsHandle | None,
    corpus: CorpusBuild,
    store_info: dict,
    quick: bool,
) -> tuple[Section, dict]:
    """Returns the section and the backends per size: {"embedded": {n: backend}, ...}."""
    sec = Section("Indexing")
    backends: dict[str, dict[int, object]] = {"embedded": {}, "elasticsearch": {}}
    biggest = max(sizes)
    corpus_table = Table(
        f"Corpus: {biggest:,} kdi-epic documents (title, date, publisher, summary passages)",
        ["step", "documents", "seconds", "docs/s", "note"],
    )
    if corpus.analyzed_docs:
        corpus_table.add(
            "Kiwi analysis, 2-worker pool (cold cache)",
            fmt_num(corpus.analyzed_docs),
            f"{corpus.analyze_seconds:.1f}",
            fmt_num(corpus.analyzed_docs / corpus.analyze_seconds),
            f"{corpus.analyzed_chars / corpus.analyze_seconds:,.0f} chars/s",
        )
    else:
        corpus_table.add("Kiwi analysis", fmt_num(biggest), "0", "", "cache hit (bench/.cache)")
    corpus_table.add(
        "load analyzed docs from cache",
        fmt_num(len(docs)),
        f"{corpus.load_seconds:.1f}",
        fmt_num(len(docs) / max(corpus.load_seconds, 1e-9)),
        "unpickle + build policykb Documents",
    )
    if store_info.get("cached"):
        corpus_table.add("SQLite DocumentStore", fmt_num(len(docs)), "0", "", "cached")
    else:
        s = store_info["seconds"]
        corpus_table.add(
            "SQLite DocumentStore write",
            fmt_num(len(docs)),
            f"{s:.1f}",
            fmt_num(len(docs) / s),
            f"put_document, {STORE_BATCH} per transaction",
        )
    chars, tokens = _chars(docs), _tokens(docs)
    corpus_table.notes.append(
        f"{chars:,} characters, {tokens:,} tokens, "
        f"{sum(len(d.passages) for d in docs):,} passages; "
        f"{sum(d.doc_type == '보도자료' for d in docs):,} 보도자료 (epic) + "
        f"{sum(d.doc_type == '연구보고서' for d in docs):,} 연구보고서 (research); "
        f"{len({d.institute for d in docs}):,} distinct institutes."
    )
    sec.tables.append(corpus_table)

    if es is not None:
        tune_n = min(TUNE_DOCS if not quick else 2000, biggest)
        tune = Table(
            f"Elasticsearch bulk tuning on {tune_n:,} documents (1 shard, 0 replicas)",
            ["variant", "chunk", "threads", "seconds", "docs/s", "vs policykb default"],
        )
        probe = es_backend(es.url, tune_n)
        probe.drop_all()
        results = {}
        for chunk in BULK_CHUNKS:
            log(f"indexing: ES rebuild, chunk {chunk}, {tune_n} docs")
            results[("streaming_bulk (ElasticBackend.rebuild)", chunk, 1)] = es_rebuild(
                probe, docs, tune_n, chunk
            )
        best_chunk = min(
            BULK_CHUNKS, key=lambda c: results[("streaming_bulk (ElasticBackend.rebuild)", c, 1)]
        )
        for threads in PARALLEL_THREADS:
            log(f"indexing: ES parallel_bulk, chunk {best_chunk}, {threads} threads")
            results[("parallel_bulk (to_source)", best_chunk, threads)] = es_parallel(
                probe, docs, tune_n, best_chunk, threads
            )
        probe.drop_all()
        default = results[("streaming_bulk (ElasticBackend.rebuild)", 200, 1)]
        for (variant, chunk, threads), s in results.items():
            tune.add(
                variant, chunk, threads, f"{s:.2f}", fmt_num(tune_n / s), fmt_ratio(default / s)
            )
        best = min(results, key=results.get)
        tune.notes.append(
            f"Best: {best[0]}, chunk {best[1]}, {best[2]} thread(s). The size runs below use "
            f"policykb's own rebuild with BULK_CHUNK={best_chunk} (monkeypatched here)."
        )
        sec.tables.append(tune)
        sec.data["es_tuning"] = {f"{v}|{c}|{t}": s for (v, c, t), s in results.items()}
        sec.data["es_best_chunk"] = best_chunk
    else:
        best_chunk = 200

    table = Table(
        "Indexing: documents/s, embedded (tantivy) vs Elasticsearch, full rebuild",
        [
            "documents",
            "embedded s",
            "embedded docs/s",
            "index MB",
            "Elasticsearch s",
            "ES docs/s",
            "ES MB",
            "embedded / ES",
        ],
    )
    prof_n = min(TUNE_DOCS if not quick else 2000, biggest)
    log(f"indexing: profiling an embedded rebuild of {prof_n} docs")
    _, frames = profile_call(lambda: index_embedded(docs, prof_n))
    sec.profiles[f"EmbeddedBackend.rebuild, {prof_n:,} docs (main thread)"] = frames
    meter = CpuMeter((es.pid,) if es is not None and es.pid else ()).start()
    for n in sizes:
        log(f"indexing: embedded rebuild, {n} docs")
        emb, emb_s, emb_bytes = index_embedded(docs, n)
        backends["embedded"][n] = emb
        row = [fmt_num(n), f"{emb_s:.1f}", fmt_num(n / emb_s), f"{emb_bytes / 1e6:.0f}"]
        sec.data[f"embedded_{n}"] = {"seconds": emb_s, "bytes": emb_bytes}
        if es is not None:
            log(f"indexing: ES rebuild, {n} docs, chunk {best_chunk}")
            be = es_backend(es.url, n)
            be.drop_all()
            es_s = es_rebuild(be, docs, n, best_chunk)
            es_bytes = be.info()["size_bytes"]
            backends["elasticsearch"][n] = be
            row += [f"{es_s:.1f}", fmt_num(n / es_s), f"{es_bytes / 1e6:.0f}"]
            row.append(fmt_ratio(es_s / emb_s))
            sec.data[f"es_{n}"] = {"seconds": es_s, "bytes": es_bytes}
        else:
            row += ["n/a", "n/a", "n/a", "n/a"]
        table.add(*row)
    table.notes.append(
        "Analysis excluded (documents arrive analyzed, as in `policykb reindex`); embedded = "
        "EmbeddedBackend.rebuild (1 writer thread, 64 MB heap, commit + merge wait); "
        f"Elasticsearch = ElasticBackend.rebuild, BULK_CHUNK={best_chunk}, refresh off "
        "during the load, refresh + alias switch included."
    )
    table.notes.append(other_load_note([meter.stop()]))
    if es is not None and es.pid:
        table.notes.append(f"Elasticsearch JVM RSS after indexing: {vm_rss_mb(es.pid):.0f} MB")
    sec.tables.append(table)
    sec.data["indexed_at"] = time.time()
    return sec, backends
