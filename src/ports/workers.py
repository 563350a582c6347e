"""Cluster mode's worker ports (SPEC section 11): the registry of worker heartbeats, the
requeue of a run whose worker was lost before its container started, and the queue probe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

from flwd.ports.store import RunRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerBeat:
    """A worker as its last heartbeat described it. ``last_heartbeat`` is RFC 3339 UTC with
    milliseconds and ``Z`` (the worker's clock), so text order is time order."""

    worker_id: str
    host: str
    queues: tuple[str, ...]
    runtime: str
    rootless: bool
    concurrency: int
    active_runs: tuple[str, ...]
    last_heartbeat: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunBeat:
    """One active run's heartbeat: which worker executes it, and whether its container has
    started (a run lost before that may be queued again; after it, never)."""

    run_id: str
    worker_id: str
    container_started: bool
    beat_at: str


class WorkerRegistry(Protocol):
    """Worker and run heartbeats, kept in the run store so that every replica, worker and CLI
    sharing it sees the same workers. Every write is one transaction."""

    def beat(self, worker: WorkerBeat, runs: Sequence[RunBeat]) -> None:
        """Record *worker*'s heartbeat and those of *runs* (all with the worker's id),
        replacing the worker's row and its earlier run heartbeats: a run of this worker not
        in *runs* has no heartbeat afterwards. A run's heartbeat moves to this worker when
        another one held it (a requeued run)."""
        ...

    def workers(self, since: str | None = None) -> Sequence[WorkerBeat]:
        """Workers whose last heartbeat is at or after *since* (every known worker when
        None), ordered by worker id."""
        ...

    def runs_of(self, owner: str) -> Sequence[RunRecord]:
        """The active runs *owner* (a worker's tag) holds, oldest first: what its heartbeat
        names (one indexed query, however many runs the cluster holds)."""
        ...

    def stale_runs(self, before: str) -> Sequence[RunBeat]:
        """Run heartbeats older than *before*, and, for each active run owned by a worker
        whose last heartbeat is older than *before* and named by no run heartbeat (the
        worker was lost before its first heartbeat naming it), one made of that worker's
        last heartbeat (container not started); oldest first. Their runs may have ended
        since: ``claim_lost`` tells."""
        ...

    def claim_lost(self, beat: RunBeat, claimant: str) -> RunRecord | None:
        """Atomically, across processes and hosts: drop *beat* if it is still the run's
        latest heartbeat, and make *claimant* the owner of its run if the run is still
        active, still owned by the beat's worker, and that worker has not heartbeaten since.
        The run as claimed, or None when a newer heartbeat names the run, another claimant
        took it first, or the run has ended (the stale heartbeat is dropped then too). So
        two sweepers never both act on one lost run."""
        ...

    def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly (its run heartbeats stay, so runs it handed
        back without ending are still swept)."""
        ...

    def prune_workers(self, before: str) -> int:
        """Forget workers whose last heartbeat is older than *before*; how many."""
        ...


class RunRequeue(Protocol):
    """Queues a recorded run again (the Celery dispatcher in cluster mode): used once for a
    run whose worker was lost before its container started."""

    def requeue(self, run: RunRecord) -> None:
        """Enqueue *run* (status ``queued`` and owner ``ports.owner.QUEUED_OWNER`` in the store
        already) for any worker of its queue; a run with secret values goes back in the lost
        worker's own message, their only copy. Raises a coded error when it cannot
        (``queue.unavailable``; ``worker.lost`` when the queue no longer holds that message);
        the run then ends ``error`` with that code."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStatus:
    """What the broker said: where it is (password redacted) and the depth of each queue
    asked about (None where the broker does not tell, or the queue does not exist yet)."""

    broker: str
    depths: Mapping[str, int | None] = field(default_factory=dict)


class QueueProbe(Protocol):
    """Asks the queue's broker whether it answers and how many messages wait."""

    def probe(self, queues: Sequence[str]) -> QueueStatus:
        """Ping the broker and read each of *queues*' depth without creating it. Raises
        ``QueueUnavailableError`` (``queue.unavailable``) when it does not answer."""
        ...
