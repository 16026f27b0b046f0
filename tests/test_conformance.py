"""The same corpus on both backends gives the same answers: hits (up to score ties), totals,
facet counts, snippets' marked words and error behaviour."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from corpus import SAMPLE_DIR
from policykb.backends import base as ranking
from policykb.query import QuerySyntaxError
from policykb.service import RequestError, parse_request
from tests.conftest import SHARED, es_runtime, make_runtime

QUERIES = [
    {"q": "협의체"},
    {"q": "스마트 시티"},
    {"q": "스마트시티", "region": ["경기"]},
    {"q": '"도시 재생"'},
    {"q": "도시재생 -수도권"},
    {"q": "교통 OR 주거", "doc_type": ["보도자료", "연구보고서"]},
    {"q": "(탄소중립 OR 탄소) 건물"},
    {"q": "비수도권"},
    {"q": "인구 감소", "year_from": "2020", "year_to": "2024"},
    {"q": "지역:충남 유형:보도자료"},
    {"q": "", "institute": ["광주전남연구원"]},
    {"q": "", "sort": "oldest"},
    {"q": "ai"},
    {"q": "2023년"},
    {"q": "", "publisher": ["미상"]},
    {"q": "해외직접투자", "publisher": ["기획재정부", "서울특별시"]},
    {"q": "", "publisher": ["서울특별시"], "doc_type": ["결재문서"]},
    {"q": "발행기관:기재부"},
    {"q": "탄소중립 건물의 이름은?"},
    {"q": "규제샌드박스 도시재생 스마트시티 협의체 운영 성과는 무엇인가?"},
]
# Real public documents beside the sample corpus, so the publisher facet has ministries,
# a local government and 미상 (a press-release fragment without header) to count.
PUBLIC_EXTRAS = (
    "samples/hwpx/hwpx-h-03.hwpx",
    "samples/hwpx/hwpx-02.hwpx",
    "samples/task2279/36477373_gyeoljae.hwpx",
    "samples/76076_regulatory_analysis.hwp",
)


@pytest.fixture(scope="module")
def conformance_corpus(sample_copy, tmp_path_factory):
    folder = tmp_path_factory.mktemp("conf-corpus")
    shutil.copytree(sample_copy, folder / "sample")
    public = SHARED / "data" / "public-docs"
    if public.is_dir():
        for i, rel in enumerate(PUBLIC_EXTRAS):
            shutil.copy(public / rel, folder / f"public-{i}{Path(rel).suffix}")
    return folder


def both_engines(tmp_path_factory, folder: Path, es_url: str, name: str):
    """The folder ingested into an embedded and an Elasticsearch runtime (index ``name``)."""
    emb = make_runtime(tmp_path_factory.mktemp(f"{name}-emb"))
    emb.ingester().run([folder])
    es = es_runtime(tmp_path_factory.mktemp(f"{name}-es"), es_url, name)
    es.ingester().run([folder])
    return emb, es


def engines_on_texts(tmp_path_factory, texts: dict[str, str], es_url: str, name: str):
    """:func:`both_engines` on a folder of the given text files (file name -> text)."""
    folder = tmp_path_factory.mktemp(f"{name}-corpus")
    for file_name, text in texts.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return both_engines(tmp_path_factory, folder, es_url, name)


@pytest.fixture(scope="module")
def pair(tmp_path_factory, conformance_corpus, es_url):
    emb, es = both_engines(tmp_path_factory, conformance_corpus, es_url, "policykb-conformance")
    yield emb, es
    es.backend.drop_all()


def run(rt, params):
    args = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
    args.setdefault("size", ["100"])
    return rt.service.search(parse_request(args, rt.settings))


def ranked_groups(result, tolerance=0.06):
    """Hit ids grouped into runs of near-equal scores (relative tolerance)."""
    groups: list[set[str]] = []
    last = None
    for h in result.hits:
        if last is None or abs(h.score - last) > tolerance * max(abs(last), 1e-9):
            groups.append(set())
        groups[-1].add(h.id)
        last = h.score
    return groups


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: repr(p)[:60])
def test_same_hits_totals_and_facets(pair, params):
    emb, es = (run(rt, params) for rt in pair)
    assert emb.total == es.total
    assert {h.id for h in emb.hits} == {h.id for h in es.hits}
    for facet in ("institute", "region", "doc_type", "year", "publisher"):
        assert {(f.value, f.count) for f in emb.facets[facet]} == {
            (f.value, f.count) for f in es.facets[facet]
        }, facet
    if params.get("q") and params.get("sort", "relevance") == "relevance" and emb.hits:
        # Rank order agrees wherever scores are not (near) ties: the top hit of one
        # backend is in the other's top score group.
        assert emb.hits[0].id in ranked_groups(es)[0] or es.hits[0].id in ranked_groups(emb)[0]


@pytest.mark.parametrize("params", QUERIES[:6], ids=lambda p: repr(p)[:60])
def test_same_marked_words(pair, params):
    def marks(result):
        return {h.id: sorted(re.findall(r"<mark>(.*?)</mark>", h.snippet)) for h in result.hits}

    emb, es = (run(rt, params) for rt in pair)
    assert marks(emb) == marks(es)


def test_same_sort_by_date(pair):
    for sort in ("newest", "oldest"):
        emb, es = (run(rt, {"q": "", "sort": sort}) for rt in pair)
        assert [h.date for h in emb.hits] == [h.date for h in es.hits]


# Two documents with the same words: near each other in one (no compound, no exact phrase:
# the proximity pair alone), in separate paragraphs in the other.
PHRASE_DOCS = {
    "together.txt": "정의로운 전환 보고서\n\n발전소 노동자를 위한 재교육 과정을 운영하고 "
    "지역 경제와 고용을 함께 지킨다.\n",
    "apart.txt": "정의로운 전환 보고서\n\n노동자 가족 지원 제도를 두고 주거를 돕는다.\n\n"
    "재교육 과정을 운영하고 지역 기금을 둔다.\n",
}


@pytest.fixture(scope="module")
def phrase_pair(tmp_path_factory, es_url):
    emb, es = engines_on_texts(tmp_path_factory, PHRASE_DOCS, es_url, "policykb-conformance-phrase")
    yield emb, es
    es.backend.drop_all()


def test_rescored_phrase_outranks_words_apart(phrase_pair, monkeypatch):
    """The positional clauses (phrase and proximity: Elasticsearch's rescore of the first
    hits, the embedded engine's one query) add to the score of the document holding the
    query words together and put it first; the one with the words apart keeps its term
    score. Both engines."""
    for rt in phrase_pair:
        hits = run(rt, {"q": "노동자 재교육"}).hits
        assert len(hits) == 2 and "노동자를 위한 재교육" in hits[0].snippet_text
        with monkeypatch.context() as m:
            m.setattr(ranking, "PHRASE_BOOST", 0.0)
            m.setattr(ranking, "PAIR_BOOST", 0.0)
            terms_only = {h.id: h.score for h in run(rt, {"q": "노동자 재교육"}).hits}
        together, apart = hits
        assert together.score > terms_only[together.id] + 0.1
        assert apart.score == pytest.approx(terms_only[apart.id], rel=1e-4)


FILLER = "지역 주민의 의견을 듣고 예산을 나누어 쓴다. " * 12  # 96 words
HEAD_DOCS = {
    "early.txt": "첫머리 보고서\n\n노동자를 위한 재교육 과정을 연다.\n\n" + FILLER + "\n",
    "late.txt": "끝자락 보고서\n\n" + FILLER + "\n\n노동자를 위한 재교육 과정을 연다.\n",
}


@pytest.fixture(scope="module")
def head_pair(tmp_path_factory, es_url):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ranking, "POSITIONAL_HEAD", 40)  # both documents are longer
        emb, es = engines_on_texts(tmp_path_factory, HEAD_DOCS, es_url, "policykb-conf-head")
    yield emb, es
    es.backend.drop_all()


def test_word_order_bonus_reads_the_head_and_a_quoted_phrase_the_whole_body(head_pair, monkeypatch):
    """The phrase and proximity bonuses of plain words read the first POSITIONAL_HEAD
    terms of the body (the document holding the words together early gains, the one
    holding them together past the head keeps its term score), while a quoted phrase is
    found anywhere in the body and marked there. Both engines."""
    for rt in head_pair:
        hits = run(rt, {"q": "노동자 재교육"}).hits
        with monkeypatch.context() as m:
            m.setattr(ranking, "PHRASE_BOOST", 0.0)
            m.setattr(ranking, "PAIR_BOOST", 0.0)
            terms_only = {h.id: h.score for h in run(rt, {"q": "노동자 재교육"}).hits}
        by_title = {h.title: h for h in hits}
        early, late = by_title["첫머리 보고서"], by_title["끝자락 보고서"]
        assert early.score > terms_only[early.id] + 0.1
        assert late.score == pytest.approx(terms_only[late.id], rel=1e-4)
        quoted = run(rt, {"q": '"재교육 과정"'}).hits
        assert len(quoted) == 2
        assert all("<mark>재교육 과정</mark>" in h.snippet for h in quoted)


@pytest.mark.parametrize("params", [p for p in QUERIES if p.get("q")], ids=lambda p: repr(p)[:60])
def test_rescore_window_keeps_one_query_ranking(pair, params, monkeypatch):
    """Within the rescore window the two-phase scores (Elasticsearch) are the one-query
    scores, so on a corpus smaller than the window the order and scores are those of
    scoring everything at once; the embedded engine scores in one query either way."""
    for rt in pair:
        windowed = run(rt, params)
        monkeypatch.setattr(ranking, "RESCORE_WINDOW", 0)
        whole = run(rt, params)
        monkeypatch.undo()
        assert windowed.total == whole.total
        assert [h.id for h in windowed.hits] == [h.id for h in whole.hits]
        for a, b in zip(windowed.hits, whole.hits, strict=True):
            assert a.score == pytest.approx(b.score, rel=1e-4)


@pytest.mark.parametrize(
    "params,error",
    [
        ({"q": '"협의체'}, QuerySyntaxError),
        ({"q": "지역:화성"}, QuerySyntaxError),
        ({"page": "-1"}, RequestError),
        ({"region": "화성"}, RequestError),
    ],
)
def test_same_errors(pair, params, error):
    for rt in pair:
        with pytest.raises(error):
            run(rt, params)


def test_pagination_agrees(pair):
    emb, es = pair
    for rt in (emb, es):
        pages = [run(rt, {"q": "", "sort": "oldest", "size": "5", "page": str(p)}) for p in (1, 2)]
        assert len({h.id for r in pages for h in r.hits}) == 10


def test_publisher_facet_counts_known_bodies_and_unknown(pair):
    """Both engines count the issuing bodies, 미상 included, and filter on them."""
    if not (SHARED / "data" / "public-docs").is_dir():
        pytest.skip("public-docs not available")
    for rt in pair:
        result = run(rt, {"q": ""})
        counts = {f.value: f.count for f in result.facets["publisher"]}
        assert counts.get("기획재정부") == 1 and counts.get("서울특별시") == 1
        assert counts.get("고용노동부") == 1 and counts.get("미상", 0) >= 1
        only = run(rt, {"q": "", "publisher": ["기획재정부"]})
        assert only.total == 1 and only.hits[0].publisher == "기획재정부"


PASTED = {"q": "스마트시티 도시재생 규제샌드박스 협의체 운영 성과와 지역 정책 과제"}


@pytest.mark.parametrize("params", [*QUERIES[:9], QUERIES[19], PASTED], ids=lambda p: repr(p)[:60])
def test_same_pages_and_passages(pair, params):
    """Passage level: both engines name the same pages with matches, the same number of
    matching passages and snippets from the same page."""
    emb, es = (run(rt, params) for rt in pair)
    for e, s in zip(
        emb.hits, sorted(es.hits, key=lambda h: [x.id for x in emb.hits].index(h.id)), strict=True
    ):
        assert (e.id, e.pages, e.matched_passages, e.page) == (
            s.id,
            s.pages,
            s.matched_passages,
            s.page,
        )
    if any(h.pages for h in emb.hits):
        assert all(h.page in h.pages for h in emb.hits if h.pages)


@pytest.mark.parametrize(
    "terms",
    [
        ["도시", "재생", "도시재생"],
        ["규제", "비용", "편익"],
        ["도시", "재생"],
        ["스마트"],
        ["주택", "없는낱말"],
        # a pasted title's many terms: the embedded engine ranks them in one search
        ["도시", "재생", "도시재생", "주택", "규제", "스마트", "정책", "없는낱말"],
    ],
)
def test_best_passage_holds_the_most_query_terms(pair, terms):
    """The passage a snippet is cut from comes from the engine alone: of all a document's
    passages, one with the most distinct query terms, then the best BM25; both engines
    name the same one (the store reads that passage only)."""
    emb, es = pair
    ids = sorted(emb.store.document_ids())
    a, b = emb.backend.passages(ids, terms), es.backend.passages(ids, terms)
    assert a and a.keys() == b.keys()
    for doc_id in a:
        distinct = {
            p.seq: len({t.term for t in p.tokens} & set(terms))
            for p in emb.store.get_passages(doc_id)
        }
        assert len(a[doc_id].best) == len(b[doc_id].best) == 1
        first, other = a[doc_id].best[0], b[doc_id].best[0]
        assert distinct[first.seq] == max(distinct.values()) > 0
        assert (first.seq, first.page) == (other.seq, other.page)


def test_passage_lookup_agrees(pair):
    emb, es = pair
    ids = sorted(emb.store.document_ids())
    many = ["도시", "재생", "주택", "규제", "스마트", "스마트시티", "정책"]
    for terms in (["도시"], ["스마트", "스마트시티"], ["없는낱말"], many):
        a, b = (
            emb.backend.passages(ids, terms, per_doc=3),
            es.backend.passages(ids, terms, per_doc=3),
        )
        assert a.keys() == b.keys()
        for doc_id in a:
            assert (a[doc_id].pages, a[doc_id].matched) == (b[doc_id].pages, b[doc_id].matched)
            assert {m.seq for m in a[doc_id].best} & {m.seq for m in b[doc_id].best}
            assert [m.seq for m in emb.backend.matching_passages(doc_id, terms)] == [
                m.seq for m in es.backend.matching_passages(doc_id, terms)
            ]


# Documents that score alike for 녹색교량 (same title, same words, bodies of the same shape
# with different numbers) and share one date: ties for relevance and for the date sorts.
TIE_DOCS = 12


def tie_folder(folder: Path) -> list[Path]:
    import random

    rows = ["file,title,date"]
    paths = []
    for k in range(TIE_DOCS):
        rng = random.Random(k)
        numbers = " ".join(str(rng.randrange(100_000, 999_999)) for _ in range(12))
        path = folder / f"tie-{k:02d}.txt"
        path.write_text(
            f"녹색교량 점검 보고서\n\n녹색교량 점검 결과를 정리한다.\n\n{numbers}\n",
            encoding="utf-8",
        )
        rows.append(f"{path.name},녹색교량 점검 보고서,2023-05-01")
        paths.append(path)
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def tie_runtimes(tmp_path_factory, es_url):
    """Each engine twice: the files ingested one by one, in one order and in the other."""
    folder = tmp_path_factory.mktemp("tie-corpus")
    paths = tie_folder(folder)
    out = {}
    for engine in ("embedded", "elasticsearch"):
        for order, files in (("forward", paths), ("reverse", paths[::-1])):
            data = tmp_path_factory.mktemp(f"tie-{engine}-{order}")
            rt = (
                make_runtime(data)
                if engine == "embedded"
                else es_runtime(data, es_url, f"policykb-conformance-tie-{order}")
            )
            for path in files:
                rt.ingester().run([path])
            out[engine, order] = rt
    yield out
    for (engine, _), rt in out.items():
        if engine == "elasticsearch":
            rt.backend.drop_all()


@pytest.mark.parametrize(
    "q,sort",
    [
        ("녹색교량", "relevance"),
        ("녹색교량 점검", "relevance"),
        ("녹색교량", "newest"),
        ("", "oldest"),
    ],
)
def test_equal_scores_in_document_id_order_across_pages(tie_runtimes, q, sort):
    """Hits of equal score (or equal date) come in document id order whatever order the
    files were ingested in, the same on both engines, and paging through them in pages of
    5 shows each hit once (two words: Elasticsearch's rescored request, which takes no
    sort)."""
    lists = {}
    for key, rt in tie_runtimes.items():
        whole = run(rt, {"q": q, "sort": sort})
        assert whole.total == TIE_DOCS, key
        assert len({h.score for h in whole.hits}) == 1 or sort != "relevance", key
        ids = [h.id for h in whole.hits]
        assert ids == sorted(ids), key
        paged = [
            h.id
            for page in (1, 2, 3)
            for h in run(rt, {"q": q, "sort": sort, "size": "5", "page": str(page)}).hits
        ]
        assert paged == ids, key
        lists[key] = ids
    assert len({tuple(v) for v in lists.values()}) == 1


@pytest.mark.parametrize("q", ["도시", "도시 재생"])
def test_the_deepest_page_the_api_allows_answers_on_both_engines(pair, q):
    """page=1000 with size=100 (the limits of parse_request) is past every hit: an empty
    page with the same total, not an engine error (two words: Elasticsearch's rescored
    request reads from the first hit, capped at the index's result window)."""
    emb, es = pair
    first = run(emb, {"q": q})
    assert first.total > 0
    for rt in (emb, es):
        deep = run(rt, {"q": q, "page": "1000", "size": "100"})
        assert deep.hits == [] and deep.total == first.total


# A metadata-only catalogue record (title and authors, no passages) beside documents with
# a body: the record's title word 송부 is one edit from 동부, frequent in the bodies.
EAST_DOCS = {
    f"east-{k}.txt": f"동부 지역 일상감사 의견서 {k}호\n\n동부 지역 사업의 일상감사 의견서입니다.\n"
    for k in range(6)
}
RECORD = {
    "id": "r1",
    "title": "일상감사 의견서 송부",
    "authors": "홍길동",
    "institute": "경기연구원",
    "year": 2021,
}


@pytest.fixture(scope="module")
def catalogue_pair(tmp_path_factory, es_url):
    import json

    from ingest.catalogue import CatalogueImporter

    emb, es = engines_on_texts(tmp_path_factory, EAST_DOCS, es_url, "policykb-conformance-record")
    listing = tmp_path_factory.mktemp("record-list") / "list.jsonl"
    listing.write_text(json.dumps(RECORD, ensure_ascii=False) + "\n", encoding="utf-8")
    for rt in (emb, es):
        report = CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([listing])
        assert report.imported == 1
        rt.rebuild_suggestions()
    yield emb, es
    es.backend.drop_all()


def test_doc_freqs_count_titles_and_authors_only_when_asked(catalogue_pair):
    """Body frequencies (the long-query pruning) are unchanged by a title-only record;
    ``titles=True`` finds its title and author terms; both engines agree."""
    emb, es = catalogue_pair
    analyzer = emb.analyzer
    words = {w: [t.term for t in analyzer.analyze(w) if not t.joined] for w in ("송부", "홍길동")}
    title_terms = sorted({t for ts in words.values() for t in ts})
    body_terms = [t.term for t in analyzer.analyze("동부 지역") if not t.joined]
    seen = {}
    for rt in (emb, es):
        plain = rt.backend.doc_freqs(title_terms + body_terms + ["없는낱말"])
        wide = rt.backend.doc_freqs(title_terms + body_terms + ["없는낱말"], titles=True)
        assert all(plain[t] == 0 for t in title_terms), rt.backend.name
        assert all(plain[t] == 6 for t in body_terms), rt.backend.name
        assert all(wide[t] > 0 for t in title_terms), rt.backend.name
        assert all(wide[t] >= plain[t] for t in body_terms), rt.backend.name
        assert plain["없는낱말"] == wide["없는낱말"] == 0
        seen[rt.backend.name] = (plain, wide)
    assert seen["embedded"] == seen["elasticsearch"]


def test_a_catalogue_records_exact_title_gets_no_did_you_mean(catalogue_pair):
    """Pasting a metadata-only record's exact title finds it and offers no correction
    (송부 -> 동부); a word no document holds still gets one."""
    from tests.test_admin import app_for

    for rt in catalogue_pair:
        client = app_for(rt).test_client()
        html = client.get("/search", query_string={"q": RECORD["title"]}).get_data(as_text=True)
        assert RECORD["title"] in html, rt.backend.name
        assert "혹시 이것을 찾으셨나요?" not in html, rt.backend.name
        typo = client.get("/search", query_string={"q": "됭부"}).get_data(as_text=True)
        assert "혹시 이것을 찾으셨나요?" in typo and "동부" in typo, rt.backend.name


@pytest.mark.parametrize("engine", ["embedded", "elasticsearch"])
def test_a_document_written_during_a_rebuild_is_in_the_new_index(engine, tmp_path_factory, es_url):
    """An ingest beside a re-index (a CLI run while the admin page rebuilds): the new
    document waits for the rebuild and lands in the index that goes live, on both engines
    (Elasticsearch: the alias's writers' lock; embedded: write.lock)."""
    import dataclasses
    import threading
    import time

    data = tmp_path_factory.mktemp(f"rebuild-write-{engine}")
    rt = (
        make_runtime(data)
        if engine == "embedded"
        else es_runtime(data, es_url, "policykb-conformance-rebuild-write")
    )
    rt.ingester().run([SAMPLE_DIR])
    docs = list(rt.store.iter_documents())
    before = rt.backend.count()
    assert before == len(docs) > 5

    def slow():  # the store as the rebuild read it, a little at a time
        for d in docs:
            time.sleep(0.02)
            yield d

    failures: list[BaseException] = []

    def rebuild():
        try:
            rt.backend.rebuild(slow(), len(docs))
        except BaseException as exc:  # reported below
            failures.append(exc)

    thread = threading.Thread(target=rebuild)
    thread.start()
    time.sleep(0.3)  # the rebuild is under way
    newcomer = dataclasses.replace(docs[0], id="written-during-rebuild")
    rt.backend.index([newcomer])
    thread.join()
    assert not failures
    assert rt.backend.count() == before + 1
    if engine == "elasticsearch":
        rt.backend.drop_all()


SPACED_DOCS = {
    "letters.txt": "위원 위촉 안내\n\n위 촉 장\n\n성명 홍길동. 아 프 리 카 개발 협력 자문위원으로 "
    "위촉합니다.\n",
    "plain.txt": "위촉 절차 안내\n\n위원의 위촉과 해촉 절차를 안내합니다. 장 보기 행사.\n",
}


def test_letter_spaced_words_are_found_and_marked(tmp_path_factory, es_url):
    """A word whose letters are spaced (a heading "위 촉 장") is found by the word written
    normally, on both engines, and its snippet marks the spaced letters."""
    emb, es = engines_on_texts(tmp_path_factory, SPACED_DOCS, es_url, "policykb-conformance-spaced")
    for rt in (emb, es):
        for q, shown in (
            ("위촉장", "<mark>위 촉 장</mark>"),
            ("아프리카", "<mark>아 프 리 카</mark>"),
        ):
            result = rt.service.search(parse_request({"q": [q]}, rt.settings))
            assert [h.title for h in result.hits] == ["위원 위촉 안내"], (rt.backend.name, q)
            assert shown in result.hits[0].snippet
    es.backend.drop_all()


# A short query one document matches completely; two others lack one word each.
PARTIAL_DOCS = {
    "all.txt": "해양 쓰레기 수거 사업\n\n해안에서 해양 쓰레기를 수거하는 사업을 시작합니다.\n",
    "sea.txt": "해양 쓰레기 실태 조사\n\n바다에 떠다니는 해양 쓰레기의 양을 조사했습니다.\n",
    "river.txt": "하천 쓰레기 수거 결과\n\n하천 둔치에서 쓰레기를 수거한 결과를 알립니다.\n",
    "other.txt": "도서관 개관 시간 안내\n\n시립 도서관의 개관 시간을 안내합니다.\n",
}


def test_partial_matches_follow_the_only_complete_match(tmp_path_factory, es_url):
    """A short query whose only complete match is one document lists, after it, the
    documents lacking one of its words, labelled with the missing word, on both engines
    and through the API and the HTML page; the total counts the complete match alone."""
    from wiring.wsgi import create_app

    emb, es = engines_on_texts(tmp_path_factory, PARTIAL_DOCS, es_url, "policykb-conformance-part")
    for rt in (emb, es):
        q = "해양 쓰레기 수거"
        result = rt.service.search(parse_request({"q": [q]}, rt.settings))
        assert result.total == 1 and result.partial_total == 2, rt.backend.name
        assert [h.title for h in result.hits][0] == "해양 쓰레기 수거 사업"
        assert [h.partial for h in result.hits] == [False, True, True]
        missing = {h.title: h.missing for h in result.hits[1:]}
        assert missing == {"해양 쓰레기 실태 조사": ["수거"], "하천 쓰레기 수거 결과": ["해양"]}
        assert not result.notices
        # match=all stays strict; an export (partial=False) lists the complete match only
        strict = rt.service.search(parse_request({"q": [q], "match": ["all"]}, rt.settings))
        assert [h.title for h in strict.hits] == ["해양 쓰레기 수거 사업"]
        assert (
            rt.service.search(parse_request({"q": [q]}, rt.settings), partial=False).hits[0].title
            == "해양 쓰레기 수거 사업"
        )
        # page 2 of size 1 is the first partial match; the pager counts all three
        paged = rt.service.search(
            parse_request({"q": [q], "size": ["1"], "page": ["2"]}, rt.settings)
        )
        assert paged.pages == 3 and [h.partial for h in paged.hits] == [True]

        app = create_app({"TESTING": True}, settings=rt.settings)
        app.extensions["policykb"] = rt
        client = app.test_client()
        body = client.get("/api/search", query_string={"q": q}).get_json()
        assert (body["total"], body["partial_total"]) == (1, 2)
        assert [h["partial"] for h in body["hits"]] == [False, True, True]
        assert sorted(w for h in body["hits"] for w in h["missing_words"]) == ["수거", "해양"]
        page = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert page.count("일부 낱말만 포함 · 빠진 낱말:") == 2
        assert "빠진 낱말: 수거" in page and "빠진 낱말: 해양" in page
        assert "이어서 일부 낱말만 포함한 문서 2건" in page
        csv = client.get("/export.csv", query_string={"q": q}).get_data(as_text=True)
        assert "해양 쓰레기 수거 사업" in csv and "하천 쓰레기 수거 결과" not in csv
    es.backend.drop_all()
