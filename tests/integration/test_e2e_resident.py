"""A resident local flwd: `flwd :serve --local` listens on a 0600 unix socket in the data
directory, and `flwd JOB` with the same data directory hands its run to it: same output and
exit code, the run recorded (and owned) by the server, Ctrl-C cancels through the API."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    EXAMPLES,
    Running,
    Runtime,
    Sandbox,
    rt,
    sandbox,
    secrets_dir,
)

SLEEPER = """\
    executor: container
    image: alpine:3.20
    script: main.sh
    """


VAULT = """\
    executor: container
    image: alpine:3.20
    script: main.sh
    args:
      - {name: token, type: string, secret: true, required: true}
    """


@dataclass(frozen=True, slots=True)
class Resident:
    process: subprocess.Popen[str]
    socket_path: Path

    @property
    def owner(self) -> str:
        return f"{os.uname().nodename}:{self.process.pid}"


@pytest.fixture(scope="module")
def resident(sandbox: Sandbox) -> Iterator[Resident]:
    shutil.copytree(EXAMPLES / "demo-container", sandbox.jobs / "demo-container")
    sandbox.write_job("sleeper", SLEEPER, {"main.sh": "echo started\nsleep 60\n"})
    sandbox.write_job("stubborn", SLEEPER, {"main.sh": "trap '' TERM\necho started\nsleep 60\n"})
    sandbox.write_job("vault", VAULT, {"main.sh": 'echo "token of $(wc -c < /run/secrets/token) bytes"\n'})
    with _serving(sandbox) as server:
        yield server


@contextlib.contextmanager
def _serving(sandbox: Sandbox, jobs_dir: Path | None = None,
             env: dict[str, str] | None = None) -> Iterator[Resident]:
    """A `flwd :serve --local` for *jobs_dir* (its own socket: another fingerprint); at its
    end (SIGTERM unless the test killed it), no stack trace on its stderr."""
    process = subprocess.Popen(sandbox.argv([":serve", "--local"], jobs_dir),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               cwd=sandbox.base, env=sandbox.env(env))
    assert process.stderr is not None
    line = process.stderr.readline()  # blocks until the server is up (or has failed)
    try:
        assert "serving local runs on unix:" in line, line + process.stderr.read()
        yield Resident(process, Path(line.split("unix:", 1)[1].strip()))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert "Traceback" not in process.stderr.read()


def _owner(sandbox: Sandbox, run_id: str) -> str:
    with sqlite3.connect(sandbox.data / "flwd.db") as db:
        row = db.execute("SELECT owner FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return str(row[0])


def test_socket_is_owner_only_when_server_listens(resident: Resident) -> None:
    info = resident.socket_path.lstat()

    assert info.st_mode & 0o777 == 0o600
    assert info.st_uid == os.getuid()
    assert resident.socket_path.parent == resident.socket_path.parent.resolve()


def test_run_is_handed_to_server_when_resident_answers(resident: Resident,
                                                       sandbox: Sandbox) -> None:
    result = sandbox.flwd("demo-container", "--name", "Alice")
    run = sandbox.only_run("demo-container")

    assert result.code == 0, result.describe()
    assert result.out == "Hello Alice from inside a container!\n"
    assert run["status"] == "succeeded"
    assert _owner(sandbox, run["run_id"]) == resident.owner


def test_json_events_match_when_run_through_resident(resident: Resident,
                                                     sandbox: Sandbox) -> None:
    result = sandbox.flwd("demo-container", "--name", "Bob", "--json")
    events = result.events()

    assert result.code == 0, result.describe()
    assert events[-1]["type"] == "run.finished"
    assert [e["data"]["line"] for e in events if e["type"] == "run.output"] == [
        "Hello Bob from inside a container!"]
    assert _owner(sandbox, events[0]["run_id"]) == resident.owner


def test_ctrl_c_cancels_run_on_server_when_run_through_resident(resident: Resident,
                                                               sandbox: Sandbox) -> None:
    running = sandbox.start("sleeper", "--json")
    try:
        run_id = running.read_until("run.output")["run_id"]
        running.signal(signal.SIGINT)
        result = running.finish(timeout=60)
    finally:
        running.kill()

    assert result.code == 130, result.describe()
    assert result.events()[-1]["data"]["status"] == "canceled"
    assert _owner(sandbox, run_id) == resident.owner


def test_handed_off_client_imports_neither_sdk_nor_model_when_resident_answers(
        resident: Resident, sandbox: Sandbox) -> None:
    """The client side of a hand-off (cli.handoff): the command line goes over the second
    socket, and the process never loads a runtime SDK, the domain model or an HTTP client."""
    done = subprocess.run([sys.executable, "-X", "importtime",
                           *sandbox.argv(["demo-container", "--name", "Dora"])],
                          capture_output=True, text=True, timeout=60, cwd=sandbox.base,
                          env=sandbox.env())
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello Dora from inside a container!\n"
    assert "flwd.entrypoints.cli.handoff" in imported
    assert not imported & {"docker", "podman", "flwd.domain.model", "http.client", "yaml"}
    assert resident.socket_path.with_name(
        resident.socket_path.name.replace(".sock", ".run.sock")).lstat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_secret_read_by_the_client_reaches_the_run_when_resident_answers(
        resident: Resident, sandbox: Sandbox, tmp_path: Path, how: str) -> None:
    """A secret from @FILE or - is the client's to read: the server hands the command back
    and the client runs it through the resident's API, its secret read here."""
    token = tmp_path / "token"
    token.write_text("twelve bytes")
    value = f"@{token}" if how == "file" else "-"
    done = subprocess.run(sandbox.argv(["vault", "--token", value, "--json"]),
                          input="twelve bytes" if how == "stdin" else "", capture_output=True,
                          text=True, timeout=60, cwd=sandbox.base, env=sandbox.env())
    events = [json.loads(line) for line in done.stdout.splitlines()]

    assert done.returncode == 0, done.stderr
    assert [e["data"]["line"] for e in events if e["type"] == "run.output"] == [
        "token of 12 bytes"]
    assert _owner(sandbox, events[0]["run_id"]) == resident.owner
    assert "twelve bytes" not in done.stdout + done.stderr


