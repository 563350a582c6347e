"""A stoppable background loop: one call every interval, in a daemon thread."""

from __future__ import annotations

import threading
from typing import Callable


class Periodic:
    """Calls *step* every *interval* seconds (the first call after one interval) in a daemon
    thread until ``stop()``. A step that raises is retried at the next interval: the loops
    using it (heartbeats, sweeps) must outlive a store or runtime outage. ``stop`` waits for
    the step in flight at most *join_timeout* seconds, so a hung store cannot hold a shutdown."""

    def __init__(self, step: Callable[[], object], interval: float, name: str, *,
                 join_timeout: float = 10.0) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self._step = step
        self._interval = interval
        self._join_timeout = join_timeout
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._join_timeout)

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._step()
            except Exception:  # noqa: BLE001 - an outage: the next interval tries again
                continue
