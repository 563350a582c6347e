"""The API of a cluster-mode replica (``POST /runs`` enqueues, cancel of a queued run), on the
container with the queue replaced by the fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.adapters.fakes import FakeRunQueue
from flwd.ports.kinds import DispatchKind
from tests.unit.http_support import auth, close, fake_runtime, make_app, make_container

RUN = {"job": "hello", "args": {"name": "A"}}


@pytest.fixture
def queue() -> FakeRunQueue:
    return FakeRunQueue()


@pytest.fixture
def runtime() -> FakeRuntime:
    return fake_runtime()


@pytest.fixture
def client(tmp_path: Path, runtime: FakeRuntime, queue: FakeRunQueue) -> Iterator[TestClient[Any]]:
    """As a replica builds it: runs go to the queue, no runtime in /healthz."""
    container = make_container(tmp_path, runtime, dispatch=DispatchKind.QUEUE)
    container.run_queue.override(providers.Object(queue))
    with TestClient(make_app(container, runtime_enabled=False)) as client:
        yield client
    close(container)


def test_a_run_is_enqueued_and_answered_202_queued_without_touching_a_runtime(
        client: TestClient[Any], queue: FakeRunQueue, runtime: FakeRuntime) -> None:
    response = client.post("/runs", json=RUN, headers=auth())

    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert queue.messages == {"default": [(response.json()["run_id"], None)]}
    assert runtime.created == []


def test_a_run_is_503_queue_unavailable_and_recorded_ended_when_the_broker_does_not_answer(
        client: TestClient[Any], queue: FakeRunQueue) -> None:
    queue.unavailable = True

    response = client.post("/runs", json=RUN, headers=auth())

    assert response.status_code == 503 and response.json()["code"] == "queue.unavailable"
    run = client.get(f"/runs/{response.json()['run_id']}", headers=auth()).json()
    assert (run["status"], run["code"]) == ("error", "queue.unavailable")


def test_a_queued_run_is_canceled_at_once_when_canceled_through_the_api(
        client: TestClient[Any]) -> None:
    run_id = client.post("/runs", json=RUN, headers=auth()).json()["run_id"]

    response = client.post(f"/runs/{run_id}:cancel", headers=auth())
    again = client.post(f"/runs/{run_id}:cancel", headers=auth())

    assert response.status_code == 202 and response.json()["status"] == "canceled"
    assert again.status_code == 409 and again.json()["code"] == "run.not.active"
