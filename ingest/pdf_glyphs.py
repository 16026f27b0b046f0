"""Hangul drawn as outlines: text recovered from PDFs whose Hangul glyphs are filled
paths, not text.

Some renderers (the cairo 1.18 PDFs of public-docs, made by an HWP renderer without a
Korean font) draw every Hangul syllable as one filled path composed of jamo pieces and
only Latin and digits as real text (DejaVu with a ToUnicode map). There is no text layer
to read, and Tesseract reads the jamo-composed shapes badly (Hangul accuracy about 0.5).

Every occurrence of a syllable at any size is the same outline up to a translation and a
scale, so each glyph is reduced to a shape key (its closed components in drawing order,
each normalized to its own box and placed in the glyph's box, quantized) and looked up in
a codebook (``ingest/data/outline_glyphs.json``: shape key -> syllable). The codebook is
built by ``python -m bench.glyphs`` from PDFs that have an HWP/HWPX twin, by aligning the
glyph sequence with the twin's text (digits and Latin, which are real text in both,
anchor the alignment). Unknown shapes are counted, so the caller can fall back to OCR.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

CODEBOOK = Path(__file__).parent / "data" / "outline_glyphs.json"
QUANT = 4  # grid of a component's own coordinates (1/4 of its box)
MAX_GLYPH = 60.0  # points; larger fills are drawings, not glyphs
MAX_COMPONENTS = 12

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
        """The syllable an outline draws, or None: from its jamo pieces, from pieces
        that are only near known ones (another weight or size of the same drawing), or
        from the whole outline."""
        ch = self.compose(item.parts)
        if ch is None and item.shapes and self.shapes:
            near = tuple(self.nearest(k, v) for k, v in zip(item.parts, item.shapes, strict=True))
            if near != item.parts:
                ch = self.compose(near)
        return ch or self.glyphs.get(item.key or "")

    def nearest(self, key: str, shape: tuple[float, ...], limit: float = 0.2) -> str:
        """The known piece whose outline is closest to ``shape`` (same number of points and
        holes; no coordinate further than ``limit`` of the box), else ``key`` itself."""
        if key in self.shapes:
            return key
        if self._near is None:
            self._near = {}
            for k, v in self.shapes.items():
                self._near.setdefault((v[0], v[1]), []).append((k, v))
        best, best_d = key, limit
        for k, v in self._near.get((shape[0], shape[1]), []):
            if len(v) != len(shape) or abs(v[2] - shape[2]) > 0.35:
                continue
            d = max(abs(a - b) for a, b in zip(v[3:], shape[3:], strict=True))
            if d < best_d:
                best, best_d = k, d
        return best

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


def decode(items: list[Item], book: Codebook | None = None) -> tuple[str, int, int]:
    """Text of one page's items (lines in drawing order, spaces from the gaps), the
    number of outlines decoded and of small outlines left unknown."""
    book = codebook() if book is None else book
    known = unknown = 0
    kept: list[Item] = []
    read = [(it, book.read(it) if it.key is not None else None) for it in items]
    heights = sorted(it.height for it, ch in read if ch)
    typical = heights[len(heights) // 2] if heights else 10.0
    for it, ch in read:
        if it.key is not None:
            if ch is None:
                if it.height <= 2.5 * typical:
                    unknown += 1
                continue
            known += 1
            kept.append(Item(it.box, ch, it.key))
        else:
            kept.append(it)
    return assemble(kept), known, unknown


def assemble(items: list[Item]) -> str:
    """Lines from items in drawing order: a new line when an item does not overlap the
    current line vertically or goes back to the left; a space for a wide gap."""
    lines: list[str] = []
    cur: list[str] = []
    prev: Item | None = None
    for it in items:
        if prev is not None:
            lo = max(prev.box[1], it.box[1])
            hi = min(prev.box[3], it.box[3])
            small = max(min(prev.height, it.height), 1e-6)
            same_line = (hi - lo) > 0.3 * small and it.box[0] > prev.box[0] - 0.5 * small
            if not same_line:
                lines.append("".join(cur))
                cur = []
            elif it.box[0] - prev.box[2] > 0.28 * max(prev.height, it.height):
                cur.append(" ")
        cur.append(it.text)
        prev = it
    if cur:
        lines.append("".join(cur))
    return "\n".join(line.rstrip() for line in lines)


def outline_share(items: list[Item]) -> float:
    """Share of outline items among a page's items (a page drawn mostly as outlines)."""
    return sum(1 for i in items if i.key) / len(items) if items else 0.0


__all__ = ["CODEBOOK", "Codebook", "Item", "assemble", "codebook", "decode", "read_items", "shape_key"]
