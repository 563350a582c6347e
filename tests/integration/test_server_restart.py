"""A server killed with SIGKILL mid-run, restarted on the same data dir, reconciles its runs;
and the CLI drives a server remotely with the local output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.api_support import FLWD, Server, shared_dir, start_server, write_job

pytestmark = pytest.mark.podman

SLEEPER = """\
executor: container
image: alpine:3.20
command: ["/bin/sh", "-c", "echo started; sleep 8; echo finished"]
"""
QUICK = """\
executor: container
image: alpine:3.20
script: main.sh
args:
  - {name: name, type: string, required: true}
  - {name: token, type: string, format: secret}
"""


@pytest.fixture
def base() -> Iterator[Path]:
    path = shared_dir("restart-")
    (path / "jobs").mkdir(mode=0o755)
    write_job(path / "jobs", "sleeper", SLEEPER)
    write_job(path / "jobs", "quick", QUICK,
              {"main.sh": 'echo "hi $ARG_NAME $(cat /run/secrets/token)"\nexit 4\n'})
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(podman_socket: str) -> dict[str, str]:
    return {"CONTAINER_HOST": podman_socket, "FLWD_CANCEL_GRACE": "2s"}


def _wait_status(server: Server, run_id: str, wanted: set[str], seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    with server.client() as client:
        while True:
            run = client.get(f"/runs/{run_id}").json()
            if run["status"] in wanted or time.monotonic() > deadline:
                return dict(run)
            time.sleep(0.2)


def _containers(podman_socket: str, run_id: str) -> list[str]:
    done = subprocess.run(["podman", "--url", podman_socket, "ps", "-a", "--filter",
                           f"label=flwd.run-id={run_id}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.split()


def test_restarted_server_reattaches_run_whose_container_survived(base: Path,
                                                                  podman_socket: str) -> None:
    first = start_server(base, ["--dev"], _env(podman_socket))
    with first.client() as client:
        run_id = client.post("/runs", json={"job": "sleeper", "args": {}}).json()["run_id"]
    assert _wait_status(first, run_id, {"running"}, 30)["status"] == "running"
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)

    second = start_server(base, ["--dev"], _env(podman_socket))
    try:
        run = _wait_status(second, run_id, {"succeeded", "failed", "error"}, 40)
        with second.client() as client:
            events = client.get(f"/runs/{run_id}/events", headers={"Accept": "text/event-stream"})
    finally:
        second.stop()

    assert run["status"] == "succeeded", run
    lines = [json.loads(line[5:]) for line in events.text.splitlines() if line.startswith("data:")]
    output = [e["data"]["line"] for e in lines if e["type"] == "run.output"]
    assert output == ["started", "finished"]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert _containers(podman_socket, run_id) == []


def test_restarted_server_ends_run_lost_when_its_container_is_gone(base: Path,
                                                                   podman_socket: str) -> None:
    first = start_server(base, ["--dev"], _env(podman_socket))
    with first.client() as client:
        run_id = client.post("/runs", json={"job": "sleeper", "args": {}}).json()["run_id"]
    _wait_status(first, run_id, {"running"}, 30)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    subprocess.run(["podman", "--url", podman_socket, "rm", "-f", f"flwd-{run_id}"],
                   capture_output=True, timeout=30)

    second = start_server(base, ["--dev"], _env(podman_socket))
    try:
        run = _wait_status(second, run_id, {"error"}, 10)
    finally:
        second.stop()

    assert (run["status"], run["code"]) == ("error", "run.lost")


def test_remote_cli_matches_local_output_and_exit_code(base: Path, podman_socket: str) -> None:
    server = start_server(base, ["--dev"], _env(podman_socket))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(base / "home"),
           "FLWD_SERVER": server.url, "FLWD_TOKEN": "dev-token"}
    try:
        run = subprocess.run([FLWD, "quick", "--name", "Ada", "--token", "s3cr3t-value"],
                             capture_output=True, text=True, timeout=60, env=env)
        plan = subprocess.run([FLWD, ":plan", "quick", "--name", "Ada", "--token", "s3cr3t-value",
                               "--json"], capture_output=True, text=True, timeout=60, env=env)
        bad = subprocess.run([FLWD, "quick", "--nam", "x"], capture_output=True, text=True,
                             timeout=60, env=env)
        denied = subprocess.run([FLWD, "--token", "wrong", "quick", "--name", "x"],
                                capture_output=True, text=True, timeout=60, env=env)
    finally:
        server.stop()

    assert (run.returncode, run.stdout) == (4, "hi Ada ***\n"), run.stderr
    assert plan.returncode == 0 and json.loads(plan.stdout)["secret_files"] == ["token"]
    assert "s3cr3t-value" not in plan.stdout + run.stdout + run.stderr
    assert bad.returncode == 2 and "error[args.invalid]" in bad.stderr
    assert denied.returncode == 125 and "error[auth.unauthenticated]" in denied.stderr


def test_remote_doctor_reports_the_servers_runtime(base: Path, podman_socket: str) -> None:
    server = start_server(base, ["--dev"], _env(podman_socket),
                          global_args=["--runtime", "podman"])
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(base / "home")}
    try:
        done = subprocess.run([FLWD, "--server", server.url, ":doctor", "--json"],
                              capture_output=True, text=True, timeout=60, env=env)
    finally:
        server.stop()
    dead = subprocess.run([FLWD, "--server", "http://127.0.0.1:9", ":doctor"],
                          capture_output=True, text=True, timeout=60, env=env)

    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (report["runtime"], report["rootless"]) == ("podman", True)
    assert dead.returncode == 125 and "server.unreachable" in dead.stdout
