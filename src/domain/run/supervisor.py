"""Runs queued runs on a bounded pool of worker threads and routes cancel requests to them."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable

from flwd.domain.run.control import RunControl
from flwd.domain.run.execution import QueuedRun
from flwd.ports.events import EventListener
from flwd.ports.store import RunRecord

Execute = Callable[[QueuedRun, RunControl, Iterable[EventListener]], RunRecord]


class RunSupervisor:
    """At most ``max_concurrent`` runs execute at once; the rest wait ``queued``.

    The blocking runtime clients run in these threads, never on an event loop.
    """

    def __init__(self, *, execute: Execute, max_concurrent: int = 4) -> None:
        self._execute = execute
        self._max = max(1, max_concurrent)
        self._pool: ThreadPoolExecutor | None = None
        self._controls: dict[str, RunControl] = {}
        self._waiting: dict[str, tuple[QueuedRun, tuple[EventListener, ...]]] = {}
        self._ended_early: dict[str, Future[RunRecord]] = {}
        self._lock = threading.Lock()

    def submit(self, queued: QueuedRun, listeners: Iterable[EventListener] = (), *,
               canceled: bool = False) -> Future[RunRecord]:
        """The ``RunDispatcher`` of single-host flwd: run *queued* on a worker thread."""
        control = self.control_for(queued.record.run_id)
        if canceled:  # asked to stop before it was handed over: it ends without starting
            control.cancel()
        with self._lock:
            self._waiting[queued.record.run_id] = (queued, tuple(listeners))
        return self._ensure_pool().submit(self._run, queued, control, tuple(listeners))

    def _ensure_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max, thread_name_prefix="flwd-run")
            return self._pool

    def adopt(self, run_id: str, work: Callable[[RunControl], RunRecord]) -> Future[RunRecord]:
        """Run *work* (e.g. a reattached run) on the pool, cancellable like any run."""
        control = self.control_for(run_id)

        def adopted() -> RunRecord:
            try:
                return work(control)
            finally:
                with self._lock:
                    self._controls.pop(run_id, None)

        return self._ensure_pool().submit(adopted)

    def run_here(self, queued: QueuedRun, listeners: Iterable[EventListener] = ()) -> RunRecord:
        """Execute in the calling thread (the CLI), still cancellable through ``cancel``."""
        return self._run(queued, self.control_for(queued.record.run_id), tuple(listeners))

    def control_for(self, run_id: str) -> RunControl:
        with self._lock:
            return self._controls.setdefault(run_id, RunControl())

    def _run(self, queued: QueuedRun, control: RunControl,
             listeners: tuple[EventListener, ...]) -> RunRecord:
        with self._lock:
            self._waiting.pop(queued.record.run_id, None)
            early = self._ended_early.pop(queued.record.run_id, None)
        if early is not None:
            return early.result()  # canceled while it waited for a worker: already ended
        try:
            return self._execute(queued, control, listeners)
        finally:
            with self._lock:
                self._controls.pop(queued.record.run_id, None)

    def cancel(self, run_id: str) -> bool:
        """Ask the run to stop gracefully; False when this process does not hold it.

        A run still waiting for a worker is ended ``canceled`` at once, in this thread,
        instead of when a slot frees up (which may be hours later).
        """
        return self._stop(run_id, kill=False)

    def kill(self, run_id: str) -> bool:
        return self._stop(run_id, kill=True)

    def _stop(self, run_id: str, *, kill: bool) -> bool:
        with self._lock:
            control = self._controls.get(run_id)
            waiting = self._waiting.pop(run_id, None) if control is not None else None
            early: Future[RunRecord] = Future()
            if waiting is not None:
                self._ended_early[run_id] = early
        if control is None:
            return False
        (control.kill if kill else control.cancel)()
        if waiting is not None:
            self._end_waiting(run_id, waiting, control, early)
        return True

    def _end_waiting(self, run_id: str, waiting: tuple[QueuedRun, tuple[EventListener, ...]],
                     control: RunControl, early: Future[RunRecord]) -> None:
        queued, listeners = waiting
        try:
            early.set_result(self._execute(queued, control, listeners))
        except BaseException as exc:  # noqa: BLE001 - handed to the worker that picks it up
            early.set_exception(exc)
        with self._lock:
            self._controls.pop(run_id, None)

    def active_ids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._controls)

    def shutdown(self, *, cancel: bool = True, wait: bool = True) -> None:
        """Cancel what is running (it still cleans up) and wait for the workers."""
        if cancel:
            with self._lock:
                controls = list(self._controls.values())
            for control in controls:
                control.cancel()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=False)
