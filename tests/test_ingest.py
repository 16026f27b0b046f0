"""Ingestion as an admin sees it: metadata from real press releases, duplicates counted
once, incremental and resumable runs, failures recorded on the file's record."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.extract import extract
from ingest.metadata import build_metadata
from ingest.normalize import normalize
from ingest.press import infer_year
from policykb.service import parse_request
from tests.conftest import REPO, es_runtime, make_runtime, shared_path


def meta_of(path: Path):
    text = normalize("\n\n".join(p.text for p in extract(path).pages))
    return build_metadata(text, path, None)


# --------------------------------------------------------------------------- metadata
def test_seed_press_release_metadata():
    meta = meta_of(shared_path("seed", "000_7901d7d42b4b1e9b.txt"))
    assert meta.title.startswith("‘스마트시티 연구기관 협력 협의체’를 통한")
    assert meta.doc_type == "보도자료"
    assert meta.institute == "국토연구원"
    # No year in the text: 9월 19일(수) -> the latest year that day was a Wednesday.
    assert meta.date == "2018-09-19"
    assert meta.department == "스마트·녹색도시연구센터"
    assert "이재용 044-960-0683" in meta.contacts


@pytest.mark.parametrize(
    "rel,title,date,department",
    [
        (
            "pdf/hwp-multi-001-2022.pdf",
            "‘24년 3분기 해외직접투자는 주요국의 경기 부진과 지정학적 불안 등으로 하락세 지속",
            "2024-12-13",
            "대외경제국",
        ),
        (
            "pdf/table-vpos-01-2022.pdf",
            "‘국민주권시대, AI와 함께 열다’ 국민주권정부의 정부혁신 청사진 공개",
            "2025-12-02",
            "참여혁신국 혁신기획과",
        ),
        (
            "samples/table-vpos-01.hwp",
            "‘국민주권시대, AI와 함께 열다’ 국민주권정부의 정부혁신 청사진 공개",
            "2025-12-02",
            "참여혁신국 혁신기획과",
        ),
        (
            "samples/table-vpos-01.hwpx",
            "‘국민주권시대, AI와 함께 열다’ 국민주권정부의 정부혁신 청사진 공개",
            "2025-12-02",
            "참여혁신국 혁신기획과",
        ),
    ],
)
def test_public_press_release_metadata(rel, title, date, department):
    """``department`` lists the acceptable units (a 국 and its 과 share the table cell)."""
    meta = meta_of(shared_path("data", "public-docs", rel))
    assert (meta.title, meta.date, meta.doc_type) == (title, date, "보도자료")
    assert meta.department in department.split()


def test_infer_year_from_weekday():
    import datetime

    assert infer_year(9, 19, "수", datetime.date(2026, 11, 28)) == 2018
    assert infer_year(2, 29, "목", datetime.date(2026, 1, 1)) == 2024


def test_report_cover_metadata(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(
        "기본연구 2021-07\n\n충남 탄소중립 산업전환 전략\n\n연구책임자: 김하늘 연구위원\n"
        "연구진: 박소연, 이도윤\n발행연도: 2021\n발행처: 충남연구원\n\n요약\n본문.",
        encoding="utf-8",
    )
    meta = meta_of(path)
    assert meta.authors[:3] == ["김하늘", "박소연", "이도윤"]
    assert meta.institute == "충남연구원" and meta.doc_type == "연구보고서"
    assert meta.date and meta.date.startswith("2021")


# ------------------------------------------------------------------------- duplicates
def test_duplicates_grouped_and_counted_once(tmp_path, sample_copy):
    folder = tmp_path / "docs"
    shutil.copytree(sample_copy, folder)
    original = folder / "krihs_2018_smartcity_council.txt"
    text = original.read_text(encoding="utf-8")
    (folder / "copy_exact.txt").write_text(text, encoding="utf-8")
    # A near copy: other line breaks and spacing, a page footer added.
    (folder / "copy_near.txt").write_text(
        text.replace("\n\n", "\n").replace("다. ", "다.\n") + "\n- 1 -\n", encoding="utf-8"
    )
    rt = make_runtime(tmp_path / "data")
    report = rt.ingester().run([folder])
    assert report.duplicates == 2
    assert (
        rt.backend.count() == rt.store.count_documents() == len(list(sample_copy.glob("*.*"))) - 1
    )
    hits = rt.service.search(parse_request({"q": ["협의체 발족"], "size": ["100"]}, rt.settings))
    ids = [h.id for h in hits.hits]
    assert len(ids) == len(set(ids))
    canon = next(h for h in hits.hits if h.title.startswith("국토연구원, 전국 17개"))
    group = [rt.store.get_document(canon.id, with_passages=False), *rt.store.copies(canon.id)]
    assert {Path(d.source_path).name for d in group} == {
        "copy_exact.txt",
        "copy_near.txt",
        "krihs_2018_smartcity_council.txt",
    }
    # Removing the canonical file hands the group over to a copy: still found once.
    (folder / "copy_exact.txt").unlink()  # the canonical one (first in discovery order)
    rt.ingester().run([folder], sync=True)
    hits = rt.service.search(parse_request({"q": ["협의체 발족"], "size": ["100"]}, rt.settings))
    titles = [h.title for h in hits.hits if h.title.startswith("국토연구원, 전국 17개")]
    assert len(titles) == 1


# ------------------------------------------------------------------ incremental runs
def test_incremental_update_sync_and_retry(tmp_path, sample_copy):
    folder = tmp_path / "docs"
    shutil.copytree(sample_copy, folder)
    rt = make_runtime(tmp_path / "data")
    first = rt.ingester().run([folder])
    assert first.failed == 0 and first.added > 0
    again = rt.ingester().run([folder])
    assert again.unchanged == first.added and again.added == again.updated == 0

    target = folder / "gri_2018_gtx_commute_press.txt"
    target.write_text(
        target.read_text(encoding="utf-8") + "\n\n추가 문단: 얼룩말 교통 실험.", encoding="utf-8"
    )
    changed = rt.ingester().run([folder])
    assert changed.updated == 1 and changed.unchanged == first.added - 1
    assert changed.cache_hits > 0  # unchanged passages were not re-analyzed
    assert rt.service.search(parse_request({"q": ["얼룩말"]}, rt.settings)).total == 1

    broken = folder / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n" + os.urandom(2000))
    target.unlink()
    synced = rt.ingester().run([folder], sync=True)
    assert synced.removed == 1 and synced.failed == 1
    assert rt.service.search(parse_request({"q": ["얼룩말"]}, rt.settings)).total == 0
    failed = rt.store.list_files("failed")
    assert [Path(f.path).name for f in failed] == ["broken.pdf"] and "[corrupt]" in failed[0].error

    shutil.copy(next(sample_copy.glob("*.pdf")), broken)
    retried = rt.ingester().run([folder], retry_failed=True)
    assert retried.seen == 1 and retried.added == 1 and retried.failed == 0
    assert rt.store.list_files("failed") == []


def test_cli_exit_status_and_summary_report_failures(tmp_path):
    from click.testing import CliRunner

    from wiring.cli import main

    (tmp_path / "ok.txt").write_text(
        "국토연구원 보도자료\n\n스마트시티 협의체를 발족했다.", encoding="utf-8"
    )
    (tmp_path / "bad.hwp").write_bytes(b"\x00\x01garbage" * 50)
    env = {"POLICYKB_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, ["ingest", "--quiet", str(tmp_path)], env=env)
    assert result.exit_code == 3
    assert "failed 1" in result.output and "bad.hwp" in result.output


@pytest.mark.parametrize("backend", ["embedded", "elasticsearch"])
def test_killed_ingest_resumes_without_loss_or_duplicates(tmp_path, sample_copy, backend, request):
    import random

    folder = tmp_path / "docs"
    folder.mkdir()
    files = sorted(p for p in sample_copy.iterdir() if p.suffix in (".txt", ".md"))
    words = sorted({w for p in files for w in p.read_text(encoding="utf-8").split()})
    rng = random.Random(7)
    for n in range(4):  # 4 x as many distinct documents as the sample has text files
        for i in range(len(files)):
            body = " ".join(rng.choice(words) for _ in range(400))
            (folder / f"{n}_{i:03d}.txt").write_text(
                f"고유표지{n} 문서 {n}-{i}\n\n{body}", encoding="utf-8"
            )
    data = tmp_path / "data"
    env = dict(os.environ, POLICYKB_DATA_DIR=str(data))
    overrides = {}
    if backend == "elasticsearch":
        es_url = request.getfixturevalue("es_url")
        overrides = {
            "backend": "elasticsearch",
            "es_url": es_url,
            "es_index": "policykb-killed-ingest",
        }
        es_runtime(data, es_url, "policykb-killed-ingest")  # start from an empty alias
        env.update(
            POLICYKB_BACKEND="elasticsearch",
            POLICYKB_ES_URL=es_url,
            POLICYKB_ES_INDEX="policykb-killed-ingest",
        )
    cmd = [sys.executable, "-m", "wiring.cli", "ingest", "--quiet", "--workers", "1", str(folder)]
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    store_file = data / "store.sqlite3"
    deadline = time.monotonic() + 60
    import sqlite3

    while time.monotonic() < deadline:  # kill once some files are committed
        time.sleep(0.3)
        if store_file.exists():
            try:
                con = sqlite3.connect(store_file, timeout=1)
                n = con.execute("SELECT COUNT(*) FROM files WHERE status='indexed'").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if n >= 50:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rt = make_runtime(data, **overrides)
    partial = rt.store.count_documents()
    assert 0 < partial < len(files) * 4
    report = rt.ingester().run([folder])
    assert report.failed == 0
    assert rt.store.count_documents() == len(files) * 4 == rt.backend.count()
    seen: list[str] = []
    for page in (1, 2):
        result = rt.service.search(
            parse_request({"size": ["100"], "page": [str(page)], "sort": ["oldest"]}, rt.settings)
        )
        seen += [h.id for h in result.hits]
    assert len(seen) == len(set(seen)) == len(files) * 4
    files_table = rt.store.file_counts()
    assert files_table == {"indexed": len(files) * 4}
    if backend == "elasticsearch":
        rt.backend.drop_all()
