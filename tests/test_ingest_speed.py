"""The fast ingest route (worker processes sending compact results: store JSON and the
engine's prepared entries; batched store transactions; index flushes by size) stores and
finds exactly what the reference route does (one process, Token objects, the engine
building its entries itself): tokens, metadata, duplicate groups, file states, search
results with scores, snippets and facets, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import es_runtime, make_runtime, shared_path
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
def test_fast_route_stores_and_finds_the_same(tmp_path, sample_copy, backend, request):
    inputs = [sample_copy, *public_files()]
    reference = _runtime(tmp_path / "reference", backend, request, "policykb-test-speed-ref")
    fast = _runtime(tmp_path / "fast", backend, request, "policykb-test-speed-fast")
    try:
        slow = reference.ingester(workers=1)
        slow.compact = False  # the route of before: Token objects, entries built here
        ref_report = slow.run(inputs)
        fast_report = fast.ingester(workers=2).run(inputs)
        assert ref_report.duplicates >= 6  # the copies above are found either way
        for field in ("seen", "added", "failed", "duplicates", "pages"):
            assert getattr(fast_report, field) == getattr(ref_report, field), field
        a, b = fingerprint(reference), fingerprint(fast)
        assert len(a["documents"]) == ref_report.added
        assert differences(a, b) == []
        assert a == b
        # The fast route's workers timed their stages, the parent its own.
        assert fast_report.stages["build"]["analysis"] > 0
        assert fast_report.stages["parent"]["index writes"] > 0
    finally:
        if backend == "elasticsearch":
            reference.backend.drop_all()
            fast.backend.drop_all()
