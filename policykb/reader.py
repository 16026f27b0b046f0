"""Reading one document in windows: the document page of a 400-page report shows a few
pages around the first match (or its first pages), a page navigator and the list of every
match, and reads only the passages it shows. Nothing here grows with a document's length
except the outline (one small row per page) and the list of matches (capped)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from policykb.backends import SearchBackend
from policykb.highlight import highlight_passage
from policykb.models import Document, Passage, PassageMatch
from policykb.store import DocumentStore

WINDOW_PAGES = 5  # pages per window
WINDOW_PASSAGES = 40  # passages per window at most (the window of a document without pages)
MAX_JUMPS = 200  # matches listed in the jump list
NAV_LINKS = 9  # windows linked around the current one in the navigator


@dataclass(slots=True)
class ShownPassage:
    seq: int
    page: int | None
    html: str
    hit: bool


@dataclass(slots=True)
class Jump:
    seq: int
    page: int | None
    start: int  # first seq of the window that shows it


@dataclass(slots=True)
class NavLink:
    label: str
    start: int
    current: bool = False


@dataclass(slots=True)
class DocumentWindow:
    passages: list[ShownPassage]
    start: int  # first seq shown
    total_passages: int
    paged: bool  # the document has page numbers
    first_page: int | None
    last_page: int | None
    pages_shown: tuple[int | None, int | None]
    prev_start: int | None
    next_start: int | None
    nav: list[NavLink] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)
    match_pages: list[tuple[int, int, int]] = field(default_factory=list)  # page, n, start
    matched: int = 0  # passages with a match in the whole document

    def in_window(self, seq: int) -> bool:
        return self.start <= seq < self.start + len(self.passages)


class _Outline:
    """Page -> first seq of the document, from the store's (doc_id, page) index."""

    def __init__(self, total: int, page_starts: list[tuple[int, int]]) -> None:
        self.total = total
        self.pages = [p for p, _ in page_starts]
        self.starts = [s for _, s in page_starts]

    @property
    def paged(self) -> bool:
        return bool(self.pages)

    def page_of(self, seq: int) -> int | None:
        i = bisect_right(self.starts, seq) - 1
        return self.pages[i] if i >= 0 else None

    def start_of_page(self, page: int) -> int:
        """First seq on ``page`` or the next page that has passages."""
        i = bisect_right(self.pages, page - 1)
        return self.starts[i] if i < len(self.starts) else self.total

    def window_start(self, seq: int) -> int:
        """The start of the window a link to ``seq`` opens: its page's first passage when
        that keeps ``seq`` well inside the window, else ``seq`` itself."""
        if not self.paged:
            return (seq // WINDOW_PASSAGES) * WINDOW_PASSAGES
        page = self.page_of(seq)
        first = self.start_of_page(page) if page is not None else 0
        return first if seq - first < WINDOW_PASSAGES // 2 else seq


def read_window(
    store: DocumentStore,
    backend: SearchBackend,
    doc: Document,
    terms: frozenset[str],
    page: int | None = None,
    start: int | None = None,
) -> DocumentWindow:
    """The window of ``doc`` to show: from passage ``start``, or from ``page``, or around
    the first match of ``terms``, or from the beginning."""
    total, page_starts = store.passage_outline(doc.id)
    outline = _Outline(total, page_starts)
    matches: list[PassageMatch] = backend.matching_passages(doc.id, terms) if terms else []
    if start is None and page is not None and outline.paged:
        start = outline.start_of_page(page)
    if start is None:
        start = outline.window_start(matches[0].seq) if matches else 0
    start = max(0, min(start, max(0, total - 1)))
    page_below = None
    if outline.paged:
        first_page = outline.page_of(start)
        if first_page is not None:
            page_below = first_page + WINDOW_PAGES
    raw: list[Passage] = store.get_passage_window(
        doc.id, start, WINDOW_PASSAGES, page_below, with_tokens=bool(terms), only_terms=terms
    )
    if not raw and total:  # e.g. passages without page numbers after the last page
        raw = store.get_passage_window(doc.id, start, WINDOW_PASSAGES, only_terms=terms)
    hit_seqs = {m.seq for m in matches}
    shown = [
        ShownPassage(p.seq, p.page, highlight_passage(p, terms), p.seq in hit_seqs) for p in raw
    ]
    end = raw[-1].seq + 1 if raw else start
    win = DocumentWindow(
        passages=shown,
        start=start,
        total_passages=total,
        paged=outline.paged,
        first_page=outline.pages[0] if outline.paged else None,
        last_page=outline.pages[-1] if outline.paged else None,
        pages_shown=(raw[0].page, raw[-1].page) if raw else (None, None),
        prev_start=_prev_start(outline, start),
        next_start=end if end < total else None,
        matched=len(matches),
    )
    win.nav = _navigator(outline, start)
    win.jumps = [Jump(m.seq, m.page, outline.window_start(m.seq)) for m in matches[:MAX_JUMPS]]
    counts: dict[int, int] = {}
    for m in matches:
        if m.page is not None:
            counts[m.page] = counts.get(m.page, 0) + 1
    win.match_pages = [(p, n, outline.start_of_page(p)) for p, n in sorted(counts.items())]
    return win


def _prev_start(outline: _Outline, start: int) -> int | None:
    if start <= 0:
        return None
    if not outline.paged:
        return max(0, start - WINDOW_PASSAGES)
    page = outline.page_of(start - 1)
    if page is None:
        return 0
    back = outline.start_of_page(page - WINDOW_PAGES + 1)
    return max(back, start - WINDOW_PASSAGES)


def _navigator(outline: _Outline, start: int) -> list[NavLink]:
    """Links to windows: the first, up to NAV_LINKS around the current one, the last."""
    if outline.paged:
        first, last = outline.pages[0], outline.pages[-1]
        current = outline.page_of(start) or first
        windows = list(range(first, last + 1, WINDOW_PAGES))
        pos = max(0, bisect_right(windows, current) - 1)
        lo, hi = max(0, pos - NAV_LINKS // 2), min(len(windows), pos + NAV_LINKS // 2 + 1)
        chosen = sorted({0, *range(lo, hi), len(windows) - 1})
        links = []
        for i in chosen:
            p = windows[i]
            top = min(last, p + WINDOW_PAGES - 1)
            label = f"{p}–{top}쪽" if top > p else f"{p}쪽"
            links.append(NavLink(label, outline.start_of_page(p), i == pos))
        return links
    if outline.total <= WINDOW_PASSAGES:
        return []
    windows = list(range(0, outline.total, WINDOW_PASSAGES))
    pos = start // WINDOW_PASSAGES
    lo, hi = max(0, pos - NAV_LINKS // 2), min(len(windows), pos + NAV_LINKS // 2 + 1)
    chosen = sorted({0, *range(lo, hi), len(windows) - 1})
    return [
        NavLink(
            f"{windows[i] + 1}–{min(outline.total, windows[i] + WINDOW_PASSAGES)}문단",
            windows[i],
            i == pos,
        )
        for i in chosen
    ]
