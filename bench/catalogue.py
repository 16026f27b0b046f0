"""The catalogue's acceptance numbers: importing both ri-portal files (counts, time), title
search of 30 random records (top 3), the 충남연구원 count, region facets, and search
latency with the 24k metadata-only records added vs the same corpus without them
(measured interleaved in one run, same queries as bench/search.py).

    python3 -m bench.catalogue [--docs 10000] [--reps 5]

Writes bench/results/catalogue.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.common import CACHE, RESULTS, SHARED, Goal, Section, Table, log, machine_info
from bench.search import Runner, measure, summary

FILES = ("allreports_normalized.json", "nationalreport.json")
RATIO_GOAL = 1.2
DEFAULT_DOCS = 10_000


def build(folder: Path, docs: list, analyzer, with_catalogue: bool, reuse: bool = False):
    from ingest.catalogue import CatalogueImporter, CatalogueReport
    from policykb.backends.embedded import EmbeddedBackend
    from policykb.store import DocumentStore

    marker = folder / "built.json"
    if reuse and marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("docs") == len(docs):
            store = DocumentStore(folder / "store.sqlite3")
            report = CatalogueReport(**info["report"]) if info.get("report") else None
            return store, EmbeddedBackend(folder / "index"), report
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    store = DocumentStore(folder / "store.sqlite3")
    for i in range(0, len(docs), 1000):
        with store.connect() as con:
            for doc in docs[i : i + 1000]:
                store.put_document(doc, analyzer.identity, con)
    backend = EmbeddedBackend(folder / "index")
    backend.rebuild(iter(docs), len(docs))
    report = None
    if with_catalogue:
        src = SHARED / "ri-portal"
        started = time.perf_counter()
        report = CatalogueImporter(store, backend, analyzer).run([src / f for f in FILES])
        report.seconds = time.perf_counter() - started
    saved = None
    if report is not None:
        saved = {k: v for k, v in asdict(report).items() if k != "started"}
    marker.write_text(json.dumps({"docs": len(docs), "report": saved}, ensure_ascii=False))
    return store, backend, report


def acceptance(store, backend, analyzer, settings, sec: Section) -> None:
    from policykb.query import QuerySyntaxError
    from policykb.service import SearchService, parse_request

    service = SearchService(settings, store, backend, analyzer)
    src = SHARED / "ri-portal"
    records = [r for f in FILES for r in json.loads((src / f).read_text(encoding="utf-8"))]
    rng = random.Random(2026)
    picked = rng.sample([r for r in records if (r.get("title") or "").strip()], 30)
    found = 0
    misses = []
    for rec in picked:
        title = " ".join(str(rec["title"]).split())
        q = title.replace('"', " ")
        try:
            res = service.search(parse_request({"q": [q]}, settings), lenient=True)
        except QuerySyntaxError:  # over the 32-term limit: what a user would do, shorten it
            q = " ".join(q.split()[:12])
            res = service.search(parse_request({"q": [q]}, settings), lenient=True)
            sec.data.setdefault("shortened_titles", []).append(title)
        top = [" ".join(h.title.split()) for h in res.hits[:3]]
        if title in top:
            found += 1
        else:
            misses.append(title)
    sec.goals.append(
        Goal("title search, 30 random records", "30/30 in top 3", f"{found}/30", found == 30)
    )
    sec.data["title_misses"] = misses
    cn = service.search(parse_request({"institute": ["충남연구원"]}, settings)).total
    sec.goals.append(Goal("institute=충남연구원", ">= 2,691", f"{cn:,}", cn >= 2691))
    res = service.search(parse_request({}, settings))
    regions = {f.value: f.count for f in res.facets["region"]}
    institutes = {f.value: f.count for f in res.facets["institute"]}
    t = Table("Region facet over the whole index (catalogue included)", ["region", "documents"])
    for k, v in sorted(regions.items(), key=lambda kv: -kv[1]):
        t.add(k, f"{v:,}")
    sec.tables.append(t)
    sec.data["region_facet"] = regions
    sec.data["institute_facet"] = institutes
    ok = regions.get("충남", 0) >= cn and regions.get("경기", 0) >= 3523
    sec.goals.append(
        Goal(
            "region facets count the catalogue",
            "충남 >= 충남연구원, 경기 >= 3,523",
            f"충남 {regions.get('충남', 0):,}, 경기 {regions.get('경기', 0):,}",
            ok,
        )
    )


def run(docs_n: int = DEFAULT_DOCS, reps: int = 5, reuse: bool = False, rows=None) -> Section:
    """Build the two indexes (kdi-epic base without and with both ri-portal files), check
    the catalogue's acceptance and time the same query mix on both, interleaved."""
    from analyzers import get_analyzer
    from bench.common import load_corpus
    from policykb.settings import load_settings

    analyzer = get_analyzer()
    sec = Section("Catalogue")
    started = time.perf_counter()
    log(f"catalogue bench: base corpus of {docs_n} kdi-epic documents")
    docs, _ = load_corpus(docs_n, analyzer, rows)
    without_dir, with_dir = CACHE / "catalogue-without", CACHE / "catalogue-with"
    log("building the index without the catalogue")
    store_a, backend_a, _ = build(without_dir, docs, analyzer, False, reuse)
    log("building the index with the catalogue (policykb catalogue import of both files)")
    store_b, backend_b, report = build(with_dir, docs, analyzer, True, reuse)
    try:
        _import_table(sec, report, backend_b)
        settings = load_settings({"data_dir": str(with_dir)}, environ={})
        acceptance(store_b, backend_b, analyzer, settings, sec)
        log(f"search latency, interleaved, {reps} reps")
        runners = [
            Runner("without", backend_a, store_a, analyzer, settings),
            Runner("with", backend_b, store_b, analyzer, settings),
        ]
        _latency(sec, summary(measure(runners, reps)), docs_n, report.imported)
    finally:
        for store in (store_a, store_b):
            store.close()
    sec.data["docs"] = docs_n
    sec.data["reps"] = reps
    sec.seconds = time.perf_counter() - started
    return sec


