#!/usr/bin/env python3
"""Generate the sample PDF documents of corpus/sample/ from plain-text sources.

Each ``scripts/sample_pdf_src/<name>.txt`` becomes ``corpus/sample/<name>.pdf``.
The sources live outside the corpus folder so that the text is not ingested twice.

Source markup (one paragraph per line):
    # text      title line (large, bold)
    ## text     section heading (bold)
    ===         page break (e.g. after a cover page)
    (blank)     ignored
    □ / ○ / -   bullet lines, indented by level
    other       body paragraph

The PDFs use an embedded (subsetted) TrueType Korean font, so they have a real
text layer, and every page carries a "- n -" page-number footer.  Output is
deterministic (reportlab invariant mode), so re-running the script does not
produce spurious binary diffs.

Usage:
    python scripts/make_sample_pdfs.py [--font PATH] [--bold-font PATH] [--check]

--check re-opens every generated PDF with pdfplumber and verifies that each page
yields Hangul text.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config

rl_config.invariant = 1  # reproducible output (fixed dates and document ids)

from reportlab.lib.enums import TA_CENTER, TA_LEFT  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "scripts" / "sample_pdf_src"
OUT_DIR = ROOT / "corpus" / "sample"

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumMyeongjo.ttf",
]
BOLD_CANDIDATES = [
    "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothicBold.ttf",
]


def _first_existing(paths: list[str]) -> str | None:
    for p in paths:
        if Path(p).is_file():
            return p
    return None


def register_fonts(regular: str | None, bold: str | None) -> tuple[str, str]:
    regular = regular or _first_existing(FONT_CANDIDATES)
    if not regular:
        sys.exit(
            "No Korean TrueType font found. Install one (Debian/Ubuntu: "
            "apt-get install fonts-nanum) or pass --font /path/to/font.ttf"
        )
    pdfmetrics.registerFont(TTFont("KoRegular", regular))
    bold = bold or _first_existing(BOLD_CANDIDATES)
    if bold:
        pdfmetrics.registerFont(TTFont("KoBold", bold))
        return "KoRegular", "KoBold"
    return "KoRegular", "KoRegular"


def make_styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle(
        "body", fontName=regular, fontSize=11, leading=18, alignment=TA_LEFT, spaceAfter=5
    )
    return {
        "title": ParagraphStyle(
            "title",
            parent=body,
            fontName=bold,
            fontSize=18,
            leading=26,
            alignment=TA_CENTER,
            spaceBefore=40,
            spaceAfter=18,
        ),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName=bold,
            fontSize=13,
            leading=20,
            spaceBefore=12,
            spaceAfter=8,
        ),
        "body": body,
        "b1": ParagraphStyle("b1", parent=body, leftIndent=0),
        "b2": ParagraphStyle("b2", parent=body, leftIndent=5 * mm),
        "b3": ParagraphStyle("b3", parent=body, leftIndent=10 * mm),
    }


def build_story(text: str, styles: dict[str, ParagraphStyle]) -> list:
    story: list = []
    for raw in text.splitlines():
        line = unicodedata.normalize("NFC", raw.strip())
        if not line:
            continue
        if line == "===":
            story.append(PageBreak())
            continue
        if line.startswith("## "):
            story.append(Paragraph(escape(line[3:]), styles["heading"]))
        elif line.startswith("# "):
            story.append(Paragraph(escape(line[2:]), styles["title"]))
        elif line.startswith("□"):
            story.append(Paragraph(escape(line), styles["b1"]))
        elif line.startswith("○"):
            story.append(Paragraph(escape(line), styles["b2"]))
        elif line.startswith("-") or line.startswith("※"):
            story.append(Paragraph(escape(line), styles["b3"]))
        else:
            story.append(Paragraph(escape(line), styles["body"]))
    story.append(Spacer(1, 6))
    return story


def make_pdf(src: Path, out: Path, styles: dict[str, ParagraphStyle], font: str) -> None:
    text = src.read_text(encoding="utf-8")
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), src.stem)

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, f"- {doc.page} -")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=title,
        author="policykb sample corpus",
        subject=src.stem,
    )
    doc.build(build_story(text, styles), onFirstPage=footer, onLaterPages=footer)


def check_pdf(path: Path) -> tuple[int, bool]:
    import pdfplumber

    ok = True
    with pdfplumber.open(str(path)) as pdf:
        n = len(pdf.pages)
        for page in pdf.pages:
            txt = page.extract_text() or ""
            if not any("\uac00" <= ch <= "\ud7a3" for ch in txt):
                ok = False
    return n, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--font", help="regular Korean .ttf (default: NanumGothic)")
    ap.add_argument("--bold-font", help="bold Korean .ttf (default: NanumGothicBold)")
    ap.add_argument("--src", type=Path, default=SRC_DIR)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="verify text layer with pdfplumber")
    args = ap.parse_args()

    regular, bold = register_fonts(args.font, args.bold_font)
    styles = make_styles(regular, bold)
    sources = sorted(args.src.glob("*.txt"))
    if not sources:
        sys.exit(f"no sources in {args.src}")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for src in sources:
        out = args.out / (src.stem + ".pdf")
        make_pdf(src, out, styles, regular)
        msg = f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}  {out.stat().st_size // 1024} KB"
        if args.check:
            pages, ok = check_pdf(out)
            msg += f"  pages={pages}  text={'ok' if ok else 'MISSING'}"
            failed += (not ok) or pages < 2
        print(msg)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
