"""OCR: every no-Hangul PDF of public-docs read as ingest reads it (Hangul outlines via
ingest.pdf_glyphs, then Tesseract via ingest.ocr for what is left) and compared with its
HWP/HWPX twin: Hangul character accuracy 1 - CER over the Hangul characters (whitespace
and everything else dropped), pages/s. Output: bench/results/ocr.{json,md}
(``python -m bench --only ocr``)."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, Goal, Section, Table, log

HANGUL = re.compile(r"[\uac00-\ud7a3]")
# no-Hangul PDF -> its twin (SOURCE.md: same document as HWP/HWPX)
PAIRS = {
    "pdf/issue2020/(250813) (보도자료) 2025년 7월중 가계대출 동향-hwp-2022.pdf": "samples/issue2020/(250813) (보도자료) 2025년 7월중 가계대출 동향.hwp",
    "pdf/issue2020/(250813) (보도자료) 2025년 7월중 가계대출 동향-hwpx-2022.pdf": "samples/issue2020/(250813) (보도자료) 2025년 7월중 가계대출 동향.hwpx",
    "pdf/issue2020/passport_application_lawgo-2022.pdf": "samples/issue2020/passport_application_lawgo.hwp",
    "pdf/task2097/1741000_project_application-2020.pdf": "samples/task2097/1741000_project_application.hwp",
    "pdf/task2097/21298295_byeolpyo5_disaster-2020.pdf": "samples/task2097/21298295_byeolpyo5_disaster.hwp",
    "pdf/task2137/156618554_petfood_press-2020.pdf": "samples/task2137/156618554_petfood_press.hwp",
    "pdf/task2243/36382819_gyeoljae_pm_traffic-2020.pdf": "samples/task2243/36382819_gyeoljae_pm_traffic.hwpx",
    "pdf/task2243/36386907_gyeoljae_sewoon-2020.pdf": "samples/task2243/36386907_gyeoljae_sewoon.hwpx",
    "pdf/task2243/36395325_gyeoljae_consulting-2020.pdf": "samples/task2243/36395325_gyeoljae_consulting.hwpx",
    "pdf/issue2020/niklp_2022_workplan-2022.pdf": None,  # no twin in the snapshot
}


def hangul_accuracy(ocr_text: str, reference: str) -> float:
    """1 - CER over the Hangul characters of both texts."""
    from rapidfuzz.distance import Levenshtein

    hyp = "".join(HANGUL.findall(ocr_text))
    ref = "".join(HANGUL.findall(reference))
    if not ref:
        return 0.0
    return max(0.0, 1 - Levenshtein.distance(hyp, ref) / len(ref))


def order_free_recall(ocr_text: str, reference: str) -> float:
    """Share of the reference's Hangul characters found in the text, in any order (a
    diagnostic: 1 - CER also counts a table read row by row instead of cell by cell)."""
    import collections

    hyp = collections.Counter(HANGUL.findall(ocr_text))
    ref = collections.Counter(HANGUL.findall(reference))
    return sum((hyp & ref).values()) / sum(ref.values()) if ref else 0.0


def run(quick: bool = False) -> Section:
    """Each cairo PDF read as ingest reads it (``extract(ocr="auto")``: outlines, then
    Tesseract for what is left), with the shipped codebook, and again with a codebook
    built WITHOUT that document (leave-one-document-out: the figure for unseen
    documents). Tesseract's cache is a fresh temporary folder, so OCR really runs."""
    import collections
    import os

    from bench import glyphs
    from ingest import ocr, pdf_glyphs
    from ingest.extract import extract

    root = glyphs.public_docs()
    version = ocr.check_tesseract()
    sec = Section("OCR")
    table = Table(
        f"PDFs without a Hangul text layer vs their HWP/HWPX twins (outline codebook, then "
        f"Tesseract {version} {ocr.LANG} psm {ocr.REGION_PSM} at {ocr.REGION_DPI} DPI on "
        "the runs left)",
        [
            "file",
            "pages",
            "s",
            "pages/s",
            "Hangul",
            "OCR conf.",
            "accuracy",
            "unseen-doc accuracy",
            "order-free recall",
        ],
    )
    pairs = list(PAIRS.items())[:3] if quick else list(PAIRS.items())
    twins = {pdf: glyphs.load(root, pdf, twin) for pdf, twin in pairs if twin}
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for pdf, (_, text) in twins.items():
        groups[text].append(pdf)
    rows, total_pages, total_s = [], 0, 0.0
    shipped = pdf_glyphs.codebook
    with tempfile.TemporaryDirectory() as cache:
        os.environ["POLICYKB_OCR_CACHE"] = cache  # measure Tesseract, not the cache
        for pdf, twin in pairs:
            t = time.perf_counter()
            ex = extract(root / pdf, ocr="auto")
            dt = time.perf_counter() - t
            text = "\n".join(p.text for p in ex.pages)
            confs = [p.ocr_confidence for p in ex.pages if p.ocr_confidence is not None]
            ref = twins[pdf][1] if twin else None
            acc = hangul_accuracy(text, ref) if ref else None
            recall = order_free_recall(text, ref) if ref else None
            unseen = None
            if ref:
                others = [d for p, d in twins.items() if p not in groups[ref]]
                book = glyphs.build(others)
                pdf_glyphs.codebook = lambda book=book: book
                try:
                    held = extract(root / pdf, ocr="auto")
                finally:
                    pdf_glyphs.codebook = shipped
                unseen = hangul_accuracy("\n".join(p.text for p in held.pages), ref)
            n = len(ex.pages)
            total_pages += n
            total_s += dt
            conf = sum(confs) / len(confs) if confs else None
            hangul = len(HANGUL.findall(text))
            rows.append(
                {
                    "file": pdf,
                    "pages": n,
                    "seconds": dt,
                    "hangul": hangul,
                    "ocr_pages": len(confs),
                    "confidence": conf,
                    "accuracy": acc,
                    "unseen_doc_accuracy": unseen,
                    "order_free_recall": recall,
                    "twin": twin,
                }
            )
            table.add(
                Path(pdf).name[:48],
                n,
                f"{dt:.1f}",
                f"{n / dt:.3f}",
                hangul,
                "-" if conf is None else f"{conf:.1f}",
                "-" if acc is None else f"{acc:.3f}",
                "-" if unseen is None else f"{unseen:.3f}",
                "-" if recall is None else f"{recall:.3f}",
            )
            log(f"  {pdf}: {n} pages {dt:.1f}s acc {acc} unseen {unseen}")
    accs = [r["accuracy"] for r in rows if r["accuracy"] is not None]
    held = [r["unseen_doc_accuracy"] for r in rows if r["unseen_doc_accuracy"] is not None]
    mean = sum(accs) / len(accs) if accs else 0.0
    mean_unseen = sum(held) / len(held) if held else 0.0
    table.notes.append(
        f"mean accuracy {mean:.3f} over {len(accs)} twins (shipped codebook, built from these "
        f"twins); {mean_unseen:.3f} when each document is left out of the codebook; "
        f"{total_pages / total_s:.3f} pages/s (2 shared cores)"
    )
    table.notes.append(
        "accuracy: 1 - CER over the Hangul characters of the whole document against the "
        "twin's text (bench.ocr.hangul_accuracy), the issue's measure; order-free recall "
        "shows how much of the rest is reading order (whole-page OCR reads tables row by "
        "row, the twin cell by cell); whole-page Tesseract (150 DPI, psm 11) scored 0.376 "
        "on average at 0.088 pages/s in the previous session"
    )
    sec.tables.append(table)
    sec.goals.append(
        Goal(
            "every no-Hangul PDF yields Hangul",
            "all",
            f"{sum(r['hangul'] > 0 for r in rows)}/{len(rows)}",
            all(r["hangul"] > 0 for r in rows),
        )
    )
    sec.goals.append(
        Goal("OCR Hangul accuracy vs twins (mean)", ">= 0.90", f"{mean:.3f}", mean >= 0.90)
    )
    sec.goals.append(
        Goal(
            "same, each document left out of the codebook",
            ">= 0.90",
            f"{mean_unseen:.3f}",
            mean_unseen >= 0.90,
        )
    )
    sec.data = {
        "files": rows,
        "mean_accuracy": mean,
        "mean_unseen_doc_accuracy": mean_unseen,
        "pages_per_second": total_pages / total_s,
        "region_dpi": ocr.REGION_DPI,
        "region_psm": ocr.REGION_PSM,
        "page_dpi": ocr.DEFAULT_DPI,
        "page_psm": ocr.PSM,
        "lang": ocr.LANG,
        "tesseract": version,
    }
    return sec


def write(sec: Section) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    jp, mp = RESULTS / "ocr.json", RESULTS / "ocr.md"
    jp.write_text(json.dumps(sec.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    md = [
        "# OCR benchmark",
        "",
        *(t.markdown() for t in sec.tables),
        "",
        *("- " + g.line() for g in sec.goals),
        "",
    ]
    mp.write_text("\n".join(md), encoding="utf-8")
    return jp, mp


if __name__ == "__main__":
    s = run()
    s.print()
    print(write(s))
