"""Every ingest path on both engines: the same folder of real files is ingested into the
embedded engine and into a real Elasticsearch, and after each step both hold the same
document ids (the store's canonical documents, copies never) and answer the same queries
with the same totals, hit ids and facet counts.

Paths: first ingest, unchanged re-run, changed files, exact and near duplicates (and
removing a canonical that has copies), ``--sync`` removals, ``--retry-failed``, SIGKILL
and resume, re-index, and the acceptance run of ``policykb ingest`` over
../shared/data/public-docs through the CLI.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus import SAMPLE_DIR
from policykb.errors import EngineError, InputError, StorageError
from policykb.models import Filters
from policykb.query import Bool
from policykb.service import parse_request
from tests.conftest import REPO, es_runtime, make_runtime, shared_path
from tests.test_faults import write_docs
from wiring.runtime import Runtime

# Queries over the sample corpus: words, phrases, exclusion, OR, filters, match-all.
SAMPLE_QUERIES = [
    {"q": "스마트시티"},
    {"q": "협의체"},
    {"q": '"도시 재생"'},
    {"q": "교통 OR 주거"},
    {"q": "탄소중립 -건물"},
    {"q": "지역:경기"},
    {"q": "", "doc_type": ["보도자료"]},
    {"q": ""},
]
# Queries over public-docs (press releases, regulatory analyses, notices, research).
PUBLIC_QUERIES = [
    {"q": "보도자료"},
    {"q": "교육과정"},
    {"q": "규제영향분석"},
    {"q": "해외직접투자"},
    {"q": "정부혁신"},
    {"q": "가계대출"},
    {"q": "수소"},
    {"q": "영구임대 주택"},
    {"q": '"제안요청서"'},
    {"q": "택시 OR 반려동물"},
    {"q": ""},
]
REPORT_FIELDS = ("seen", "added", "updated", "unchanged", "failed", "removed", "duplicates")
SAMPLE_TEXTS = [
    "cni_2019_innovation_city_report.txt",
    "gri_2019_smartcity_livinglab.txt",
    "krihs_2018_smartcity_council.txt",
    "si_2018_youth_housing.txt",
    "krihs_2020_urban_regeneration_brief.md",
    "gri_2023_re100_industrial_press.txt",
    "goyang_2020_changneung_transport_press.txt",
]
SAMPLE_PDF = "si_2021_carbon_neutral_buildings.pdf"


@dataclass
class Engines:
    emb: Runtime
    es: Runtime

    def both(self) -> tuple[Runtime, Runtime]:
        return self.emb, self.es


def _alias(name: str) -> str:
    return "policykb-ic-" + hashlib.sha1(name.encode()).hexdigest()[:10]


@pytest.fixture()
def engines(tmp_path, es_url, request) -> Engines:
    pair = Engines(
        make_runtime(tmp_path / "data-emb"),
        es_runtime(tmp_path / "data-es", es_url, _alias(request.node.name)),
    )
    yield pair
    pair.es.backend.drop_all()


def sample_folder(dest: Path, names=SAMPLE_TEXTS, pdf: bool = True) -> Path:
    """A folder of real sample files with the corpus's manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in [*names, *([SAMPLE_PDF] if pdf else [])]:
        shutil.copy(SAMPLE_DIR / name, dest / name)
    shutil.copy(SAMPLE_DIR / "manifest.csv", dest / "manifest.csv")
    return dest


def ingest_both(engines: Engines, paths: list[Path], **kwargs) -> dict[str, int]:
    """Run the same ingest on both engines; their reports must agree. Returns the counts."""
    reports = [rt.ingester(workers=1).run(paths, **kwargs) for rt in engines.both()]
    counts = [{f: getattr(r, f) for f in REPORT_FIELDS} for r in reports]
    assert counts[0] == counts[1], counts
    failures = [sorted((Path(p).name, why) for p, why in r.failures) for r in reports]
    assert failures[0] == failures[1]
    return counts[0]


def index_ids(rt: Runtime) -> set[str]:
    res = rt.backend.search(Bool(), Filters(), "oldest", 0, 10_000, facets=False)
    assert res.total == len(res.hits)
    return {h.id for h in res.hits}


