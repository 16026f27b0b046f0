"""Korean search quality: golden behaviour on the sample corpus, the editable lexicon, and
the KorQuAD retrieval benchmark against BM25 baselines on both backends."""

from __future__ import annotations

import re
import shutil

import pytest

from analyzers.lexicon import DEFAULT_SYNONYMS, LexiconError, load_lexicon
from policykb.service import parse_request
from tests.conftest import BACKENDS, ingested_on, make_runtime, shared_path


def search(rt, q, **params):
    args = {"q": [q], "size": ["100"], **{k: [str(v)] for k, v in params.items()}}
    return rt.service.search(parse_request(args, rt.settings))


def text_of(rt, doc_id):
    return rt.store.get_document(doc_id).text


def test_bisudogwon_is_not_sudogwon(indexed):
    result = search(indexed, "비수도권")
    assert result.total > 0
    for hit in result.hits:
        assert "비수도권" in text_of(indexed, hit.id) or "비수도권" in hit.title
    plain = {
        h.id for h in search(indexed, "수도권").hits if "비수도권" not in text_of(indexed, h.id)
    }
    assert plain and not plain & {h.id for h in result.hits}


def test_abbreviation_finds_full_name(indexed):
    full_only = {
        h.id for h in search(indexed, "국토교통부").hits if "국토부" not in text_of(indexed, h.id)
    }
    abbrev_only = {
        h.id for h in search(indexed, "국토교통부").hits if "국토부" in text_of(indexed, h.id)
    }
    found = {h.id for h in search(indexed, "국토부").hits}
    assert full_only and full_only <= found
    assert abbrev_only <= found
    # and the abbreviation is highlighted as the full name
    marks = {
        m
        for h in search(indexed, "국토부").hits
        for m in re.findall(r"<mark>(.*?)</mark>", h.snippet)
    }
    assert "국토교통부" in marks


def test_year_with_and_without_unit(indexed):
    with_unit = {h.id for h in search(indexed, "2023년").hits}
    bare = {h.id for h in search(indexed, "2023").hits}
    assert with_unit and with_unit == bare


def test_adjacent_words_rank_first(indexed):
    hits = search(indexed, "도시 재생").hits
    adjacent = [bool(re.search("도시 ?재생", text_of(indexed, h.id) + h.title)) for h in hits]
    assert any(adjacent) and not all(adjacent)
    # every document with the words side by side ranks above every one with them apart
    assert adjacent == sorted(adjacent, reverse=True)


def test_quoted_phrase_requires_adjacency(indexed):
    phrase = search(indexed, '"도시 재생"')
    assert phrase.total > 0
    for hit in phrase.hits:
        assert re.search("도시 ?재생", text_of(indexed, hit.id) + hit.title)


def test_exclusion_excludes(indexed):
    with_word = search(indexed, "스마트시티 교통").total
    without = search(indexed, "스마트시티 -교통")
    assert with_word > 0 and without.total > 0
    assert without.total + with_word == search(indexed, "스마트시티").total
    for hit in without.hits:  # no 교통 as a word of its own (교통망 is another word)
        assert not re.search("(^|[^가-힣])교통", text_of(indexed, hit.id))


def test_english_synonym_and_spacing(indexed):
    a = {h.id for h in search(indexed, "smart city").hits}
    b = {h.id for h in search(indexed, "스마트시티").hits}
    assert b and a == b


def test_compound_part_finds_compound(indexed):
    docs = [indexed.store.get_document(i) for i in indexed.store.document_ids()]
    compound_only = {d.id for d in docs if "도시재생" in d.text and "도시 재생" not in d.text}
    assert compound_only
    assert compound_only <= {h.id for h in search(indexed, "재생").hits}


def test_all_words_fall_back_to_some_words_with_notice(indexed):
    result = search(indexed, "협의체 얼룩말")
    assert result.total > 0 and result.notices
    assert search(indexed, "협의체 얼룩말", match="any").total == result.total
    assert search(indexed, "협의체 얼룩말", match="all").total == 0


