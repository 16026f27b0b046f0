"""Search suggestions: hand-written inputs of the four kinds (prefix with spacing
ignored, 초성 and mixed, typos, wrong keyboard layout) against an index built from the
sample corpus and the kdi-epic vocabulary; the API, "did you mean" and the saved index."""

from __future__ import annotations

import jsonschema
import pytest

from analyzers import jamo
from analyzers.kiwi import normalize_text
from policykb import suggest
from policykb.models import Document
from tests.conftest import shared_path

KDI_TITLES = 3000

PREFIX = [
    ("탄소중", "탄소중립"),
    ("탄소 중", "탄소중립"),
    ("스마트 시", "스마트시티"),
    ("스마트시", "스마트시티"),
    ("대중교", "대중교통"),
    ("자율주", "자율주행"),
    ("균형 발", "균형발전"),
    ("광역교", "광역교통"),
    ("광역철", "광역철도"),
    ("국무회", "국무회의"),
    ("과학기술정", "과학기술정보통신부"),
    ("금융감", "금융감독원"),
    ("산업통상", "산업통상자원부"),
    ("방송통", "방송통신위원회"),
    ("공공임", "공공임대"),
    ("고용노", "고용노동부"),
    ("메가", "메가시티"),
    ("지방 소", "지방소멸"),
    ("국가시범", "국가시범도시"),
    ("도시재생뉴", "도시재생뉴딜"),
    ("리빙", "리빙랩"),
    ("인공지", "인공지능"),
    ("도심 항공", "도심항공교통"),
    ("국토연", "국토연구원"),
    ("스마트싵", "스마트시티"),  # half-typed: 싵 is on its way to 시티
]
INITIALS = [
    ("ㅌㅅㅈㄹ", "탄소중립"),
    ("ㅅㅁㅌㅅㅌ", "스마트시티"),
    ("ㄷㅈㄱㅌ", "대중교통"),
    ("ㅈㅇㅈㅎ", "자율주행"),
    ("ㄱㅎㅂㅈ", "균형발전"),
    ("ㄱㅇㄱㅌ", "광역교통"),
    ("ㄱㅇㅊㄷ", "광역철도"),
    ("ㄱㅁㅎㅇ", "국무회의"),
    ("ㄱㅇㄱㄷㅇ", "금융감독원"),
    ("ㄱㄱㅇㄷ", "공공임대"),
    ("ㄱㅇㄴㄷㅂ", "고용노동부"),
    ("ㅁㄱㅅㅌ", "메가시티"),
    ("ㅈㅂㅅㅁ", "지방소멸"),
    ("ㄹㅂㄹ", "리빙랩"),
    ("ㅇㄱㅈㄴ", "인공지능"),
    ("ㄷㅅㅈㅅㄴㄷ", "도시재생뉴딜"),
    ("ㄷㅅㅎㄱㄱㅌ", "도심항공교통"),
    ("ㄱㅌㅇㄱㅇ", "국토연구원"),
    ("ㅌㄱㅊ", "통계청"),
    ("탄ㅅㅈㄹ", "탄소중립"),
    ("스ㅁㅌㅅㅌ", "스마트시티"),
    ("대중ㄱㅌ", "대중교통"),
    ("자율ㅈㅎ", "자율주행"),
    ("광역ㅊㄷ", "광역철도"),
    ("ㄱㅎ발ㅈ", "균형발전"),
]
TYPOS = [
    ("스마트시트", "스마트시티"),
    ("탄소중닙", "탄소중립"),
    ("대중교툥", "대중교통"),
    ("자율주헹", "자율주행"),
    ("균형발잔", "균형발전"),
    ("광역교동", "광역교통"),
    ("광역철두", "광역철도"),
    ("국무회이", "국무회의"),
    ("금융감독윈", "금융감독원"),
    ("공공임데", "공공임대"),
    ("고용노동뷰", "고용노동부"),
    ("메가시테", "메가시티"),
    ("지방소먈", "지방소멸"),
    ("리빙렙", "리빙랩"),
    ("인곧지능", "인공지능"),
    ("도시재셍", "도시재생"),
    ("도심항공교퉁", "도심항공교통"),
    ("국토연구언", "국토연구원"),
    ("통계쳥", "통계청"),
    ("디지텉", "디지털"),
    ("코로니", "코로나"),
    ("과학기술정보통신뷰", "과학기술정보통신부"),
]
LAYOUT = [
    ("tmakxmtlxl", "스마트시티"),
    ("xksthwndflq", "탄소중립"),
    ("eowndryxhd", "대중교통"),
    ("wkdbfwngod", "자율주행"),
    ("rbsgudqkfwjs", "균형발전"),
    ("rhkddurryxhd", "광역교통"),
    ("rnranghldml", "국무회의"),
    ("rmadbdrkaehrdnjs", "금융감독원"),
    ("rhdrhddlaeo", "공공임대"),
    ("rhdydshehdqn", "고용노동부"),
    ("aprktlxl", "메가시티"),
    ("wlqkdthauf", "지방소멸"),
    ("flqldfoq", "리빙랩"),
    ("dlsrhdwlsmd", "인공지능"),
    ("ehtlwotod", "도시재생"),
    ("rnrxhdusrndnjs", "국토연구원"),
    ("xhdrPcjd", "통계청"),
    ("elwlxjf", "디지털"),
    ("zhfhsk", "코로나"),
    ("xmrgjcjd", "특허청"),
    # the reverse: latin words typed with the Korean input method on
    ("ㄹㅅㅁ", "FTA"),
    ("ㅑㅊㅅ", "ICT"),
    ("ㅠㄱㅅ", "BRT"),
]


