"""A run whose flwd died (a foreground CLI killed with SIGKILL, a server killed while its run's
container exited) is found by the next flwd that reads the store: it ends with the job's real
exit code and output, and its container and secrets directory go (issue 10, items 4 and 6)."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import httpx

from tests.integration.api_support import start_server
from tests.integration.e2e_support import (  # noqa: F401 - fixtures
    Runtime,
    Sandbox,
    rt,
    sandbox,
    secrets_dir,
)

JOB = ("executor: container\nimage: alpine:3.20\nscript: main.sh\n"
       "args: [{name: api_token, type: string, format: secret, required: true}]\n")
SCRIPT = "echo started\necho \"token $(cat /run/secrets/api_token)\" >&2\nsleep {sleep}\necho last\nexit {code}\n"
FINISHED = {"succeeded", "failed", "canceled", "timed_out", "error"}


def _killed_mid_run(sandbox: Sandbox, job: str) -> str:
    """Start `flwd JOB` with a secret, SIGKILL it once the job is running; its run id."""
    running = sandbox.start(job, "--api-token", "t0ken-value", "--json")
    try:
        run_id = str(running.read_until("run.started")["run_id"])
        running.read_until("run.output")
    finally:
        running.kill()
    return run_id


def _container_exited(rt: Runtime, run_id: str) -> None:
    done = rt.cli("wait", f"flwd-{run_id}", timeout=60)
    assert done.returncode == 0, done.stderr


def _run(sandbox: Sandbox, run_id: str) -> dict[str, Any]:
    return next(r for r in sandbox.runs() if r["run_id"] == run_id)


def _output(sandbox: Sandbox, run_id: str) -> list[tuple[str, str]]:
    logs = sandbox.flwd(":logs", run_id)
    assert logs.code == 0, logs.describe()
    return [("stdout", line) for line in logs.out.splitlines()] + [
        ("stderr", line) for line in logs.err.splitlines() if not line.startswith("warning[")]


def test_runs_ends_a_killed_clis_run_with_its_real_exit_code_once_its_container_exited(
        rt: Runtime, sandbox: Sandbox) -> None:
    job = sandbox.write_job("orphan-exited", JOB, {"main.sh": SCRIPT.format(sleep=2, code=3)})
    run_id = _killed_mid_run(sandbox, job)
    left_running = (rt.containers(run_id), secrets_dir(run_id).is_dir())
    _container_exited(rt, run_id)

    run = _run(sandbox, run_id)

    assert left_running == ([f"flwd-{run_id}"], True)  # what SIGKILL leaves behind
    assert (run["status"], run["exit_code"], run["code"]) == ("failed", 3, None), run
    assert rt.containers(run_id) == [] and not secrets_dir(run_id).exists()
    assert _output(sandbox, run_id) == [("stdout", "started"), ("stdout", "last"),
                                        ("stderr", "token ***")]


def test_a_killed_clis_still_running_run_is_followed_to_its_end_after_any_command(
        rt: Runtime, sandbox: Sandbox) -> None:
    job = sandbox.write_job("orphan-running", JOB, {"main.sh": SCRIPT.format(sleep=4, code=0)})
    run_id = _killed_mid_run(sandbox, job)

    first = _run(sandbox, run_id)  # hands the run to a detached adopter
    deadline = time.monotonic() + 60
    run = first
    while run["status"] not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.5)
        run = _run(sandbox, run_id)

    assert first["status"] == "running" and "orphaned" not in first, first
    assert (run["status"], run["exit_code"]) == ("succeeded", 0), run
    assert rt.containers(run_id) == [] and not secrets_dir(run_id).exists()
    assert _output(sandbox, run_id) == [("stdout", "started"), ("stdout", "last"),
                                        ("stderr", "token ***")]


def test_restarted_server_ends_a_run_whose_container_exited_meanwhile_as_it_ended(
        rt: Runtime, sandbox: Sandbox) -> None:
    sandbox.write_job("server-exited", JOB, {"main.sh": SCRIPT.format(sleep=2, code=4)})
    env, runtime = rt.env, ["--runtime", rt.name]
    first = start_server(sandbox.base, ["--dev"], env, global_args=runtime)
    with first.client() as client:
        run_id = client.post("/runs", json={"job": "server-exited",
                                            "args": {"api_token": "t0ken-value"}}).json()["run_id"]
        sandbox.run_ids.add(run_id)
        _wait(client, run_id, lambda run: bool(_lines(client, run_id)))
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    _container_exited(rt, run_id)

    second = start_server(sandbox.base, ["--dev"], env, global_args=runtime)
    try:
        with second.client() as client:
            run = _wait(client, run_id, lambda run: run["status"] in FINISHED)
            lines = _lines(client, run_id)
    finally:
        second.stop()

    assert (run["status"], run["exit_code"], run["code"]) == ("failed", 4, None), run
    assert [line for stream, line in lines if stream == "stdout"] == ["started", "last"]
    assert [line for stream, line in lines if stream == "stderr"] == ["token ***"]
    assert rt.containers(run_id) == [] and not secrets_dir(run_id).exists()


def test_a_running_server_adopts_a_killed_clis_run_on_its_data_dir(
        rt: Runtime, sandbox: Sandbox) -> None:
    job = sandbox.write_job("server-adopts", JOB, {"main.sh": SCRIPT.format(sleep=3, code=5)})
    server = start_server(sandbox.base, ["--dev"], rt.env, global_args=["--runtime", rt.name])
    try:
        run_id = _killed_mid_run(sandbox, job)
        with server.client() as client:
            run = _wait(client, run_id, lambda run: run["status"] in FINISHED)
            lines = _lines(client, run_id)
    finally:
        server.stop()

    assert (run["status"], run["exit_code"]) == ("failed", 5), run
    assert [line for stream, line in lines if stream == "stdout"] == ["started", "last"]
    assert rt.containers(run_id) == [] and not secrets_dir(run_id).exists()


def _wait(client: httpx.Client, run_id: str, done: Any, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if done(run) or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def _lines(client: httpx.Client, run_id: str) -> list[tuple[str, str]]:
    """The run's recorded output lines, in the order stored."""
    response = client.get(f"/runs/{run_id}/events", params={"follow": "false"})
    events = [json.loads(line[5:]) for line in response.text.splitlines()
              if line.startswith("data:")]
    return [(e["data"]["stream"], e["data"]["line"]) for e in events if e["type"] == "run.output"]
