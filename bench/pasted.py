"""Pasted titles: what a search for a real title of 10+ words costs on the cached corpora of
a ``bench.fulltext`` build (long reports and short documents), with the embedded engine's
speed-ups for long queries switched off and on, interleaved in one process (an A/B, so
the machine's own drift cancels out):

    python3 -m bench.pasted --build /tmp/policykb-fulltext-358c99ffcd1e [--titles 40]

- ``memo``: each term alternative's query and each clause's term part built once per
  search (``EmbeddedBackend._memo``), not once per clause that uses it;
- ``at once``: the best passages of a page of short documents in one passage search
  (``EmbeddedBackend._best_at_once``, ``AT_ONCE_TERMS`` / ``AT_ONCE_PER_DOC``);
- ``facet query``: counts and facets over the query's matching clauses only
  (``EmbeddedBackend._matches``), not over the scoring query.

Each variant adds one to the one before it.

The titles are kdi-epic titles of 10 or more words, evenly spaced over the rows (the
question set of issue 11's long-query slices, pasted as users paste them). CPU ms of this
process per ``SearchService.search`` (default page of 10 hits, facets on), p50 and p99.
Not part of ``make bench``; the build folder is the one bench.fulltext names in its log.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from bench.common import log, median, percentile

VARIANTS = ("off", "memo", "memo + at once", "memo + at once + facet query")


def pasted_titles(n: int) -> list[str]:
    from bench.common import load_kdi_rows

    titles = [r.title for r in load_kdi_rows() if len(r.title.split()) >= 10]
    step = max(1, len(titles) // n)
    return titles[::step][:n]


def _switch(backend, variant: str, memo, embedded, at_once_terms: int) -> None:
    """Switch the speed-ups off (instance attributes over the class's methods) and on."""
    on = VARIANTS.index(variant)
    backend._memo = memo if on >= 1 else contextlib.nullcontext
    embedded.AT_ONCE_TERMS = at_once_terms if on >= 2 else 10**9
    if on >= 3:
        backend.__dict__.pop("_matches", None)
    else:
        backend._matches = lambda query: backend._bool(query, positions=False)


def main(argv: list[str] | None = None) -> int:
    from analyzers import get_analyzer
    from bench.search import Runner
    from policykb.backends import embedded
    from policykb.backends.embedded import EmbeddedBackend
    from policykb.service import parse_request
    from policykb.settings import load_settings
    from policykb.store import DocumentStore

    at_once_terms = embedded.AT_ONCE_TERMS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, required=True, help="a bench.fulltext build folder")
    ap.add_argument("--titles", type=int, default=40)
    ap.add_argument("--reps", type=int, default=8)
    args = ap.parse_args(argv)
    titles = pasted_titles(args.titles)
    analyzer = get_analyzer()
    rows = []
    for corpus in ("long", "short"):
        backend = EmbeddedBackend(args.build / corpus / "index")
        store = DocumentStore(args.build / corpus / "store.sqlite3")
        settings = load_settings({"data_dir": str(args.build / corpus)}, environ={})
        service = Runner(corpus, backend, store, analyzer, settings).service
        requests = [parse_request({"q": [t]}, settings) for t in titles]
        memo = backend._memo
        for r in requests * 2:  # warm: SQLite pages, tantivy readers
            service.search(r)
        samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for rep in range(args.reps):
            for variant in VARIANTS if rep % 2 else VARIANTS[::-1]:
                _switch(backend, variant, memo, embedded, at_once_terms)
                for r in requests:
                    started = time.process_time()
                    service.search(r)
                    samples[variant].append((time.process_time() - started) * 1000)
        _switch(backend, VARIANTS[-1], memo, embedded, at_once_terms)
        for v in VARIANTS:
            rows.append((corpus, v, median(samples[v]), percentile(samples[v], 99)))
        log(f"{corpus}: {len(titles)} titles x {args.reps} reps per variant")
    print(f"| corpus | variant | CPU ms p50 | p99 | p50 vs off |  ({len(titles)} pasted titles)")
    print("|---|---|---|---|---|")
    base = {c: p50 for c, v, p50, _ in rows if v == "off"}
    for corpus, v, p50, p99 in rows:
        print(f"| {corpus} | {v} | {p50:.2f} | {p99:.2f} | {p50 / base[corpus]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
