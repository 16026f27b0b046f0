"""KorQuAD's ceiling: how often policykb's first paragraph, when it is not the target,
holds the question's answer too (a diagnostic; the official metric is unchanged).

For each question of a half whose target paragraph policykb (embedded) does not rank
first, it reads the first paragraph: does it contain a gold answer text (KorQuAD's
``answers[].text``), is it from the target's article? It then scores the run again with
a widened relevance: any paragraph of the target's article that contains an answer text
counts as relevant (nDCG@10 of the first relevant hit, as the official single-target
figure; and the standard nDCG@10 over all of them).

    nice -n 19 python3 -m bench.korquad_ceiling --index-cache /work/evcache --limit 3000

Only the dev half is run (``--half dev``); the test half is for reporting, not analysis.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import Counter
from pathlib import Path

from wiring.evaluation import (
    half_of,
    load_korquad,
    policykb_index,
    run_policykb,
    sample_queries,
)


def _gain(rank: int | None) -> float:
    return 1 / math.log2(rank + 1) if rank and rank <= 10 else 0.0


def _ndcg_all(ids: list[str], relevant: set[str]) -> float:
    """Standard binary nDCG@10 over every relevant paragraph."""
    dcg = sum(_gain(i + 1) for i, d in enumerate(ids[:10]) if d in relevant)
    ideal = sum(_gain(i + 1) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


def analyse(raw: dict, queries, ranked: list[list[str]]) -> dict:
    """Counts and widened figures for ``queries`` (EvalQuery) ranked as ``ranked``."""
    article: dict[str, int] = {}
    text: dict[str, str] = {}
    answers: dict[tuple[str, str], list[str]] = {}
    n = 0
    for ai, art in enumerate(raw["data"]):
        for para in art["paragraphs"]:
            pid = f"kq{n:04d}"  # the ids wiring.evaluation.load_korquad gives
            n += 1
            article[pid] = ai
            text[pid] = para["context"]
            for qa in para["qas"]:
                answers[(qa["question"], pid)] = [a["text"] for a in qa["answers"]]
    paras_of: dict[int, list[str]] = {}
    for pid, ai in article.items():
        paras_of.setdefault(ai, []).append(pid)

    counts: Counter[str] = Counter()
    official = widened_first = widened_all = 0.0
    for q, ids in zip(queries, ranked, strict=True):
        target = q.relevant
        golds = [a for a in answers.get((q.text, target), []) if a.strip()]
        rank = ids.index(target) + 1 if target in ids else None
        official += _gain(rank)
        same_with_answer = {
            p for p in paras_of[article[target]] if any(a in text[p] for a in golds)
        } | {target}
        first = next((i + 1 for i, d in enumerate(ids) if d in same_with_answer), None)
        widened_first += _gain(first)
        widened_all += _ndcg_all(ids, same_with_answer)
        if rank == 1:
            counts["rank 1"] += 1
            continue
        where = "rank 2" if rank == 2 else "rank 3-10" if rank and rank <= 10 else "below 10"
        counts[where] += 1
        if not ids:
            counts[f"{where}: no hit"] += 1
            continue
        top = ids[0]
        has = any(a in text[top] for a in golds)
        same = article[top] == article[target]
        kind = ("answer" if has else "no answer") + (", same article" if same else ", other")
        counts[f"{where}: first paragraph {kind}"] += 1
        counts[f"not first: first paragraph {kind}"] += 1
    n_q = max(1, len(queries))
    return {
        "queries": len(queries),
        "counts": dict(sorted(counts.items())),
        "ndcg10_official": round(official / n_q, 4),
        "ndcg10_widened_first_relevant": round(widened_first / n_q, 4),
        "ndcg10_widened_all_relevant": round(widened_all / n_q, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.environ.get("POLICYKB_SHARED_DIR", "/work/shared"))
    ap.add_argument("--index-cache", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=3000, help="the eval's query sample")
    ap.add_argument("--titles", action="store_true", help="korquad-titles instead")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    path = Path(args.shared) / "data" / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    docs, queries = load_korquad(path, titles=args.titles)
    if args.limit:
        queries = sample_queries(queries, args.limit)
    dev = [q for q in queries if half_of(q) == "dev"]
    tag = "korquad-titles" if args.titles else "korquad"
    with policykb_index(docs, ["embedded"], None, tag, args.index_cache) as idx:
        run = run_policykb("policykb (embedded)", idx.runtimes["embedded"], idx.groups, dev)
    out = {"set": tag, "half": "dev", **analyse(raw, dev, run.ranked)}
    text = json.dumps(out, ensure_ascii=False, indent=1)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
