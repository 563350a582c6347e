"""Output losslessness under load (SPEC section 6): every line once, in order, on every path.

A job writes numbered lines on stdout and stderr, interleaved, each stream ending with a line
without a newline. It runs N times per runtime and path, PARALLEL at a time, while HOGS
processes spin on the CPU, through the CLI's plain output, the CLI's ``--json`` events and the
API's SSE stream (one ``flwd :serve --dev`` per runtime). For each runtime and path it prints how
many runs did not succeed and how many lines went missing, came twice, came out of order, or
came that the job never wrote. Every count should be 0. Prints figures, asserts nothing:

    .venv/bin/python bench/output_stress.py [--runs 300] [--lines 100] [--parallel 4]
        [--hogs 2] [--runtime podman --runtime docker] [--path plain --path json --path sse]

The full default (300 runs x 3 paths x 2 runtimes) takes a long while: on a shared machine,
start with ``--runs 20``. Sockets as for run_bench.py (FLWD_TEST_*_SOCKET or /run/flwd-ci.env).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import FLWD, SOCKET_VARS, socket_for  # noqa: E402

PATHS = ("plain", "json", "sse")
RUNTIMES = ("podman", "docker")
JOB = "executor: container\nimage: alpine:3.20\nscript: main.sh\n"
SCRIPT = """\
i=1
while [ "$i" -le {lines} ]; do
  echo "out $i"
  echo "err $i" >&2
  i=$((i + 1))
