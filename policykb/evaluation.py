"""Retrieval evaluation: policykb's pipeline against simple BM25 baselines, in one run.

Benchmarks (read from ../shared/data; never modified, judgments built at run time):
- KorQuAD 1.0 dev as retrieval: corpus = the 964 paragraphs (with their article title),
  query = each of the 5,774 questions, relevant = the question's own paragraph.
- kdi-epic known item: corpus = policy summaries, query = a document's title, target =
  that document's summary (the title itself is not indexed).

Systems: ``policykb`` (Kiwi analysis, joined compounds, bigram fallback field, title boost,
on the embedded engine and optionally Elasticsearch), ``whitespace-bm25`` and
``bigram-bm25`` (tantivy BM25 over whitespace tokens / character bigrams of title + text).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import tantivy

from analyzers import Analyzer
from analyzers.bigram import char_bigrams
from policykb.backends.base import SearchBackend
from policykb.models import Document, Filters, Passage, Token
from policykb.query import analyze_query, plain


@dataclass(frozen=True)
class EvalDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalQuery:
    text: str
    relevant: str


@dataclass
class Metrics:
    system: str
    ndcg10: float
    recall10: float
    recall100: float
    mrr: float
    queries: int
    ms_per_query: float

    @classmethod
    def from_ranks(cls, system: str, ranks: list[int | None], seconds: float) -> Metrics:
        n = max(1, len(ranks))
        return cls(
            system,
            sum(1 / math.log2(r + 1) for r in ranks if r and r <= 10) / n,
            sum(1 for r in ranks if r and r <= 10) / n,
            sum(1 for r in ranks if r and r <= 100) / n,
            sum(1 / r for r in ranks if r) / n,
            len(ranks),
            seconds * 1000 / n,
        )

    def row(self) -> str:
        return (
            f"{self.system:<28} {self.ndcg10:8.4f} {self.recall10:8.4f} "
            f"{self.recall100:8.4f} {self.mrr:8.4f} {self.ms_per_query:8.2f}"
        )


HEADER = f"{'system':<28} {'nDCG@10':>8} {'R@10':>8} {'R@100':>8} {'MRR':>8} {'ms/q':>8}"


# --------------------------------------------------------------------------- data sets
def load_korquad(path: Path) -> tuple[list[EvalDoc], list[EvalQuery]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    docs: list[EvalDoc] = []
    queries: list[EvalQuery] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            doc_id = f"kq{len(docs):04d}"
            docs.append(EvalDoc(doc_id, article["title"], para["context"]))
            queries.extend(EvalQuery(qa["question"], doc_id) for qa in para["qas"])
    return docs, queries


def load_kdi_known_item(
    folder: Path, max_docs: int = 5000, max_queries: int = 1000
) -> tuple[list[EvalDoc], list[EvalQuery]]:
    """Summaries (title removed) as documents; every k-th title as a query for its own
    summary. Only Korean summaries of at least 200 characters are used."""
    from openpyxl import load_workbook

    docs: list[EvalDoc] = []
    titles: dict[str, str] = {}
    for xlsx in sorted(Path(folder).glob("epic_metadata_*.xlsx")):
        wb = load_workbook(xlsx, read_only=True)
        rows = wb.active.iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        ti, si = header.index("자료명"), header.index("요약")
        for row in rows:
            title, summary = (row[ti] or "").strip(), (row[si] or "").strip()
            if len(summary) < 200 or not any("\uac00" <= c <= "\ud7a3" for c in summary[:50]):
                continue
            summary = summary.replace(title, " ")
            doc_id = f"kdi{len(docs):05d}"
            docs.append(EvalDoc(doc_id, "", summary))
            titles[doc_id] = title
            if len(docs) >= max_docs:
                break
        wb.close()
        if len(docs) >= max_docs:
            break
    step = max(1, len(docs) // max_queries)
    queries = [EvalQuery(titles[d.id], d.id) for d in docs[::step][:max_queries]]
    return docs, queries


# ---------------------------------------------------------------------------- systems
def _rank(ids: list[str], relevant: str) -> int | None:
    return ids.index(relevant) + 1 if relevant in ids else None


def build_documents(docs: list[EvalDoc], analyzer: Analyzer) -> list[Document]:
    from ingest.passages import split_passages

    out = []
    for d in docs:
        raw = split_passages([(None, d.text)])
        analyzed = analyzer.analyze_many([p.text for p in raw])
        passages = [
            Passage(
                i, None, p.text, [Token(t.term, t.start, t.end, t.position, t.joined) for t in toks]
            )
            for i, (p, toks) in enumerate(zip(raw, analyzed, strict=True))
        ]
        title_tokens = [
            Token(t.term, t.start, t.end, t.position, t.joined) for t in analyzer.analyze(d.title)
        ]
        out.append(
            Document(
                d.id,
                d.title,
                "eval",
                [],
                "기타",
                None,
                passages=passages,
                title_tokens=title_tokens,
            )
        )
    return out


def evaluate_policykb(
    name: str,
    backend: SearchBackend,
    documents: list[Document],
    queries: list[EvalQuery],
    analyzer: Analyzer,
) -> Metrics:
    backend.rebuild(iter(documents), len(documents))
    ranks: list[int | None] = []
    started = time.perf_counter()
    for q in queries:
        aq = analyze_query(plain(q.text), analyzer, match="any")
        res = backend.search(aq.root, Filters(), "relevance", 0, 100, facets=False)
        ranks.append(_rank([h.id for h in res.hits], q.relevant))
    return Metrics.from_ranks(name, ranks, time.perf_counter() - started)


def whitespace_tokens(text: str) -> list[str]:
    return text.split()


def evaluate_baseline(
    name: str, tokenize: Callable[[str], list[str]], docs: list[EvalDoc], queries: list[EvalQuery]
) -> Metrics:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
    schema = sb.build()
    with tempfile.TemporaryDirectory() as tmp:
        index = tantivy.Index(schema, path=tmp)
        writer = index.writer(64_000_000, 1)
        for d in docs:
            terms = tokenize(f"{d.title} {d.text}")
            doc = tantivy.Document()
            doc.add_text("id", d.id)
            if terms:
                doc.add_pre_tokenized_text(
                    "body",
                    tantivy.PreTokenizedString(
                        " ".join(terms), [tantivy.Token(t, i, 0, 0) for i, t in enumerate(terms)]
                    ),
                )
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
        ranks: list[int | None] = []
        started = time.perf_counter()
        for q in queries:
            terms = list(dict.fromkeys(tokenize(q.text)))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in terms]
            )
            hits = searcher.search(query, 100).hits
            ids = [searcher.doc(addr)["id"][0] for _, addr in hits]
            ranks.append(_rank(ids, q.relevant))
        elapsed = time.perf_counter() - started
    return Metrics.from_ranks(name, ranks, elapsed)


def run_benchmark(
    docs: list[EvalDoc],
    queries: list[EvalQuery],
    analyzer: Analyzer,
    backends: Iterable[tuple[str, SearchBackend]],
) -> list[Metrics]:
    """Every system on the same documents and queries, in one process run."""
    results = [
        evaluate_baseline("whitespace-bm25", whitespace_tokens, docs, queries),
        evaluate_baseline("bigram-bm25", char_bigrams, docs, queries),
    ]
    documents = build_documents(docs, analyzer)
    for name, backend in backends:
        results.append(
            evaluate_policykb(f"policykb ({name})", backend, documents, queries, analyzer)
        )
    return results
