"""Hangul drawn as outlines: text read back from PDFs whose Hangul glyphs are filled
paths, not text.

The cairo 1.18 PDFs of public-docs (made by an HWP renderer without a Korean font) have no
Hangul in their text layer: each syllable is one filled path composed of jamo pieces,
and only digits, Latin and punctuation are real text (DejaVu with a ToUnicode map).
Tesseract reads those jamo-composed shapes badly (0.376 Hangul accuracy on average).

Each piece (a closed outline with its holes) is reduced to a key that ignores position
and scale (its points normalized to its own box, quantized). A syllable is its pieces in
drawing order: initial, vowel, final. The codebook (``ingest/data/outline_glyphs.json``,
built by ``python -m bench.glyphs --write`` from the PDFs that have an HWP/HWPX twin)
holds the runs of pieces that draw each jamo (36 pieces), their outlines (for pieces
drawn slightly otherwise: bold, another size) and whole syllables seen in the twins.
Lines still unread (another font drawn as outlines) are cut out for Tesseract
(ingest.ocr.ocr_regions); pages mostly unread are OCR'd whole.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ingest.ocr import OcrPage

log = logging.getLogger(__name__)

CODEBOOK = Path(__file__).parent / "data" / "outline_glyphs.json"
QUANT = 4  # grid of a component's own coordinates (1/4 of its box)
MAX_GLYPH = 60.0  # points; larger fills are drawings, not glyphs
MAX_COMPONENTS = 12
# a page with more unread outlines than this is in another font drawn as outlines (the
# serif byeolpyo5_disaster: 0.7); it is OCR'd whole. Below it (niklp pages with gothic
# tables: up to 0.54) the outline lines stay and the other lines are OCR'd.
MAX_UNKNOWN_SHARE = 0.6
MAX_COMBOS = 64  # near-piece combinations tried for one unread outline
LEVEL = 0.9  # vertical overlap (share of the smaller run) of two runs of one line (0.5: passport 0.951, 0.9: 0.990)

Box = tuple[float, float, float, float]


@dataclass(slots=True)
class Item:
    """One thing drawn on a page, in drawing order: a filled outline (``key`` set, ``text``
    empty until decoded) or a text character (``text`` set)."""

    box: Box  # x0, y0, x1, y1 in PDF units (y upwards)
    text: str = ""
    key: str | None = None
    parts: tuple[str, ...] = ()  # component keys, in drawing order
    shapes: tuple[tuple[float, ...], ...] = ()  # each component's normalized outline

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def _bbox(points: list[tuple[float, float]]) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _inside(inner: Box, outer: Box) -> bool:
    eps = 1e-6
    return (
        outer[0] <= inner[0] + eps
        and outer[1] <= inner[1] + eps
        and outer[2] >= inner[2] - eps
        and outer[3] >= inner[3] - eps
        and (outer[2] - outer[0]) * (outer[3] - outer[1])
        > (inner[2] - inner[0]) * (inner[3] - inner[1])
    )


Shape = tuple[str, tuple[str, ...], tuple[tuple[float, ...], ...]]


def shape_key(subpaths: list[list[tuple[float, float]]]) -> Shape | None:
    """Scale- and translation-free key of a filled outline and the keys of its components
    and their normalized outlines (None when it is too large or complex to be a glyph,
    or a plain rectangle)."""
    boxes = [_bbox(s) for s in subpaths]
    glyph = _bbox([p for s in subpaths for p in s])
    gw, gh = glyph[2] - glyph[0], glyph[3] - glyph[1]
    if gw <= 0 or gh <= 0 or gw > MAX_GLYPH or gh > MAX_GLYPH or len(subpaths) > MAX_COMPONENTS:
        return None
    if len(subpaths) == 1 and len(subpaths[0]) <= 5:
        return None  # a rectangle: rules, shading, gradients; a syllable has 2+ parts
    parent: list[int | None] = [None] * len(subpaths)
    for i, b in enumerate(boxes):
        for j, c in enumerate(boxes):
            if i != j and _inside(b, c):
                parent[i] = j
                break
    parts: list[str] = []
    shapes: list[tuple[float, ...]] = []
    placed: list[str] = []
    size = max(gw, gh)
    for i, outer in enumerate(subpaths):
        if parent[i] is not None:
            continue
        x0, y0, x1, y1 = boxes[i]
        w, h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
        # the component's own shape (a jamo piece looks the same in every syllable)
        holes = [boxes[k] for k in range(len(subpaths)) if parent[k] == i]
        vec = [float(len(outer)), float(len(holes)), math.log(w / h)]
        for x, y in outer:
            vec += [(x - x0) / w, (y - y0) / h]
        for hx0, hy0, hx1, hy1 in holes:
            vec += [(hx0 - x0) / w, (hy0 - y0) / h, (hx1 - x0) / w, (hy1 - y0) / h]
        part = _digest(",".join(str(round(v * QUANT)) for v in vec))
        parts.append(part)
        shapes.append(tuple(round(v, 3) for v in vec))
        # and its place in the glyph, for the whole-glyph key
        placed.append(
            f"{part}@{round((x0 - glyph[0]) / size * 12)},{round((glyph[3] - y1) / size * 12)}"
        )
    return _digest("|".join(placed)), tuple(parts), tuple(shapes)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def read_items(path: Path, pages: list[int] | None = None) -> dict[int, list[Item]]:
    """Filled outlines and text characters of each page (1-based numbers; all pages when
    ``pages`` is None), in drawing order."""
    from pdfminer.converter import PDFLayoutAnalyzer
    from pdfminer.layout import LTChar
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.utils import apply_matrix_pt

    class Collector(PDFLayoutAnalyzer):
        def __init__(self, rsrc: PDFResourceManager) -> None:
            super().__init__(rsrc, laparams=None)
            self.items: list[Item] = []

        def paint_path(self, gstate, stroke, fill, evenodd, path) -> None:  # noqa: ANN001
            if not fill:
                return
            subs: list[list[tuple[float, float]]] = []
            cur: list[tuple[float, float]] = []
            for seg in path:
                if seg[0] == "m":
                    if len(cur) > 1:
                        subs.append(cur)
                    cur = [apply_matrix_pt(self.ctm, seg[1:3])]
                elif seg[0] in ("l", "c", "v", "y"):
                    cur.append(apply_matrix_pt(self.ctm, seg[-2:]))
            if len(cur) > 1:
                subs.append(cur)
            if not subs:
                return
            shape = shape_key(subs)
            if shape is not None:
                box = _bbox([p for s in subs for p in s])
                self.items.append(Item(box, key=shape[0], parts=shape[1], shapes=shape[2]))

        def render_char(self, *args, **kwargs) -> float:  # noqa: ANN002, ANN003
            adv = super().render_char(*args, **kwargs)
            objs = self.cur_item._objs
            if objs and isinstance(objs[-1], LTChar):
                ch = objs[-1]
                text = ch.get_text()
                if text.strip():
                    self.items.append(Item((ch.x0, ch.y0, ch.x1, ch.y1), text=text))
            return adv

        def receive_layout(self, ltpage) -> None:  # noqa: ANN001
            pass

    wanted = set(pages) if pages else None
    out: dict[int, list[Item]] = {}
    rsrc = PDFResourceManager()
    with path.open("rb") as fh:
        for number, page in enumerate(PDFPage.get_pages(fh), start=1):
            if wanted is not None and number not in wanted:
                continue
            dev = Collector(rsrc)
            PDFPageInterpreter(rsrc, dev).process_page(page)
            out[number] = dev.items
    return out


ROLES = ("cho", "jung", "jong")


@dataclass(slots=True)
class Codebook:
    """Whole outlines (key -> syllable) and jamo pieces: for each role, a run of component
    keys joined by '+' -> (jamo index, weight). Syllables never seen whole are read by
    splitting their components into an initial, a vowel and an optional final."""

    glyphs: dict[str, str]
    jamo: dict[str, dict[str, tuple[int, float]]]
    shapes: dict[str, tuple[float, ...]] = field(default_factory=dict)  # piece key -> outline
    _near: dict[tuple[float, float], list[tuple[str, tuple[float, ...]]]] | None = None

    def to_json(self) -> dict:
        return {
            "glyphs": dict(sorted(self.glyphs.items())),
            "jamo": {
                r: {k: [v[0], round(v[1], 3)] for k, v in sorted(self.jamo.get(r, {}).items())}
                for r in ROLES
            },
            "shapes": {k: list(v) for k, v in sorted(self.shapes.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> Codebook:
        jamo = {
            r: {k: (int(v[0]), float(v[1])) for k, v in data.get("jamo", {}).get(r, {}).items()}
            for r in ROLES
        }
        shapes = {k: tuple(v) for k, v in data.get("shapes", {}).items()}
        return cls(dict(data.get("glyphs", {})), jamo, shapes)

    def read(self, item: Item) -> str | None:
        """The syllable an outline draws, or None: from its jamo pieces, else from
        pieces that are only near known ones (another weight or size of the same
        drawing, or a piece drawn a little wider before a horizontal vowel), else from
        the whole outline."""
        ch = self.compose(item.parts)
        if ch is None and item.shapes and self.shapes:
            options = [self.near(k, v) for k, v in zip(item.parts, item.shapes, strict=True)]
            if all(options):
                combos = sorted(itertools.product(*options), key=lambda c: sum(d for d, _ in c))[
                    :MAX_COMBOS
                ]
                for combo in combos:
                    ch = self.compose(tuple(k for _, k in combo))
                    if ch:
                        break
        return ch or self.glyphs.get(item.key or "")

    def near(
        self, key: str, shape: tuple[float, ...], limit: float = 0.25
    ) -> list[tuple[float, str]]:
        """Known pieces whose outline is close to ``shape`` (same number of points and
        holes, no coordinate further than ``limit`` of the box), nearest first, at most
        3; the piece itself first when it is known."""
        if self._near is None:
            self._near = {}
            for k, v in self.shapes.items():
                self._near.setdefault((v[0], v[1]), []).append((k, v))
        found = [(0.0, key)] if key in self.shapes else []
        for k, v in self._near.get((shape[0], shape[1]), []):
            if k == key or len(v) != len(shape) or abs(v[2] - shape[2]) > 0.35:
                continue
            d = max(abs(a - b) for a, b in zip(v[3:], shape[3:], strict=True))
            if d < limit:
                found.append((d, k))
        return sorted(found)[:3]

    def compose(self, parts: tuple[str, ...]) -> str | None:
        cho, jung, jong = (self.jamo.get(r, {}) for r in ROLES)
        best: tuple[float, int] | None = None
        n = len(parts)
        for i in range(1, n):
            c = cho.get("+".join(parts[:i]))
            if c is None:
                continue
            for k in range(i + 1, n + 1):
                v = jung.get("+".join(parts[i:k]))
                if v is None:
                    continue
                if k == n:
                    j: tuple[int, float] | None = (0, 1.0)
                else:
                    j = jong.get("+".join(parts[k:]))
                if j is None:
                    continue
                score = c[1] * v[1] * j[1]
                code = 0xAC00 + (c[0] * 21 + v[0]) * 28 + j[0]
                if best is None or score > best[0]:
                    best = (score, code)
        return chr(best[1]) if best else None


@lru_cache(maxsize=1)
def codebook() -> Codebook:
    try:
        data = json.loads(CODEBOOK.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return Codebook.from_json(data)


RUN_MARK = "\ue000{}\ue001"  # stands for run n of unread outlines in Decoded.text


@dataclass(slots=True)
class Decoded:
    """One page read from its outlines. ``text`` holds RUN_MARK for each line drawn
    mostly in outlines the codebook cannot read; ``runs`` are their boxes (for OCR)."""

    text: str
    known: int
    unknown: int
    runs: list[Box]
    sizes: list[int] = field(default_factory=list)  # outlines in each run

    def unknown_share(self) -> float:
        return self.unknown / (self.known + self.unknown) if self.known + self.unknown else 0.0

    def filled(self, texts: dict[int, str] | None = None) -> str:
        """The text with run n replaced by ``texts[n]`` (dropped when absent)."""
        out = self.text
        for n in range(len(self.runs)):
            out = out.replace(RUN_MARK.format(n), (texts or {}).get(n, ""))
        return out


def _same_line(a: Item, b: Item) -> bool:
    lo, hi = max(a.box[1], b.box[1]), min(a.box[3], b.box[3])
    small = max(min(a.height, b.height), 1e-6)
    return (hi - lo) > 0.3 * small and b.box[0] > a.box[0] - 0.5 * small


def decode(items: list[Item], book: Codebook | None = None) -> Decoded:
    """One page's items read: lines in drawing order, spaces from the gaps. A line that
    is mostly unread outlines (another font drawn as outlines) becomes a run for OCR;
    lone unread outlines elsewhere (symbols) are left out, as are outlines much larger
    than the text (drawings)."""
    book = codebook() if book is None else book
    read = [(it, book.read(it) if it.key is not None else None) for it in items]
    heights = sorted(it.height for it, ch in read if ch)
    typical = heights[len(heights) // 2] if heights else 10.0
    marked: list[Item] = []
    for it, ch in read:
        if it.key is None:
            marked.append(it)
        elif ch is not None:
            marked.append(Item(it.box, ch, it.key))
        elif it.height <= 2.5 * typical:
            marked.append(Item(it.box, "", ""))  # unread: key ""
    centres = [((i.box[0] + i.box[2]) / 2, (i.box[1] + i.box[3]) / 2) for i in marked if i.key]
    known = unknown = 0
    lines: list[str] = []
    runs: list[Box] = []
    sizes: list[int] = []
    for line in group_lines(marked):
        unread = sum(1 for i in line if i.key == "")
        done = sum(1 for i in line if i.key)
        known += done
        unknown += unread
        box = (
            min(i.box[0] for i in line),
            min(i.box[1] for i in line),
            max(i.box[2] for i in line),
            max(i.box[3] for i in line),
        )
        # symbols drawn after the text of their line would cover syllables read already
        covered = sum(1 for x, y in centres if box[0] <= x <= box[2] and box[1] <= y <= box[3])
        if unread >= 2 and unread > 0.3 * (unread + done) and covered <= done + 0.2 * unread:
            runs.append(box)
            sizes.append(unread)
            lines.append(RUN_MARK.format(len(runs) - 1))
        else:
            lines.append(line_text([i for i in line if i.key != ""]))
    return Decoded("\n".join(lines), known, unknown, runs, sizes)


def group_lines(items: list[Item]) -> list[list[Item]]:
    """Items in drawing order cut into lines: a new line when an item does not overlap
    the previous one vertically or goes back to the left."""
    runs: list[list[Item]] = []
    for it in items:
        if runs and _same_line(runs[-1][-1], it):
            runs[-1].append(it)
        else:
            runs.append([it])
    # a renderer may draw a line's outlines first and its real text (digits, Latin,
    # punctuation) after: the next run on the same line joins it, in x order
    lines: list[list[Item]] = []
    for run in runs:
        if lines and _level(lines[-1], run):
            lines[-1] = sorted(lines[-1] + run, key=lambda i: i.box[0])
        else:
            lines.append(run)
    return lines


def _level(a: list[Item], b: list[Item]) -> bool:
    """Two runs of one text line: their vertical ranges overlap (LEVEL of the smaller)
    and ``b`` starts before ``a`` ends (a cell further along the row stays apart, in
    drawing order)."""
    a0, a1 = min(i.box[1] for i in a), max(i.box[3] for i in a)
    b0, b1 = min(i.box[1] for i in b), max(i.box[3] for i in b)
    ax1 = max(i.box[2] for i in a)
    bx0 = min(i.box[0] for i in b)
    return min(a1, b1) - max(a0, b0) > LEVEL * min(a1 - a0, b1 - b0) and bx0 <= ax1


def line_text(line: list[Item]) -> str:
    """A line's text, with a space for each wide gap."""
    out: list[str] = []
    prev: Item | None = None
    for it in line:
        if prev is not None and it.box[0] - prev.box[2] > 0.28 * max(prev.height, it.height):
            out.append(" ")
        out.append(it.text)
        prev = it
    return "".join(out).rstrip()


