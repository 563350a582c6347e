"""In-memory fakes of the run store (and of a store that notifies other processes), shipped so
tests run without a database; re-exported by ``flwd.adapters.fakes``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable, Iterable, Mapping, Sequence

from flwd.adapters import _run_codec as codec
from flwd.adapters.fake_sources import FakeSources
from flwd.adapters.fake_workers import FakeWorkerRegistry
from flwd.domain.errors import (
    FlwdError,
    IdempotencyConflictError,
    RunNotFoundError,
    RunStoreError,
)
from flwd.ports.store import EventRecord, RunPage, RunRecord


class FakeRunStore(FakeSources, FakeWorkerRegistry):
    """A ``RunStore`` (and ``WorkerRegistry``) in memory with the SQLite store's semantics
    (seq, paging, errors).

    Failures are configured: ``full`` makes every write fail as on a full disk,
    ``refused_events`` only the writes of those event types (``run.output``...); both raise
    ``RunStoreError`` and store nothing, as SQLite's rollback does.
    """

    def __init__(self, *, full: bool = False, refused_events: Iterable[str] = ()) -> None:
        FakeSources.__init__(self)
        self.runs: dict[str, RunRecord] = {}
        self.event_log: dict[str, list[EventRecord]] = {}
        self.full = full
        self.refused_events: set[str] = set(refused_events)
        self._lock = threading.RLock()
        self._init_registry()

    def _check_writable(self, event_type: str | None) -> None:
        if self.full or (event_type is not None and event_type in self.refused_events):
            raise RunStoreError("fake run store configured to fail: database or disk is full",
                                event=event_type)

    def create(self, run: RunRecord, event_type: str, event_data: Mapping[str, Any]) -> EventRecord:
        self._check_writable(event_type)
        with self._lock:
            stored = codec.normalise(run)
            if run.run_id in self.runs:
                raise FlwdError(f"run {run.run_id} already exists", run_id=run.run_id)
            self._check_idempotency_key(stored)
            event = _event(run.run_id, 1, event_type, run.created_at, event_data)
            self.runs[run.run_id] = stored
            self.event_log[run.run_id] = [event]
            return event

    def append(
        self,
        run_id: str,
        event_type: str,
        event_data: Mapping[str, Any],
        time: str,
        run: RunRecord | None = None,
    ) -> EventRecord:
        codec.check_same_run(run_id, run)
        self._check_writable(event_type)
        with self._lock:
            if run_id not in self.runs:
                raise RunNotFoundError(f"no run with id {run_id}", run_id=run_id)
            codec.check_still_active(run_id, self.runs[run_id].status)
            log = self.event_log[run_id]
            event = _event(run_id, len(log) + 1, event_type, time, event_data)
            if run is not None:
                stored = codec.normalise(run)
                self._check_idempotency_key(stored)
                self.runs[run_id] = stored
            log.append(event)
            return event

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            return self.runs.get(run_id)

    def claim(self, run_id: str, owner: str, claimant: str) -> RunRecord | None:
        self._check_writable(None)
        with self._lock:
            run = self.runs.get(run_id)
            if run is None or run.owner != owner or run.status not in codec.ACTIVE_STATUSES:
                return None
            self.runs[run_id] = claimed = run.evolve(owner=claimant)
            return claimed

    def find_by_idempotency_key(self, key: str) -> RunRecord | None:
        with self._lock:
            return next((r for r in self.runs.values() if r.idempotency_key == key), None)

    def list(
        self,
        job_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        limit = codec.check_limit(limit)
        after = codec.decode_cursor(cursor) if cursor is not None else None
        with self._lock:
            runs = sorted(self.runs.values(), key=_newest_key, reverse=True)
        chosen = [
            r
            for r in runs
            if (job_id is None or r.job_id == job_id)
            and (status is None or r.status == str(status))
            and (after is None or _newest_key(r) < after)
        ]
        page = tuple(chosen[:limit])
        more = len(chosen) > limit
        return RunPage(runs=page, next_cursor=codec.encode_cursor(page[-1]) if more else None)

    def active(self) -> Sequence[RunRecord]:
        with self._lock:
            runs = [r for r in self.runs.values() if r.status in codec.ACTIVE_STATUSES]
        return sorted(runs, key=_newest_key)

    def count_by_status(self) -> Mapping[str, int]:
        with self._lock:
            return dict(Counter(r.status for r in self.runs.values()))

    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> Sequence[EventRecord]:
        with self._lock:
            later = [e for e in self.event_log.get(run_id, []) if e.seq > after_seq]
        return later if limit is None else later[:limit]

    def events_before(self, run_id: str, before_seq: int, limit: int) -> Sequence[EventRecord]:
        with self._lock:
            earlier = [e for e in self.event_log.get(run_id, []) if e.seq < before_seq]
        return earlier[max(0, len(earlier) - limit):]

    def close(self) -> None:
        """Nothing to release; here so the fake has the SQLite store's shape."""

    def _check_idempotency_key(self, run: RunRecord) -> None:
        key = run.idempotency_key
        if key is None:
            return
        owner = self.find_by_idempotency_key(key)
        if owner is not None and owner.run_id != run.run_id:
            raise IdempotencyConflictError(
                "idempotency key already used by another run", run_id=run.run_id
            )


class FakeNotifyingRunStore(FakeRunStore):
    """A ``FakeRunStore`` shared by several processes, as PostgreSQL is: every write that adds
    an event tells the feeds (``RunEventFeed``), as NOTIFY does. ``record_elsewhere`` stands
    for another process's write; ``notifications_lost`` for a reconnect of the listener."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._feeds: list[Callable[[str | None], None]] = []

    def watch_events(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        with self._lock:
            self._feeds.append(listener)

        def unwatch() -> None:
            with self._lock:
                if listener in self._feeds:
                    self._feeds.remove(listener)

        return unwatch

    def create(self, run: RunRecord, event_type: str, event_data: Mapping[str, Any]) -> EventRecord:
        event = super().create(run, event_type, event_data)
        self._tell(run.run_id)
        return event

    def append(self, run_id: str, event_type: str, event_data: Mapping[str, Any], time: str,
               run: RunRecord | None = None) -> EventRecord:
        event = super().append(run_id, event_type, event_data, time, run)
        self._tell(run_id)
        return event

    def record_elsewhere(self, run_id: str, event_type: str, data: Mapping[str, Any],
                         time: str, run: RunRecord | None = None, *,
                         notify: bool = True) -> EventRecord:
        """Store an event as another process would: no in-process listener hears of it, only
        the feeds (none when *notify* is false: a notification lost)."""
        event = FakeRunStore.append(self, run_id, event_type, data, time, run)
        if notify:
            self._tell(run_id)
        return event

    def notifications_lost(self) -> None:
        self._tell(None)

    @property
    def watchers(self) -> int:
        with self._lock:
            return len(self._feeds)

    def _tell(self, run_id: str | None) -> None:
        with self._lock:
            feeds = tuple(self._feeds)
        for feed in feeds:
            feed(run_id)



def _event(
    run_id: str, seq: int, event_type: str, time: str, data: Mapping[str, Any]
) -> EventRecord:
    data = codec.roundtrip(data)
    return EventRecord(run_id=run_id, seq=seq, type=event_type, time=time, data=data)


def _newest_key(run: RunRecord) -> tuple[str, str]:
    return (run.created_at, run.run_id)
