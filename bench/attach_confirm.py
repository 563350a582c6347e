"""What confirming a clean attach end costs on Podman, and how often it falls back to a full read.

Runs jobs straight through the Podman adapter (attach, start, read, wait, remove), one at a
time, and prints per kind of output: runs, how many needed the full log read (``recovered``),
and the median and max time of the one confirming log read (``since`` the last delivered byte).
Every run's lines are checked against what the job wrote.

Prints figures, asserts nothing:
    .venv/bin/python bench/attach_confirm.py [--runs 20]
Socket as for run_bench.py (FLWD_TEST_PODMAN_SOCKET or /run/flwd-ci.env).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import socket_for  # noqa: E402

from flwd.adapters.podman_runtime import PodmanRuntime  # noqa: E402
from flwd.ports.runtime import ContainerSpec, OutputLine  # noqa: E402

IMAGE = "docker.io/library/alpine:3.20"
JOBS = {  # kind: (script, expected stdout lines, expected stderr lines)
    "quiet": ("true", [], []),
    "short": ("echo a; echo b >&2; printf c", ["a", "c"], ["b"]),
    "100+100": ("i=1; while [ $i -le 100 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done",
                [f"o{i}" for i in range(1, 101)], [f"e{i}" for i in range(1, 101)]),
    "seq 50000": ("seq 50000", [str(i) for i in range(1, 50_001)], []),
}


def run_once(runtime: PodmanRuntime, script: str) -> tuple[bool, list[OutputLine]]:
    spec = ContainerSpec(name=f"flwd-bench-confirm-{uuid.uuid4().hex[:10]}", image=IMAGE,
                         command=("sh", "-c", script), env={}, labels={}, mounts=(),
                         workdir="/", tmpfs={"/tmp": "rw,size=16m"})
    container_id = runtime.create(spec)
    try:
        attached = runtime.attach(container_id)
        runtime.start(container_id)
        lines = list(attached)
        runtime.wait(container_id)
    finally:
        runtime.remove(container_id)
    return attached.recovered, lines


def timed(runtime: PodmanRuntime, timings: list[float]) -> None:
    """Wrap the adapter's confirming read so that each one's time is recorded."""
    read = runtime._log_since

    def log_since(container_id: str, since: float) -> Iterator[OutputLine]:
        began = time.perf_counter()
        lines = list(read(container_id, since))
        timings.append(time.perf_counter() - began)
        yield from lines

    runtime._log_since = log_since  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    runtime = PodmanRuntime(socket_for("podman"))
    timings: list[float] = []
    timed(runtime, timings)
    print(f"{'job':<10} {'runs':>5} {'recovered':>10} {'wrong':>6} {'confirm med ms':>15} "
          f"{'max ms':>7}")
    try:
        for kind, (script, stdout, stderr) in JOBS.items():
            timings.clear()
            recovered = wrong = 0
            for _ in range(options.runs):
                fell_back, lines = run_once(runtime, script)
                recovered += fell_back
                got = ([x.line for x in lines if x.stream == "stdout"],
                       [x.line for x in lines if x.stream == "stderr"])
                wrong += got != (stdout, stderr)
            ms = [t * 1000 for t in timings] or [float("nan")]
            print(f"{kind:<10} {options.runs:>5} {recovered:>10} {wrong:>6} "
                  f"{statistics.median(ms):>15.1f} {max(ms):>7.1f}", flush=True)
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
