"""Wall time of the shell's Tab callback, ``flwd :__complete WORDS...``, over a catalogue of
50 jobs of 8 arguments each (target: median and p95 <= 200 ms). Each call is a fresh process,
as on a real Tab: interpreter start, imports, configuration, walking the specs and reading
the completion cache (or, the first time and after an edit, parsing and validating them).

Prints figures only; run with `.venv/bin/python bench/completion_bench.py [ROUNDS]`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

JOBS = 50
CASES = {
    "job ids (`flwd job-<Tab>`)": ["job-"],
    "argument names (`flwd job-25 --<Tab>`)": ["job-25", "--"],
    "enum values (`flwd job-25 --mode <Tab>`)": ["job-25", "--mode", ""],
    "global option (`flwd --<Tab>`, no catalogue)": ["--"],
}
_JOB = """name: Job {n}
description: Benchmark job {n}
executor: container
image: docker.io/library/alpine:3.20
command: [echo]
args:
  - {{name: mode, type: string, enum: [fast, slow, careful], default: fast}}
  - {{name: dry_run, type: boolean, default: false}}
  - {{name: count, type: integer, minimum: 1, maximum: 100}}
  - {{name: ratio, type: number}}
  - {{name: tags, type: array, items: string}}
  - {{name: target, type: string, pattern: "^[a-z0-9-]+$", required: true}}
  - {{name: token, type: string, secret: true}}
  - {{name: extra, type: object}}
"""


def _catalogue(root: Path) -> None:
    """The specs, dated a minute back: a Tab trusts its cache only with specs that settled."""
    past = time.time() - 60
    for n in range(JOBS):
        job = root / f"job-{n:02d}"
        job.mkdir(parents=True)
        (job / "job.yaml").write_text(_JOB.format(n=n))
        for path in (job / "job.yaml", job):
            os.utime(path, (past, past))


def _edit(root: Path) -> None:
    """A spec just saved: the cache is not trusted, every spec is read and validated again."""
    (root / "job-07" / "job.yaml").write_text(_JOB.format(n=7))


def _time(argv: list[str], env: dict[str, str], cwd: str, rounds: int,
          expect: str = "words", before: Callable[[], None] = lambda: None) -> list[float]:
    times = []
    for _ in range(rounds):
        before()
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0 or not done.stdout.startswith(expect):
            raise SystemExit(f"{argv}: exit {done.returncode}: {done.stdout!r} {done.stderr!r}")
    return times


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, round(0.95 * len(times)) - 1)]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    flwd = str(Path(sys.executable).with_name("flwd"))
    with tempfile.TemporaryDirectory() as tmp:
        _catalogue(Path(tmp) / "jobs")
        env = {**os.environ, "HOME": tmp, "FLWD_JOBS_DIR": str(Path(tmp) / "jobs")}
        print(f"catalogue: {JOBS} jobs, 8 arguments each; {rounds} calls per case; "
              f"load average {os.getloadavg()[0]:.2f}")
        floor = _time([sys.executable, "-c", "pass"], env, tmp, rounds, expect="")
        print(f"{'interpreter alone (python -c pass)':50} median {statistics.median(floor):6.1f} ms"
              f"  p95 {_p95(floor):6.1f} ms")
        for label, words in CASES.items():
            times = _time([flwd, ":__complete", *words], env, tmp, rounds)
            print(f"{label:50} median {statistics.median(times):6.1f} ms  p95 {_p95(times):6.1f} ms")
        times = _time([flwd, ":__complete", "job-"], env, tmp, rounds,
                      before=lambda: _edit(Path(tmp) / "jobs"))
        label = "job ids, a spec just edited (no cache)"
        print(f"{label:50} median {statistics.median(times):6.1f} ms  p95 {_p95(times):6.1f} ms")


if __name__ == "__main__":
    main()