def canonical_ids(rt: Runtime) -> set[str]:
    return {d.id for d in rt.store.iter_documents(canonical_only=True)}


def search(rt: Runtime, params: dict):
    args = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
    args.setdefault("size", ["100"])
    return rt.service.search(parse_request(args, rt.settings))


def assert_parity(engines: Engines, queries=SAMPLE_QUERIES) -> set[str]:
    """Both engines index exactly the store's canonical documents and answer ``queries``
    alike (totals, hit ids, facet counts). Returns the indexed ids."""
    emb, es = engines.both()
    ids = index_ids(emb)
    assert ids == canonical_ids(emb)
    assert index_ids(es) == ids == canonical_ids(es)
    assert emb.backend.count() == es.backend.count() == len(ids)
    for params in queries:
        a, b = search(emb, params), search(es, params)
        assert a.total == b.total, params
        assert {h.id for h in a.hits} == {h.id for h in b.hits}, params
        for facet in a.facets:
            assert {(f.value, f.count) for f in a.facets[facet]} == {
                (f.value, f.count) for f in b.facets[facet]
            }, (params, facet)
    return ids


# ------------------------------------------------------------------------- scenarios
def test_first_ingest_then_unchanged_rerun(tmp_path, engines):
    folder = sample_folder(tmp_path / "docs")
    first = ingest_both(engines, [folder])
    assert first["added"] == len(SAMPLE_TEXTS) + 1 and first["failed"] == 0
    ids = assert_parity(engines)
    again = ingest_both(engines, [folder])
    assert again["unchanged"] == len(SAMPLE_TEXTS) + 1 and again["added"] == again["updated"] == 0
    assert assert_parity(engines) == ids


def test_changed_files(tmp_path, engines):
    folder = sample_folder(tmp_path / "docs", pdf=False)
    ingest_both(engines, [folder])
    edited = folder / SAMPLE_TEXTS[0]
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\n\n해양쓰레기 수거 선박을 새로 도입한다.\n",
        encoding="utf-8",
    )
    # A file whose content became another document altogether, and one that became a
    # copy of another file (it leaves the index: found through its canonical).
    shutil.copy(SAMPLE_DIR / "jni_2019_energy_valley_report.txt", folder / SAMPLE_TEXTS[1])
    shutil.copy(folder / SAMPLE_TEXTS[3], folder / SAMPLE_TEXTS[2])
    changed = ingest_both(engines, [folder])
    assert changed["updated"] == 3 and changed["unchanged"] == len(SAMPLE_TEXTS) - 3
    assert changed["duplicates"] == 1
    ids = assert_parity(engines, [*SAMPLE_QUERIES, {"q": "해양쓰레기"}, {"q": "에너지밸리"}])
    assert len(ids) == len(SAMPLE_TEXTS) - 1
    for rt in engines.both():
        assert search(rt, {"q": "해양쓰레기"}).total == 1


def _duplicates_folder(dest: Path) -> Path:
    """Sample texts, an exact copy, a near copy (re-spaced, one word changed) and a real
    HWP/HWPX/PDF triple of one press release from public-docs."""
    folder = sample_folder(dest, SAMPLE_TEXTS[:4], pdf=False)
    original = folder / SAMPLE_TEXTS[0]
    shutil.copy(original, folder / "copy_exact.txt")
    text = original.read_text(encoding="utf-8")
    near = text.replace("\n\n", "\n").replace("있다", "있음", 1)
    (folder / "copy_near.txt").write_text(near, encoding="utf-8")
    base = shared_path("data", "public-docs")
    for rel in ("samples/table-vpos-01.hwp", "samples/table-vpos-01.hwpx"):
        shutil.copy(base / rel, folder / Path(rel).name)
    shutil.copy(base / "pdf/table-vpos-01-2022.pdf", folder / "table-vpos-01.pdf")
    return folder


