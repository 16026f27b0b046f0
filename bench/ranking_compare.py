"""Compare two `policykb eval --output` JSON files (a ranking change: before and after).

    python3 -m bench.ranking_compare before.json after.json [--system embedded]
    python3 -m bench.ranking_compare --losses run.json [--set kdi] [--slice "dev long"]

Prints per set and slice the nDCG@10 of the chosen policykb system before -> after, the
difference, and how many queries moved up / down (queries matched by text and target,
so runs over the same sample and half compare query by query), plus the best peer of the
after file for the margin.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def gain(rank: int | None) -> float:
    """One query's nDCG@10 (a single relevant document)."""
    return 1 / math.log2(rank + 1) if rank and rank <= 10 else 0.0


def _system(ranks: dict, wanted: str) -> str | None:
    for name in ranks:
        if name.startswith("policykb") and wanted in name:
            return name
    return None


def _per_query(s: dict, system: str) -> dict[tuple[str, str], tuple[float, dict]]:
    out = {}
    for q, r in zip(s["queries"], s["ranks"][system], strict=True):
        out[(q["q"], q["target"])] = (gain(r), q)
    return out


def compare(before: dict, after: dict, system: str = "embedded") -> list[dict]:
    """One row per set and slice present in both reports: nDCG@10 before and after over
    the queries both hold, queries up / down, and the after file's best peer."""
    rows = []
    for name, b in before["sets"].items():
        a = after["sets"].get(name)
        if a is None or "ranks" not in b or "ranks" not in a:
            continue
        sb, sa = _system(b["ranks"], system), _system(a["ranks"], system)
        if sb is None or sa is None:
            continue
        qb, qa = _per_query(b, sb), _per_query(a, sa)
        common = [k for k in qa if k in qb]
        peers = [p for p in a["ranks"] if not p.startswith("policykb")]
        for sl in ("dev", "dev long", "test", "test long"):
            half, long_only = sl.split()[0], sl.endswith("long")
            keys = [
                k
                for k in common
                if qa[k][1]["half"] == half and (qa[k][1]["long"] or not long_only)
            ]
            if not keys:
                continue
            n = len(keys)
            before_v = sum(qb[k][0] for k in keys) / n
            after_v = sum(qa[k][0] for k in keys) / n
            best_peer, best_v = "", None
            for p in peers:
                pq = _per_query(a, p)
                v = sum(pq[k][0] for k in keys if k in pq) / n
                if best_v is None or v > best_v:
                    best_peer, best_v = p, v
            rows.append(
                {
                    "set": name,
                    "slice": sl,
                    "queries": n,
                    "before": before_v,
                    "after": after_v,
                    "up": sum(1 for k in keys if qa[k][0] > qb[k][0] + 1e-12),
                    "down": sum(1 for k in keys if qa[k][0] < qb[k][0] - 1e-12),
                    "best_peer": best_peer,
                    "best_peer_ndcg": best_v,
                }
            )
    return rows


def losses(
    report: dict, system: str = "embedded", set_name: str | None = None, slice_name: str = "dev"
) -> list[dict]:
    """The queries of one slice where a peer ranks the target above policykb's
    ``system``: set, query, target, policykb's rank and each peer's."""
    out = []
    half, long_only = slice_name.split()[0], slice_name.endswith("long")
    for name, s in report["sets"].items():
        if set_name and name != set_name or "ranks" not in s:
            continue
        ours = _system(s["ranks"], system)
        if ours is None:
            continue
        peers = [p for p in s["ranks"] if not p.startswith("policykb")]
        for i, q in enumerate(s["queries"]):
            if q["half"] != half or (long_only and not q["long"]):
                continue
            mine = gain(s["ranks"][ours][i])
            theirs = {p: s["ranks"][p][i] for p in peers}
            if any(gain(r) > mine + 1e-12 for r in theirs.values()):
                out.append(
                    {
                        "set": name,
                        "q": q["q"],
                        "target": q["target"],
                        "rank": s["ranks"][ours][i],
                        "peers": theirs,
                    }
                )
    return out


def format_rows(rows: list[dict]) -> str:
    lines = [
        "| set | slice | queries | before | after | diff | up / down | margin vs best peer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        margin = (
            f"{r['after'] - r['best_peer_ndcg']:+.4f} ({r['best_peer']})"
            if r["best_peer_ndcg"] is not None
            else ""
        )
        lines.append(
            f"| {r['set']} | {r['slice']} | {r['queries']} | {r['before']:.4f} | "
            f"{r['after']:.4f} | {r['after'] - r['before']:+.4f} | {r['up']} / {r['down']} | "
            f"{margin} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path, nargs="?")
    ap.add_argument("--system", default="embedded", help="policykb engine to compare (embedded)")
    ap.add_argument(
        "--losses", action="store_true", help="list the queries a peer ranks better (one file)"
    )
    ap.add_argument("--set", dest="set_name", help="with --losses: only this set")
    ap.add_argument("--slice", default="dev", help="with --losses: dev, dev long, ...")
    args = ap.parse_args(argv)
    if args.losses:
        report = json.loads(args.before.read_text(encoding="utf-8"))
        for r in losses(report, args.system, args.set_name, args.slice):
            peers = " ".join(f"{p.split()[0]}={v}" for p, v in r["peers"].items())
            print(f"{r['set']}\t{r['target']}\tpolicykb={r['rank']}\t{peers}\t{r['q']}")
        return 0
    if args.after is None:
        ap.error("two files to compare (or --losses)")
    before = json.loads(args.before.read_text(encoding="utf-8"))
    after = json.loads(args.after.read_text(encoding="utf-8"))
    rows = compare(before, after, args.system)
    if not rows:
        print("no set with per-query ranks in both files", file=sys.stderr)
        return 1
    print(format_rows(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
