"""Run control: how a cancel or kill request reaches a run that is executing elsewhere."""

from __future__ import annotations

import threading
from typing import Callable


class RunControl:
    """Thread-safe flags an executing run polls: cancel (graceful) and kill (now)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.cancel_requested = False
        self.kill_requested = False

    def cancel(self) -> None:
        with self._changed:
            self.cancel_requested = True
            self._changed.notify_all()

    def kill(self) -> None:
        with self._changed:
            self.cancel_requested = True
            self.kill_requested = True
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Sleep up to *timeout* seconds, waking early when a request arrives."""
        with self._changed:
            self._changed.wait(timeout)

    def wait_for(self, done: Callable[[], bool], timeout: float) -> None:
        """Sleep up to *timeout* seconds, waking early when *done()* holds or a request arrives.

        *done* is checked under the lock ``poke`` takes, so a worker that makes it true and
        then pokes is never missed, as it can be between a check and a plain ``wait``.
        """
        with self._changed:
            self._changed.wait_for(lambda: self.cancel_requested or done(), timeout)

    def poke(self) -> None:
        """Wake a waiting executor (e.g. the container exited)."""
        with self._changed:
            self._changed.notify_all()
