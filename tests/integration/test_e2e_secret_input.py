"""SPEC section 3 on the CLI: a secret given as ``@FILE`` or ``-`` (a pipe) never shows in any
process's command line while the run goes on, and still reaches the job as /run/secrets/NAME.

A literal ``--api-token VALUE`` is run the same way as a control: the sampling does see it, so
the other cases' empty findings mean something."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Runtime,
    Sandbox,
    parse_facts,
    rt,
    sandbox,
)
from tests.integration.test_e2e_secrets import SECRET_JOB  # a required secret api_token

MARKER = "2.345"  # the job's sleep: seeing `sleep 2.345` in a sample proves it ran meanwhile
PROBE = f"""
echo "sha=$(sha256sum < /run/secrets/api_token | cut -d' ' -f1)"
echo "size=$(wc -c < /run/secrets/api_token)"
sleep {MARKER}
"""


def _command_lines() -> list[str]:
    """Every process's command line, from /proc and from `ps -eo args`."""
    lines = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                lines.append(Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                             .decode(errors="replace"))
            except OSError:
                continue  # gone meanwhile
    done = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, timeout=30)
    return lines + done.stdout.splitlines()


def _run_sampling(sandbox: Sandbox, args: list[str], stdin: bytes | None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `flwd ARGS` (with *stdin* piped in, if given) and sample every command line until
    it ends; returns its result and the sampled lines."""
    process = subprocess.Popen(sandbox.argv(args), cwd=sandbox.base, env=sandbox.env(),
                               stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    seen: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None and time.monotonic() < deadline:
            seen.extend(_command_lines())
            time.sleep(0.05)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()  # a few lines: the pipes never fill
    result = subprocess.CompletedProcess(process.args, process.returncode, out.decode(), err.decode())
    return result, seen


def _prompted_sampling(sandbox: Sandbox, args: list[str], typed: bytes,
                       out_path: Path) -> tuple[int, bytes, list[str]]:
    """Run `flwd ARGS` on a pseudo-terminal (stdout to *out_path*), type *typed* at its
    prompt, and sample every command line until it ends; returns its exit status, what the
    terminal showed and the sampled lines."""
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    argv, env = sandbox.argv(args), sandbox.env()
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty, its stdout the file
        try:
            os.chdir(sandbox.base)
            os.dup2(out_fd, 1)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(out_fd)
    terminal, seen, status, typed_yet = bytearray(), [], None, False
    deadline = time.monotonic() + 120
    try:
        while status is None and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    terminal.extend(os.read(fd, 4096))
                except OSError:  # EIO: the child closed its terminal
                    pass
            if not typed_yet and b"(secret, not echoed): " in terminal:
                os.write(fd, typed + b"\r")
                typed_yet = True
            seen.extend(_command_lines())
            done, code = os.waitpid(pid, os.WNOHANG)
            status = os.waitstatus_to_exitcode(code) if done else None
    finally:
        if status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None, f"flwd did not end; the terminal showed {bytes(terminal)!r}"
    return status, bytes(terminal), seen


def test_prompted_secret_is_not_echoed_nor_in_any_command_line_but_reaches_the_job_when_left_out(
        sandbox: Sandbox, tmp_path: Path) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    job = sandbox.write_job("secret-input", SECRET_JOB, {"main.sh": PROBE})

    code, terminal, seen = _prompted_sampling(sandbox, [job], secret.encode(), tmp_path / "out")

    stdout = (tmp_path / "out").read_text()
    assert code == 0, terminal + stdout.encode()
    assert parse_facts(stdout)["sha"] == [hashlib.sha256(secret.encode()).hexdigest()]
    assert b"api_token (secret, not echoed): " in terminal and secret.encode() not in terminal
    assert any(f"sleep {MARKER}" in line for line in seen), "no sample while the job ran"
    assert not [line for line in seen if secret in line]


@pytest.mark.parametrize("how", ["literal", "file", "stdin"])
def test_secret_is_in_no_command_line_but_reaches_the_job_when_given_off_the_command_line(
        sandbox: Sandbox, tmp_path: Path, how: str) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    job = sandbox.write_job("secret-input", SECRET_JOB, {"main.sh": PROBE})
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    given = {"literal": secret, "file": f"@{token_file}", "stdin": "-"}[how]

    result, seen = _run_sampling(sandbox, [job, "--api-token", given],
                                 stdin=f"{secret}\n".encode() if how == "stdin" else None)

    assert result.returncode == 0, result.stdout + result.stderr
    facts = parse_facts(result.stdout)
    assert facts["sha"] == [hashlib.sha256(secret.encode()).hexdigest()]  # no final newline
    assert facts["size"] == [str(len(secret))]
    assert any(f"sleep {MARKER}" in line for line in seen), "no sample while the job ran"
    shown = [line for line in seen if secret in line]
    assert bool(shown) == (how == "literal"), shown[:3]
    assert secret not in result.stdout + result.stderr