def test_duplicates_near_duplicates_and_removing_a_canonical(tmp_path, engines):
    folder = _duplicates_folder(tmp_path / "docs")
    first = ingest_both(engines, [folder])
    # The exact and the near copy, and two of the three formats of the press release.
    assert first["duplicates"] == 4 and first["failed"] == 0
    queries = [*SAMPLE_QUERIES, {"q": "정부혁신"}, {"q": "국민주권정부"}]
    ids = assert_parity(engines, queries)
    emb = engines.emb
    groups = {d.id: [c.id for c in emb.store.copies(d.id)] for d in emb.store.iter_documents()}
    canonical = next(i for i in sorted(ids) if groups[i] and _path_of(emb, i).endswith(".txt"))
    heirs = set(groups[canonical])
    Path(_path_of(emb, canonical)).unlink()
    removed = ingest_both(engines, [folder], sync=True)
    assert removed["removed"] == 1
    after = assert_parity(engines, queries)
    assert canonical not in after and len(after & heirs) == 1  # one copy took its place
    for rt in engines.both():  # the press release in three formats is found once
        assert search(rt, {"q": "국민주권정부"}).total == 1


def _path_of(rt: Runtime, doc_id: str) -> str:
    return next(f.path for f in rt.store.list_files() if f.doc_id == doc_id)


def test_reindex_keeps_the_same_documents(tmp_path, engines):
    folder = _duplicates_folder(tmp_path / "docs")
    ingest_both(engines, [folder])
    before = assert_parity(engines)
    for rt in engines.both():
        rt.reindex()
    assert assert_parity(engines) == before  # copies stay out of the new index too


def test_sync_removals(tmp_path, engines):
    folder = sample_folder(tmp_path / "docs")
    ingest_both(engines, [folder])
    for name in (SAMPLE_TEXTS[2], SAMPLE_PDF):
        (folder / name).unlink()
    plain = ingest_both(engines, [folder])  # without --sync nothing is removed
    assert plain["removed"] == 0 and len(assert_parity(engines)) == len(SAMPLE_TEXTS) + 1
    synced = ingest_both(engines, [folder], sync=True)
    assert synced["removed"] == 2
    assert len(assert_parity(engines)) == len(SAMPLE_TEXTS) - 1


def test_retry_failed(tmp_path, engines):
    folder = sample_folder(tmp_path / "docs", SAMPLE_TEXTS[:4], pdf=False)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    (folder / "broken.hwp").write_bytes(b"\x00\x01garbage" * 50)
    first = ingest_both(engines, [folder])
    assert first["failed"] == 2 and first["added"] == 4
    assert_parity(engines)
    shutil.copy(SAMPLE_DIR / SAMPLE_PDF, folder / "broken.pdf")  # one of them is fixed
    retried = ingest_both(engines, [folder], retry_failed=True)
    assert retried["seen"] == 2 and retried["added"] == 1 and retried["failed"] == 1
    assert len(assert_parity(engines)) == 5
    for rt in engines.both():
        assert [Path(f.path).name for f in rt.store.list_files("failed")] == ["broken.hwp"]


def _cli_env(rt: Runtime) -> dict[str, str]:
    env = dict(os.environ, POLICYKB_DATA_DIR=str(rt.settings.data_dir))
    env["POLICYKB_OCR"] = rt.settings.ocr  # off in tests (tests/test_ocr.py runs Tesseract)
    env.pop("POLICYKB_BACKEND", None)
    if rt.settings.backend == "elasticsearch":
        env.update(
            POLICYKB_BACKEND="elasticsearch",
            POLICYKB_ES_URL=rt.settings.es_url,
            POLICYKB_ES_INDEX=rt.settings.es_index,
        )
    return env


