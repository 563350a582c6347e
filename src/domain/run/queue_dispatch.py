"""Cluster mode's ``RunDispatcher``: a recorded run goes onto its job's queue for a worker.

The replica that enqueues a run executes nothing: it seals the run's secrets for the message,
sends the run id, and follows the shared store for the run's end. Cancel reaches the run
wherever it is: still queued, it is ended here (claimed from the queue first, so no worker
can start it); held by a worker, the request is recorded for that worker to carry out.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from typing import Any, Callable, Iterable

from flwd.domain.errors import RunStoreError
from flwd.domain.model import RunStatus
from flwd.domain.run import events as ev
from flwd.domain.run.execution import QueuedRun
from flwd.domain.run.pending import PendingCleanup
from flwd.ports.clock import Clock
from flwd.ports.events import EventListener
from flwd.ports.owner import QUEUED_OWNER
from flwd.ports.queue import RunQueue
from flwd.ports.sealing import SecretSealer
from flwd.ports.store import EventRecord, RunEventWaiter, RunRecord, RunStore

_FOLLOW_WAIT_SECONDS = 5.0  # a store that wakes waiters: the longest wait between reads
_POLL_SECONDS = 0.3  # a store that does not: how often it is read
_STORE_RETRY_SECONDS = 1.0  # the store does not answer: the follower tries again


def sealed_values(queued: QueuedRun) -> dict[str, bytes]:
    """The run's secret argument values, each as JSON (so a worker gets them back with their
    types), for the sealer; empty when the run has none."""
    secret = {spec.name for spec in queued.job.args if spec.secret}
    return {name: json.dumps(value).encode() for name, value in queued.prepared.values.items()
            if name in secret and value is not None}


class QueueDispatcher:
    """Enqueues runs (``RunQueue``) and follows them in the store; holds no container."""

    def __init__(self, *, queue: RunQueue, sealer: SecretSealer, store: RunStore, clock: Clock,
                 owner: str, pending: PendingCleanup, waiter: RunEventWaiter | None = None
                 ) -> None:
        self._queue = queue
        self._pending = pending
        self._sealer = sealer
        self._store = store
        self._clock = clock
        self._owner = owner
        self._waiter = waiter

    def submit(self, queued: QueuedRun, listeners: Iterable[EventListener] = (), *,
               canceled: bool = False) -> Future[RunRecord]:
        """Enqueue *queued* (``queue.unavailable`` when the broker cannot take it;
        ``secret.key.missing`` for a secret run without a key: StartRun then ends it
        ``error``). The future follows the store until ``run.finished``, from its first
        ``result()``, feeding *listeners* each event recorded after the hand-over."""
        run_id = queued.record.run_id
        listeners = tuple(listeners)
        if canceled and self._end_queued(run_id, listeners):
            done: Future[RunRecord] = Future()
            done.set_result(self._store.get(run_id) or queued.record)
            return done
        values = sealed_values(queued)
        sealed = self._sealer.seal(run_id, values) if values else None
        seen = max((e.seq for e in self._store.events(run_id)), default=0)
        self._queue.enqueue(queued.job.queue, run_id, sealed)
        return FollowedRun(lambda: self._follow(run_id, seen, listeners))

    def cancel(self, run_id: str) -> bool:
        """A queued run ends ``canceled`` here and never starts; a run a worker holds gets a
        stored ``run.cancel.requested`` its worker carries out (graceful stop, grace, kill).
        False only for a run the store does not know."""
        return self._stop(run_id, kill=False)

    def kill(self, run_id: str) -> bool:
        return self._stop(run_id, kill=True)

    def _stop(self, run_id: str, *, kill: bool) -> bool:
        if self._end_queued(run_id, ()):
            return True
        record = self._store.get(run_id)
        if record is None:
            return False
        if not RunStatus(record.status).finished:
            self._store.append(run_id, ev.RUN_CANCEL_REQUESTED, {"kill": True} if kill else {},
                               self._clock.now_iso())
        return True

    def _end_queued(self, run_id: str, listeners: tuple[EventListener, ...]) -> bool:
        """End *run_id* ``canceled`` if it still waits in the queue: claimed from the queue in
        one store write, so a worker that receives it afterwards finds it taken."""
        claimed = self._store.claim(run_id, QUEUED_OWNER, self._owner)
        if claimed is None:
            return False
        recorder = ev.RunRecorder(store=self._store, clock=self._clock, record=claimed,
                                  redact=lambda data: data, listeners=listeners)
        try:
            recorder.emit(ev.RUN_CANCELED, {"reason": "canceled while queued"})
        finally:  # claimed, so no worker will end it: its end is retried until the store takes it
            self._pending.end_run(recorder, status=RunStatus.CANCELED.value, duration_ms=0)
        return True

    def _follow(self, run_id: str, seen: int, listeners: tuple[EventListener, ...]) -> RunRecord:
        """Every event after *seen* to *listeners*, until ``run.finished``; the run as ended.
        A store that stops answering is waited for: the run goes on on its worker."""
        while True:
            try:
                events: Iterable[EventRecord] = self._store.events(run_id, after_seq=seen)
            except RunStoreError:
                self._clock_sleep(_STORE_RETRY_SECONDS)
                continue
            for event in events:
                seen = event.seq
                for listener in listeners:
                    listener(event)
                if event.type == ev.RUN_FINISHED:
                    return self._ended(run_id)
            self._wait(run_id, seen)

    def _ended(self, run_id: str) -> RunRecord:
        while True:
            try:
                record = self._store.get(run_id)
            except RunStoreError:
                self._clock_sleep(_STORE_RETRY_SECONDS)
                continue
            if record is None:
                raise RunStoreError(f"run {run_id} vanished from the store", run_id=run_id)
            return record

    def _wait(self, run_id: str, seen: int) -> None:
        if self._waiter is not None:
            self._waiter.wait_for_events(run_id, seen, _FOLLOW_WAIT_SECONDS)
        else:
            self._clock_sleep(_POLL_SECONDS)

    @staticmethod
    def _clock_sleep(seconds: float) -> None:
        threading.Event().wait(seconds)


class FollowedRun(Future[RunRecord]):
    """A future that starts following its run (a daemon thread) only when first asked for
    its result: an API replica that never waits for its runs keeps no thread per run."""

    def __init__(self, follow: Callable[[], RunRecord]) -> None:
        super().__init__()
        self._follow: Callable[[], RunRecord] | None = follow
        self._start_lock = threading.Lock()

    def result(self, timeout: float | None = None) -> RunRecord:
        self._start()
        return super().result(timeout)

    def add_done_callback(self, fn: Callable[[Future[RunRecord]], Any]) -> None:
        self._start()
        super().add_done_callback(fn)

    def _start(self) -> None:
        with self._start_lock:
            follow, self._follow = self._follow, None
        if follow is None:
            return

        def run() -> None:
            try:
                self.set_result(follow())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                self.set_exception(exc)

        threading.Thread(target=run, daemon=True, name="flwd-follow").start()
