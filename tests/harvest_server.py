"""A loopback web server for the harvest tests, playing an institute's site: real
public-docs files, redirects, landing pages, robots.txt rules, 404s, slow and truncated
responses and wrong content types. It binds 127.0.0.1 only and counts what it served."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROBOTS = "User-agent: *\nDisallow: /private/\n"


class SiteServer:
    def __init__(self, files: dict[str, Path], slow_seconds: float = 3.0) -> None:
        self.files = {name: path.read_bytes() for name, path in files.items()}
        self.slow_seconds = slow_seconds
        self.served = Counter()  # (kind, status) -> count
        self.bodies = 0  # original-file bodies sent in full (200)
        self.times: list[float] = []  # when each request arrived (monotonic)
        self.lock = threading.Lock()
        self.modified = formatdate(time.time() - 86400, usegmt=True)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.handle(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # clients hang up early
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ routes
    def _count(self, kind: str, status: int) -> None:
        with self.lock:
            self.served[(kind, status)] += 1

    def _send(self, h, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(body)

    def _file(self, h, name: str, ctype: str) -> None:
        body = self.files.get(name)
        if body is None:
            self._count("file", 404)
            return self._send(h, 404, b"not found", "text/plain")
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if h.headers.get("If-None-Match") == etag:
            self._count("file", 304)
            h.send_response(304)
            h.send_header("ETag", etag)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self._count("file", 200)
        with self.lock:
            self.bodies += 1
        self._send(h, 200, body, ctype, {"ETag": etag, "Last-Modified": self.modified})

    def handle(self, h) -> None:
        with self.lock:
            self.times.append(time.monotonic())
        path = h.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        kind, name = parts[0], "/".join(parts[1:])
        if path == "/robots.txt":
            self._count("robots", 200)
            return self._send(h, 200, ROBOTS.encode(), "text/plain")
        if kind == "files":
            return self._file(h, name, "application/octet-stream")
        if kind == "mislabeled":  # a real file served as a web page
            return self._file(h, name, "text/html; charset=utf-8")
        if kind == "redirect":
            self._count("redirect", 302)
            return self._send(h, 302, b"", "text/plain", {"Location": f"/files/{name}"})
        if kind == "landing":
            self._count("landing", 200)
            page = (
                "<!DOCTYPE html><html><head><meta charset='utf-8'><title>보고서</title></head>"
                f"<body><h1>보고서</h1><a href='/about'>소개</a> "
                f"<a href='/files/{name}'>원문 내려받기</a></body></html>"
            )
            return self._send(h, 200, page.encode(), "text/html; charset=utf-8")
        if kind == "nolink":  # a landing page without any file link
            self._count("nolink", 200)
            page = "<!DOCTYPE html><html><body><p>준비 중입니다.</p></body></html>"
            return self._send(h, 200, page.encode(), "text/html; charset=utf-8")
        if kind == "private":
            self._count("private", 200)
            return self._file(h, name, "application/octet-stream")
        if kind == "slow":
            self._count("slow", 200)
            time.sleep(self.slow_seconds)
            return self._file(h, name, "application/octet-stream")
        if kind == "truncated":
            self._count("truncated", 200)
            body = self.files.get(name, b"x" * 1000)
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 3])
            h.wfile.flush()
            h.close_connection = True
            return
        self._count("other", 404)
        return self._send(h, 404, b"not found", "text/plain")