def assemble(items: list[Item]) -> str:
    """The text of items in drawing order (lines and spaces as :func:`decode` makes)."""
    return "\n".join(line_text(line) for line in group_lines(items))


def outline_share(items: list[Item]) -> float:
    """Share of outline items among a page's items (a page drawn mostly as outlines)."""
    return sum(1 for i in items if i.key) / len(items) if items else 0.0


@dataclass(slots=True)
class Recovered:
    """A page's text read from its outlines; ``confidence`` is Tesseract's when some runs
    of it were OCR'd (then the page counts as OCR text), else None."""

    number: int
    text: str
    confidence: float | None
    known: int
    unknown: int


def recover(
    path: Path, numbers: list[int], ocr: bool, cache: Path | None = None
) -> dict[int, Recovered]:
    """Pages ``numbers`` of a PDF read from their Hangul outlines. With ``ocr``, the runs
    the codebook cannot read (outlines of a real font, symbols) are read by Tesseract
    (ingest.ocr.ocr_regions, one run per page); without it they are left out."""
    from ingest import ocr as tesseract

    out: dict[int, Recovered] = {}
    try:
        pages = read_items(path, numbers)
    except Exception as exc:  # pdfminer raises many types on odd files; OCR remains
        log.warning("outlines of %s not read: %s", path.name, exc)
        return out
    for number, items in pages.items():
        page = decode(items)
        if not page.known or page.unknown_share() > MAX_UNKNOWN_SHARE:
            continue  # not (mostly) drawn in a known outline font: whole-page OCR
        texts: dict[int, str] | None = None
        confidence = None
        if page.runs and ocr:
            try:
                found, confidence = tesseract.ocr_regions(path, number, page.runs, cache)
                texts = dict(enumerate(found))
            except tesseract.OcrUnavailable:
                texts = None
        log.info(
            "outlines %s p.%d: %d syllables read, %d outlines left%s",
            path.name,
            number,
            page.known,
            page.unknown,
            " (OCR)" if texts else "",
        )
        out[number] = Recovered(number, page.filled(texts), confidence, page.known, page.unknown)
    return out


