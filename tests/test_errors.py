"""Errors named by their cause, as an admin running the CLI sees them: each class has its
own exit status and a Korean message that says where to look (README, "Errors and exit
codes"): input 2, files that could not be ingested 3, storage 4, engine 5."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import SAMPLE_DIR
from policykb.backends.elastic import ElasticBackend
from policykb.errors import EngineError, InputError, StorageError
from tests.conftest import REPO, es_runtime, is_ci

SAMPLE = "krihs_2018_smartcity_council.txt"


def policykb(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, POLICYKB_DATA_DIR=str(data), **env)
    return subprocess.run(
        [sys.executable, "-m", "wiring.cli", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_file(folder: Path, name: str = SAMPLE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE_DIR / name, folder / name)
    return folder


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------ input
def test_missing_path_is_an_input_error(tmp_path):
    run = policykb(tmp_path / "data", "ingest", str(tmp_path / "없는폴더"))
    assert run.returncode == InputError.exit_code == 2
    assert "입력 오류: 입력 경로가 없습니다" in run.stderr and "없는폴더" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "data").exists()  # nothing was created


def test_bad_setting_is_an_input_error(tmp_path):
    run = policykb(tmp_path / "data", "stats", POLICYKB_MAX_FILE_MB="많이")
    assert run.returncode == 2
    assert "입력 오류: 설정 값이 잘못되었습니다" in run.stderr
    assert "POLICYKB_MAX_FILE_MB" in run.stderr


def test_bad_file_is_recorded_and_exits_3(tmp_path):
    folder = one_file(tmp_path / "docs")
    (folder / "bad.hwp").write_bytes(b"\x00\x01garbage" * 50)
    run = policykb(tmp_path / "data", "ingest", "--quiet", str(folder))
    assert run.returncode == 3, run.stderr
    assert "failed 1" in run.stdout and "added 1" in run.stdout
    assert "FAILED" in run.stderr and "bad.hwp" in run.stderr
    assert "입력 파일 1개를 처리하지 못했습니다" in run.stderr and "--retry-failed" in run.stderr
    assert "오류" not in run.stderr  # a bad file is not a storage or engine error


# ---------------------------------------------------------------------------- storage
@contextlib.contextmanager
def unwritable(folder: Path):
    """``folder`` cannot be written to, even by root (immutable attribute); a normal user
    gets a read-only mode."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if made.returncode != 0:
            message = f"cannot make {folder} immutable: {made.stderr!r}"
            pytest.fail(message) if is_ci() else pytest.skip(message)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def test_unwritable_data_directory_is_a_storage_error(tmp_path):
    folder = one_file(tmp_path / "docs")
    with unwritable(tmp_path / "data"):
        run = policykb(tmp_path / "data", "ingest", "--quiet", str(folder))
    assert run.returncode == StorageError.exit_code == 4, run.stderr
    assert "저장 공간 오류: 데이터 디렉터리에 쓸 권한이 없습니다" in run.stderr
    assert "원인:" in run.stderr and "Traceback" not in run.stderr


