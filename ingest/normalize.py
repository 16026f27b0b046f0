"""Text normalization before analysis: NFC, control characters, whitespace, de-hyphenation."""

from __future__ import annotations

import re
import unicodedata

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
# U+FFFD: a character the file's font could not name (cairo PDFs print 「」, middle dots
# and bullets so), shown as a broken glyph in titles and snippets. It becomes a space, as
# it often stood between two words (주거�교통).
_UNNAMED_RE = re.compile("\ufffd+")
_HYPHEN_BREAK_RE = re.compile(r"([A-Za-z])-\n[ \t]*([a-z])")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
_BLANKS_RE = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """NFC (PDFs often carry NFD Hangul), no control or replacement characters, words
    hyphenated across a line break joined (inter-\\nnational -> international), runs of
    spaces collapsed, lines trimmed, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    text = _UNNAMED_RE.sub(" ", text)
    text = _HYPHEN_BREAK_RE.sub(r"\1\2", text)
    text = _SPACES_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANKS_RE.sub("\n\n", text)
    return text.strip()
