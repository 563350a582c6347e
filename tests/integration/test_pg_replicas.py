"""Two real `flwd :serve --dev` replicas on one PostgreSQL store and rootless Podman: a run
submitted on replica A is streamed by replica B, woken by LISTEN/NOTIFY, and canceled
through B."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.integration.api_support import (
    SLEEP_JOB,
    Server,
    podman_containers,
    remove_tree,
    shared_dir,
    start_server,
    write_job,
)

pytestmark = pytest.mark.podman
LINES = 12
TICKER = f"""\
executor: container
image: alpine:3.20
command: ["sh", "-c", "sleep 1; for i in $(seq 1 {LINES}); do echo tick $i; sleep 0.25; done"]
"""
FINAL = {"succeeded", "failed", "canceled", "timed_out", "error"}


@pytest.fixture(scope="module")
def replicas(podman_socket: str, pg_cluster: Any) -> Iterator[tuple[Server, Server]]:
    url = pg_cluster.new_database()
    started: list[tuple[Server, Path]] = []
    try:
        for name in ("a", "b"):
            base = shared_dir(f"replica-{name}-")
            write_job(base / "jobs", "ticker", TICKER)
            write_job(base / "jobs", "sleeper", SLEEP_JOB)
            for directory in ("data", "home"):
                (base / directory).mkdir(mode=0o755)
            env = {"CONTAINER_HOST": podman_socket, "FLWD_STORE_URL": url}
            started.append((start_server(base, ["--dev"], env,
                                         global_args=["--runtime", "podman"]), base))
        yield started[0][0], started[1][0]
    finally:
        for server, base in started:
            code = server.stop()
            log = server.log.read_text(errors="replace") if server.log.exists() else ""
            remove_tree(base)
            assert code == 0, log
        pg_cluster.sql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def _received(client: httpx.Client, run_id: str, opened: threading.Event,
              out: list[tuple[float, dict[str, str]]]) -> None:
    """Every SSE message of the run with the wall-clock time it arrived."""
    with client.stream("GET", f"/runs/{run_id}/events", timeout=120) as response:
        assert response.status_code == 200
        opened.set()
        message: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in message:
                    out.append((time.time(), message))
                message = {}
                continue
            field, _, value = line.partition(":")
            if field:
                message[field] = value[1:] if value.startswith(" ") else value


def _recorded_at(event_time: str) -> float:
    return datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()


def _wait_status(client: httpx.Client, run_id: str, wanted: set[str], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = str(client.get(f"/runs/{run_id}").json()["status"])
        if status in wanted:
            return status
        assert time.monotonic() < deadline, f"run {run_id} stayed {status}"
        time.sleep(0.05)


def test_replica_b_streams_each_line_within_a_second_when_replica_a_runs_it(
        replicas: tuple[Server, Server]) -> None:
    a, b = replicas
    with a.client() as on_a, b.client() as on_b:
        run_id = on_a.post("/runs", json={"job": "ticker", "args": {}}).json()["run_id"]
        opened, got = threading.Event(), list[tuple[float, dict[str, str]]]()
        reader = threading.Thread(target=_received, args=(on_b, run_id, opened, got), daemon=True)
        reader.start()
        assert opened.wait(30), "replica B never answered"
        connected = time.time()
        reader.join(120)
        assert not reader.is_alive(), "replica B's stream never closed"
        owner_run = on_a.get(f"/runs/{run_id}").json()

    events = [json.loads(m["data"]) for _, m in got]
    ids = [int(m["id"]) for _, m in got]
    lines = [e["data"]["line"] for e in events if e["type"] == "run.output"]
    lags = [arrived - _recorded_at(e["time"]) for (arrived, _), e in zip(got, events)
            if _recorded_at(e["time"]) >= connected]
    print(f"B-side latency over {len(lags)} live events: max {max(lags) * 1000:.0f} ms, "
          f"median {sorted(lags)[len(lags) // 2] * 1000:.0f} ms")
    assert ids == list(range(1, len(ids) + 1))  # every event once, in order, from seq 1
    assert events[-1]["type"] == "run.finished" and owner_run["status"] == "succeeded"
    assert lines == [f"tick {i}" for i in range(1, LINES + 1)]
    assert len(lags) >= LINES and max(lags) < 1.0, lags
    # woken by NOTIFY, not by the 0.5 s store poll (which gives a median near 250 ms)
    assert sorted(lags)[len(lags) // 2] < 0.15, lags


def test_cancel_through_replica_b_stops_the_run_when_replica_a_owns_it(
        replicas: tuple[Server, Server], podman_socket: str) -> None:
    a, b = replicas
    with a.client() as on_a, b.client() as on_b:
        run_id = on_a.post("/runs", json={"job": "sleeper", "args": {}}).json()["run_id"]
        _wait_status(on_b, run_id, {"running"})
        asked = time.monotonic()
        canceled = on_b.post(f"/runs/{run_id}:cancel")
        final = _wait_status(on_b, run_id, FINAL, timeout=60)
        took = time.monotonic() - asked

    print(f"cancel through B ended A's run in {took * 1000:.0f} ms")
    assert canceled.status_code == 202
    assert final == "canceled"
    assert podman_containers(podman_socket, run_id) == []