def _import_table(sec: Section, report, backend) -> None:
    t = Table("Catalogue import (both ri-portal files)", ["measure", "value"])
    t.add("records read", f"{report.seen:,}")
    t.add(
        "imported / updated / rejected",
        f"{report.imported:,} / {report.updated} / {report.rejected}",
    )
    if report.seconds > 0:
        rate = report.seen / report.seconds
        t.add("import time", f"{report.seconds:.1f} s ({rate:.0f} records/s)")
    else:
        t.add("import time", "not measured in this run (--reuse of an earlier import)")
    t.add("documents in index (base + catalogue)", f"{backend.count():,}")
    t.notes += [f"rejected: {where}: {why}" for where, why in report.rejections[:10]]
    sec.tables.append(t)
    sec.goals.append(
        Goal(
            "import completes with counts",
            "imported+rejected = read",
            f"{report.imported + report.rejected:,} = {report.seen:,}",
            report.imported + report.rejected == report.seen,
        )
    )


def _latency(sec: Section, s: dict, docs_n: int, imported: int) -> None:
    lat = Table(
        f"Search latency (embedded, service call) on {docs_n:,} documents, without and "
        f"with the {imported:,} catalogue records",
        ["query kind", "without p50/p99 ms", "with p50/p99 ms", "ratio p50", "ratio p99"],
    )
    for cat, (p50a, p99a, _) in s["without"]["service"].items():
        p50b, p99b, _ = s["with"]["service"][cat]
        lat.add(
            cat,
            f"{p50a:.1f} / {p99a:.1f}",
            f"{p50b:.1f} / {p99b:.1f}",
            f"{p50b / p50a:.2f}x",
            f"{p99b / p99a:.2f}x",
        )
    lat.notes.append(
        "Both columns were measured interleaved in the same run (query by query), so load "
        "from other processes falls on both; the goal is on the whole mix ('all')."
    )
    sec.tables.append(lat)
    p50a, p99a, _ = s["without"]["service"]["all"]
    p50b, p99b, _ = s["with"]["service"]["all"]
    for label, a, b in (("p50", p50a, p50b), ("p99", p99a, p99b)):
        sec.goals.append(
            Goal(
                f"search {label} with/without catalogue",
                f"<= {RATIO_GOAL}x",
                f"{b / a:.2f}x",
                b / a <= RATIO_GOAL,
            )
        )
    sec.data["latency"] = s


def write(sec: Section, meta: dict) -> tuple[Path, Path]:
    """bench/results/catalogue.{json,md}."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / "catalogue.json", RESULTS / "catalogue.md"
    out = {"meta": meta, "catalogue": sec.to_json()}
    json_path.write_text(json.dumps(out, ensure_ascii=False, indent=2))
    md = ["# Catalogue benchmark", "", f"`{meta['command']}`", ""]
    for tb in sec.tables:
        md += [tb.markdown(), ""]
    md += ["**Goals**", ""] + [f"- {g.line()}" for g in sec.goals]
    md += ["", "Machine: " + json.dumps(meta["machine"], ensure_ascii=False)]
    md_path.write_text("\n".join(md) + "\n")
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="kdi-epic documents as the base")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the indexes a previous run built (same --docs)"
    )
    args = ap.parse_args(argv)
    sec = run(args.docs, args.reps, args.reuse)
    sec.print()
    command = "python3 -m bench.catalogue " + " ".join(sys.argv[1:] if argv is None else argv)
    write(sec, {"command": command.strip(), "machine": machine_info()})
    return 0 if all(g.met for g in sec.goals) else 1


if __name__ == "__main__":
    sys.exit(main())
