"""``POST /runs`` on a plan-only server (``:serve --no-runtime``): the request is validated
first, as in every mode (SPEC section 2); only a valid, allowed run meets the missing runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from litestar.testing import TestClient

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.ports.kinds import DispatchKind
from tests.unit.http_support import auth, close, fake_runtime, make_app, make_container

PROBLEM = "application/problem+json"


@pytest.fixture
def runtime() -> FakeRuntime:
    return fake_runtime()


@pytest.fixture
def client(tmp_path: Path, runtime: FakeRuntime) -> Iterator[TestClient[Any]]:
    """As ``flwd :serve --no-runtime`` builds it: no dispatcher, no runtime in /healthz."""
    container = make_container(tmp_path, runtime, dispatch=DispatchKind.NONE)
    with TestClient(make_app(container, runtime_enabled=False)) as client:
        yield client
    close(container)


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.headers["content-type"].split(";")[0]) == (
        status, PROBLEM), response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _runs(client: TestClient[Any]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = client.get("/runs", headers=auth()).json()["runs"]
    return runs


@pytest.mark.parametrize("job", ["nope", "../../etc/passwd", "hello/../../../etc/passwd"])
def test_run_is_404_job_not_found_when_the_job_is_unknown_on_a_plan_only_server(
        client: TestClient[Any], job: str) -> None:
    response = client.post("/runs", json={"job": job, "args": {}}, headers=auth())

    _problem(response, 404, "job.not.found")
    assert _runs(client) == []


def test_run_is_422_args_invalid_listing_every_problem_when_arguments_are_bad_on_a_plan_only_server(
        client: TestClient[Any]) -> None:
    response = client.post("/runs", json={"job": "hello", "args": {"level": 9, "nmae": "A"}},
                           headers=auth())

    body = _problem(response, 422, "args.invalid")
    assert {(e["arg"], e["code"]) for e in body["errors"]} == {
        ("name", "required"), ("level", "range"), ("nmae", "unknown")}
    assert _runs(client) == []


def test_run_is_422_spec_invalid_when_the_spec_is_broken_on_a_plan_only_server(
        client: TestClient[Any]) -> None:
    _problem(client.post("/runs", json={"job": "broken", "args": {}}, headers=auth()),
             422, "spec.invalid")


def test_run_is_the_policy_denial_not_the_missing_runtime_when_the_plan_is_denied(
        client: TestClient[Any]) -> None:
    body = _problem(client.post("/runs", json={"job": "netty", "args": {}}, headers=auth()),
                    422, "policy.override.denied")

    assert client.get(f"/runs/{body['run_id']}", headers=auth()).json()["code"] == (
        "policy.override.denied")


def test_a_valid_run_is_recorded_then_ended_error_runtime_unavailable_on_a_plan_only_server(
        client: TestClient[Any], runtime: FakeRuntime) -> None:
    response = client.post("/runs", json={"job": "hello", "args": {"name": "A"}}, headers=auth())

    body = _problem(response, 422, "container.runtime.unavailable")
    assert "--no-runtime" in body["detail"]
    run = client.get(f"/runs/{body['run_id']}", headers=auth()).json()
    assert (run["status"], run["code"], run["started_at"]) == (
        "error", "container.runtime.unavailable", None)
    assert run["finished_at"] is not None
    events = client.get(f"/runs/{body['run_id']}/events?follow=false", headers=auth()).text
    types = [line.split(": ", 1)[1] for line in events.splitlines() if line.startswith("event:")]
    assert types[0] == "run.created" and types[-1] == "run.finished"
    assert set(types[1:-1]) <= {"policy.decision"}
    assert runtime.created == [] and runtime.pulled == []


def test_a_retry_with_the_same_idempotency_key_gets_the_same_refusal_on_a_plan_only_server(
        client: TestClient[Any]) -> None:
    request = {"job": "hello", "args": {"name": "A"}}
    headers = {**auth(), "Idempotency-Key": "k-1"}

    first = _problem(client.post("/runs", json=request, headers=headers),
                     422, "container.runtime.unavailable")
    again = _problem(client.post("/runs", json=request, headers=headers),
                     422, "container.runtime.unavailable")

    assert again["run_id"] == first["run_id"]
    assert [r["run_id"] for r in _runs(client)] == [first["run_id"]]


def test_plans_still_work_on_a_plan_only_server(client: TestClient[Any]) -> None:
    response = client.post("/plans", json={"job": "hello", "args": {"name": "A"}}, headers=auth())

    assert response.status_code == 200 and response.json()["allowed"] is True
