"""In-memory fakes of flwd's ports, shipped so tests (ours and users') run without I/O.

They record state rather than calls, fail when configured to, and pass the same contract
checks as the real adapters.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

from flwd.adapters import _run_codec as codec
from flwd.adapters.fs_secrets import check_safe_segment
from flwd.domain.errors import (
    FlwdError,
    IdempotencyConflictError,
    RunNotFoundError,
    RunStoreError,
    RunWorkspaceError,
    SecretMaterialisationError,
)
from flwd.ports.catalog import JobDocument
from flwd.ports.events import EventListener
from flwd.ports.secrets import SecretFile
from flwd.ports.store import EventRecord, RunPage, RunRecord


class FakeJobCatalog:
    """A catalog over ``docs``, a plain list tests may change at any time."""

    def __init__(self, documents: Sequence[JobDocument] = ()) -> None:
        self.docs: list[JobDocument] = list(documents)

    def documents(self) -> Sequence[JobDocument]:
        return tuple(self.docs)


class FakeRunStore:
    """A ``RunStore`` in memory with the SQLite store's semantics (seq, paging, errors).

    Failures are configured: ``full`` makes every write fail as on a full disk,
    ``refused_events`` only the writes of those event types (``run.output``...); both raise
    ``RunStoreError`` and store nothing, as SQLite's rollback does.
    """

    def __init__(self, *, full: bool = False, refused_events: Iterable[str] = ()) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.event_log: dict[str, list[EventRecord]] = {}
        self.full = full
        self.refused_events: set[str] = set(refused_events)
        self._lock = threading.RLock()

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

    def events(self, run_id: str, after_seq: int = 0) -> Sequence[EventRecord]:
        with self._lock:
            return [e for e in self.event_log.get(run_id, []) if e.seq > after_seq]

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


class FakeSecretWriter:
    """A ``SecretWriter`` keeping files in ``files[run_id][name]``; ``fail`` makes it refuse."""

    root = "/fake-secrets"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.files: dict[str, dict[str, bytes]] = {}
        self.owners: dict[str, tuple[int, int] | None] = {}
        self.removed: list[str] = []
        self._lock = threading.Lock()

    def materialise(
        self, run_id: str, files: Sequence[SecretFile], owner: tuple[int, int] | None = None
    ) -> str:
        if self.fail:
            raise SecretMaterialisationError("fake secret writer configured to fail", run_id=run_id)
        check_safe_segment(run_id, "run id")
        written: dict[str, bytes] = {}
        for secret in files:
            check_safe_segment(secret.name, "secret name")
            if secret.name in written:
                raise SecretMaterialisationError(
                    f"secret file {secret.name} given twice", run_id=run_id
                )
            written[secret.name] = bytes(secret.value)
        with self._lock:
            if run_id in self.files:
                raise SecretMaterialisationError(
                    f"secrets directory for run {run_id} already exists", run_id=run_id
                )
            self.files[run_id] = written
            self.owners[run_id] = owner
        return f"{self.root}/{run_id}"

    def remove(self, run_id: str) -> None:
        check_safe_segment(run_id, "run id")
        with self._lock:
            self.files.pop(run_id, None)
            self.owners.pop(run_id, None)
            self.removed.append(run_id)

    def leftovers(self) -> list[str]:
        with self._lock:
            return sorted(self.files)

    def recover(self, run_id: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(v.decode() for v in self.files.get(run_id, {}).values())

    def read(self, directory: str, name: str) -> bytes | None:
        """The value a job would read at ``<directory>/<name>``, or None when absent."""
        run_id = directory.removeprefix(f"{self.root}/")
        with self._lock:
            return self.files.get(run_id, {}).get(name)


class FakeRunWorkspace:
    """A ``RunWorkspace`` in memory: ``created`` maps run ids to the owner they were made
    for; ``unreachable`` lists paths whose ``check_mount_source`` fails, as for a runtime
    user that cannot read them."""

    def __init__(self, root: str = "/fake-runs") -> None:
        self.root = root
        self.created: dict[str, tuple[int, int] | None] = {}
        self.unreachable: set[str] = set()

    def path(self, run_id: str) -> str:
        return f"{self.root}/{run_id}"

    def create(self, run_id: str, owner: tuple[int, int] | None = None) -> str:
        check_safe_segment(run_id, "run id")
        if run_id in self.created:
            raise RunWorkspaceError(f"run directory {self.path(run_id)} exists")
        self.created[run_id] = owner
        return self.path(run_id)

    def check_mount_source(self, path: str, owner: tuple[int, int] | None = None) -> None:
        if path in self.unreachable:
            raise RunWorkspaceError(f"the container runtime cannot reach {path}")


class FakeClock:
    """A ``Clock`` that stands still until ``advance`` moves wall and monotonic time."""

    def __init__(self, start: str = "2026-01-01T00:00:00.000Z") -> None:
        self.current = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(
            timezone.utc
        )
        self.elapsed = 0.0

    def now_iso(self) -> str:
        return self.current.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.elapsed += seconds


class FakeRunIds:
    """An ``IdSource`` giving ``r0001``, ``r0002``...; ``issued`` lists what it gave."""

    def __init__(self, prefix: str = "r") -> None:
        self.prefix = prefix
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def new_run_id(self) -> str:
        with self._lock:
            run_id = f"{self.prefix}{len(self.issued) + 1:04d}"
            self.issued.append(run_id)
            return run_id


class FakeRunDispatcher:
    """A ``RunDispatcher`` that holds what it is handed and runs nothing: ``handed`` lists the
    queued runs in order, ``listeners`` what each was handed with, ``stops`` the stop requests
    (``cancel``/``kill``) by run id; ``finish(record)`` ends a held run's future. Set
    ``refuse`` to an exception to have ``submit`` raise it (a dispatcher that cannot take runs)."""

    def __init__(self) -> None:
        self.refuse: Exception | None = None
        self.handed: list[Any] = []
        self.listeners: dict[str, tuple[EventListener, ...]] = {}
        self.stops: dict[str, list[str]] = {}
        self._ended: dict[str, Future[RunRecord]] = {}

    def submit(self, queued: Any, listeners: Iterable[EventListener] = (), *,
               canceled: bool = False) -> Future[RunRecord]:
        if self.refuse is not None:
            raise self.refuse
        run_id = queued.record.run_id
        self.handed.append(queued)
        self.listeners[run_id] = tuple(listeners)
        self.stops[run_id] = ["cancel"] if canceled else []
        self._ended[run_id] = Future()
        return self._ended[run_id]

    def cancel(self, run_id: str) -> bool:
        return self._stop(run_id, "cancel")

    def kill(self, run_id: str) -> bool:
        return self._stop(run_id, "kill")

    def finish(self, record: RunRecord) -> None:
        self._ended[record.run_id].set_result(record)

    def _stop(self, run_id: str, how: str) -> bool:
        if run_id not in self._ended or self._ended[run_id].done():
            return False
        self.stops[run_id].append(how)
        return True


def _event(
    run_id: str, seq: int, event_type: str, time: str, data: Mapping[str, Any]
) -> EventRecord:
    data = codec.roundtrip(data)
    return EventRecord(run_id=run_id, seq=seq, type=event_type, time=time, data=data)


def _newest_key(run: RunRecord) -> tuple[str, str]:
    return (run.created_at, run.run_id)



# The runtime fake lives in its own module; re-exported so every fake comes from here.
from flwd.adapters.fake_runtime import FakeContainer as FakeContainer  # noqa: E402
from flwd.adapters.fake_runtime import FakeRuntime as FakeRuntime  # noqa: E402
from flwd.adapters.fake_secret_input import FakeSecretInput as FakeSecretInput  # noqa: E402
from flwd.adapters.fake_sealer import FakeSecretSealer as FakeSecretSealer  # noqa: E402
