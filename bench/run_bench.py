"""Wall time of `flwd JOB` for a trivial job vs `bench/bare_run.sh` running the same hardened
container through the runtime CLI, on rootless Podman, rootful Podman (flwd's private service,
the bare side `podman run` as root) and Docker; each flwd run both in-process and handed to a
resident local `flwd :serve --local` (targets: resident <= 1.15x; in-process <= 1.5x, rootless
<= 1.1x).

Prints figures and, for flwd, where its time goes (event timestamps and Python start-up);
asserts nothing:
`.venv/bin/python bench/run_bench.py [--runs N] [--runtime podman|podman-rootful|docker]`.
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
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
FLWD = str(ROOT / ".venv" / "bin" / "flwd")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BARE = str(ROOT / "bench" / "bare_run.sh")
IMAGES = {"podman": "docker.io/library/alpine:3.20", "docker": "alpine:3.20",
          "podman-rootful": "docker.io/library/alpine:3.20"}
SOCKET_VARS = {"podman": ("FLWD_TEST_PODMAN_SOCKET", "CONTAINER_HOST"),
               "docker": ("FLWD_TEST_DOCKER_SOCKET", "DOCKER_HOST")}
TARGETS = {"podman": 1.1, "docker": 1.5, "podman-rootful": 1.5}
RESIDENT_TARGET = 1.15
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
    if runtime == "podman-rootful":
        return ""  # flwd starts its private service; the bare side runs `podman` directly
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
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base)}
        if runtime in SOCKET_VARS:
            self.env[SOCKET_VARS[runtime][1]] = self.socket
        self.in_process_env = {**self.env, "FLWD_RESIDENT": "0"}
        self.server: subprocess.Popen[bytes] | None = None

    def flwd_argv(self, *extra: str) -> list[str]:
        return [*self._flwd(), "echo", *extra]

    def _flwd(self) -> list[str]:
        return [FLWD, "--runtime", self.runtime.removesuffix("-rootful"), "--jobs-dir",
                str(self.base / "jobs"), "--data-dir", str(self.data)]

    def start_resident(self) -> None:
        """`flwd :serve --local` with the same flags and environment; waits for its socket."""
        self.server = subprocess.Popen([*self._flwd(), ":serve", "--local"], cwd=self.base,
                                       env=self.env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
        assert self.server.stderr is not None
        line = self.server.stderr.readline().decode()  # "flwd: serving local runs on unix:..."
        if "unix:" not in line:
            raise SystemExit(f"flwd :serve --local did not start: {line.strip()}")

    def stop_resident(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=60)
            self.server = None

    def bare_argv(self) -> list[str]:
        return [BARE, self.runtime, self.socket, IMAGES[self.runtime], str(self.job),
                str(self.bare_runs)]

    def timed(self, argv: list[str], env: dict[str, str] | None = None) -> float:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=self.base, env=env or self.env, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0 or "hello" not in done.stdout:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return seconds

    def close(self) -> None:
        self.stop_resident()
        shutil.rmtree(self.base, ignore_errors=True)


def compare(bench: Bench, runs: int) -> dict[str, list[float]]:
    """Interleaved runs (in-process, resident, bare, ...), so all sides see the same load."""
    bench.start_resident()
    sides = {"flwd": (bench.flwd_argv(), bench.in_process_env),
             "resident": (bench.flwd_argv(), bench.env), "bare": (bench.bare_argv(), bench.env)}
    for argv, env in sides.values():  # warm caches, .pyc files, the runtime and the server
        bench.timed(argv, env)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, (argv, env) in sides.items():
            times[name].append(bench.timed(argv, env))
    bench.stop_resident()
    return times


def breakdown(bench: Bench) -> list[tuple[str, float]]:
    """Where one `flwd echo --json` run spends its time, from its own event timestamps."""
    wall_start = time.time()
    done = subprocess.run(bench.flwd_argv("--json"), cwd=bench.base, env=bench.in_process_env,
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
                          env=bench.in_process_env, capture_output=True, text=True)
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

    if not bench.socket:
        return float("nan")
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
        times = compare(bench, runs)
        bm = statistics.median(times["bare"])
        print(f"\n== {runtime} ({bench.socket or 'private service'}), {runs} runs each, "
              "interleaved")
        print(f"{'':<10} {'median s':>9} {'mean s':>8} {'min s':>7} {'max s':>7}")
        for name, series in times.items():
            print(f"{name:<10} {statistics.median(series):>9.3f} {statistics.mean(series):>8.3f} "
                  f"{min(series):>7.3f} {max(series):>7.3f}")
        for name, target in (("flwd", TARGETS[runtime]), ("resident", RESIDENT_TARGET)):
            median = statistics.median(times[name])
            ratio = median / bm
            verdict = "within" if ratio <= target else "OVER"
            print(f"ratio {name}/bare (median): {ratio:.2f}x  ({verdict} the {target}x target; "
                  f"costs {median - bm:+.3f} s per run)")
        paired = [f / b for f, b in zip(times["resident"], times["bare"])]
        print(f"paired resident/bare ratios: median {statistics.median(paired):.2f}x")
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


def run_all(description: str | None, report_one: Callable[[str, int], None],
            runtimes: list[str]) -> None:
    """The command line both run benches share: --runs N, --runtime R (repeatable)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--runtime", choices=("podman", "podman-rootful", "docker"),
                        action="append")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    for runtime in args.runtime or runtimes:
        report_one(runtime, args.runs)
    load = os.getloadavg()[0]
    print(f"\nload average at the end: {load:.2f} on {os.cpu_count()} cpus "
          "(figures from a busy machine overstate both sides)")


if __name__ == "__main__":
    run_all(__doc__, report, ["podman", "podman-rootful", "docker"])
