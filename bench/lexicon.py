"""Lexicon edits on the kdi-epic corpus: time from ``add-word`` (and from adding a synonym
group) to the new entry being searchable, against a full ``reindex --reanalyze`` of the
same store in the same run, then check that the full re-analysis changed no token.

The edits go through ``Runtime.edit_lexicon`` (what ``policykb lexicon add-word`` and the
admin page call) on a runtime whose analyzer is loaded, as in a running server; the clock
stops when a search for the new entry answers with documents that contain it.

python -m bench.lexicon [--docs 50000]   # writes bench/results/lexicon.json and lexicon.md
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import the package from the repo root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import hashlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bench.common import (  # noqa: E402
    CpuMeter,
    Goal,
    Section,
    Table,
    command_meta,
    load_corpus,
    log,
    other_load_note,
    write_results,
)

GOAL_SECONDS = 30.0
GOAL_SHARE = 0.05
# New words an admin would add (compounds Kiwi splits), tried in order: the first one the
# corpus contains is used. Same for synonym groups (a new abbreviation).
WORDS = ["탄소국경조정", "디지털플랫폼정부", "규제샌드박스", "수성알파시티", "그린뉴딜"]
SYNONYMS = [
    ("탄소국경조정제도", "CBAM", "탄소국경세"),
    ("디지털플랫폼정부", "디플정"),
    ("핀테크", "금융기술"),
    ("가상자산", "암호화폐", "가상화폐"),
]


def _runtime(data_dir: Path):
    from policykb.settings import load_settings
    from wiring.runtime import Runtime

    return Runtime(load_settings({"data_dir": str(data_dir), "ocr": "off"}, environ={}))


def _build(data_dir: Path, docs: list):
    rt = _runtime(data_dir)
    identity = rt.analyzer.identity
    for i in range(0, len(docs), 1000):
        with rt.store.connect() as con:
            for doc in docs[i : i + 1000]:
                rt.store.put_document(doc, identity, con)
    rt.backend.rebuild(iter(docs), len(docs))
    rt.rebuild_suggestions()
    return rt


def _base(n: int, identity: str, docs_of) -> tuple[Path, float, bool]:
    """A built data directory (store, embedded index, suggestions) for ``n`` documents,
    kept under bench/.cache/lexicon/ between runs (the edits work on a copy)."""
    from bench.common import CACHE

    base = CACHE / "lexicon" / f"{n}-{identity}"
    if (base / "complete").exists():
        return base / "data", 0.0, True
    shutil.rmtree(base, ignore_errors=True)
    started = time.perf_counter()
    _build(base / "data", docs_of())
    seconds = time.perf_counter() - started
    (base / "complete").write_text(f"{seconds:.1f}\n")
    return base / "data", seconds, False


def _occurs(rt, word: str) -> int:
    from policykb.lexicon_edits import match_form

    form = match_form(word)
    return sum(1 for _d, _s, text in rt.store.iter_analysis_texts() if form in match_form(text))


def _pick_words(rt) -> list[str]:
    return [w for w in WORDS if _occurs(rt, w) >= 3] or WORDS[:2]


def _pick_group(rt) -> tuple[tuple[str, ...], str]:
    """A group whose canonical form and one variant both occur, and that variant: a search
    for it must find more documents once the group is added."""
    for group in SYNONYMS:
        if _occurs(rt, group[0]):
            for v in group[1:]:
                if _occurs(rt, v):
                    return group, v
    return SYNONYMS[0], SYNONYMS[0][1]


def _key(rt, entry: str) -> str:
    return "".join(t.term for t in rt.analyzer.analyze(entry) if not t.joined)


def _fingerprints(rt) -> dict[str, str]:
    out = {}
    for doc in rt.store.iter_documents():
        h = hashlib.sha256()
        for toks in (doc.title_tokens, doc.author_tokens, *(p.tokens for p in doc.passages)):
            h.update(repr([(t.term, t.start, t.end, t.position, t.joined) for t in toks]).encode())
        out[doc.id] = h.hexdigest()
    return out


def _searchable(rt, query: str, term: str) -> tuple[int, bool]:
    """Hits for ``query`` and whether the index has ``term`` (what the edit made)."""
    from policykb.service import SearchRequest

    result = rt.service.search(SearchRequest(q=query, match="all", size=5))
    return result.total, rt.backend.doc_freqs([term])[term] > 0


def _timed_edit(rt, texts_of, description: str, query: str, term: str, gone: bool = False) -> dict:
    """Apply an edit and time it until a search answers with it: for an added entry the
    index has its term; for a removed one (``gone``), no longer."""
    hits_before, _ = _searchable(rt, query, term)
    suggest_mtime, wall_started = rt.suggest_path.stat().st_mtime, time.time()
    started = time.perf_counter()
    cpu = time.thread_time()
    result = rt.edit_lexicon(texts_of(rt.lexicon_editor()), description)
    edit_s = time.perf_counter() - started
    cpu = time.thread_time() - cpu
    hits, indexed = _searchable(rt, query, term)
    total_s = time.perf_counter() - started
    return {
        "edit": description,
        "wall_started": wall_started,
        "suggest_mtime": suggest_mtime,
        "gone": gone,
        "seconds": total_s,
        "edit_seconds": edit_s,
        "plan_seconds": result.plan.seconds,
        "analyzer_seconds": result.plan.analyzer_seconds,
        "cpu_seconds": cpu,
        "examined": result.plan.examined,
        "examined_documents": result.plan.examined_documents,
        "changed_passages": result.plan.passages,
        "changed_documents": len(result.plan.documents),
        "reindexed": result.indexed,
        "hits_before": hits_before,
        "hits": hits,
        "term_indexed": indexed,
        "line": result.line(),
    }


def _cli_add_word(data_dir: Path, word: str) -> dict:
    """``policykb lexicon add-word`` in a new process (loads the current analyzer too)."""
    import os
    import subprocess

    env = {**os.environ, "POLICYKB_DATA_DIR": str(data_dir), "POLICYKB_OCR": "off"}
    cmd = [sys.executable, "-m", "wiring.cli", "lexicon", "add-word", word, "--tag", "NNG"]
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return {"word": word, "seconds": time.perf_counter() - started, "output": out.stdout.strip()}


def _suggested(rt, word: str) -> bool:
    return any(x.text.replace(" ", "") == word for x in rt.suggester.suggest(word, 10))


def _wait_suggestions(rt, word: str, edit: dict) -> dict:
    """After an edit: seconds from its start until the suggestion index is first replaced
    (the detached process the edit starts saves the index with the new dictionary words
    first) and whether the search box then suggests ``word``; then until that process's
    full rebuild has ended (so that it does not run under the next measurement)."""
    import fcntl

    path, mtime, since = rt.suggest_path, edit["suggest_mtime"], edit["wall_started"]
    out: dict = {"seconds": None, "suggested": False, "rebuilt_seconds": None}
    while time.time() - since < 900:
        if path.stat().st_mtime != mtime:
            out["seconds"] = path.stat().st_mtime - since
            rt.suggester._checked = 0.0  # look at the file now (a server looks every 2 s)
            out["suggested"] = _suggested(rt, word)
            break
        time.sleep(0.1)
    else:
        return out
    time.sleep(0.5)
    with open(rt.settings.data_dir / "suggest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
    out["rebuilt_seconds"] = path.stat().st_mtime - since
    rt.suggester._checked = 0.0
    out["suggested_after_rebuild"] = _suggested(rt, word)
    return out


def _sugg_cell(sugg: dict) -> str:
    if sugg["seconds"] is None:
        return "not replaced"
    return f"{sugg['seconds']:.1f} (rebuilt {sugg['rebuilt_seconds']:.0f})"


def run(n: int, keep: Path | None = None, full: bool = True, rate: float | None = None) -> Section:
    from analyzers import get_analyzer

    sec = Section("lexicon")
    analyzer = get_analyzer()
    build = None

    def docs_of() -> list:
        nonlocal build
        docs, build = load_corpus(n, analyzer)
        return docs

    base, build_s, cached = _base(n, analyzer.identity, docs_of)
    log(
        f"store and index for {n} documents: "
        + ("cached" if cached else f"built in {build_s:.0f} s")
    )
    folder = keep or Path(tempfile.mkdtemp(prefix="bench-lexicon-"))
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(base, folder / "data")
    try:
        rt = _runtime(folder / "data")
        con = rt.store._conn()
        passages, chars = con.execute("SELECT count(*), sum(length(text)) FROM passages").fetchone()
        rt.service  # noqa: B018 - a running server has its analyzer and service loaded
        words = _pick_words(rt)
        word = words[0]
        group, variant = _pick_group(rt)
        # As the admin page does when opened: a Kiwi model loaded for the next edit.
        rt.lexicon_editor().prepare(wait=True)
        meter = CpuMeter().start()
        log(f"add-word {word}")
        w = _timed_edit(
            rt, lambda e: e.texts_adding_word(word, "NNG"), f"add-word {word}", word, word
        )
        log(w["line"])
        w["suggestions"] = _wait_suggestions(rt, word, w)
        log(f"  suggestions: {w['suggestions']}")
        log(f"add-synonym {' '.join(group)}")
        s = _timed_edit(
            rt,
            lambda e: e.texts_adding_synonyms(group[0], group[1:]),
            "add-synonym " + " ".join(group),
            variant,
            _key(rt, group[0]),
        )
        log(s["line"])
        s["suggestions"] = _wait_suggestions(rt, word, s)
        log(f"remove-synonym {group[0]}")
        rs = _timed_edit(
            rt,
            lambda e: e.texts_removing_synonyms(group[0], ()),
            f"remove-synonym {group[0]}",
            variant,
            _key(rt, group[0]),
            gone=True,
        )
        log(rs["line"])
        rs["suggestions"] = _wait_suggestions(rt, word, rs)
        # As the admin page does after a save: a Kiwi model loaded for the next edit.
        rt.lexicon_editor().prepare(wait=True)
        log(f"remove-word {word}")
        rw = _timed_edit(
            rt, lambda e: e.texts_removing_word(word), f"remove-word {word}", word, word, gone=True
        )
        log(rw["line"])
        rw["suggestions"] = _wait_suggestions(rt, word, rw)
        log(f"  suggestions: {rw['suggestions']}")
        edits_load = meter.stop()
        cli = None
        if len(words) > 1:
            mark = {"suggest_mtime": rt.suggest_path.stat().st_mtime, "wall_started": time.time()}
            cli = _cli_add_word(folder / "data", words[1])
            log(f"CLI add-word {words[1]}: {cli['seconds']:.1f} s: {cli['output']}")
            # This process plays the running server: no reload call, it notices the edit.
            while time.time() - mark["wall_started"] < 600:
                cli["hits"], cli["term_indexed"] = _searchable(rt, words[1], words[1])
                if cli["term_indexed"] and rt.service.analyzer.identity == rt.analyzer.identity:
                    if _key(rt, words[1]) == words[1]:
                        break
                time.sleep(0.1)
            cli["searchable_seconds"] = time.time() - mark["wall_started"]
            log(f"  searchable here (a running server) after {cli['searchable_seconds']:.1f} s")
            cli["suggestions"] = _wait_suggestions(rt, words[1], mark)
        full_load, differ = None, []
        if full:
            before = _fingerprints(rt)
            log("full reindex --reanalyze")
            meter = CpuMeter().start()
            started = time.perf_counter()
            info = rt.reindex(reanalyze=True)
            full_s = time.perf_counter() - started
            full_load = meter.stop()
            after = _fingerprints(rt)
            differ = sorted(k for k in before if before[k] != after.get(k))
        else:
            # Estimated from a full re-analysis rate (characters/s) measured at another size.
            info = {"documents": n, "reanalyzed": n, "estimated_from_chars_per_s": rate}
            full_s = chars / rate
        log(
            f"full re-analysis: {info} in {full_s:.0f} s; documents whose tokens differ: {len(differ)}"
        )
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    t = Table(
        f"Lexicon edits on {n:,} kdi-epic documents ({passages:,} passages, {chars:,} characters)",
        [
            "operation",
            "end to end s",
            "share of full",
            "texts re-analyzed",
            "changed passages / documents",
            "hits before → after",
            "suggestions s",
        ],
    )
    for e in (w, s, rs, rw):
        sugg = e["suggestions"]
        t.add(
            e["edit"],
            f"{e['seconds']:.1f}",
            f"{e['seconds'] / full_s:.1%}",
            f"{e['examined']:,} in {e['examined_documents']:,} docs",
            f"{e['changed_passages']:,} / {e['changed_documents']:,}",
            f"{e['hits_before']} → {e['hits']}",
            _sugg_cell(sugg),
        )
    if cli:
        t.add(
            f"CLI: policykb lexicon add-word {cli['word']} (new process)",
            f"{cli['searchable_seconds']:.1f} (process {cli['seconds']:.1f})",
            f"{cli['searchable_seconds'] / full_s:.1%}",
            cli["output"],
            "",
            f"→ {cli['hits']}",
            _sugg_cell(cli["suggestions"]),
        )
    t.add(
        "reindex --reanalyze (same run)" if full else "reindex --reanalyze (ESTIMATED, not run)",
        f"{full_s:.1f}",
        "100%",
        f"{info['reanalyzed']:,} docs",
        "",
        "",
        "",
    )
    t.notes.append(
        "end to end: from the edit call (validate, new analyzer, find and re-analyze the "
        "affected texts, write the store, re-index their documents, switch the analyzer) "
        "until a search for the entry answers; in process, the current analyzer loaded as "
        "in a running server, with the spare Kiwi model the admin page loads when opened. "
        "A dictionary word still builds Kiwi's dictionary anew (most of its time: "
        f"{w['analyzer_seconds']:.1f} s here); a synonym group reuses the Kiwi. CPU seconds "
        f"of the edit thread: word {w['cpu_seconds']:.1f}, group {s['cpu_seconds']:.1f}. "
        "The removals undo the two additions (a search answers as before the addition). "
        "suggestions: from the edit call until the suggestion index, rebuilt by the "
        "detached process the edit starts, is replaced (then checked: the added word is "
        "suggested, the removed one is not); each measurement waits for that rebuild to end "
        "first."
    )
    if cli:
        t.notes.append(
            "CLI: the whole `python -m wiring.cli lexicon add-word` process (Python start, "
            "its own analyzer and Kiwi, the edit), then until this process (as a running "
            "server would, without a reload call: it looks for lexicon changes every 2 s) "
            "answers a search for the word with the word's term."
        )
    if full:
        t.notes.append(
            f"after the edits, the full re-analysis changed the tokens of {len(differ)} "
            "documents (must be 0)."
        )
    else:
        t.notes.append(
            f"the full re-analysis was not run at this size: its time is estimated as "
            f"{chars:,} characters / {rate:,.0f} characters/s (the rate a full run measured "
            "at a smaller size on this machine)."
        )
    note = other_load_note([edits_load, *([full_load] if full_load else [])])
    if note:
        t.notes.append(note)
    sec.tables.append(t)
    for e, label in ((w, "one added word"), (s, "one synonym group")):
        ok = e["hits"] > 0 and e["term_indexed"]
        if e is s:
            ok = ok and e["hits"] > e["hits_before"]
        sec.goals.append(
            Goal(
                f"{label} searchable, end to end",
                f"<= {GOAL_SECONDS:.0f} s",
                f"{e['seconds']:.1f} s",
                e["seconds"] <= GOAL_SECONDS and ok,
                "" if ok else "not searchable afterwards",
            )
        )
        share = e["seconds"] / full_s
        sec.goals.append(
            Goal(
                f"{label}: share of the full re-analysis ({full_s:.0f} s)",
                f"<= {GOAL_SHARE:.0%}",
                f"{share:.1%}",
                share <= GOAL_SHARE,
            )
        )
    for e, added in ((rs, s), (rw, w)):
        # undone: the search answers as before the addition (the index's document
        # frequencies still count deleted documents until segments merge)
        ok = e["hits"] == added["hits_before"]
        sec.goals.append(
            Goal(
                f"{e['edit']} undone, end to end",
                f"<= {GOAL_SECONDS:.0f} s",
                f"{e['seconds']:.1f} s",
                e["seconds"] <= GOAL_SECONDS and ok,
                "" if ok else f"hits {e['hits']}, {added['hits_before']} before the addition",
            )
        )
    if cli:
        sec.goals.append(
            Goal(
                "a word added by the CLI (new process) searchable in a running server",
                f"<= {GOAL_SECONDS:.0f} s",
                f"{cli['searchable_seconds']:.1f} s",
                cli["searchable_seconds"] <= GOAL_SECONDS and cli["term_indexed"],
            )
        )
    sugg = w["suggestions"]
    ok = sugg["seconds"] is not None and sugg["suggested"] and sugg["suggested_after_rebuild"]
    sec.goals.append(
        Goal(
            "the added word in the search box's suggestions",
            f"<= {GOAL_SECONDS:.0f} s",
            f"{sugg['seconds']:.1f} s" if ok else "not suggested",
            ok and sugg["seconds"] <= GOAL_SECONDS,
        )
    )
    sugg = rw["suggestions"]
    ok = sugg["seconds"] is not None and not sugg["suggested"]
    sec.goals.append(
        Goal(
            "the removed word no longer suggested (as a dictionary word)",
            f"<= {GOAL_SECONDS:.0f} s",
            f"{sugg['seconds']:.1f} s" if ok else "still suggested",
            ok and sugg["seconds"] <= GOAL_SECONDS,
        )
    )
    if full:
        sec.goals.append(
            Goal(
                "full re-analysis after the edits changes no token",
                "0 documents",
                str(len(differ)),
                not differ,
            )
        )
    sec.data = {
        "documents": n,
        "passages": passages,
        "characters": chars,
        "build_seconds": build_s,
        "build_cached": cached,
        "corpus_analyze_seconds": build.analyze_seconds if build else None,
        "word": w,
        "synonym": s,
        "remove_synonym": rs,
        "remove_word": rw,
        "cli": cli,
        "full_reanalysis_seconds": full_s,
        "full_reanalysis": info,
        "documents_differing_after_full": differ[:20],
        "full_reanalysis_chars_per_s": chars / full_s,
        "full_reanalysis_measured": full,
        "cpu": {"edits": edits_load, "full": full_load},
    }
    return sec


def write(sec: Section, meta: dict, name: str = "lexicon") -> tuple[Path, Path]:
    heading = f"Lexicon edit benchmark ({meta['finished']})"
    return write_results(name, "section", sec, meta, heading, machine_line=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.lexicon", description=__doc__.split("\n")[0])
    p.add_argument("--docs", type=int, default=50_000, help="kdi-epic documents (default 50000)")
    p.add_argument("--keep", type=Path, help="build the data directory here and keep it")
    p.add_argument(
        "--no-full",
        action="store_true",
        help="skip the full re-analysis; estimate it from --rate (characters/s)",
    )
    p.add_argument("--rate", type=float, help="full re-analysis characters/s (with --no-full)")
    p.add_argument("--out", default="lexicon", help="results name under bench/results/")
    args = p.parse_args(argv)
    if args.no_full and not args.rate:
        p.error("--no-full needs --rate (characters/s of a full re-analysis measured before)")
    started = time.perf_counter()
    sec = run(args.docs, args.keep, full=not args.no_full, rate=args.rate)
    sec.seconds = time.perf_counter() - started
    sec.print()
    meta = {
        **command_meta("bench.lexicon", argv),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "seconds": round(sec.seconds, 1),
    }
    json_path, md_path = write(sec, meta, args.out)
    log(f"wrote {json_path} and {md_path}")
    return 0 if all(g.met for g in sec.goals) else 1


if __name__ == "__main__":
    sys.exit(main())
