"""policykb catalogue import: ri-portal and generic records become metadata-only documents
(원문 없음), searchable and faceted the same way on both engines; originals that arrive
later join their records."""

from __future__ import annotations

import json
import random
import re
import shutil

import pytest
from click.testing import CliRunner

from corpus import institutes as registry
from ingest.catalogue import CatalogueImporter, split_authors
from policykb.service import parse_request
from tests.catalogue_helpers import ri_portal_sample
from tests.conftest import es_runtime, make_runtime, shared_path
from wiring.cli import main


def search(rt, **params):
    """The UI's search (a title with an unclosed parenthesis is searched as plain words)."""
    args = {k: (v if isinstance(v, list) else [str(v)]) for k, v in params.items()}
    return rt.service.search(parse_request(args, rt.settings), lenient=True)


def importer(rt):
    return CatalogueImporter(rt.store, rt.backend, rt.analyzer)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return ri_portal_sample(tmp_path_factory.mktemp("ri"), 300, 60)


@pytest.fixture(scope="module", params=["embedded", "elasticsearch"])
def catalogued(request, tmp_path_factory, sample):
    data = tmp_path_factory.mktemp(f"cat-{request.param}")
    if request.param == "elasticsearch":
        rt = es_runtime(data, request.getfixturevalue("es_url"), "policykb-catalogue")
    else:
        rt = make_runtime(data)
    report = importer(rt).run(list(sample))
    yield rt, report
    if request.param == "elasticsearch":
        rt.backend.drop_all()


def test_import_counts_and_no_original(catalogued, sample):
    rt, report = catalogued
    total = sum(len(json.loads(p.read_text(encoding="utf-8"))) for p in sample)
    assert report.imported + report.rejected == total == 360
    assert rt.store.count_documents() == report.imported == rt.backend.count()
    r = search(rt, q="")
    assert r.total == report.imported
    assert all(not h.has_original for h in r.hits)
    assert all(h.to_json()["has_original"] is False for h in r.hits)


def test_title_search_finds_record_in_top_three(catalogued, sample):
    rt, _ = catalogued
    records = json.loads(sample[0].read_text(encoding="utf-8"))
    rng = random.Random(3)
    for rec in rng.sample(records, 15):
        r = search(rt, q=rec["title"].replace('"', " "))
        titles = [" ".join(h.title.split()) for h in r.hits[:3]]
        assert " ".join(rec["title"].split()) in titles, rec["title"]


def test_author_search_filter_and_facet(catalogued, sample):
    rt, _ = catalogued
    records = json.loads(sample[0].read_text(encoding="utf-8"))
    rec = next(r for r in records if isinstance(r["authors"], list) and r["authors"])
    name = rec["authors"][0]
    by_name = search(rt, q=name, size=100)
    assert rec["title"] in [h.title for h in by_name.hits]
    filtered = search(rt, author=name, size=100)
    assert filtered.total >= 1 and all(name in h.authors for h in filtered.hits)
    facet = {f.value: f.count for f in search(rt, q="").facets["author"]}
    assert facet and max(facet.values()) >= 2


def test_institute_region_and_unknown_institutes(catalogued):
    rt, _ = catalogued
    r = search(rt, q="")
    regions = {f.value: f.count for f in r.facets["region"]}
    institutes = {f.value: f.count for f in r.facets["institute"]}
    assert regions.get("충남", 0) == institutes.get("충남연구원", 0) > 0
    assert regions.get("대전", 0) >= institutes.get("대전세종연구원", 0)
    # National institutes the registry did not know are registered, as non-members.
    kotrans = registry.lookup("한국교통연구원")
    assert kotrans is not None and not kotrans.member and kotrans.registered
    if "한국교통연구원" in institutes:
        assert search(rt, institute="한국교통연구원").total == institutes["한국교통연구원"]


def test_records_name_their_institute_as_issuing_body(catalogued):
    """A catalogue record's 발행기관 is the institute that published it (not 미상): the
    publisher facet counts the institutes, the filter finds their records."""
    rt, _ = catalogued
    r = search(rt, q="", size=100)
    assert all(h.publisher == h.institute for h in r.hits)
    institutes = {f.value: f.count for f in r.facets["institute"]}
    publishers = {f.value: f.count for f in r.facets["publisher"]}
    assert publishers == institutes and "미상" not in publishers
    name, count = max(publishers.items(), key=lambda kv: kv[1])
    assert search(rt, publisher=name).total == count


