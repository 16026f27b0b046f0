"""Elasticsearch-only behaviour: alias lifecycle, zero-downtime re-index, a 2-node cluster
surviving the loss of a node, and the docker-compose file."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from policykb.backends.elastic import ElasticBackend, search_body
from policykb.models import Filters
from policykb.query import analyze_query, parse
from policykb.service import parse_request
from tests.conftest import REPO, es_runtime, is_ci


def test_query_body_never_contains_user_syntax():
    from analyzers import get_analyzer

    aq = analyze_query(parse('title:* "a/b" {x} 지역:경기 스마트시티'), get_analyzer())
    body = search_body(aq.root, Filters(regions=("경기",)), "relevance", 0, 10)
    text = repr(body)
    assert "query_string" not in text and "regexp" not in text and "wildcard" not in text
    # Facets are filtered by the other facets only; the region filter is a post_filter.
    assert body["post_filter"]["bool"]["filter"] == [{"terms": {"regions": ["경기"]}}]
    assert body["aggs"]["region"]["filter"] == {"match_all": {}}
    assert body["aggs"]["institute"]["filter"]["bool"]["filter"] == [
        {"terms": {"regions": ["경기"]}}
    ]


def test_reindex_swaps_alias_while_searches_keep_answering(tmp_path, sample_copy, es_url):
    rt = es_runtime(tmp_path / "data", es_url, "policykb-reindex")
    rt.ingester().run([sample_copy])
    backend: ElasticBackend = rt.backend
    before = backend.physical_indices()
    total = rt.store.count_documents()
    req = parse_request({"q": ["스마트시티"]}, rt.settings)
    expected = rt.service.search(req).total
    assert expected > 0

    errors: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    def searcher():
        while not stop.is_set():
            try:
                result = rt.service.search(req)
                counts.append(result.total)
                all_docs = backend.count()
                if result.total == 0 or all_docs != total:
                    errors.append(f"empty or partial: {result.total}, {all_docs}")
            except Exception as exc:  # any error during the swap is a failure
                errors.append(repr(exc))

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for _ in range(3):
            rt.reindex()
    finally:
        stop.set()
        thread.join()
    after = backend.physical_indices()
    assert errors == []
    assert len(counts) > 10 and set(counts) == {expected}
    assert len(after) == 1 and after != before
    alias = backend.es.indices.get_alias(name="policykb-reindex")
    assert list(alias.body) == after
    # A rebuilt index goes live merged: one segment for the documents, one for passages.
    live = after + backend.physical_indices(backend.passage_alias)
    segments = backend.es.indices.segments(index=live)["indices"]
    assert {n: len(s["shards"]["0"][0]["segments"]) for n, s in segments.items()} == dict.fromkeys(
        live, 1
    )
    backend.drop_all()


def test_failed_bulk_items_are_recorded(tmp_path, sample_copy, es_url):
    rt = es_runtime(tmp_path / "data", es_url, "policykb-bulkerr")
    rt.ingester().run([sample_copy])
    docs = list(rt.store.iter_documents())[:3]
    bad = docs[0]
    bad.institute = "가" * 20000  # a keyword term over Lucene's 32 KB limit: refused
    outcome = rt.backend.index(docs)
    assert set(outcome.errors) == {bad.id}
    assert outcome.indexed == 2
    assert "institute" in outcome.errors[bad.id]
    rt.backend.drop_all()


@pytest.fixture()
def two_nodes():
    sys.path.insert(0, str(REPO / "scripts"))
    import es_local

    masters = ("pk2-a",)
    a = es_local.Node(
        "pk2-a",
        9261,
        9361,
        cluster="policykb-2n",
        seed_ports=(9361,),
        initial_masters=masters,
        heap_mb=384,
    )
    b = es_local.Node(
        "pk2-b",
        9262,
        9362,
        cluster="policykb-2n",
        seed_ports=(9361,),
        initial_masters=masters,
        heap_mb=384,
        roles=("data",),
    )
    try:
        a.start()
        b.start()
    except es_local.ESUnavailable as exc:
        a.stop()
        b.stop()
        if is_ci():
            pytest.fail(f"could not start a 2-node cluster: {exc}")
        pytest.skip(f"could not start a 2-node cluster: {exc}")
    yield a, b
    b.stop()
    a.stop()


def test_two_node_cluster_survives_losing_a_node(tmp_path, sample_copy, two_nodes):
    a, b = two_nodes
    rt = es_runtime(tmp_path / "data", a.url, "policykb-2n", es_shards=2, es_replicas=1)
    rt.ingester().run([sample_copy])
    rt.reindex()  # a fresh index with 2 shards and 1 replica, green on both nodes
    es = rt.backend.es
    health = es.cluster.health(wait_for_status="green", timeout="60s")
    assert health["number_of_nodes"] == 2 and health["status"] == "green"
    shards = es.cat.shards(index="policykb-2n", format="json")
    assert {s["node"] for s in shards} == {"pk2-a", "pk2-b"}
    total = rt.store.count_documents()
    ids_before = {
        h.id for h in rt.service.search(parse_request({"size": ["100"]}, rt.settings)).hits
    }
    assert len(ids_before) == total

    b.stop()
    deadline = time.monotonic() + 60
    while es.cluster.health()["number_of_nodes"] != 1 and time.monotonic() < deadline:
        time.sleep(1)
    assert es.cluster.health()["number_of_nodes"] == 1
    result = rt.service.search(parse_request({"size": ["100"]}, rt.settings))
    assert result.total == total
    assert {h.id for h in result.hits} == ids_before
    assert rt.service.search(parse_request({"q": ["협의체"]}, rt.settings)).total > 0


def test_docker_compose_names_its_services():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"elasticsearch", "app"} <= set(services)
    es = services["elasticsearch"]
    sys.path.insert(0, str(REPO / "scripts"))
    import es_local

    assert es["image"].endswith(":" + es_local.ES_VERSION)
    assert "healthcheck" in es and es["volumes"]
    app = services["app"]
    env = dict(item.split("=", 1) for item in app["environment"])
    assert env["POLICYKB_BACKEND"] == "elasticsearch"
    assert env["POLICYKB_ES_URL"].startswith("http://elasticsearch:")
    assert app["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert Path(REPO / "Dockerfile").is_file()


def test_a_search_the_engine_refuses_is_a_400_not_a_503(tmp_path, sample_copy, es_url):
    """A search Elasticsearch answers with "bad request" (here a result window the index
    does not allow) is the request's fault: 400 bad_query, while the engine stays up."""
    from wiring.wsgi import create_app

    rt = es_runtime(tmp_path / "data", es_url, "policykb-refused")
    rt.ingester().run([sample_copy])
    rt.backend.es.indices.put_settings(index=rt.backend.alias, settings={"max_result_window": 5})
    client = create_app({"TESTING": True}, settings=rt.settings).test_client()
    ok = client.get("/api/search?q=도시&size=5&sort=newest")
    assert ok.status_code == 200, ok.get_json()
    r = client.get("/api/search?q=도시&size=10&sort=newest")
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["code"] == "bad_query"
    assert r.get_json()["error"]["param"] == "q"
    rt.backend.drop_all()


