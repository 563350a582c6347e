"""``GET /workers``: cluster mode's live workers (SPEC section 11)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get

from flwd.entrypoints.http.auth import require
from flwd.entrypoints.http.deps import ListWorkersDep
from flwd.entrypoints.workers_view import workers_view


class WorkerView(msgspec.Struct, frozen=True):
    """One live worker, as its last heartbeat described it."""

    worker_id: str
    host: str
    queues: list[str]
    runtime: str
    rootless: bool
    concurrency: int
    active_runs: list[str]
    last_heartbeat: str
    heartbeat_age_seconds: float


class WorkersView(msgspec.Struct, frozen=True):
    """The workers whose last heartbeat is at most ``worker_timeout`` old, by worker id (none
    in single-host mode)."""

    workers: list[WorkerView]


class WorkersController(Controller):
    path = "/workers"
    guards = [require("runs:read")]
    tags = ["workers"]

    @get("/", sync_to_thread=True, summary="List the live workers (cluster mode)")
    def list_workers(self, list_workers: ListWorkersDep) -> WorkersView:
        return msgspec.convert(workers_view(list_workers.live()), WorkersView)
