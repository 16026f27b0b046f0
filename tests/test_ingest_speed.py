"""The fast ingest route (worker processes sending compact results: store JSON and the
engine's prepared entries; batched store transactions; index flushes by size) stores and
finds exactly what the reference route does (one process, Token objects, the engine
building its entries itself): tokens, metadata, duplicate groups, file states, search
results with scores, snippets and facets, on both engines."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest import dedup, pipeline
from tests.conftest import REPO, es_runtime, make_runtime, shared_path
from tests.ingest_fingerprint import differences, fingerprint

# Real public documents with their copies in other formats (HWP, HWPX, PDF): duplicate
# groups of 2-4 files, a 결재문서 pair, a press release; small enough for a test.
PUBLIC_GLOBS = (
    "samples/hwpx/hwpx-0[12].hwpx",
    "samples/hwpx/hwpx-h-01.hwpx",
    "pdf/hwpx/hwpx-0[12]-2022.pdf",
    "pdf/hwpx/hwpx-h-01-2022.pdf",
    "samples/2026_oss_rst.hwp",
    "samples/hwpx/2026_oss_rst.hwpx",
    "samples/issue2020/*",
    "samples/hwpx/opengov/*",
    "samples/table-vpos-01.hwp*",
    "pdf/table-vpos-01-2022.pdf",
    "samples/synam-001.*",
    "pdf/synam-001-2022.pdf",
)


def public_files() -> list[Path]:
    root = shared_path("data", "public-docs")
    files = sorted({p for g in PUBLIC_GLOBS for p in root.glob(g) if p.is_file()})
    assert len(files) >= 15, files
    return files


def _runtime(data_dir: Path, backend: str, request, alias: str):
    if backend == "elasticsearch":
        return es_runtime(data_dir, request.getfixturevalue("es_url"), alias)
    return make_runtime(data_dir)


@pytest.mark.parametrize("backend", ["embedded", "elasticsearch"])
def test_fast_route_stores_and_finds_the_same(tmp_path, sample_copy, backend, request, monkeypatch):
    # Index flushes by count only: a flush after 10 s would put the segment boundaries
    # (and so the order of hits with equal scores) where the machine's load puts them.
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", float("inf"))
    inputs = [sample_copy, *public_files()]
    reference = _runtime(tmp_path / "reference", backend, request, "policykb-test-speed-ref")
    fast = _runtime(tmp_path / "fast", backend, request, "policykb-test-speed-fast")
    # One process streaming every text through one Kiwi with 2 threads of its own.
    threads = _runtime(tmp_path / "threads", backend, request, "policykb-test-speed-threads")
    try:
        slow = reference.ingester(workers=1)
        slow.compact = False  # the route of before: Token objects, entries built here
        ref_report = slow.run(inputs)
        fast_report = fast.ingester(workers=2).run(inputs)
        threads_report = threads.ingester(workers=2, mode="threads").run(inputs)
        assert ref_report.duplicates >= 6  # the copies above are found either way
        # Hits of equal score come in the index's insertion order, which two workers'
        # finishing order decides: compared in (score, id) order.
        a = _ties_by_id(fingerprint(reference))
        assert len(a["documents"]) == ref_report.added
        for rt, report in ((fast, fast_report), (threads, threads_report)):
            for field in ("seen", "added", "failed", "duplicates", "pages"):
                assert getattr(report, field) == getattr(ref_report, field), field
            b = _ties_by_id(fingerprint(rt))
            assert differences(a, b) == []
            assert a == b
            # The build timed its stages, the parent its own.
            assert report.stages["build"]["analysis"] > 0
            assert report.stages["parent"]["index writes"] > 0
        # One process analyzes a repeated passage once, as the reference does (each
        # worker process only knows its own repeats).
        assert threads_report.cache_hits == ref_report.cache_hits > 0
    finally:
        if backend == "elasticsearch":
            for rt in (reference, fast, threads):
                rt.backend.drop_all()


def test_ingest_beside_a_thread_using_sqlite_ends_and_stores_the_same(tmp_path, sample_copy):
    # A server answers requests (SQLite reads) while its job thread ingests: the workers
    # must not start holding a lock copied from the thread in SQLite at that moment.
    plain = make_runtime(tmp_path / "plain")
    plain.ingester(workers=2).run([sample_copy])
    busy = make_runtime(tmp_path / "busy")
    busy.ingester(workers=1).run([sample_copy])  # something to read meanwhile
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            busy.store.count_documents()

    readers = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    for thread in readers:
        thread.start()
    fresh = make_runtime(tmp_path / "fresh")
    done: list = []
    job = threading.Thread(
        target=lambda: done.append(fresh.ingester(workers=2).run([sample_copy])), daemon=True
    )
    job.start()
    job.join(timeout=600)
    stop.set()
    assert done, "the ingest beside the reading threads did not end"
    assert done[0].failed == 0
    # ties in (score, id) order: two workers' finishing order decides the insertion order
    assert differences(_ties_by_id(fingerprint(plain)), _ties_by_id(fingerprint(fresh))) == []


def _simhash_bit_by_bit(text: str) -> int:
    """SimHash as first written: a weight per bit, +1/-1 for every distinct shingle."""
    weights = [0] * 64
    for shingle in dedup.shingles(text):
        h = int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def test_simhash_counts_bits_as_before():
    """Duplicate detection keys on these values: the fast count gives the same bits."""
    texts = ["", "a", "도시", "스마트시티", "  ,.!  ", "a" * 5000]
    for path in sorted(shared_path("data", "public-docs").glob("samples/hwpx/*.hwpx"))[:6]:
        from ingest.extract import extract

        texts.append("\n\n".join(p.text for p in extract(path).pages))
    for text in texts:
        assert dedup.simhash(text) == _simhash_bit_by_bit(text)


def test_prepared_forms_are_built_as_their_definitions(monkeypatch):
    """The shortcuts of the ingest path give what their plain definitions give on real
    documents: the embedded body fields (straight from the passages' tokens) as
    ``_token_field(with_sentinel(...))`` of :func:`body_tokens` (the word-order head: its
    first POSITIONAL_HEAD parts, here a head shorter than the documents), character
    bigrams as every two-character slice of each word, and the duplicate hashes squashed
    once."""
    from analyzers.bigram import _WORD_RE, char_bigrams
    from analyzers.kiwi import get_analyzer
    from ingest.build import BuildJob, build
    from policykb.backends import base
    from policykb.backends.base import body_tokens, split_joined, with_sentinel
    from policykb.backends.embedded import EmbeddedBackend, _token_field

    monkeypatch.setattr(base, "POSITIONAL_HEAD", 60)

    sample = sorted((REPO / "corpus" / "sample").glob("*.txt"))[:4]
    hwpx = sorted(shared_path("data", "public-docs").glob("samples/hwpx/*.hwpx"))[:2]
    analyzer = get_analyzer()
    for path in [*sample, *hwpx]:
        doc = build(BuildJob(str(path), None, None), analyzer, None).document
        assert doc is not None and doc.passages, path
        body, body_joined = split_joined(body_tokens(doc))
        fields = EmbeddedBackend.prepare(doc)[1]
        assert fields[2] == _token_field("body", with_sentinel(body))
        assert fields[3] == _token_field("body_joined", with_sentinel(body_joined))
        assert fields[4] == _token_field("body_head", with_sentinel(body[:60]))
        assert len(body) > 60
        names = ["title", "title_joined", "body", "body_joined", "body_head", "authors"]
        assert [f[0] for f in fields] == names
        for p in doc.passages:
            words = _WORD_RE.findall(p.text.lower())
            plain = [w[i : i + 2] for w in words for i in range(max(1, len(w) - 1))]
            assert char_bigrams(p.text) == plain
        assert dedup.fingerprints(doc.text) == (
            dedup.content_hash(doc.text),
            _simhash_bit_by_bit(doc.text),
        )


def test_cli_ingest_ends_and_the_suggestions_follow(tmp_path):
    """`policykb ingest` does not wait for the suggestion index: a detached process
    rebuilds it, and the suggestions appear shortly after."""
    from corpus import SAMPLE_DIR

    data = tmp_path / "data"
    env = {
        **os.environ,
        "POLICYKB_DATA_DIR": str(data),
        "POLICYKB_OCR": "off",
        "POLICYKB_BACKEND": "embedded",
    }
    subprocess.run(
        [sys.executable, "-m", "wiring.cli", "ingest", "--quiet", str(SAMPLE_DIR)],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 180
    while not (data / "suggest.idx").exists():
        assert time.monotonic() < deadline, (data / "suggest.log").read_text()
        time.sleep(0.5)
    rt = make_runtime(data)
    assert rt.suggester.suggest("탄소 중", 1)[0].text == "탄소중립"


def test_cli_modes_store_and_find_the_same_on_text_files(tmp_path):
    """`policykb ingest` on text files picks one process with one Kiwi and its own threads
    (--mode auto); it stores and finds exactly what the worker processes do."""
    import shutil

    from corpus import SAMPLE_DIR
    from ingest.pipeline import pick_mode

    texts = tmp_path / "texts"
    texts.mkdir()
    for f in sorted(SAMPLE_DIR.iterdir()):
        if f.suffix in (".txt", ".md"):
            shutil.copy(f, texts / f.name)
    assert pick_mode([texts]) == "threads"
    runtimes = []
    for mode in ("auto", "processes"):
        data = tmp_path / mode
        env = {**os.environ, "POLICYKB_DATA_DIR": str(data), "POLICYKB_OCR": "off"}
        env["POLICYKB_BACKEND"] = "embedded"
        done = subprocess.run(
            [sys.executable, "-m", "wiring.cli", "ingest", "--quiet", "--mode", mode, str(texts)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        runtimes.append(make_runtime(data))
    # Hits of equal score come in the index's segment order, which the flush timing (every
    # 10 s in the CLI) decides: compared in (score, id) order.
    a, b = (_ties_by_id(fingerprint(rt)) for rt in runtimes)
    assert len(a["documents"]) >= 30
    assert differences(a, b) == []
    assert a == b


def _ties_by_id(fp: dict) -> dict:
    for search in fp["searches"].values():
        search["hits"].sort(key=lambda h: (-h[1], h[0]))
    return fp


def test_store_batch_commits_together_and_a_failed_block_alone_rolls_back(tmp_path):
    """Ingest writes a group of documents in one transaction: a block that fails inside
    it (a file that cannot be stored) leaves the others; a failing batch leaves nothing."""
    import sqlite3

    from policykb.store import DocumentStore, FileRecord

    store = DocumentStore(tmp_path / "store.sqlite3")

    def put(con, name: str) -> None:
        store.put_file(FileRecord(name, None, None, None, "failed", "x", None, 0.0), con)

    def paths() -> list[str]:
        con = sqlite3.connect(tmp_path / "store.sqlite3")  # another reader: committed only
        try:
            return sorted(r[0] for r in con.execute("SELECT path FROM files"))
        finally:
            con.close()

    with store.transaction():
        with store.connect() as con:
            put(con, "a")
        with pytest.raises(ValueError), store.connect() as con:
            put(con, "b")
            raise ValueError
        with store.connect() as con:
            put(con, "c")
        assert paths() == []  # nothing is visible before the batch commits
    assert paths() == ["a", "c"]
    with pytest.raises(KeyError), store.transaction():
        with store.connect() as con:
            put(con, "d")
        raise KeyError
    assert paths() == ["a", "c"]
