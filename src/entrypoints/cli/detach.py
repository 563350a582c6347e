"""``flwd JOB --detach``: a run dispatcher that executes each run in a forked, detached child."""

from __future__ import annotations

import os
from concurrent.futures import Future
from typing import Any, Callable, Iterable

from flwd.ports.dispatch import RunDispatcher
from flwd.ports.events import EventListener
from flwd.ports.store import RunRecord


class DetachingDispatcher:
    """A ``RunDispatcher`` whose runs outlive the CLI: each executes in a child process of its
    own session on the dispatcher ``dispatcher()`` builds there, after ``reset()`` (the
    child never shares the parent's SQLite connection or runtime client), then ``close()``.

    The future holds the run as handed over, at once. A run asked to stop before the hand-over
    is not detached: it ends here, canceled, on the same kind of dispatcher.
    """

    def __init__(self, *, dispatcher: Callable[[], RunDispatcher[Any]], reset: Callable[[], object],
                 close: Callable[[], object]) -> None:
        self._dispatcher = dispatcher
        self._reset = reset
        self._close = close
        self._here: RunDispatcher[Any] | None = None

    def submit(self, queued: Any, listeners: Iterable[EventListener] = (), *,
               canceled: bool = False) -> Future[RunRecord]:
        if canceled:
            self._here = self._dispatcher()
            return self._here.submit(queued, listeners, canceled=True)
        if os.fork() == 0:  # pragma: no cover - the child never returns to the caller
            self._run_in_child(queued)
        handed_over: Future[RunRecord] = Future()
        handed_over.set_result(queued.record)
        return handed_over

    def cancel(self, run_id: str) -> bool:
        return self._here is not None and self._here.cancel(run_id)

    def kill(self, run_id: str) -> bool:
        return self._here is not None and self._here.kill(run_id)

    def _run_in_child(self, queued: Any) -> None:  # pragma: no cover - runs after fork
        from flwd.entrypoints.cli.signals import restore_defaults

        code = 0
        try:
            restore_defaults()
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            self._reset()  # never share a SQLite connection across fork
            self._dispatcher().submit(queued).result()
            self._close()
        except BaseException:  # noqa: BLE001 - a detached child must not unwind into the CLI
            code = 1
        finally:
            os._exit(code)
