"""OCR of PDF pages with Tesseract (Debian packages tesseract-ocr + tesseract-ocr-kor)
through pytesseract; pages are rendered with PDFium (pypdfium2).

Used by ingest.extract for pages whose text layer has no usable Hangul (fonts without a
ToUnicode map) and for image-only pages. Results are cached on disk by the file's hash
and the OCR settings, so re-ingesting or re-indexing never runs Tesseract twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

# Whole-page DPI: 150 (see PSM below; 300 DPI is no better and 1.6x slower).
DEFAULT_DPI = 150
LANG = "kor"
# Whole pages are OCR'd only when their outlines are not the fallback font that
# ingest.pdf_glyphs reads (real fonts drawn as outlines, scans). On the one such twin
# (byeolpyo5_disaster, a serif font): psm 6 0.730 at 150 DPI (12.5 s), psm 11 0.704
# (17.5 s); at 300 DPI psm 6 0.725 (20.2 s), psm 4 0.708, psm 11 0.682, psm 3 0.081.
PSM = 6
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# a table rule read as a word (|, ㅣ): never text on its own
BORDER = re.compile(r"^[|\u3163\u2502]+$")
MISSING_MESSAGE = (
    "OCR에 필요한 Tesseract가 설치되어 있지 않습니다 (Debian: apt-get install tesseract-ocr "
    "tesseract-ocr-kor). 텍스트 레이어가 없는 PDF는 읽을 수 없습니다. POLICYKB_OCR=off로 끌 수 "
    "있습니다."
)


class OcrUnavailable(RuntimeError):
    """Tesseract, its Korean data or pytesseract is missing."""


@dataclass(slots=True)
class OcrPage:
    number: int
    text: str
    confidence: float | None  # mean word confidence reported by Tesseract, 0-100 (None: no OCR)


@lru_cache(maxsize=1)
def check_tesseract() -> str:
    """Tesseract's version; OcrUnavailable with a Korean message when anything is missing."""
    if shutil.which("tesseract") is None:
        raise OcrUnavailable(MISSING_MESSAGE)
    try:
        import pytesseract
    except ImportError as exc:
        raise OcrUnavailable(MISSING_MESSAGE + " (pytesseract 패키지 없음)") from exc
    langs = set(pytesseract.get_languages(config=""))
    if "kor" not in langs:
        raise OcrUnavailable(MISSING_MESSAGE + " (한국어 데이터 kor 없음)")
    return str(pytesseract.get_tesseract_version())


def available() -> bool:
    try:
        check_tesseract()
        return True
    except OcrUnavailable:
        return False


def settings_key(dpi: int = DEFAULT_DPI) -> str:
    return f"tesseract-{check_tesseract()}|{LANG}|psm{PSM}|dpi{dpi}|joined-syllables|no-rules"


