"""Analyst pages and exports: timeline, region comparison, CSV/RIS/BibTeX, Atom feeds,
saved searches. Every page has a JSON twin under /api/."""

from __future__ import annotations

import secrets
from dataclasses import replace
from urllib.parse import parse_qs, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)

from policykb import analytics, export, tilemap
from policykb.service import RequestError, SearchRequest, parse_request
from search_app.links import facet_url, search_url
from search_app.views.common import public_link, request_args, runtime

bp = Blueprint("analyst", __name__)
EXPORT_PAGE = 100
MAX_EXPORT = 100_000


def _request() -> SearchRequest:
    strict = request.path.startswith("/api/")
    return parse_request(request_args(), runtime().settings, strict=strict)


def _analysis_url(req: SearchRequest, group_by: str) -> str:
    params = [*req.to_params(page=1), ("group_by", group_by)]
    return url_for("analyst.analysis") + "?" + urlencode(params)


def _analysis(req: SearchRequest, group_by: str) -> dict:
    service = runtime().service
    line = analytics.timeline(service, req, group_by)
    regions = analytics.region_comparison(service, req)
    return {"timeline": line, "regions": regions}


def _group_by() -> str:
    group_by = request.args.get("group_by", "institute")
    if group_by not in ("institute", "region"):
        raise RequestError("group_by는 institute 또는 region이어야 합니다.", "group_by")
    return group_by


@bp.get("/analysis")
def analysis():
    req = _request()
    group_by = _group_by()
    data = _analysis(req, group_by)
    line = data["timeline"]
    peak = max(line.totals.values(), default=0)
    region_peak = max((n for _, n in data["regions"]), default=0)
    year_links = {y: facet_url(req, "year", y, only=True) for y in line.years}
    region_links = {r: facet_url(req, "region", r, only=True) for r, _ in data["regions"]}
    tail = urlencode(req.to_params(page=1))
    return render_template(
        "analysis.html",
        req=req,
        line=line,
        regions=data["regions"],
        peak=peak,
        region_peak=region_peak,
        year_links=year_links,
        region_links=region_links,
        group_by=group_by,
        search_url=search_url(req),
        group_links={g: _analysis_url(req, g) for g in ("institute", "region")},
        tile_map=tilemap.svg(data["regions"], region_links, label_id="map-h"),
        map_exports={
            ext: url_for(f"analyst.regions_{ext}") + ("?" + tail if tail else "")
            for ext in ("svg", "png")
        },
    )


def _map_export(ext: str) -> Response:
    req = _request()
    regions = analytics.region_comparison(runtime().service, req)
    title = f"시·도별 문서 수: {req.q}" if req.q else "시·도별 문서 수"
    if ext == "svg":
        body, mime = tilemap.svg(regions, title=title).encode(), "image/svg+xml"
    else:
        body, mime = tilemap.png(regions, title=title), "image/png"
    return Response(
        body,
        mimetype=mime,
        headers={"Content-Disposition": f'attachment; filename="policykb-regions.{ext}"'},
    )


@bp.get("/analysis/regions.svg")
def regions_svg():
    return _map_export("svg")


@bp.get("/analysis/regions.png")
def regions_png():
    return _map_export("png")


@bp.get("/api/analysis")
def api_analysis():
    req = _request()
    data = _analysis(req, _group_by())
    return jsonify(
        {
            "timeline": data["timeline"].to_json(),
            "regions": [{"value": r, "count": n} for r, n in data["regions"]],
        }
    )


# ----------------------------------------------------------------------------- export
def _all_hits(req: SearchRequest):
    service = runtime().service
    page = 1
    sent = 0
    while sent < MAX_EXPORT:
        result = service.search(
            replace(req, page=page, size=EXPORT_PAGE), lenient=True, facets=False, partial=False
        )
        for hit in result.hits:
            yield hit
            sent += 1
        if page >= result.pages or not result.hits or page >= 1000:
            return
        page += 1


@bp.get("/export.csv")
def export_csv():
    req = _request()

    def rows():
        for h in _all_hits(req):
            yield {
                "id": h.id,
                "title": h.title,
                "institute": h.institute,
                "regions": h.regions,
                "doc_type": h.doc_type,
                "date": h.date,
                "page": h.page,
                "url": "",
                "link": public_link(f"/documents/{h.id}"),
                "snippet": h.snippet_text,
                "publisher": h.publisher,
            }

    return Response(
        stream_with_context(export.csv_rows(rows())),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="policykb.csv"'},
    )


