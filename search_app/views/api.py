"""JSON API: the same service calls as the HTML pages, serialized."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify

from policykb import analytics
from policykb.service import int_param, parse_request
from policykb.suggest import parse_suggest_request
from search_app.views.common import request_args, runtime

bp = Blueprint("api", __name__)


@bp.get("/api/search")
def search():
    rt = runtime()
    req = parse_request(request_args(), rt.settings, strict=True)
    # Unbalanced quotes or parentheses degrade to plain words with a notice, as in the
    # HTML page: a pasted title is never refused for its punctuation.
    result = rt.service.search(req, lenient=True)
    return jsonify(result.to_json())


PASSAGES_LIMIT = 200  # passages per response by default (a long report comes in slices)
PASSAGES_MAX = 1000


@bp.get("/api/suggest")
def suggest():
    q, limit = parse_suggest_request(request_args())
    items = runtime().suggester.suggest(q, limit)
    response = jsonify({"q": q, "suggestions": [s.to_json() for s in items]})
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/api/documents/<doc_id>")
def document(doc_id: str):
    store = runtime().store
    doc = store.get_document(doc_id, with_passages=False)
    if doc is None:
        abort(404)
    args = request_args()
    offset = int_param(args, "offset", 0, 0, 10_000_000, strict=True)
    limit = int_param(args, "limit", PASSAGES_LIMIT, 1, PASSAGES_MAX, strict=True)
    total, _pages = store.passage_outline(doc.id)
    window = store.get_passage_window(doc.id, offset, limit, with_tokens=False)
    doc.passages = store.get_passage_window(doc.id, 0, analytics.RELATED_PASSAGES)
    last = window[-1].seq + 1 if window else offset
    return jsonify(
        {
            **doc.to_json(),
            "copies": [
                {
                    "id": c.id,
                    "title": c.title,
                    "institute": c.institute,
                    "source": Path(c.source_path).name if c.source_path else None,
                }
                for c in runtime().store.copies(doc.id)
            ],
            "related": [
                {"id": d.id, "title": d.title, "institute": d.institute, "date": d.date}
                for d, _score in analytics.related(runtime().service, doc)
            ],
            "passages_total": total,
            "passages_offset": offset,
            "passages_next": last if last < total else None,
            "passages": [
                {"seq": p.seq, "page": p.page, "text": p.text, "ocr": doc.is_ocr_page(p.page)}
                for p in window
            ],
        }
    )


@bp.get("/api/openapi.json")
def openapi():
    from search_app.openapi import spec

    return jsonify(spec())


@bp.get("/healthz")
def healthz():
    rt = runtime()
    try:
        count = rt.backend.count()
    except Exception as exc:  # report, don't crash: this is what monitors poll
        return jsonify(
            {"status": "error", "backend": rt.settings.backend, "error": type(exc).__name__}
        ), 503
    return jsonify({"status": "ok", "backend": rt.settings.backend, "documents": count})
