"""The optional native passage reader (native/, `make native`) answers exactly what the
embedded engine's Python path answers: the same matching-passage counts, the same pages
and the same best passages, over several segments, deleted and re-indexed documents and
passages without a page. Under CI the module must be built."""

from __future__ import annotations

import os
import random

import pytest

from policykb.backends import embedded
from policykb.backends.embedded import EmbeddedBackend
from policykb.models import Document, Passage, Token

WORDS = ["도시", "재생", "도시재생", "주택", "규제", "비용", "편익", "스마트", "정책", "교육과정"]


def _native_or_skip():
    if embedded.policykb_native is not None:
        return
    message = "policykb_native is not built (make native): the Python path alone is tested"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _document(rng: random.Random, k: int) -> Document:
    passages = []
    for seq in range(rng.randrange(1, 60)):
        # each query word in some passages only, a few times; filler words around them
        words = [w for w in WORDS if rng.random() < 0.3 for _ in range(rng.randrange(1, 5))]
        words += [f"낱말{rng.randrange(3000)}" for _ in range(rng.randrange(5, 120))]
        rng.shuffle(words)
        text = " ".join(words)
        tokens, pos = [], 0
        for i, w in enumerate(words):
            start = text.index(w, pos)
            tokens.append(Token(w, start, start + len(w), i))
            pos = start + len(w)
        page = None if seq % 17 == 5 else seq // 3 + 1  # a few passages without a page
        passages.append(Passage(seq, page, text, tokens))
    return Document(f"doc-{k:03d}", f"문서 {k}", "미상", [], "연구보고서", None, passages=passages)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    _native_or_skip()
    rng = random.Random(12)
    b = EmbeddedBackend(tmp_path_factory.mktemp("native") / "index")
    docs = [_document(rng, k) for k in range(40)]
    for start in range(0, 40, 10):  # four commits: several segments
        b.index(docs[start : start + 10])
    b.delete(["doc-003", "doc-017"])
    b.index([_document(rng, 25), _document(rng, 31)])  # replaced: old entries deleted
    return b


def _both(b: EmbeddedBackend, ids, terms, per_doc):
    native = b.passages(ids, terms, per_doc=per_doc)
    kept = b._native
    b._native = None
    try:
        python = b.passages(ids, terms, per_doc=per_doc)
    finally:
        b._native = kept
    return native, python


@pytest.mark.parametrize("per_doc", [1, 3])
def test_native_passages_equal_the_python_path(backend, per_doc):
    assert backend._native is not None
    rng = random.Random(per_doc)
    ids = [f"doc-{k:03d}" for k in range(42)]  # two of them deleted, two never indexed
    cases = [["도시"], ["도시", "재생"], ["없는낱말"], ["교육과정", "없는낱말"], WORDS]
    cases += [rng.sample(WORDS, rng.randrange(1, 7)) for _ in range(25)]
    for terms in cases:
        some = rng.sample(ids, rng.randrange(1, 12))
        native, python = _both(backend, some, terms, per_doc)
        assert native.keys() == python.keys(), terms
        for doc_id in native:
            n, p = native[doc_id], python[doc_id]
            assert (n.matched, n.pages) == (p.matched, p.pages), (doc_id, terms)
            assert [(m.seq, m.page) for m in n.best] == [(m.seq, m.page) for m in p.best]
            # the Python path sums the per-term constants in f32 for some queries
            assert [m.score for m in n.best] == pytest.approx([m.score for m in p.best], abs=2e-3)
    assert not backend.passages(["doc-003", "doc-017"], ["도시"])  # deleted: nothing


def test_native_reader_follows_writes_and_rebuilds(backend):
    before = backend.passages(["doc-005"], ["도시"])
    assert before
    backend.delete(["doc-005"])
    assert not backend.passages(["doc-005"], ["도시"])
    rng = random.Random(5)
    backend.rebuild([_document(rng, 5)], 1)
    after = backend.passages(["doc-005"], ["도시"])
    assert after and backend._native is not None
    assert backend._native.num_docs() == len(_document(random.Random(5), 5).passages)
