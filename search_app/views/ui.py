"""Server-rendered Korean pages; they work without JavaScript."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, send_file

from corpus import institutes as registry
from policykb import analytics
from policykb.models import DOC_TYPES
from policykb.reader import read_window
from policykb.service import SearchRequest, parse_request
from search_app.links import chips, facet_links, search_url
from search_app.views.common import request_args, runtime

bp = Blueprint("ui", __name__)

FACET_LABELS = {
    "institute": "기관",
    "region": "지역",
    "doc_type": "문서 유형",
    "year": "연도",
    "publisher": "발행기관",
    "author": "저자",
}
SUGGESTION_LINKS = 6  # suggested queries listed under the results (the no-JavaScript box)
SORT_LABELS = {"relevance": "관련도순", "newest": "최신순", "oldest": "오래된순"}


@bp.get("/")
def index():
    rt = runtime()
    return render_template(
        "home.html",
        total=rt.store.count_documents(),
        institutes=[i for i in registry.INSTITUTES if i.member],
        doc_types=DOC_TYPES,
    )


@bp.get("/search")
def search():
    rt = runtime()
    req = parse_request(request_args(), rt.settings)
    result = rt.service.search(req, lenient=True)
    suggestion = analytics.spacing_suggestion(rt.service, req, result.total)
    correction = None
    if not suggestion:
        correction = analytics.did_you_mean(rt.service, rt.suggester, req, result.total)
    related_queries = [
        (s.text, search_url(SearchRequest(q=s.text)))
        for s in (rt.suggester.suggest(req.q, SUGGESTION_LINKS + 1) if req.q else [])
        if s.text.replace(" ", "") != req.q.replace(" ", "") and s.text != correction
    ][:SUGGESTION_LINKS]

    links = facet_links(req, result.facets)

    pages = []
    first = max(1, result.page - 4)
    for n in range(first, min(result.pages, first + 9) + 1):
        pages.append((n, search_url(req, page=n)))
    return render_template(
        "search.html",
        req=req,
        result=result,
        facets=links,
        labels=FACET_LABELS,
        chips=chips(req),
        pages=pages,
        sort_links=[(k, v, search_url(req, sort=k, page=1)) for k, v in SORT_LABELS.items()],
        prev_url=search_url(req, page=result.page - 1) if result.page > 1 else None,
        next_url=search_url(req, page=result.page + 1) if result.page < result.pages else None,
        clear_url=search_url(SearchRequest(q=req.q, sort=req.sort)),
        size_links=[(n, search_url(req, size=n, page=1)) for n in (10, 20, 50, 100)],
        suggestion=suggestion,
        suggestion_url=search_url(req, q=suggestion, page=1) if suggestion else None,
        correction=correction,
        correction_url=search_url(req, q=correction, page=1) if correction else None,
        related_queries=related_queries,
        institute_groups=_institutes_by_region(links["institute"]),
        tail="?" + urlencode(req.to_params(page=1)) if req.to_params(page=1) else "",
        permalink=search_url(req),
    )


def _institutes_by_region(links: list[dict]) -> list[tuple[str, list[dict]]]:
    """The institute facet grouped by the institutes' first region (national first)."""
    groups: dict[str, list[dict]] = {}
    for link in links:
        inst = registry.lookup(link["value"])
        if inst is None:  # publisher not in the registry (미상): a group of its own, last
            region = registry.UNKNOWN
        else:
            region = inst.regions[0] if inst.regions else "전국"
        groups.setdefault(region, []).append(link)
    order = ["전국", *registry.REGIONS, registry.UNKNOWN]
    return sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)


def _nonneg(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None  # a hand-edited link: show the default window instead of an error
    return value if 0 <= value <= 10_000_000 else None


@bp.get("/documents/<doc_id>")
def document(doc_id: str):
    rt = runtime()
    doc = rt.store.get_document(doc_id, with_passages=False)
    if doc is None:
        abort(404)
    q = (request.args.get("q") or "")[: rt.settings.max_query_length]
    terms = rt.service.highlight_terms(q)
    window = read_window(
        rt.store, rt.backend, doc, terms, page=_nonneg("page"), start=_nonneg("from")
    )
    doc.passages = rt.store.get_passage_window(doc.id, 0, analytics.RELATED_PASSAGES)

    def at(start: int | None, anchor: str = "") -> str | None:
        if start is None:
            return None
        params = [("q", q)] if q else []
        if start:
            params.append(("from", str(start)))
        return f"/documents/{doc.id}" + ("?" + urlencode(params) if params else "") + anchor

    has_file = bool(doc.source_path and Path(doc.source_path).is_file())
    return render_template(
        "document.html",
        doc=doc,
        window=window,
        at=at,
        q=q,
        has_file=has_file,
        copies=rt.store.copies(doc.id),
        related=analytics.related(rt.service, doc),
    )


@bp.get("/documents/<doc_id>/file")
def download(doc_id: str):
    doc = runtime().store.get_document(doc_id, with_passages=False)
    # The path comes from the store, never from the request.
    if doc is None or not doc.source_path or not Path(doc.source_path).is_file():
        abort(404)
    path = Path(doc.source_path)
    return send_file(path, as_attachment=True, download_name=path.name)
