"""The jobs and API calls cluster-mode tests share (test_cluster_queue.py on Redis,
test_cluster_rabbit.py on RabbitMQ): a ticker, a hello on a named queue, a sleeper."""

from __future__ import annotations

from typing import Any

from tests.integration.cluster_support import FlwdProcess, until

LINES = 20
TICKER = f"""\
executor: container
image: alpine:3.20
command: ["sh", "-c", "sleep 1; for i in $(seq 1 {LINES}); do echo tick $i; sleep 0.1; done"]
"""
HELLO = """\
executor: container
image: alpine:3.20
queue: {queue}
args:
  - {{name: who, type: string, required: true}}
  - {{name: token, type: string, format: secret}}
command: ["sh", "-c", "echo hello $ARG_WHO; cat /run/secrets/token; echo; echo oops >&2; exit 3"]
"""
SLEEPER = "executor: container\nimage: alpine:3.20\nqueue: {queue}\ncommand: [sleep, '300']\n"
FINAL = {"succeeded", "failed", "canceled", "timed_out", "error"}


def submit(replica: FlwdProcess, job: str, args: dict[str, Any] | None = None,
           key: str | None = None, status: int = 202) -> dict[str, Any]:
    """``POST /runs`` on *replica* (with an ``Idempotency-Key`` when *key*); its body, once
    the answer's status is *status*."""
    with replica.client() as client:
        response = client.post("/runs", json={"job": job, "args": args or {}},
                               headers={"Idempotency-Key": key} if key else {})
    assert response.status_code == status, response.text
    return dict(response.json())


def get_run(replica: FlwdProcess, run_id: str) -> dict[str, Any]:
    with replica.client() as client:
        response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def status_is(replica: FlwdProcess, run_id: str, status: str, seconds: float = 60) -> None:
    """Wait (bounded) until *replica* answers *status* for the run."""
    until(f"run {run_id} {status}", lambda: get_run(replica, run_id)["status"] == status,
          seconds, every=0.1)


def ended(replica: FlwdProcess, run_id: str, seconds: float = 90) -> dict[str, Any]:
    """The run as *replica* answers it once it has ended (bounded wait)."""
    return dict(until(f"run {run_id} ends",
                      lambda: (r := get_run(replica, run_id))["status"] in FINAL and r,
                      seconds, every=0.1))
