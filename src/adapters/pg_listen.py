"""Cross-process event wake-ups for the PostgreSQL store: one LISTEN connection per process.

Every write that adds an event sends ``NOTIFY flwd_events, 'RUN_ID SEQ'`` in its own
transaction (delivered at commit). A daemon thread listens on a dedicated connection and
wakes the threads waiting for those runs; a reconnect wakes every waiter, which then reads
the store again (notifications sent while disconnected are lost, the rows are not).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import psycopg

_log = logging.getLogger("flwd.store")
CHANNEL = "flwd_events"
_POLL = 0.5  # how often the listener thread looks at its stop flag


class EventSignal:
    """Waits for new events of a run, woken by notifications from any process."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], *, retry: float = 1.0) -> None:
        self._connect = connect  # an autocommit psycopg connection, opened on the thread
        self._retry = retry
        self._cond = threading.Condition()
        self._latest: dict[str, int] = {}
        self._watching: dict[str, int] = {}  # run id -> number of waiters
        self._generation = 0  # bumped on every (re)connect: notifications may have been lost
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._feeds: list[Callable[[str | None], None]] = []

    def watch(self, listener: Callable[[str | None], None], timeout: float) -> Callable[[], None]:
        """Call *listener* with the run id of every notification (None after a reconnect:
        some may have been lost) until the returned function is called. Waits up to
        *timeout* seconds for the LISTEN to be in place."""
        with self._cond:
            self._feeds.append(listener)

        def unwatch() -> None:
            with self._cond:
                if listener in self._feeds:
                    self._feeds.remove(listener)

        self._ensure_listening(timeout)
        return unwatch

    def wait(self, run_id: str, after_seq: int, timeout: float,
             last_seq: Callable[[], int]) -> bool:
        """True once *run_id* has an event after *after_seq* (``last_seq()`` reads the store),
        False after *timeout* seconds without one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._watching[run_id] = self._watching.get(run_id, 0) + 1
        try:
            self._ensure_listening(timeout)
            while True:
                with self._cond:
                    generation = self._generation
                if last_seq() > after_seq:  # read after LISTEN: no commit slips between
                    return True
                with self._cond:
                    woke = self._cond.wait_for(
                        lambda: self._latest.get(run_id, 0) > after_seq
                        or self._generation != generation,
                        timeout=max(0.0, deadline - time.monotonic()))
                    if woke and self._latest.get(run_id, 0) > after_seq:
                        return True
                if time.monotonic() >= deadline:
                    return last_seq() > after_seq
        finally:
            with self._cond:
                self._watching[run_id] -= 1
                if not self._watching[run_id]:
                    del self._watching[run_id]
                    self._latest.pop(run_id, None)

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=_POLL * 4)

    def _ensure_listening(self, timeout: float) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._listen, name="flwd-pg-listen",
                                                daemon=True)
                self._thread.start()
        self._listening.wait(timeout)  # not listening yet: the waiter's timeout still bounds it

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._connect()
                try:
                    self._serve(conn)
                finally:
                    conn.close()
            except Exception:  # noqa: BLE001 - the server went away: retry, waiters re-read
                self._listening.clear()
                self._wake_all()
                self._stop.wait(self._retry)

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"LISTEN {CHANNEL}")
        self._listening.set()
        self._wake_all()
        while not self._stop.is_set():
            for note in conn.notifies(timeout=_POLL):
                self._note(str(note.payload))

    def _note(self, payload: str) -> None:
        run_id, _, seq = payload.rpartition(" ")
        with self._cond:
            if run_id in self._watching and seq.isdigit():
                self._latest[run_id] = max(self._latest.get(run_id, 0), int(seq))
                self._cond.notify_all()
            feeds = tuple(self._feeds)
        self._call(feeds, run_id)

    def _wake_all(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
            feeds = tuple(self._feeds)
        self._call(feeds, None)

    @staticmethod
    def _call(feeds: tuple[Callable[[str | None], None], ...], run_id: str | None) -> None:
        for feed in feeds:
            try:
                feed(run_id)
            except Exception:  # noqa: BLE001 - one listener's fault must not stop the others
                _log.exception("event listener failed for run %s", run_id)
