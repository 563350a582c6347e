"""API throughput: ``POST /plans`` vs a bare Litestar endpoint, then 50 concurrent runs with SSE.

Both servers run the same way: one uvicorn worker in a child process on loopback. The flwd
server is ``create_app`` over a real container (YAML catalog, SQLite store) with the in-memory
FakeRuntime, so the run part needs no Podman or Docker. Prints figures only (targets: plans at
>= 60% of bare requests/s; peak RSS of the server < 150 MB):

    .venv/bin/python bench/api_bench.py [--seconds 5] [--concurrency 32] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = {"Authorization": "Bearer dev-token"}
PLAN_BODY = {"job": "bench", "args": {f"a{i}": f"value-{i}" for i in range(10)}}
JOB_YAML = "executor: container\nimage: alpine:3.20\ncommand: ['/bin/true']\nargs:\n" + "".join(
    f"  - {{name: a{i}, type: string}}\n" for i in range(10))


# --- the two servers (child processes) ----------------------------------------------


def _serve_flwd(port: int, base: Path, runs: int) -> None:
    import uvicorn
    from dependency_injector import providers

    from flwd.adapters.fake_runtime import FakeRuntime
    from flwd.entrypoints.config import FlwdConfig
    from flwd.entrypoints.container import build_container
    from flwd.entrypoints.http.serve import CATALOG_RESCAN_SECONDS
    from flwd.entrypoints.http.app import create_app
    from flwd.entrypoints.http.auth import dev_grant
    from flwd.entrypoints.http.settings import ServerSettings
    from flwd.ports.runtime import OutputLine

    config = FlwdConfig(jobs_dirs=(str(base / "jobs"),), data_dir=str(base / "data"),
                        max_concurrent_runs=runs)
    container = build_container(config, catalog_rescan_seconds=CATALOG_RESCAN_SECONDS)
    lines = [OutputLine(stream="stdout", line=f"line {i}") for i in range(20)]
    runtime = FakeRuntime(run_seconds=2.0, output_lines=lines)
    container.runtime.override(providers.Object(runtime))
    app = create_app(container, server_settings=ServerSettings(grants=(dev_grant(),)))
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning",
                access_log=False)


def _serve_bare(port: int) -> None:
    import uvicorn
    from litestar import Litestar, post

    @post("/hello", status_code=200)
    async def hello(data: dict[str, Any]) -> dict[str, str]:
        return {"hello": "world"}

    uvicorn.run(Litestar([hello]), host="127.0.0.1", port=port, workers=1,
                log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(kind: str, base: Path, runs: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    child = subprocess.Popen([sys.executable, __file__, "--child", kind, str(port), str(base),
                              str(runs)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz" if kind == "flwd" else f"{url}/", timeout=1)
            return child, url
        except httpx.TransportError:
            time.sleep(0.1)
    child.kill()
    raise SystemExit(f"{kind} server did not start")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- load ---------------------------------------------------------------------------


async def _hammer(url: str, path: str, seconds: float, concurrency: int) -> list[float]:
    """Keep-alive HTTP/1.1 over raw asyncio streams: a Python client light enough that the
    server, not the load generator, is what gets measured."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(PLAN_BODY).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {TOKEN['Authorization']}"
               f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _report(name: str, latencies: list[float], seconds: float) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / seconds
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"  {name:<22} {rate:8,.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    return rate


async def _runs_with_sse(url: str, runs: int) -> tuple[float, int]:
    async with httpx.AsyncClient(base_url=url, headers=TOKEN, timeout=60) as client:
        async def one() -> int:
            response = await client.post("/runs", json=PLAN_BODY)
            assert response.status_code == 202, response.text
            count = 0
            async with client.stream("GET", f"/runs/{response.json()['run_id']}/events") as stream:
                async for line in stream.aiter_lines():
                    count += line.startswith("id:")
            return count

        started = time.perf_counter()
        counts = await asyncio.gather(*(one() for _ in range(runs)))
        return time.perf_counter() - started, sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flwd-api-bench-") as tmp:
        base = Path(tmp)
        (base / "jobs" / "bench").mkdir(parents=True)
        (base / "jobs" / "bench" / "job.yaml").write_text(JOB_YAML)
        print(f"load average {os.getloadavg()[0]:.2f}; one uvicorn worker each, "
              f"{options.concurrency} concurrent clients, {options.seconds:.0f} s per side")
        results = {}
        for kind, path in (("bare", "/hello"), ("flwd", "/plans")):
            child, url = _start(kind, base, options.runs)
            try:
                asyncio.run(_hammer(url, path, 1.0, options.concurrency))  # warm-up
                latencies = asyncio.run(_hammer(url, path, options.seconds, options.concurrency))
                results[kind] = _report(f"{kind} POST {path}", latencies, options.seconds)
                if kind == "flwd":
                    elapsed, events = asyncio.run(_runs_with_sse(url, options.runs))
                    print(f"  {options.runs} concurrent runs (2 s each) followed over SSE: "
                          f"{elapsed:.2f} s, {events} events; server peak RSS "
                          f"{_peak_rss_mb(child.pid):.0f} MB")
            finally:
                child.terminate()
                child.wait(10)
        print(f"  flwd /plans at {100 * results['flwd'] / results['bare']:.0f}% of bare req/s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, port, base, runs = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
        _serve_flwd(port, base, runs) if kind == "flwd" else _serve_bare(port)
    else:
        main()
