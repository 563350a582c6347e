"""In-memory fakes of cluster mode's worker ports: the registry (part of ``FakeRunStore``, as
it is of the SQL stores), the requeue and the queue probe; re-exported by ``flwd.adapters.fakes``."""

from __future__ import annotations

import threading
from typing import Iterable, Mapping, Sequence

from flwd.adapters import _run_codec as codec
from flwd.domain.errors import FlwdError, QueueUnavailableError, RunStoreError
from flwd.ports.store import RunRecord
from flwd.ports.workers import QueueStatus, RunBeat, WorkerBeat


class FakeWorkerRegistry:
    """``WorkerRegistry`` over a ``FakeRunStore``'s ``runs`` (mixed into it): the state is
    ``worker_rows`` and ``run_beats``; a ``full`` store refuses writes as the SQL ones do."""

    runs: dict[str, RunRecord]
    full: bool
    _lock: threading.RLock

    def _init_registry(self) -> None:
        self.worker_rows: dict[str, WorkerBeat] = {}
        self.run_beats: dict[str, RunBeat] = {}
        self.ended_sessions: dict[str, str] = {}  # the console's EndedSessions: id -> until
        self.session_lookups = 0

    # --- EndedSessions (the console's sign-outs live in the store, as in the SQL ones) ----

    def end_session(self, session_id: str, until: str, now: str) -> None:
        self._check_registry_writable()
        with self._lock:
            ended = self.ended_sessions
            for old, old_until in list(ended.items()):
                if old_until < now:
                    del ended[old]
            ended[session_id] = max(until, ended.get(session_id, until))

    def session_ended(self, session_id: str) -> bool:
        with self._lock:
            self.session_lookups += 1
            return session_id in self.ended_sessions

    def _check_registry_writable(self) -> None:
        if self.full:
            raise RunStoreError("fake run store configured to fail: database or disk is full")

    def beat(self, worker: WorkerBeat, runs: Sequence[RunBeat]) -> None:
        self._check_registry_writable()
        workers, beats = self.worker_rows, self.run_beats
        with self._lock:
            workers[worker.worker_id] = worker
            kept = {run.run_id for run in runs}
            for run_id, beat in list(beats.items()):
                if beat.worker_id == worker.worker_id and run_id not in kept:
                    del beats[run_id]
            for run in runs:
                beats[run.run_id] = RunBeat(run_id=run.run_id, worker_id=worker.worker_id,
                                            container_started=run.container_started,
                                            beat_at=run.beat_at)

    def workers(self, since: str | None = None) -> Sequence[WorkerBeat]:
        workers = self.worker_rows
        with self._lock:
            found = [w for w in workers.values() if since is None or w.last_heartbeat >= since]
        return sorted(found, key=lambda w: w.worker_id)

    def runs_of(self, owner: str) -> Sequence[RunRecord]:
        with self._lock:
            runs = [r for r in self.runs.values()
                    if r.owner == owner and r.status in codec.ACTIVE_STATUSES]
        return sorted(runs, key=lambda r: (r.created_at, r.run_id))

    def stale_runs(self, before: str) -> Sequence[RunBeat]:
        workers, beats = self.worker_rows, self.run_beats
        with self._lock:
            found = [b for b in beats.values() if b.beat_at < before]
            found += [RunBeat(run_id=r.run_id, worker_id=r.owner, container_started=False,
                              beat_at=workers[r.owner].last_heartbeat)
                      for r in self.runs.values()
                      if r.owner in workers and workers[r.owner].last_heartbeat < before
                      and r.status in codec.ACTIVE_STATUSES and r.run_id not in beats]
        return sorted(found, key=lambda b: (b.beat_at, b.run_id))

    def claim_lost(self, beat: RunBeat, claimant: str) -> RunRecord | None:
        self._check_registry_writable()
        workers, beats = self.worker_rows, self.run_beats
        with self._lock:
            if beats.get(beat.run_id) == beat:
                del beats[beat.run_id]
            if beat.run_id in beats:
                return None  # a newer heartbeat (or another worker's) names the run
            run = self.runs.get(beat.run_id)
            worker = workers.get(beat.worker_id)
            if (run is None or run.owner != beat.worker_id
                    or run.status not in codec.ACTIVE_STATUSES
                    or (worker is not None and worker.last_heartbeat > beat.beat_at)):
                return None
            self.runs[beat.run_id] = claimed = run.evolve(owner=claimant)
            return claimed

    def remove_worker(self, worker_id: str) -> None:
        self._check_registry_writable()
        workers = self.worker_rows
        with self._lock:
            workers.pop(worker_id, None)

    def prune_workers(self, before: str) -> int:
        self._check_registry_writable()
        workers = self.worker_rows
        with self._lock:
            old = [w.worker_id for w in workers.values() if w.last_heartbeat < before]
            for worker_id in old:
                del workers[worker_id]
        return len(old)


class FakeRunRequeue:
    """``RunRequeue`` that records the runs queued again (``requeued``, in order); with
    ``failure`` set it raises that error instead (coded, or any other, as a broker client
    raises)."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.requeued: list[RunRecord] = []
        self.failure = failure

    def requeue(self, run: RunRecord) -> None:
        if self.failure is not None:
            raise self.failure
        self.requeued.append(run)


class FakeQueueProbe:
    """``QueueProbe`` answering *depths* (queues not listed: None); ``unavailable`` makes it
    raise ``queue.unavailable`` as an unreachable broker does."""

    def __init__(self, depths: Mapping[str, int] | None = None, *, unavailable: bool = False,
                 broker: str = "fake://queue") -> None:
        self.depths = dict(depths or {})
        self.unavailable = unavailable
        self.broker = broker
        self.asked: list[tuple[str, ...]] = []

    def probe(self, queues: Iterable[str]) -> QueueStatus:
        asked = tuple(queues)
        self.asked.append(asked)
        if self.unavailable:
            raise QueueUnavailableError(f"the queue at {self.broker} does not answer",
                                        queue=self.broker)
        return QueueStatus(broker=self.broker, depths={q: self.depths.get(q) for q in asked})
