"""Harvest: fetch the originals of catalogue records from their URLs, then ingest them so
they join their records.

- robots.txt of each host is read first and obeyed (its Crawl-delay too);
- requests to one host are spaced by the rate limit and at most ``HOST_CONCURRENCY`` run
  at once; all hosts together use ``concurrency`` threads;
- conditional GET: the ETag and Last-Modified of every original are kept and sent again,
  so a re-run downloads only what changed (304 otherwise);
- timeouts, connection errors, truncated bodies, 429 and 5xx are retried with exponential
  backoff; 4xx are not;
- the body is sniffed (PDF, HWP, HWPX, DOCX): an HTML landing page is searched for the link
  to the file, which is followed once; anything else is refused with the reason;
- bodies larger than the size limit are cut off and refused;
- every outcome is a row of ``harvest_items`` (failures with their reason, shown in the
  admin area and retried with ``--retry-failed``). A download is written to a temporary
  file and renamed, and each item's state is committed on its own, so a run killed at
  any point loses nothing: the next run resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from ingest.catalogue import CatalogueRecord
from ingest.report import RunReport
from policykb.store import DocumentStore

log = logging.getLogger(__name__)

USER_AGENT = "policykb-harvester/0.1"
HOST_CONCURRENCY = 2
MAX_REDIRECTS = 5
FILE_LINK_HINTS = (".pdf", ".hwp", ".hwpx", ".docx", "download", "filedown", "file_down")
MANIFEST = "manifest.jsonl"


class HarvestError(Exception):
    def __init__(self, reason: str, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry = retry


def sniff(head: bytes) -> str | None:
    """The file type of a body from its first bytes: pdf, hwp, hwpx, docx, html or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "hwp"
    if head.startswith(b"PK\x03\x04"):
        if b"word/" in head:
            return "docx"
        return "hwpx"  # HWPX and other zips: the extractor sniffs the inside again
    text = head[:1024].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<body")) or (
        b"<html" in text
    ):
        return "html"
    return None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {"a": "href", "iframe": "src", "embed": "src", "object": "data"}
        if tag in names:
            value = dict(attrs).get(names[tag])
            if value:
                self.links.append(value)


def file_link(html: str, base: str) -> str | None:
    """The link of a landing page most likely to be the original file."""
    parser = _Links()
    try:
        parser.feed(html)
    except Exception:  # a broken page has no usable link
        return None
    for href in parser.links:
        low = href.lower()
        if low.startswith(("javascript:", "mailto:", "#")):
            continue
        if any(h in low for h in FILE_LINK_HINTS):
            url = urljoin(base, href)
            if urlsplit(url).scheme in ("http", "https"):
                return url
    return None


@dataclass
class HarvestReport(RunReport):  # its `unchanged`: 304 Not Modified
    candidates: int = 0
    fetched: int = 0
    attached: int = 0
    failed: int = 0
    requests: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)

    def summary(self) -> str:
        return (
            f"records {self.candidates}: fetched {self.fetched}, unchanged {self.unchanged}, "
            f"attached {self.attached}, failed {self.failed}; {self.requests} requests "
            f"({self.seconds:.1f}s)"
        )


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    slots: threading.Semaphore = field(
        default_factory=lambda: threading.Semaphore(HOST_CONCURRENCY)
    )
    next_at: float = 0.0
    interval: float = 1.0
    robots: urllib.robotparser.RobotFileParser | None = None
    robots_error: str | None = None
    robots_done: bool = False


@dataclass
class _Outcome:
    key: str
    status: str  # fetched | unchanged | failed
    http_status: int | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    file_path: str | None = None
    content_type: str | None = None
    error: str | None = None
    requests: int = 0


ProgressFn = Callable[[HarvestReport, int], None]


