"""A real `flwd :serve --dev` on rootless Podman, driven over HTTP like any client would."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.integration.api_support import (
    DEV,
    SLEEP_JOB,
    podman_containers,
    Server,
    dev_server_on_podman,
    remove_tree,
    shared_dir,
    sse,
    start_server,
    write_job,
)

pytestmark = pytest.mark.podman
GREETING = "Hello Alice from inside a container!"


@pytest.fixture(scope="module")
def server(podman_socket: str) -> Iterator[Server]:
    with dev_server_on_podman(podman_socket, "api-", "reader-token=jobs:read,runs:read") as server:
        yield server


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def wait_status(http: httpx.Client, run_id: str, wanted: set[str], timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = http.get(f"/runs/{run_id}").json()
        if run["status"] in wanted:
            return run
        assert time.monotonic() < deadline, f"run stayed {run['status']}"
        time.sleep(0.1)


def test_healthz_names_rootless_podman(server: Server) -> None:
    body = httpx.get(f"{server.url}/healthz").json()

    assert body["status"] == "ok"
    assert body["runtime"]["name"] == "podman" and body["runtime"]["rootless"] is True


def test_demo_run_streams_greeting_and_resumes_after_last_event_id(http: httpx.Client) -> None:
    response = http.post("/runs", json={"job": "demo-container", "args": {"name": "Alice"}})
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert response.headers["location"] == f"/runs/{run_id}"

    events = list(sse(http, run_id))
    resumed = list(sse(http, run_id, headers={"Last-Event-ID": str(events[2]["id"])}))

    lines = [e["data"]["data"].get("line") for e in events if e["event"] == "run.output"]
    assert GREETING in lines
    assert events[-1]["event"] == "run.finished"
    assert events[-1]["data"]["data"]["status"] == "succeeded"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert resumed == events[3:]
    assert http.get(f"/runs/{run_id}").json()["exit_code"] == 0


def test_cancel_stops_sleeping_job_and_removes_its_container(http: httpx.Client, podman_socket: str) -> None:
    run_id = http.post("/runs", json={"job": "sleep", "args": {}}).json()["run_id"]
    wait_status(http, run_id, {"running"})

    canceled = http.post(f"/runs/{run_id}:cancel")
    final = wait_status(http, run_id, {"canceled", "failed", "succeeded", "error"})
    again = http.post(f"/runs/{run_id}:cancel")

    assert canceled.status_code == 202
    assert final["status"] == "canceled"
    assert again.status_code == 409 and again.json()["code"] == "run.not.active"
    assert podman_containers(podman_socket, run_id) == []


def test_idempotency_key_returns_same_run_and_conflicts_on_other_body(http: httpx.Client) -> None:
    key = {"Idempotency-Key": f"it-{time.time_ns()}"}
    body = {"job": "demo-container", "args": {"name": "Alice"}}

    first = http.post("/runs", json=body, headers=key)
    second = http.post("/runs", json=body, headers=key)
    other = http.post("/runs", json={"job_id": "demo-container", "args": {"name": "Bob"}}, headers=key)

    assert first.json()["run_id"] == second.json()["run_id"]
    assert other.status_code == 409 and other.json()["code"] == "idempotency.conflict"
    wait_status(http, first.json()["run_id"], {"succeeded"})


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("GET", "/jobs", {"headers": {"Authorization": "Bearer wrong"}}, 401, "auth.unauthenticated"),
    ("POST", "/runs", {"headers": {"Authorization": "Bearer reader-token"},
                       "json": {"job": "demo-container", "args": {"name": "A"}}}, 403, "auth.forbidden"),
    ("GET", "/jobs/no/such/job", {}, 404, "job.not.found"),
    ("GET", "/runs/no-such-run", {}, 404, "run.not.found"),
    ("POST", "/runs", {"content": b"{broken"}, 400, "request.invalid"),
    ("POST", "/runs", {"content": b'{"job": "demo-container", "args": {"name": "'
                       + b"x" * (2 << 20) + b'"}}'}, 413, "request.too.large"),
    ("POST", "/runs", {"json": {"job": "demo-container", "args": {"name": 7}}}, 422, "args.invalid"),
])
def test_errors_are_problem_documents_with_stable_codes(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = http.request(method, path, **kwargs)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert response.json()["type"] == f"urn:flwd:error:{code}"


def test_metrics_are_open_on_loopback_and_openapi_needs_a_token(server: Server) -> None:
    metrics = httpx.get(f"{server.url}/metrics")
    anonymous = httpx.get(f"{server.url}/schema/openapi.json")
    schema = httpx.get(f"{server.url}/schema/openapi.json", headers=DEV)

    assert metrics.status_code == 200 and "flwd_runs{" in metrics.text
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "auth.unauthenticated"
    assert "/runs/{run_id}:cancel" in schema.json()["paths"]



def test_sigterm_cancels_active_runs_and_exits_0(podman_socket: str) -> None:
    base = shared_dir("api-term-")
    write_job(base / "jobs", "sleep", SLEEP_JOB)
    for name in ("data", "home"):
        (base / name).mkdir(mode=0o755)
    server = start_server(base, ["--dev"], {"CONTAINER_HOST": podman_socket},
                          global_args=["--runtime", "podman"])
    try:
        with server.client() as http:
            run_id = http.post("/runs", json={"job": "sleep"}).json()["run_id"]
            wait_status(http, run_id, {"running"})
            stream = sse(http, run_id)
            next(stream)

            code = server.stop()
            rest = list(stream)

        assert code == 0, server.log.read_text(errors="replace")
        assert rest[-1]["event"] == "run.finished"
        assert rest[-1]["data"]["data"]["status"] == "canceled"
        assert podman_containers(podman_socket, run_id) == []
    finally:
        server.stop()
        remove_tree(base)
