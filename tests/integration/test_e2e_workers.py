"""Worker liveness end to end: real ``flwd :worker`` processes on Docker with PostgreSQL and
Redis (private, per session; RabbitMQ where a test is parametrized with ``broker_url``), a real ``flwd :serve`` replica and the CLI: heartbeats in
``GET /workers`` and ``:workers``, ``:doctor``'s checks, ``worker.lost`` after a SIGKILL and
the removal of the lost run's container by the worker that comes back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.api_support import write_job
from tests.integration.cluster_support import (
    ClusterAddresses,
    FlwdProcess,
    run_flwd,
    start_replica,
    start_worker,
    until,
)
from tests.integration.e2e_support import IMAGE, Runtime, secrets_dir
from tests.integration.pg_support import PgCluster
from tests.integration.socket_proxy import SocketProxy

pytestmark = pytest.mark.docker

HEARTBEAT, TIMEOUT = 1.0, 4.0
SLEEPER = f"executor: container\nimage: {IMAGE}\ncommand: [sleep, '120']\n"


@pytest.fixture
def cluster(pg_url: str, broker_url: str, docker_socket: str,
            shared_tmp: Path) -> Iterator[tuple[Path, dict[str, str], list[FlwdProcess]]]:
    write_job(shared_tmp / "jobs", "sleeper", SLEEPER)
    env = {**ClusterAddresses(store_url=pg_url, queue_url=broker_url).env(),
           "DOCKER_HOST": docker_socket, "FLWD_RUNTIME": "docker",
           "FLWD_HEARTBEAT_INTERVAL": f"{HEARTBEAT:g}s", "FLWD_WORKER_TIMEOUT": f"{TIMEOUT:g}s"}
    started: list[FlwdProcess] = []
    yield shared_tmp, env, started
    for process in started:
        _kill_group(process)
    # what a failing test may leave of its run (its id in runs.txt): container, secrets
    run_file = shared_tmp / "runs.txt"
    run_id = run_file.read_text().strip() if run_file.exists() else ""
    if run_id:
        docker = Runtime(name="docker", socket=docker_socket)
        for name in docker.containers(run_id):
            docker.cli("rm", "-f", name)
        shutil.rmtree(secrets_dir(run_id), ignore_errors=True)


def _kill_group(process: FlwdProcess) -> None:
    if process.process.poll() is None:
        os.killpg(process.process.pid, signal.SIGKILL)
        process.process.wait(10)


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

    listed = until("the worker in GET /workers", lambda: _workers(replica), 30)
    first = listed[0]["last_heartbeat"]
    later = until("a later heartbeat", lambda: [w for w in _workers(replica)
                                                if w["last_heartbeat"] > first], 30)
    with replica.client() as client:
        metrics = client.get("/metrics").text
    cli = run_flwd(base, env, ":workers", "--json")
    remote = run_flwd(base, {**env, "FLWD_TOKEN": "dev-token"}, "--server", replica.url,
                      ":workers")
    doctor = run_flwd(base, env, ":doctor", "--json")
    worker.stop()
    gone = until("the stopped worker gone from GET /workers",
                  lambda: _workers(replica) == [] or None, 30)

    (shown,) = later
    assert shown["worker_id"] == worker.name and shown["host"] == os.uname().nodename
    assert (shown["queues"], shown["concurrency"]) == (["default", "gpu"], 2)
    assert shown["runtime"].startswith("docker") and shown["active_runs"] == []
    assert 0 <= shown["heartbeat_age_seconds"] <= TIMEOUT
    assert cli.returncode == 0, cli.stderr
    assert [w["worker_id"] for w in json.loads(cli.stdout)["workers"]] == [worker.name]
    assert remote.returncode == 0 and remote.stdout.startswith(f"{worker.name}  host="), remote
    checks = {c["check"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks == {"store": True, "queue": True, "workers": True}, doctor.stdout
    assert gone
    labels = f'worker="{worker.name}",host="{os.uname().nodename}"'
    assert f"flwd_worker_active_runs{{{labels}}} 0" in metrics
    assert f"flwd_worker_concurrency{{{labels}}} 2" in metrics
    assert "flwd_workers_live 1" in metrics and "flwd_queue_up 1" in metrics
    assert 'flwd_queue_depth{queue="gpu"}' in metrics


@pytest.mark.parametrize(("restart", "broker_url"), [
    ("after-the-end", "redis"), ("at-once", "redis"), ("at-once", "rabbit")],
    indirect=["broker_url"])
def test_sigkilled_worker_loses_its_run_and_removes_its_container_when_it_comes_back(
        cluster: tuple[Path, dict[str, str], list[FlwdProcess]], docker_socket: str,
        restart: str) -> None:
    """Restarted after the run ended, the worker removes the container as it starts; restarted
    at once (the run still active then), within a worker_timeout of the sweeper ending it."""
    base, env, started = cluster
    docker = Runtime(name="docker", socket=docker_socket)
    worker, replica, run_id = _run_on_a_worker(base, env, started)
    with replica.client() as client:
        until("a heartbeat with the run", lambda: [
            w for w in _workers(replica) if w["active_runs"] == [run_id]], 30)

        _kill_group(worker)
        killed = time.monotonic()
        left_behind = docker.containers(run_id)
        if restart == "at-once":
            started.append(start_worker(base, env, log_name="worker2.log"))
        ended = _ended(client, run_id)
        took = time.monotonic() - killed
        if restart == "after-the-end":
            started.append(start_worker(base, env, log_name="worker2.log"))
        removed = until("the lost run's container removed",
                        lambda: docker.containers(run_id) == [] or None, TIMEOUT + 20)
        events = _event_types(client, run_id)

    assert (ended["status"], ended["code"]) == ("error", "worker.lost"), ended
    assert took <= TIMEOUT + 5 + HEARTBEAT
    assert left_behind == [f"flwd-{run_id}"]  # the runtime kept it: its worker was lost
    assert removed
    assert events.count("run.finished") == 1 and events[-1] == "run.finished"


def test_worker_cut_off_from_the_store_loses_its_run_and_clears_it_when_restored(
        cluster: tuple[Path, dict[str, str], list[FlwdProcess]], docker_socket: str,
        pg_cluster: PgCluster, pg_url: str) -> None:
    """The worker reaches PostgreSQL through a socket proxy the test cuts: its heartbeats stop,
    a replica's sweeper ends its run worker.lost; restored, the worker stops the run and removes
    its container, and records nothing more (run.finished stays the sweeper's, once)."""
    base, env, started = cluster
    docker = Runtime(name="docker", socket=docker_socket)
    (base / "pg").mkdir()
    proxy = SocketProxy(base / "pg" / f".s.PGSQL.{pg_cluster.port}",
                        str(pg_cluster.directory / f".s.PGSQL.{pg_cluster.port}"))
    proxy.start()
    database = pg_url.rsplit("/", 1)[1]
    through_proxy = f"postgresql://postgres@/{database}?host={base / 'pg'}&port={pg_cluster.port}"
    try:
        worker, replica, run_id = _run_on_a_worker(
            base, env, started, worker_env={**env, "FLWD_STORE_URL": through_proxy})
        with replica.client() as client:
            proxy.cut()
            ended = _ended(client, run_id)
            still_there = docker.containers(run_id)
            proxy.restore()
            removed = until("the container removed by the worker back",
                             lambda: docker.containers(run_id) == [] or None, 30)
            until("the worker live again", lambda: _workers(replica), 30)
            stopped = worker.stop()  # drains: whatever it would still record is recorded now
            events = _event_types(client, run_id)
    finally:
        proxy.cut()

    assert (ended["status"], ended["code"]) == ("error", "worker.lost"), ended
    assert still_there == [f"flwd-{run_id}"] and removed and stopped == 0
    assert events.count("run.finished") == 1 and events[-1] == "run.finished", events


def _run_on_a_worker(base: Path, env: dict[str, str], started: list[FlwdProcess], *,
                     worker_env: dict[str, str] | None = None, job: str = "sleeper",
                     status: str = "running") -> tuple[FlwdProcess, FlwdProcess, str]:
    """A worker (with *worker_env*), a replica, and a run of *job* on the worker, in *status*."""
    worker = start_worker(base, worker_env or env)
    started.append(worker)
    replica = start_replica(base, env, log_name="replica.log")
    started.append(replica)
    with replica.client() as client:
        run_id = client.post("/runs", json={"job": job}).json()["run_id"]
        (base / "runs.txt").write_text(run_id)
        until(f"the run {status}", lambda: client.get(f"/runs/{run_id}").json()["status"]
              == status, 60)
    return worker, replica, run_id


def _ended(client: Any, run_id: str, timeout: float = TIMEOUT + HEARTBEAT + 10
           ) -> dict[str, Any]:
    """The run once ended (by default within worker_timeout + 5 s of its worker's loss, and a
    heartbeat, with 5 s to spare)."""
    ended: dict[str, Any] = until(
        "the run ended", lambda: (r := client.get(f"/runs/{run_id}").json())["finished_at"] and r,
        timeout)
    return ended


def _event_types(client: Any, run_id: str) -> list[str]:
    return [event["type"] for event in _events(client, run_id)]


@pytest.mark.podman
@pytest.mark.parametrize("broker_url", ["redis", "rabbit"], indirect=True)
def test_run_lost_before_its_container_started_is_requeued_to_another_worker(
        cluster: tuple[Path, dict[str, str], list[FlwdProcess]], docker_socket: str,
        podman_socket: str) -> None:
    """Worker A (rootless Podman) takes the run and stalls pulling its image from a registry
    that never answers; SIGKILLed, it is lost with no container started, so the run is queued
    again, once, and worker B (Docker, which has the image) runs it to success."""
    from tests.integration.test_e2e_stalled_pull import stalled_registry

    base, env, started = cluster
    docker = Runtime(name="docker", socket=docker_socket)
    with stalled_registry() as registry:
        image = f"127.0.0.1:{registry.port}/stall/requeue:1"
        write_job(base / "jobs", "stalled", f"executor: container\nimage: {image}\n"
                                            "command: [echo, ran on B]\n")
        assert docker.cli("tag", IMAGE, image).returncode == 0
        try:
            worker_a, replica, run_id = _run_on_a_worker(
                base, env, started, job="stalled", status="pulling",
                worker_env={**env, "FLWD_RUNTIME": "podman", "CONTAINER_HOST": podman_socket})
            with replica.client() as client:
                assert registry.connected.wait(60), "worker A never pulled"
                until("A's heartbeat naming the run", lambda: [
                    w for w in _workers(replica) if w["active_runs"] == [run_id]], 30)
                worker_b = start_worker(base, env, log_name="b.log")
                started.append(worker_b)
                _kill_group(worker_a)
                ended = _ended(client, run_id, 60)
                events = _event_types(client, run_id)
                output = [e["data"]["line"] for e in _events(client, run_id)
                          if e["type"] == "run.output"]
        finally:
            docker.cli("rmi", image)  # the tag only: the image keeps its own name

    assert (ended["status"], ended["exit_code"]) == ("succeeded", 0), ended
    assert events.count("run.requeued") == 1 and events.count("run.finished") == 1
    assert events.index("run.requeued") < events.index("run.started")
    assert output == ["ran on B"]


def _events(client: Any, run_id: str) -> list[dict[str, Any]]:
    body = client.get(f"/runs/{run_id}/events?follow=false").text
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


def test_sigkilled_workers_secret_run_leaves_no_secret_file_once_the_worker_is_back(
        cluster: tuple[Path, dict[str, str], list[FlwdProcess]], docker_socket: str) -> None:
    """SPEC 3: the secrets directory goes however the run ends, a lost worker included."""
    base, env, started = cluster
    write_job(base / "jobs", "secret-sleeper", SLEEPER + (
        "args:\n  - {name: token, type: string, format: secret, required: true}\n"))
    worker = start_worker(base, env)
    started.append(worker)
    replica = start_replica(base, env, log_name="replica.log")
    started.append(replica)
    with replica.client() as client:
        run_id = client.post("/runs", json={"job": "secret-sleeper",
                                            "args": {"token": "s3cr3t-t0ken"}}).json()["run_id"]
        (base / "runs.txt").write_text(run_id)
        until("the run running", lambda: client.get(f"/runs/{run_id}").json()["status"]
              == "running", 60)
        until("a heartbeat with the run", lambda: [
            w for w in _workers(replica) if w["active_runs"] == [run_id]], 30)
        left = secrets_dir(run_id).is_dir()

        _kill_group(worker)
        ended = _ended(client, run_id)
        started.append(start_worker(base, env, log_name="worker2.log"))
        gone = until("the secrets directory deleted",
                     lambda: not secrets_dir(run_id).exists(), TIMEOUT + 20)

    assert left and gone
    assert (ended["status"], ended["code"]) == ("error", "worker.lost"), ended
    assert Runtime(name="docker", socket=docker_socket).containers(run_id) == []
