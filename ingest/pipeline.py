"""The ingest run: per file, the stages in order, the outcome stored on the file record.

A failing file is recorded with its reason and the run goes on. A document is written to
the store as ``pending`` and marked ``indexed`` only after the index commit, so a run that
is killed midway re-does exactly the files whose index write was not committed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from analyzers import Analyzer
from ingest.extract import ExtractionError, extract
from ingest.metadata import MANIFEST_NAMES, ManifestError, build_metadata, load_manifest
from ingest.normalize import normalize
from ingest.passages import split_passages
from policykb.backends import SearchBackend
from policykb.models import Document, Passage, Token
from policykb.store import DocumentStore, FileRecord

SUPPORTED_SUFFIXES = {".txt", ".md", ".pdf", ".html", ".htm", ".hwp", ".hwpx", ".docx"}
BATCH = 50


@dataclass
class IngestReport:
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"files {self.seen}: added {self.added}, updated {self.updated}, "
            f"unchanged {self.unchanged}, failed {self.failed}, removed {self.removed} "
            f"({self.seconds:.1f}s)"
        )


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under ``paths`` in a stable order; hidden files and manifests skipped."""
    for root in paths:
        root = Path(root)
        if root.is_file():
            yield root.resolve()
            continue
        for p in sorted(root.rglob("*")):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
                continue
            if p.name in MANIFEST_NAMES or p.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            yield p.resolve()


def document_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tokens(analyzed) -> list[Token]:
    return [Token(t.term, t.start, t.end, t.position, t.joined) for t in analyzed]


def build_document(
    path: Path, row: dict[str, str] | None, analyzer: Analyzer, max_bytes: int | None
) -> Document:
    """extract -> normalize -> metadata -> passages -> analyze, for one file."""
    extracted = extract(path, max_bytes)
    pages = [(p.number, normalize(p.text)) for p in extracted.pages]
    full = "\n\n".join(t for _, t in pages if t)
    if not full.strip():
        raise ExtractionError("empty", "추출된 텍스트가 없습니다.")
    meta = build_metadata(full, path, row)
    raw = split_passages(pages)
    analyzed = analyzer.analyze_many([p.text for p in raw])
    passages = [
        Passage(i, rp.page, rp.text, _tokens(toks))
        for i, (rp, toks) in enumerate(zip(raw, analyzed, strict=True))
    ]
    return Document(
        id=document_id(path),
        title=meta.title,
        institute=meta.institute,
        regions=meta.regions,
        doc_type=meta.doc_type,
        date=meta.date,
        url=meta.url,
        source_path=str(path),
        institute_published=meta.institute_published,
        page_count=max((p.number or 0 for p in extracted.pages), default=0) or None,
        passages=passages,
        title_tokens=_tokens(analyzer.analyze(meta.title)),
    )


ProgressFn = Callable[[IngestReport, Path], None]


