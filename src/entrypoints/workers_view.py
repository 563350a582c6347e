"""The live workers as ``GET /workers`` and ``flwd :workers --json`` show them."""

from __future__ import annotations

from typing import Any, Sequence

from flwd.domain.worker.query import WorkerStatus


def workers_view(workers: Sequence[WorkerStatus]) -> dict[str, Any]:
    """``{"workers": [...]}``, by worker id: each with its host, queues, runtime and rootless
    flag, concurrency, active runs, last heartbeat and that heartbeat's age in seconds."""
    return {"workers": [worker_view(w) for w in workers]}


def worker_view(status: WorkerStatus) -> dict[str, Any]:
    beat = status.beat
    return {
        "worker_id": beat.worker_id,
        "host": beat.host,
        "queues": list(beat.queues),
        "runtime": beat.runtime,
        "rootless": beat.rootless,
        "concurrency": beat.concurrency,
        "active_runs": list(beat.active_runs),
        "last_heartbeat": beat.last_heartbeat,
        "heartbeat_age_seconds": round(status.age_seconds, 3),
    }
