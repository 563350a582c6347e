"""Time of the full job-line parser (`parse_job_options`, Cyclopts path) by line length, for
lines full of problems (one option repeated, unknown options) and for a valid line of array
values; plus the Cyclopts parses each took and one `flwd :plan demo-container` of 8000 tokens.

Prints figures only: `.venv/bin/python bench/parser_bench.py [--before]`. With --before, the
one-pass replay and the array collapse are switched off (the parser as it was: drop the refused
option and parse again), on lines of up to 1000 tokens (longer ones take minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable
from unittest import mock

import cyclopts

from flwd.domain.errors import FlwdError
from flwd.domain.model import ArgSpec, ArgType, JobSpec
from flwd.entrypoints.cli import job_collect
from flwd.entrypoints.cli.job_parser import parse_job_options

ROOT = Path(__file__).resolve().parent.parent
JOB = JobSpec(id="demo", directory="/j", spec_path="/j/job.yaml", image="alpine", args=(
    ArgSpec(name="name", type=ArgType.STRING),
    ArgSpec(name="tags", type=ArgType.ARRAY, items=ArgType.STRING),
    ArgSpec(name="token", type=ArgType.STRING, secret=True),  # no plain fast path
))
LINES: dict[str, Callable[[int], list[str]]] = {
    "--name x, repeated": lambda n: ["--name", "x"] * (n // 2),
    "--bogus x, repeated": lambda n: ["--bogus", "x"] * (n // 2),
    "--bogusI x, all different": lambda n: [t for i in range(n // 2) for t in (f"--bogus{i}", "x")],
    "--tags vI (valid)": lambda n: [t for i in range(n // 2) for t in ("--tags", f"v{i}")],
}


def timed(tokens: list[str]) -> tuple[float, int, str]:
    parses = 0
    real = cyclopts.App.__call__

    def counting(app: cyclopts.App, *args: Any, **kwargs: Any) -> Any:
        nonlocal parses
        parses += 1
        return real(app, *args, **kwargs)

    with mock.patch.object(cyclopts.App, "__call__", counting):
        start = time.perf_counter()
        try:
            parse_job_options(JOB, tokens, prog="flwd demo")
            outcome = "ok"
        except FlwdError as exc:
            outcome = exc.code
        return (time.perf_counter() - start) * 1000, parses, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", action="store_true")
    before = parser.parse_args().before
    sizes = (250, 1000) if before else (250, 1000, 2000, 8000, 32000)
    with ExitStack() as stack:
        if before:
            stack.enter_context(mock.patch.object(job_collect, "_replayed", lambda *a: ([], a[2])))
            stack.enter_context(mock.patch.object(job_collect, "_collapsed", lambda *a: None))
        timed(["--name", "x"])  # imports, first app
        print(f"{'line':<28} {'tokens':>7} {'ms':>10} {'parses':>7}  outcome")
        for name, make in LINES.items():
            for size in sizes:
                ms, parses, outcome = timed(make(size))
                print(f"{name:<28} {size:>7} {ms:>10.1f} {parses:>7}  {outcome}")
    if not before:
        argv = [str(Path(sys.executable).parent / "flwd"), ":plan", "demo-container",
                *(["--name", "x"] * 4000)]
        env = dict(os.environ, FLWD_DATA_DIR=str(ROOT / ".ci" / "work" / "bench-data"))
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False)
        print(f"flwd :plan demo-container, 8000 tokens (--name x repeated): "
              f"{(time.perf_counter() - start) * 1000:.0f} ms wall, exit {done.returncode}")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
