"""The lost-worker secret requeue, played on any broker's loopback cluster: worker `doomed`
takes a secret run and stalls in its image check (a proxy in front of its Docker never answers
it), `survivor` starts consuming the same queue, `doomed` is SIGKILLed; the run must be queued
again once, from the message `doomed` never acknowledged, and run once by `survivor`."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tests.integration.api_support import sse, write_job
from tests.integration.cluster_support import FlwdProcess, start_worker, until
from tests.integration.conftest import DOCKER_TEST_IMAGE
from tests.integration.delay_proxy import DelayingProxy
from tests.integration.e2e_support import Runtime

JOB = "secret-lossy"
QUEUE = "lossy"
SPEC = f"""\
executor: container
image: {DOCKER_TEST_IMAGE}
queue: {QUEUE}
args:
  - {{name: token, type: string, format: secret, required: true}}
command: ["sh", "-c", "echo sha=$(sha256sum < /run/secrets/token | cut -d' ' -f1)"]
"""
FAST_LIVENESS = {"FLWD_HEARTBEAT_INTERVAL": "1", "FLWD_WORKER_TIMEOUT": "10"}
FINAL = {"succeeded", "failed", "canceled", "timed_out", "error"}


@dataclass(frozen=True)
class Requeued:
    """How the run ended and what it recorded (types in order, and its output lines)."""

    run_id: str
    final: dict[str, Any]
    types: list[str]
    outputs: list[str]


def requeue_secret_run(base: Path, env: Mapping[str, str], replica: FlwdProcess,
                       docker: Runtime, secret: str) -> Requeued:
    """Play the scenario on the cluster whose processes share *base* and *env* (addresses,
    key); *replica* is any of its replicas."""
    write_job(base / "jobs", JOB, SPEC)
    stall = DelayingProxy(docker.socket, delay=3600, match=(DOCKER_TEST_IMAGE.encode(),))
    started: list[FlwdProcess] = []
    run_id = ""
    try:
        started.append(_worker(base, {**env, "DOCKER_HOST": stall.url}, "doomed"))
        with replica.client() as client:
            # a long-lived replica rescans its jobs in the background (rescan_seconds): the
            # first request after the write may still answer from the older walk
            until("the replica lists the new job",
                  lambda: client.get(f"/jobs/{JOB}").status_code == 200, 30)
            response = client.post("/runs", json={"job": JOB, "args": {"token": secret}})
            assert response.status_code == 202, response.text
            run_id = response.json()["run_id"]
            until("the run reaches its image check", lambda: stall.delayed > 0, 60)
            until("doomed heartbeats the run",
                  lambda: _heartbeats(client, started[0].name) == [run_id], 30)
            # consuming when doomed dies: RabbitMQ hands it doomed's message at once
            started.append(_worker(base, {**env, **docker.env}, "survivor"))
            os.killpg(started[0].process.pid, signal.SIGKILL)
            started[0].process.wait(10)
            final = until("the run ends", lambda: (
                state := client.get(f"/runs/{run_id}").json())["status"] in FINAL and state, 120)
            events = [m["data"] for m in sse(client, run_id, timeout=60)]
    finally:
        for process in started[1:]:
            process.stop()
        stall.close()
        for name in docker.containers(run_id) if run_id else []:
            docker.cli("rm", "-f", name)
    return Requeued(run_id=run_id, final=dict(final), types=[e["type"] for e in events],
                    outputs=[e["data"]["line"] for e in events if e["type"] == "run.output"])


def _worker(base: Path, env: Mapping[str, str], name: str) -> FlwdProcess:
    return start_worker(base, {**env, **FAST_LIVENESS}, queues=[QUEUE],
                        global_args=["--runtime", "docker"], log_name=f"worker-{name}.log")


def _heartbeats(client: Any, worker: str) -> list[str]:
    listed = client.get("/workers").json()["workers"]
    return [run for w in listed if w["worker_id"] == worker for run in w["active_runs"]]