def test_reimport_rewrites_records_made_by_an_older_form(tmp_path, sample, monkeypatch):
    """Importing the same file again after the record form changed (here: 미상 as the
    publisher, as before) updates every record instead of reporting them unchanged."""
    from ingest import catalogue

    rt = make_runtime(tmp_path / "data")
    with monkeypatch.context() as m:
        m.setattr(catalogue, "RECORD_FORM", "1")
        m.setattr(catalogue, "record_publisher", lambda rec: "미상")
        first = importer(rt).run([sample[0]])
    assert search(rt, q="", size=1).facets["publisher"][0].value == "미상"
    again = importer(rt).run([sample[0]])
    assert again.updated == first.imported and again.unchanged == 0
    assert "미상" not in {f.value for f in search(rt, q="").facets["publisher"]}


def test_engines_agree_on_catalogue(tmp_path_factory, sample, es_url):
    emb = make_runtime(tmp_path_factory.mktemp("agree-emb"))
    es = es_runtime(tmp_path_factory.mktemp("agree-es"), es_url, "policykb-catalogue-agree")
    for rt in (emb, es):
        importer(rt).run(list(sample))
    for params in ({"q": "도시"}, {"q": "", "region": "경기"}, {"q": "지역 발전"}):
        a, b = search(emb, size=100, **params), search(es, size=100, **params)
        assert a.total == b.total
        assert {h.id for h in a.hits} == {h.id for h in b.hits}
        for facet in ("institute", "region", "doc_type", "year"):
            assert {(f.value, f.count) for f in a.facets[facet]} == {
                (f.value, f.count) for f in b.facets[facet]
            }
    es.backend.drop_all()


def test_idempotent_incremental_sync_and_rejections(tmp_path):
    rt = make_runtime(tmp_path / "data")
    cat = tmp_path / "list.jsonl"
    rows = [
        {
            "id": "1",
            "title": "스마트시티 추진 전략",
            "authors": "김가나, 이다라",
            "institute": "경기연구원",
            "year": 2020,
            "url": "https://www.gri.re.kr/r/1",
        },
        {
            "id": "2",
            "title": "지역 균형발전 방안",
            "authors": ["박마바"],
            "institute": "가상연구원",
            "year": "2021",
        },
        {
            "url": "https://example.invalid/3",
            "title": "식별자 없이 URL만",
            "institute": "충남연구원",
            "date": "2022-03-04",
        },
        {"id": "4", "title": "", "institute": "경기연구원"},
        {"id": "5", "title": "연도가 이상함", "institute": "경기연구원", "year": "작년"},
        {"id": "6", "title": "날짜 없는 기록", "institute": "경기연구원", "doc_type": "이슈리포트"},
    ]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{not json\n"
    cat.write_text(text, encoding="utf-8")
    first = importer(rt).run([cat])
    assert (first.imported, first.updated, first.rejected) == (4, 0, 3)
    reasons = " ".join(r for _, r in first.rejections)
    assert "제목" in reasons and "연도" in reasons and "JSON" in reasons
    again = importer(rt).run([cat])
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 4)
    # unknown institute: registered as a non-member
    assert registry.lookup("가상연구원").member is False
    undated = search(rt, q="날짜 없는 기록").hits[0]
    assert undated.date is None and undated.doc_type == "정책브리프"
    # change one, drop one, sync
    rows[0]["title"] = "스마트시티 추진 전략 (개정)"
    cat.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:1] + rows[2:3]) + "\n",
        encoding="utf-8",
    )
    synced = importer(rt).run([cat], sync=True)
    assert (synced.updated, synced.removed) == (1, 2)
    assert rt.store.count_documents() == 2 == rt.backend.count()
    assert search(rt, q="개정").total == 1
    # a second source is untouched by this source's sync
    other = tmp_path / "other.csv"
    other.write_text(
        "id,title,authors,year,institute,doc_type,url\n"
        "a,CSV로 온 보고서,홍길동;김철수,2019,서울연구원,연구보고서,https://www.si.re.kr/a\n",
        encoding="utf-8",
    )
    assert importer(rt).run([other]).imported == 1
    assert importer(rt).run([cat], sync=True).removed == 0
    csv_hit = search(rt, q="CSV로 온 보고서").hits[0]
    assert csv_hit.authors == ["홍길동", "김철수"] and csv_hit.url == "https://www.si.re.kr/a"


