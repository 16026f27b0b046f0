"""Where a full-text search spends its time, stage by stage, on the cached corpora of a
``bench.fulltext`` build: wall ms per query of each step ``SearchService.search`` takes
(analysis, the backend search, the passage lookup, the store reads, the snippets), long
and short corpus side by side, with the benchmark's queries interleaved.

    python3 -m bench.stages --build /tmp/policykb-fulltext-358c99ffcd1e --engine embedded

The build folder is the one ``bench.fulltext`` names in its log ("corpus build folder").
``--size N`` asks for N hits a page instead of 10 on every corpus: the long corpus fills a
page with more hits than the short one (8.5 against 5.0 at 100,000 pages), and each hit
costs its passage lookup, store read and snippet; a smaller page shows how much of the
long/short gap is that count rather than the cost of a long document.
Below the stage table: p50/p99 of the whole search per corpus (wall and CPU ms of this
process) and the long/short p50 ratio, the figure bench.fulltext's goal is about.
``--no-positions`` sets the phrase and proximity boosts to 0 (a diagnosis only: rankings
change): how much of the gap the positional clauses over long position lists make.
With ``--engine elasticsearch`` the benchmark's own node is started on its kept indexes
(or ``POLICYKB_BENCH_ES_URL`` is used), as ``bench.fulltext --keep-es`` does. A profile,
not a benchmark: run it under the benchmark lock for numbers worth comparing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import log, median, percentile

# (object attribute holding the callee, method name, label), in the order a search calls them
STAGES = [
    ("service", "_analyze", "analyze"),
    ("backend", "search", "backend.search"),
    ("store", "get_hit_documents", "hit metadata"),
    ("backend", "passages", "backend.passages"),
    ("store", "get_snippet_spans", "snippet passage (store)"),
]


def _timed(obj, name: str, label: str, acc: dict, current: list) -> None:
    inner = getattr(obj, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            row = acc.setdefault(current[0], {})
            row[label] = row.get(label, 0.0) + time.perf_counter() - started

    setattr(obj, name, wrapper)


def profile(
    runners: list, reps: int, warm_seconds: float, calls: dict | None = None
) -> dict[str, dict[str, float]]:
    """ms per query of each stage (and "whole"; "hits": hits on the page, mean), per
    runner name; with ``calls``, also each search's (wall ms, CPU ms) per runner name in
    ``calls[name]``; after warming each
    runner for ``warm_seconds`` (SQLite pages, tantivy readers, and the JIT-compiled
    query paths of a freshly started Elasticsearch: ``bench.search.Runner.warm``)."""
    import policykb.service as service

    acc: dict[str, dict[str, float]] = {}
    current = [""]
    for r in runners:
        r.warm(warm_seconds)
        parts = {"service": r.service, "backend": r.backend, "store": r.service.store}
        for attr, name, label in STAGES:
            _timed(parts[attr], name, label, acc, current)
    _timed(service, "snippet_from", "snippets (HTML)", acc, current)
    n = 0
    for _ in range(reps):
        for i in range(len(runners[0].prepared)):
            for r in runners:
                current[0] = r.name
                p = r.prepared[i]
                started, cpu = time.perf_counter(), time.process_time()
                res = r.service.search(p.request, facets=p.case.facets)
                wall = time.perf_counter() - started
                if calls is not None:
                    calls.setdefault(r.name, []).append(
                        (wall * 1000, (time.process_time() - cpu) * 1000)
                    )
                row = acc.setdefault(r.name, {})
                row["whole"] = row.get("whole", 0.0) + wall
                row["hits"] = row.get("hits", 0.0) + len(res.hits) / 1000  # a mean, not ms
        n += len(runners[0].prepared)
    return {name: {k: v / n * 1000 for k, v in row.items()} for name, row in acc.items()}


def main(argv: list[str] | None = None) -> int:
    from analyzers import get_analyzer
    from bench import indexing
    from bench.search import Runner
    from policykb.service import parse_request
    from policykb.settings import load_settings
    from policykb.store import DocumentStore

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, required=True, help="a bench.fulltext build folder")
    ap.add_argument("--engine", choices=["embedded", "elasticsearch"], default="embedded")
    ap.add_argument("--corpora", default="long,short")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warm", type=float, default=20.0, help="seconds of warm-up per corpus")
    ap.add_argument("--size", type=int, default=10, help="hits a result page (default 10)")
    ap.add_argument(
        "--no-positions",
        action="store_true",
        help="phrase and proximity boosts 0 (diagnosis only: rankings change)",
    )
    ap.add_argument(
        "--no-pairs",
        action="store_true",
        help="proximity pairs 0, the phrase kept (diagnosis only: rankings change)",
    )
    args = ap.parse_args(argv)
    from policykb.backends import base as ranking

    if args.no_positions or args.no_pairs:
        ranking.PAIR_BOOST = ranking.QUESTION_PAIR_BOOST = 0.0
    if args.no_positions:
        ranking.PHRASE_BOOST = 0.0
    key = args.build.name.rsplit("-", 1)[-1]
    analyzer = get_analyzer()
    with indexing.elasticsearch(args.engine == "elasticsearch", keep_data=True) as es:
        runners = []
        for corpus in args.corpora.split(","):
            if es is not None:
                from policykb.backends.elastic import ElasticBackend

                alias = f"policykb-fulltext-{corpus}-{key}"
                backend = ElasticBackend(es.url, alias, shards=1, replicas=0)
            else:
                from policykb.backends.embedded import EmbeddedBackend

                backend = EmbeddedBackend(args.build / corpus / "index")
            store = DocumentStore(args.build / corpus / "store.sqlite3")
            settings = load_settings({"data_dir": str(args.build / corpus)}, environ={})
            runner = Runner(corpus, backend, store, analyzer, settings)
            if args.size != 10:
                for p in runner.prepared:
                    params = {"q": [p.case.q], "size": [str(args.size)], **p.case.params}
                    p.request = parse_request(params, settings)
            runners.append(runner)
        log(
            f"{args.engine}: {len(runners[0].prepared)} queries x {args.reps} reps "
            f"after {args.warm:.0f} s of warm-up per corpus"
        )
        calls: dict[str, list[tuple[float, float]]] = {}
        result = profile(runners, args.reps, args.warm, calls)
    labels = ["whole"] + [s[2] for s in STAGES] + ["snippets (HTML)"]
    names = [r.name for r in runners]
    head = (
        f"{args.engine}, wall ms per query"
        + (f", {args.size} hits a page" if args.size != 10 else "")
        + (", no positional clauses" if args.no_positions else "")
        + (", no proximity pairs" if args.no_pairs and not args.no_positions else "")
    )
    print(f"| {head} | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label in labels:
        cells = [f"{result.get(n, {}).get(label, 0.0):.3f}" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    hits = [f"{result.get(n, {}).get('hits', 0.0):.1f}" for n in names]
    print("| hits on the page (mean) | " + " | ".join(hits) + " |")
    for i, what in enumerate(("wall", "CPU")):
        p50 = {n: median([c[i] for c in calls.get(n, [])]) for n in names}
        p99 = {n: percentile([c[i] for c in calls.get(n, [])], 99) for n in names}
        cells = [f"{p50[n]:.2f} / {p99[n]:.2f}" for n in names]
        print(f"| whole, {what} p50 / p99 ms | " + " | ".join(cells) + " |")
    if len(names) > 1:
        for i, what in enumerate(("wall", "CPU")):
            p50 = [median([c[i] for c in calls.get(n, [])]) for n in names]
            print(f"- {what} p50 {names[0]} / {names[1]}: {p50[0] / p50[1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