def _citation_docs(ids: list[str]):
    store = runtime().store
    docs = []
    for doc_id in ids[:500]:
        doc = store.get_document(doc_id, with_passages=False)
        if doc is None:
            abort(404)
        docs.append(doc)
    if not docs:
        abort(404)
    return docs


def _citations(ids: list[str], fmt: str) -> Response:
    docs = _citation_docs(ids)
    if fmt == "ris":
        body = "".join(export.ris(d, public_link(f"/documents/{d.id}")) + "\n" for d in docs)
        mime, ext = "application/x-research-info-systems", "ris"
    else:
        body = "\n".join(export.bibtex(d, public_link(f"/documents/{d.id}")) for d in docs)
        mime, ext = "application/x-bibtex", "bib"
    name = f"policykb-{docs[0].id if len(docs) == 1 else 'selection'}.{ext}"
    return Response(
        body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/documents/<doc_id>.ris")
def doc_ris(doc_id: str):
    return _citations([doc_id], "ris")


@bp.get("/documents/<doc_id>.bib")
def doc_bib(doc_id: str):
    return _citations([doc_id], "bib")


@bp.get("/export.ris")
def selection_ris():
    return _citations(request.args.getlist("id"), "ris")


@bp.get("/export.bib")
def selection_bib():
    return _citations(request.args.getlist("id"), "bib")


# ------------------------------------------------------------------------------ feeds
def _feed(req: SearchRequest, title: str, feed_id: str, self_path: str) -> Response:
    """An Atom feed of the 20 newest matches; ``self_path`` is the feed's own app path
    with a percent-encoded query (RFC 4287 wants an IRI; an ASCII URI is one)."""
    service = runtime().service
    result = service.search(
        replace(req, sort="newest", page=1, size=20), lenient=True, facets=False, partial=False
    )
    docs = service.store.get_documents([h.id for h in result.hits])
    entries = [
        (docs[h.id], public_link(f"/documents/{h.id}"), h.snippet_text)
        for h in result.hits
        if h.id in docs
    ]
    body = export.atom(
        feed_id, title, public_link(self_path), public_link(search_url(req)), entries
    )
    return Response(body, mimetype="application/atom+xml")


@bp.get("/feed.atom")
def search_feed():
    req = _request()
    title = f"policykb: {req.q or '전체 문서'}"
    query = urlencode(req.to_params())
    self_path = url_for("analyst.search_feed") + ("?" + query if query else "")
    return _feed(req, title, "urn:policykb:search:" + query, self_path)


# ---------------------------------------------------------------------- saved searches
def _owner(create: bool = False) -> str | None:
    """Who owns saved searches made in this request: the logged-in admin, else an
    identity held by this browser (a random id in its signed session cookie)."""
    from search_app.views.admin import current_user

    user = current_user()
    if user:
        return f"user:{user}"
    browser = session.get("owner")
    if browser is None and create:
        browser = session["owner"] = secrets.token_urlsafe(16)
    return f"browser:{browser}" if browser else None


@bp.post("/saved")
def save_search():
    from search_app.views.csrf import check_csrf

    check_csrf()
    name = (request.form.get("name") or "").strip()[:100]
    query = (request.form.get("query") or "").lstrip("?")[:2000]
    args = parse_qs(query)
    req = parse_request(args, runtime().settings)  # validated like any search
    limit = current_app.config.get("SAVED_SEARCH_LIMIT") or runtime().settings.saved_search_limit
    # A full list raises SavedLimitError: the app's handler answers 429 with the error page.
    item = runtime().saved.add(
        _owner(create=True), name or req.q or "전체 문서", urlencode(req.to_params()), limit
    )
    return redirect(url_for("analyst.saved_list", created=item.key))


@bp.post("/saved/<key>/delete")
def delete_saved(key: str):
    from search_app.views.csrf import check_csrf

    check_csrf()
    owner = _owner()
    if not owner or not runtime().saved.delete(owner, key):
        abort(404)
    return redirect(url_for("analyst.saved_list"))


@bp.get("/saved")
def saved_list():
    return render_template(
        "saved.html", items=runtime().saved.list(_owner()), created=request.args.get("created")
    )


@bp.get("/api/saved")
def api_saved_list():
    return jsonify([s.to_json() for s in runtime().saved.list(_owner())])


@bp.get("/saved/<key>/feed.atom")
def saved_feed(key: str):
    item = runtime().saved.by_key(key)
    if item is None:
        abort(404)
    req = parse_request(parse_qs(item.query), runtime().settings)
    return _feed(
        req,
        f"policykb 저장 검색: {item.name}",
        f"urn:policykb:saved:{item.key}",
        url_for("analyst.saved_feed", key=item.key),
    )
