"""The 17 시·도 as a tile map: equal squares in their geographic arrangement (a cartogram,
no map data to license), coloured by document count, drawn as SVG (page and export) and
as PNG (Pillow, with a CJK font). One layout, so the SVG and the PNG agree."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

# (column, row) of each 시·도, north-west at (0, 0).
LAYOUT: dict[str, tuple[int, int]] = {
    "인천": (0, 0),
    "서울": (1, 0),
    "경기": (2, 0),
    "강원": (3, 0),
    "충남": (0, 1),
    "세종": (1, 1),
    "충북": (2, 1),
    "경북": (3, 1),
    "전북": (0, 2),
    "대전": (1, 2),
    "대구": (2, 2),
    "울산": (3, 2),
    "광주": (0, 3),
    "전남": (1, 3),
    "경남": (2, 3),
    "부산": (3, 3),
    "제주": (1, 4),
}
TILE = 64
GAP = 6
PAD = 10
LEGEND_X = PAD + 4 * (TILE + GAP) + 14
WIDTH = LEGEND_X + 120
HEIGHT = PAD * 2 + 5 * (TILE + GAP)
# Zero, then five classes light -> dark; text colours keep WCAG AA contrast on each.
EMPTY = "#f1f3f5"
PALETTE = ("#d6e6f5", "#a6c8e8", "#5d9bd3", "#23619f", "#0b3466")
TEXT_ON = ("#1d2330", "#1d2330", "#1d2330", "#ffffff", "#ffffff")
CLASSES = len(PALETTE)
FONT_FAMILY = "Noto Sans CJK KR, Noto Sans KR, NanumGothic, sans-serif"
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
)


@dataclass(frozen=True)
class Tile:
    region: str
    count: int
    x: int
    y: int
    fill: str
    text: str  # text colour


@dataclass(frozen=True)
class LegendItem:
    label: str
    fill: str


def thresholds(peak: int) -> list[int]:
    """Upper bounds of the five classes for counts 1..peak (equal widths, rounded up)."""
    return [math.ceil(peak * k / CLASSES) for k in range(1, CLASSES + 1)]


def klass(count: int, bounds: list[int]) -> int | None:
    """Class index of ``count`` (None for zero)."""
    if count <= 0:
        return None
    return next(k for k, b in enumerate(bounds) if count <= b)


def layout(counts: list[tuple[str, int]]) -> tuple[list[Tile], list[LegendItem]]:
    """Tiles for every 시·도 in :data:`LAYOUT` (missing ones count 0) and the legend."""
    by_region = dict(counts)
    peak = max(by_region.values(), default=0)
    bounds = thresholds(peak) if peak else []
    tiles = []
    for region, (col, row) in LAYOUT.items():
        n = by_region.get(region, 0)
        k = klass(n, bounds)
        tiles.append(
            Tile(
                region,
                n,
                PAD + col * (TILE + GAP),
                PAD + row * (TILE + GAP),
                EMPTY if k is None else PALETTE[k],
                TEXT_ON[0] if k is None else TEXT_ON[k],
            )
        )
    legend = [LegendItem("0건", EMPTY)]
    low = 1
    for k, high in enumerate(bounds):
        if high >= low:
            legend.append(LegendItem(f"{low}건" if low == high else f"{low}–{high}건", PALETTE[k]))
            low = high + 1
    return tiles, legend


def svg(
    counts: list[tuple[str, int]],
    links: dict[str, str] | None = None,
    title: str = "시·도별 문서 수",
    label_id: str | None = None,
) -> str:
    """The map as SVG. With ``links`` every tile is a link (for the page: the SVG is then a
    group of links named by their text, not an image); without, a standalone file for export."""
    tiles, legend = layout(counts)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" class="tilemap" font-family={quoteattr(FONT_FAMILY)}'
    ]
    if links is not None:
        labelled = f" aria-labelledby={quoteattr(label_id)}" if label_id else ""
        out.append(f' role="group"{labelled}>')
    else:
        out.append(' role="img" aria-label=' + quoteattr(title) + ">")
        out.append(f"<title>{escape(title)}</title>")
        out.append(f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>')
    for t in tiles:
        body = (
            f'<rect x="{t.x}" y="{t.y}" width="{TILE}" height="{TILE}" rx="6" '
            f'fill="{t.fill}" stroke="#8a94a3" stroke-width="1"/>'
            f'<text x="{t.x + TILE / 2}" y="{t.y + 27}" text-anchor="middle" font-size="15" '
            f'font-weight="700" fill="{t.text}">{escape(t.region)}</text>'
            f'<text x="{t.x + TILE / 2}" y="{t.y + 48}" text-anchor="middle" font-size="13" '
            f'fill="{t.text}" data-region={quoteattr(t.region)}>{t.count}</text>'
        )
        if links is not None and t.region in links:
            # The visible text (region, count) is the link's name: no aria-label, which
            # would have to contain it anyway (WCAG 2.5.3, label in name).
            out.append(
                f"<a href={quoteattr(links[t.region])} "
                f'class="tile" data-region={quoteattr(t.region)}>{body}</a>'
            )
        else:
            out.append(f"<g>{body}</g>")
    out.append(
        f'<text x="{LEGEND_X}" y="{PAD + 12}" font-size="13" font-weight="700" '
        'fill="#1d2330">문서 수</text>'
    )
    for i, item in enumerate(legend):
        y = PAD + 24 + i * 22
        out.append(
            f'<rect x="{LEGEND_X}" y="{y}" width="16" height="16" fill="{item.fill}" '
            'stroke="#8a94a3" stroke-width="1"/>'
            f'<text x="{LEGEND_X + 22}" y="{y + 13}" font-size="12" fill="#1d2330">'
            f"{escape(item.label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _font_file() -> str | None:
    for name in FONT_FILES:
        if Path(name).is_file():
            return name
    return None


def _font(size: int, bold: bool = False):
    from PIL import ImageFont

    path = _font_file()
    if path is None:
        return ImageFont.load_default(size)
    if path.endswith(".ttc"):  # Noto Sans CJK: pick the Korean face
        if bold:
            bold_path = path.replace("Regular", "Bold")
            path = bold_path if Path(bold_path).is_file() else path
        for index in range(10):
            try:
                font = ImageFont.truetype(path, size, index=index)
            except OSError:
                break
            if "KR" in " ".join(font.getname()):
                return font
    return ImageFont.truetype(path, size)


def png(counts: list[tuple[str, int]], title: str = "시·도별 문서 수", scale: int = 2) -> bytes:
    """The same map as a PNG (``scale`` times the SVG's size), drawn with Pillow."""
    from PIL import Image, ImageDraw

    tiles, legend = layout(counts)
    title_h = 30
    img = Image.new("RGB", (WIDTH * scale, (HEIGHT + title_h) * scale), "#ffffff")
    draw = ImageDraw.Draw(img)

    def s(v: float) -> int:
        return int(round(v * scale))

    draw.text((s(PAD), s(6)), title, fill="#1d2330", font=_font(s(15), bold=True))
    name_font, count_font = _font(s(15), bold=True), _font(s(13))
    legend_font, legend_title = _font(s(12)), _font(s(13), bold=True)
    for t in tiles:
        y0 = t.y + title_h
        draw.rounded_rectangle(
            (s(t.x), s(y0), s(t.x + TILE), s(y0 + TILE)),
            radius=s(6),
            fill=t.fill,
            outline="#8a94a3",
            width=max(1, scale // 2),
        )
        cx = s(t.x + TILE / 2)
        draw.text((cx, s(y0 + 22)), t.region, fill=t.text, font=name_font, anchor="mm")
        draw.text((cx, s(y0 + 44)), str(t.count), fill=t.text, font=count_font, anchor="mm")
    draw.text((s(LEGEND_X), s(PAD + title_h)), "문서 수", fill="#1d2330", font=legend_title)
    for i, item in enumerate(legend):
        y = PAD + 24 + i * 22 + title_h
        draw.rectangle(
            (s(LEGEND_X), s(y), s(LEGEND_X + 16), s(y + 16)), fill=item.fill, outline="#8a94a3"
        )
        draw.text((s(LEGEND_X + 22), s(y + 1)), item.label, fill="#1d2330", font=legend_font)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()
