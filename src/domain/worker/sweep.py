"""The lost-run sweep: runs whose worker stopped heartbeating end ``worker.lost``, or are
queued again once when no container of theirs had started."""

from __future__ import annotations

from dataclasses import dataclass, field

from flwd.domain.errors import FlwdError, QueueUnavailableError, RunStoreError, WorkerLostError
from flwd.domain.model import RunStatus
from flwd.domain.run import events as ev
from flwd.domain.run.pending import PendingCleanup
from flwd.domain.worker.times import shifted
from flwd.ports.clock import Clock
from flwd.ports.store import RunRecord, RunStore
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.workers import RunBeat, RunRequeue, WorkerRegistry

# A worker silent this many worker_timeouts is forgotten (GET /workers lists only live ones;
# /metrics shows the age of the recently silent ones, so an alert can fire first).
FORGET_AFTER_TIMEOUTS = 10


@dataclass(slots=True)
class SweepReport:
    lost: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # requeue refused: ended with its code


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepLostRuns:
    """Every run heartbeat older than *timeout* seconds is claimed (``claim_lost``: exactly
    one sweeper of all replicas and workers wins each) and its run ended or requeued:

    - a cancel had been asked for it: ``canceled`` (it never gets a container again);
    - its container had started, or it was queued again once already: ``error`` with
      ``worker.lost`` (the container, on the lost host, is removed by that worker when it
      comes back);
    - otherwise: back to ``queued`` with a ``run.requeued`` event, and handed to *requeue*;
      when that fails, ``error`` with the failure's code.
    """

    registry: WorkerRegistry
    store: RunStore
    clock: Clock
    claimant: str
    timeout: float
    requeue: RunRequeue
    pending: PendingCleanup

    def __call__(self) -> SweepReport:
        report = SweepReport()
        now = self.clock.now_iso()
        for beat in self.registry.stale_runs(shifted(now, -self.timeout)):
            run = self.registry.claim_lost(beat, self.claimant)
            if run is not None:
                getattr(report, self._settle(run, beat)).append(run.run_id)
        self.registry.prune_workers(shifted(now, -FORGET_AFTER_TIMEOUTS * self.timeout))
        return report

    def _settle(self, run: RunRecord, beat: RunBeat) -> str:
        recorder = ev.RunRecorder(store=self.store, clock=self.clock, record=run,
                                  redact=lambda data: data)  # no argument values here
        events = {e.type for e in self.store.events(run.run_id)}
        if ev.RUN_CANCEL_REQUESTED in events:
            self.pending.end_run(recorder, status=RunStatus.CANCELED.value)
            return "canceled"
        started = beat.container_started or run.status == RunStatus.RUNNING.value
        if started or ev.RUN_REQUEUED in events:
            lost = WorkerLostError(
                f"worker {beat.worker_id} stopped heartbeating (last at {beat.beat_at}, "
                f"worker_timeout {self.timeout:g}s)"
                + ("" if started else "; the run had already been queued again once"),
                worker=beat.worker_id)
            self.pending.end_run(recorder, status=RunStatus.ERROR.value, code=lost.code,
                                  detail=lost.detail)
            return "lost"
        return self._queue_again(recorder, beat)

    def _queue_again(self, recorder: ev.RunRecorder, beat: RunBeat) -> str:
        try:
            recorder.emit(ev.RUN_REQUEUED, {"worker": beat.worker_id,
                                            "last_heartbeat": beat.beat_at},
                          status=RunStatus.QUEUED.value, owner=QUEUED_OWNER)
        except RunStoreError as exc:
            self.pending.end_run(recorder, status=RunStatus.ERROR.value, code=exc.code,
                                  detail=exc.detail)
            return "failed"
        try:
            self.requeue.requeue(recorder.record)
        except Exception as exc:  # noqa: BLE001 - queued with no message: it must end here
            self._not_queued(recorder, exc)
            return "failed"
        return "requeued"

    def _not_queued(self, recorder: ev.RunRecorder, exc: Exception) -> None:
        """The run is recorded queued, but no message will bring it to a worker: it ends
        ``error`` with the failure's code; an uncoded failure (a broker client's own error)
        is ``queue.unavailable``, never a run left queued for ever."""
        if isinstance(exc, FlwdError):
            code, reason = exc.code, exc.detail
        else:
            code, reason = QueueUnavailableError.code, f"{type(exc).__name__}: {exc}"
        detail = reason if isinstance(exc, WorkerLostError) else (
            f"its worker was lost and it could not be queued again: {reason}")
        self.pending.end_run(recorder, status=RunStatus.ERROR.value, code=code, detail=detail)
