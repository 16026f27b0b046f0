"""Suggestion latency in process over the kdi-epic corpus: build the index from the
analyzed documents (as ingest and reindex do from the store), save and load it, then time
``SuggestIndex.suggest`` for what a search box sends while typing (every prefix of a set of
words), 초성 and mixed input, typos and the wrong keyboard layout. Peer in the same run: a
linear scan over the same keys (what answering without the index would cost).

python -m bench.suggest [--size 50000] [--reps 5]   # alone; or `python -m bench --only suggest`
Writes bench/results/suggest.json and suggest.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import the package from the repo root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bench.common import (  # noqa: E402
    CpuMeter,
    Goal,
    Section,
    Table,
    command_meta,
    fmt_ratio,
    log,
    median,
    other_load_note,
    percentile,
    write_results,
)

GOAL_P50_MS = 5.0
GOAL_P99_MS = 20.0
LIMIT = 8  # what the search box asks for

WORDS = [
    "탄소중립",
    "스마트시티",
    "대중교통",
    "자율주행",
    "균형발전",
    "반도체",
    "부동산",
    "저출산",
    "인공지능",
    "일자리",
    "기획재정부",
    "중소벤처기업부",
    "공급망",
    "고령화",
    "수출",
    "디지털 전환",
    "주택 공급",
    "청년 일자리",
    "기후 변화",
    "도시재생",
]
INITIALS = ["ㅌㅅㅈㄹ", "ㅅㅁㅌㅅㅌ", "ㄷㅈㄱㅌ", "ㅂㄷㅊ", "ㅇㄱㅈㄴ", "ㄱㅎㅈㅈㅂ", "ㅅ", "ㄱㅇ"]
MIXED = ["탄ㅅㅈㄹ", "스ㅁㅌ", "반ㄷ", "부ㄷㅅ", "기획ㅈㅈㅂ", "중소ㅂㅊ"]
TYPOS = [
    "탄소중닙",
    "스마트시트",
    "대중교툥",
    "반도채",
    "부동샨",
    "인곧지능",
    "기획제정부",
    "공급만",
]
LAYOUT = ["tmakxmtlxl", "xksthwndflq", "qksehcp", "qnehdtks", "dlsrhdwlsmd", "ㄹㅅㅁ", "ㅑㅊㅅ"]


def typing(word: str) -> list[str]:
    """What a search box sends while ``word`` is typed: every prefix, by syllable."""
    return [word[:i] for i in range(1, len(word) + 1) if word[:i].strip()]


def queries() -> list[tuple[str, str]]:
    out = [("prefix (typing)", p) for w in WORDS for p in typing(w)]
    out += [("초성", q) for q in INITIALS] + [("mixed 초성", q) for q in MIXED]
    out += [("typo", q) for q in TYPOS] + [("layout", q) for q in LAYOUT]
    return out


def _scan(keys: list[str], key: str) -> list[int]:
    return [i for i, k in enumerate(keys) if k.startswith(key)]


def run(rows=None, size: int = 50_000, reps: int = 5, quick: bool = False) -> Section:
    from analyzers import get_analyzer
    from bench.common import load_corpus
    from corpus import institutes as registry
    from policykb import suggest

    if quick:
        size, reps = min(size, 5000), min(reps, 2)
    analyzer = get_analyzer()
    log(f"suggest: loading {size} analyzed kdi-epic documents")
    docs, _ = load_corpus(size, analyzer, rows)
    sec = Section("Suggest")
    started = time.perf_counter()
    index = suggest.build(
        docs,
        dictionary=[w.word for w in analyzer.lexicon.user_words],
        names=[n for i in registry.INSTITUTES for n in (i.name, *i.aliases)],
    )
    build_s = time.perf_counter() - started
    del docs
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suggest.idx"
        started = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - started
        file_mb = path.stat().st_size / 1e6
        started = time.perf_counter()
        loaded = suggest.SuggestIndex.load(path)
        load_s = time.perf_counter() - started
    assert loaded is not None
    index = loaded  # measure what the service uses: the index read back from disk
    build = Table(
        f"Suggestion index over {size:,} kdi-epic documents",
        ["step", "seconds", "note"],
    )
    build.add("build (from analyzed documents)", f"{build_s:.1f}", f"{len(index):,} entries")
    build.add("save", f"{save_s:.2f}", f"{file_mb:.1f} MB")
    build.add("load", f"{load_s:.2f}", "what a server process pays once")
    build.add(
        "typo index",
        "",
        f"{len(index.tkeys):,} deletion keys, {len(index.tids):,} postings",
    )
    sec.tables.append(build)

    qs = queries()
    log(f"suggest: {len(qs)} queries x {reps} reps")
    for _, q in qs:  # warm up
        index.suggest(q, LIMIT)
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    meter = CpuMeter().start()
    for _ in range(reps):
        for kind, q in qs:
            c0, t0 = time.thread_time(), time.perf_counter()
            index.suggest(q, LIMIT)
            times.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
            cpu.setdefault(kind, []).append((time.thread_time() - c0) * 1000)
    load = meter.stop()
    every = [t for ts in times.values() for t in ts]
    times["all"] = every
    cpu["all"] = [t for k, ts in cpu.items() if k != "all" for t in ts]
    # Peer: a linear scan of the same keys for the prefix queries (no index), same run.
    prefix_qs = [q for kind, q in qs if kind == "prefix (typing)"]
    scan_ms = []
    for q in prefix_qs[:: max(1, len(prefix_qs) // 20)]:
        key = suggest.key_of(q)
        t0 = time.perf_counter()
        _scan(index.keys, key)
        scan_ms.append((time.perf_counter() - t0) * 1000)
    lat = Table(
        f"Suggest latency, in process, {size:,} documents, limit {LIMIT}",
        ["input", "queries", "p50 ms", "p99 ms", "max ms", "CPU p50 / p99 ms"],
    )
    for kind, ts in times.items():
        lat.add(
            kind,
            len(ts) // reps,
            f"{median(ts):.2f}",
            f"{percentile(ts, 99):.2f}",
            f"{max(ts):.2f}",
            f"{median(cpu[kind]):.2f} / {percentile(cpu[kind], 99):.2f}",
        )
    prefix_p50 = median(times["prefix (typing)"])
    lat.add(
        "peer: linear scan of the keys (prefix only, no ranking)",
        len(scan_ms),
        f"{median(scan_ms):.2f}",
        f"{percentile(scan_ms, 99):.2f}",
        f"{max(scan_ms):.2f}",
        "",
    )
    lat.notes.append(
        f"index vs scan p50 (prefix): {fmt_ratio(median(scan_ms) / prefix_p50)} faster; "
        f"{reps} repetitions of every query, after one warm-up pass; "
        "the index measured is the one read back from disk. Wall-clock columns include "
        "time the process waited for a core; CPU = the thread's own CPU time per call."
    )
    note = other_load_note([load])
    if note:
        lat.notes.append(note)
    sec.tables.append(lat)
    p50, p99 = median(every), percentile(every, 99)
    sec.goals.append(
        Goal("suggest p50, all inputs", f"<= {GOAL_P50_MS} ms", f"{p50:.2f} ms", p50 <= GOAL_P50_MS)
    )
    sec.goals.append(
        Goal("suggest p99, all inputs", f"<= {GOAL_P99_MS} ms", f"{p99:.2f} ms", p99 <= GOAL_P99_MS)
    )
    sec.data = {
        "documents": size,
        "entries": len(index),
        "build_s": build_s,
        "file_mb": file_mb,
        "load_s": load_s,
        "p50_ms": p50,
        "p99_ms": p99,
        "cpu_p50_ms": median(cpu["all"]),
        "cpu_p99_ms": percentile(cpu["all"], 99),
        "scan_p50_ms": median(scan_ms),
        "cpu": load,
        "examples": {q: [s.text for s in index.suggest(q, 3)] for q in [*TYPOS, *LAYOUT]},
    }
    return sec


def write(sec: Section, meta: dict) -> tuple[Path, Path]:
    heading = f"Suggest benchmark ({meta['finished']})"
    return write_results("suggest", "section", sec, meta, heading, machine_line=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.suggest", description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=50_000, help="kdi-epic documents (default 50000)")
    p.add_argument("--reps", type=int, default=5, help="repetitions of every query")
    p.add_argument("--quick", action="store_true", help="5,000 documents, 2 repetitions")
    args = p.parse_args(argv)
    started = time.perf_counter()
    sec = run(size=args.size, reps=args.reps, quick=args.quick)
    sec.seconds = time.perf_counter() - started
    sec.print()
    meta = {
        **command_meta("bench.suggest", argv),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "seconds": round(sec.seconds, 1),
    }
    json_path, md_path = write(sec, meta)
    log(f"wrote {json_path} and {md_path}")
    return 0 if all(g.met for g in sec.goals) else 1


if __name__ == "__main__":
    sys.exit(main())
