"""The JSON API contract and the HTML pages through Flask's test client."""

from __future__ import annotations

import re

import pytest


def test_search_contract(client):
    r = client.get("/api/search?q=협의체&sort=relevance&page=1&size=10")
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    assert set(body) >= {"total", "page", "size", "hits", "facets"}
    assert body["page"] == 1 and body["size"] == 10 and body["total"] >= 1
    for hit in body["hits"]:
        assert set(hit) >= {
            "id",
            "title",
            "institute",
            "regions",
            "doc_type",
            "date",
            "snippet",
            "page",
        }
        assert isinstance(hit["regions"], list)
        assert "<mark>" in hit["snippet"]
    assert set(body["facets"]) == {"institute", "region", "doc_type", "year", "publisher", "author"}
    for values in body["facets"].values():
        assert all(set(v) == {"value", "count"} for v in values)


def test_korean_sent_raw_in_the_url_is_read_as_utf8(client):
    # curl sends ?q=협의체 as raw UTF-8 bytes; a WSGI server passes them on as latin-1.
    encoded = client.get("/api/search?q=%ED%98%91%EC%9D%98%EC%B2%B4&size=5").get_json()
    assert encoded["total"] >= 1
    raw = "q=협의체&size=5".encode().decode("latin-1")
    # ... and the development server (policykb serve) encodes those characters once more
    dev = raw.encode().decode("latin-1")
    for qs in (raw, dev):
        assert client.get("/search", environ_overrides={"QUERY_STRING": qs}).status_code == 200
        body = client.get("/api/search", environ_overrides={"QUERY_STRING": qs}).get_json()
        assert [h["id"] for h in body["hits"]] == [h["id"] for h in encoded["hits"]]


def test_repeated_filters_mean_or(client):
    one = client.get("/api/search?region=서울").get_json()["total"]
    two = client.get("/api/search?region=경기").get_json()["total"]
    both = client.get("/api/search?region=서울&region=경기").get_json()["total"]
    assert both == one + two


def test_region_gyeonggi_contract(client):
    body = client.get("/api/search?region=경기&size=100").get_json()
    assert {h["institute"] for h in body["hits"]} == {
        "경기연구원",
        "경기도 경제과학진흥원",
        "고양시정연구원",
        "수원시정연구원",
    }


@pytest.mark.parametrize(
    "qs",
    [
        "page=-1",
        "page=abc",
        "size=10000",
        "size=0",
        "region=없는지역",
        "year_from=2020&year_to=2010",
        "sort=drop",
        "q=지역:화성",
    ],
)
def test_bad_requests_get_400_json(client, qs):
    r = client.get("/api/search?" + qs)
    assert r.status_code == 400 and r.is_json
    err = r.get_json()["error"]
    assert err["code"] and re.search("[\uac00-\ud7a3]", err["message"])


@pytest.mark.parametrize("qs", ['q="협의체', "page=-1", "size=10000", "region=없는지역"])
def test_bad_requests_get_friendly_pages(client, qs):
    r = client.get("/search?" + qs)
    assert r.status_code in (200, 400)
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "Traceback" not in html


@pytest.mark.parametrize("q", ['"협의체', "(교통", "(교통 (주거)"])
def test_unbalanced_syntax_degrades_in_the_api_too(client, q):
    r = client.get("/api/search", query_string={"q": q})
    assert r.status_code == 200
    assert r.get_json()["notices"]


def test_unbalanced_quote_page_degrades_with_notice(client):
    html = client.get('/search?q="협의체').get_data(as_text=True)
    assert "따옴표" in html and "<mark>협의체</mark>" in html


def test_document_endpoint_and_page(client):
    hit = client.get("/api/search?q=협의체").get_json()["hits"][0]
    doc = client.get(f"/api/documents/{hit['id']}").get_json()
    assert doc["title"] == hit["title"] and doc["passages"]
    html = client.get(f"/documents/{hit['id']}?q=협의체").get_data(as_text=True)
    assert "<mark>협의체</mark>" in html
    assert hit["title"].replace('"', "&#34;").split()[0] in html or hit["title"][:5] in html
    file = client.get(f"/documents/{hit['id']}/file")
    assert file.status_code == 200 and file.headers["Content-Disposition"].startswith("attachment")


def test_unknown_document_is_404(client):
    assert client.get("/api/documents/does-not-exist").status_code == 404
    assert client.get("/documents/does-not-exist").status_code == 404
    assert client.get("/documents/../../etc/passwd/file").status_code == 404


def test_search_page_without_javascript(client):
    html = client.get("/search?q=스마트시티&region=경기").get_data(as_text=True)
    assert '<form class="searchbox"' in html and 'method="get"' in html
    # no inline script: the only script is a static enhancement of the plain form
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "지역: 경기" in html  # active filter chip with a remove link
    assert re.search(r'href="/search\?q=[^"]*region=', html)  # facet links


def test_html_escapes_user_input(client):
    html = client.get("/search?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"
    assert r.get_json()["documents"] > 0


def test_home_page(client):
    html = client.get("/").get_data(as_text=True)
    assert "국토연구원" in html and "검색" in html


TYPOGRAPHY = "「」『』‘’“”·[]()-\"'"


def _pasted_titles(n: int = 50) -> list[str]:
    """Real kdi-epic titles (press releases and research reports), the ones with the most
    brackets and quotes first, as a reader would paste them."""
    from openpyxl import load_workbook

    from tests.conftest import shared_path

    titles: list[str] = []
    for name in ("epic_metadata_2201_03.xlsx", "research_metadata_2309.xlsx"):
        wb = load_workbook(shared_path("data", "kdi-epic", "xlsx", name), read_only=True)
        rows = wb.active.iter_rows(values_only=True)
        col = [str(h) for h in next(rows)].index("자료명")
        titles += [str(r[col]) for r in rows if r[col] and re.search("[가-힣]", str(r[col]))]
        wb.close()
    titles.sort(key=lambda t: (-sum(t.count(c) for c in TYPOGRAPHY), -len(t)))
    return titles[:n]


def test_pasted_real_titles_are_never_refused(client):
    titles = _pasted_titles()
    assert len(titles) == 50 and any("「" in t or "‘" in t for t in titles)
    for title in titles:
        r = client.get("/api/search", query_string={"q": title})
        assert r.status_code == 200, (title, r.get_json())
        page = client.get("/search", query_string={"q": title})
        assert page.status_code == 200, title
        assert "Traceback" not in page.get_data(as_text=True)


def test_very_long_query_keeps_its_rarest_terms(client):
    words = (
        "협의체 스마트시티 도시재생 주거 교통 청년 일자리 인구 고령화 저출산 산업 농촌 "
        "관광 문화 환경 에너지 탄소 기후 재난 안전 복지 의료 교육 대학 연구 혁신 창업 "
        "금융 부동산 토지 항만 철도 도로 공항 물류 수출 통상 예산 세금 행정 자치 분권"
    )
    r = client.get("/api/search", query_string={"q": words})
    assert r.status_code == 200
    body = r.get_json()
    assert any("정보량" in n for n in body["notices"])