def _kill_midway(rt: Runtime, folder: Path, at_least: int) -> None:
    """Start `policykb ingest` and SIGKILL it once ``at_least`` files are in the store."""
    cmd = [sys.executable, "-m", "wiring.cli", "ingest", "--quiet", "--workers", "1"]
    proc = subprocess.Popen(
        [*cmd, str(folder)],
        env=_cli_env(rt),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = rt.settings.store_path
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                con = sqlite3.connect(store, timeout=1)
                n = con.execute("SELECT COUNT(*) FROM files").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if n >= at_least:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_sigkill_then_resume(tmp_path, engines):
    # Long enough to span several of the ingest's store groups (50 documents or 1 s each),
    # so the kill lands mid-run on a fast machine too.
    folder = tmp_path / "docs"
    total = 40
    write_docs(folder, total, seed=7, words_per_doc=1500)
    for rt in engines.both():
        _kill_midway(rt, folder, at_least=3)
    partial = [rt.store.count_documents() for rt in engines.both()]
    assert all(0 < n < total for n in partial), partial
    for rt in engines.both():  # resuming: the same command again
        report = rt.ingester(workers=1).run([folder])
        assert report.failed == 0 and report.unchanged + report.added + report.updated == total
    assert len(assert_parity(engines)) == total


# -------------------------------------------------------------------- acceptance
def _cli_ingest(rt: Runtime, base: Path) -> tuple[Runtime, int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "wiring.cli", "ingest", "--quiet", str(base)],
        env=_cli_env(rt),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return rt, proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def public_docs_embedded(tmp_path_factory):
    """`policykb ingest ../shared/data/public-docs` through the CLI on the embedded engine,
    once for the module: (runtime, exit status, stdout, stderr)."""
    base = shared_path("data", "public-docs")
    return _cli_ingest(make_runtime(tmp_path_factory.mktemp("public-emb")), base)


@pytest.fixture(scope="module")
def public_docs(public_docs_embedded, tmp_path_factory, es_url):
    """The same command on Elasticsearch: {"embedded": run, "elasticsearch": run}.

    To halve CI time the Elasticsearch run starts with the embedded run's analysis cache
    (Kiwi's output for the same texts, as a second ingest of the same files would have):
    extraction, duplicates, the store and every index write still run in full."""
    emb = public_docs_embedded[0]
    es = es_runtime(tmp_path_factory.mktemp("public-es"), es_url, "policykb-ic-public-docs")
    _copy_analysis_cache(emb, es)
    yield {
        "embedded": public_docs_embedded,
        "elasticsearch": _cli_ingest(es, shared_path("data", "public-docs")),
    }
    es.backend.drop_all()


def _copy_analysis_cache(src: Runtime, dest: Runtime) -> None:
    dest.ingester()  # creates the store's tables
    con = sqlite3.connect(dest.settings.store_path)
    con.execute("ATTACH DATABASE ? AS src", (str(src.settings.store_path),))
    con.execute("INSERT OR IGNORE INTO analysis_cache SELECT * FROM src.analysis_cache")
    con.commit()
    con.close()


def _outcome(stdout: str, stderr: str) -> tuple[str, list[str]]:
    summary = re.sub(r"\([\d.]+s\)", "", stdout)  # the run's duration differs
    failed = sorted(line for line in stderr.splitlines() if line.startswith("FAILED "))
    return summary, failed


def test_public_docs_cli_ingest_is_the_same_on_both_engines(public_docs):
    (emb, code_emb, out_emb, err_emb) = public_docs["embedded"]
    (es, code_es, out_es, err_es) = public_docs["elasticsearch"]
    assert code_emb in (0, 3), err_emb[-2000:]  # 3: some files have no text (recorded)
    assert code_es == code_emb, err_es[-2000:]
    assert "Traceback" not in err_es
    assert not any(e.label in err_es for e in (StorageError, EngineError, InputError))
    assert _outcome(out_es, err_es) == _outcome(out_emb, err_emb)
    assert emb.store.count_documents(canonical_only=False) >= 100
    ids = assert_parity(Engines(emb, es), PUBLIC_QUERIES)
    assert len(ids) == emb.store.count_documents()
    for params in PUBLIC_QUERIES[:3]:
        assert search(es, params).total > 0, params


@pytest.mark.data
def test_every_public_document_yields_text_or_a_reason(public_docs_embedded):
    """(Moved from test_ingest.py to share this module's ingest of public-docs.)"""
    rt = public_docs_embedded[0]
    assert len(rt.store.list_files()) >= 100
    for rec in rt.store.list_files():
        assert rec.status in ("indexed", "failed"), rec
        if rec.status == "failed":
            assert rec.error and rec.error.startswith("[")
        else:
            doc = rt.store.get_document(rec.doc_id)
            assert any("\uac00" <= ch <= "\ud7a3" for ch in doc.text), rec.path
    reasons = {}
    for rec in rt.store.list_files("failed"):
        key = rec.error.split("]")[0][1:]
        reasons[key] = reasons.get(key, 0) + 1
    print("public-docs: failed by reason:", reasons)
    assert "error" not in reasons  # every failure is a known, typed reason
