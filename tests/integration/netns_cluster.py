"""A flwd cluster over namespace hosts: one ``flwd :worker`` per host, replicas on the machine.

Workers are started by cluster_support inside a host (netns_hosts ``Host.argv``): they reach
PostgreSQL and Redis only over their host's veth, and each has its own host name, as real hosts
do. Replicas (``flwd :serve``) run in the root namespace and reach the same services on the
bridge address. Every worker shares the cluster's jobs directory (a worker plans a run again
from its own host's catalog) but has its own data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import httpx

from tests.integration.api_support import shared_dir, sse, write_job
from tests.integration.cluster_support import (
    ClusterAddresses,
    FlwdProcess,
    start_replica,
    start_worker,
)
from tests.integration.netns_hosts import Host, HostLab
from tests.integration.redis_support import RedisServer

FINAL = frozenset({"succeeded", "failed", "canceled", "timed_out", "error"})
SOCKET_VARIABLES = {"podman": "CONTAINER_HOST", "docker": "DOCKER_HOST"}


@dataclass
class Worker:
    """One ``flwd :worker`` in one host, on one runtime."""

    host: Host
    runtime: str
    flwd: FlwdProcess
    base: Path

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.flwd.process

    def text(self) -> str:
        return self.flwd.text()

    def kill(self) -> None:
        """SIGKILL the worker and everything it started, as a host crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class Cluster:
    """The PostgreSQL database, Redis, workers and replicas of one test module."""

    lab: HostLab
    redis: RedisServer
    store_url: str
    base: Path
    sockets: Mapping[str, str]
    settings: Mapping[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)
    replicas: list[FlwdProcess] = field(default_factory=list)

    @property
    def jobs(self) -> Path:
        return self.base / "jobs"

    def env(self, runtime: str | None = None) -> dict[str, str]:
        """What every flwd process of this cluster gets (plus *runtime*'s socket)."""
        queue_url = self.redis.url_for(0, host=self.lab.network.gateway)
        env = {**ClusterAddresses(store_url=self.store_url, queue_url=queue_url).env(),
               "FLWD_RESIDENT": "0", **self.settings}
        if runtime is not None:
            env[SOCKET_VARIABLES[runtime]] = self.sockets[runtime]
        return env

    def start_worker(self, host: Host, runtime: str, *, queues: Sequence[str] = ("default",),
                     concurrency: int = 4, name: str | None = None,
                     socket: str | None = None,
                     extra_env: Mapping[str, str] | None = None) -> Worker:
        """``flwd :worker`` in *host* on *runtime* (through *socket* instead of the cluster's
        when given, with *extra_env* over the cluster's settings), consuming *queues*."""
        base = self.base / f"worker-{name or host.name}-{runtime}"
        base.mkdir(mode=0o755)
        (base / "jobs").symlink_to(self.jobs)
        env = {**self.env(runtime), **(extra_env or {})}
        if socket is not None:
            env[SOCKET_VARIABLES[runtime]] = socket
        started = start_worker(base, env, prefix=host.argv([]), queues=queues,
                               concurrency=concurrency, global_args=["--runtime", runtime])
        host.adopt(started.process)
        worker = Worker(host=host, runtime=runtime, flwd=started, base=base)
        self.workers.append(worker)
        return worker

    def start_replica(self) -> FlwdProcess:
        base = self.base / f"replica-{len(self.replicas) + 1}"
        base.mkdir(mode=0o755)
        (base / "jobs").symlink_to(self.jobs)
        replica = start_replica(base, self.env())
        self.replicas.append(replica)
        return replica

    def write_job(self, name: str, spec: str, scripts: Mapping[str, str] | None = None) -> None:
        write_job(self.jobs, name, spec, scripts)

    def stop(self) -> None:
        """Stop replicas and live workers (SIGTERM, SIGKILL after a minute)."""
        for process in [*self.replicas, *(w.flwd for w in self.workers)]:
            if process.process.poll() is None:
                process.stop()


def new_cluster(lab: HostLab, redis: RedisServer, sockets: Mapping[str, str],
                settings: Mapping[str, str] | None = None) -> Cluster:
    """An empty cluster: a new database on the lab's PostgreSQL, *redis* as the queue."""
    base = shared_dir("cluster-")
    (base / "jobs").mkdir(mode=0o755)
    return Cluster(lab=lab, redis=redis, store_url=lab.pg.new_database(), base=base,
                   sockets=sockets, settings=dict(settings or {}))


# -- API helpers ----------------------------------------------------------------------------


def submit(client: httpx.Client, job: str, args: Mapping[str, Any] | None = None) -> str:
    response = client.post("/runs", json={"job": job, "args": dict(args or {})})
    assert response.status_code in (200, 201, 202), response.text
    return str(response.json()["run_id"])


def run_state(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_status(client: httpx.Client, run_id: str, wanted: set[str] | frozenset[str],
                timeout: float = 120) -> dict[str, Any]:
    """The run's state once its status is in *wanted*; fails after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = run_state(client, run_id)
        if state["status"] in wanted:
            return state
        assert time.monotonic() < deadline, f"run {run_id} stayed {state['status']}"
        time.sleep(0.1)


def wait_all(client: httpx.Client, run_ids: Sequence[str],
             timeout: float) -> dict[str, dict[str, Any]]:
    """Every run's final state; fails naming unfinished ones after *timeout* seconds."""
    deadline, done = time.monotonic() + timeout, dict[str, dict[str, Any]]()
    while True:
        for run_id in [r for r in run_ids if r not in done]:
            state = run_state(client, run_id)
            if state["status"] in FINAL:
                done[run_id] = state
        left = [r for r in run_ids if r not in done]
        if not left:
            return done
        assert time.monotonic() < deadline, f"{len(left)} runs unfinished, e.g. {left[:5]}"
        time.sleep(0.25)


def events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """The run's recorded events in order (a finished run's SSE stream, replayed)."""
    return [message["data"] for message in sse(client, run_id, timeout=60)]


def containers(runtime: str, socket: str, run_id: str) -> list[str]:
    """Names of *run_id*'s containers on *runtime* (podman or docker, through *socket*)."""
    cli = ["podman", "--url", socket] if runtime == "podman" else ["docker", "-H", socket]
    done = subprocess.run([*cli, "ps", "-a", "--filter", f"label=flwd.run-id={run_id}",
                           "--format", "{{.Names}}"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
