"""Faults: SIGKILL during re-index (embedded and Elasticsearch) and a full disk. Nothing
committed is lost and the read index keeps answering."""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from policykb.service import parse_request
from tests.conftest import REPO, es_runtime, make_runtime


def write_docs(folder: Path, n: int, seed: int = 1, words_per_doc: int = 300) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    vocab = (
        "도시 재생 교통 주거 청년 인구 탄소중립 스마트시티 협의체 지역 균형 발전 산업 "
        "일자리 복지 안전 관광 농촌 어촌 수소 에너지 데이터 플랫폼 광역 철도 버스 "
        "주택 공급 임대 정비 문화 교육 돌봄 의료 환경 기후 하천 공원"
    ).split()
    rng = random.Random(seed)
    for i in range(n):
        body = " ".join(
            rng.choice(vocab) + rng.choice(["을", "를", "의", "에서", ""])
            for _ in range(words_per_doc)
        )
        (folder / f"doc_{seed}_{i:04d}.txt").write_text(f"문서 {seed}-{i}\n\n{body}", "utf-8")


def total(rt) -> int:
    return rt.service.search(parse_request({}, rt.settings)).total


def cli(data: Path, *args: str, env_extra: dict | None = None, **kw) -> subprocess.Popen:
    env = dict(os.environ, POLICYKB_DATA_DIR=str(data), **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "wiring.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def test_sigkill_during_embedded_reindex(tmp_path):
    write_docs(tmp_path / "docs", 400)
    rt = make_runtime(tmp_path / "data")
    rt.ingester(workers=1).run([tmp_path / "docs"])
    n = rt.store.count_documents()
    index_dir = rt.settings.index_dir
    before = set(p.name for p in index_dir.glob("gen-*"))
    proc = cli(tmp_path / "data", "reindex")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if set(p.name for p in index_dir.glob("gen-*")) - before:
            break  # the new generation is being written: kill now
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = make_runtime(tmp_path / "data")
    current = (index_dir / "CURRENT").read_text().strip()
    assert (index_dir / current).is_dir()
    assert after.backend.count() == n and total(after) == n  # the read index answers
    after.reindex()  # and the next re-index completes and tidies up
    assert len(list(index_dir.glob("gen-*"))) == 1 and total(after) == n


def test_sigkill_during_elasticsearch_reindex(tmp_path, es_url):
    write_docs(tmp_path / "docs", 300)
    rt = es_runtime(tmp_path / "data", es_url, "policykb-kill")
    rt.ingester(workers=1).run([tmp_path / "docs"])
    n = rt.store.count_documents()
    es = rt.backend.es
    before = set(rt.backend.physical_indices())
    env = {
        "POLICYKB_BACKEND": "elasticsearch",
        "POLICYKB_ES_URL": es_url,
        "POLICYKB_ES_INDEX": "policykb-kill",
    }
    proc = cli(tmp_path / "data", "reindex", env_extra=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if set(es.indices.get(index="policykb-kill-v*")) - before:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert rt.backend.count() == n and total(rt) == n
    rt.reindex()
    assert len(es.indices.get(index="policykb-kill-v*")) == 1
    assert total(rt) == n
    rt.backend.drop_all()


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_fails_the_run_cleanly(tmp_path):
    write_docs(tmp_path / "first", 30, seed=1)
    rt = make_runtime(tmp_path / "data")
    rt.ingester(workers=1).run([tmp_path / "first"])
    n = rt.store.count_documents()
    write_docs(tmp_path / "more", 200, seed=2, words_per_doc=2000)
    store_size = (tmp_path / "data" / "store.sqlite3").stat().st_size
    proc = cli(
        tmp_path / "data",
        "ingest",
        "--quiet",
        "--workers",
        "1",
        str(tmp_path / "more"),
        preexec_fn=_limit_file_size(store_size + 256 * 1024),
    )
    out, err = proc.communicate(timeout=300)
    stderr = err.decode()
    assert proc.returncode == 4, stderr[-2000:]
    # A file-size limit reaches SQLite as an I/O error (a full disk as "disk is full").
    assert "저장 공간 오류: 디스크" in stderr and "원인:" in stderr and "Traceback" not in stderr
    after = make_runtime(tmp_path / "data")
    assert after.store.count_documents() >= n
    assert total(after) == after.backend.count() >= n
    # With space again, the same command finishes the job.
    report = after.ingester(workers=1).run([tmp_path / "more"])
    assert report.failed == 0
    assert total(after) == n + 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_elasticsearch_outage_then_recovery(tmp_path, sample_copy):
    """A node that goes away: the UI says so (503, Korean message), and search works again
    when it is back, without restarting the app."""
    sys.path.insert(0, str(REPO / "scripts"))
    import es_local
    import pytest

    from wiring.wsgi import create_app

    # A node of this run only: its name (and so its directory in the shared cache) comes
    # from the worktree and the process, its ports are free ones, so that runs from several
    # worktrees at once do not meet.
    worktree = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
    name = f"outage-{worktree}-{os.getpid()}"
    node = es_local.Node(name, _free_port(), _free_port(), cluster=name, heap_mb=384)
    try:
        try:
            node.start()
        except es_local.ESUnavailable as exc:
            pytest.skip(f"no Elasticsearch: {exc}")
        rt = es_runtime(tmp_path / "data", node.url, "policykb-outage")
        rt.ingester().run([sample_copy])
        app = create_app({"TESTING": True}, settings=rt.settings)
        app.extensions["policykb"] = rt
        client = app.test_client()
        assert client.get("/api/search?q=협의체").status_code == 200
        node.stop()
        r = client.get("/search?q=협의체")
        assert r.status_code == 503 and "검색 엔진에 연결할 수 없습니다" in r.get_data(as_text=True)
        assert client.get("/healthz").status_code == 503
        node.start(keep_data=True)
        deadline = time.monotonic() + 90
        while client.get("/api/search?q=협의체").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(1)
        assert client.get("/api/search?q=협의체").get_json()["total"] > 0
    finally:
        node.stop()
        shutil.rmtree(node.dir, ignore_errors=True)
