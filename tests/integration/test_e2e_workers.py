"""Worker liveness end to end: real ``flwd :worker`` processes on Docker with PostgreSQL and
Redis (private, per session), a real ``flwd :serve`` replica and the CLI: heartbeats in
``GET /workers`` and ``:workers``, ``:doctor``'s checks, ``worker.lost`` after a SIGKILL and
the removal of the lost run's container by the worker that comes back."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.integration.api_support import write_job
from tests.integration.cluster_support import (
    ClusterAddresses,
    FlwdProcess,
    run_flwd,
    start_replica,
    start_worker,
)
from tests.integration.e2e_support import IMAGE, Runtime
from tests.integration.redis_support import redis_server, redis_url  # noqa: F401

pytestmark = pytest.mark.docker

HEARTBEAT, TIMEOUT = 1.0, 4.0
SLEEPER = f"executor: container\nimage: {IMAGE}\ncommand: [sleep, '120']\n"


@pytest.fixture
def cluster(pg_url: str, redis_url: str, docker_socket: str,  # noqa: F811
            shared_tmp: Path) -> Iterator[tuple[Path, dict[str, str], list[FlwdProcess]]]:
    write_job(shared_tmp / "jobs", "sleeper", SLEEPER)
    env = {**ClusterAddresses(store_url=pg_url, queue_url=redis_url).env(),
           "DOCKER_HOST": docker_socket, "FLWD_RUNTIME": "docker",
           "FLWD_HEARTBEAT_INTERVAL": f"{HEARTBEAT:g}s", "FLWD_WORKER_TIMEOUT": f"{TIMEOUT:g}s"}
    started: list[FlwdProcess] = []
    yield shared_tmp, env, started
    for process in started:
        _kill_group(process)
    docker = Runtime(name="docker", socket=docker_socket)
    for name in docker.containers():
        if (shared_tmp / "runs.txt").exists() and name[5:] in (shared_tmp / "runs.txt").read_text():
            docker.cli("rm", "-f", name)


def _kill_group(process: FlwdProcess) -> None:
    if process.process.poll() is None:
        os.killpg(process.process.pid, signal.SIGKILL)
        process.process.wait(10)


def _until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def _workers(replica: FlwdProcess) -> list[dict[str, Any]]:
    with replica.client() as client:
        response = client.get("/workers")
    assert response.status_code == 200, response.text
    return list(response.json()["workers"])


def test_workers_shows_a_real_workers_heartbeats_until_it_stops(
        cluster: tuple[Path, dict[str, str], list[FlwdProcess]]) -> None:
    base, env, started = cluster
    worker = start_worker(base, env, queues=("default", "gpu"), concurrency=2)
    started.append(worker)
    replica = start_replica(base, env, log_name="replica.log")
    started.append(replica)

    listed = _until("the worker in GET /workers", lambda: _workers(replica), 30)
    first = listed[0]["last_heartbeat"]
    later = _until("a later heartbeat", lambda: [w for w in _workers(replica)
                                                if w["last_heartbeat"] > first], 30)
    cli = run_flwd(base, env, ":workers", "--json")
    doctor = run_flwd(base, env, ":doctor", "--json")
    worker.stop()
    gone = _until("the stopped worker gone from GET /workers",
                  lambda: _workers(replica) == [] or None, 30)

    (shown,) = later
    assert shown["worker_id"] == worker.name and shown["host"] == os.uname().nodename
    assert (shown["queues"], shown["concurrency"]) == (["default", "gpu"], 2)
    assert shown["runtime"].startswith("docker") and shown["active_runs"] == []
    assert 0 <= shown["heartbeat_age_seconds"] <= TIMEOUT
    assert cli.returncode == 0, cli.stderr
    assert [w["worker_id"] for w in json.loads(cli.stdout)["workers"]] == [worker.name]
    checks = {c["check"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks == {"store": True, "queue": True, "workers": True}, doctor.stdout
    assert gone


def test_sigkilled_worker_loses_its_run_and_removes_its_container_when_it_comes_back(
        cluster: tuple[Path, dict[str, str], list[FlwdProcess]], docker_socket: str) -> None:
    base, env, started = cluster
    docker = Runtime(name="docker", socket=docker_socket)
    worker = start_worker(base, env)
    started.append(worker)
    replica = start_replica(base, env, log_name="replica.log")
    started.append(replica)
    with replica.client() as client:
        run_id = client.post("/runs", json={"job": "sleeper"}).json()["run_id"]
        (base / "runs.txt").write_text(run_id)
        _until("the run running", lambda: client.get(f"/runs/{run_id}").json()["status"]
               == "running", 60)
        _until("a heartbeat with the run", lambda: [
            w for w in _workers(replica) if w["active_runs"] == [run_id]], 30)

        _kill_group(worker)
        killed = time.monotonic()
        ended = _until("the run ended", lambda: (r := client.get(f"/runs/{run_id}").json())
                       ["finished_at"] and r, TIMEOUT + HEARTBEAT + 10)
        took = time.monotonic() - killed
        left_behind = docker.containers(run_id)
        back = start_worker(base, env, log_name="worker2.log")
        started.append(back)
        removed = _until("the lost run's container removed",
                         lambda: docker.containers(run_id) == [] or None, 30)

    assert (ended["status"], ended["code"]) == ("error", "worker.lost"), ended
    assert took <= TIMEOUT + 5 + HEARTBEAT
    assert left_behind == [f"flwd-{run_id}"]  # the runtime kept it: its worker was lost
    assert removed
    with replica.client() as client:
        events = [e["type"] for e in json.loads(
            "[" + ",".join(line[5:] for line in client.get(
                f"/runs/{run_id}/events?follow=false").text.splitlines()
                if line.startswith("data:")) + "]")]
    assert events.count("run.finished") == 1 and events[-1] == "run.finished"
