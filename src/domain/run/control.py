"""Run control: how a cancel or kill request reaches a run that is executing elsewhere."""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


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


class BackgroundCall(Generic[T]):
    """*work* (a blocking runtime call) in a daemon thread that pokes *control* when it ends,
    so the run's thread can wait on the control for either that or a cancel."""

    def __init__(self, work: Callable[[], T], control: RunControl, name: str) -> None:
        self._outcome: list[T | BaseException] = []

        def run() -> None:
            try:
                self._outcome.append(work())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                self._outcome.append(exc)
            control.poke()

        threading.Thread(target=run, daemon=True, name=name).start()

    @property
    def done(self) -> bool:
        return bool(self._outcome)

    def result(self) -> T:
        """What *work* returned, or raise what it raised; only once ``done``."""
        value = self._outcome[0]
        if isinstance(value, BaseException):
            raise value
        return value
