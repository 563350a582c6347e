"""Run control: how a cancel or kill request reaches a run that is executing elsewhere."""

from __future__ import annotations

import threading


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

    def poke(self) -> None:
        """Wake a waiting executor (e.g. the container exited)."""
        with self._changed:
            self._changed.notify_all()
