"""The issuing body (발행기관) as a user meets it: results, facet and filter, document page,
JSON API (validated against the OpenAPI document), CSV/RIS/BibTeX; 미상 breaks nothing."""

from __future__ import annotations

import csv
import io
import shutil

import jsonschema
import pytest

from tests.conftest import make_runtime, shared_path

FILES = {  # name -> path under ../shared/data
    "moef.hwpx": "public-docs/samples/hwpx/hwpx-h-03.hwpx",  # 기획재정부 (logo is an image)
    "fragment.hwpx": "public-docs/samples/hwpx/hwpx-02.hwpx",  # no header at all: 미상
    "seoul.hwpx": "public-docs/samples/task2279/36477373_gyeoljae.hwpx",  # -> 서울특별시
    # a regional office's press release (경인지방통계청 -> 통계청); in no labelled set
    "kostat.pdf": "kostat/press_2022_11_10.pdf",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from wiring.wsgi import create_app

    folder = tmp_path_factory.mktemp("pub")
    for name, rel in FILES.items():
        shutil.copy(shared_path("data", *rel.split("/")), folder / name)
    rt = make_runtime(tmp_path_factory.mktemp("pub-data"))
    report = rt.ingester().run([folder])
    assert report.failed == 0, report.failures
    app = create_app({"TESTING": True}, settings=rt.settings)
    app.extensions["policykb"] = rt
    return app.test_client()


def _doc(client, publisher: str) -> dict:
    hits = client.get("/api/search", query_string={"publisher": publisher}).get_json()["hits"]
    assert len(hits) == 1
    return client.get(f"/api/documents/{hits[0]['id']}").get_json()


@pytest.mark.data
def test_publisher_facet_filter_and_unknown(client):
    body = client.get("/api/search?q=").get_json()
    counts = {f["value"]: f["count"] for f in body["facets"]["publisher"]}
    assert counts == {"기획재정부": 1, "서울특별시": 1, "통계청": 1, "미상": 1}
    kostat = _doc(client, "통계청")
    assert kostat["title"] == "「수도권 광역지표」개발 및 온라인 시범 서비스 시작"
    assert (kostat["doc_type"], kostat["date"]) == ("보도자료", "2022-11-10")
    seoul = _doc(client, "서울특별시")
    assert seoul["department"] == "동부수도사업소" and seoul["doc_type"] == "결재문서"
    assert seoul["title"] == "일괄요금경정"
    assert _doc(client, "미상")["publisher"] == "미상"
    assert client.get("/api/search?publisher=" + "가" * 101).status_code == 400
    by_query = client.get("/api/search", query_string={"q": "발행기관:기재부"}).get_json()
    assert [h["publisher"] for h in by_query["hits"]] == ["기획재정부"]


@pytest.mark.data
def test_search_and_document_pages_show_the_publisher(client):
    page = client.get("/search?q=해외직접투자").get_data(as_text=True)
    assert "발행기관" in page and "기획재정부" in page
    filtered = client.get("/search", query_string={"publisher": "미상"})
    assert filtered.status_code == 200 and "미상" in filtered.get_data(as_text=True)
    doc = _doc(client, "기획재정부")
    html = client.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert "<dt>발행기관</dt><dd>기획재정부</dd>" in html
    unknown = _doc(client, "미상")
    assert client.get(f"/documents/{unknown['id']}").status_code == 200


@pytest.mark.data
def test_exports_carry_the_publisher(client):
    doc = _doc(client, "기획재정부")
    assert "PB  - 기획재정부" in client.get(f"/documents/{doc['id']}.ris").get_data(as_text=True)
    bib = client.get(f"/documents/{doc['id']}.bib").get_data(as_text=True)
    assert "기획재정부" in bib
    raw = client.get("/export.csv?q=").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert {r["publisher"] for r in rows} == {"기획재정부", "서울특별시", "통계청", "미상"}


@pytest.mark.data
def test_api_matches_openapi_with_publisher(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    resolver = {"components": {"schemas": schemas}}
    body = client.get("/api/search?q=").get_json()
    jsonschema.validate(body, {**schemas["SearchResult"], **resolver})
    doc = _doc(client, "서울특별시")
    jsonschema.validate(doc, {**schemas["Document"], **resolver})
    names = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert "publisher" in names
