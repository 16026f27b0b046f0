"""Ingest the sample corpus into the embedded engine and search it like a user would."""

from __future__ import annotations

import re

import pytest

from policykb.query import QuerySyntaxError
from policykb.service import RequestError, parse_request

GYEONGGI = {"경기연구원", "경기도 경제과학진흥원", "고양시정연구원", "수원시정연구원"}


def search(rt, **params):
    args = {k: (v if isinstance(v, list) else [str(v)]) for k, v in params.items()}
    args.setdefault("size", ["100"])
    return rt.service.search(parse_request(args, rt.settings))


def all_docs(rt):
    return [rt.store.get_document(i) for i in sorted(rt.store.document_ids())]


def ids(result):
    return {h.id for h in result.hits}


def test_corpus_is_fully_indexed(indexed):
    assert indexed.store.count_documents() >= 34
    assert indexed.backend.count() == indexed.store.count_documents()
    assert indexed.store.list_files("failed") == []


def test_every_council_institute_has_documents(indexed):
    from corpus.institutes import INSTITUTES

    have = {d.institute for d in all_docs(indexed)}
    missing = [i.name for i in INSTITUTES if i.member and i.name not in have]
    assert missing == []


def test_inflected_forms_found(indexed):
    docs = all_docs(indexed)
    with_particle = {d.id for d in docs if re.search("협의체[를가는의와]", d.text)}
    assert with_particle, "sample corpus must contain 협의체를/협의체가"
    result = search(indexed, q="협의체")
    assert with_particle <= ids(result)
    assert all("협의체" in indexed.store.get_document(i).text for i in ids(result))


def test_spacing_variants_find_same_documents(indexed):
    docs = all_docs(indexed)
    spaced = {d.id for d in docs if "스마트 시티" in d.text}
    solid = {d.id for d in docs if "스마트시티" in d.text}
    assert spaced - solid and solid - spaced, "corpus needs both spellings"
    a = ids(search(indexed, q="스마트 시티"))
    b = ids(search(indexed, q="스마트시티"))
    assert a == b
    assert spaced | solid <= a


def test_full_width_query_finds_what_half_width_finds(indexed):
    wide = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
    for q in ("2023년", "ICT 스마트시티"):
        half = search(indexed, q=q)
        assert half.total > 0
        full = search(indexed, q=q.translate(wide))
        assert [h.id for h in full.hits] == [h.id for h in half.hits]


def test_region_filter_uses_institute_registry(indexed):
    result = search(indexed, region="경기")
    institutes = {h.institute for h in result.hits}
    assert institutes == GYEONGGI
    expected = {d.id for d in all_docs(indexed) if d.institute in GYEONGGI}
    assert ids(result) == expected


def test_region_accepts_full_names(indexed):
    assert ids(search(indexed, region="경기도")) == ids(search(indexed, region="경기"))


def test_predecessor_name_filters_successor_documents(indexed):
    old = search(indexed, institute="경남발전연구원")
    new = search(indexed, institute="경남연구원")
    assert old.total > 0 and ids(old) == ids(new)


@pytest.mark.parametrize("q", ["", "스마트시티", "교통", "주거 청년"])
def test_facet_counts_equal_matching_documents(indexed, q):
    result = search(indexed, q=q)
    for facet, param in (
        ("institute", "institute"),
        ("region", "region"),
        ("doc_type", "doc_type"),
    ):
        for fv in result.facets[facet]:
            filtered = search(indexed, q=q, **{param: fv.value})
            assert filtered.total == fv.count, (facet, fv.value)
    for fv in result.facets["year"]:
        filtered = search(indexed, q=q, year_from=fv.value, year_to=fv.value)
        assert filtered.total == fv.count


def test_facets_counted_under_other_filters_only(indexed):
    both = search(indexed, region=["경기", "서울"])
    only = search(indexed, region="경기")
    # Selecting 경기 does not shrink the region facet: 서울 is still offered with its count.
    seoul = {f.value: f.count for f in only.facets["region"]}
    assert seoul.get("서울", 0) > 0
    assert both.total == only.total + seoul["서울"]


def test_snippets_mark_original_words(indexed):
    result = search(indexed, q="협의체")
    marked = set()
    for h in result.hits:
        marked.update(re.findall(r"<mark>(.*?)</mark>", h.snippet))
    assert marked == {"협의체"}  # not 협의체를 / 협의체가


def test_snippet_marks_spaced_compound_whole(indexed):
    result = search(indexed, q="스마트시티")
    marked = {m for h in result.hits for m in re.findall(r"<mark>(.*?)</mark>", h.snippet)}
    assert "스마트 시티" in marked and "스마트시티" in marked