def test_cli_prints_counts_and_ui_marks_no_original(tmp_path, sample):
    rt = make_runtime(tmp_path / "data")
    result = CliRunner().invoke(
        main,
        ["catalogue", "import", "--quiet", str(sample[1])],
        env={"POLICYKB_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 0, result.output
    assert "imported 60, updated 0, rejected 0" in result.output
    from wiring.wsgi import create_app

    app = create_app({"TESTING": True}, settings=rt.settings)
    client = app.test_client()
    page = client.get("/search?q=").get_data(as_text=True)
    assert "원문 없음" in page and "기관 페이지" in page
    hit = client.get("/api/search?q=").get_json()["hits"][0]
    assert hit["has_original"] is False and hit["url"].startswith("https://")
    doc_page = client.get(f"/documents/{hit['id']}").get_data(as_text=True)
    assert "원문 없음" in doc_page and hit["url"].replace("&", "&amp;") in doc_page
    assert client.get(f"/api/documents/{hit['id']}").get_json()["has_original"] is False


def test_uploaded_original_joins_its_record_by_title(tmp_path):
    """A file ingested from a folder whose institute, year and title match a record."""
    src = shared_path("data", "public-docs", "samples", "task2279")
    name = sorted(src.glob("*.hwpx"))[0]
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(name, folder / name.name)
    (folder / "manifest.csv").write_text(
        "file,title,institute,doc_type,date,url\n"
        f"{name.name},서울시 결재 문서 (가),서울연구원,기타,2024-05-02,\n",
        encoding="utf-8",
    )
    rt = make_runtime(tmp_path / "data")
    cat = tmp_path / "c.jsonl"
    cat.write_text(
        json.dumps(
            {
                "id": "9",
                "title": "서울시 결재문서(가)",
                "authors": ["갑을병"],
                "institute": "서울시정개발연구원",
                "year": 2024,
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    importer(rt).run([cat])
    rt.ingester().run([folder])
    assert rt.store.count_documents() == 1
    hit = search(rt, q="결재문서").hits[0]
    assert hit.has_original and hit.authors == ["갑을병"] and hit.date == "2024-05-02"
    # ... and the other way round: a record imported after its file joins the file.
    rt2 = make_runtime(tmp_path / "data2")
    rt2.ingester().run([folder])
    report = importer(rt2).run([cat])
    assert report.attached == 1 and rt2.store.count_documents() == 1
    assert search(rt2, q="갑을병").hits[0].has_original


def test_split_authors():
    assert split_authors("윤정은 외") == ["윤정은"]
    assert split_authors("강영준, 정재욱, 김경하") == ["강영준", "정재욱", "김경하"]
    assert split_authors(["a", "a", " b "]) == ["a", "b"]
    assert split_authors(None) == []


def test_report_cover_authors_are_a_field_and_facet(indexed):
    """연구책임자/연구진 of ingested report covers (the sample corpus), on both engines."""
    facet = search(indexed, q="").facets["author"]
    assert facet, "no author facet from report covers"
    top = facet[0]
    assert search(indexed, author=top.value).total == top.count
    assert search(indexed, q=top.value, match="all").total >= 1


def test_year_only_records_show_their_year_everywhere(catalogued):
    """A record known only by its year is shown as "2019년" in the results, on its page
    and in other pages' related-documents lists, never as a first of January."""
    from wiring.wsgi import create_app

    rt, _ = catalogued
    client = create_app({"TESTING": True}, settings=rt.settings).test_client()
    html = client.get("/search?q=연구").get_data(as_text=True)
    assert re.search(r"<span>\d{4}년</span>", html) and "-01-01" not in html
    pages_with_related = 0
    for hit in search(rt, q="도시", size=10).hits:
        page = client.get(f"/documents/{hit.id}").get_data(as_text=True)
        assert "-01-01" not in page
        pages_with_related += "관련 문서" in page
    assert pages_with_related
