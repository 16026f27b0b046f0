"""Run every benchmark and write bench/results/latest.json and latest.md.

python -m bench                      # the full suite (what `make bench` runs)
python -m bench --quick              # small sizes, short runs: a smoke test
python -m bench --sizes 5000,20000,50000 --only analysis,search
python -m bench --only fulltext      # long reports vs short documents (bench/fulltext.py)
python -m bench --only catalogue     # the 24k ri-portal records: with/without latency
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import the package from the repo root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402

from bench import report  # noqa: E402
from bench.common import Section, log, machine_info, self_peak_mb, stopwatch  # noqa: E402

AREAS = (
    "extraction",
    "analysis",
    "indexing",
    "search",
    "http",
    "ocr",
    "fulltext",
    "suggest",
    "catalogue",
    "ingest",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and short runs")
    p.add_argument("--sizes", help="corpus sizes, comma-separated (default 5000,20000,50000)")
    p.add_argument("--only", help=f"comma-separated subset of {', '.join(AREAS)}")
    p.add_argument("--no-es", action="store_true", help="skip Elasticsearch")
    p.add_argument("--reps", type=int, help="search repetitions per query (default 10)")
    p.add_argument("--http-seconds", type=int, help="HTTP load duration (default 20)")
    args = p.parse_args(argv)
    if args.sizes:
        args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",")})
    else:
        args.sizes = [2000, 5000] if args.quick else [5000, 20000, 50000]
    args.only = set(args.only.split(",")) if args.only else set(AREAS)
    unknown = args.only - set(AREAS)
    if unknown:
        p.error(f"unknown area(s): {', '.join(sorted(unknown))}")
    args.reps = args.reps or (3 if args.quick else 10)
    args.http_seconds = args.http_seconds or (5 if args.quick else 20)
    args.rounds = 1 if args.quick else 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    meta = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "sizes": args.sizes,
        "quick": args.quick,
    }
    sections: dict[str, Section] = {}
    failed: list[str] = []

    def area(name: str, fn: Callable[[], Section | None]) -> None:
        log(f"=== {name}")
        try:
            with stopwatch() as t:
                sec = fn()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            sections[name] = Section(name, data={"error": traceback.format_exc()})
            return
        if sec is not None:
            sec.seconds = t[0]
            sections[sec.name] = sec
            sec.print()

    from bench.common import load_kdi_rows

    rows = load_kdi_rows()
    if "extraction" in args.only:
        from bench import extraction

        area("Extraction", lambda: extraction.run(args.quick, args.rounds))
    if "analysis" in args.only:
        from bench import analysis

        area("Analysis", lambda: analysis.run(rows, args.quick, args.rounds))
        area("Ingest", lambda: analysis.ingest_public_docs(args.quick))
    if args.only & {"indexing", "search", "http"}:
        run_corpus(args, rows, sections, area)
    if "ocr" in args.only:
        from bench import ocr

        def do_ocr() -> Section:
            sec = ocr.run(args.quick)
            ocr.write(sec)  # bench/results/ocr.{json,md}
            return sec

        area("OCR", do_ocr)
    if "fulltext" in args.only:
        from bench import fulltext

        def do_fulltext() -> Section:
            sec = fulltext.run(args.quick, not args.no_es, reps=min(args.reps, 5))
            fulltext.write(sec, meta)
            return sec

        area("Full text", do_fulltext)
    if "suggest" in args.only:
        from bench import suggest

        def do_suggest() -> Section:
            sec = suggest.run(rows, max(args.sizes), args.reps // 2 or 1, args.quick)
            suggest.write(sec, {**meta, "finished": report.now()})
            return sec

        area("Suggest", do_suggest)
    if "catalogue" in args.only:
        from bench import catalogue

        def do_catalogue() -> Section:
            docs_n = 2_000 if args.quick else catalogue.DEFAULT_DOCS
            sec = catalogue.run(docs_n, args.reps, rows=rows)
            catalogue.write(sec, {**meta, "finished": report.now()})
            return sec

        area("Catalogue", do_catalogue)
    if "ingest" in args.only:
        from bench import ingest as ingest_bench

        def do_ingest() -> Section:
            kdi = ingest_bench.QUICK_KDI if args.quick else ingest_bench.DEFAULT_KDI
            sec = ingest_bench.run(kdi, use_es=not args.no_es, quick=args.quick)
            ingest_bench.write(sec, {**meta, "time": report.now()})
            return sec

        area("Ingest at the Kiwi ceiling", do_ingest)
    sections["_main"] = Section("_main", data={"peak_mb": self_peak_mb()})
    area("Memory", lambda: report.memory(sections))
    meta["total_seconds"] = time.perf_counter() - started
    meta["finished"] = report.now()
    meta["failed"] = failed
    json_path, md_path = report.write(sections, meta)
    log(f"wrote {json_path} and {md_path}; total {meta['total_seconds'] / 60:.1f} min")
    busy = report.busy_sections(sections)
    if busy:
        log(
            "WARNING: other processes were busy during "
            + ", ".join(f"{k} ({v:.2f} cores)" for k, v in busy.items())
            + "; two-core figures are understated"
        )
    if failed:
        log(f"FAILED areas: {', '.join(failed)}")
    return 1 if failed else 0


def run_corpus(args, rows, sections: dict[str, Section], area) -> None:
    """Indexing, search, HTTP and scaling: they share the analyzed corpus, the indexes and
    the Elasticsearch node."""
    from analyzers import get_analyzer
    from bench import http_load, indexing, search
    from bench.common import load_corpus
    from policykb.settings import load_settings
    from policykb.store import DocumentStore

    analyzer = get_analyzer()
    biggest = max(args.sizes)
    log(f"=== corpus: {biggest} documents")
    docs, build = load_corpus(biggest, analyzer, rows)
    store_path = indexing.data_dir(biggest) / "store.sqlite3"
    log("=== document store")
    store_info = indexing.ensure_store(docs, analyzer.identity, store_path)
    settings = load_settings({"data_dir": str(indexing.data_dir(biggest))}, environ={})
    store = DocumentStore(store_path)
    use_es = not args.no_es
    with indexing.elasticsearch(use_es) as es:
        holder: dict = {}

        def do_indexing() -> Section:
            sec, holder["backends"] = indexing.run(
                docs, args.sizes, es, build, store_info, args.quick
            )
            sec.data["corpus_worker_peak_mb"] = build.worker_peak_mb
            if es is not None and es.pid:
                from bench.common import vm_rss_mb

                sec.data["es_rss_mb"] = vm_rss_mb(es.pid)
            if es is not None:
                sec.tables[-1].notes += es.notes
            return sec

        area("Indexing", do_indexing)
        if "backends" not in holder:
            return
        if args.only & {"search", "http"}:

            def do_search() -> Section:
                sec, holder["per_size"] = search.run(
                    holder["backends"],
                    args.sizes,
                    store,
                    analyzer,
                    settings,
                    args.reps,
                    es.pid if es is not None else None,
                )
                return sec

            area("Search", do_search)
        if "http" in args.only:
            data = str(indexing.data_dir(biggest))
            emb_env = {"POLICYKB_DATA_DIR": data, "POLICYKB_BACKEND": "embedded"}
            configs = [http_load.Config("embedded", emb_env, 2)]
            if not args.quick:
                configs.append(http_load.Config("embedded", emb_env, 4))
            if es is not None:
                es_env = {
                    "POLICYKB_DATA_DIR": data,
                    "POLICYKB_BACKEND": "elasticsearch",
                    "POLICYKB_ES_URL": es.url,
                    "POLICYKB_ES_INDEX": indexing.es_alias(biggest),
                }
                configs.append(http_load.Config("elasticsearch", es_env, 2))
            if not args.quick:  # the goal's configuration again: run-to-run spread
                configs.append(http_load.Config("embedded", emb_env, 2))
            es_pids = (es.pid,) if es is not None and es.pid else ()
            area("HTTP", lambda: http_load.run(configs, args.http_seconds, biggest, es_pids))
        if "per_size" in holder:
            area(
                "Scaling",
                lambda: report.scaling(sections["Indexing"], holder["per_size"], args.sizes),
            )
        if es is not None and os.environ.get("POLICYKB_BENCH_ES_URL"):
            for backend in holder["backends"]["elasticsearch"].values():
                backend.drop_all()  # leave a shared cluster as we found it
    store.close()


if __name__ == "__main__":
    sys.exit(main())
