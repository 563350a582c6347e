"""Prometheus figures of cluster mode: each worker's active runs and heartbeat age, and the
queues' depths where the broker tells them."""

from __future__ import annotations

from typing import Callable, Sequence

from flwd.domain.errors import QueueUnavailableError
from flwd.domain.worker.query import ListWorkers, WorkerStatus
from flwd.ports.workers import QueueProbe, QueueStatus

DEFAULT_QUEUE = "default"


def cluster_figures(workers: ListWorkers, probe: Callable[[], QueueProbe] | None) -> str:
    """The lines for every worker the registry holds (recently silent ones too, so an alert
    on a growing heartbeat age can fire) and, with a queue configured (*probe*), the depth of
    every queue a worker consumes plus ``default``."""
    known = workers.known()
    status: QueueStatus | None = None
    up = None
    if probe is not None:
        queues = sorted({DEFAULT_QUEUE, *(q for w in known for q in w.beat.queues)})
        try:
            status, up = probe().probe(queues), True
        except QueueUnavailableError:
            up = False
    return render_cluster(known, status, up)


def render_cluster(workers: Sequence[WorkerStatus], queue: QueueStatus | None,
                   queue_up: bool | None) -> str:
    lines = ["# HELP flwd_workers_live Workers whose last heartbeat is within worker_timeout.",
             "# TYPE flwd_workers_live gauge",
             f"flwd_workers_live {sum(1 for w in workers if w.live)}"]
    lines += _per_worker("flwd_worker_active_runs", "Runs a worker executes, as of its last "
                         "heartbeat.", workers, lambda w: str(len(w.beat.active_runs)))
    lines += _per_worker("flwd_worker_concurrency", "Runs a worker executes at most at once.",
                         workers, lambda w: str(w.beat.concurrency))
    lines += _per_worker("flwd_worker_heartbeat_age_seconds", "Seconds since a worker's last "
                         "heartbeat.", workers, lambda w: f"{w.age_seconds:.3f}")
    if queue_up is not None:
        lines += ["# HELP flwd_queue_up 1 when the queue's broker answered this scrape.",
                  "# TYPE flwd_queue_up gauge", f"flwd_queue_up {int(queue_up)}"]
    if queue is not None:
        lines += ["# HELP flwd_queue_depth Runs waiting in a queue, as its broker tells.",
                  "# TYPE flwd_queue_depth gauge"]
        lines += [f'flwd_queue_depth{{queue="{_esc(name)}"}} {depth}'
                  for name, depth in sorted(queue.depths.items()) if depth is not None]
    return "\n".join(lines) + "\n"


def _per_worker(name: str, help_text: str, workers: Sequence[WorkerStatus],
                value: Callable[[WorkerStatus], str]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f'{name}{{worker="{_esc(w.beat.worker_id)}",host="{_esc(w.beat.host)}"}} {value(w)}'
              for w in workers]
    return lines


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
