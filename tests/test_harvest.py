"""policykb harvest against a loopback site (tests/harvest_server.py) serving real
public-docs files: 20 catalogue records, 5 of them broken in different ways."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.catalogue import CatalogueImporter
from ingest.harvest import file_link, sniff
from policykb.service import parse_request
from tests.conftest import REPO, make_runtime, shared_path
from tests.harvest_server import SiteServer
from tests.test_admin import PASSWORD, app_for, login, token_of

GOOD_ROUTES = ["files"] * 6 + ["redirect"] * 3 + ["landing"] * 3 + ["mislabeled"] * 3
BROKEN = {
    "missing.hwpx": "files",  # 404
    "secret.hwpx": "private",  # robots.txt disallows /private/
    "cut.hwpx": "truncated",  # Content-Length larger than the body
    "late.hwpx": "slow",  # slower than the timeout
    "page.html": "nolink",  # a landing page without a file link
}
EXPECTED_REASONS = {
    "missing.hwpx": "[not_found]",
    "secret.hwpx": "[robots]",
    "cut.hwpx": "[truncated]",
    "late.hwpx": "[timeout]",
    "page.html": "[landing_page]",
}


def public_files() -> dict[str, Path]:
    folder = shared_path("data", "public-docs", "samples", "task2279")
    files = sorted(folder.glob("*.hwpx"))[:15]
    assert len(files) == 15
    return {f.name: f for f in files}


def write_catalogue(path: Path, base: str, files: dict[str, Path]) -> list[dict]:
    records = []
    for n, (name, route) in enumerate(zip(files, GOOD_ROUTES, strict=True)):
        records.append(
            {
                "id": f"g{n}",
                "title": f"서울시 결재문서 {name}",
                "authors": "홍길동; 김철수",
                "institute": "서울연구원",
                "year": 2024,
                "url": f"{base}/{route}/{name}",
            }
        )
    for n, (name, route) in enumerate(BROKEN.items()):
        records.append(
            {
                "id": f"b{n}",
                "title": f"깨진 레코드 {name}",
                "institute": "서울연구원",
                "year": 2023,
                "url": f"{base}/{route}/{name}",
            }
        )
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    return records


def harvest_failures(rt) -> dict[str, str]:
    con = rt.store._conn()
    return {
        r[0].rsplit("/", 1)[-1]: r[1]
        for r in con.execute("SELECT url, error FROM harvest_items WHERE status = 'failed'")
    }


def test_sniffing_and_landing_links():
    assert sniff(b"%PDF-1.7 ...") == "pdf"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest") == "hwp"
    assert sniff(b"<!DOCTYPE html><html>") == "html"
    assert sniff(b"plain words") is None
    page = "<a href='javascript:x()'>x</a><a href='/a/b.pdf'>원문</a>"
    assert file_link(page, "http://127.0.0.1:1/r/1") == "http://127.0.0.1:1/a/b.pdf"
    assert file_link("<p>nothing</p>", "http://127.0.0.1:1/") is None


def test_harvest_twenty_records_five_broken(tmp_path):
    files = public_files()
    with SiteServer(files, slow_seconds=3.0) as site:
        rt = make_runtime(tmp_path / "data")
        cat = tmp_path / "site.jsonl"
        records = write_catalogue(cat, site.base, files)
        CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([cat])
        assert rt.store.count_documents() == 20
        harvester = rt.harvester(rate=50, timeout=1, retries=2, backoff=0.05)
        report = harvester.run()
        assert report.fetched == 15 and report.attached == 15, report.failures
        assert report.failed == 5
        failures = harvest_failures(rt)
        assert set(failures) == set(BROKEN)
        for name, prefix in EXPECTED_REASONS.items():
            assert failures[name].startswith(prefix), (name, failures[name])
        # One document per record: the originals joined their records.
        assert rt.store.count_documents() == 20
        for rec in records[:15]:
            hits = rt.service.search(parse_request({"q": [rec["title"]]}, rt.settings)).hits
            assert hits and hits[0].title == rec["title"] and hits[0].has_original
            assert sum(h.title == rec["title"] for h in hits) == 1
        # Full text is searchable: a word of a file's text finds its record.
        doc = rt.store.get_document(
            rt.service.search(parse_request({"q": [records[0]["title"]]}, rt.settings)).hits[0].id
        )
        assert doc.passages and doc.authors[:2] == ["홍길동", "김철수"]
        words = re.findall(r"(?<![가-힣])[가-힣]{4,8}(?![가-힣])", doc.text)
        body_word = max(sorted(set(words)), key=words.count)  # frequent in this file
        found = rt.service.search(parse_request({"q": [body_word], "size": ["100"]}, rt.settings))
        assert doc.id in {h.id for h in found.hits}, (body_word, found.total, doc.text[:300])
        assert site.served[("robots", 200)] == 1
        assert ("private", 200) not in site.served  # never asked for the disallowed URL

        # Re-run: conditional GETs only; nothing downloaded again, nothing new.
        bodies = site.bodies
        again = rt.harvester(rate=50, timeout=1, retries=2, backoff=0.05).run()
        assert again.fetched == 0 and again.unchanged == 15 and again.attached == 0
        assert site.bodies == bodies
        assert site.served[("file", 304)] == 15

        # Failures are data: retry them (the server still fails them the same way).
        retry = rt.harvester(rate=50, timeout=1, retries=1).run(retry_failed=True)
        assert retry.candidates == 5 and retry.failed == 5

        # ... shown in the admin area, with a retry button.
        rt.accounts.create_user("admin", PASSWORD)
        client = app_for(rt).test_client()
        login(client)
        page = client.get("/admin/").get_data(as_text=True)
        assert "원문 수집(harvest) 실패 (5)" in page
        for reason in EXPECTED_REASONS.values():
            assert reason in page
        r = client.post("/admin/harvest/retry", data={"csrf_token": token_of(client, "/admin/")})
        assert r.status_code == 302
        job = rt.jobs.latest("harvest")
        for _ in range(300):
            if job.state != "running":
                break
            time.sleep(0.1)
        assert job.state == "done", job.message
        assert len(harvest_failures(rt)) == 5


def test_rate_limit_and_size_limit(tmp_path):
    """Requests to one host are spaced by the rate limit; a body over the limit is refused."""
    files = dict(list(public_files().items())[:4])
    with SiteServer(files) as site:
        rt = make_runtime(tmp_path / "data")
        cat = tmp_path / "four.jsonl"
        rows = [
            {
                "id": str(n),
                "title": f"문서 {n}",
                "institute": "서울연구원",
                "year": 2024,
                "url": f"{site.base}/files/{name}",
            }
            for n, name in enumerate(files)
        ]
        cat.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
        CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([cat])
        smallest = min(len(p.read_bytes()) for p in files.values())
        report = rt.harvester(rate=4, concurrency=4, max_bytes=smallest).run()
        gaps = [b - a for a, b in zip(site.times, site.times[1:], strict=False)]
        assert len(site.times) == 5  # robots.txt and four files
        assert min(gaps[1:]) >= 0.2  # 4 per second: 0.25 s apart (a little jitter allowed)
        assert report.fetched == 1 and report.failed == 3
        assert all(r.startswith("[too_large]") for r in harvest_failures(rt).values())


def _harvest_cmd(data_dir: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        POLICYKB_DATA_DIR=str(data_dir),
        POLICYKB_HARVEST_RATE="3",
        POLICYKB_HARVEST_TIMEOUT="1",
        POLICYKB_HARVEST_RETRIES="1",
        POLICYKB_HARVEST_CONCURRENCY="2",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "wiring.cli", "harvest", "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_harvest_then_rerun_loses_nothing(tmp_path):
    files = public_files()
    with SiteServer(files, slow_seconds=2.0) as site:
        data = tmp_path / "data"
        rt = make_runtime(data)
        cat = tmp_path / "site.jsonl"
        write_catalogue(cat, site.base, files)
        CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([cat])
        rt.store.close()
        proc = _harvest_cmd(data)
        store = data / "store.sqlite3"
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                con = sqlite3.connect(store, timeout=5)
                done = con.execute("SELECT COUNT(*) FROM harvest_items").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                pass
            if done >= 6:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert 6 <= done < 20
        second = _harvest_cmd(data)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        rt = make_runtime(data)
        con = rt.store._conn()
        status = dict(
            con.execute("SELECT status, COUNT(*) FROM harvest_items GROUP BY status").fetchall()
        )
        assert status == {"ingested": 15, "failed": 5}, (status, out, err)
        assert rt.store.count_documents() == 20
        with_text = con.execute(
            "SELECT COUNT(*) FROM documents WHERE source_path IS NOT NULL"
        ).fetchone()[0]
        assert with_text == 15
        assert rt.backend.count() == 20
        assert not list((data / "harvest").glob("*.part"))


@pytest.mark.parametrize("route", ["files"])
def test_removed_original_leaves_its_record(tmp_path, route):
    """ingest --sync after the harvested file is gone: the record stays, 원문 없음 again."""
    files = dict(list(public_files().items())[:1])
    with SiteServer(files) as site:
        rt = make_runtime(tmp_path / "data")
        name = next(iter(files))
        cat = tmp_path / "one.jsonl"
        cat.write_text(
            json.dumps(
                {
                    "id": "1",
                    "title": "한 건",
                    "institute": "서울연구원",
                    "year": 2024,
                    "url": f"{site.base}/{route}/{name}",
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([cat])
        assert rt.harvester(rate=50).run().attached == 1
        doc_id = rt.store._conn().execute("SELECT doc_id FROM catalogue_records").fetchone()[0]
        assert rt.store.get_document(doc_id).has_original
        for f in (tmp_path / "data" / "harvest").glob("*.hwpx"):
            f.unlink()
        rt.ingester().run([tmp_path / "data" / "harvest"], sync=True)
        doc = rt.store.get_document(doc_id)
        assert doc is not None and not doc.has_original and doc.title == "한 건"
        assert rt.backend.count() == 1
