"""Web console time to first byte: the jobs page with 200 jobs, and the page of a run with
10,000 output lines (targets: <= 50 ms and <= 150 ms). A run page sends the run's last 500
events, not all of them, so its cost should not grow with the run's length.

The console is the app ``flwd :serve`` serves (API plus console plugin) on a real uvicorn, in a
thread of this process, over a SQLite store and the fake runtime (it only produces the output
lines). Each figure is measured over a fresh TCP connection: request sent -> first byte of the
answer, and -> last byte. Prints figures only; run with `.venv/bin/python bench/console_bench.py`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from dependency_injector import providers

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.entrypoints.config import FlwdConfig
from flwd.entrypoints.container import build_container
from flwd.entrypoints.http.app import create_app
from flwd.entrypoints.http.serve import CATALOG_RESCAN_SECONDS
from flwd.entrypoints.http.settings import ServerSettings
from flwd.entrypoints.tokens import ALL_SCOPES, TokenGrant, token_digest
from flwd.entrypoints.web.plugin import ConsolePlugin
from flwd.ports.runtime import OutputLine

TOKEN = "bench-token"
JOBS, LINES, REPEAT = 200, 10_000, 40
JOB = """\
executor: container
image: alpine:3.20
description: Bench job {n} with a few arguments.
command: ["true"]
args:
  - {{name: who, type: string, required: true, description: Who}}
  - {{name: count, type: integer, minimum: 1, maximum: 9}}
  - {{name: tags, type: array, items: string}}
  - {{name: token, type: string, format: secret}}
"""


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        root = Path(tmp)
        for n in range(JOBS):
            (root / "jobs" / f"job-{n:03d}").mkdir(parents=True)
            (root / "jobs" / f"job-{n:03d}" / "job.yaml").write_text(JOB.format(n=n))
        runtime = FakeRuntime(output_lines=[OutputLine(stream="stdout", line=f"line {i} " + "x" * 60)
                                            for i in range(LINES)])
        config = FlwdConfig(jobs_dirs=(str(root / "jobs"),), data_dir=str(root / "data"))
        # as `flwd :serve` builds it: the catalogue answers from memory, re-walked in the background
        container = build_container(config, catalog_rescan_seconds=CATALOG_RESCAN_SECONDS)
        container.runtime.override(providers.Object(runtime))
        grant = TokenGrant(name="bench", digest=token_digest(TOKEN), scopes=ALL_SCOPES)
        app = create_app(container, server_settings=ServerSettings(grants=(grant,)),
                         plugins=[ConsolePlugin()])
        server, port = _serve(app)
        try:
            _measure(port)
        finally:
            server.should_exit = True
            container.supervisor().shutdown(cancel=True)


def _measure(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120) as client:
        run_id = client.post("/runs", json={"job": "job-000", "args": {"who": "x"}},
                             headers={"Authorization": f"Bearer {TOKEN}"}).json()["run_id"]
        while client.get(f"/runs/{run_id}", headers={"Authorization": f"Bearer {TOKEN}"}
                         ).json()["finished_at"] is None:
            time.sleep(0.1)
        page = client.get("/ui/signin")
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf
        client.post("/ui/signin", data={"token": TOKEN, "_csrf_token": csrf.group(1)})
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for label, path, target in (
            (f"jobs page, {JOBS} jobs", "/ui/jobs", 50),
            (f"run page, {LINES:,} output lines", f"/ui/runs/{run_id}", 150),
            (f"run page, {LINES:,} lines, 'show earlier'", f"/ui/runs/{run_id}?before=5000", 150),
            (f"job form, 4 arguments", "/ui/jobs/job-007", 50),
            ("runs list", "/ui/runs/", 50)):
        _report(label, [_fetch(port, path, cookie) for _ in range(REPEAT)], target)


def _report(label: str, samples: list[tuple[float, float, int]], target: int) -> None:
    firsts = sorted(s[0] * 1000 for s in samples[3:])  # the first few warm caches up
    lasts = sorted(s[1] * 1000 for s in samples[3:])
    p95 = firsts[int(len(firsts) * 0.95) - 1]
    print(f"{label:<42} TTFB median {statistics.median(firsts):6.1f} ms  p95 {p95:6.1f} ms  "
          f"last byte median {statistics.median(lasts):6.1f} ms  {samples[-1][2] / 1024:6.0f} KiB"
          f"  (target <= {target} ms)")


def _fetch(port: int, path: str, cookie: str) -> tuple[float, float, int]:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
               "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.perf_counter()
        sock.sendall(request)
        chunk = sock.recv(65536)
        first = time.perf_counter() - start
        size = len(chunk)
        assert chunk.startswith(b"HTTP/1.1 200"), chunk[:200]
        while chunk:
            chunk = sock.recv(65536)
            size += len(chunk)
        return first, time.perf_counter() - start, size


def _serve(app: Any) -> tuple[uvicorn.Server, int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, server.servers[0].sockets[0].getsockname()[1]


if __name__ == "__main__":
    main()
