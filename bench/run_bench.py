"""Wall time of `flwd JOB` for a trivial job vs `bench/bare_run.sh` running the same hardened
container through the runtime CLI, on rootless Podman and on Docker (target: flwd within 1.25x).

Prints figures and, for flwd, where its time goes (event timestamps and Python start-up);
asserts nothing: `.venv/bin/python bench/run_bench.py [--runs N] [--runtime podman|docker]`.
Sockets come from FLWD_TEST_PODMAN_SOCKET / FLWD_TEST_DOCKER_SOCKET or /run/flwd-ci.env.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLWD = str(ROOT / ".venv" / "bin" / "flwd")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BARE = str(ROOT / "bench" / "bare_run.sh")
IMAGES = {"podman": "docker.io/library/alpine:3.20", "docker": "alpine:3.20"}
SOCKET_VARS = {"podman": ("FLWD_TEST_PODMAN_SOCKET", "CONTAINER_HOST"),
               "docker": ("FLWD_TEST_DOCKER_SOCKET", "DOCKER_HOST")}
JOB = "executor: container\nimage: alpine:3.20\nscript: main.sh\n"
STEPS = [  # (label, event that ends the step) measured from the previous step's end
    ("process start -> run.created (start-up, config, job load, plan, store)", "run.created"),
    ("run.created -> pull check (runtime detect + probe, decisions)", "image.pull:checking"),
    ("pull check -> image ready", "image.pull:ready"),
    ("image ready -> run.started (secrets, run dir, create + start)", "run.started"),
    ("run.started -> first output", "run.output"),
    ("first output -> run.finished (wait, drain, remove)", "run.finished"),
    ("run.finished -> process exit (shutdown, interpreter teardown)", "exit"),
]


def socket_for(runtime: str) -> str:
    test_var, _ = SOCKET_VARS[runtime]
    if os.environ.get(test_var):
        return os.environ[test_var]
    try:
        for line in Path("/run/flwd-ci.env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == test_var:
                return value.strip()
    except OSError:
        pass
    return {"podman": "unix:///run/user/1001/podman/podman.sock",
            "docker": "unix:///var/run/docker.sock"}[runtime]


class Bench:
    """A throwaway jobs root and data dir under /var/tmp (reachable by a rootless runtime)."""

    def __init__(self, runtime: str) -> None:
        self.runtime = runtime
        self.socket = socket_for(runtime)
        Path("/var/tmp").mkdir(exist_ok=True)
        self.base = Path(tempfile.mkdtemp(prefix=f"flwd-bench-{runtime}-", dir="/var/tmp"))
        self.base.chmod(0o755)
        self.job = self.base / "jobs" / "echo"
        self.job.mkdir(parents=True, mode=0o755)
        (self.job / "job.yaml").write_text(JOB)
        (self.job / "main.sh").write_text("echo hello\n")
        self.data, self.bare_runs = self.base / "data", self.base / "bare-runs"
        self.bare_runs.mkdir(mode=0o755)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base),
                    SOCKET_VARS[runtime][1]: self.socket}

    def flwd_argv(self, *extra: str) -> list[str]:
        return [FLWD, "--runtime", self.runtime, "--jobs-dir", str(self.base / "jobs"),
                "--data-dir", str(self.data), "echo", *extra]

    def bare_argv(self) -> list[str]:
        return [BARE, self.runtime, self.socket, IMAGES[self.runtime], str(self.job),
                str(self.bare_runs)]

    def timed(self, argv: list[str]) -> float:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=self.base, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0 or "hello" not in done.stdout:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return seconds

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def compare(bench: Bench, runs: int) -> tuple[list[float], list[float]]:
    """Interleaved runs, so both sides see the same machine load."""
    bench.timed(bench.flwd_argv())  # warm caches, .pyc files and the runtime
    bench.timed(bench.bare_argv())
    flwd, bare = [], []
    for _ in range(runs):
        flwd.append(bench.timed(bench.flwd_argv()))
        bare.append(bench.timed(bench.bare_argv()))
    return flwd, bare


def breakdown(bench: Bench) -> list[tuple[str, float]]:
    """Where one `flwd echo --json` run spends its time, from its own event timestamps."""
    wall_start = time.time()
    done = subprocess.run(bench.flwd_argv("--json"), cwd=bench.base, env=bench.env,
                          capture_output=True, text=True)
    wall_end = time.time()
    marks: dict[str, float] = {}
    for line in done.stdout.splitlines():
        event = json.loads(line)
        key = event["type"]
        if key == "image.pull":
            key = f"image.pull:{event['data'].get('status')}"
        stamp = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
        marks.setdefault(key, stamp)
    marks["exit"] = wall_end
    steps, previous = [], wall_start
    for label, key in STEPS:
        if key in marks:
            steps.append((label, marks[key] - previous))
            previous = marks[key]
    return steps


def import_profile(bench: Bench) -> tuple[float, list[tuple[str, float]]]:
    """Python start-up of a real `flwd echo` run: total import time and the heaviest imports."""
    code = ("import sys; from flwd.entrypoints.cli.main import main; "
            f"sys.exit(main({bench.flwd_argv()[1:]!r}))")
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", code], cwd=bench.base,
                          env=bench.env, capture_output=True, text=True)
    top: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if match and not match.group(2).startswith(" "):  # top-level imports only
            top.append((match.group(2), int(match.group(1)) / 1e6))
    total = sum(seconds for _, seconds in top)
    return total, sorted(top, key=lambda item: -item[1])[:8]


def info_call(bench: Bench) -> float:
    """The runtime's own answer time for the info call flwd's probe makes (median of 3)."""
    import http.client
    import socket

    path = "/v4.0.0/libpod/info" if bench.runtime == "podman" else "/info"
    times = []
    for _ in range(3):
        conn = http.client.HTTPConnection("localhost", timeout=10)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(bench.socket.removeprefix("unix://"))
        conn.sock = sock
        start = time.perf_counter()
        conn.request("GET", path)
        conn.getresponse().read()
        times.append(time.perf_counter() - start)
        conn.close()
    return statistics.median(times)


def floor() -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", "pass"], check=True)
    return time.perf_counter() - start


def report(runtime: str, runs: int) -> None:
    bench = Bench(runtime)
    try:
        flwd, bare = compare(bench, runs)
        fm, bm = statistics.median(flwd), statistics.median(bare)
        print(f"\n== {runtime} ({bench.socket}), {runs} runs each, interleaved")
        print(f"{'':<10} {'median s':>9} {'mean s':>8} {'min s':>7} {'max s':>7}")
        for name, times in (("flwd", flwd), ("bare", bare)):
            print(f"{name:<10} {statistics.median(times):>9.3f} {statistics.mean(times):>8.3f} "
                  f"{min(times):>7.3f} {max(times):>7.3f}")
        ratio = fm / bm
        verdict = "within" if ratio <= 1.25 else "OVER"
        print(f"ratio flwd/bare (median): {ratio:.2f}x  ({verdict} the 1.25x target; "
              f"flwd costs {fm - bm:+.3f} s per run)")
        print("where one flwd run spends its time:")
        for label, seconds in breakdown(bench):
            print(f"  {seconds * 1000:>7.0f} ms  {label}")
        print(f"  (the runtime itself takes {info_call(bench) * 1000:.0f} ms to answer the "
              "info call of the probe)")
        total, heaviest = import_profile(bench)
        print(f"python start-up: bare interpreter {floor() * 1000:.0f} ms; imports during a run "
              f"{total * 1000:.0f} ms, heaviest top-level:")
        for name, seconds in heaviest:
            print(f"  {seconds * 1000:>7.0f} ms  {name}")
    finally:
        bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--runtime", choices=("podman", "docker"), action="append")
    args = parser.parse_args()
    for runtime in args.runtime or ["podman", "docker"]:
        report(runtime, args.runs)
    load = os.getloadavg()[0]
    print(f"\nload average at the end: {load:.2f} on {os.cpu_count()} cpus "
          "(figures from a busy machine overstate both sides)")


if __name__ == "__main__":
    sys.exit(main())
