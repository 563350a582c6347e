"""What a run could not finish because the store or the runtime failed (its recorded end, its
container's removal), kept and retried in the background until they succeed."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping

from flwd.domain.errors import (
    FlwdError,
    RunNotActiveError,
    RunStoreError,
    RuntimeUnavailableError,
)
from flwd.domain.run import events as ev
from flwd.domain.model import RunStatus
from flwd.ports.runtime import ContainerRuntime
from flwd.ports.store import RunRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class _End:
    recorder: ev.RunRecorder
    finish: Mapping[str, Any]


class PendingCleanup:
    """Run ends the store refused (a full disk) and containers the runtime could not remove
    (it was unreachable), retried every ``first_delay`` seconds, doubling up to ``max_delay``,
    until each succeeds or this process ends. A process that ends first leaves them to the
    next start's reconcile, which ends the run and removes its container.
    """

    def __init__(self, *, first_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self._first = first_delay
        self._max = max(first_delay, max_delay)
        self._ends: dict[str, _End] = {}
        self._removals: dict[str, ContainerRuntime] = {}
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._worker: threading.Thread | None = None

    def end_run(self, recorder: ev.RunRecorder, **finish: Any) -> bool:
        """Record run.finished (``RunRecorder.finish`` keywords) now; when the store refuses
        it, keep it for retries and return False; when the run has ended already (another
        process ended it), record nothing and return False. The recorder's record shows the end either
        way."""
        try:
            recorder.finish(**finish)
            return True
        except RunNotActiveError:
            return False  # another process ended it (a sweeper: worker.lost): its end stands
        except RunStoreError:
            recorder.record = recorder.record.evolve(
                status=finish["status"], exit_code=finish.get("exit_code"),
                code=finish.get("code"), detail=finish.get("detail"),
                finished_at=recorder.record.finished_at or recorder.now())
            with self._lock:
                self._ends[recorder.run_id] = _End(recorder=recorder, finish=dict(finish))
            self._ensure_worker()
            return False

    def remove_container(self, runtime: ContainerRuntime, container_id: str) -> FlwdError | None:
        """Remove the container now; when the runtime is unreachable, keep retrying (it still
        runs, or still holds the job's output) and return the error."""
        try:
            runtime.remove(container_id)
            return None
        except RuntimeUnavailableError as exc:
            with self._lock:
                self._removals[container_id] = runtime
            self._ensure_worker()
            return exc

    def unrecorded(self, run_id: str) -> RunRecord | None:
        """The run as it ended, while this process holds an end the store refused."""
        with self._lock:
            end = self._ends.get(run_id)
        return None if end is None else end.recorder.record

    def as_known(self, record: RunRecord) -> RunRecord:
        """*record* as stored, or as it ended when this process holds an end the store refused
        (so that nobody is told a run whose container is gone still runs)."""
        ended = self.unrecorded(record.run_id)
        return record if ended is None or RunStatus(record.status).finished else ended

    def pending(self) -> tuple[str, ...]:
        """Run ids whose end, and container ids whose removal, are still to be done."""
        with self._lock:
            return (*self._ends, *self._removals)

    def retry_now(self) -> int:
        """One attempt at everything pending; how many are still pending after it."""
        with self._lock:
            ends, removals = list(self._ends.items()), list(self._removals.items())
        for run_id, end in ends:
            try:
                end.recorder.finish(**end.finish)
            except RunNotActiveError:
                pass  # ended meanwhile by another process (or this write took, unacknowledged)
            except Exception:  # noqa: BLE001 - still refused: kept for the next attempt
                continue
            with self._lock:
                self._ends.pop(run_id, None)
        for container_id, runtime in removals:
            try:
                runtime.remove(container_id)
            except Exception:  # noqa: BLE001 - still unreachable: kept for the next attempt
                continue
            with self._lock:
                self._removals.pop(container_id, None)
        return len(self.pending())

    def close(self) -> None:
        """Stop retrying (what is still pending is left to the next reconcile)."""
        with self._lock:
            worker, self._worker = self._worker, None
        self._wakeup.set()
        if worker is not None:
            worker.join(timeout=5)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is not None:
                return
            self._wakeup.clear()
            worker = threading.Thread(target=self._retry_loop, daemon=True,
                                      name="flwd-pending-cleanup")
            self._worker = worker
        worker.start()

    def _retry_loop(self) -> None:
        delay = self._first
        while True:
            if self._wakeup.wait(delay):
                return  # closed
            remaining = self.retry_now()
            with self._lock:
                if remaining == 0 and not self._ends and not self._removals:
                    self._worker = None
                    return
            delay = min(delay * 2, self._max)
