"""What an ingest leaves behind, as one comparable value: every document's metadata, title,
author and passage tokens, its duplicate group, every file's status, and the results of a
few searches. Two ingests of the same files must give equal fingerprints whatever the
pipeline's speed-ups (tests/test_ingest_speed.py)."""

from __future__ import annotations

import hashlib
import json

from policykb.service import SearchRequest
from wiring.runtime import Runtime

QUERIES = (
    "스마트시티",
    "도시 재생",
    '"탄소 중립"',
    "교통",
    "국토부 주택",
    "지역 균형 발전 정책",
    "교육과정",
    "보도자료",
)


def _tokens(tokens) -> list:
    return [[t.term, t.start, t.end, t.position, bool(t.joined)] for t in tokens]


def _digest(value) -> str:
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def fingerprint(rt: Runtime, with_scores: bool = True) -> dict:
    """Documents keyed by source path (ids are derived from paths), passages as digests of
    text and tokens (a mismatch names the document), duplicate groups by source path."""
    store = rt.store
    path_of = {}
    docs = {}
    for doc in store.iter_documents():
        path_of[doc.id] = doc.source_path or doc.id
    for doc in store.iter_documents():
        key = doc.source_path or doc.id
        docs[key] = {
            **doc.to_json(),  # the metadata as the API shows it
            "content_hash": doc.content_hash,
            "simhash": doc.simhash,
            "canonical": path_of.get(doc.canonical_id) if doc.canonical_id else None,
            "ocr_pages": doc.ocr_pages,
            "title_tokens": _tokens(doc.title_tokens),
            "author_tokens": _tokens(doc.author_tokens),
            "passages": [
                [p.seq, p.page, _digest(p.text), _digest(_tokens(p.tokens))] for p in doc.passages
            ],
        }
    files = {f.path: [f.status, f.error, f.doc_id] for f in store.list_files()}
    searches = {}
    for q in QUERIES:
        res = rt.service.search(SearchRequest(q=q, size=20), lenient=True, facets=True)
        searches[q] = {
            "total": res.total,
            "hits": [
                [h.id, round(h.score, 3) if with_scores else None, h.snippet, h.pages]
                for h in res.hits
            ],
            "facets": {k: [[v.value, v.count] for v in vs] for k, vs in res.facets.items()},
        }
    return {"documents": docs, "files": files, "searches": searches}


def differences(a: dict, b: dict, limit: int = 10) -> list[str]:
    """Human-readable differences between two fingerprints (empty when equal)."""
    out: list[str] = []
    for part in ("documents", "files", "searches"):
        x, y = a[part], b[part]
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                if key not in x or key not in y:
                    out.append(f"{part}: {key} only in {'second' if key not in x else 'first'}")
                    continue
                fields = [f for f in (set(x[key]) | set(y[key])) if x[key].get(f) != y[key].get(f)]
                out.append(f"{part}: {key}: {sorted(fields)}")
            if len(out) >= limit:
                return out
    return out
