"""Sections assembled from the others' numbers (Scaling, Memory) and the results files."""

from __future__ import annotations

import json
import time

from bench.common import RESULTS, Goal, Section, Table, fmt_num, fmt_ratio


def scaling(indexing: Section, per_size: dict[int, dict], sizes: list[int]) -> Section:
    sec = Section("Scaling")
    backends = [b for b in ("embedded", "elasticsearch") if b in per_size[sizes[0]]]
    cols = ["documents"]
    for b in backends:
        cols += [f"{b} index docs/s", f"{b} backend p50/p99 ms", f"{b} service p50/p99 ms"]
    table = Table("Scaling: indexing and search cost by corpus size", cols)
    for n in sizes:
        row = [fmt_num(n)]
        for b in backends:
            key = "embedded" if b == "embedded" else "es"
            idx = indexing.data.get(f"{key}_{n}")
            row.append(fmt_num(n / idx["seconds"]) if idx else "n/a")
            for mode in ("backend", "service"):
                p50, p99, _ = per_size[n][b][mode]["all"]
                row.append(f"{p50:.1f} / {p99:.1f}")
        table.add(*row)
    lo, hi = sizes[0], sizes[-1]
    if hi > lo:
        row = [f"{hi // 1000}k / {lo // 1000}k"]
        for b in backends:
            key = "embedded" if b == "embedded" else "es"
            a, z = indexing.data.get(f"{key}_{lo}"), indexing.data.get(f"{key}_{hi}")
            row.append(
                f"time x{z['seconds'] / a['seconds']:.1f} for x{hi / lo:.0f} docs" if a else "n/a"
            )
            for mode in ("backend", "service"):
                row.append(
                    "p50 "
                    + fmt_ratio(per_size[hi][b][mode]["all"][0] / per_size[lo][b][mode]["all"][0])
                    + ", p99 "
                    + fmt_ratio(per_size[hi][b][mode]["all"][1] / per_size[lo][b][mode]["all"][1])
                )
        table.add(*row)
    table.notes.append(
        "Same query set, repetitions and interleaving at every size; each size is a prefix of "
        "the same shuffled kdi-epic rows, indexed from scratch."
    )
    sec.tables.append(table)
    return sec


def memory(sections: dict[str, Section]) -> Section:
    sec = Section("Memory")
    table = Table("Memory: peak RSS (VmHWM) by process", ["process", "peak RSS MB", "note"])
    ana = sections.get("Analysis")
    if ana and ana.data.get("worker_peak_mb"):
        peaks = list(ana.data["worker_peak_mb"].values())
        table.add(
            "analysis pool workers (2 per pool)",
            f"{min(p[0] for p in peaks):.0f}-{max(p[0] for p in peaks):.0f}",
            f"USS {min(p[1] for p in peaks):.0f}-{max(p[1] for p in peaks):.0f} MB; "
            f"peak RSS counts pages shared with the parent (RSS {max(p[2] for p in peaks):.0f}"
            " MB at fork)",
        )
    ing = sections.get("Ingest")
    if ing and ing.data.get("worker_peak_mb"):
        peaks, uss = ing.data["worker_peak_mb"], ing.data.get("worker_uss_mb", {})
        table.add(
            "ingest workers (Ingester.run over public-docs)",
            ", ".join(f"{peaks[p]:.0f}" for p in sorted(peaks)),
            "USS "
            + ", ".join(f"{uss.get(p, float('nan')):.0f}" for p in sorted(peaks))
            + f" MB; parent RSS {ing.data.get('parent_rss_mb', float('nan')):.0f} MB; "
            "extract + normalize + passages + Kiwi, incl. a 415-page PDF and a 480k-char HWP",
        )
    corpus = sections.get("Indexing")
    if corpus and corpus.data.get("corpus_worker_peak_mb"):
        peaks = corpus.data["corpus_worker_peak_mb"]
        table.add(
            "corpus analysis workers (cold cache)",
            ", ".join(f"{v:.0f}" for v in sorted(peaks.values())),
            "2 workers analyzing kdi-epic summaries (peak RSS includes fork-shared pages)",
        )
    http = sections.get("HTTP")
    if http:
        for label, res in http.data.items():
            if "(run " in label:
                continue
            mem = res.get("memory", {}) if isinstance(res, dict) else {}
            if mem:
                table.add(f"gunicorn master ({label})", f"{mem['master'][0]:.0f}", "")
                table.add(
                    f"gunicorn workers ({label})",
                    ", ".join(f"{w[0]:.0f}" for w in mem["workers"]),
                    "USS " + ", ".join(f"{w[1]:.0f}" for w in mem["workers"]) + " MB",
                )
    if corpus and corpus.data.get("es_rss_mb"):
        table.add(
            "Elasticsearch JVM (RSS after indexing)",
            f"{corpus.data['es_rss_mb']:.0f}",
            "heap 1024 MB",
        )
    main = sections.get("_main")
    if main:
        table.add(
            "benchmark process",
            f"{main.data['peak_mb']:.0f}",
            "holds every analyzed Document in memory + both clients",
        )
    sec.tables.append(table)
    return sec


