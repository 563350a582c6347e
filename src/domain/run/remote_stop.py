"""A worker hears the cancel and kill requests other processes record for the runs it holds.

A replica (or a CLI) records ``run.cancel.requested`` (``{"kill": true}`` for a kill) in the
shared store; the store's feed (PostgreSQL LISTEN/NOTIFY) wakes this watch, which reads the
new events of the runs this process executes and stops them through the supervisor at once.
(The run's own follow loop also reads such requests every 0.5 s: this makes it immediate.)
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Protocol

from flwd.domain.errors import FlwdError
from flwd.domain.run import events as ev
from flwd.ports.store import RunEventFeed, RunStore


class Stoppable(Protocol):
    """What the watch needs of the supervisor."""

    def cancel(self, run_id: str) -> bool: ...
    def kill(self, run_id: str) -> bool: ...
    def active_ids(self) -> tuple[str, ...]: ...


class RemoteStops:
    """Carries stored stop requests to the runs *runs* holds; ``start``/``stop`` the watch."""

    def __init__(self, *, store: RunStore, feed: RunEventFeed, runs: Stoppable) -> None:
        self._store = store
        self._feed = feed
        self._runs = runs
        self._woken: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._seen: dict[str, int] = {}
        self._unwatch: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._unwatch = self._feed.watch_events(self._woken.put)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="flwd-remote-stops")
        self._thread.start()

    def stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self._woken.put("")  # ends the loop
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            run_id = self._woken.get()
            if run_id == "":
                return
            active = self._runs.active_ids()
            for rid in (active if run_id is None else (run_id,) if run_id in active else ()):
                self.check(rid)
            for gone in set(self._seen) - set(active):
                del self._seen[gone]

    def check(self, run_id: str) -> None:
        """Read *run_id*'s new events; a stop request among them stops it here."""
        try:
            events = self._store.events(run_id, after_seq=self._seen.get(run_id, 0))
        except FlwdError:
            return  # the store is away: the run's own follow loop reads it again later
        for event in events:
            self._seen[run_id] = event.seq
            if event.type == ev.RUN_CANCEL_REQUESTED:
                (self._runs.kill if event.data.get("kill") else self._runs.cancel)(run_id)
