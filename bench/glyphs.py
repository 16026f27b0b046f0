"""Outline-glyph codebook (ingest.pdf_glyphs) built from the cairo PDFs of public-docs
that have an HWP/HWPX twin, and measured leave-one-document-out.

``python -m bench.glyphs``          measure (each document decoded with a codebook built
                                    from the OTHER documents only) and print the table
``python -m bench.glyphs --write``  also write ingest/data/outline_glyphs.json from all
                                    twins (the codebook ingest uses)

How a codebook is built: the glyph sequence of the PDF (outlines and real text characters
in drawing order) is aligned with the twin's characters (whitespace dropped) by
Levenshtein alignment. Digits, Latin and punctuation are real text on both sides and
anchor it; in the first pass every outline stands for "some syllable", in the next passes
for the syllable voted so far. Each outline key then takes the syllable it was aligned
with most often. From those labelled outlines, EM over the ways each splits into an
initial, a vowel and a final learns which runs of components draw which jamo (36 pieces
for the fallback font of these PDFs); ingest reads any syllable made of known pieces,
seen whole or not.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

from bench.common import SHARED, log

ROOT_CANDIDATES = ("public-docs", "data/public-docs")
PLACEHOLDER = "\x00"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def public_docs() -> Path:
    for c in ROOT_CANDIDATES:
        if (SHARED / c).is_dir():
            return SHARED / c
    return SHARED / ROOT_CANDIDATES[0]


def pairs() -> dict[str, str]:
    from bench.ocr import PAIRS

    return {pdf: twin for pdf, twin in PAIRS.items() if twin}


def load(root: Path, pdf: str, twin: str) -> tuple[list, str]:
    from ingest.extract import extract
    from ingest.pdf_glyphs import read_items

    pages = read_items(root / pdf)
    items = [it for n in sorted(pages) for it in pages[n]]
    text = "\n".join(p.text for p in extract(root / twin).pages)
    return items, re.sub(r"\s+", "", text)


def votes(docs: list[tuple[list, str]], passes: int = 3) -> dict[str, collections.Counter]:
    """Outline key -> Counter of the twin characters it was aligned with."""
    from rapidfuzz.distance import Levenshtein

    best: dict[str, str] = {}
    counts: dict[str, collections.Counter] = {}
    for _ in range(passes):
        counts = collections.defaultdict(collections.Counter)
        for items, text in docs:
            seq = [
                (best.get(it.key, PLACEHOLDER) if it.key else it.text.strip() or " ")
                for it in items
            ]
            ref = [PLACEHOLDER if HANGUL.match(c) and not best else c for c in text]
            for op in Levenshtein.opcodes(seq, ref):
                if (
                    op.tag in ("equal", "replace")
                    and op.src_end - op.src_start == op.dest_end - op.dest_start
                ):
                    for k in range(op.src_end - op.src_start):
                        i, j = op.src_start + k, op.dest_start + k
                        key = items[i].key
                        if key and HANGUL.match(text[j]):
                            counts[key][text[j]] += 1
        best = {k: c.most_common(1)[0][0] for k, c in counts.items()}
    return counts


def build(docs: list[tuple[list, str]]):
    """Codebook from aligned documents: whole outlines and jamo pieces."""
    from ingest.pdf_glyphs import Codebook

    parts_of = {it.key: it.parts for items, _ in docs for it in items if it.key}
    shapes = {
        k: v for items, _ in docs for it in items for k, v in zip(it.parts, it.shapes, strict=True)
    }
    glyphs: dict[str, str] = {}
    samples: list[tuple[tuple[str, ...], str, float]] = []
    for key, c in votes(docs).items():
        ch, n = c.most_common(1)[0]
        if n / sum(c.values()) >= 0.5:
            glyphs[key] = ch
            samples.append((parts_of[key], ch, float(n)))
    jamo = learn_jamo(samples)
    pieces = {p for table in jamo.values() for run in table for p in run.split("+")}
    # whole outlines only of the jamo-composed font (a real font drawn as outlines is
    # left to OCR: its syllables would be read here and there, breaking its lines)
    glyphs = {k: ch for k, ch in glyphs.items() if all(p in pieces for p in parts_of[k])}
    return Codebook(glyphs, jamo, {k: v for k, v in shapes.items() if k in pieces})


def _segmentations(parts: tuple[str, ...], has_final: bool):
    n = len(parts)
    for i in range(1, n):
        for k in range(i + 1, n + 1):
            if has_final == (k < n):
                yield "+".join(parts[:i]), "+".join(parts[i:k]), "+".join(parts[k:])


def learn_jamo(samples, rounds: int = 5) -> dict[str, dict[str, tuple[int, float]]]:
    """Which runs of components draw which jamo: EM over the ways each labelled outline
    splits into initial, vowel and final (all splits alike at first, then weighted by
    how often each piece recurs with the same jamo elsewhere)."""
    weight: dict[tuple[str, int, str], float] = {}
    for r in range(rounds):
        total: dict[tuple[str, int], float] = collections.defaultdict(float)
        for (role, jamo, _), w in weight.items():
            total[role, jamo] += w

        def p(role: str, jamo: int, seg: str, weight=weight, total=total) -> float:  # noqa: ANN001
            return (weight.get((role, jamo, seg), 0.0) + 0.01) / (total[role, jamo] + 1.0)

        new: dict[tuple[str, int, str], float] = collections.defaultdict(float)
        for parts, ch, n in samples:
            code = ord(ch) - 0xAC00
            c, v, j = code // 588, (code % 588) // 28, code % 28
            segs = list(_segmentations(parts, j > 0))
            if not segs:
                continue
            if r == 0:
                scores = [1.0] * len(segs)
            else:
                scores = [
                    p("cho", c, a) * p("jung", v, b) * (p("jong", j, d) if j else 1.0)
                    for a, b, d in segs
                ]
            z = sum(scores)
            for (a, b, d), s in zip(segs, scores, strict=True):
                new["cho", c, a] += n * s / z
                new["jung", v, b] += n * s / z
                if j:
                    new["jong", j, d] += n * s / z
        weight = new
    total = collections.defaultdict(float)
    for (role, jamo, _), w in weight.items():
        total[role, jamo] += w
    tables: dict[str, dict[str, tuple[int, float]]] = {"cho": {}, "jung": {}, "jong": {}}
    for (role, jamo, seg), w in weight.items():
        share = w / total[role, jamo]
        if w < 1.0 or share < 0.1:
            continue
        old = tables[role].get(seg)
        if old is None or share > old[1]:
            tables[role][seg] = (jamo, share)
    # a consonant never seen as a final is drawn like the initial (true of every
    # consonant seen in both places)
    finals = {jamo for jamo, _ in tables["jong"].values()}
    for seg, (c, share) in list(tables["cho"].items()):
        j = CHO_TO_JONG.get(c)
        if j is not None and j not in finals and seg not in tables["jong"]:
            tables["jong"][seg] = (j, share / 2)
    return tables


# initial index -> final index of the same consonant (ㄸ ㅃ ㅉ are never finals)
CHO_TO_JONG = {
    0: 1,
    1: 2,
    2: 4,
    3: 7,
    5: 8,
    6: 16,
    7: 17,
    9: 19,
    10: 20,
    11: 21,
    12: 22,
    14: 23,
    15: 24,
    16: 25,
    17: 26,
    18: 27,
}


def accuracy(items: list, text: str, book: dict[str, str]) -> tuple[float, int, int, str]:
    from bench.ocr import hangul_accuracy
    from ingest.pdf_glyphs import decode

    page = decode(items, book)
    return hangul_accuracy(page.filled(), text), page.known, page.unknown, page.filled()


def main(argv: list[str]) -> int:
    root = public_docs()
    data = {pdf: load(root, pdf, twin) for pdf, twin in pairs().items()}
    # the -hwp and -hwpx PDFs of one document are left out together
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for pdf, (_, text) in data.items():
        groups[text].append(pdf)
    rows = []
    for members in groups.values():
        book = build([d for p, d in data.items() if p not in members])
        for pdf in members:
            acc, known, unknown, _ = accuracy(*data[pdf], book)
            rows.append((pdf, acc, known, unknown))
            log(f"  {Path(pdf).name[:50]}: {acc:.3f} ({known} decoded, {unknown} unknown)")
    mean = sum(r[1] for r in rows) / len(rows)
    print(f"leave-one-document-out mean Hangul accuracy {mean:.3f}")
    if "--write" in argv:
        from ingest.pdf_glyphs import CODEBOOK

        book = build(list(data.values()))
        CODEBOOK.parent.mkdir(parents=True, exist_ok=True)
        data = {"about": "built by python -m bench.glyphs --write", **book.to_json()}
        CODEBOOK.write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")
        print(f"wrote {CODEBOOK} ({len(book.glyphs)} glyphs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