def test_question_does_not_require_its_asked_for_noun(indexed):
    # "…의 이름은?" asks for a name the answer states, rarely the word 이름: the question
    # finds what its other words find, while the same words as a statement need 이름 too
    question = search(indexed, "탄소중립 건물의 이름은?")
    assert question.total == search(indexed, "탄소중립 건물").total > 0
    assert not question.notices
    assert search(indexed, "탄소중립 건물 이름").notices  # all words: none has 이름


def test_lexicon_files_are_validated(tmp_path):
    bad = tmp_path / "syn.txt"
    bad.write_text("외톨이\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="syn.txt:1"):
        load_lexicon(None, bad)
    bad_dict = tmp_path / "dict.tsv"
    bad_dict.write_text("도시재생\tNNG\t0\t도시 재건\n", encoding="utf-8")
    with pytest.raises(LexiconError):
        load_lexicon(bad_dict, None)


def test_synonym_edit_then_reindex_changes_results(tmp_path, sample_copy):
    synonyms = tmp_path / "synonyms.txt"
    shutil.copy(DEFAULT_SYNONYMS, synonyms)
    rt = make_runtime(tmp_path / "data", synonyms=str(synonyms))
    rt.ingester().run([sample_copy])
    target = {h.id for h in search(rt, "리빙랩").hits}
    assert target
    assert search(rt, "시민실험실", match="all").total == 0
    old_identity = rt.analyzer.identity

    with synonyms.open("a", encoding="utf-8") as fh:
        fh.write("\n리빙랩, 시민실험실\n")
    rt2 = make_runtime(tmp_path / "data", synonyms=str(synonyms))
    assert rt2.analyzer.identity != old_identity
    info = rt2.reindex()
    assert info["reanalyzed"] == rt2.store.count_documents()
    assert {h.id for h in search(rt2, "시민실험실", match="all").hits} == target
    # a second reindex with no change re-analyzes nothing
    assert rt2.reindex()["reanalyzed"] == 0


# ------------------------------------------------------------------- retrieval quality
# A sample of each set's TEST half (never tuned on), through the real ingest on both
# engines; `policykb eval` prints the full tables (bench/README.md).
SAMPLE = 300


@pytest.fixture(scope="module")
def korquad_test_half(es_url):
    from analyzers import get_analyzer
    from wiring.evaluation import EvalSet, evaluate_set, half_of, load_sets, sample_queries

    shared_path("data", "korquad-v1-dev", "KorQuAD_v1.0_dev.json")
    (s,) = load_sets(shared_path("data"), get_analyzer(), ["korquad"])
    assert (len(s.docs), len(s.queries)) == (964, 5774)
    test = sample_queries([q for q in s.queries if half_of(q) == "test"], SAMPLE)
    results = evaluate_set(
        EvalSet(s.name, s.label, s.docs, test), ["embedded", "elasticsearch"], es_url
    )
    return results["test"]


@pytest.mark.data
def test_korquad_test_half_beats_bm25_peers(korquad_test_half):
    ours = korquad_test_half["policykb (embedded)"]
    assert ours.ndcg10 >= 0.95
    for peer in ("whitespace-bm25", "bigram-bm25"):
        assert ours.ndcg10 > korquad_test_half[peer].ndcg10 - 0.01, peer


@pytest.mark.data
def test_korquad_same_figure_on_both_backends(korquad_test_half):
    emb = korquad_test_half["policykb (embedded)"].ndcg10
    es = korquad_test_half["policykb (elasticsearch)"].ndcg10
    assert abs(emb - es) <= 0.005  # same collection statistics (sentinel term)


def test_halves_are_deterministic_and_disjoint():
    from wiring.evaluation import EvalQuery, half_of, slices

    qs = [EvalQuery(f"질문 {i}", f"doc{i % 50}") for i in range(500)]
    sl = slices(qs)
    assert sl["dev"] and sl["test"] and not set(sl["dev"]) & set(sl["test"])
    assert {qs[i].relevant for i in sl["dev"]}.isdisjoint({qs[i].relevant for i in sl["test"]})
    assert [half_of(q) for q in qs] == [half_of(q) for q in qs]


def test_recency_prior_is_off_by_default_and_bounded_when_set(monkeypatch):
    import datetime

    from policykb import service
    from policykb.service import recency_factor

    today = datetime.date(2026, 6, 1)
    # Off: it gained on no evaluation set (bench/README.md), so ranking ignores dates.
    assert recency_factor("2026-05-01", today) == recency_factor("2010-05-01", today) == 1.0
    monkeypatch.setattr(service, "RECENCY_WEIGHT", 0.15)
    assert recency_factor("2026-05-01", today) > recency_factor("2020-05-01", today) > 1.0
    assert recency_factor("2010-01-01", today) == 1.0
    assert recency_factor(None, today) == 1.0
    assert recency_factor("2026-05-31", today) <= 1.15


# A monthly series: the same report every month, its text naming no date (the issue's
# date is in its title and metadata only), as kdi's statistical releases. (No figure
# shares a character bigram with the queries' dates: in four documents that would decide.)
SERIES = [
    ("2023-05-01", "18조 8천억원으로 전년동월대비 7.0% 증가하였다. 화장품과 가전 거래가 늘었다."),
    ("2023-09-04", "18조 9천억원으로 전년동월대비 9.1% 증가하였다. 여행과 교통서비스가 늘었다."),
    ("2024-09-02", "19조 9천억원으로 전년동월대비 5.4% 증가하였다. 음식서비스 거래가 가장 늘었다."),
    ("2024-12-03", "21조 1천억원으로 전년동월대비 4.5% 증가하였다. 농축수산물 거래가 줄었다."),
]


@pytest.fixture(scope="module", params=BACKENDS)
def series(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    rows = ["file,title,institute,doc_type,date,url"]
    for i, (date, text) in enumerate(SERIES):
        (folder / f"s{i}.txt").write_text(
            f"통계청은 온라인쇼핑동향을 발표하였다. 온라인쇼핑 거래액은 {text}", encoding="utf-8"
        )
        rows.append(f"s{i}.txt,,,,{date},")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    yield from ingested_on(request, tmp_path_factory, [folder], "policykb-test-series")


def test_a_date_in_the_query_finds_that_issue(series):
    def first_date(q):
        return search(series, q).hits[0].date

    # an issue appears in its month or the two after: "7월" is the September release
    assert first_date("2024년 7월 온라인쇼핑동향") == "2024-09-02"
    assert first_date("2023년 3월 온라인쇼핑동향") == "2023-05-01"
    assert first_date("’23.7월 온라인쇼핑동향") == "2023-09-04"
    assert first_date("온라인쇼핑동향(12.3)") == "2024-12-03"  # a release's day
    # a quarter's issue appears from the month before it to three months after its end:
    # "2023년 3분기" is the September 2023 release, "2분기" the two of 2023 (a year alone
    # would favour 2024's as well: a year's results appear the year after)
    assert first_date("2023년 3분기 온라인쇼핑동향") == "2023-09-04"
    second = {h.date for h in search(series, "2023년 2분기 온라인쇼핑동향").hits[:2]}
    assert second == {"2023-05-01", "2023-09-04"}
    # a month without a year: that month's issue (or the two after) of any year
    assert first_date("3월 온라인쇼핑동향") == "2023-05-01"
    # every issue still matches: the date orders, it never filters
    assert search(series, "2024년 7월 온라인쇼핑동향").total == len(SERIES)


def test_a_query_without_a_date_ignores_dates(series, monkeypatch):
    from policykb import service

    plain = [h.id for h in search(series, "온라인쇼핑동향 거래액").hits]
    monkeypatch.setattr(service, "DATE_WEIGHT", 0.0)
    assert [h.id for h in search(series, "온라인쇼핑동향 거래액").hits] == plain


# Paragraphs about one person, as a KorQuAD article's: the second names the question's
# words more often, the first states the answer in one sentence.
ARTICLE = [
    "김민준은 1970년 부산에서 태어났다. 김민준은 1995년 한빛대학교 법학과를 졸업했다. "
    "그 뒤 서울에서 변호사로 일하며 여러 사건을 맡았다.",
    "김민준의 졸업 이후 행적은 여러 책에 기록되어 있다. 군에서 돌아온 김민준은 졸업 "
    "동기들과 모임을 만들었다. 법학과 동문회는 김민준을 회장으로 뽑았다.",
    "부산은 대한민국 남동부의 항구 도시이다. 해운대 해수욕장이 유명하다.",
    "변호사는 법률 사무를 맡아 처리하는 사람이다. 법학을 공부한 사람이 많다.",
]


@pytest.fixture(scope="module", params=BACKENDS)
def article(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("article")
    for i, text in enumerate(ARTICLE):
        (folder / f"p{i}.txt").write_text(text, encoding="utf-8")
    yield from ingested_on(request, tmp_path_factory, [folder], "policykb-test-article")


def test_a_question_finds_the_paragraph_stating_its_answer(article, monkeypatch):
    from policykb import service

    def first(q):
        return text_of(article, search(article, q).hits[0].id)

    question = "김민준은 언제 법학과를 졸업했나?"
    assert first(question) == ARTICLE[0]
    # by the words alone the paragraph naming them most would come first
    monkeypatch.setattr(service, "ANSWER_WEIGHT", 0.0)
    assert first(question) == ARTICLE[1]


def test_keywords_are_not_read_as_a_question(article, monkeypatch):
    from policykb import service

    keywords = [h.id for h in search(article, "김민준 법학과 졸업").hits]
    monkeypatch.setattr(service, "ANSWER_WEIGHT", 0.0)
    assert [h.id for h in search(article, "김민준 법학과 졸업").hits] == keywords


def test_a_question_locates_its_passages_once(article, monkeypatch):
    # The answer evidence locates the first hits' passages; the page's snippets reuse them
    # (the same hits as locating them again), so a question asks the engine once.
    backend = article.service.backend
    calls: list[list[str]] = []
    real = backend.passages

    def counted(ids, terms, *args, **kwargs):
        calls.append(list(ids))
        return real(ids, terms, *args, **kwargs)

    question = "김민준은 언제 법학과를 졸업했나?"
    once = search(article, question).to_json()["hits"]
    monkeypatch.setattr(backend, "passages", counted)
    assert search(article, question).to_json()["hits"] == once
    assert len(calls) == 1


def test_a_pasted_title_is_reordered_by_its_bigrams_not_widened(indexed, monkeypatch):
    # The fused bigram retriever re-scores the hits a long title matches; it adds none
    # and removes none, and a short query or a question does not run it.
    from policykb import service

    docs = [indexed.store.get_document(i) for i in sorted(indexed.store.document_ids())]
    title = next(d.title for d in docs if len(d.title.split()) >= service.FUSION_MIN_WORDS)
    backend = indexed.service.backend
    calls: list[int] = []
    real = backend.search

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backend, "search", counted)
    monkeypatch.setattr(service, "PARTIAL_BELOW", 0)  # no partial matches' call to count
    fused = search(indexed, title)
    assert len(calls) == 2
    calls.clear()
    search(indexed, " ".join(title.split()[:2]))
    search(indexed, "김민준은 언제 법학과를 졸업했나?")
    assert len(calls) == 2  # one engine call each
    calls.clear()
    paragraph = next(p.text for d in docs for p in d.passages if len(p.text) > 300)
    search(indexed, paragraph[:400])  # a pasted paragraph is no title: no bigram OR of it
    assert len(calls) == 1
    monkeypatch.setattr(service, "FUSION_WEIGHT", 0.0)
    plain = search(indexed, title)
    assert fused.total == plain.total > 0
    assert {h.id for h in fused.hits} == {h.id for h in plain.hits}
