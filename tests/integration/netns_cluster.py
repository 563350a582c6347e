"""A flwd cluster over namespace hosts: one ``flwd :worker`` per host, replicas on the machine.

Workers reach PostgreSQL and Redis only over their host's veth (see netns_hosts); each runs in
its own UTS namespace too, so every host has its own host name, as real hosts do. Replicas
(``flwd :serve``) run in the root namespace and reach the same services on the bridge address.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import httpx

from tests.integration.api_support import FLWD, Server, shared_dir, start_server, write_job
from tests.integration.netns_hosts import Host, HostLab, RedisServer

SECRET_KEY = "cluster-test-key-0123456789abcdef-0123456789"
FINAL = frozenset({"succeeded", "failed", "canceled", "timed_out", "error"})
READY = re.compile(rb"ready\b|worker.*(started|listening)", re.IGNORECASE)


@dataclass
class Worker:
    """One ``flwd :worker`` process in one host, on one runtime."""

    host: Host
    runtime: str
    process: subprocess.Popen[bytes]
    log: Path
    data: Path

    @property
    def hostname(self) -> str:
        return self.host.name

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and anything it forked, as a host crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@dataclass
class Cluster:
    """PostgreSQL database, Redis, workers and replicas of one test module."""

    lab: HostLab
    redis: RedisServer
    store_url: str
    base: Path
    sockets: Mapping[str, str]
    settings: Mapping[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)
    replicas: list[Server] = field(default_factory=list)

    @property
    def jobs(self) -> Path:
        return self.base / "jobs"

    def env(self, runtime: str | None = None) -> dict[str, str]:
        """The variables every flwd process of this cluster gets (plus *runtime*'s socket)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "FLWD_STORE_URL": self.store_url, "FLWD_QUEUE_URL": self.redis.url,
               "FLWD_SECRET_KEY": SECRET_KEY, "FLWD_RESIDENT": "0", **self.settings}
        if runtime == "podman":
            env["CONTAINER_HOST"] = self.sockets["podman"]
        elif runtime == "docker":
            env["DOCKER_HOST"] = self.sockets["docker"]
        return env

    def start_worker(self, host: Host, runtime: str, *, queues: Sequence[str] = ("default",),
                     concurrency: int = 4, name: str | None = None) -> Worker:
        label = name or f"{host.name}-{runtime}"
        home, data = self.base / f"home-{label}", self.base / f"data-{label}"
        for directory in (home, data):
            directory.mkdir(mode=0o755, exist_ok=True)
        argv = [FLWD, "--jobs-dir", str(self.jobs), "--data-dir", str(data), "--runtime", runtime,
                ":worker", *[arg for q in queues for arg in ("--queue", q)],
                "--concurrency", str(concurrency)]
        log = self.base / f"worker-{label}.log"
        process = host.spawn(argv, log=log, env={**self.env(runtime), "HOME": str(home)},
                             cwd=self.base)
        worker = Worker(host=host, runtime=runtime, process=process, log=log, data=data)
        self.workers.append(worker)
        _wait_ready(worker)
        return worker

    def start_replica(self) -> Server:
        env = {**self.env(), "HOME": str(self.base / "home")}
        server = start_server(self.base, ["--dev"], env)
        self.replicas.append(server)
        return server

    def write_job(self, name: str, spec: str, scripts: Mapping[str, str] | None = None) -> None:
        write_job(self.jobs, name, spec, scripts)

    def stop(self) -> None:
        for server in self.replicas:
            server.stop()
        for worker in self.workers:
            if worker.process.poll() is None:
                try:
                    worker.terminate(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()


def new_cluster(lab: HostLab, redis: RedisServer, sockets: Mapping[str, str],
                settings: Mapping[str, str] | None = None) -> Cluster:
    base = shared_dir("cluster-")
    for directory in ("jobs", "data", "home"):
        (base / directory).mkdir(mode=0o755)
    return Cluster(lab=lab, redis=redis, store_url=lab.pg.new_database(), base=base,
                   sockets=sockets, settings=dict(settings or {}))


def _wait_ready(worker: Worker, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY.search(worker.log.read_bytes() if worker.log.exists() else b""):
            return
        if worker.process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"worker on {worker.hostname} not ready:\n{worker.text()[-3000:]}")


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


def wait_all(client: httpx.Client, run_ids: Sequence[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Every run's final state; fails naming the unfinished ones after *timeout* seconds."""
    deadline, done = time.monotonic() + timeout, dict[str, dict[str, Any]]()
    while True:
        for run_id in [r for r in run_ids if r not in done]:
            state = run_state(client, run_id)
            if state["status"] in FINAL:
                done[run_id] = state
        if len(done) == len(run_ids):
            return done
        assert time.monotonic() < deadline, \
            f"{len(run_ids) - len(done)} runs unfinished: {[r for r in run_ids if r not in done][:5]}"
        time.sleep(0.25)


def events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """The run's recorded events, in order (the SSE stream of a finished run, replayed)."""
    from tests.integration.api_support import sse

    return [message["data"] for message in sse(client, run_id, timeout=60)]


def containers(runtime: str, socket: str, run_id: str) -> list[str]:
    """Names of *run_id*'s containers on *runtime* (podman or docker, through *socket*)."""
    cli = ["podman", "--url", socket] if runtime == "podman" else ["docker", "-H", socket]
    done = subprocess.run([*cli, "ps", "-a", "--filter", f"label=flwd.run-id={run_id}",
                           "--format", "{{.Names}}"], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
