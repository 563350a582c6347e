"""The CLI's remote mode against a real (in-thread) server with the fake runtime: same output
and exit codes as the local mode."""

from __future__ import annotations

import io as stdio
import json
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from flwd.entrypoints.cli.main import main
from flwd.entrypoints.cli.render import Io
from flwd.entrypoints.container import Container
from tests.unit.http_support import (
    ADMIN,
    auth,
    close,
    fake_runtime,
    make_app,
    make_container,
    served,
)

HELLO = {"job": "hello", "args": {"name": "Alice"}}


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[str]:
    container = make_container(tmp_path, fake_runtime(run_seconds=30))
    with served(make_app(container)) as base:
        yield base
    close(container)


def _remote(base: str, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(["--server", base, "--token", ADMIN, *argv], Io(out=out, err=err),
                {"HOME": "/nonexistent"})
    return code, out.getvalue(), err.getvalue()


def _wait_running(base: str, run_id: str) -> None:
    deadline = time.monotonic() + 10
    while httpx.get(f"{base}/runs/{run_id}", headers=auth()).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_logs_without_follow_prints_output_so_far_and_returns_when_run_is_active(
        slow_server: str) -> None:
    run_id = httpx.post(f"{slow_server}/runs", json=HELLO, headers=auth()).json()["run_id"]
    _wait_running(slow_server, run_id)
    started = time.monotonic()

    code, out, _ = _remote(slow_server, ":logs", run_id)

    assert code == 0 and out == "hello Alice\n"
    assert time.monotonic() - started < 5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Container]]:
    container = make_container(tmp_path, fake_runtime())
    with served(make_app(container)) as base:
        yield base, container
    close(container)


def _local(container: Container, *argv: str) -> tuple[int, str, str]:
    out, err = stdio.StringIO(), stdio.StringIO()
    code = main(list(argv), Io(out=out, err=err), {"HOME": "/nonexistent"}, container=container)
    return code, out.getvalue(), err.getvalue()


def _types(ndjson: str) -> list[str]:
    return [json.loads(line)["type"] for line in ndjson.splitlines()]


def test_json_run_denied_by_policy_prints_its_events_as_locally(
        server: tuple[str, Container]) -> None:
    base, container = server

    local = _local(container, "netty", "--json")
    remote = _remote(base, "netty", "--json")

    assert remote[0] == local[0] == 125 and remote[2] == local[2]
    assert _types(remote[1]) == _types(local[1]) and _types(local[1])[-1] == "run.finished"


def test_remote_plan_prints_the_spec_warnings_as_locally(slow_server: str, tmp_path: Path) -> None:
    typo = tmp_path / "jobs" / "typo"
    typo.mkdir()
    (typo / "job.yaml").write_text("executor: container\nimage: alpine:3.20\ntimout: 10m\n")

    code, out, err = _remote(slow_server, ":plan", "typo", "--json")

    assert code == 0 and json.loads(out)["job_id"] == "typo"
    assert ("warning[spec.key.unknown]: job typo: unknown key 'timout' ignored; "
            "did you mean 'timeout'?") in err.splitlines()
