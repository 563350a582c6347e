"""The no-echo prompt for a missing required secret, through a real pseudo-terminal: the real
``flwd`` process, ``getpass`` and terminal modes, no fakes (``:plan`` needs no runtime)."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_job

FLWD = str(Path(sys.executable).parent / "flwd")
JOB = """\
id: deploy
executor: container
image: alpine:3.20
script: main.sh
args:
  - {name: api_token, type: string, format: secret, required: true, pattern: "tok-[0-9a-f]{8}"}
"""
PROMPT = b"api_token (secret, not echoed): "


def _read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float = 30) -> bool:
    """Read the terminal into *seen* until *wanted* shows (True) or it closes (False)."""
    deadline = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other end closed
            return wanted in seen
        if not chunk:
            return wanted in seen
        seen.extend(chunk)
    return wanted in seen


def _plan_on_a_terminal(tmp_path: Path, typed: str) -> tuple[int, bytes, str]:
    """`flwd :plan deploy --json` with its terminal a pty and its stdout a file; *typed* is
    entered at the prompt. Returns its status, what the terminal showed, and its stdout."""
    jobs = tmp_path / "jobs"
    jobs.mkdir(exist_ok=True)
    write_job(jobs, "deploy", JOB, "true\n")
    out_path = tmp_path / "stdout"
    env = {"FLWD_JOBS_DIR": str(jobs), "FLWD_DATA_DIR": str(tmp_path / "data"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty, its stdout the file
        try:
            os.dup2(out_fd, 1)
            os.execve(FLWD, [FLWD, ":plan", "deploy", "--json"], env)
        finally:
            os._exit(127)
    os.close(out_fd)
    seen = bytearray()
    try:
        assert _read_until(fd, PROMPT, seen), bytes(seen)
        os.write(fd, typed.encode() + b"\r")
        _read_until(fd, b"\0never", seen)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(seen), out_path.read_text()


def test_prompt_takes_the_value_without_echo_when_a_required_secret_is_left_out(tmp_path: Path) -> None:
    code, terminal, stdout = _plan_on_a_terminal(tmp_path, "tok-0badc0de")

    assert code == 0, terminal
    assert b"tok-0badc0de" not in terminal and "tok-0badc0de" not in stdout
    assert json.loads(stdout)["args"]["api_token"] == "<secret>"
    assert PROMPT.decode() not in stdout  # the prompt is on the terminal, not on stdout


def test_prompted_value_is_validated_like_a_given_one_when_it_breaks_the_pattern(tmp_path: Path) -> None:
    code, terminal, stdout = _plan_on_a_terminal(tmp_path, "not-a-token")

    assert code == 2 and stdout == ""
    assert b"--api_token: pattern" in terminal and b"not-a-token" not in terminal


@pytest.fixture(autouse=True)
def _needs_the_console_script() -> None:
    if not os.access(FLWD, os.X_OK):
        pytest.skip(f"no flwd console script at {FLWD}")
