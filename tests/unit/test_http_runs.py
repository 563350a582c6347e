"""Runs through the API: submit, idempotency, SSE replay/resume/follow, cancel, metrics."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from litestar.testing import TestClient

from flwd.adapters.fake_runtime import FakeRuntime
from flwd.domain.run.execution import QueuedRun
from flwd.domain.plan.use_cases import RunRequest
from flwd.entrypoints.container import Container
from tests.unit.http_support import (
    auth,
    close,
    fake_runtime,
    make_app,
    make_container,
    read_events,
    served,
    sse_messages,
    wait_finished,
    wait_status,
)

HELLO = {"job": "hello", "args": {"name": "Alice"}}


def start(tmp_path: Path, runtime: FakeRuntime, **kw: Any) -> tuple[Container, TestClient[Any]]:
    container = make_container(tmp_path, runtime, **kw)
    return container, TestClient(make_app(container))


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[tuple[Container, TestClient[Any], FakeRuntime]]:
    runtime = fake_runtime()
    container, client = start(tmp_path, runtime)
    with client:
        yield container, client, runtime
    close(container)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Container, TestClient[Any], FakeRuntime]]:
    runtime = fake_runtime(run_seconds=30)
    container, client = start(tmp_path, runtime, max_concurrent=1)
    with client:
        yield container, client, runtime
    close(container)


def test_submit_returns_202_with_location_and_run_proceeds_in_background(quick: Any) -> None:
    _, client, runtime = quick

    response = client.post("/runs", json=HELLO, headers=auth())

    assert response.status_code == 202
    run = response.json()
    assert response.headers["location"] == f"/runs/{run['run_id']}"
    assert run["job_id"] == "hello" and run["args"] == {"name": "Alice"}
    finished = wait_finished(client, run["run_id"])
    assert finished["status"] == "succeeded" and finished["exit_code"] == 0
    assert len(runtime.created) == 1 and runtime.removed


def test_submit_returns_same_run_when_idempotency_key_and_body_repeat(quick: Any) -> None:
    _, client, runtime = quick
    headers = {**auth(), "Idempotency-Key": "k-1"}

    first = client.post("/runs", json=HELLO, headers=headers)
    second = client.post("/runs", json=HELLO, headers=headers)

    assert first.json()["run_id"] == second.json()["run_id"]
    wait_finished(client, first.json()["run_id"])
    assert len(runtime.created) == 1


def test_submit_is_409_when_idempotency_key_reused_with_other_body(quick: Any) -> None:
    _, client, _ = quick
    headers = {**auth(), "Idempotency-Key": "k-2"}
    first = client.post("/runs", json=HELLO, headers=headers).json()

    response = client.post("/runs", json={"job": "hello", "args": {"name": "Bob"}}, headers=headers)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency.conflict"
    assert response.json()["run_id"] == first["run_id"]


def test_submit_is_422_with_run_id_and_decisions_when_policy_denies(quick: Any) -> None:
    _, client, runtime = quick

    response = client.post("/runs", json={"job": "netty", "args": {}}, headers=auth())

    body = response.json()
    assert response.status_code == 422 and body["code"] == "policy.override.denied"
    assert any(d["decision"] == "deny" for d in body["decisions"])
    assert client.get(f"/runs/{body['run_id']}", headers=auth()).json()["status"] == "error"
    assert runtime.created == []
    assert 'flwd_policy_denials_total{code="policy.override.denied"} 1' in client.get("/metrics").text


def test_list_runs_filters_and_pages_when_several_runs_exist(quick: Any) -> None:
    _, client, _ = quick
    ids = [client.post("/runs", json=HELLO, headers=auth()).json()["run_id"] for _ in range(3)]
    for run_id in ids:
        wait_finished(client, run_id)

    first = client.get("/runs?limit=2&job=hello", headers=auth()).json()
    rest = client.get(f"/runs?limit=2&cursor={first['next_cursor']}", headers=auth()).json()
    none = client.get("/runs?status=failed", headers=auth()).json()

    assert [r["run_id"] for r in first["runs"] + rest["runs"]] == list(reversed(ids))
    assert rest["next_cursor"] is None
    assert none == {"runs": [], "next_cursor": None}


def test_events_replay_whole_run_then_close_when_run_finished(quick: Any) -> None:
    _, client, _ = quick
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_finished(client, run_id)

    events = read_events(client, run_id)

    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "run.created" and events[-1]["event"] == "run.finished"
    assert {"stream": "stdout", "line": "hello Alice"} in [e["data"]["data"] for e in events]
    assert all(e["data"]["seq"] == e["id"] and e["data"]["type"] == e["event"] for e in events)


def test_events_resume_after_last_event_id_without_gap_or_duplicate(quick: Any) -> None:
    _, client, _ = quick
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_finished(client, run_id)
    everything = read_events(client, run_id)

    resumed = read_events(client, run_id, headers={"Last-Event-ID": "3"})
    by_query = read_events(client, run_id, query="?after=3")
    past_end = read_events(client, run_id, headers={"Last-Event-ID": str(len(everything))})

    assert resumed == everything[3:] and by_query == everything[3:]
    assert past_end == []


def test_events_without_follow_close_after_stored_events_when_run_is_active(slow: Any) -> None:
    _, client, _ = slow
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_status(client, run_id, "running")

    events = read_events(client, run_id, query="?follow=false")

    assert events[0]["event"] == "run.created" and "run.started" in [e["event"] for e in events]
    assert events[-1]["event"] != "run.finished"


def test_events_are_400_when_last_event_id_is_not_a_number(quick: Any) -> None:
    _, client, _ = quick
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]

    response = client.get(f"/runs/{run_id}/events", headers={**auth(), "Last-Event-ID": "x"})

    assert response.status_code == 400 and response.json()["code"] == "request.invalid"


def test_events_are_400_when_last_event_id_is_a_non_ascii_digit(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime())
    with served(make_app(container)) as base, httpx.Client(base_url=base, headers=auth()) as http:
        run_id = http.post("/runs", json=HELLO).json()["run_id"]

        # b"\xb2" is a superscript two in latin-1: str.isdigit() says yes, int() says no
        response = http.get(f"/runs/{run_id}/events", headers={"Last-Event-ID": b"\xb2"})

    close(container)
    assert response.status_code == 400 and response.json()["code"] == "request.invalid"


def test_events_follow_live_run_with_keepalive_until_it_is_canceled(tmp_path: Path) -> None:
    container = make_container(tmp_path, fake_runtime(run_seconds=30))
    with served(make_app(container)) as base, httpx.Client(base_url=base, headers=auth()) as http:
        run_id = http.post("/runs", json=HELLO).json()["run_id"]
        seen: list[dict[str, str]] = []

        with http.stream("GET", f"/runs/{run_id}/events", timeout=20) as response:
            for message in sse_messages(response.iter_lines()):
                seen.append(message)
                if message.get("comment") == "keep-alive":
                    assert http.post(f"/runs/{run_id}:cancel").status_code == 202

    close(container)
    kinds = [m.get("event") for m in seen if "event" in m]
    assert kinds[0] == "run.created" and "run.started" in kinds
    assert "run.canceled" in kinds and kinds[-1] == "run.finished"
    assert [int(m["id"]) for m in seen if "id" in m] == list(range(1, len(kinds) + 1))


def test_events_follow_run_executed_outside_the_server_by_polling_store(quick: Any) -> None:
    container, client, _ = quick
    queued = container.submit_run()(RunRequest(job="hello", args={"name": "Alice"}))
    assert isinstance(queued, QueuedRun)
    run_id = queued.record.run_id
    other_process = threading.Timer(0.2, container.supervisor().run_here, args=(queued,))
    other_process.start()

    events = read_events(client, run_id)

    other_process.join()
    assert events[-1]["event"] == "run.finished"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_cancel_running_run_ends_it_canceled(slow: Any) -> None:
    _, client, runtime = slow
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_status(client, run_id, "running")

    response = client.post(f"/runs/{run_id}:cancel", headers=auth())

    assert response.status_code == 202 and response.json()["run_id"] == run_id
    assert wait_finished(client, run_id)["status"] == "canceled"
    assert runtime.stopped and runtime.removed


def test_cancel_queued_run_never_creates_its_container(slow: Any) -> None:
    _, client, runtime = slow
    running = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_status(client, running, "running")
    queued = client.post("/runs", json=HELLO, headers=auth()).json()
    assert queued["status"] == "queued"

    client.post(f"/runs/{queued['run_id']}:cancel", headers=auth())
    client.post(f"/runs/{running}:cancel", headers=auth())

    assert wait_finished(client, queued["run_id"])["status"] == "canceled"
    assert len(runtime.created) == 1


def test_cancel_queued_run_ends_it_at_once_when_every_slot_is_busy(slow: Any) -> None:
    _, client, runtime = slow
    running = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_status(client, running, "running")
    queued = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]

    client.post(f"/runs/{queued}:cancel", headers=auth())

    assert wait_finished(client, queued, timeout=3)["status"] == "canceled"
    assert client.get(f"/runs/{running}", headers=auth()).json()["status"] == "running"
    assert [e["event"] for e in read_events(client, queued)][-2:] == ["run.canceled", "run.finished"]
    assert len(runtime.created) == 1


def test_cancel_is_409_run_not_active_when_run_already_finished(quick: Any) -> None:
    _, client, _ = quick
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_finished(client, run_id)

    response = client.post(f"/runs/{run_id}:cancel", headers=auth())

    assert response.status_code == 409
    assert response.json()["code"] == "run.not.active" and response.json()["run_id"] == run_id


def test_metrics_count_runs_by_state_and_durations_when_runs_finished(quick: Any) -> None:
    _, client, _ = quick
    run_id = client.post("/runs", json=HELLO, headers=auth()).json()["run_id"]
    wait_finished(client, run_id)

    text = client.get("/metrics").text

    assert 'flwd_runs{state="succeeded"} 1' in text
    assert 'flwd_run_duration_seconds_count{status="succeeded"} 1' in text
    assert 'flwd_image_pull_duration_seconds_count{result="pulled"} 1' in text
    assert 'route="/runs",status="202"' in text