class Ingester:
    def __init__(
        self,
        store: DocumentStore,
        backend: SearchBackend,
        analyzer: Analyzer,
        max_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.analyzer = analyzer
        self.max_bytes = max_bytes

    def run(
        self,
        paths: list[Path],
        sync: bool = False,
        retry_failed: bool = False,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        started = time.monotonic()
        report = IngestReport()
        manifests: dict[Path, dict[str, dict[str, str]]] = {}
        pending: list[tuple[Document, FileRecord, bool]] = []
        seen_paths: set[str] = set()
        files = list(discover(paths))
        if retry_failed:
            failed = {f.path for f in self.store.list_files("failed")}
            files = [f for f in files if str(f) in failed]
        for path in files:
            report.seen += 1
            seen_paths.add(str(path))
            self._one(path, manifests, pending, report)
            if len(pending) >= BATCH:
                self._flush(pending, report)
            if progress:
                progress(report, path)
        self._flush(pending, report)
        if sync:
            self._sync(paths, seen_paths, report)
        report.seconds = time.monotonic() - started
        return report

    def _manifest_row(self, path: Path, manifests) -> dict[str, str] | None:
        folder = path.parent
        for candidate in (folder, *folder.parents):
            if candidate not in manifests:
                try:
                    manifests[candidate] = load_manifest(candidate)
                except (ManifestError, OSError, UnicodeDecodeError):
                    manifests[candidate] = {}
            rows = manifests[candidate]
            if rows:
                rel = str(path.relative_to(candidate))
                return rows.get(rel) or rows.get(path.name)
        return None

    def _one(self, path: Path, manifests, pending, report: IngestReport) -> None:
        key = str(path)
        try:
            stat = path.stat()
            sha = file_sha256(path)
        except OSError as exc:
            self._fail(key, None, None, "unreadable", f"파일을 읽을 수 없습니다: {exc}", report)
            return
        prev = self.store.get_file(key)
        if (
            prev
            and prev.status == "indexed"
            and prev.sha256 == sha
            and prev.analyzer_id == self.analyzer.identity
        ):
            report.unchanged += 1
            return
        try:
            doc = build_document(
                path, self._manifest_row(path, manifests), self.analyzer, self.max_bytes
            )
        except ExtractionError as exc:
            self._fail(key, sha, stat.st_size, exc.reason, exc.message, report)
            return
        except Exception as exc:  # a bad file never stops the run
            self._fail(key, sha, stat.st_size, "error", f"{type(exc).__name__}: {exc}", report)
            return
        rec = FileRecord(
            key, doc.id, sha, stat.st_size, "pending", None, self.analyzer.identity, time.time()
        )
        with self.store.connect() as con:
            self.store.put_document(doc, self.analyzer.identity, con)
            self.store.put_file(rec, con)
        is_new = prev is None or prev.doc_id is None
        if is_new:
            report.added += 1
        else:
            report.updated += 1
        pending.append((doc, rec, is_new))

    def _fail(
        self,
        key: str,
        sha: str | None,
        size: int | None,
        reason: str,
        message: str,
        report: IngestReport,
    ) -> None:
        prev = self.store.get_file(key)
        with self.store.connect() as con:
            if prev and prev.doc_id:
                # The file changed into something unreadable: its old text is no longer
                # what the file says, so it leaves the index too.
                self.store.delete_document(prev.doc_id, con)
            self.store.put_file(
                FileRecord(
                    key,
                    None,
                    sha,
                    size,
                    "failed",
                    f"[{reason}] {message}",
                    self.analyzer.identity,
                    time.time(),
                ),
                con,
            )
        if prev and prev.doc_id:
            self.backend.delete([prev.doc_id])
        report.failed += 1
        report.failures.append((key, f"[{reason}] {message}"))

    def _flush(
        self, pending: list[tuple[Document, FileRecord, bool]], report: IngestReport
    ) -> None:
        if not pending:
            return
        outcome = self.backend.index(doc for doc, _, _ in pending)
        with self.store.connect() as con:
            for doc, rec, _ in pending:
                if doc.id in outcome.errors:
                    rec.status = "failed"
                    rec.error = f"[index] 색인에 실패했습니다: {outcome.errors[doc.id]}"
                    self.store.delete_document(doc.id, con)
                else:
                    rec.status = "indexed"
                self.store.put_file(rec, con)
        for doc, rec, is_new in pending:
            if doc.id in outcome.errors:
                report.failed += 1
                if is_new:
                    report.added -= 1
                else:
                    report.updated -= 1
                report.failures.append((rec.path, rec.error or ""))
        pending.clear()

    def _sync(self, roots: list[Path], seen: set[str], report: IngestReport) -> None:
        prefixes = [str(Path(r).resolve()) for r in roots]
        gone = [
            f
            for f in self.store.list_files()
            if f.path not in seen and any(f.path.startswith(p) for p in prefixes)
        ]
        ids = [f.doc_id for f in gone if f.doc_id]
        with self.store.connect() as con:
            for f in gone:
                if f.doc_id:
                    self.store.delete_document(f.doc_id, con)
                con.execute("DELETE FROM files WHERE path = ?", (f.path,))
        if ids:
            self.backend.delete(ids)
        report.removed += len(gone)
