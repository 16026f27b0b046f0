"""Shared pieces of the benchmark suite: paths, timing, tables, goals, memory readings,
profiling, and the kdi-epic corpus (rows -> analyzed ``Document``s, cached on disk)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pickle
import random
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
_SHARED_ROOT = Path(os.environ.get("POLICYKB_SHARED_DIR", REPO.parent / "shared"))
# POLICYKB_SHARED_DIR names the shared folder, as for the tests; its data/ folder is used
# (a path that is already the data folder is accepted too).
SHARED = _SHARED_ROOT / "data" if (_SHARED_ROOT / "data").is_dir() else _SHARED_ROOT
KDI_XLSX = SHARED / "kdi-epic" / "xlsx"
PUBLIC_DOCS = SHARED / "public-docs"

SHUFFLE_SEED = 20240611
CHUNK_DOCS = 5000  # documents per cache file
ANALYZE_TASK_DOCS = 100  # documents per worker task when analyzing the corpus
WORKERS = 2


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- timing, stats
@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def fmt_ratio(x: float) -> str:
    if x != x or x == float("inf"):
        return "n/a"
    return f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def fmt_num(x: float, digits: int = 0) -> str:
    if x != x:
        return "n/a"
    return f"{x:,.{digits}f}"


# ------------------------------------------------------------------------ tables, goals
@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def text(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        line = "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))
        out = [f"== {self.title}", line, "  ".join("-" * w for w in widths)]
        for row in self.rows:
            out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        out += [f"   {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"**{self.title}**", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join("---" for _ in self.columns) + "|")
        for row in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)


@dataclass
class Goal:
    name: str
    target: str
    value: str
    met: bool | None  # None: not measured
    note: str = ""

    def line(self) -> str:
        status = {True: "MET", False: "MISSED", None: "NOT MEASURED"}[self.met]
        extra = f" ({self.note})" if self.note else ""
        return f"{status}: {self.name}: {self.value} (goal {self.target}){extra}"


@dataclass
class Section:
    """One area's output: tables, goals, profiler findings and raw numbers."""

    name: str
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    profiles: dict[str, list[dict]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def print(self) -> None:
        for t in self.tables:
            print(t.text(), flush=True)
            print(flush=True)
        for g in self.goals:
            print("   " + g.line(), flush=True)
        for label, frames in self.profiles.items():
            tool = "" if label.startswith("py-spy") else "pyinstrument, "
            print(f"   profile ({tool}{label}), top self time:", flush=True)
            for f in frames[:8]:
                print(f"     {f['percent']:5.1f}%  {f['function']}  {f['where']}", flush=True)
        print(flush=True)

    def to_json(self) -> dict:
        return {
            "tables": [asdict(t) for t in self.tables],
            "goals": [asdict(g) for g in self.goals],
            "profiles": self.profiles,
            "data": self.data,
            "seconds": round(self.seconds, 1),
        }


def command_meta(module: str, argv: list[str] | None) -> dict:
    """The ``command`` (as typed: ``python -m MODULE ARGS``) and ``machine`` of a results
    file's meta."""
    args = sys.argv[1:] if argv is None else argv
    return {"command": f"python -m {module} " + " ".join(args), "machine": machine_info()}


def write_results(
    name: str, key: str, sec: Section, meta: dict, heading: str, machine_line: bool = False
) -> tuple[Path, Path]:
    """bench/results/NAME.json (``{"meta": meta, key: section}``) and NAME.md: the heading,
    the command, then the goals and the tables, or (``machine_line``) the tables, the goals
    and a line with the machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    json_path.write_text(
        json.dumps({"meta": meta, key: sec.to_json()}, ensure_ascii=False, indent=1)
    )
    lines = [f"# {heading}", "", f"`{meta['command']}`", ""]
    if machine_line:
        lines += [t.markdown() + "\n" for t in sec.tables]
        lines += [f"- {g.line()}" for g in sec.goals]
        lines += ["", "Machine: " + json.dumps(meta["machine"], ensure_ascii=False), ""]
    else:
        lines += [f"- {g.line()}" for g in sec.goals] + [""]
        for t in sec.tables:
            lines += [t.markdown(), ""]
    md_path.write_text("\n".join(lines))
    return json_path, md_path


# ------------------------------------------------------------------------------ memory
def _status_mb(field: str, pid: int | None) -> float:
    """A ``kB`` field of /proc/PID/status in MB; nan if the process is gone."""
    try:
        text = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    except OSError:
        return float("nan")
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else float("nan")


def vm_hwm_mb(pid: int | None = None) -> float:
    """Peak resident set size (VmHWM) of a process in MB; nan if it is gone."""
    return _status_mb("VmHWM", pid)


def vm_rss_mb(pid: int | None = None) -> float:
    """Resident set size (VmRSS) of a process in MB; nan if it is gone."""
    return _status_mb("VmRSS", pid)


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def uss_mb(pid: int) -> float:
    """Unique set size (memory only this process holds) in MB, via psutil if present."""
    try:
        import psutil

        return psutil.Process(pid).memory_full_info().uss / 2**20
    except Exception:
        return float("nan")


class CpuMeter:
    """Cores used on average by this process tree and by everything else on the machine
    between ``start()`` and ``stop()`` (other load makes parallel speed-ups look worse).
    Child processes count as ours once reaped; ``pids`` (e.g. our Elasticsearch node) too."""

    def __init__(self, pids: tuple[int, ...] = ()) -> None:
        self.pids = tuple(p for p in pids if p)

    def _ours_now(self) -> float:
        return _own_cpu_seconds() + sum(_pid_cpu_seconds(p) for p in self.pids)

    def start(self) -> CpuMeter:
        self._t = time.perf_counter()
        self._busy = _busy_seconds()
        self._ours = self._ours_now()
        return self

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-9, time.perf_counter() - self._t)
        ours = self._ours_now() - self._ours
        busy = _busy_seconds() - self._busy
        return {"ours": ours / elapsed, "others": max(0.0, busy - ours) / elapsed}


def _busy_seconds() -> float:
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _pid_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def other_load_note(loads: list[dict[str, float]]) -> str:
    others = [x["others"] for x in loads]
    if not others:
        return ""
    return (
        f"Other processes on the machine used {min(others):.2f}-{max(others):.2f} cores "
        "during these measurements (of 2)."
    )


# ---------------------------------------------------------------------------- profiling
def profile_call(fn: Callable[[], Any], top: int = 15) -> tuple[Any, list[dict]]:
    """Run ``fn`` under pyinstrument; return its result and the functions with the most
    self time (aggregated over the call tree). Empty list without pyinstrument."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return fn(), []
    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        result = fn()
    finally:
        profiler.stop()
    root = profiler.last_session.root_frame()
    if root is None:
        return result, []
    total = root.time or 1e-9
    selfs: dict[tuple[str, str], float] = {}

    def walk(frame) -> None:
        # pyinstrument puts a function's own time in a synthetic "[self]" child: charge it
        # to the real function.
        real = frame.parent if frame.is_synthetic and frame.parent is not None else frame
        key = (real.function or "?", f"{real.file_path_short}:{real.line_no}")
        own = frame.time - sum(c.time for c in frame.children)
        selfs[key] = selfs.get(key, 0.0) + max(0.0, own)
        for child in frame.children:
            walk(child)

    walk(root)
    ranked = sorted(selfs.items(), key=lambda kv: -kv[1])[:top]
    frames = [
        {"function": fn_, "where": where, "seconds": round(s, 3), "percent": 100 * s / total}
        for (fn_, where), s in ranked
    ]
    return result, frames


def pyspy_call(fn: Callable[[], Any], top: int = 15) -> tuple[Any, list[dict]]:
    """Run ``fn`` while py-spy samples this process, all its threads and its child
    processes; return the leaf functions with the most samples, each tagged with where it
    ran (main thread, another thread of this process, or a child process). Empty list when
    py-spy is missing or cannot attach."""
    import shutil
    import signal
    import subprocess
    import tempfile

    exe = shutil.which("py-spy")
    if exe is None:
        return fn(), []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw.txt"
        spy = subprocess.Popen(
            [exe, "record", "--pid", str(os.getpid()), "--subprocesses", "--threads",
             "--nonblocking", "--rate", "200", "--format", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)  # attach
        try:
            result = fn()
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        if not out.exists():
            return result, []
        counts: dict[tuple[str, str], int] = {}
        total = 0
        for line in out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            frames = stack.split(";")
            procs = sum(1 for f in frames if f.startswith("process "))
            thread = next((f for f in frames if f.startswith("thread ")), "")
            role = (
                "worker process"
                if procs > 1
                else ("main thread" if thread.endswith("MainThread") else "other thread")
            )
            counts[(role, frames[-1])] = counts.get((role, frames[-1]), 0) + int(n)
            total += int(n)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    return result, [
        {
            "function": leaf.split(" (")[0],
            "where": f"{role}: " + leaf.partition(" (")[2].rstrip(")"),
            "seconds": None,
            "percent": 100 * n / max(1, total),
        }
        for (role, leaf), n in ranked
    ]


# ------------------------------------------------------------------------- kdi-epic data
@dataclass(frozen=True)
class KdiRow:
    key: str
    kind: str  # epic | research
    title: str
    date: str | None
    publisher: str
    summary: str


_DATE_RE = re.compile(r"(\d{4})\.\s*(\d{1,2})\.\s*(\d{1,2})")


def iso_date(raw: object) -> str | None:
    if isinstance(raw, datetime.datetime | datetime.date):
        return raw.strftime("%Y-%m-%d")
    m = _DATE_RE.search(str(raw or ""))
    if not m:
        return None
    try:
        return datetime.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def load_kdi_rows(folder: Path = KDI_XLSX) -> list[KdiRow]:
    """Every row with a title from epic_metadata_* and research_metadata_*, in a fixed
    shuffled order (so any prefix mixes both kinds and all years)."""
    from openpyxl import load_workbook

    rows: list[KdiRow] = []
    seen: set[str] = set()
    for kind in ("epic", "research"):
        for xlsx in sorted(folder.glob(f"{kind}_metadata_*.xlsx")):
            wb = load_workbook(xlsx, read_only=True)
            it = wb.active.iter_rows(values_only=True)
            header = [str(h) for h in next(it)]
            ti, di, pi, si = (header.index(c) for c in ("자료명", "발간일", "발간처", "요약"))
            for n, row in enumerate(it):
                title = str(row[ti] or "").strip()
                if not title:
                    continue
                base = f"{kind}-{row[0] if row[0] is not None else xlsx.stem + '-' + str(n)}"
                key, k = base, 1
                while key in seen:
                    k += 1
                    key = f"{base}-{k}"
                seen.add(key)
                rows.append(
                    KdiRow(
                        key,
                        kind,
                        title,
                        iso_date(row[di]),
                        str(row[pi] or "").strip(),
                        str(row[si] or "").strip(),
                    )
                )
            wb.close()
    random.Random(SHUFFLE_SEED).shuffle(rows)
    return rows


def institute_of(publisher: str) -> str:
    """Canonical institute for the registry's institutes, else the publisher's first word
    (ministries come as "기획재정부 재정관리국 타당성심사과")."""
    from corpus import institutes as registry

    if not publisher:
        return "미상"
    inst = registry.lookup(publisher) or registry.lookup(publisher.split()[0])
    return inst.name if inst else publisher.split()[0]


# Compact analyzed form (picklable, cheap to ship between processes and to cache):
# doc = (title_tokens, [(passage_text, tokens)]), token = (term, start, end, position, joined)
CompactTokens = list[tuple[str, int, int, int, bool]]
CompactDoc = tuple[CompactTokens, list[tuple[str, CompactTokens]]]


def analyze_row(analyzer, title: str, summary: str) -> CompactDoc:
    from analyzers.kiwi import normalize_text
    from ingest.normalize import normalize
    from ingest.passages import split_passages

    def compact(text: str) -> CompactTokens:
        return [(t.term, t.start, t.end, t.position, t.joined) for t in analyzer.analyze(text)]

    passages = split_passages([(None, normalize(summary))]) if summary else []
    return compact(normalize_text(title)), [(p.text, compact(p.text)) for p in passages]


def _analyze_rows_task(batch: list[tuple[str, str]]) -> tuple[list[CompactDoc], int, float]:
    """Worker task (after ``ingest.build.init_worker``): analyze (title, summary) pairs."""
    from ingest.build import _worker

    analyzer = _worker["analyzer"]
    out = [analyze_row(analyzer, t, s) for t, s in batch]
    return out, os.getpid(), vm_hwm_mb()


def to_document(row: KdiRow, compact: CompactDoc):
    from analyzers.kiwi import normalize_text
    from policykb.models import Document, Passage, Token

    title_tokens, passages = compact
    return Document(
        id=row.key,
        title=normalize_text(row.title),
        institute=institute_of(row.publisher),
        regions=[],
        doc_type="보도자료" if row.kind == "epic" else "연구보고서",
        date=row.date,
        institute_published=row.publisher or None,
        passages=[
            Passage(i, None, text, [Token(*t) for t in toks])
            for i, (text, toks) in enumerate(passages)
        ],
        title_tokens=[Token(*t) for t in title_tokens],
    )


def _chunk_signature(rows: Sequence[KdiRow]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{r.key}\x1f{r.title}\x1f{r.summary}\x1e".encode())
    return h.hexdigest()[:16]


@dataclass
class CorpusBuild:
    """What building (or loading) the analyzed corpus cost."""

    documents: int = 0
    analyzed_docs: int = 0  # analyzed in this run (cache misses)
    analyze_seconds: float = 0.0
    analyzed_chars: int = 0
    load_seconds: float = 0.0
    worker_peak_mb: dict[int, float] = field(default_factory=dict)


def load_corpus(n: int, analyzer, rows: list[KdiRow] | None = None) -> tuple[list, CorpusBuild]:
    """The first ``n`` kdi rows as analyzed Documents. Analysis results are cached per
    chunk of :data:`CHUNK_DOCS` rows under bench/.cache/corpus/<analyzer identity>/;
    missing chunks are analyzed in a 2-worker process pool (policykb's ingest worker
    initializer, one Kiwi per worker)."""
    from ingest.build import init_worker

    rows = rows if rows is not None else load_kdi_rows()
    if n > len(rows):
        raise SystemExit(f"only {len(rows)} kdi-epic rows with a title; asked for {n}")
    folder = CACHE / "corpus" / analyzer.identity
    folder.mkdir(parents=True, exist_ok=True)
    build = CorpusBuild(documents=n)
    chunks: list[tuple[int, list[KdiRow], Path]] = []
    for start in range(0, n, CHUNK_DOCS):
        part = rows[start : start + CHUNK_DOCS]  # whole chunks, so the cache is reusable
        path = folder / f"chunk-{start // CHUNK_DOCS:03d}-{_chunk_signature(part)}.pkl"
        chunks.append((start, part, path))
    missing = [(s, part, p) for s, part, p in chunks if not p.exists()]
    if missing:
        todo = [r for _, part, _ in missing for r in part]
        log(f"analyzing {len(todo)} kdi-epic documents with {WORKERS} workers (cold cache)")
        src = analyzer.lexicon.sources
        tasks = [
            [(r.title, r.summary) for r in todo[i : i + ANALYZE_TASK_DOCS]]
            for i in range(0, len(todo), ANALYZE_TASK_DOCS)
        ]
        results: list[CompactDoc] = []
        started = time.perf_counter()
        with ProcessPoolExecutor(
            max_workers=WORKERS,
            initializer=init_worker,
            initargs=(src.get("user_dict"), src.get("synonyms"), None),
        ) as pool:
            for i, (docs, pid, peak) in enumerate(pool.map(_analyze_rows_task, tasks)):
                results.extend(docs)
                build.worker_peak_mb[pid] = max(build.worker_peak_mb.get(pid, 0.0), peak)
                if (i + 1) % 50 == 0:
                    log(f"  analyzed {len(results)}/{len(todo)}")
        build.analyze_seconds = time.perf_counter() - started
        build.analyzed_docs = len(todo)
        build.analyzed_chars = sum(len(r.title) + len(r.summary) for r in todo)
        pos = 0
        for _, part, path in missing:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(results[pos : pos + len(part)], protocol=5))
            os.replace(tmp, path)
            pos += len(part)
    started = time.perf_counter()
    docs = []
    for start, part, path in chunks:
        compact = pickle.loads(path.read_bytes())
        take = min(len(part), n - start)
        docs.extend(to_document(r, c) for r, c in zip(part[:take], compact[:take], strict=True))
    build.load_seconds = time.perf_counter() - started
    return docs, build


# --------------------------------------------------------------------- public-docs texts
_PUBLIC_TEXTS: dict[str, str] = {}


def public_doc_files() -> list[Path]:
    """The public-docs files (each distinct content once), in path order."""
    seen: set[str] = set()
    out = []
    for p in sorted(PUBLIC_DOCS.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in (".pdf", ".hwp", ".hwpx"):
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        out.append(p)
    return out


def remember_public_text(path: Path, text: str) -> None:
    _PUBLIC_TEXTS[str(path)] = text


def public_texts(include_pdf: bool = True) -> dict[str, str]:
    """Production-extracted, normalized text of every readable public-docs file (PDFs not
    yet extracted by the extraction benchmark are skipped unless ``include_pdf``)."""
    from ingest.extract import ExtractionError, extract
    from ingest.normalize import normalize

    for p in public_doc_files():
        if str(p) in _PUBLIC_TEXTS or (not include_pdf and p.suffix.lower() == ".pdf"):
            continue
        try:
            pages = extract(p).pages
        except ExtractionError:
            _PUBLIC_TEXTS[str(p)] = ""
            continue
        _PUBLIC_TEXTS[str(p)] = "\n\n".join(normalize(pg.text) for pg in pages)
    return {k: v for k, v in _PUBLIC_TEXTS.items() if v.strip()}


def machine_info() -> dict:
    import platform

    info = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "platform": platform.platform(),
    }
    for mod in ("kiwipiepy", "tantivy", "elasticsearch", "pypdfium2", "pdfplumber", "gunicorn"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    return info