def test_second_ctrl_c_kills_run_on_server_when_job_ignores_sigterm(resident: Resident,
                                                                    sandbox: Sandbox,
                                                                    rt: Runtime) -> None:
    """The hand-off passes each stop signal on: the first cancels (the job ignores SIGTERM,
    so it would take the server's 10 s grace), the second kills at once, as in-process."""
    running = sandbox.start("stubborn", "--json")
    try:
        run_id = running.read_until("run.output")["run_id"]
        running.signal(signal.SIGINT)
        running.read_until("run.canceled")
        killed_at = running.signal(signal.SIGINT)
        result = running.finish(timeout=60)
        stop_seconds = time.monotonic() - killed_at
    finally:
        running.kill()

    assert result.code == 130, result.describe()
    assert result.events()[-1]["data"]["status"] == "canceled"
    assert "flwd: killing" in result.err
    assert stop_seconds < 8, result.describe()
    assert rt.containers(run_id) == []


def test_run_happens_in_process_when_resident_is_disabled(resident: Resident,
                                                          sandbox: Sandbox) -> None:
    result = sandbox.flwd("demo-container", "--name", "Carol", "--json",
                          env={"FLWD_RESIDENT": "0"})

    assert result.code == 0, result.describe()
    assert _owner(sandbox, result.events()[0]["run_id"]) != resident.owner


def test_run_follows_the_policy_file_as_it_is_now_when_edited_after_the_server_started(
        sandbox: Sandbox) -> None:
    """The server loaded the policy at its start: a tightened (or broken) policy must not be
    bypassed by handing the run to it, neither through the socket nor the client's memo."""
    jobs = sandbox.base / "policy-jobs"
    shutil.copytree(EXAMPLES / "demo-container", jobs / "demo-container")
    policy = sandbox.base / "resident-policy.yaml"
    policy.write_text("allowed_profiles: [secure, permissive]\n")
    env = {"FLWD_POLICY_FILE": str(policy)}
    with _serving(sandbox, jobs, env) as server:
        first = sandbox.flwd("demo-container", "--name", "A", "--profile", "permissive", "--json",
                             env=env, jobs_dir=jobs)
        policy.write_text("allowed_profiles: [secure]\n")
        tightened = sandbox.flwd("demo-container", "--name", "B", "--profile", "permissive",
                                 env=env, jobs_dir=jobs)
        policy.write_text("allowed_profiles: [secure\n")
        broken = sandbox.flwd("demo-container", "--name", "C", env=env, jobs_dir=jobs)

    assert first.code == 0, first.describe()
    assert _owner(sandbox, first.events()[0]["run_id"]) == server.owner  # handed off
    assert tightened.code != 0 and "error[policy.profile.denied]" in tightened.err, \
        tightened.describe()
    assert broken.code != 0 and "error[config.invalid]" in broken.err, broken.describe()


