"""Shared fixtures: an ingested copy of the sample corpus on the embedded engine, the Flask
``app``/``client``/``runner``, and access to ../shared/data (skipped when absent on a
user's machine, a failure under CI=true)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from corpus import SAMPLE_DIR
from policykb.runtime import Runtime
from policykb.settings import load_settings

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


def make_runtime(data_dir: Path) -> Runtime:
    return Runtime(load_settings({"data_dir": str(data_dir)}, environ={}))


@pytest.fixture(scope="session")
def sample_copy(tmp_path_factory) -> Path:
    """A private copy of corpus/sample (tests may modify files in it)."""
    dest = tmp_path_factory.mktemp("corpus") / "sample"
    shutil.copytree(SAMPLE_DIR, dest)
    return dest


@pytest.fixture(scope="session")
def indexed(tmp_path_factory, sample_copy) -> Runtime:
    """The sample corpus ingested into a fresh data directory (shared, read-only use)."""
    rt = make_runtime(tmp_path_factory.mktemp("data"))
    report = rt.ingester().run([sample_copy])
    assert report.failed == 0, report.failures
    return rt


@pytest.fixture(scope="session")
def app(indexed):
    from search_app import create_app

    app = create_app({"TESTING": True}, settings=indexed.settings)
    app.extensions["policykb"] = indexed
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture()
def fresh_runtime(tmp_path) -> Runtime:
    return make_runtime(tmp_path / "data")