def cache_dir() -> Path:
    """``$POLICYKB_DATA_DIR/ocr-cache`` (or ``POLICYKB_OCR_CACHE``)."""
    explicit = os.environ.get("POLICYKB_OCR_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("POLICYKB_DATA_DIR", "./data")) / "ocr-cache"


def _cache_path(root: Path, file_hash: str, key: str, page: int) -> Path:
    k = hashlib.sha256(key.encode()).hexdigest()[:12]
    return root / file_hash[:2] / f"{file_hash}-{k}-p{page}.json"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ocr_pdf_pages(
    path: Path, numbers: list[int], dpi: int = DEFAULT_DPI, cache: Path | None = None
) -> list[OcrPage]:
    """OCR of the 1-based ``numbers`` pages of a PDF, from the cache (``cache`` or
    :func:`cache_dir`) when it has them."""
    root = cache or cache_dir()
    import pypdfium2 as pdfium
    import pytesseract

    key = settings_key(dpi)
    file_hash = file_sha256(path)
    out: list[OcrPage] = []
    doc = None
    try:
        for n, number in enumerate(numbers, start=1):
            cached = _cache_path(root, file_hash, key, number)
            if cached.is_file():
                data = json.loads(cached.read_text(encoding="utf-8"))
                out.append(OcrPage(number, data["text"], data["confidence"]))
                continue
            if doc is None:
                doc = pdfium.PdfDocument(str(path))
            image = doc[number - 1].render(scale=dpi / 72, grayscale=True).to_pil()
            page = _recognize(pytesseract, image, number)
            log.info(
                "OCR %s p.%d (%d/%d): %d자, 신뢰도 %.1f",
                path.name,
                number,
                n,
                len(numbers),
                len(page.text),
                page.confidence,
            )
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(".tmp")
                tmp.write_text(
                    json.dumps({"text": page.text, "confidence": page.confidence}),
                    encoding="utf-8",
                )
                tmp.replace(cached)
            except OSError as exc:  # a read-only data dir only loses the cache
                log.warning("OCR cache not written (%s): %s", cached, exc)
            out.append(page)
    finally:
        if doc is not None:
            doc.close()
    return out


def _recognize(pytesseract, image, number: int) -> OcrPage:
    """Text in reading order (blocks and lines as Tesseract found them) and the mean
    confidence of its words."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    confs: list[float] = []
    for w in _words(pytesseract, image, PSM):
        lines.setdefault((w.block, w.par, w.line), []).append(w.text)
        confs.append(w.conf)
    text_lines, last_block = [], None
    for key in sorted(lines):
        if last_block is not None and key[0] != last_block:
            text_lines.append("")
        text_lines.append(join_syllables(lines[key]))
        last_block = key[0]
    return OcrPage(number, "\n".join(text_lines), _mean_confidence(confs))


class _Word(NamedTuple):
    text: str
    conf: float
    block: int
    par: int
    line: int
    left: int
    top: int
    height: int


def _words(pytesseract, image, psm: int) -> Iterator[_Word]:
    """The words Tesseract reads in ``image`` (page segmentation mode ``psm``), without
    empty boxes, rejected ones (confidence < 0) and table rules read as words."""
    data = pytesseract.image_to_data(
        image, lang=LANG, config=f"--psm {psm}", output_type=pytesseract.Output.DICT
    )
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0 or BORDER.match(word):
            continue
        yield _Word(
            word,
            conf,
            *(data[k][i] for k in ("block_num", "par_num", "line_num", "left", "top", "height")),
        )


def _mean_confidence(confs: list[float]) -> float:
    return round(sum(confs) / len(confs), 1) if confs else 0.0


_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")


def join_syllables(words: list[str]) -> str:
    """Tesseract's Korean model often returns one syllable per word (농 식 품 부); runs of
    single syllables are joined back (농식품부) so the words can be searched."""
    out: list[str] = []
    run = ""
    for w in words:
        if len(w) == 1 and _SYLLABLE.match(w):
            run += w
            continue
        if run:
            out.append(run)
            run = ""
        out.append(w)
    if run:
        out.append(run)
    return " ".join(out)


def needs_ocr(text: str) -> bool:
    """A page whose text layer has no usable Hangul: empty, or Latin/digit garbage from
    fonts without a ToUnicode map."""
    return len(HANGUL.findall(text)) < 5


__all__ = [
    "DEFAULT_DPI",
    "MISSING_MESSAGE",
    "OcrPage",
    "OcrUnavailable",
    "available",
    "check_tesseract",
    "needs_ocr",
    "ocr_pdf_pages",
    "ocr_regions",
    "settings_key",
]


REGION_DPI = 300  # the unread runs are small (one line each): read finer than whole pages
REGION_PSM = 6


def ocr_regions(
    path: Path,
    number: int,
    boxes: list[tuple[float, float, float, float]],
    cache: Path | None = None,
) -> tuple[list[str], float]:
    """Tesseract's text for each box (PDF units, y upwards) of page ``number`` and the
    mean word confidence. The boxes are cut out of one rendering at REGION_DPI and
    stacked into a single image, so a page costs one Tesseract run however many boxes
    it has. Cached like :func:`ocr_pdf_pages`."""
    if not boxes:
        return [], 0.0
    import pypdfium2 as pdfium
    import pytesseract
    from PIL import Image

    key = f"{settings_key()}|regions|dpi{REGION_DPI}|psm{REGION_PSM}|" + ";".join(
        ",".join(f"{v:.1f}" for v in b) for b in boxes
    )
    cached = _cache_path(cache or cache_dir(), file_sha256(path), key, number)
    if cached.is_file():
        data = json.loads(cached.read_text(encoding="utf-8"))
        return data["texts"], data["confidence"]
    scale = REGION_DPI / 72
    doc = pdfium.PdfDocument(str(path))
    try:
        page = doc[number - 1]
        height = page.get_height()
        image = page.render(scale=scale, grayscale=True).to_pil()
    finally:
        doc.close()
    gap, pad = 24, 6
    crops, spans = [], []
    y = gap
    for x0, y0, x1, y1 in boxes:
        box = (
            max(0, int(x0 * scale) - pad),
            max(0, int((height - y1) * scale) - pad),
            min(image.width, int(x1 * scale) + pad),
            min(image.height, int((height - y0) * scale) + pad),
        )
        crop = image.crop(box)
        crops.append((crop, y))
        spans.append((y, y + crop.height))
        y += crop.height + gap
    sheet = Image.new("L", (max(c.width for c, _ in crops) + 2 * gap, y), 255)
    for crop, top in crops:
        sheet.paste(crop, (gap, top))
    words: list[list[tuple[int, str]]] = [[] for _ in boxes]
    confs: list[float] = []
    for w in _words(pytesseract, sheet, REGION_PSM):
        mid = w.top + w.height / 2
        for n, (a, b) in enumerate(spans):
            if a - gap / 2 <= mid <= b + gap / 2:
                words[n].append((w.left, w.text))
                confs.append(w.conf)
                break
    texts = [join_syllables([w for _, w in sorted(ws)]) for ws in words]
    confidence = _mean_confidence(confs)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"texts": texts, "confidence": confidence}), encoding="utf-8")
    except OSError as exc:
        log.warning("OCR cache not written (%s): %s", cached, exc)
    return texts, confidence
