"""``flwd :serve``: refusals with their exit codes, and a real start/stop without runtime
(its arguments: test_cli_serve_args.py)."""

from __future__ import annotations

import io as stdio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from tests.unit.http_support import write_jobs


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(argv, Io(out=out, err=err), env)
    return code, out.getvalue(), err.getvalue()


def test_serve_refuses_with_exit_2_when_no_token_configured(tmp_path: Path) -> None:
    code, _, err = run_cli(["--data-dir", str(tmp_path), ":serve", "--no-runtime"], {})

    assert code == 2
    assert err.startswith("error[config.invalid]: no API token is configured")


def test_serve_refuses_with_exit_2_when_dev_binds_beyond_loopback(tmp_path: Path) -> None:
    code, _, err = run_cli(["--data-dir", str(tmp_path), ":serve", "--dev", "--bind", "0.0.0.0:8080"], {})

    assert code == 2 and "loopback" in err and err.startswith("error[config.invalid]")


def test_serve_refuses_with_exit_125_when_runtime_unreachable(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "HOME": str(tmp_path)}

    code, _, err = run_cli(["--runtime", "docker", "--data-dir", str(tmp_path), ":serve", "--dev"], env)

    assert code == 125
    assert err.startswith("error[container.runtime.unavailable]")


def test_serve_help_prints_usage_and_exits_0() -> None:
    code, out, _ = run_cli([":serve", "--help"], {})

    assert code == 0 and out.startswith("Usage: flwd :serve")


def test_serve_without_runtime_serves_plans_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs")
    command = [str(Path(sys.executable).parent / "flwd")]
    argv = ["--jobs-dir", str(jobs), "--data-dir", str(tmp_path / "data"), ":serve", "--dev",
            "--no-runtime", "--bind", "127.0.0.1:0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(command + argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert line.startswith("flwd: serving on http://127.0.0.1:"), line
        base = line.split()[-1]
        plan = httpx.post(f"{base}/plans", json={"job": "hello", "args": {"name": "A"}},
                          headers={"Authorization": "Bearer dev-token"})
        run = httpx.post(f"{base}/runs", json={"job": "hello", "args": {"name": "A"}},
                         headers={"Authorization": "Bearer dev-token"})
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)

    assert plan.status_code == 200 and plan.json()["job_id"] == "hello"
    assert run.status_code == 422 and run.json()["code"] == "container.runtime.unavailable"
    assert code == 0


def test_serve_refuses_with_one_coded_line_and_exit_2_when_the_port_is_taken(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    command = [str(Path(sys.executable).parent / "flwd"), "--data-dir", str(tmp_path), ":serve",
               "--dev", "--no-runtime", "--bind", f"127.0.0.1:{port}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    finally:
        taken.close()

    assert done.returncode == 2
    assert done.stderr == (f"error[config.invalid]: cannot serve on 127.0.0.1:{port}: "
                           "address already in use\n")


def test_serve_refuses_with_exit_2_when_data_dir_cannot_hold_the_run_store(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")

    command = [str(Path(sys.executable).parent / "flwd"), "--data-dir", str(blocker), ":serve",
               "--dev", "--no-runtime", "--bind", "127.0.0.1:0"]

    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    assert done.returncode == 2
    assert done.stderr.startswith(f"error[config.invalid]: data_dir {blocker} cannot hold the run store")
