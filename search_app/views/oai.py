"""OAI-PMH 2.0 endpoint: GET or POST /oai; the protocol lives in policykb.oai."""

from __future__ import annotations

from flask import Blueprint, Response, request

from policykb.oai import OAIProvider
from search_app.views.common import runtime

bp = Blueprint("oai", __name__)


def provider() -> OAIProvider:
    rt = runtime()
    s = rt.settings
    return OAIProvider(rt.store, s.oai_repository_name, s.oai_admin_email, s.oai_page_size)


@bp.route("/oai", methods=["GET", "POST"])
def oai() -> Response:
    source = request.form if request.method == "POST" else request.args
    params = {k: source.getlist(k) for k in source}
    # The configured public address (POLICYKB_PUBLIC_URL), never the request's Host.
    base_url = runtime().settings.base_url.rstrip("/") + "/oai"
    xml = provider().respond(params, base_url)
    return Response(xml, mimetype="text/xml", content_type="text/xml; charset=utf-8")
