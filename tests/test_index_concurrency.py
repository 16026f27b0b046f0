"""Two server processes on one embedded index (``gunicorn -w 2``, or ``policykb serve``
beside a CLI ``reindex``): a rebuild in one never damages the other's generation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from corpus import SAMPLE_DIR
from policykb.service import parse_request
from tests.conftest import REPO, make_runtime

# Each process opens the runtime at the same moment (the index is outdated, so opening it
# rebuilds from the store), then reports what it sees.
OPENER = """
import json, sys, time
from policykb.settings import load_settings
from wiring.runtime import Runtime
data_dir, start = sys.argv[1], float(sys.argv[2])
rt = Runtime(load_settings({"data_dir": data_dir, "ocr": "off", "rate_limit": 0}, environ={}))
rt.store  # open the store before the start line, so both reach the index together
time.sleep(max(0.0, start - time.time()))
backend = rt.backend
print(json.dumps({"count": backend.count(), "needs_rebuild": backend.needs_rebuild}))
"""


def _outdate(index_dir: Path) -> None:
    name = (index_dir / "CURRENT").read_text().strip()
    (index_dir / name / "policykb.json").write_text(json.dumps({"schema_version": 3}))


def test_two_processes_opening_an_outdated_index_rebuild_it_once(tmp_path):
    rt = make_runtime(tmp_path / "data")
    report = rt.ingester().run([SAMPLE_DIR])
    assert report.failed == 0, report.failures
    total = rt.store.count_documents(canonical_only=True)
    assert total > 10
    index_dir = rt.backend.index_dir
    before = _hit_ids(rt)
    assert before
    rt.backend.close()

    for _round in range(3):  # the race is timing-dependent: a few tries
        _outdate(index_dir)
        start = time.time() + 4.0
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(tmp_path / "data"), str(start)],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in procs:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err[-2000:]
            seen = json.loads(out.strip().splitlines()[-1])
            # Each process, once its runtime is open, searches the whole collection.
            assert seen == {"count": total, "needs_rebuild": False}, err[-2000:]
        # One live generation, named by CURRENT, complete and searchable.
        gens = sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-"))
        assert gens == [(index_dir / "CURRENT").read_text().strip()]
        reopened = make_runtime(tmp_path / "data")
        assert reopened.backend.needs_rebuild is False
        assert reopened.backend.count() == total
        assert _hit_ids(reopened) == before  # nothing lost


def _hit_ids(rt) -> list[str]:
    req = parse_request({"q": ["도시"], "size": ["50"]}, rt.settings)
    return sorted(h.id for h in rt.service.search(req).hits)
