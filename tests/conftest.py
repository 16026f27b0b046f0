"""Shared fixtures: an ingested copy of the sample corpus on the embedded engine, the Flask
``app``/``client``, and access to ../shared/data (skipped when absent on a
user's machine, a failure under CI=true)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from corpus import SAMPLE_DIR
from policykb.settings import load_settings
from wiring.runtime import Runtime

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POLICYKB_SHARED_DIR", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test (fails under CI=true) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"shared data not found at {path} (set POLICYKB_SHARED_DIR)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI=true requires it")
        pytest.skip(message)
    return path


def is_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def make_runtime(data_dir: Path, **overrides) -> Runtime:
    """A runtime on ``data_dir``; rate limiting is off unless a test asks for it."""
    overrides.setdefault("rate_limit", 0)
    # OCR off unless a test asks for it: Tesseract takes seconds a page (tests/test_ocr.py)
    return Runtime(
        load_settings({"data_dir": str(data_dir), "ocr": "off", **overrides}, environ={})
    )


# ------------------------------------------------------------------------ Elasticsearch
ES_STATE: dict[str, str] = {}


@pytest.fixture(scope="session")
def es_url() -> str:
    """URL of a real Elasticsearch: POLICYKB_TEST_ES_URL if set (CI starts one), else a
    node started here with scripts/es-local. Skipped without Java/Maven, failed under CI."""
    url = os.environ.get("POLICYKB_TEST_ES_URL")
    node = None
    if not url:
        sys.path.insert(0, str(REPO / "scripts"))
        import es_local

        node = es_local.Node("pytest-node", 9250, 9350)
        try:
            node.start()
        except es_local.ESUnavailable as exc:
            if is_ci():
                pytest.fail(f"Elasticsearch required under CI=true: {exc}")
            pytest.skip(f"no local Elasticsearch: {exc}")
        url = node.url
    from elasticsearch import Elasticsearch

    client = Elasticsearch(url, request_timeout=30)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="60s")
        info = client.nodes.info(node_id="_local", metric="_none", filter_path="nodes.*.version")
        ES_STATE["version"] = next(iter(info["nodes"].values()))["version"]
        ES_STATE["url"] = url
    except Exception as exc:
        if node:
            node.stop()
        if is_ci():
            pytest.fail(f"Elasticsearch at {url} not usable: {exc}")
        pytest.skip(f"Elasticsearch at {url} not usable: {exc}")
    finally:
        client.close()
    yield url
    if node:
        node.stop()


def pytest_terminal_summary(terminalreporter):
    if ES_STATE:
        terminalreporter.write_line(
            f"Elasticsearch tests ran against server version {ES_STATE['version']} "
            f"at {ES_STATE['url']}"
        )


def es_runtime(data_dir: Path, es_url: str, alias: str, **overrides) -> Runtime:
    rt = make_runtime(data_dir, backend="elasticsearch", es_url=es_url, es_index=alias, **overrides)
    rt.backend.drop_all()
    return rt


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory) -> Path:
    """A private copy of corpus/sample (tests may modify files in it)."""
    dest = tmp_path_factory.mktemp("corpus") / "sample"
    shutil.copytree(SAMPLE_DIR, dest)
    return dest


BACKENDS = ["embedded", "elasticsearch"]


@pytest.fixture(scope="session", params=BACKENDS)
def indexed(request, tmp_path_factory, sample_copy) -> Runtime:
    """The sample corpus ingested into a fresh data directory on each backend (shared,
    read-only use): every test using it is part of the conformance suite."""
    yield from ingested_on(request, tmp_path_factory, [sample_copy], "policykb-test-suite")


def ingested_on(request, tmp_path_factory, folders: list[Path], alias: str):
    """Fixture body: ``folders`` ingested into a fresh data dir on the backend named by
    ``request.param``; the Elasticsearch indices are dropped afterwards."""
    data_dir = tmp_path_factory.mktemp(f"data-{request.param}")
    if request.param == "elasticsearch":
        rt = es_runtime(data_dir, request.getfixturevalue("es_url"), alias)
    else:
        rt = make_runtime(data_dir)
    report = rt.ingester().run(folders)
    assert report.failed == 0, report.failures
    yield rt
    if request.param == "elasticsearch":
        rt.backend.drop_all()


@pytest.fixture(scope="session")
def app(indexed):
    from wiring.wsgi import create_app

    app = create_app({"TESTING": True}, settings=indexed.settings)
    app.extensions["policykb"] = indexed
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def fresh_runtime(tmp_path) -> Runtime:
    return make_runtime(tmp_path / "data")
