"""Dictionary and synonym edits applied in seconds (policykb.lexicon_edits): a sequence of
random edits leaves exactly the tokens and search results a full re-analysis gives, on
both engines; searches keep answering while an edit is applied; bad edits change nothing;
the preview and the CLI report what changes."""

from __future__ import annotations

import random
import shutil
import threading
import time

import pytest
from click.testing import CliRunner

from policykb.lexicon_edits import LexiconBusy, LexiconEditError
from policykb.service import SearchRequest
from tests.conftest import es_runtime, make_runtime


def fingerprint(rt) -> dict:
    return {
        doc.id: (doc.title_tokens, doc.author_tokens, [p.tokens for p in doc.passages])
        for doc in rt.store.iter_documents()
    }


def results(rt, queries) -> dict:
    out = {}
    for q in queries:
        r = rt.service.search(SearchRequest(q=q, size=100))
        out[q] = (r.total, {h.id for h in r.hits})
    return out


@pytest.fixture(scope="module")
def edit_pair(tmp_path_factory, sample_copy, es_url):
    folder = tmp_path_factory.mktemp("lexicon-corpus")
    shutil.copytree(sample_copy, folder / "sample")
    emb = make_runtime(tmp_path_factory.mktemp("lexicon-emb"))
    emb.ingester().run([folder])
    es = es_runtime(tmp_path_factory.mktemp("lexicon-es"), es_url, "policykb-lexicon-edits")
    es.ingester().run([folder])
    yield emb, es
    es.backend.drop_all()


def random_edits(rt, rng: random.Random, n: int) -> list:
    """``n`` edits drawn from the corpus: new compounds of adjacent nouns, removals of
    shipped words, new synonym groups of corpus terms, removals of shipped groups."""
    pairs, terms = [], []
    for doc in rt.store.iter_documents():
        for p in doc.passages:
            prim = [t for t in p.tokens if not t.joined]
            for a, b in zip(prim, prim[1:], strict=False):
                if b.start == a.end and len(a.term) > 1 and a.term.isalpha() and b.term.isalpha():
                    pairs.append(a.term + b.term)
            terms += [t.term for t in prim if len(t.term) > 1 and t.term.isalpha()]
    pairs, terms = sorted(set(pairs)), sorted(set(terms))
    words = [w.word for w in rt.analyzer.lexicon.user_words]
    groups = [g[0] for g in rt.analyzer.lexicon.synonym_groups]
    edits = []
    for kind in rng.sample(["add-word", "remove-word", "add-synonym", "remove-synonym"] * 2, n):
        if kind == "add-word":
            word = rng.choice(pairs)
            edits.append((kind, lambda e, w=word: e.texts_adding_word(w, "NNG")))
        elif kind == "remove-word":
            word = words.pop(rng.randrange(len(words)))
            edits.append((kind, lambda e, w=word: e.texts_removing_word(w)))
        elif kind == "add-synonym":
            a, b = rng.sample(terms, 2)
            edits.append((kind, lambda e, a=a, b=b: e.texts_adding_synonyms(a, [b])))
        else:
            head = groups.pop(rng.randrange(len(groups)))
            edits.append((kind, lambda e, h=head: e.texts_removing_synonyms(h)))
    return edits


def test_random_edits_then_full_reanalysis_changes_no_token_or_result(edit_pair):
    emb, es = edit_pair
    rng = random.Random(15)
    edits = random_edits(emb, rng, 5)
    queries = ["협의체", "스마트 시티", "도시재생", "리빙랩", "탄소중립 건물", "국토부", "ai"]
    changed = 0
    for _kind, texts_of in edits:
        for rt in (emb, es):  # the same texts: the second engine reuses the new Kiwi
            result = rt.edit_lexicon(texts_of(rt.lexicon_editor()), _kind)
            assert rt.store.count_stale(rt.analyzer.identity) == 0
        changed += result.plan.passages
    assert changed > 0  # the edits did change some analyses
    for rt in (emb, es):
        before_tokens, before_hits = fingerprint(rt), results(rt, queries)
        info = rt.reindex(reanalyze=True)
        assert info["reanalyzed"] == rt.store.count_documents(canonical_only=False)
        after_tokens = fingerprint(rt)
        differ = [d for d in before_tokens if before_tokens[d] != after_tokens[d]]
        assert differ == [], rt.backend.name
        assert results(rt, queries) == before_hits, rt.backend.name
    assert results(emb, queries) == results(es, queries)


