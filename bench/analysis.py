"""Analysis throughput: one process running Kiwi vs policykb's 2-worker process pool (the
ingest pipeline's ``init_worker``), and the analysis-cache hit path vs full analysis."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.common import (
    WORKERS,
    Goal,
    KdiRow,
    Section,
    Table,
    fmt_num,
    fmt_ratio,
    log,
    profile_call,
    public_texts,
    ratio,
    stopwatch,
    vm_hwm_mb,
)

TASK_PASSAGES = 16  # passages per worker task (~10k characters)
_ready_at: list[float] = []


def _init(user_dict: str | None, synonyms: str | None) -> None:
    from ingest.build import init_worker

    init_worker(user_dict, synonyms, None)
    _ready_at.append(time.time())


def _ready(_: int) -> tuple[int, float]:
    time.sleep(0.05)  # so both workers take one
    return os.getpid(), _ready_at[0]


def _analyze_task(texts: list[str]) -> tuple[list, int, float]:
    """Like ``ingest.build.build``: Kiwi tokens as policykb ``Token``s, sent back pickled."""
    from ingest.build import _worker
    from policykb.models import Token

    analyzer = _worker["analyzer"]
    out = [
        [Token(t.term, t.start, t.end, t.position, t.joined) for t in analyzer.analyze(x)]
        for x in texts
    ]
    return out, os.getpid(), vm_hwm_mb()


def sample_passages(rows: list[KdiRow], kdi_chars: int, public_chars: int) -> dict[str, list[str]]:
    """Passages (as ingest makes them) from kdi-epic summaries and public-docs text."""
    from ingest.normalize import normalize
    from ingest.passages import split_passages

    kdi: list[str] = []
    total = 0
    for r in rows:
        if total >= kdi_chars:
            break
        for p in split_passages([(None, normalize(r.summary))]):
            kdi.append(p.text)
            total += len(p.text)
    public: list[str] = []
    texts = public_texts()
    per_file = max(20_000, public_chars // max(1, len(texts)) * 2)
    total = 0
    for _, text in sorted(texts.items()):
        taken = 0
        for p in split_passages([(None, text)]):
            if taken >= per_file or total >= public_chars:
                break
            public.append(p.text)
            taken += len(p.text)
            total += len(p.text)
    return {"kdi-epic summaries": kdi, "public-docs text": public}


def _single(analyzer, texts: list[str]) -> tuple[float, list]:
    from policykb.models import Token

    with stopwatch() as t:
        out = [
            [Token(x.term, x.start, x.end, x.position, x.joined) for x in analyzer.analyze(s)]
            for s in texts
        ]
    return t[0], out


def _pool(analyzer, texts: list[str]) -> dict:
    src = analyzer.lexicon.sources
    tasks = [texts[i : i + TASK_PASSAGES] for i in range(0, len(texts), TASK_PASSAGES)]
    peaks: dict[int, float] = {}
    started, started_wall = time.perf_counter(), time.time()
    with ProcessPoolExecutor(
        max_workers=WORKERS,
        initializer=_init,
        initargs=(src.get("user_dict"), src.get("synonyms")),
    ) as pool:
        ready = {}
        for _ in range(10):
            ready.update(dict(pool.map(_ready, range(WORKERS * 2))))
            if len(ready) >= WORKERS:
                break
        ready_s = max(ready.values()) - started_wall
        work_started = time.perf_counter()
        n = 0
        for toks, pid, peak in pool.map(_analyze_task, tasks):
            n += len(toks)
            peaks[pid] = max(peaks.get(pid, 0.0), peak)
        work = time.perf_counter() - work_started
    total = time.perf_counter() - started
    return {"total": total, "startup": max(0.0, ready_s), "work": work, "peaks": peaks}


def _cache_hit(analyzer, texts: list[str], tokens: list) -> tuple[float, int]:
    """Re-index without an analyzer change: every passage found in ``AnalysisCache``."""
    from ingest.build import CACHE_SCHEMA, AnalysisCache, text_hash, tokens_json

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "cache.sqlite3")
        con = sqlite3.connect(db)
        con.executescript(CACHE_SCHEMA)
        con.executemany(
            "INSERT OR IGNORE INTO analysis_cache (text_hash, analyzer_id, tokens) VALUES (?,?,?)",
            [
                (text_hash(t), analyzer.identity, tokens_json(tok))
                for t, tok in zip(texts, tokens, strict=True)
            ],
        )
        con.commit()
        con.close()
        cache = AnalysisCache(db, analyzer.identity)
        hits = 0
        with stopwatch() as t:
            for text in texts:
                if cache.get(text_hash(text)) is not None:
                    hits += 1
        cache.con.close()
    return t[0], hits


def run(rows: list[KdiRow], quick: bool, rounds: int) -> Section:
    from analyzers import get_analyzer

    sec = Section("Analysis")
    with stopwatch() as load:
        analyzer = get_analyzer()
    samples = sample_passages(rows, 120_000 if quick else 1_000_000, 60_000 if quick else 600_000)
    table = Table(
        "Analysis: characters/s, one process (Kiwi) vs 2-worker pool (policykb ingest workers)",
        [
            "text",
            "passages",
            "chars",
            "1 process chars/s",
            "pool chars/s (incl. startup)",
            "pool chars/s (excl.)",
            "worker startup s",
            "pool / 1 process",
            "pool / 1 process (excl.)",
        ],
    )
    cache_table = Table(
        "Analysis cache: re-index without analyzer change (AnalysisCache hit) vs full analysis",
        ["text", "passages", "full analysis s", "cache hits s", "hits", "full / cache"],
    )
    all_texts: list[str] = []
    all_single = all_pool = all_pool_work = 0.0
    peaks: dict[int, float] = {}
    for label, texts in samples.items():
        chars = sum(len(t) for t in texts)
        log(f"analysis: {label}: {len(texts)} passages, {chars} chars, {rounds} round(s)")
        singles, pools = [], []
        tokens: list = []
        for _ in range(rounds):  # alternate so both see the same background load
            s, tokens = _single(analyzer, texts)
            singles.append(s)
            pools.append(_pool(analyzer, texts))
        single = min(singles)
        best = min(pools, key=lambda p: p["total"])
        for p in pools:
            for pid, mb in p["peaks"].items():
                peaks[pid] = max(peaks.get(pid, 0.0), mb)
        table.add(
            label,
            len(texts),
            fmt_num(chars),
            fmt_num(chars / single),
            fmt_num(chars / best["total"]),
            fmt_num(chars / best["work"]),
            f"{best['startup']:.2f}",
            fmt_ratio(single / best["total"]),
            fmt_ratio(single / best["work"]),
        )
        hit_s, hits = _cache_hit(analyzer, texts, tokens)
        cache_table.add(
            label, len(texts), f"{single:.2f}", f"{hit_s:.3f}", hits, fmt_ratio(single / hit_s)
        )
        sec.data[label] = {
            "passages": len(texts),
            "chars": chars,
            "single_s": singles,
            "pool_total_s": [p["total"] for p in pools],
            "pool_work_s": [p["work"] for p in pools],
            "pool_startup_s": [p["startup"] for p in pools],
            "cache_hit_s": hit_s,
        }
        all_texts += texts
        all_single += single
        all_pool += best["total"]
        all_pool_work += best["work"]
    total_chars = sum(len(t) for t in all_texts)
    table.add(
        "all",
        len(all_texts),
        fmt_num(total_chars),
        fmt_num(total_chars / all_single),
        fmt_num(total_chars / all_pool),
        fmt_num(total_chars / all_pool_work),
        "",
        fmt_ratio(all_single / all_pool),
        fmt_ratio(all_single / all_pool_work),
    )
    table.notes.append(
        f"Kiwi model load in this process: {load[0]:.2f} s (not counted). Pool = "
        f"ProcessPoolExecutor({WORKERS}) with ingest.build.init_worker, {TASK_PASSAGES} "
        "passages per task, tokens pickled back as policykb Tokens; best of "
        f"{rounds} alternating round(s). Start method: fork (workers inherit the parent's "
        "loaded Kiwi)."
    )
    table.notes.append(
        "Pool peak RSS per worker (VmHWM, includes pages shared with the parent after fork): "
        + ", ".join(f"{mb:.0f} MB" for mb in sorted(peaks.values()))
    )
    sec.tables += [table, cache_table]
    speedup = all_single / all_pool
    sec.goals.append(
        Goal(
            "parallel analysis, 2 workers vs 1 process (incl. worker startup)",
            ">= 1.8x",
            fmt_ratio(speedup),
            speedup >= 1.8,
            f"excluding startup {fmt_ratio(all_single / all_pool_work)}",
        )
    )
    hit_total = sum(d["cache_hit_s"] for d in sec.data.values() if isinstance(d, dict))
    cache_ratio = all_single / hit_total
    sec.goals.append(
        Goal(
            "re-index without analyzer change (cache hit) vs full analysis",
            ">= 20x",
            fmt_ratio(cache_ratio),
            cache_ratio >= 20,
        )
    )
    sec.data["worker_peak_mb"] = peaks
    sec.data["kiwi_load_s"] = load[0]
    if speedup < 1.8:
        log("analysis: goal missed, profiling the pool run's parent process")
        _, frames = profile_call(lambda: _pool(analyzer, all_texts[: len(all_texts) // 2]))
        sec.profiles["pool run, parent process"] = frames
    return sec
