"""Queueing a lost run again (once, before its container started) on cluster mode's queue."""

from __future__ import annotations

from flwd.domain.errors import QueueUnavailableError, WorkerLostError
from flwd.domain.plan.use_cases import ListJobs
from flwd.ports.queue import RunQueue
from flwd.ports.store import RunRecord


class QueueRequeue:
    """``RunRequeue`` on the ``RunQueue``: the run goes back onto its job's queue, where a
    worker claims it from the queue's owner tag as it claims any queued run.

    A run without secret values goes as a new message with its id. A run with secret
    arguments cannot: their values travelled only, sealed, in the message the lost worker
    took (never in the store, and the sweeper has no copy), so that very message is handed
    back (``RunQueue.redeliver``: the broker still holds it, unacknowledged, since the worker
    acknowledges a run's message only once the run has ended). When the broker no longer
    holds it, the run ends ``worker.lost``."""

    def __init__(self, *, queue: RunQueue, jobs: ListJobs) -> None:
        self._queue = queue
        self._jobs = jobs

    def requeue(self, run: RunRecord) -> None:
        job = self._jobs.find(run.job_id)
        secret = [spec.name for spec in job.args if spec.secret and spec.name in run.args]
        if not secret:
            self._queue.enqueue(job.queue, run.run_id, None)
        elif not self._queue.redeliver(run.run_id):
            raise WorkerLostError(
                f"its worker was lost, and it cannot be queued again: the values of its secret "
                f"arguments ({', '.join(secret)}) went only with that worker's message, which "
                "the queue no longer holds", run_id=run.run_id)


class NoRequeue:
    """``RunRequeue`` of a process with no queue (``queue_url`` unset): refuses, so a lost run
    that could have been queued again ends ``error`` with ``queue.unavailable``."""

    def requeue(self, run: RunRecord) -> None:
        raise QueueUnavailableError("no queue is configured (queue_url) to queue the run again",
                                    run_id=run.run_id)