def test_pdf_hits_carry_page_numbers(indexed):
    pdf_docs = [d for d in all_docs(indexed) if (d.source_path or "").endswith(".pdf")]
    assert len(pdf_docs) >= 5
    doc = pdf_docs[0]
    assert doc.page_count and doc.page_count >= 2
    last = [p for p in doc.passages if p.page == doc.page_count][0]
    word = next(t.term for t in last.tokens if not t.joined and len(t.term) >= 3)
    result = search(indexed, q=word, institute=doc.institute)
    hit = next(h for h in result.hits if h.id == doc.id)
    assert hit.page is not None and 1 <= hit.page <= doc.page_count


def test_sort_newest_and_oldest(indexed):
    newest = [h.date for h in search(indexed, sort="newest").hits if h.date]
    oldest = [h.date for h in search(indexed, sort="oldest").hits if h.date]
    assert newest == sorted(newest, reverse=True)
    assert oldest == sorted(oldest)


def test_pagination_is_disjoint_and_complete(indexed):
    total = search(indexed).total
    seen = []
    for page in range(1, -(-total // 7) + 1):
        seen += [h.id for h in search(indexed, sort="oldest", size=7, page=page).hits]
    assert len(seen) == len(set(seen)) == total


def test_exclusion_and_phrase(indexed):
    base = ids(search(indexed, q="도시재생"))
    without = ids(search(indexed, q="도시재생 -수도권"))
    assert without < base
    for i in without:
        assert "수도권" not in indexed.store.get_document(i).text.replace("비수도권", "")
    phrase = search(indexed, q='"도시 재생 사업"')
    assert phrase.total > 0


def test_year_range(indexed):
    result = search(indexed, year_from=2019, year_to=2020)
    assert result.total > 0
    assert all(h.date and "2019" <= h.date[:4] <= "2020" for h in result.hits)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "-1"},
        {"size": "10000"},
        {"region": "화성"},
        {"sort": "best"},
        {"year_from": "20x"},
        {"doc_type": "소설"},
        {"institute": "없는연구원"},
        {"q": "가" * 600},
    ],
)
def test_bad_parameters_are_request_errors(indexed, params):
    with pytest.raises(RequestError):
        search(indexed, **params)


def test_unbalanced_quote_is_a_syntax_error_or_degrades(indexed):
    with pytest.raises(QuerySyntaxError):
        search(indexed, q='"협의체')
    req = parse_request({"q": ['"협의체']}, indexed.settings)
    result = indexed.service.search(req, lenient=True)
    assert result.notices and result.total > 0


@pytest.mark.parametrize(
    "question",
    [
        "탄소중립 건물의 이름은?",
        "스마트시티 협의체에 참여한 연구원은 몇 곳인가?",
        "광역철도 사업의 기대 효과는 무엇인가?",
        "지방소멸에 대응하는 경북의 전략은 무엇인가?",
        "2022년 탄소중립 건물의 이름은?",  # a question names no period either way
        "2020년 인구 감소 대응 전략은 무엇인가?",
    ],
)
def test_a_filter_after_a_question_ranks_as_one_before_it(indexed, question):
    """A question is read as one whether a field filter follows it or comes first: the
    answer evidence and the question's own minimum apply either way (same ranking)."""
    after = search(indexed, q=f"{question} 연도:2010..2030")
    before = search(indexed, q=f"연도:2010..2030 {question}")
    assert after.hits, question
    assert [h.id for h in after.hits] == [h.id for h in before.hits]
    assert [round(h.score, 6) for h in after.hits] == [round(h.score, 6) for h in before.hits]


def test_an_aside_in_a_pasted_title_ranks_without_excluding(indexed):
    """``도시(교통)``: the word in brackets is optional under match=auto, so every document
    about the 도시 is a complete match (none listed as partial), those that also hold
    the aside rank first; match=all still requires it."""
    plain = search(indexed, q="도시")
    tagged = search(indexed, q="도시(교통)")
    strict = search(indexed, q="도시(교통)", match="all")
    with_aside = set(ids(strict))
    assert with_aside and with_aside < ids(plain)  # some documents lack the aside
    assert tagged.total == plain.total and ids(tagged) == ids(plain)
    assert not any(h.partial for h in tagged.hits)
    top = [h.id for h in tagged.hits[: len(with_aside)]]
    top_plain = [h.id for h in plain.hits[: len(with_aside)]]
    held = sum(i in with_aside for i in top)
    assert held > len(top) / 2 and held > sum(i in with_aside for i in top_plain)
