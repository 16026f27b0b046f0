"""Repeated text below the passage level, and whether Kiwi may skip it (issue 18, item 3).

    python -m bench.ingest_repeats [--no-context]

For three corpora (the ingest benchmark's: public-docs full texts + 1,500 kdi-epic ministry
materials; the public-docs full texts alone; every kdi-epic ministry material), cut into
passages as ingest cuts them: the share of characters in passages, paragraphs, lines and
sentences that occur more than once, and the share a cache could skip (every occurrence
after the first), counted after the passage-level repeats ingest already analyses once.

Then, on the benchmark corpus (distinct passages), whether analysing a paragraph or a line
alone gives the same primary terms (term, tag, offsets re-based) as analysing it inside
its passage: only then may a cache below the passage level stand in for Kiwi. Results go to
bench/results/ingest-repeats.{json,md}.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402

from bench.common import Section, Table, command_meta, log, stopwatch, write_results  # noqa: E402

_LINE_RE = re.compile(r"[^\n]+")
_PARA_RE = re.compile(r"(?:[^\n]|\n(?!\s*\n))+")  # up to a blank line


def _lines(p: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in _LINE_RE.finditer(p) if m.group().strip()]


def _paragraphs(p: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in _PARA_RE.finditer(p) if m.group().strip()]


def _sentences(p: str) -> list[tuple[int, str]]:
    from ingest.passages import _SENTENCE_END_RE

    out = []
    for start, line in _lines(p):
        at = 0
        for part in _SENTENCE_END_RE.split(line):
            i = line.index(part, at)
            if part.strip():
                out.append((start + i, part))
            at = i + len(part)
    return out


UNITS: dict[str, Callable[[str], list[tuple[int, str]]]] = {
    "paragraphs": _paragraphs,
    "lines": _lines,
    "sentences": _sentences,
}


def corpora() -> dict[str, list[str]]:
    from bench.common import load_kdi_rows
    from bench.ingest import DEFAULT_KDI, _public_texts
    from ingest.normalize import normalize

    public = [normalize(t) for _, t in sorted(_public_texts().items())]
    rows = [r for r in load_kdi_rows() if r.kind == "epic" and len(r.summary) >= 200]

    def kdi(r) -> str:  # as bench.ingest writes each file
        header = "\n".join(x for x in (r.title, r.date or "", r.publisher) if x)
        return normalize(f"{header}\n\n{r.summary}\n")

    return {
        f"benchmark corpus ({len(public)} public-docs + {DEFAULT_KDI} kdi-epic)": public
        + [kdi(r) for r in rows[:DEFAULT_KDI]],
        f"public-docs full texts ({len(public)})": public,
        f"kdi-epic ministry materials, all ({len(rows)})": [kdi(r) for r in rows],
    }


def _passages(texts: list[str]) -> list[str]:
    from ingest.passages import split_passages

    return [p.text for t in texts for p in split_passages([(None, t)])]


def _skippable(units: list[list[str]]) -> tuple[int, int]:
    """(characters in units occurring more than once, characters after the first)."""
    counts = Counter(u.strip() for us in units for u in us)
    repeated = sum(len(u) * n for u, n in counts.items() if n > 1)
    return repeated, sum(len(u) * (n - 1) for u, n in counts.items() if n > 1)


def repetition(name: str, texts: list[str], table: Table) -> dict:
    passages = _passages(texts)
    total = sum(map(len, passages))
    distinct = list(dict.fromkeys(passages))
    out = {"texts": len(texts), "passages": len(passages), "chars": total}
    once = total - sum(map(len, distinct))
    table.add(name, f"{total:,}", "passages", "", f"{once / total:.1%}")
    out["passages_skippable"] = once / total
    for unit, cut in UNITS.items():
        repeated, after_first = _skippable([[u for _, u in cut(p)] for p in distinct])
        table.add(name, f"{total:,}", unit, f"{repeated / total:.1%}", f"{after_first / total:.1%}")
        out[unit] = {"repeated": repeated / total, "skippable": after_first / total}
    return out


def context(passages: list[str], table: Table) -> dict:
    """Primary terms of each unit analysed alone (offsets re-based) against the passage's."""
    from analyzers.kiwi import MATCH_OPTIONS, _prims, _threaded_kiwi, get_analyzer

    analyzer = get_analyzer()
    kiwi = _threaded_kiwi(analyzer.lexicon, 2)

    def terms(texts: list[str]) -> list[list[tuple]]:
        results = kiwi.tokenize(iter(texts), match_options=MATCH_OPTIONS)
        return [
            [(p.term, p.tag, p.start, p.end) for p in _prims(t, morphs, analyzer._split)]
            for t, morphs in zip(texts, results, strict=True)
        ]

    whole = terms(passages)
    out = {}
    for unit in ("paragraphs", "lines"):
        owners, units = [], []
        for k, p in enumerate(passages):
            for start, u in UNITS[unit](p):
                owners.append((k, start))
                units.append(u)
        rebuilt: list[list[tuple]] = [[] for _ in passages]
        counts = Counter(u.strip() for u in units)
        repeated = wrong = 0  # occurrences of repeated units; those a cache would get wrong
        for (k, start), u, ts in zip(owners, units, terms(units), strict=True):
            rebuilt[k].extend((t, tag, s + start, e + start) for t, tag, s, e in ts)
            if counts[u.strip()] > 1:
                repeated += 1
                end = start + len(u)
                inside = [
                    (t, tag, s - start, e - start) for t, tag, s, e in whole[k] if start <= s < end
                ]
                wrong += inside != ts
        differ = [k for k in range(len(passages)) if rebuilt[k] != whole[k]]
        chars = sum(len(passages[k]) for k in differ)
        total = sum(map(len, passages))
        table.add(
            unit,
            f"{len(units):,}",
            f"{len(differ):,} of {len(passages):,} ({len(differ) / len(passages):.0%})",
            f"{chars / total:.0%}",
            f"{wrong:,} of {repeated:,} ({wrong / max(1, repeated):.1%})",
        )
        out[unit] = {
            "units": len(units),
            "passages_differing": len(differ),
            "chars": chars,
            "repeated_occurrences": repeated,
            "repeated_occurrences_differing": wrong,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest_repeats", description=__doc__)
    p.add_argument("--no-context", action="store_true", help="only the repetition shares")
    args = p.parse_args(argv)
    sec = Section("ingest-repeats")
    with stopwatch() as t:
        shares = Table(
            "Repeated text (share of the corpus's characters; units counted within distinct "
            "passages)",
            ["corpus", "characters", "unit", "in repeated units", "skippable (after first)"],
            notes=[
                "passages: repeats ingest already analyses once (the analysis cache and the "
                "run's own); the other units are counted after those.",
            ],
        )
        data: dict = {}
        sets = corpora()
        for name, texts in sets.items():
            data[name] = repetition(name, texts, shares)
            log(f"repeats: {name} done")
        sec.tables.append(shares)
        if not args.no_context:
            alone = Table(
                "Kiwi's context crosses unit boundaries: benchmark corpus, distinct passages, "
                "primary terms (term, tag, offsets) of each unit analysed alone vs inside "
                "its passage",
                [
                    "unit",
                    "units",
                    "passages whose terms differ",
                    "their share of characters",
                    "occurrences of repeated units whose terms differ",
                ],
                notes=["A unit cache is exact only if no passage differs."],
            )
            bench_texts = next(iter(sets.values()))
            data["context"] = context(list(dict.fromkeys(_passages(bench_texts))), alone)
            sec.tables.append(alone)
    sec.data = data
    sec.seconds = t[0]
    sec.print()
    meta = {
        **command_meta("bench.ingest_repeats", argv),
        "seconds": t[0],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    heading = f"Repeated text below the passage level ({meta['time']})"
    paths = write_results("ingest-repeats", "ingest_repeats", sec, meta, heading)
    log(f"wrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