def read_pages(path: Path, numbers: list[int], cache: Path | None = None) -> list[OcrPage]:
    """Pages ``numbers`` of a PDF without a usable text layer: from their Hangul outlines
    where the codebook reads them (lines in other fonts OCR'd, see :func:`recover`), the
    others OCR'd whole (ingest.ocr.ocr_pdf_pages). ``confidence`` is 0-100 when Tesseract
    read some of the page, else None. OcrUnavailable only when no page could be read."""
    from ingest import ocr as tesseract

    found = {
        n: r
        for n, r in recover(path, numbers, True, cache).items()
        if not tesseract.needs_ocr(r.text)
    }
    rest = [n for n in numbers if n not in found]
    out = [OcrPage(n, r.text, r.confidence) for n, r in found.items()]
    if rest:
        try:
            out += tesseract.ocr_pdf_pages(path, rest, cache=cache)
        except tesseract.OcrUnavailable:
            if not found:
                raise
            log.warning("%s: %d pages left unread (no Tesseract)", path.name, len(rest))
    return sorted(out, key=lambda p: p.number)


__all__ = [
    "CODEBOOK",
    "Codebook",
    "Decoded",
    "Item",
    "Recovered",
    "assemble",
    "codebook",
    "decode",
    "read_items",
    "read_pages",
    "recover",
    "shape_key",
]