def _kdi_title_documents(analyzer) -> list[Document]:
    """The first kdi-epic press-release titles with their publishers (titles only: the
    vocabulary without the cost of analyzing the summaries)."""
    from openpyxl import load_workbook

    out: list[Document] = []
    for xlsx in sorted(shared_path("data", "kdi-epic", "xlsx").glob("epic_metadata_*.xlsx")):
        wb = load_workbook(xlsx, read_only=True)
        rows = wb.active.iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        ti, pi = header.index("자료명"), header.index("발간처")
        for row in rows:
            title = normalize_text(str(row[ti] or "").strip())
            if not title:
                continue
            publisher = str(row[pi] or "").strip() or None
            tokens = analyzer.analyze(title)
            out.append(
                Document(
                    f"kdi-{len(out)}",
                    title,
                    (publisher or "미상").split()[0],
                    [],
                    "보도자료",
                    None,
                    institute_published=publisher,
                    title_tokens=tokens,
                )
            )
            if len(out) >= KDI_TITLES:
                break
        wb.close()
        if len(out) >= KDI_TITLES:
            break
    return out


@pytest.fixture(scope="module")
def kdi_docs():
    """Analyzed once per module (not per backend): the shipped lexicon, as `indexed` uses."""
    from analyzers import get_analyzer

    return _kdi_title_documents(get_analyzer())


@pytest.fixture(scope="module")
def index(indexed, kdi_docs) -> suggest.SuggestIndex:
    words = [w.word for w in indexed.analyzer.lexicon.user_words]
    return suggest.build([*indexed.store.iter_documents(), *kdi_docs], dictionary=words)


def _first(index, q: str) -> str | None:
    got = index.suggest(q, 5)
    return got[0].text if got else None


@pytest.mark.data
@pytest.mark.parametrize(
    "kind,cases",
    [("prefix", PREFIX), ("initials", INITIALS), ("typo", TYPOS), ("layout", LAYOUT)],
)
def test_each_kind_of_input_puts_the_expected_word_first(index, kind, cases):
    assert len(cases) >= 20
    wrong = {q: (_first(index, q), want) for q, want in cases if _first(index, q) != want}
    assert not wrong, f"{kind}: got, wanted: {wrong}"
    for q, _ in cases:
        assert index.suggest(q, 1)[0].match == kind


def test_jamo_keystrokes_and_layouts():
    assert jamo.keystrokes("스마트 시티") == "ㅅㅡㅁㅏㅌㅡ ㅅㅣㅌㅣ"
    assert jamo.keystrokes("왜 닭") == "ㅇㅗㅐ ㄷㅏㄹㄱ"
    assert jamo.initials("스마트시티") == "ㅅㅁㅌㅅㅌ"
    assert jamo.compose(jamo.latin_to_jamo("tmakxmtlxl")) == "스마트시티"
    assert jamo.compose(jamo.latin_to_jamo("dhoekfrrkqt")) == "왜닭값"
    assert jamo.jamo_to_latin("ㄷㄴㅎ") == "esg"
    assert jamo.matches_initials("스ㅁㅌ", "스마트시티")
    assert not jamo.matches_initials("스ㄷ", "스마트시티")
    assert suggest.damerau("ㅅㅣㅌㅣ", "ㅅㅣㅌㅡ", 2) == 1
    assert suggest.damerau("abcd", "abdc", 2) == 1


