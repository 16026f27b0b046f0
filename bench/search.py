"""In-process search latency on both backends, side by side: the backend call alone (an
analyzed query, the same call the service makes) and the whole ``SearchService.search``
(parse, analyze, backend, recency re-rank, store lookups, snippets)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.common import (
    CpuMeter,
    Goal,
    Section,
    Table,
    fmt_ratio,
    log,
    median,
    other_load_note,
    percentile,
    profile_call,
)


@dataclass(frozen=True)
class Case:
    category: str
    q: str
    params: dict[str, list[str]] = field(default_factory=dict)
    facets: bool = False


SINGLE = ["반도체", "부동산", "탄소중립", "청년", "인공지능", "수출", "저출산", "스마트시티"]
TWO = ["주택 공급", "반도체 수출", "청년 일자리", "디지털 전환", "기후 변화", "중소기업 지원"]
PHRASE = ['"도시 재생"', '"탄소 중립"', '"인공지능 반도체"', '"저출산 고령화"', '"공급망 안정"']
FACETED = ["반도체", "주택 공급", "청년 일자리", '"도시 재생"', "인공지능", "기후 변화"]
FILTERED: list[tuple[str, dict[str, list[str]]]] = [
    ("주택 공급 유형:보도자료", {}),
    ("반도체 연도:2023..2024", {}),
    ("지역 균형발전 기관:국토연구원", {}),
    ("디지털 전환", {"doc_type": ["연구보고서"], "year_from": ["2023"]}),
    ("청년", {"doc_type": ["보도자료"], "year_from": ["2024"]}),
    ("도시", {"institute": ["서울연구원"]}),
]


def cases() -> list[Case]:
    out = [Case("single word", q) for q in SINGLE]
    out += [Case("two words", q) for q in TWO]
    out += [Case("phrase", q) for q in PHRASE]
    out += [Case("with facets", q, facets=True) for q in FACETED]
    out += [Case("with filters (+facets)", q, p, facets=True) for q, p in FILTERED]
    return out


def api_paths() -> list[str]:
    """The same queries as JSON API paths (the API always computes facets)."""
    from urllib.parse import urlencode

    paths = []
    for c in cases():
        params = [("q", c.q)] + [(k, v) for k, vs in c.params.items() for v in vs]
        paths.append("/api/search?" + urlencode(params))
    return paths


@dataclass
class Prepared:
    case: Case
    request: object
    root: object
    filters: object


class Runner:
    """One backend at one corpus size: a SearchService plus the prepared backend calls."""

    def __init__(self, name: str, backend, store, analyzer, settings) -> None:
        from policykb.query import analyze_query, parse
        from policykb.service import SearchService, parse_request

        self.name = name
        self.backend = backend
        self.service = SearchService(settings, store, backend, analyzer)
        self.prepared: list[Prepared] = []
        for c in cases():
            req = parse_request({"q": [c.q], **c.params}, settings)
            aq = analyze_query(parse(req.q), analyzer, req.match)
            filters = self.service._filters(req, aq.filters)
            self.prepared.append(Prepared(c, req, aq.root, filters))

    def backend_call(self, p: Prepared) -> float:
        from policykb.service import RERANK_WINDOW

        started = time.perf_counter()
        self.backend.search(p.root, p.filters, "relevance", 0, RERANK_WINDOW, p.case.facets)
        return (time.perf_counter() - started) * 1000

    def warm(self, seconds: float) -> None:
        """At least one pass of the queries (backend and service), repeated until
        ``seconds`` have passed: caches, JIT-compiled Elasticsearch query paths, SQLite
        pages."""
        until = time.monotonic() + seconds
        while True:
            for p in self.prepared:
                self.backend_call(p)
                self.service_call(p)
            if time.monotonic() >= until:
                break

    def service_call(self, p: Prepared) -> tuple[float, int]:
        started = time.perf_counter()
        res = self.service.search(p.request, facets=p.case.facets)
        return (time.perf_counter() - started) * 1000, res.total


def measure(runners: list[Runner], reps: int, warm_seconds: float = 0.0) -> dict:
    """samples[backend][mode][category] = [ms, ...]; queries interleaved across backends.
    Modes: backend, service (wall clock) and service_cpu (CPU time of this process during
    the service call, which other processes' load hardly changes). Each runner is warmed by
    at least one pass of the queries, repeated until ``warm_seconds`` have passed (a freshly
    started Elasticsearch JVM needs a few hundred searches before its query paths are
    compiled; one pass measures it cold)."""
    samples: dict = {r.name: {"backend": {}, "service": {}, "service_cpu": {}} for r in runners}
    totals: dict = {r.name: {} for r in runners}
    for r in runners:
        r.warm(warm_seconds)
    for _ in range(reps):
        for i in range(len(runners[0].prepared)):
            for r in runners:
                p = r.prepared[i]
                cat = p.case.category
                samples[r.name]["backend"].setdefault(cat, []).append(r.backend_call(p))
                cpu = time.process_time()
                ms, total = r.service_call(p)
                cpu = (time.process_time() - cpu) * 1000  # this process only (not ES's)
                samples[r.name]["service"].setdefault(cat, []).append(ms)
                samples[r.name]["service_cpu"].setdefault(cat, []).append(cpu)
                totals[r.name][p.case.q + str(p.case.params)] = total
    return {"samples": samples, "totals": totals}


def _all(samples_mode: dict) -> list[float]:
    return [x for v in samples_mode.values() for x in v]


def summary(result: dict) -> dict:
    """{backend: {mode: {category|'all': (p50, p99, n)}}}"""
    out: dict = {}
    for name, modes in result["samples"].items():
        out[name] = {}
        for mode, cats in modes.items():
            out[name][mode] = {
                cat: (median(v), percentile(v, 99), len(v)) for cat, v in cats.items()
            }
            every = _all(cats)
            out[name][mode]["all"] = (median(every), percentile(every, 99), len(every))
    return out


def es_server_took(runner: Runner) -> list[float]:
    """Elasticsearch's own ``took`` (ms, server side) for the prepared queries."""
    from policykb.backends.elastic import search_body
    from policykb.service import RERANK_WINDOW

    took = []
    for p in runner.prepared:
        body = search_body(p.root, p.filters, "relevance", 0, RERANK_WINDOW, p.case.facets)
        for _ in range(3):
            res = runner.backend.es.search(index=runner.backend.alias, **body)
            took.append(float(res["took"]))
    return took


def run(
    backends: dict[str, dict[int, object]],
    sizes: list[int],
    store,
    analyzer,
    settings,
    reps: int,
    es_pid: int | None = None,
) -> tuple[Section, dict]:
    sec = Section("Search")
    loads = []
    per_size: dict[int, dict] = {}
    runners_at: dict[int, list[Runner]] = {}
    for n in sizes:
        runners = [
            Runner(name, by_size[n], store, analyzer, settings)
            for name, by_size in backends.items()
            if n in by_size
        ]
        log(f"search: {n} docs, {len(cases())} queries x {reps} reps on {len(runners)} backend(s)")
        meter = CpuMeter((es_pid,) if es_pid else ()).start()
        result = measure(runners, reps)
        loads.append(meter.stop())
        per_size[n] = summary(result)
        per_size[n]["_totals"] = result["totals"]
        runners_at[n] = runners
    biggest = max(sizes)
    s = per_size[biggest]
    names = [k for k in s if not k.startswith("_")]
    cols = ["query kind"]
    for name in names:
        cols += [f"{name} backend p50/p99 ms", f"{name} service p50/p99 ms"]
    if len(names) == 2:
        cols += ["ES / embedded p50 (backend)", "ES / embedded p50 (service)"]
    table = Table(
        f"Search latency, in process, {biggest:,} documents, page 1 (size 10)",
        cols,
    )
    for cat in [*dict.fromkeys(c.category for c in cases()), "all"]:
        row = [cat]
        for name in names:
            for mode in ("backend", "service"):
                p50, p99, _ = s[name][mode][cat]
                row.append(f"{p50:.1f} / {p99:.1f}")
        if len(names) == 2:
            for mode in ("backend", "service"):
                row.append(
                    fmt_ratio(s["elasticsearch"][mode][cat][0] / s["embedded"][mode][cat][0])
                )
        table.add(*row)
    n_samples = s[names[0]]["service"]["all"][2]
    table.notes.append(
        f"{len(cases())} queries x {reps} repetitions = {n_samples} samples per cell group "
        "'all'; backends interleaved query by query. backend = backend.search(analyzed query, "
        "filters, relevance, 0, 100 [the service's re-rank window], facets); service = "
        "SearchService.search (parse + Kiwi on the query + backend + recency re-rank + "
        "SQLite metadata + snippets of 10 hits). Facets off for single/two/phrase."
    )
    table.notes.append(
        other_load_note(loads) + " Elasticsearch's own CPU counts as ours, not as other load."
    )
    sec.data["other_load_cores"] = [x["others"] for x in loads]
    counts = per_size[biggest]["_totals"].get("embedded", {})
    if counts:
        table.notes.append(
            "Matches per query (embedded): "
            + ", ".join(f"{k.split('{')[0]} {v:,}" for k, v in list(counts.items())[:12])
            + ", ..."
        )
    sec.tables.append(table)
    sec.data["per_size"] = {
        str(n): {k: v for k, v in d.items() if not k.startswith("_")} for n, d in per_size.items()
    }
    emb = s.get("embedded", {}).get("service", {}).get("all")
    if emb:
        sec.goals.append(
            Goal(
                f"embedded p50, service, {biggest:,} docs",
                "<= 10 ms",
                f"{emb[0]:.1f} ms",
                emb[0] <= 10,
            )
        )
        sec.goals.append(
            Goal(
                f"embedded p99, service, {biggest:,} docs",
                "<= 50 ms",
                f"{emb[1]:.1f} ms",
                emb[1] <= 50,
            )
        )
        if emb[0] > 10 / 1.1 or emb[1] > 50 / 1.1:  # missed, or within 10% of the goal
            r = next(x for x in runners_at[biggest] if x.name == "embedded")
            _, frames = profile_call(lambda: [r.service_call(p) for p in r.prepared * 2])
            sec.profiles["embedded SearchService.search"] = frames
    es = s.get("elasticsearch", {}).get("service", {}).get("all")
    if es and emb:
        ratio_service = es[0] / emb[0]
        ratio_backend = s["elasticsearch"]["backend"]["all"][0] / s["embedded"]["backend"]["all"][0]
        sec.goals.append(
            Goal(
                f"Elasticsearch p50 vs embedded, service, {biggest:,} docs",
                "<= 2x",
                f"{ratio_service:.2f}x",
                ratio_service <= 2,
                f"backend call alone {fmt_ratio(ratio_backend)}; ES p50 {es[0]:.1f} ms",
            )
        )
        if ratio_service > 2 or ratio_backend > 2:
            r = next(x for x in runners_at[biggest] if x.name == "elasticsearch")
            took = es_server_took(r)
            sec.data["es_server_took_ms"] = {"p50": median(took), "p99": percentile(took, 99)}
            table.notes.append(
                f"Elasticsearch server-side `took` for the same bodies: p50 {median(took):.1f} ms,"
                f" p99 {percentile(took, 99):.1f} ms (the rest of the backend time is the Python "
                "client: request serialization, HTTP on loopback, JSON parsing)."
            )
            _, frames = profile_call(lambda: [r.backend_call(p) for p in r.prepared * 2])
            sec.profiles["ElasticBackend.search (client side)"] = frames
    return sec, per_size