def write(sections: dict[str, Section], meta: dict) -> tuple[str, str]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    ordered = [s for k, s in sections.items() if not k.startswith("_")]
    doc = {"meta": meta, **{s.name: s.to_json() for s in ordered}}
    (RESULTS / "latest.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n"
    )
    md = [
        "# policykb benchmark results",
        "",
        f"Command: `{meta['command']}`; finished {meta['finished']}; total "
        f"{meta['total_seconds'] / 60:.1f} min on {meta['machine']['cpus']} cores "
        f"(load average at start {', '.join(f'{x:.2f}' for x in meta['machine']['loadavg_at_start'])}).",
        "",
        "## Goals",
        "",
    ]
    goals: list[Goal] = [g for s in ordered for g in s.goals]
    md += [f"- {g.line()}" for g in goals]
    busy = busy_sections(sections)
    if busy:
        md += [
            "",
            "**Warning:** other processes used up to "
            + ", ".join(f"{v:.2f} cores during {k}" for k, v in busy.items())
            + " (of 2). Figures that need both cores (parallel analysis, HTTP throughput, "
            "Elasticsearch) are understated in this run; re-run on a quiet machine.",
        ]
    for s in ordered:
        md += ["", f"## {s.name}", ""]
        if s.seconds >= 1:
            md += [f"({s.seconds:.0f} s)", ""]
        for t in s.tables:
            md += [t.markdown(), ""]
        for g in s.goals:
            md.append(f"- {g.line()}")
        for label, frames in s.profiles.items():
            tool = "" if label.startswith("py-spy") else "pyinstrument, "
            md += ["", f"Profile ({tool}{label}): top functions by own time", ""]
            md += ["| % | function | where |", "|---|---|---|"]
            md += [
                f"| {f['percent']:.1f} | `{f['function']}` | {f['where']} |" for f in frames[:10]
            ]
    text = "\n".join(md) + "\n"
    (RESULTS / "latest.md").write_text(text)
    return str(RESULTS / "latest.json"), str(RESULTS / "latest.md")


def busy_sections(sections: dict[str, Section], threshold: float = 0.25) -> dict[str, float]:
    """Sections during which other processes used more than ``threshold`` cores."""
    out: dict[str, float] = {}
    for name in ("Analysis", "Search"):
        loads = sections[name].data.get("other_load_cores", []) if name in sections else []
        if loads and max(loads) > threshold:
            out[name] = max(loads)
    http = sections.get("HTTP")
    if http:
        loads = [
            r["load"]["others"] for r in http.data.values() if isinstance(r, dict) and "load" in r
        ]
        if loads and max(loads) > threshold:
            out["HTTP"] = max(loads)
    return out


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