def test_suggestions_rank_frequent_words_first_and_ignore_spacing(indexed):
    index = suggest.build(indexed.store.iter_documents())
    a, b = index.suggest("스마트 시", 10), index.suggest("스마트시", 10)
    assert [s.text for s in a] == [s.text for s in b]
    weights = [s.weight for s in a if s.match == "prefix"]
    assert weights == sorted(weights, reverse=True)


def test_corrections_fix_a_query_word_by_word(index):
    assert index.corrections("탄소중닙 스마트시트")[0].text == "탄소중립 스마트시티"
    assert index.corrections("tmakxmtlxl 대중교툥")[0].text == "스마트시티 대중교통"
    assert all(s.text != "스마트시티" for s in index.corrections("스마트시티"))


def test_index_is_saved_in_the_data_dir_and_reloaded(indexed, tmp_path):
    """Ingest writes the index next to the store; the service reads it back, and picks up
    a newer one written by another process."""
    assert indexed.suggest_path.is_file()
    assert indexed.suggester.suggest("탄소 중", 1)[0].text == "탄소중립"
    path = tmp_path / "suggest.idx"
    suggest.build([]).save(path)
    reader = suggest.Suggester(path)
    assert reader.suggest("탄소") == []
    suggest.build(indexed.store.iter_documents()).save(path)
    import os

    os.utime(path, (1, 1))  # a different mtime, as a rewrite by another process gives
    reader._checked = 0.0
    assert reader.suggest("탄소")[0].text.startswith("탄소")


def test_a_damaged_index_file_is_ignored(tmp_path):
    path = tmp_path / "suggest.idx"
    path.write_bytes(b"not an index")
    assert suggest.SuggestIndex.load(path) is None
    assert suggest.Suggester(path).suggest("탄소") == []