done
printf 'out last'
printf 'err last' >&2
"""
PREFIX = {"stdout": "out", "stderr": "err"}


@dataclass(slots=True)
class Tally:
    """Counts for one runtime and path; every one but ``runs`` should stay 0."""

    runs: int = 0
    not_succeeded: int = 0
    missing: int = 0
    duplicated: int = 0
    reordered: int = 0
    unexpected: int = 0
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, status: str, streams: dict[str, list[str]], lines: int, seconds: float) -> None:
        self.runs += 1
        self.seconds.append(seconds)
        if status != "succeeded":
            self.not_succeeded += 1
            self.failures.append(status)
        for stream, prefix in PREFIX.items():
            self._check(streams.get(stream, []), prefix, lines)

    def _check(self, got: list[str], prefix: str, lines: int) -> None:
        expected = [f"{prefix} {i}" for i in range(1, lines + 1)] + [f"{prefix} last"]
        position = {line: index for index, line in enumerate(expected)}
        ours = [line for line in got if line.startswith(f"{prefix} ")]
        counts = Counter(ours)
        self.missing += sum(1 for line in expected if counts[line] == 0)
        self.duplicated += sum(count - 1 for count in counts.values() if count > 1)
        self.unexpected += sum(1 for line in ours if line not in position)
        order = [position[line] for line in dict.fromkeys(ours) if line in position]
        self.reordered += sum(1 for a, b in zip(order, order[1:]) if b < a)


class Stress:
    """A jobs root and data dir under /var/tmp for one runtime, and the three ways to run."""

    def __init__(self, runtime: str, lines: int) -> None:
        self.runtime, self.lines = runtime, lines
        self.base = Path(tempfile.mkdtemp(prefix=f"flwd-stress-{runtime}-", dir="/var/tmp"))
        self.base.chmod(0o755)
        job = self.base / "jobs" / "numbers"
        job.mkdir(parents=True, mode=0o755)
        (job / "job.yaml").write_text(JOB)
        (job / "main.sh").write_text(SCRIPT.format(lines=lines))
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base),
                    "LANG": "C.UTF-8", SOCKET_VARS[runtime][1]: socket_for(runtime)}
        self.server: subprocess.Popen[bytes] | None = None
        self.url = ""

    def argv(self, *args: str) -> list[str]:
        return [FLWD, "--runtime", self.runtime, "--jobs-dir", str(self.base / "jobs"),
                "--data-dir", str(self.base / "data"), *args]

    def plain(self) -> tuple[str, dict[str, list[str]]]:
        done = subprocess.run(self.argv("numbers"), capture_output=True, text=True,
                              env=self.env, timeout=600)
        return _status(done), {"stdout": done.stdout.splitlines(),
                               "stderr": done.stderr.splitlines()}

    def json(self) -> tuple[str, dict[str, list[str]]]:
        done = subprocess.run(self.argv("numbers", "--json"), capture_output=True, text=True,
                              env=self.env, timeout=600)
        if done.returncode != 0 and not done.stdout.strip():
            return _status(done), {}
        return _from_events(json.loads(line) for line in done.stdout.splitlines() if line)

    def sse(self) -> tuple[str, dict[str, list[str]]]:
        headers = {"Authorization": "Bearer dev-token"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=600) as client:
            response = client.post("/runs", json={"job": "numbers", "args": {}})
            if response.status_code != 202:
                return f"HTTP {response.status_code}", {}
            run_id = response.json()["run_id"]
            with client.stream("GET", f"/runs/{run_id}/events") as stream:
                return _from_events(json.loads(line[5:]) for line in stream.iter_lines()
                                    if line.startswith("data:"))

    def serve(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = subprocess.Popen(self.argv(":serve", "--dev", "--bind", f"127.0.0.1:{port}"),
                                       env=self.env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit(f"flwd :serve on {self.runtime} did not answer")

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(30)
        shutil.rmtree(self.base, ignore_errors=True)


def _status(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode == 0:
        return "succeeded"
    errors = [line for line in done.stderr.splitlines() if line.startswith("error[")]
    return f"exit {done.returncode}: {errors[-1] if errors else done.stderr.strip()[-200:]}"


def _from_events(events: Iterator[dict[str, object]]) -> tuple[str, dict[str, list[str]]]:
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    status = "no run.finished"
    for event in events:
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        if event.get("type") == "run.output":
            streams.setdefault(str(data["stream"]), []).append(str(data["line"]))
        elif event.get("type") == "run.finished":
            status = str(data.get("status"))
            if data.get("code"):
                status += f" {data['code']}"
    return status, streams


def _timed(call: Callable[[], tuple[str, dict[str, list[str]]]]
           ) -> tuple[str, dict[str, list[str]], float]:
    started = time.monotonic()
    status, streams = call()
    return status, streams, time.monotonic() - started


def stress(stress: Stress, path: str, runs: int, parallel: int) -> Tally:
    call = getattr(stress, path)
    tally = Tally()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for status, streams, seconds in pool.map(lambda _: _timed(call), range(runs)):
            tally.add(status, streams, stress.lines, seconds)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per runtime and path")
    parser.add_argument("--lines", type=int, default=100, help="numbered lines per stream")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--hogs", type=int, default=2, help="CPU-spinning processes meanwhile")
    parser.add_argument("--runtime", action="append", choices=RUNTIMES)
    parser.add_argument("--path", action="append", choices=PATHS)
    options = parser.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(options.hogs)]
    print(f"load average {os.getloadavg()[0]:.2f}; {options.runs} runs per runtime and path, "
          f"{options.parallel} in parallel, {options.hogs} CPU hogs, "
          f"{options.lines} numbered lines per stream + one without newline")
    print(f"{'runtime':<8} {'path':<6} {'runs':>5} {'!ok':>4} {'missing':>8} {'dup':>5} "
          f"{'reorder':>8} {'unexp':>6} {'median s':>9} {'max s':>7}")
    try:
        for runtime in options.runtime or RUNTIMES:
            bench = Stress(runtime, options.lines)
            try:
                for path in options.path or PATHS:
                    if path == "sse" and bench.server is None:
                        bench.serve()
                    tally = stress(bench, path, options.runs, options.parallel)
                    _print(runtime, path, tally)
            finally:
                bench.close()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _print(runtime: str, path: str, tally: Tally) -> None:
    ordered = sorted(tally.seconds)
    median = ordered[len(ordered) // 2] if ordered else float("nan")
    print(f"{runtime:<8} {path:<6} {tally.runs:>5} {tally.not_succeeded:>4} {tally.missing:>8} "
          f"{tally.duplicated:>5} {tally.reordered:>8} {tally.unexpected:>6} {median:>9.2f} "
          f"{max(ordered, default=float('nan')):>7.2f}", flush=True)
    for failure, count in Counter(tally.failures).most_common(5):
        print(f"    {count} x {failure}")


if __name__ == "__main__":
    main()