class Harvester:
    def __init__(
        self,
        store: DocumentStore,
        out_dir: Path,
        ingest: Callable[[list[Path]], object],
        rate: float = 1.0,
        concurrency: int = 4,
        timeout: float = 30.0,
        retries: int = 3,
        max_bytes: int = 100 * 1024 * 1024,
        backoff: float = 1.0,
    ) -> None:
        self.store = store
        self.out_dir = Path(out_dir)
        self.ingest = ingest
        self.rate = rate
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.max_bytes = max_bytes
        self.backoff = backoff
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._local = threading.local()

    # ------------------------------------------------------------------- the run
    def run(
        self,
        retry_failed: bool = False,
        source: str | None = None,
        limit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> HarvestReport:
        report = HarvestReport()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for part in self.out_dir.glob("*.part"):  # downloads cut off by a killed run
            part.unlink(missing_ok=True)
        todo = self._candidates(retry_failed, source, limit)
        report.candidates = len(todo)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self._fetch_item, rec, prev) for rec, prev in todo]
            for fut in as_completed(futures):
                out = fut.result()
                self._save(out, report)
                if progress:
                    progress(report, len(todo))
        self._ingest_fetched(report)
        report.finish()
        return report

    def _candidates(self, retry_failed: bool, source: str | None, limit: int | None):
        out = []
        for row in self.store.harvest_candidates(source):
            rec = CatalogueRecord(**row[0])
            status = row[1]
            if status == "failed" and not retry_failed:
                continue
            if retry_failed and status != "failed":
                continue
            out.append((rec, {"etag": row[2], "last_modified": row[3], "file_path": row[4]}))
            if limit and len(out) >= limit:
                break
        return out

    # --------------------------------------------------------------- networking
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = USER_AGENT
            s.max_redirects = MAX_REDIRECTS
            s.trust_env = False  # never a proxy from the environment
            self._local.session = s
        return s

    def _host(self, url: str) -> _Host:
        parts = urlsplit(url)
        netloc = f"{parts.scheme}://{parts.netloc}"
        with self._hosts_lock:
            host = self._hosts.get(netloc)
            if host is None:
                host = self._hosts[netloc] = _Host(interval=1.0 / self.rate if self.rate else 0)
        with host.lock:
            if not host.robots_done:
                self._read_robots(netloc, host)
        return host

    def _wait_turn(self, host: _Host) -> None:
        with host.lock:
            now = time.monotonic()
            at = max(now, host.next_at)
            host.next_at = at + host.interval
        if at > now:
            time.sleep(at - now)

    def _read_robots(self, netloc: str, host: _Host) -> None:
        host.robots_done = True
        parser = urllib.robotparser.RobotFileParser()
        try:
            r = self._session().get(f"{netloc}/robots.txt", timeout=self.timeout)
        except requests.RequestException as exc:
            host.robots_error = f"robots.txt를 읽지 못했습니다: {type(exc).__name__}"
            return
        if r.status_code in (401, 403):
            parser.disallow_all = True
        elif r.status_code >= 500:
            host.robots_error = f"robots.txt 응답 오류 (HTTP {r.status_code})"
            return
        elif r.status_code == 200:
            parser.parse(r.text.splitlines())
            delay = parser.crawl_delay(USER_AGENT)
            if delay:
                host.interval = max(host.interval, float(delay))
        else:
            parser.allow_all = True
        host.robots = parser

    def _fetch_item(self, rec: CatalogueRecord, prev: dict) -> _Outcome:
        out = _Outcome(rec.key, "failed")
        try:
            self._fetch(rec, prev, out)
        except HarvestError as exc:
            out.status = "failed"
            out.error = f"[{exc.reason}] {exc.message}"
        except Exception as exc:  # one bad record never stops the run
            log.exception("harvest of %s failed", rec.url)
            out.status = "failed"
            out.error = f"[error] {type(exc).__name__}: {exc}"
        return out

    def _fetch(self, rec: CatalogueRecord, prev: dict, out: _Outcome) -> None:
        url = rec.url or ""
        have_file = bool(prev.get("file_path")) and Path(prev["file_path"]).is_file()
        conditional = {}
        if have_file and prev.get("etag"):
            conditional["If-None-Match"] = prev["etag"]
        if have_file and prev.get("last_modified"):
            conditional["If-Modified-Since"] = prev["last_modified"]
        for hop in range(2):  # the record's URL, then at most one landing-page link
            # The validators belong to the file, wherever the landing page sent us.
            resp, head, tmp = self._get(url, conditional, out)
            if resp.status_code == 304:
                out.status = "unchanged"
                out.file_path = prev.get("file_path")
                out.etag = prev.get("etag")
                out.last_modified = prev.get("last_modified")
                return
            kind = sniff(head)
            out.content_type = resp.headers.get("Content-Type")
            if kind == "html":
                text = tmp.read_text(encoding=resp.encoding or "utf-8", errors="replace")
                tmp.unlink(missing_ok=True)
                link = file_link(text, resp.url)
                if link is None:
                    raise HarvestError(
                        "landing_page", "HTML 페이지에서 원문 파일 링크를 찾지 못했습니다."
                    )
                if hop == 1:
                    raise HarvestError("landing_page", "원문 링크가 또 HTML 페이지입니다.")
                url = link
                continue
            if kind is None:
                tmp.unlink(missing_ok=True)
                raise HarvestError(
                    "unsupported_content",
                    f"원문 파일이 아닙니다 (Content-Type: {out.content_type or '없음'}).",
                )
            dest = self.out_dir / f"{rec.doc_id}.{kind}"
            for old in self.out_dir.glob(f"{rec.doc_id}.*"):
                if old != dest and old.suffix != ".part":
                    old.unlink(missing_ok=True)
            os.replace(tmp, dest)
            out.status = "fetched"
            out.file_path = str(dest)
            out.final_url = resp.url
            out.etag = resp.headers.get("ETag")
            out.last_modified = resp.headers.get("Last-Modified")
            return

    def _get(self, url: str, headers: dict, out: _Outcome):
        """GET with robots, rate limit, retries and a size limit: (response, head, tmp)."""
        host = self._host(url)
        if host.robots_error:
            raise HarvestError("robots", host.robots_error, retry=True)
        if host.robots is not None and not host.robots.can_fetch(USER_AGENT, url):
            raise HarvestError("robots", "robots.txt가 이 주소의 수집을 허용하지 않습니다.")
        last: HarvestError | None = None
        for attempt in range(self.retries):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4))
            with host.slots:
                self._wait_turn(host)
                out.requests += 1
                try:
                    return self._download(url, headers, out)
                except HarvestError as exc:
                    if not exc.retry:
                        raise
                    last = exc
        assert last is not None
        raise HarvestError(last.reason, f"{last.message} ({self.retries}회 시도)")

    def _download(self, url: str, headers: dict, out: _Outcome):
        tmp = self.out_dir / f"{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.part"
        try:
            resp = self._session().get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.TooManyRedirects:
            raise HarvestError("redirects", "리디렉션이 너무 많습니다.") from None
        except requests.Timeout:
            raise HarvestError("timeout", "서버가 제시간에 응답하지 않았습니다.", True) from None
        except requests.ConnectionError as exc:
            raise HarvestError("connection", f"연결할 수 없습니다: {exc}", True) from None
        with resp:
            out.http_status = resp.status_code
            if resp.status_code == 304:
                return resp, b"", tmp
            if resp.status_code == 429 or resp.status_code >= 500:
                raise HarvestError("http", f"HTTP {resp.status_code}", True)
            if resp.status_code in (404, 410):
                raise HarvestError("not_found", f"원문이 없습니다 (HTTP {resp.status_code}).")
            if resp.status_code >= 400:
                raise HarvestError("http", f"HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise HarvestError("too_large", f"파일이 너무 큽니다 ({int(declared)} bytes).")
            size = 0
            head = b""
            try:
                with tmp.open("wb") as fh:
                    for chunk in resp.iter_content(64 * 1024):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise HarvestError(
                                "too_large", f"파일이 {self.max_bytes} bytes보다 큽니다."
                            )
                        if len(head) < 4096:
                            head += chunk[: 4096 - len(head)]
                        fh.write(chunk)
            except requests.exceptions.ChunkedEncodingError:
                tmp.unlink(missing_ok=True)
                raise HarvestError("truncated", "응답이 중간에 끊겼습니다.", True) from None
            except requests.Timeout:
                tmp.unlink(missing_ok=True)
                raise HarvestError("timeout", "내려받기가 멈췄습니다.", True) from None
            except (requests.ConnectionError, HarvestError):
                tmp.unlink(missing_ok=True)
                raise
            if declared and declared.isdigit() and size < int(declared):
                tmp.unlink(missing_ok=True)
                raise HarvestError(
                    "truncated", f"응답이 잘렸습니다 ({size}/{declared} bytes).", True
                )
            return resp, head, tmp

    # --------------------------------------------------------------- bookkeeping
    def _save(self, out: _Outcome, report: HarvestReport) -> None:
        report.requests += out.requests
        doc_id, url, attempts = self.store.harvest_target(out.key)
        if out.status == "unchanged":
            report.unchanged += 1
            self.store.mark_harvest_unchanged(out.key, time.time())
            return
        if out.status == "failed":
            report.failed += 1
            report.failures.append((url, out.error or ""))
        else:
            report.fetched += 1
        self.store.put_harvest_item(
            (
                out.key,
                doc_id,
                url,
                out.status,
                out.http_status,
                out.final_url,
                out.etag,
                out.last_modified,
                out.file_path,
                out.content_type,
                out.error,
                attempts + 1,
                time.time(),
            )
        )

    def _write_manifest(self) -> None:
        """manifest.jsonl beside the downloads: each file's record URL, so ingest joins it
        to its record."""
        lines = []
        for file_path, record in self.store.harvested_records():
            rec = CatalogueRecord(**record)
            row = {
                "file": Path(file_path).name,
                "title": rec.title,
                "institute": rec.institute_published,
                "doc_type": rec.doc_type,
                "date": rec.date or "",
                "url": rec.url or "",
            }
            lines.append(json.dumps(row, ensure_ascii=False))
        tmp = self.out_dir / f"{MANIFEST}.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, self.out_dir / MANIFEST)

    def _ingest_fetched(self, report: HarvestReport) -> None:
        rows = self.store.harvested_files()
        files = [Path(r[1]) for r in rows if Path(r[1]).is_file()]
        if not files:
            return
        self._write_manifest()
        self.ingest(files)
        with self.store.connect() as con:
            for key, path, status in rows:
                rec = self.store.get_file(str(Path(path).resolve()))
                if rec is None:
                    continue
                if rec.status == "indexed":
                    if status == "fetched":
                        report.attached += 1
                    self.store.set_harvest_status(con, key, "ingested", None)
                elif rec.status == "failed":
                    report.failed += 1
                    report.failures.append((path, rec.error or ""))
                    self.store.set_harvest_status(con, key, "failed", f"[ingest] {rec.error}")

    def failures(self) -> list[dict]:
        return self.store.harvest_failures()
