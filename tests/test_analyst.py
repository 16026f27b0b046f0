"""Analyst features through the Flask client: analysis views, exports, feeds, saved
searches, related documents and the OpenAPI description checked against real responses."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import bibtexparser
import jsonschema
import pytest
import rispy

ATOM = "{http://www.w3.org/2005/Atom}"


def test_timeline_and_regions_agree_with_facets(client):
    for qs in ("q=스마트시티", "", "q=교통&doc_type=보도자료", "region=경기"):
        search = client.get("/api/search?" + qs).get_json()
        years = {f["value"]: f["count"] for f in search["facets"]["year"]}
        regions = {f["value"]: f["count"] for f in search["facets"]["region"]}
        for group_by in ("institute", "region"):
            analysis = client.get(f"/api/analysis?{qs}&group_by={group_by}").get_json()
            assert analysis["timeline"]["totals"] == years
        assert {r["value"]: r["count"] for r in analysis["regions"] if r["count"]} == regions
        line = client.get(f"/api/analysis?{qs}&group_by=institute").get_json()["timeline"]
        for year, total in line["totals"].items():  # stacks add up by institute
            assert sum(s.get(year, 0) for s in line["series"].values()) == total


def test_analysis_page_draws_clickable_charts(client):
    html = client.get("/analysis?q=스마트시티").get_data(as_text=True)
    assert html.count("<svg") == 3 and "<rect" in html  # timeline, bars, tile map
    assert re.search(r'<a href="/search\?q=[^"]*year_from=\d{4}', html)
    assert re.search(r'<a href="/search\?q=[^"]*region=', html)
    # the charts need no script; the only one is the search box's static file
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_csv_export_streams_every_result(client):
    total = client.get("/api/search?q=도시").get_json()["total"]
    r = client.get("/export.csv?q=도시&size=5")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == total
    assert list(rows[0]) == [
        "id",
        "title",
        "institute",
        "regions",
        "doc_type",
        "date",
        "page",
        "url",
        "link",
        "snippet",
        "publisher",
    ]
    assert all(row["link"].endswith("/documents/" + row["id"]) for row in rows)
    assert all(row["publisher"] for row in rows)  # registry institutes: their own name


def test_citations_parse_in_reference_manager_formats(client):
    ids = [h["id"] for h in client.get("/api/search?size=5").get_json()["hits"]]
    entries = rispy.loads(client.get(f"/documents/{ids[0]}.ris").get_data(as_text=True))
    assert len(entries) == 1 and entries[0]["title"] and entries[0]["type_of_reference"]
    many = rispy.loads(
        client.get("/export.ris?" + "&".join(f"id={i}" for i in ids)).get_data(as_text=True)
    )
    assert len(many) == len(ids)
    bib = bibtexparser.parse_string(
        client.get("/export.bib?" + "&".join(f"id={i}" for i in ids)).get_data(as_text=True)
    )
    assert len(bib.entries) == len(ids) and not bib.failed_blocks
    assert all(e.fields_dict["title"].value for e in bib.entries)


def test_feeds_are_atom(client):
    r = client.get("/feed.atom?q=스마트시티")
    assert r.mimetype == "application/atom+xml"
    root = ET.fromstring(r.data)
    assert root.tag == ATOM + "feed"
    for tag in ("id", "title", "updated"):
        assert root.find(ATOM + tag) is not None
    entries = root.findall(ATOM + "entry")
    assert entries
    dates = [e.find(ATOM + "updated").text for e in entries]
    assert dates == sorted(dates, reverse=True)  # newest first
    for e in entries:
        assert e.find(ATOM + "id").text.startswith("urn:")
        assert e.find(ATOM + "link").get("href")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e.find(ATOM + "updated").text)


def test_saved_search_needs_csrf_and_gives_a_feed(client):
    assert client.post("/saved", data={"name": "x", "query": "q=교통"}).status_code == 400
    html = client.get("/search?q=교통").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post(
        "/saved",
        data={"name": "교통 모니터링", "query": "?q=교통&sort=newest", "csrf_token": token},
    )
    assert r.status_code == 302
    saved = client.get("/api/saved").get_json()
    item = next(s for s in saved if s["name"] == "교통 모니터링")
    feed = ET.fromstring(client.get(item["feed_url"]).data)
    assert feed.findall(ATOM + "entry")


def test_related_documents_cross_institutes(client, indexed):
    hit = client.get("/api/search?q=스마트시티 협의체").get_json()["hits"][0]
    doc = indexed.store.get_document(hit["id"])
    from policykb import analytics

    related = analytics.related(indexed.service, doc)
    assert related and all(d.id != doc.id for d, _ in related)
    assert len({d.institute for d, _ in related} | {doc.institute}) > 1
    html = client.get(f"/documents/{doc.id}?q=협의체").get_data(as_text=True)
    assert "관련 문서" in html and 'href="#p' in html  # jump list to highlighted passages


def test_spacing_suggestion_when_variant_finds_more(client):
    html = client.get("/search?q=탄소 중립 도시").get_data(as_text=True)
    assert "Traceback" not in html


def _schema(spec: dict, ref: str) -> dict:
    schema = dict(spec["components"]["schemas"][ref])
    schema["components"] = spec["components"]
    return schema


@pytest.mark.parametrize(
    "url,ref",
    [
        ("/api/search?q=스마트시티&region=경기", "SearchResult"),
        ("/api/search", "SearchResult"),
        ("/api/analysis?q=교통", "Analysis"),
        ("/api/saved", "SavedSearches"),
        ("/healthz", "Health"),
        ("/api/search?page=-1", "Error"),
    ],
)
def test_openapi_matches_real_responses(client, url, ref):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    path = url.split("?")[0]
    assert path in spec["paths"]
    body = client.get(url).get_json()
    resolver_schema = {**_schema(spec, ref)}
    jsonschema.validate(body, resolver_schema)


def test_openapi_document_schema(client):
    spec = client.get("/api/openapi.json").get_json()
    doc_id = client.get("/api/search").get_json()["hits"][0]["id"]
    jsonschema.validate(
        client.get(f"/api/documents/{doc_id}").get_json(), _schema(spec, "Document")
    )


@pytest.mark.data
def test_csv_export_of_a_thousand_results(tmp_path):
    """1,000+ real policy summaries (kdi-epic), exported in one streamed CSV."""
    from tests.conftest import make_runtime, shared_path
    from wiring.evaluation import build_documents, load_kdi_known_item
    from wiring.wsgi import create_app

    docs, _ = load_kdi_known_item(
        shared_path("data", "kdi-epic", "xlsx"), max_docs=1100, max_queries=1
    )
    rt = make_runtime(tmp_path / "data")
    documents = build_documents(docs, rt.analyzer)
    for i, d in enumerate(documents):
        d.title = f"정책자료 {i:04d}"
        d.date = f"{2020 + i % 5}-0{1 + i % 9}-15"
    with rt.store.connect() as con:
        for d in documents:
            rt.store.put_document(d, rt.analyzer.identity, con)
    rt.backend.rebuild(iter(documents), len(documents))
    app = create_app({"TESTING": True}, settings=rt.settings)
    app.extensions["policykb"] = rt
    client = app.test_client()
    total = client.get("/api/search?size=1").get_json()["total"]
    assert total == len(documents) >= 1000
    r = client.get("/export.csv?sort=oldest")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == total
    assert len({row["id"] for row in rows}) == total
    assert {row["title"] for row in rows} == {d.title for d in documents}
    dates = [row["date"] for row in rows]
    assert dates == sorted(dates)


def test_tile_map_has_every_region_with_the_bar_charts_counts(client):
    """The 시·도 tile map: 17 tiles that link to the region filter, no links inside an
    image role, the same numbers as the bar chart and the JSON, and SVG/PNG exports."""
    html = client.get("/analysis?q=스마트시티").get_data(as_text=True)
    regions = {
        r["value"]: r["count"]
        for r in client.get("/api/analysis?q=스마트시티").get_json()["regions"]
    }
    svg = re.search(r'<svg[^>]*class="tilemap".*?</svg>', html, re.S).group(0)
    assert 'role="img"' not in svg
    tiles = re.findall(
        r'<a href="([^"]+)" class="tile" data-region="(\S+)">.*?data-region="\S+">(\d+)</text>',
        svg,
    )
    assert len(tiles) == 17 == len(regions)
    for href, region, n in tiles:
        assert int(n) == regions[region]
        assert "region=" in href and "q=" in href
    table = dict(re.findall(r'<td data-region="(\S+)">(\d+)</td>', html))
    assert {r: int(n) for r, n in table.items()} == regions
    r = client.get("/analysis/regions.svg?q=스마트시티")
    assert r.mimetype == "image/svg+xml" and "attachment" in r.headers["Content-Disposition"]
    ET.fromstring(r.data)  # well-formed, standalone
    assert r.data.decode().count("<rect") >= 17
    png = client.get("/analysis/regions.png?q=스마트시티")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    img = Image.open(io.BytesIO(png.data))
    assert img.width >= 400 and len(img.getcolors(1 << 16) or []) > 10  # drawn, with text
