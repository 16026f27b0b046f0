#!/usr/bin/env python3
"""Run a real Elasticsearch on loopback for tests and local use, without Docker.

The integration-test distribution (Maven artifact
``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip``) is fetched
with ``mvn``, unpacked once into a cache directory and started on Java from this machine.
Each node gets its own config, data and log directories. Elasticsearch refuses to run as
root, so under root the node runs as an unprivileged system user.

    scripts/es-local start [--port 9200] [--name node-1]     # single node
    scripts/es-local stop  [--name node-1]
    scripts/es-local status [--port 9200]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ES_VERSION = os.environ.get("POLICYKB_ES_VERSION", "8.19.7")
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch"
REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("POLICYKB_ES_CACHE", REPO / ".cache" / "elasticsearch"))
RUN_USER = "policykb-es"


class ESUnavailable(RuntimeError):
    """Java, Maven or the distribution is missing; the message says which."""


def m2_zip(version: str = ES_VERSION) -> Path:
    group, artifact = ARTIFACT.split(":")
    return (
        Path.home()
        / ".m2"
        / "repository"
        / group.replace(".", "/")
        / artifact
        / version
        / f"{artifact}-{version}.zip"
    )


def fetch(version: str = ES_VERSION) -> Path:
    """The unpacked distribution's home, fetching it with mvn if needed."""
    home = CACHE / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise ESUnavailable(f"{tool} not found on PATH: cannot run Elasticsearch locally")
    zip_path = m2_zip(version)
    if not zip_path.exists():
        cmd = [
            "mvn",
            "-q",
            "-B",
            "dependency:get",
            f"-Dartifact={ARTIFACT}:{version}:zip",
            "-Dtransitive=false",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not zip_path.exists():
            raise ESUnavailable(
                f"mvn could not fetch {ARTIFACT}:{version}:zip: "
                f"{(proc.stdout + proc.stderr)[-800:]}"
            )
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / f".unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp)
    unpacked = next(tmp.iterdir())
    for script in (unpacked / "bin").iterdir():
        script.chmod(0o755)
    if home.exists():
        shutil.rmtree(home)
    unpacked.rename(home)
    shutil.rmtree(tmp, ignore_errors=True)
    return home


def java_home() -> str:
    """ES_JAVA_HOME/JAVA_HOME if set, else the JDK of the ``java`` on PATH."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            return os.environ[var]
    java = shutil.which("java")
    if java is None:
        raise ESUnavailable("java not found on PATH")
    return str(Path(java).resolve().parents[1])


def _run_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(RUN_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_USER],
            check=True,
            capture_output=True,
        )
        pw = pwd.getpwnam(RUN_USER)
    return pw.pw_uid, pw.pw_gid


@dataclass
class Node:
    name: str
    http_port: int
    transport_port: int
    cluster: str = "policykb-test"
    seed_ports: tuple[int, ...] = ()  # transport ports of all master-eligible nodes
    initial_masters: tuple[str, ...] = ()
    heap_mb: int = 512
    version: str = ES_VERSION
    roles: tuple[str, ...] = ()  # empty: the default roles

    @property
    def dir(self) -> Path:
        return CACHE / "nodes" / self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pidfile(self) -> Path:
        return self.dir / "es.pid"

    def configure(self) -> None:
        home = fetch(self.version)
        shutil.rmtree(self.dir, ignore_errors=True)
        conf = self.dir / "config"
        shutil.copytree(home / "config", conf)
        (self.dir / "data").mkdir(parents=True)
        (self.dir / "logs").mkdir()
        lines = [
            f"cluster.name: {self.cluster}",
            f"node.name: {self.name}",
            f"path.data: {self.dir / 'data'}",
            f"path.logs: {self.dir / 'logs'}",
            "network.host: 127.0.0.1",
            f"http.port: {self.http_port}",
            f"transport.port: {self.transport_port}",
            # Security is off on purpose: loopback only, test data only.
            "xpack.security.enabled: false",
            "xpack.security.http.ssl.enabled: false",
            "xpack.security.transport.ssl.enabled: false",
            "action.destructive_requires_name: false",
            "cluster.routing.allocation.disk.threshold_enabled: false",
        ]
        if self.roles:
            lines.append(f"node.roles: [{', '.join(self.roles)}]")
        if self.seed_ports:
            seeds = ", ".join(f'"127.0.0.1:{p}"' for p in self.seed_ports)
            masters = ", ".join(f'"{m}"' for m in self.initial_masters)
            lines += [
                f"discovery.seed_hosts: [{seeds}]",
                f"cluster.initial_master_nodes: [{masters}]",
            ]
        else:
            lines.append("discovery.type: single-node")
        (conf / "elasticsearch.yml").write_text("\n".join(lines) + "\n")
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        (conf / "jvm.options.d" / "heap.options").write_text(
            f"-Xms{self.heap_mb}m\n-Xmx{self.heap_mb}m\n"
        )
        ids = _run_user()
        if ids:
            for root, _dirs, files in os.walk(self.dir):
                os.chown(root, *ids)
                for f in files:
                    os.chown(os.path.join(root, f), *ids)
            # The distribution must be readable by the run user.
            for parent in [CACHE, *CACHE.parents]:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)

    def start(self, wait: float = 180.0, keep_data: bool = False) -> None:
        home = fetch(self.version)
        if not (keep_data and (self.dir / "config").exists()):
            self.configure()
        env = dict(
            os.environ,
            ES_PATH_CONF=str(self.dir / "config"),
            ES_TMPDIR=str(self.dir / "tmp"),
            ES_JAVA_HOME=java_home(),
        )
        (self.dir / "tmp").mkdir(exist_ok=True)
        cmd = [str(home / "bin" / "elasticsearch"), "-d", "-p", str(self.pidfile)]
        ids = _run_user()
        if ids:
            os.chown(self.dir / "tmp", *ids)
            cmd = [
                "runuser",
                "-u",
                RUN_USER,
                "--",
                "env",
                *[f"{k}={env[k]}" for k in ("ES_PATH_CONF", "ES_TMPDIR", "ES_JAVA_HOME")],
                *cmd,
            ]
        out = open(self.dir / "start.log", "w")  # noqa: SIM115 - kept for the daemon
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise ESUnavailable(f"elasticsearch exited with {proc.returncode}: " + self.log_tail())
        self.wait_http(wait)

    def wait_http(self, wait: float) -> dict:
        deadline = time.monotonic() + wait
        last = ""
        while time.monotonic() < deadline:
            try:
                # The integ-test distribution has no "GET /" handler: ask the node itself.
                url = f"{self.url}/_nodes/_local?filter_path=nodes.*.version,cluster_name"
                with urllib.request.urlopen(url, timeout=2) as r:
                    body = json.loads(r.read())
                version = next(iter(body["nodes"].values()))["version"]
                return {"version": {"number": version}, "cluster_name": body["cluster_name"]}
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = str(exc)
                if not self.running():
                    break
                time.sleep(1)
        raise ESUnavailable(f"{self.name} not answering on {self.url} ({last}): " + self.log_tail())

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return True  # not written yet while starting
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self, timeout: float = 60.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)

    def log_tail(self, n: int = 30) -> str:
        texts = []
        for f in (self.dir / "start.log", self.dir / "logs" / f"{self.cluster}.log"):
            if f.exists():
                texts.append("\n".join(f.read_text(errors="replace").splitlines()[-n:]))
        return "\n".join(texts)


def node_on_port(port: int) -> Node | None:
    """The node started here (under any name) whose configuration has ``http.port``."""
    for conf in sorted((CACHE / "nodes").glob("*/config/elasticsearch.yml")):
        if f"http.port: {port}" in conf.read_text().splitlines():
            node = Node(conf.parent.parent.name, port, port + 100)
            if node.pid() is not None:
                return node
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="es-local", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["fetch", "start", "stop", "status"])
    p.add_argument("--name", default="node-1")
    p.add_argument("--port", type=int, default=9200)
    p.add_argument("--transport-port", type=int, default=None)
    p.add_argument("--heap-mb", type=int, default=512)
    args = p.parse_args(argv)
    node = Node(args.name, args.port, args.transport_port or args.port + 100, heap_mb=args.heap_mb)
    try:
        if args.command == "fetch":
            print(fetch())
        elif args.command == "start":
            node.start()
            print(json.dumps(node.wait_http(10)["version"]["number"]))
        elif args.command == "stop":
            if node.pid() is None:  # not started under this --name: the node on --port
                found = node_on_port(args.port)
                if found is None:
                    print(
                        f"es-local: no node started here answers to --name {args.name} or "
                        f"--port {args.port}",
                        file=sys.stderr,
                    )
                    return 1
                node = found
            node.stop()
        else:
            print(json.dumps(node.wait_http(2), indent=2))
    except ESUnavailable as exc:
        print(f"es-local: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
