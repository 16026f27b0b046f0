"""JSON API: the same service calls as the HTML pages, serialized."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify

from policykb import analytics
from policykb.query import QuerySyntaxError
from policykb.service import RequestError, parse_request
from search_app.views.common import request_args, runtime

bp = Blueprint("api", __name__)


def _error(status: int, code: str, message: str, param: str | None = None):
    body = {"error": {"code": code, "message": message}}
    if param:
        body["error"]["param"] = param
    return jsonify(body), status


@bp.get("/api/search")
def search():
    rt = runtime()
    try:
        req = parse_request(request_args(), rt.settings, strict=True)
        # Unbalanced quotes or parentheses degrade to plain words with a notice, as in
        # the HTML page: a pasted title is never refused for its punctuation.
        result = rt.service.search(req, lenient=True)
    except RequestError as exc:
        return _error(400, exc.code, exc.message, exc.param)
    except QuerySyntaxError as exc:
        return _error(400, exc.code, exc.message, "q")
    return jsonify(result.to_json())


@bp.get("/api/documents/<doc_id>")
def document(doc_id: str):
    doc = runtime().store.get_document(doc_id)
    if doc is None:
        abort(404)
    return jsonify(
        {
            "id": doc.id,
            "title": doc.title,
            "institute": doc.institute,
            "institute_published": doc.institute_published,
            "regions": doc.regions,
            "doc_type": doc.doc_type,
            "date": doc.date,
            "url": doc.url,
            "page_count": doc.page_count,
            "department": doc.department,
            "authors": doc.authors,
            "contacts": doc.contacts,
            "places": doc.places,
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
            "passages": [{"seq": p.seq, "page": p.page, "text": p.text} for p in doc.passages],
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
