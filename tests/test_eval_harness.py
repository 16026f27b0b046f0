"""The dev-half harness of `policykb eval`: halves, the index cache, and the before/after
comparison (bench.ranking_compare)."""

from __future__ import annotations

import pytest

from bench.ranking_compare import compare, format_rows, losses
from wiring.evaluation import EvalDoc, EvalQuery, EvalSet, evaluate_set, half_of, only_half

DOCS = [
    EvalDoc("d1", "", "반도체 수출이 지난달 크게 늘었다. 메모리 반도체가 수출을 이끌었다."),
    EvalDoc("d2", "", "청년 일자리 지원 사업을 확대한다. 청년 고용 장려금을 늘린다."),
    EvalDoc("d3", "", "탄소중립 이행을 위해 산업 부문 감축 목표를 정했다."),
    EvalDoc("d4", "", "주택 공급 확대 방안을 발표했다. 수도권 주택 공급을 늘린다."),
]
QUERIES = [
    EvalQuery("반도체 수출", "d1"),
    EvalQuery("청년 일자리", "d2"),
    EvalQuery("탄소중립 감축", "d3"),
    EvalQuery("주택 공급", "d4"),
]


def test_only_half_keeps_one_half():
    s = EvalSet("t", "", DOCS, QUERIES)
    dev = only_half(s, "dev")
    assert all(half_of(q) == "dev" for q in dev.queries)
    assert len(dev.queries) + len(only_half(s, "test").queries) == len(QUERIES)
    assert only_half(s, "all").queries == QUERIES


def test_index_cache_is_reused_and_gives_the_same_ranks(tmp_path):
    s = EvalSet("t", "", DOCS, QUERIES)
    first: dict = {}
    evaluate_set(s, ["embedded"], peers=False, cache=tmp_path, ranks=first)
    kept = [p for p in tmp_path.iterdir() if (p / "done.json").exists()]
    assert len(kept) == 1
    stamp = (kept[0] / "done.json").stat().st_mtime_ns
    second: dict = {}
    evaluate_set(s, ["embedded"], peers=False, cache=tmp_path, ranks=second)
    assert (kept[0] / "done.json").stat().st_mtime_ns == stamp  # not ingested again
    assert first == second
    assert first["policykb (embedded)"] == [1, 1, 1, 1]
    # other documents: another cache entry
    evaluate_set(EvalSet("t", "", DOCS[:3], QUERIES[:3]), ["embedded"], peers=False, cache=tmp_path)
    assert len([p for p in tmp_path.iterdir() if (p / "done.json").exists()]) == 2


def _report(ranks: list[int | None]) -> dict:
    queries = [
        {"q": f"q{i}", "target": f"d{i}", "half": "dev", "long": i == 0} for i in range(len(ranks))
    ]
    return {
        "sets": {
            "s": {
                "queries": queries,
                "ranks": {"policykb (embedded)": ranks, "bigram-bm25": [2] * len(ranks)},
            }
        }
    }


def test_compare_counts_queries_up_and_down():
    rows = compare(_report([1, 3, None, 2]), _report([1, 1, 4, 5]))
    dev = next(r for r in rows if r["slice"] == "dev")
    assert (dev["queries"], dev["up"], dev["down"]) == (4, 2, 1)
    assert dev["after"] > dev["before"]
    assert dev["best_peer"] == "bigram-bm25"
    long = next(r for r in rows if r["slice"] == "dev long")
    assert (long["queries"], long["up"], long["down"]) == (1, 0, 0)
    assert "| s | dev | 4 |" in format_rows(rows)


def test_losses_lists_the_queries_a_peer_ranks_better():
    rows = losses(_report([1, 3, None, 2]))
    assert [r["q"] for r in rows] == ["q1", "q2"]  # bigram's rank 2 beats 3 and a miss
    assert rows[0]["peers"] == {"bigram-bm25": 2}


def test_a_patch_names_an_existing_constant():
    from wiring.evaluation import parse_patch

    assert parse_patch("policykb.service:FUSION_WEIGHT=0.5") == (
        "policykb.service",
        "FUSION_WEIGHT",
        0.5,
    )
    for bad in ("policykb.service:NO_SUCH=1", "policykb.service:FUSION_WEIGHT", "x:Y=1"):
        with pytest.raises(ValueError):
            parse_patch(bad)


def test_ablation_ranks_are_kept_under_a_policykb_name(tmp_path, monkeypatch):
    import wiring.evaluation as ev

    monkeypatch.setattr(
        ev, "ABLATIONS", {"no bigram field": [("policykb.backends.base", "BIGRAM_BOOST", 0.0)]}
    )
    s = only_half(EvalSet("t", "", DOCS, QUERIES), "dev")
    ranks: dict = {}
    evaluate_set(s, ["embedded"], peers=False, ablate=True, cache=tmp_path, ranks=ranks)
    kept = ranks["policykb ablation: no bigram field"]
    assert len(kept) == len(s.queries) and all(r == 1 for r in kept)
    assert not losses({"sets": {"t": {"queries": _queries(s), "ranks": ranks}}})


def _queries(s: EvalSet) -> list[dict]:
    return [{"q": q.text, "target": q.relevant, "half": "dev", "long": False} for q in s.queries]
