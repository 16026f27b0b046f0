"""Long documents on both engines: a real 157-page report (public-docs) searches with page
numbers, its snippet reads only the passages the engine names, and its document page comes
in bounded windows with a navigator and a jump list that work without JavaScript."""

from __future__ import annotations

import re
import shutil

import pytest

from policykb.service import parse_request
from tests.conftest import ingested_on, shared_path

REPORT = ("data", "public-docs", "pdf", "80168_regulatory_analysis-2022.pdf")
QUERY = "비용"  # on about 30 of its pages


@pytest.fixture(scope="module", params=["embedded", "elasticsearch"])
def long_rt(request, tmp_path_factory, sample_copy):
    src = shared_path(*REPORT)
    folder = tmp_path_factory.mktemp("longdocs")
    shutil.copy(src, folder / src.name)
    yield from ingested_on(request, tmp_path_factory, [folder, sample_copy], "policykb-longdocs")


@pytest.fixture(scope="module")
def long_client(long_rt):
    from wiring.wsgi import create_app

    app = create_app({"TESTING": True}, settings=long_rt.settings)
    app.extensions["policykb"] = long_rt
    return app.test_client()


def _report_hit(rt, q=QUERY):
    result = rt.service.search(parse_request({"q": [q], "size": ["50"]}, rt.settings))
    docs = rt.store.get_documents([h.id for h in result.hits])
    hits = [
        h
        for h in result.hits
        if (docs[h.id].source_path or "").endswith(REPORT[-1])  # the report, whatever its title
    ]
    assert hits, [h.title for h in result.hits]
    return hits[0]


def test_hit_lists_the_pages_where_the_query_matches(long_rt):
    hit = _report_hit(long_rt)
    assert len(hit.pages) >= 10 and hit.pages == sorted(hit.pages)
    assert hit.page in hit.pages  # the snippet comes from one of them
    assert "<mark>비용</mark>" in hit.snippet
    assert hit.matched_passages >= len(hit.pages)
    # Every listed page really has the word, and a page without it is not listed.
    doc = long_rt.store.get_document(hit.id)
    pages_with_word = {p.page for p in doc.passages if any(t.term == "비용" for t in p.tokens)}
    assert set(hit.pages) <= pages_with_word
    assert len(set(hit.pages)) >= 0.8 * len(pages_with_word)


def test_snippet_reads_only_the_passages_the_engine_names(long_rt, monkeypatch):
    def whole_document(*_a, **_k):
        raise AssertionError("a search must not load a whole document's passages")

    monkeypatch.setattr(long_rt.store, "get_passages", whole_document)
    hit = _report_hit(long_rt)
    assert "<mark>" in hit.snippet


def test_engine_returns_best_passages_with_the_query_terms(long_rt):
    hit = _report_hit(long_rt)
    found = long_rt.backend.passages([hit.id], ["비용"], per_doc=3)[hit.id]
    assert 1 <= len(found.best) <= 3
    read = long_rt.store.get_passages_by_seq({hit.id: [m.seq for m in found.best]})[hit.id]
    assert all(any(t.term == "비용" for t in p.tokens) for p in read)
    assert [p for p, _ in found.pages] == hit.pages
    every = long_rt.backend.matching_passages(hit.id, ["비용"])
    assert len(every) == found.matched and [m.seq for m in every] == sorted(m.seq for m in every)


def test_api_hit_has_pages(long_rt, long_client):
    body = long_client.get(f"/api/search?q={QUERY}&size=50").get_json()
    report_id = _report_hit(long_rt).id
    hit = next(h for h in body["hits"] if h["id"] == report_id)
    assert hit["pages"] and hit["page"] in hit["pages"] and hit["matched_passages"] > 0