@pytest.mark.parametrize("engine", [0, 1], ids=["embedded", "elasticsearch"])
def test_searches_keep_answering_during_an_edit(edit_pair, engine):
    from wiring.wsgi import create_app

    rt = edit_pair[engine]
    app = create_app({"TESTING": True}, settings=rt.settings)
    app.extensions["policykb"] = rt
    stop = threading.Event()
    outcomes: list[int] = []

    def search_loop() -> None:
        client = app.test_client()
        while not stop.is_set():
            for q in ("도시재생", "리빙랩", "스마트시티"):
                r = client.get("/api/search", query_string={"q": q})
                outcomes.append(r.status_code if r.get_json()["total"] > 0 else -1)

    worker = threading.Thread(target=search_loop)
    worker.start()
    try:
        word = "도시재생지원센터"
        texts = rt.lexicon_editor().texts_adding_word(word, "NNG")
        result = rt.edit_lexicon(texts, "add-word")
        rt.edit_lexicon(rt.lexicon_editor().texts_removing_word(word), "remove-word")
    finally:
        stop.set()
        worker.join()
    assert result.plan.examined > 0
    assert len(outcomes) >= 3 and set(outcomes) == {200}


def test_bad_edits_get_a_korean_message_and_change_nothing(tmp_path, sample_copy):
    rt = make_runtime(tmp_path / "data")
    rt.ingester().run([sample_copy / "dgi_2020_smartcity_governance.txt"])
    editor = rt.lexicon_editor()
    files = editor.current_texts()
    lineage = rt.store.lineage()
    bad = [
        (lambda: editor.texts_adding_word("수성알파시티", "XYZ"), "품사"),
        (lambda: editor.texts_adding_word("  ", "NNP"), "비어"),
        (lambda: editor.texts_adding_word("수성 알파시티", "NNP"), "띄어쓰기"),
        (lambda: editor.texts_adding_synonyms("리빙랩", []), "두 개 이상"),
        (lambda: editor.texts_adding_synonyms("리빙랩", ["리빙랩"]), "두 개 이상"),
        (lambda: editor.texts_removing_word("없는낱말"), "없는 낱말"),
        (lambda: editor.texts_removing_synonyms("없는대표형"), "묶음이 없습니다"),
        (lambda: editor.apply({**files, "synonyms.txt": "외톨이\n"}), "두 개 이상"),
    ]
    for make, words in bad:
        with pytest.raises(LexiconEditError) as info:
            make()
        assert words in info.value.message
    with editor._exclusive():  # another edit is running
        with pytest.raises(LexiconBusy, match="진행 중"):
            rt.edit_lexicon(editor.texts_adding_synonyms("리빙랩", ["시민실험실"]))
    assert rt.lexicon_editor().current_texts() == files
    assert rt.store.lineage() == lineage
    assert not (rt.lexicon_dir / "userdict.tsv").exists()

    env = {"POLICYKB_DATA_DIR": str(tmp_path / "data"), "POLICYKB_OCR": "off"}
    from wiring.cli import main

    out = CliRunner().invoke(main, ["lexicon", "add-word", "수성 알파시티"], env=env)
    assert out.exit_code == 2 and "띄어쓰기" in out.output


def test_preview_shows_the_change_then_cli_applies_it(tmp_path, sample_copy):
    from wiring.cli import main

    rt = make_runtime(tmp_path / "data")
    rt.ingester().run([sample_copy])
    rt.saved.add("tester", "리빙랩", "q=리빙랩", 10)
    rt.saved.add("tester", "교통", "q=교통", 10)
    before = rt.service.search(SearchRequest(q="생활실험실", match="all", size=100)).total
    editor = rt.lexicon_editor()
    # a new canonical form for 리빙랩: passages with 리빙랩 gain the term 생활실험실
    plan = editor.preview(editor.texts_adding_synonyms("생활실험실", ["리빙랩"]))
    assert plan.passages > 0 and plan.documents
    example = plan.examples()[0]
    assert "리빙랩" in example["excerpt"]
    assert example["removed"] == [] and example["added"] == ["생활실험실"]
    # saved and recent searches whose results may change (those with 리빙랩 or 생활실험실)
    queries = {q.query for q in plan.queries}
    assert {"리빙랩", "생활실험실"} <= queries and "교통" not in queries
    assert rt.store.count_stale(rt.analyzer.identity) == 0
    assert rt.lexicon_editor().current_texts() == editor.current_texts()  # nothing saved

    env = {"POLICYKB_DATA_DIR": str(tmp_path / "data"), "POLICYKB_OCR": "off"}
    out = CliRunner().invoke(main, ["lexicon", "add-synonym", "생활실험실", "리빙랩"], env=env)
    assert out.exit_code == 0, out.output
    assert f"re-analyzed {plan.examined} passages in {plan.examined_documents} documents" in (
        out.output
    )
    rt.reload_analyzer()
    # another process (the CLI) wrote the index: this one's reader reloads within 0.5 s
    for _ in range(20):
        hits = rt.service.search(SearchRequest(q="생활실험실", match="all", size=100))
        if hits.total > before:
            break
        time.sleep(0.2)
    assert set(rt.store.indexed_among(plan.documents)) <= {h.id for h in hits.hits}
    assert hits.total > before
    assert rt.store.count_stale(rt.analyzer.identity) == 0
    # ingest again: nothing to do, the files' analyses are still current
    report = rt.ingester().run([sample_copy])
    assert report.unchanged == report.seen
