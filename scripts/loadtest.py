#!/usr/bin/env python3
"""Bounded load run on loopback: the app under gunicorn, driven by wrk, once on its own and
once while `policykb reindex` runs in a loop. Prints throughput, latency and errors.

    python3 scripts/loadtest.py [--duration 60] [--connections 16] [--data-dir DIR]

Without --data-dir the sample corpus is ingested into a temporary directory first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
QUERIES = [
    "스마트시티",
    "도시 재생",
    "협의체",
    '"광역 교통"',
    "탄소중립 -석탄",
    "인구 감소",
    "주거 OR 주택",
    "지역:경기 교통",
    "유형:보도자료 청년",
    "국토부",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lua_script(path: Path) -> None:
    paths = [f"/api/search?q={quote(q)}" for q in QUERIES]
    paths += [f"/search?q={quote(q)}&region=%EA%B2%BD%EA%B8%B0" for q in QUERIES[:3]]
    items = ", ".join(f'"{p}"' for p in paths)
    path.write_text(
        f"local paths = {{{items}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        '  return wrk.format("GET", paths[(i % #paths) + 1])\n'
        "end\n"
    )


def parse_wrk(out: str) -> dict:
    def num(pattern: str, default: float = 0.0) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default

    def ms(label: str) -> float | None:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
    return {
        "requests": int(num(r"(\d+) requests in")),
        "rps": num(r"Requests/sec:\s+([\d.]+)"),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non_2xx": int(num(r"Non-2xx or 3xx responses: (\d+)")),
        "socket_errors": socket_errors,
    }


def run_wrk(url: str, duration: int, connections: int, script: Path) -> dict:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    for tool in ("wrk", "gunicorn"):
        if shutil.which(tool) is None:
            print(
                f"loadtest: {tool} not found (apt-get install wrk; pip install gunicorn)",
                file=sys.stderr,
            )
            return 2
    tmp = tempfile.TemporaryDirectory()
    data = args.data_dir or Path(tmp.name) / "data"
    env = dict(os.environ, POLICYKB_DATA_DIR=str(data), POLICYKB_RATE_LIMIT="0")
    if args.data_dir is None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "wiring.cli",
                "ingest",
                "--quiet",
                str(REPO / "corpus" / "sample"),
            ],
            env=env,
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    server = subprocess.Popen(
        [
            "gunicorn",
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wiring.wsgi:create_app()",
        ],
        env=env,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    script = Path(tmp.name) / "paths.lua"
    lua_script(script)
    results = {}
    try:
        for _ in range(120):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        subprocess.run(
            ["wrk", "-t2", "-c8", "-d8s", "-s", str(script), url], capture_output=True, check=True
        )  # warm-up: Kiwi loads per worker
        results["alone"] = run_wrk(url, args.duration, args.connections, script)
        reindexer = subprocess.Popen(
            [
                "bash",
                "-c",
                f"while true; do {sys.executable} -m wiring.cli reindex >/dev/null 2>&1; done",
            ],
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            results["during_reindex"] = run_wrk(url, args.duration, args.connections, script)
        finally:
            os.killpg(reindexer.pid, 15)
    finally:
        server.terminate()
        server.wait(timeout=30)
        tmp.cleanup()
    print(
        f"{'run':<16} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'sock err':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<16} {r['requests']:>9} {r['rps']:>8.1f} {r['p50_ms'] or 0:>8.1f} "
            f"{r['p99_ms'] or 0:>8.1f} {r['non_2xx']:>8} {r['socket_errors']:>8}"
        )
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in results.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
