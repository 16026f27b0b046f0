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
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench.common import (  # noqa: E402
    CACHE,
    RESULTS,
    CpuMeter,
    Goal,
    Section,
    Table,
    fmt_num,
    log,
    median,
    other_load_note,
    percentile,
    stopwatch,
)

SEED = 20261201
MIN_PAGES, MAX_PAGES = 20, 400
FOLDER = CACHE / "fulltext"
PRISM_FILE = "1342000_edu_curriculum_map"
PRISM_QUERIES = ["교육과정", "학생"]  # match the report
SHORT_QUERIES = ["스마트시티", "도시"]  # as in the issue (도시 matches many short documents)
DOC_PAGE_REPS = 7


@dataclass
class Pool:
    """Analyzed passages to draw from: (text, tokens) pairs, plus real page lengths."""

    passages: list  # list[Passage] (seq/page rewritten per use)
    page_chars: list[int]


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


def index_both(name: str, make_docs, n: int, es_url: str | None) -> dict:
    """Rebuild the embedded index (data dir ``name``) and, with ``es_url``, an ES alias."""
    from policykb.backends.elastic import ElasticBackend
    from policykb.backends.embedded import EmbeddedBackend

    out: dict = {}
    folder = FOLDER / name / "index"
    shutil.rmtree(folder, ignore_errors=True)
    emb = EmbeddedBackend(folder)
    with stopwatch() as t:
        emb.rebuild(make_docs(), n)
    out["embedded"] = {"backend": emb, "seconds": t[0], "bytes": emb.info()["size_bytes"]}
    log(f"{name}: embedded rebuild {t[0]:.1f} s")
    if es_url:
        es = ElasticBackend(es_url, f"policykb-fulltext-{name}", shards=1, replicas=0)
        es.drop_all()
        with stopwatch() as t:
            es.rebuild(make_docs(), n)
        stats = es.es.indices.stats(index=[es.alias, es.passage_alias], metric="store")
        size = stats["_all"]["primaries"]["store"]["size_in_bytes"]
        out["elasticsearch"] = {"backend": es, "seconds": t[0], "bytes": size}
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

    backends = {"embedded": EmbeddedBackend(data / "index")}
    if es_url:
        es = ElasticBackend(es_url, "policykb-fulltext-public", shards=1, replicas=0)
        from policykb.store import DocumentStore

        store = DocumentStore(data / "store.sqlite3")
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
        for q in SHORT_QUERIES + PRISM_QUERIES:
            req = parse_request({"q": [q]}, rt.settings)
            rt.service.search(req)  # warm
            ts, total = [], 0
            for _ in range(reps):
                with stopwatch() as t:
                    total = rt.service.search(req).total
                ts.append(t[0] * 1000)
            p50s[q] = median(ts)
            base = p50s[SHORT_QUERIES[0]]
            table.add(
                name, q, total, f"{median(ts):.1f}", f"{max(ts):.1f}", f"{median(ts) / base:.2f}x"
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
        f"{reps} runs per query after a warm-up; ratio = the slower report query's p50 over "
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
    rows = load_kdi_rows()
    n_kdi = kdi or (5000 if quick else 20000)
    kdi_docs, _build = load_corpus(n_kdi, analyzer, rows)
    pool = build_pool(DocumentStore(public / "store.sqlite3"), kdi_docs)
    meta = kdi_docs  # titles and metadata of the long documents (bodies differ)
    n_long, n_pages, n_chars = count_long(pool, meta, target)
    short_docs = kdi_docs[-n_long:]  # metadata rows not reused by the long documents' titles
    short_chars = sum(len(p.text) for d in short_docs for p in d.passages)
    log(f"long corpus: {n_long} documents, {n_pages} pages, {n_chars:,} chars; short: {n_long}")

    def make_long():
        return long_documents(pool, meta, target)

    def make_short():
        return iter(short_docs)

    store_s = {
        "long": write_store(make_long(), FOLDER / "long" / "store.sqlite3", analyzer.identity),
        "short": write_store(make_short(), FOLDER / "short" / "store.sqlite3", analyzer.identity),
    }
    with indexing.elasticsearch(use_es) as es:
        es_url = es.url if es is not None else None
        built = {
            "long": index_both("long", make_long, n_long, es_url),
            "short": index_both("short", make_short, n_long, es_url),
        }
        ingest = Table(
            "Full text: corpora and ingest (documents arrive analyzed)",
            ["corpus", "documents", "pages", "characters", "store write s"]
            + [f"{e} rebuild s / index MB" for e in built["long"]],
        )
        for name, n_p, chars in (("long", n_pages, n_chars), ("short", n_long, short_chars)):
            ingest.add(
                name,
                fmt_num(n_long),
                fmt_num(n_p) if name == "long" else "1-3 passages each",
                fmt_num(chars),
                f"{store_s[name]:.1f}",
                *[f"{b['seconds']:.1f} / {b['bytes'] / 2**20:.0f}" for b in built[name].values()],
            )
        ingest.notes.append(
            f"Long documents: {MIN_PAGES}-{MAX_PAGES} pages each, page lengths drawn from "
            f"{len(pool.page_chars):,} real public-docs pages, passages drawn from "
            f"{len(pool.passages):,} analyzed passages (public-docs ingest + {n_kdi:,} kdi-epic "
            "summaries) in a shuffled order. Rebuild includes passage entries."
        )
        sec.tables.append(ingest)

        runners = []
        for corpus in ("long", "short"):
            store = DocumentStore(FOLDER / corpus / "store.sqlite3")
            settings = load_settings({"data_dir": str(FOLDER / corpus)}, environ={})
            for engine, b in built[corpus].items():
                runners.append(
                    Runner(f"{engine}/{corpus}", b["backend"], store, analyzer, settings)
                )
        log(f"search: {len(cases())} queries x {reps} reps on {len(runners)} runners")
        meter = CpuMeter((es.pid,) if es is not None and es.pid else ()).start()
        result = measure(runners, reps)
        load = meter.stop()
        s = summary(result)
        engines = list(built["long"])
        table = Table(
            "Full text: service latency, long vs short corpus (same queries, interleaved)",
            ["query kind"]
            + [f"{e} {c} p50/p99 ms" for e in engines for c in ("long", "short")]
            + [f"{e} long/short p50" for e in engines],
        )
        for cat in [*dict.fromkeys(c.category for c in cases()), "all"]:
            row = [cat]
            for e in engines:
                for c in ("long", "short"):
                    p50, p99, _ = s[f"{e}/{c}"]["service"][cat]
                    row.append(f"{p50:.1f} / {p99:.1f}")
            for e in engines:
                row.append(
                    f"{s[f'{e}/long']['service'][cat][0] / s[f'{e}/short']['service'][cat][0]:.2f}x"
                )
            table.add(*row)
        table.notes.append(
            f"{len(cases())} queries x {reps} repetitions per runner; SearchService.search "
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
                ids = [d.id for d in short_docs[:: max(1, len(short_docs) // 10)]][:10]
            for engine, b in built[corpus].items():
                client, _rt = app_client(FOLDER / corpus, b["backend"], analyzer)
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
        for b in (*built["long"].values(), *built["short"].values()):
            if es_url and hasattr(b["backend"], "drop_all"):
                b["backend"].drop_all()

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
        "store_seconds": store_s,
        "index": {
            c: {e: {"seconds": b["seconds"], "bytes": b["bytes"]} for e, b in built[c].items()}
            for c in built
        },
        "service": {k: v["service"] for k, v in s.items()},
        "document_page": doc_data,
        "prism": prism,
        "other_load_cores": load["others"],
    }
    return sec


def write(sec: Section, meta: dict) -> tuple[Path, Path]:
    from bench.report import now

    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / "fulltext.json", RESULTS / "fulltext.md"
    json_path.write_text(
        json.dumps({"meta": meta, "fulltext": sec.to_json()}, ensure_ascii=False, indent=1)
    )
    lines = [f"# Full-text benchmark ({now()})", "", f"`{meta['command']}`", ""]
    lines += [f"- {g.line()}" for g in sec.goals] + [""]
    for t in sec.tables:
        lines += [t.markdown(), ""]
    md_path.write_text("\n".join(lines))
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.fulltext", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="10,000 pages, 5,000 kdi rows")
    p.add_argument("--pages", type=int, help="pages in the long corpus (default 100000)")
    p.add_argument("--no-es", action="store_true", help="skip Elasticsearch")
    p.add_argument("--reps", type=int, default=5, help="repetitions per query")
    p.add_argument("--kdi", type=int, help="kdi-epic rows in the pool (default 20000)")
    args = p.parse_args(argv)
    from bench.common import machine_info

    with stopwatch() as t:
        sec = run(args.quick, not args.no_es, args.pages, args.reps, args.kdi)
    sec.seconds = t[0]
    sec.print()
    meta = {
        "command": "python -m bench.fulltext " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "seconds": t[0],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    json_path, md_path = write(sec, meta)
    log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
