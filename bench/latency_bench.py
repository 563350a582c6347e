"""How late the job's output reaches the host, and how long a very chatty job takes.

1. Per-line latency: a job prints a line stamped with the container's clock (adjtimex, in
   microseconds; the container shares the host's kernel clock) every 100 ms for ~5 s; the bench
   reads `flwd JOB`'s stdout as it comes and prints, per runtime, the median and p95 of host
   receive time minus the time written in the line.
2. Bulk output: a job writes 200,000 lines as fast as it can (`seq`); the wall time of
   `flwd JOB > /dev/null` against `bench/bare_run.sh` (the same hardened `podman run` /
   `docker run`) writing the same to /dev/null, both checked to have written every line.

Prints figures, asserts nothing:
    .venv/bin/python bench/latency_bench.py [--runtime podman|docker] [--skip-bulk]
        [--flwd PATH]   (another checkout's flwd, e.g. a before/after comparison)
Sockets as for run_bench.py (FLWD_TEST_*_SOCKET or /run/flwd-ci.env).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench  # noqa: E402
from run_bench import Bench  # noqa: E402

TICKS = 50
TICK_SCRIPT = f"""\
i=0
while [ "$i" -lt {TICKS} ]; do
  echo "tick $i $(adjtimex | awk '/tv_sec/{{s=$2}} /tv_usec/{{u=$2}} END{{printf "%d.%06d", s, u}}')"
  sleep 0.1
  i=$((i + 1))
done
"""
BULK_LINES = 200_000
BULK_SCRIPT = f"seq 1 {BULK_LINES}\n"


def latencies(bench: Bench) -> list[float]:
    """Host receive time minus the container's stamp, in seconds, for each tick line."""
    (bench.job / "main.sh").write_text(TICK_SCRIPT)
    process = subprocess.Popen(bench.flwd_argv(), cwd=bench.base, env=bench.env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    assert process.stdout is not None
    found: list[float] = []
    pending = b""
    while chunk := process.stdout.read(65536):
        received = time.time()
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == b"tick":
                found.append(received - float(parts[2]))
    process.wait()
    if len(found) != TICKS:
        raise SystemExit(f"expected {TICKS} tick lines, got {len(found)} (exit {process.returncode})")
    return found


def bulk(bench: Bench, argv: list[str]) -> float:
    """Wall time of *argv* writing BULK_LINES lines to a file, checked complete."""
    (bench.job / "main.sh").write_text(BULK_SCRIPT)
    out = bench.base / "bulk.out"
    with out.open("wb") as sink:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=bench.base, env=bench.env, stdout=sink,
                              stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
    with out.open("rb") as written:
        count = sum(1 for _ in written)
    if done.returncode != 0 or count != BULK_LINES:
        raise SystemExit(f"{argv[0]} wrote {count} lines, exit {done.returncode}: "
                         f"{done.stderr.decode(errors='replace').strip()}")
    out.unlink()
    return seconds


def report(runtime: str, skip_bulk: bool) -> None:
    bench = Bench(runtime)
    try:
        found = sorted(latencies(bench))
        p95 = found[min(len(found) - 1, int(0.95 * len(found)))]
        print(f"== {runtime}: per-line latency over {len(found)} lines: median "
              f"{statistics.median(found) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
              f"max {found[-1] * 1000:.1f} ms")
        if skip_bulk:
            return
        flwd = bulk(bench, bench.flwd_argv())
        bare = bulk(bench, bench.bare_argv())
        print(f"== {runtime}: {BULK_LINES} lines: flwd {flwd:.2f} s, bare {runtime} run "
              f"{bare:.2f} s, ratio {flwd / bare:.2f}x")
    finally:
        bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", choices=("podman", "docker"), action="append")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--flwd", help="the flwd executable to measure (default: this checkout's)")
    args = parser.parse_args()
    if args.flwd:
        run_bench.FLWD = args.flwd
    print(f"flwd: {run_bench.FLWD}")
    for runtime in args.runtime or ["podman", "docker"]:
        report(runtime, args.skip_bulk)
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
