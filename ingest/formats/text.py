"""Plain text and HTML files (UTF-8 or CP949)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from ingest.formats.base import Extracted, ExtractionError, Page


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp949"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ExtractionError("bad_encoding", "문자 인코딩을 알 수 없습니다 (UTF-8/CP949가 아님).")


def extract_text_file(path: Path) -> Extracted:
    return Extracted("text", [Page(None, _decode(path.read_bytes()))])


class _HTMLText(HTMLParser):
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "table",
        "title",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def extract_html(path: Path) -> Extracted:
    parser = _HTMLText()
    parser.feed(_decode(path.read_bytes()))
    return Extracted("html", [Page(None, "".join(parser.parts))])
