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


def _cli(data_dir, *args: str, **popen):
    """``policykb ARGS`` in a process of its own (another admin's terminal)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "POLICYKB_DATA_DIR": str(data_dir), "POLICYKB_OCR": "off"}
    cmd = [sys.executable, "-m", "wiring.cli", *args]
    if popen:
        return subprocess.Popen(cmd, env=env, text=True, **popen)
    return subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=300)


def _holds_open(pid: int, path) -> bool:
    import os

    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            pass
    return False


def test_edits_ingests_and_other_edits_exclude_each_other_across_processes(tmp_path, sample_copy):
    """An edit is refused with a Korean message while an ingest runs (here, in this
    process; the edit from the CLI) or while another edit runs (a CLI edit during this
    process's edit, as during an admin page save); an ingest started during an edit waits
    for it, then runs with the new dictionary. Refused edits change nothing."""
    import subprocess

    from policykb.analysis_lock import AnalysisBusy

    data = tmp_path / "data"
    rt = make_runtime(data)
    rt.ingester().run([sample_copy / "dgi_2020_smartcity_governance.txt"])
    files = rt.lexicon_editor().current_texts()
    lineage = rt.store.lineage()
    seen: dict = {}

    def during_ingest(_report, _path) -> None:
        if "cli" not in seen:  # the first file: the ingest holds the lock now
            seen["cli"] = _cli(data, "lexicon", "add-word", "도시재생지원센터")
            with pytest.raises(AnalysisBusy, match="수집"):  # the admin page's save
                rt.edit_lexicon(rt.lexicon_editor().texts_adding_word("리빙랩센터", "NNG"))

    (tmp_path / "next").mkdir()
    shutil.copy(sample_copy / "cni_2022_getbol_tourism_press.txt", tmp_path / "next")
    rt.ingester().run([tmp_path / "next"], progress=during_ingest)
    out = seen["cli"]
    assert out.returncode == 1, out.stderr
    assert "수집(ingest)" in out.stderr and "바꾸지 않았습니다" in out.stderr
    assert rt.lexicon_editor().current_texts() == files
    assert rt.store.lineage() == lineage

    # A CLI edit while this process's edit is being applied (it holds both locks while
    # it works out the affected searches).
    editor = rt.lexicon_editor()

    def during_edit() -> list[str]:
        seen["second"] = _cli(data, "lexicon", "add-synonym", "생활실험실", "리빙랩")
        return []

    editor.queries = during_edit
    editor.apply(editor.texts_adding_word("도시재생지원센터", "NNG"), "add-word")
    rt.reload_analyzer()
    out = seen["second"]
    assert out.returncode == 1 and "다른 사전·동의어 편집이 진행 중" in out.stderr
    texts = rt.lexicon_editor().current_texts()
    assert "도시재생지원센터" in texts["userdict.tsv"]
    assert "생활실험실" not in texts["synonyms.txt"]  # the refused edit changed nothing

    # An ingest started while an edit holds the lock waits for it.
    (tmp_path / "more").mkdir()
    shutil.copy(sample_copy / "cni_2019_innovation_city_report.txt", tmp_path / "more")
    before = rt.store.count_documents(canonical_only=False)
    with rt.analysis_lock.exclusive():
        proc = _cli(
            data,
            "ingest",
            "--quiet",
            str(tmp_path / "more"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(600):  # until it is at the lock (Python start, imports)
            if _holds_open(proc.pid, rt.analysis_lock.path) or proc.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.poll() is None  # waiting
        assert rt.store.count_documents(canonical_only=False) == before
        with pytest.raises(AnalysisBusy, match="사전·동의어 편집"):  # a writer that gave up
            with rt.analysis_lock.shared("재색인", wait=0.2):
                pass
    _stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert rt.store.count_documents(canonical_only=False) == before + 1
    assert rt.store.count_stale(rt.analyzer.identity) == 0


def test_a_cli_edit_reaches_a_running_server_and_the_suggestions(tmp_path, sample_copy):
    """An edit saved by another process (the CLI) is used by this process's searches
    within seconds, without a restart, and the added word appears among the search box's
    suggestions (rebuilt in the background after the edit)."""
    from wiring.runtime import LEXICON_CHECK_SECONDS

    data = tmp_path / "data"
    rt = make_runtime(data)
    rt.ingester().run([sample_copy])
    word = "도시재생지원센터"
    old = rt.service.analyzer.identity
    assert not [s for s in rt.suggester.suggest(word) if s.text == word]
    out = _cli(data, "lexicon", "add-word", word)
    assert out.returncode == 0, out.stderr
    # noticed within 2 s; the new analyzer is built in the background (its Kiwi takes
    # seconds), searches answer with the old one meanwhile
    deadline = time.monotonic() + LEXICON_CHECK_SECONDS + 60
    while rt.service.analyzer.identity == old and time.monotonic() < deadline:
        assert rt.service.search(SearchRequest(q="도시재생", size=1)).total > 0
        time.sleep(0.2)
    assert rt.service.analyzer.identity != old  # picked up, no reload call
    assert [t.term for t in rt.service.analyzer.analyze(word)][0] == word
    hits = rt.service.search(SearchRequest(q=word, match="all", size=100))
    assert hits.total > 0 and rt.backend.doc_freqs([word])[word] > 0
    for _ in range(300):  # the detached rebuild takes seconds (a few on the sample)
        if [s for s in rt.suggester.suggest(word[:5]) if s.text == word]:
            break
        time.sleep(0.2)
    assert [s.kind for s in rt.suggester.suggest(word[:5]) if s.text == word] == ["dictionary"]
