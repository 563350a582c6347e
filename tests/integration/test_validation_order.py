"""Validation comes before the runtime in every mode (SPEC section 2), with the real binaries:
a plan-only ``flwd :serve --dev --no-runtime`` on loopback, and a real CLI whose named runtime
socket does not answer. Neither needs a runtime: none is reached."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.api_support import (
    FLWD,
    Server,
    remove_tree,
    shared_dir,
    start_server,
    write_job,
)
from tests.job_specs import HELLO, NETTY

DEAD = "unix:///nonexistent.sock"
TRAVERSAL = "../../etc/passwd"


@pytest.fixture
def base() -> Iterator[Path]:
    path = shared_dir("order-")
    write_job(path / "jobs", "hello", HELLO)
    write_job(path / "jobs", "netty", NETTY)
    yield path
    remove_tree(path)


@pytest.fixture
def plan_only(base: Path) -> Iterator[Server]:
    server = start_server(base, ["--dev", "--no-runtime"], {})
    yield server
    assert server.stop() == 0, server.log.read_text()


def _post_run(server: Server, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with server.client() as client:
        response = client.post("/runs", json=body)
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.status_code, response.json()


@pytest.mark.parametrize("job", ["nope", TRAVERSAL])
def test_plan_only_server_answers_404_job_not_found_for_an_unknown_job(
        plan_only: Server, job: str) -> None:
    status, body = _post_run(plan_only, {"job": job, "args": {"name": "A"}})

    assert (status, body["code"]) == (404, "job.not.found"), body


def test_plan_only_server_answers_422_args_invalid_with_every_problem_for_bad_arguments(
        plan_only: Server) -> None:
    status, body = _post_run(plan_only, {"job": "hello", "args": {"level": 0, "bad": 1}})

    assert (status, body["code"]) == (422, "args.invalid"), body
    assert {(e["arg"], e["code"]) for e in body["errors"]} == {
        ("name", "required"), ("level", "range"), ("bad", "unknown")}


def test_plan_only_server_answers_the_policy_denial_before_the_missing_runtime(
        plan_only: Server) -> None:
    status, body = _post_run(plan_only, {"job": "netty", "args": {}})

    assert (status, body["code"]) == (422, "policy.override.denied"), body


def test_plan_only_server_records_a_valid_run_ended_error_and_answers_runtime_unavailable(
        plan_only: Server) -> None:
    status, body = _post_run(plan_only, {"job": "hello", "args": {"name": "A"}})

    assert (status, body["code"]) == (422, "container.runtime.unavailable"), body
    with plan_only.client() as client:
        run = client.get(f"/runs/{body['run_id']}").json()
        events = client.get(f"/runs/{body['run_id']}/events", params={"follow": "false"}).text
    assert (run["status"], run["code"]) == ("error", "container.runtime.unavailable")
    types = [line.removeprefix("event: ") for line in events.splitlines()
             if line.startswith("event: ")]
    assert (types[0], types[-1]) == ("run.created", "run.finished"), events
    assert "run.started" not in types


def _cli(base: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(base / "home"),
           "XDG_RUNTIME_DIR": str(base), "LANG": "C.UTF-8", "CONTAINER_HOST": DEAD}
    return subprocess.run([FLWD, "--jobs-dir", str(base / "jobs"), "--data-dir",
                           str(base / "data"), *argv], capture_output=True, text=True, env=env,
                          cwd=base, timeout=60)


@pytest.mark.parametrize(("argv", "code", "exit_status"), [
    (("nope", "--name", "A"), "job.not.found", 2),
    ((TRAVERSAL, "--name", "A"), "job.not.found", 2),
    (("hello", "--level", "9", "--bad", "x"), "args.invalid", 2),
    (("netty",), "policy.override.denied", 125),
])
def test_cli_reports_its_own_error_before_the_dead_named_socket(
        base: Path, argv: tuple[str, ...], code: str, exit_status: int) -> None:
    done = _cli(base, *argv)

    assert done.returncode == exit_status, done.stderr
    assert done.stderr.startswith(f"error[{code}]: "), done.stderr
    assert "container.runtime.unavailable" not in done.stderr and "Traceback" not in done.stderr


def test_cli_records_a_valid_run_ended_error_when_the_named_socket_is_dead(base: Path) -> None:
    done = _cli(base, "hello", "--name", "A", "--json")

    assert done.returncode == 125, done.stderr
    assert done.stderr.startswith("error[container.runtime.unavailable]: "), done.stderr
    assert f"at {DEAD} (CONTAINER_HOST)" in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["type"] == "run.finished"
    assert events[-1]["data"]["code"] == "container.runtime.unavailable"
    runs = json.loads(_cli(base, ":runs", "--json").stdout)
    assert [(r["status"], r["code"]) for r in runs] == [("error", "container.runtime.unavailable")]