REINDEXER = """
import sys, time
from pathlib import Path
from tests.conftest import make_runtime
rt = make_runtime(Path(sys.argv[1]), backend="elasticsearch", es_url=sys.argv[2],
                  es_index=sys.argv[3])
rt.store, rt.backend
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
rt.reindex()
print(rt.backend.count())
"""


def test_two_processes_reindexing_at_once_both_finish(tmp_path, sample_copy, es_url):
    """Two re-indexes of one alias at the same moment (the admin page and a CLI run): the
    second waits for the first instead of deleting its half-built index, both succeed and
    one complete index is live."""
    import os
    import subprocess

    rt = es_runtime(tmp_path / "data", es_url, "policykb-two-reindex")
    rt.ingester().run([sample_copy])
    total = rt.backend.count()
    start = time.time() + 4.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REINDEXER, str(tmp_path / "data"), es_url]
            + ["policykb-two-reindex", str(start)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert [int(out.split()[-1]) for out, _ in outs] == [total, total]
    backend = rt.backend
    assert len(backend.physical_indices()) == 1
    assert len(backend.physical_indices(backend.passage_alias)) == 1
    assert backend.count() == total
    assert not backend.es.exists(index=backend.writers.index, id="write")  # released
    backend.drop_all()


def test_a_dead_writers_lock_is_taken_over_and_a_live_one_waited_for(tmp_path, es_url):
    """A lock left by a killed process (lease run out) does not stop the next writer; a
    live holder makes a writer wait, and past its patience it stops with a Korean
    message instead of writing beside the holder."""
    from policykb.backends import es_lock
    from policykb.backends.base import BackendError

    rt = es_runtime(tmp_path / "data", es_url, "policykb-lock")
    backend = rt.backend
    backend.ensure_index()
    lock_index = backend.writers.index
    backend.es.index(
        index=lock_index, id="write", document={"owner": "dead", "until": time.time() - 1}
    )
    started = time.monotonic()
    backend.delete(["no-such-document"])  # a write: takes the lock
    assert time.monotonic() - started < 5
    assert not backend.es.exists(index=lock_index, id="write")

    other = es_lock.WriteLock(backend.es, lock_index, backend._error, wait=0.5)
    with backend.writers.held():
        with pytest.raises(BackendError) as info:
            with other.held():
                pass
    assert info.value.code == "engine_busy"
    assert "다른 작업" in str(info.value)
    with other.held():  # free again once the holder let go
        assert backend.es.exists(index=lock_index, id="write")
    backend.drop_all()