def test_document_page_is_a_bounded_window_with_navigation(long_rt, long_client):
    hit = _report_hit(long_rt)
    resp = long_client.get(f"/documents/{hit.id}?q={QUERY}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    full = sum(len(p.text) for p in long_rt.store.get_document(hit.id).passages)
    shown = re.findall(r'<div class="passage[^"]*" id="p(\d+)"', html)
    assert 0 < len(shown) <= 40 and len(html) < full  # not the whole text
    first_page = hit.pages[0]
    assert f'id="page-{first_page}"' in html  # opens at the first match
    assert "<mark>비용</mark>" in html
    # Jump list names pages beyond the window, as links that load their window.
    far = hit.pages[-1]
    link = re.search(rf'<a href="(/documents/{hit.id}\?q=[^"#]+&amp;from=\d+)#page-{far}">', html)
    assert link, "jump link to the last matching page"
    far_html = long_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f'id="page-{far}"' in far_html and "<mark>비용</mark>" in far_html
    # Next window without JavaScript: a plain link; the window after continues the text.
    nxt = re.search(r'<a rel="next" class="more" href="([^"]+)"', html).group(1)
    after = long_client.get(nxt.replace("&amp;", "&")).get_data(as_text=True)
    shown_after = re.findall(r'<div class="passage[^"]*" id="p(\d+)"', after)
    assert int(shown_after[0]) == int(shown[-1]) + 1
    # A page number from the navigator form.
    page_html = long_client.get(f"/documents/{hit.id}?page=100").get_data(as_text=True)
    assert 'id="page-100"' in page_html and 'rel="prev"' in page_html
    # The script is a static file (no inline scripts), the download unchanged.
    assert re.search(r'<script src="/static/document\.js"', html)
    assert "<script>" not in html
    file = long_client.get(f"/documents/{hit.id}/file")
    assert file.status_code == 200 and len(file.data) > 1_000_000


def test_api_document_comes_in_slices(long_rt, long_client):
    hit = _report_hit(long_rt)
    body = long_client.get(f"/api/documents/{hit.id}?limit=50").get_json()
    assert len(body["passages"]) == 50 and body["passages_next"] == 50
    rest = long_client.get(f"/api/documents/{hit.id}?offset=50&limit=1000").get_json()
    assert rest["passages"][0]["seq"] == 50 and rest["passages_next"] is None
    assert 50 + len(rest["passages"]) == body["passages_total"]
    bad = long_client.get(f"/api/documents/{hit.id}?limit=0")
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "limit"


def test_index_of_an_older_schema_is_rebuilt_from_the_store(long_rt):
    """Runs last on each engine: an index made before passage entries existed (schema 3)
    is refilled from the store when the app opens it, and hits get their pages again."""
    import json

    from wiring.runtime import Runtime

    backend = long_rt.backend
    if backend.name == "embedded":
        meta = backend.index_dir / backend._generation / "policykb.json"
        meta.write_text(json.dumps({"schema_version": 3}))
    else:
        for name in backend.physical_indices():
            backend.es.indices.put_mapping(index=name, meta={"policykb_schema": 3})
    reopened = Runtime(long_rt.settings)
    assert reopened.backend.needs_rebuild is False  # rebuilt while opening
    hit = _report_hit(reopened)
    assert hit.pages and "<mark>비용</mark>" in hit.snippet


@pytest.mark.parametrize("q", [QUERY, "규제 비용", "비용 편익 분석", "없는낱말"])
def test_snippet_passage_is_the_one_the_snippet_builder_picks(long_rt, q):
    """The store ranks a hit's candidate passages on their stored tokens and makes tokens
    for the chosen one only (or gives their offsets alone, as a search does): the snippet
    is the one built from fully decoded passages."""
    from policykb.highlight import snippet, snippet_from

    req = parse_request({"q": [q], "size": ["20"]}, long_rt.settings)
    result = long_rt.service.search(req)
    terms = long_rt.service._analyze(req, lenient=False)[1].highlight_terms
    assert result.hits or q == "없는낱말"
    for hit in result.hits:
        found = long_rt.backend.passages([hit.id], terms)
        wanted = {hit.id: [m.seq for m in found[hit.id].best] if hit.id in found else [0]}
        chosen, spans = long_rt.store.get_snippet_spans(wanted, terms)[hit.id]
        full = long_rt.store.get_passages_by_seq(wanted)[hit.id]  # every token decoded
        assert snippet_from(chosen, spans) == snippet(full, terms) == (hit.snippet, hit.page)


def test_matched_tokens_equal_full_decoding_with_escaped_terms(tmp_path):
    """Passage tokens restricted to some terms (a pattern scan of the stored JSON) are the
    tokens a full decode gives, also for terms JSON has to escape."""
    from policykb.models import Document, Passage, Token
    from policykb.store import DocumentStore

    terms = ["비용", 'a"b', "c\\d", "[", "편익", "1,2"]
    text = " ".join(terms * 3)
    tokens, pos = [], 0
    for i, t in enumerate(terms * 3):
        start = text.index(t, pos)
        tokens.append(Token(t, start, start + len(t), i, i % 2 == 0))
        pos = start + len(t)
    store = DocumentStore(tmp_path / "store.sqlite3")
    doc = Document(
        "d1", "제목", "미상", [], "연구보고서", None, passages=[Passage(0, 1, text, tokens)]
    )
    with store.connect() as con:
        store.put_document(doc, "test", con)
    for only in (["비용"], ['a"b', "c\\d"], ["[", "1,2"], ["없음"], terms):
        got = store.get_passages_by_seq({"d1": [0]}, frozenset(only))["d1"][0].tokens
        assert got == [t for t in tokens if t.term in only]
        _chosen, spans = store.get_snippet_spans({"d1": [0]}, frozenset(only))["d1"]
        assert spans == [(t.start, t.end) for t in got]


def test_snippet_passage_choice_counts_escaped_terms(tmp_path):
    """Among a hit's candidate passages the store picks the one the snippet builder would
    (most distinct query terms, then most occurrences, then the first), counting terms
    JSON has to escape and terms that are part of other terms correctly."""
    from policykb.highlight import best_passage
    from policykb.models import Document, Passage, Token
    from policykb.store import DocumentStore

    def passage(seq: int, words: list[str]) -> Passage:
        text, tokens = " ".join(words), []
        pos = 0
        for i, w in enumerate(words):
            start = text.index(w, pos)
            tokens.append(Token(w, start, start + len(w), i))
            pos = start + len(w)
        return Passage(seq, seq + 1, text, tokens)

    passages = [
        passage(0, ["비용", "편익", "기타"]),
        passage(1, ['a"b', 'a"b', "비용", "비용편익"]),
        passage(2, ["[", 'a"b', "편익", "편익"]),
        passage(3, ["비용비용", "c\\d", "c\\d", "c\\d"]),
    ]
    store = DocumentStore(tmp_path / "store.sqlite3")
    doc = Document("d1", "제목", "미상", [], "연구보고서", None, passages=passages)
    with store.connect() as con:
        store.put_document(doc, "test", con)
    for only in (["비용"], ["편익", 'a"b'], ["[", "c\\d"], ["비용", "편익"], ["없음"], ["c\\d"]):
        terms = frozenset(only)
        for seqs in ([0, 1, 2, 3], [2, 3], [0, 3]):
            chosen, spans = store.get_snippet_spans({"d1": seqs}, terms)["d1"]
            candidates = [p for p in passages if p.seq in seqs]
            expected = best_passage(candidates, terms) or candidates[0]
            assert chosen.seq == expected.seq, (only, seqs)
            assert spans == [(t.start, t.end) for t in expected.tokens if t.term in terms]


@pytest.mark.parametrize(
    "text",
    ["스마트시티 협의체를 발족했다", "스마트시티 <b>협의체</b> & \"발족\" 'x'", "<스마트시티>&"],
)
def test_snippet_marks_are_escaped_whether_or_not_the_window_needs_it(text):
    """A snippet window with nothing to escape is copied as it is; any other has every
    piece escaped, inside and outside the marks."""
    from html import escape

    from policykb.highlight import mark

    s = text.index("스마트")
    spans = [(s, s + 5)]
    html = mark(text, spans)
    expected = escape(text[:s]) + "<mark>" + escape(text[s : s + 5]) + "</mark>"
    assert html == expected + escape(text[s + 5 :])