# --------------------------------------------------------------------------------- API
def test_api_suggest_matches_its_openapi_description(client):
    spec = client.get("/api/openapi.json").get_json()
    op = spec["paths"]["/api/suggest"]["get"]
    assert {"200", "400", "429"} <= set(op["responses"])
    schema = {**spec["paths"]["/api/suggest"]["get"]["responses"]["200"]["content"]}
    ok = client.get("/api/suggest?q=ㅅㅁㅌㅅㅌ&limit=3")
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["suggestions"][0]["text"] == "스마트시티"
    assert len(body["suggestions"]) <= 3
    ref = schema["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    jsonschema.validate(body, spec["components"]["schemas"][ref])
    for url, param in [
        ("/api/suggest", "q"),
        ("/api/suggest?q=스마트&limit=0", "limit"),
        ("/api/suggest?q=스마트&limit=많이", "limit"),
        ("/api/suggest?q=스마트&limit=", "limit"),
        ("/api/suggest?q=" + "가" * 101, "q"),
    ]:
        r = client.get(url)
        assert r.status_code == 400, url
        error = r.get_json()["error"]
        assert error["param"] == param
        assert any("\uac00" <= c <= "\ud7a3" for c in error["message"])
        jsonschema.validate(r.get_json(), spec["components"]["schemas"]["Error"])
    assert client.get("/api/suggest?q=").get_json()["suggestions"] == []


def test_api_suggest_is_rate_limited_apart_from_search(indexed):
    """Suggestions have their own, larger bucket: typing cannot use up the searches."""
    from search_app import SUGGEST_RATE
    from tests.conftest import make_runtime
    from wiring.wsgi import create_app

    rt = make_runtime(indexed.settings.data_dir, rate_limit=4)
    app = create_app({"TESTING": True}, settings=rt.settings)
    client = app.test_client()
    burst = 4 * SUGGEST_RATE // 4
    codes = [client.get("/api/suggest?q=스마트").status_code for _ in range(burst + 2)]
    assert codes[:burst] == [200] * burst and codes[-1] == 429
    last = client.get("/api/suggest?q=스마트")
    assert last.get_json()["error"]["code"] == "rate_limited" and last.headers["Retry-After"]
    assert client.get("/api/search?q=스마트").status_code == 200


def test_results_page_offers_a_correction_and_suggested_queries(client):
    total = client.get("/api/search?q=탄소중립").get_json()["total"]
    assert total >= 3
    html = client.get("/search?q=탄소중닙").get_data(as_text=True)
    assert "혹시 이것을 찾으셨나요?" in html and ">탄소중립</a>" in html
    html = client.get("/search?q=xksthwndflq").get_data(as_text=True)
    assert ">탄소중립</a>" in html
    # a query that finds plenty gets no correction, but suggested queries as links
    html = client.get("/search?q=스마트").get_data(as_text=True)
    assert "혹시 이것을 찾으셨나요?" not in html
    assert 'aria-label="추천 검색어"' in html and ">스마트시티</a>" in html


def test_a_dictionary_edit_is_applied_to_the_saved_index_in_place(indexed, tmp_path):
    """What a lexicon edit saves first (seconds, before its full rebuild): the index with
    the dictionary's words replaced; the collection's entries stay as they were."""
    words = [w.word for w in indexed.analyzer.lexicon.user_words]
    path = tmp_path / "suggest.idx"
    suggest.build(indexed.store.iter_documents(), dictionary=words).save(path)
    index = suggest.SuggestIndex.load(path)
    assert index.dictionary == words
    word = "얼룩말도시실험"  # in no document
    assert not [s for s in index.suggest("얼룩말도") if s.text == word]
    assert [s for s in index.suggest(words[0]) if s.text == words[0]]
    added = index.with_dictionary([*words[1:], word])
    assert [s.kind for s in added.suggest("얼룩말도") if s.text == word] == ["dictionary"]
    # the removed word goes (the rebuild that follows puts back what documents still have)
    assert not [s for s in added.suggest(words[0]) if s.text == words[0]]
    assert added.suggest("탄소 중", 1)[0].text == "탄소중립"  # the collection's terms stay
    assert len(added) == len(index)  # one word in, one out


def test_a_pasted_paragraph_is_answered_without_a_typo_search(index, monkeypatch):
    """A results page for a long pasted text asks the suggester for completions and
    corrections: no entry is within two edits of it, so no typo probe is made (the probes
    of 500 syllables took 12 s on the 24,000-record catalogue, 1.5 s on any index). The
    real deletion function is only counted, and a short typo still uses it."""
    calls = []
    real = suggest._deletes
    monkeypatch.setattr(suggest, "_deletes", lambda key: calls.append(key) or real(key))
    assert index.suggest("가" * 500, 7) == []
    assert index.corrections("가" * 500) == []
    assert calls == []
    index.corrections("탄소줌립")
    assert calls


def test_did_you_mean_keeps_the_words_the_collection_holds(fresh_runtime, tmp_path):
    """An exact title that finds its one document is not "corrected" to a more frequent
    neighbour (송부 -> 동부, 집행계획 -> 이행 계획); a word the collection lacks still is;
    and a pasted title of several words is offered no spacing variant (all words joined)."""
    from policykb import analytics
    from policykb.service import parse_request

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "send.txt").write_text(
        "일상감사 의견서 송부\n\n일상감사 의견서를 붙임과 같이 송부합니다.\n", encoding="utf-8"
    )
    for k in range(6):
        (folder / f"east-{k}.txt").write_text(
            f"동부 지역 일상감사 의견서 {k}호\n\n동부 지역 사업의 일상감사 의견서입니다.\n",
            encoding="utf-8",
        )
    rt = fresh_runtime
    rt.ingester().run([folder])
    index = suggest.build(rt.store.iter_documents())

    def offered(q: str) -> str | None:
        req = parse_request({"q": [q]}, rt.settings)
        total = rt.service.search(req).total
        return analytics.did_you_mean(rt.service, index, req, total)

    assert offered("일상감사 의견서 송부") is None
    assert offered("됭부") == "동부"
    req = parse_request({"q": ["동부 지역 일상감사 의견서"]}, rt.settings)
    assert analytics.spacing_suggestion(rt.service, req, 0) is None
