"""Wall time of `flwd --help` and `flwd :plan demo-container --name x --json` (target: each
under 250 ms on this machine), plus the bare interpreter start for reference.

Prints figures only: `.venv/bin/python bench/cli_bench.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The console script users run (it leaves through os._exit, skipping module finalisation).
FLWD = [str(Path(sys.executable).parent / "flwd")]


def wall(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    env = dict(os.environ, FLWD_DATA_DIR=str(ROOT / ".ci" / "work" / "bench-data"))
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        # what `:plan` cannot avoid: the container (dependency-injector, which imports asyncio),
        # the parser (cyclopts, with attrs) and PyYAML, leaving through os._exit as flwd does
        "import the fixed libraries only": [sys.executable, "-c", "import os, dependency_injector"
                                            ".containers, cyclopts, yaml; os._exit(0)"],
        "flwd --help": [*FLWD, "--help"],
        "flwd :plan demo-container --name x --json": [*FLWD, ":plan", "demo-container", "--name", "x",
                                                     "--json"],
        "flwd demo-container --help": [*FLWD, "demo-container", "--help"],
    }
    # as bootstrap does: with PYTHONDONTWRITEBYTECODE set, a source edited since then would be
    # compiled on every start and counted as start-up
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")],
                   stdout=subprocess.DEVNULL, check=True)
    wall(cases["flwd --help"], 2, env)  # warm the page cache
    print(f"{'command':<46} {'median ms':>10} {'p10 ms':>8} {'max ms':>8}   (target < 250 ms)")
    for name, argv in cases.items():
        times = sorted(wall(argv, runs, env))
        print(f"{name:<46} {statistics.median(times):>10.0f} {times[len(times) // 10]:>8.0f} "
              f"{times[-1]:>8.0f}")
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.2f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