@contextlib.contextmanager
def small_disk(mountpoint: Path, size: str):
    """A real, tiny file system (tmpfs) at ``mountpoint``; skipped where mounting is not
    allowed (tests/test_faults.py covers a full disk through a file-size limit too)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {made.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_full_disk_is_a_storage_error(tmp_path):
    folder = tmp_path / "docs"
    texts = sorted(p.name for p in SAMPLE_DIR.iterdir() if p.suffix == ".txt")
    for name in texts[:20]:
        one_file(folder, name)
    with small_disk(tmp_path / "data", "400k"):
        run = policykb(tmp_path / "data", "ingest", "--quiet", "--workers", "1", str(folder))
    assert run.returncode == 4, run.stderr
    assert "저장 공간 오류: 디스크 공간이 부족합니다" in run.stderr
    assert "원인:" in run.stderr and "Traceback" not in run.stderr


# ----------------------------------------------------------------------------- engine
def test_unreachable_elasticsearch_is_an_engine_error(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    folder = one_file(tmp_path / "docs")
    env = {"POLICYKB_BACKEND": "elasticsearch", "POLICYKB_ES_URL": url}
    run = policykb(tmp_path / "data", "ingest", "--quiet", str(folder), **env)
    assert run.returncode == EngineError.exit_code == 5, run.stderr
    assert f"검색 엔진 오류: Elasticsearch({url})에 연결할 수 없습니다" in run.stderr
    assert "Connection refused" in run.stderr  # the reason, as the client saw it
    assert "저장 공간" not in run.stderr and "Traceback" not in run.stderr
    search = policykb(tmp_path / "data", "search", "협의체", **env)
    assert search.returncode == 5 and "연결할 수 없습니다" in search.stderr


def test_refusing_elasticsearch_is_an_engine_error_with_its_reason(tmp_path, es_url):
    alias = "policykb-refused"
    rt = es_runtime(tmp_path / "data", es_url, alias)
    rt.ingester(workers=1).run([one_file(tmp_path / "docs")])
    es = rt.backend.es
    es.indices.put_settings(index=alias, settings={"index.blocks.write": True})
    try:
        one_file(tmp_path / "docs", "si_2018_youth_housing.txt")
        env = {"POLICYKB_BACKEND": "elasticsearch", "POLICYKB_ES_URL": es_url}
        run = policykb(
            tmp_path / "data", "ingest", "--quiet", str(tmp_path / "docs"),
            POLICYKB_ES_INDEX=alias, **env,
        )  # fmt: skip
    finally:
        es.indices.put_settings(index=alias, settings={"index.blocks.write": False})
    assert run.returncode == 5, run.stderr
    assert "검색 엔진 오류: Elasticsearch가 요청을 거부했습니다 (HTTP 403)" in run.stderr
    assert "cluster_block_exception" in run.stderr and "index write" in run.stderr
    # The document the engine refused was not marked indexed: the next run indexes it.
    again = rt.ingester(workers=1).run([tmp_path / "docs"])
    assert again.added + again.updated == 1 and again.unchanged == 1
    assert rt.backend.count() == 2
    rt.backend.drop_all()


def test_missing_elasticsearch_api_is_named(es_url):
    """The integration-test distribution has no reindex module: delete-by-query is absent,
    and policykb says so instead of failing somewhere later."""
    backend = ElasticBackend(es_url, "policykb-api-check")
    try:
        backend.check_server()  # every API policykb uses is there
        with pytest.raises(EngineError) as info:
            backend._call(
                backend.es.delete_by_query, index="policykb-api-check", query={"match_all": {}}
            )
        assert info.value.code == "engine_api_missing"
        assert "policykb가 쓰는 API가 없습니다" in info.value.message
        assert "_delete_by_query" in info.value.reason
    finally:
        backend.drop_all()
        backend.close()


def test_a_started_server_answers_its_first_search_without_loading_kiwi(tmp_path):
    """A server's app loads Kiwi and opens the engine as it starts, not on the first
    search (which waited 7 s for the model on a busy machine). In a new process, where
    nothing is loaded yet: once the start-up warm-up is done, the first search builds no
    Kiwi model (the real one runs; its constructor is only watched, not replaced)."""
    import os
    import subprocess
    import sys

    code = (
        "import time\n"
        "import kiwipiepy\n"
        "from wiring.wsgi import create_app\n"
        "app = create_app()\n"
        "warm = app.extensions.get('policykb_warm')\n"
        "warm.join(120) if warm else time.sleep(20)  # as a user would, some time after start\n"
        "built = []\n"
        "init = kiwipiepy.Kiwi.__init__\n"
        "def watched(self, *a, **k):\n"
        "    built.append(1)\n"
        "    init(self, *a, **k)\n"
        "kiwipiepy.Kiwi.__init__ = watched\n"
        "r = app.test_client().get('/api/search?q=도시재생')\n"
        "print(r.status_code, len(built))\n"
    )
    env = {**os.environ, "POLICYKB_DATA_DIR": str(tmp_path / "data"), "POLICYKB_OCR": "off"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    status, built = out.stdout.split()
    assert (status, built) == ("200", "0"), out.stderr[-2000:]