def test_socket_refuses_connection_when_peer_is_another_user(resident: Resident) -> None:
    """The peer uid check (SO_PEERCRED), behind the 0600 mode: with the mode opened up, a
    process of another user gets in, and is hung up on at once."""
    if os.getuid() != 0:
        pytest.skip("needs root to connect as another user")
    resident.socket_path.chmod(0o666)
    try:
        status = _connect_as_nobody(resident.socket_path)
    finally:
        resident.socket_path.chmod(0o600)

    assert status == 0


def _connect_as_nobody(path: Path) -> int:
    """0: the server hung up without answering; else the step that went otherwise."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            os.setuid(65534)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(10)
            client.connect(str(path))
            code = 2
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            code = 0 if client.recv(100) == b"" else 3
        except (ConnectionResetError, BrokenPipeError):  # hung up before or after the send
            code = 0
        except OSError:
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def test_exit_status_is_the_in_process_one_when_stdout_is_a_closed_pipe(
        resident: Resident, sandbox: Sandbox) -> None:
    """`flwd JOB | head -0`: the run is followed to its end either way (its output lost to
    nobody: it is recorded), and the exit status is the run's, handed off or not."""
    codes = {}
    for handed in ("1", "0"):
        reader, writer = os.pipe()
        os.close(reader)
        try:
            done = subprocess.run(sandbox.argv(["demo-container", "--name", "Pipe"]),
                                  stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60,
                                  cwd=sandbox.base, env=sandbox.env({"FLWD_RESIDENT": handed}))
        finally:
            os.close(writer)
        codes[handed] = (done.returncode, done.stderr.count("error["))
    runs = [r for r in sandbox.runs() if r["job_id"] == "demo-container"][:2]

    assert codes == {"1": (0, 0), "0": (0, 0)}
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert {_owner(sandbox, r["run_id"]) == resident.owner for r in runs} == {True, False}


@pytest.fixture
def private_jobs(sandbox: Sandbox) -> Path:
    """A second jobs root: a server for it has its own socket beside the module's."""
    jobs = sandbox.base / "jobs-private"
    (jobs / "napper").mkdir(parents=True, exist_ok=True)
    (jobs / "napper" / "job.yaml").write_text(textwrap.dedent(VAULT))
    (jobs / "napper" / "main.sh").write_text("echo started\nsleep 4\necho woke\n")
    return jobs


def _ended(sandbox: Sandbox, jobs: Path, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """The run once it ended, as `flwd :runs` (which adopts orphans) shows it."""
    deadline = time.monotonic() + timeout
    while True:
        result = sandbox.flwd(":runs", "--json", jobs_dir=jobs)
        run = next(r for r in json.loads(result.out) if r["run_id"] == run_id)
        if run["finished_at"] or time.monotonic() > deadline:
            return dict(run)
        time.sleep(0.5)


def test_run_ends_recorded_and_cleaned_when_its_client_is_killed_mid_run(
        resident: Resident, sandbox: Sandbox, rt: Runtime, private_jobs: Path) -> None:
    with _serving(sandbox, private_jobs):
        running = subprocess.Popen(
            sandbox.argv(["napper", "--token", "t0ken", "--json"], private_jobs),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=sandbox.base,
            env=sandbox.env())
        assert running.stdout is not None
        run_id = json.loads(running.stdout.readline())["run_id"]
        running.kill()  # SIGKILL: its socket closes, nothing passed on
        running.wait(timeout=10)
        run = _ended(sandbox, private_jobs, run_id)

    assert run["status"] == "succeeded"
    assert rt.containers(run_id) == []
    assert not secrets_dir(run_id).exists()


def test_client_reports_coded_error_and_next_cli_reconciles_when_server_is_killed(
        resident: Resident, sandbox: Sandbox, rt: Runtime, private_jobs: Path) -> None:
    with _serving(sandbox, private_jobs) as server:
        running = Running(process=subprocess.Popen(
            sandbox.argv(["napper", "--token", "t0ken", "--json"], private_jobs),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=sandbox.base,
            env=sandbox.env()), sandbox=sandbox, started=time.monotonic())
        run_id = running.read_until("run.output")["run_id"]
        server.process.kill()
        server.process.wait(timeout=10)
        result = running.finish(timeout=30)
    run = _ended(sandbox, private_jobs, run_id)  # in-process: adopts the dead server's run

    assert result.code == 125, result.describe()
    assert "error[server.unreachable]" in result.err
    assert run["status"] == "succeeded"
    assert rt.containers(run_id) == []
    assert not secrets_dir(run_id).exists()
