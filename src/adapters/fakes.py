"""In-memory fakes of flwd's ports, shipped so tests (ours and users') run without I/O.

They record state rather than calls, fail when configured to, and pass the same contract
checks as the real adapters.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from flwd.adapters.fs_secrets import check_safe_segment
from flwd.domain.errors import (
    QueueUnavailableError,
    RunWorkspaceError,
    SecretMaterialisationError,
)
from flwd.ports.catalog import JobDocument
from flwd.ports.events import EventListener
from flwd.ports.secrets import SecretFile
from flwd.ports.store import RunRecord


class FakeJobCatalog:
    """A catalog over ``docs``, a plain list tests may change at any time."""

    def __init__(self, documents: Sequence[JobDocument] = ()) -> None:
        self.docs: list[JobDocument] = list(documents)

    def documents(self) -> Sequence[JobDocument]:
        return tuple(self.docs)


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



class FakeRunQueue:
    """A ``RunQueue`` keeping each message as ``(run_id, sealed)`` in ``messages[queue]``;
    ``deliver`` moves one to ``held`` (taken by a worker, not acknowledged), from where
    ``redeliver`` puts it back (Redis's way); with ``redelivers_itself`` (RabbitMQ's way: the
    broker gives a lost consumer's messages back by itself) ``redeliver`` only answers True.
    ``unavailable`` makes it refuse as a broker that does not answer."""

    def __init__(self, *, unavailable: bool = False, redelivers_itself: bool = False) -> None:
        self.unavailable = unavailable
        self.redelivers_itself = redelivers_itself
        self.messages: dict[str, list[tuple[str, bytes | None]]] = {}
        self.held: dict[str, list[tuple[str, bytes | None]]] = {}

    def enqueue(self, queue: str, run_id: str, sealed: bytes | None) -> None:
        self._check()
        self.messages.setdefault(queue, []).append((run_id, sealed))

    def deliver(self, queue: str) -> tuple[str, bytes | None]:
        """The first message of *queue*, now held unacknowledged by the worker that took it."""
        message = self.messages[queue].pop(0)
        self.held.setdefault(queue, []).append(message)
        return message

    def redeliver(self, run_id: str) -> bool:
        self._check()
        if self.redelivers_itself:
            return True
        found = False
        for queue, held in self.held.items():
            for message in [m for m in held if m[0] == run_id]:
                held.remove(message)
                self.messages.setdefault(queue, []).append(message)
                found = True
        return found

    def _check(self) -> None:
        if self.unavailable:
            raise QueueUnavailableError("the queue at fake:// does not answer (fake)")


# The fakes of the run store, the runtime and more live in their own modules; re-exported so
# every fake comes from here.
from flwd.adapters.fake_store import FakeNotifyingRunStore as FakeNotifyingRunStore  # noqa: E402
from flwd.adapters.fake_store import FakeRunStore as FakeRunStore  # noqa: E402
from flwd.adapters.fake_workers import FakeQueueProbe as FakeQueueProbe  # noqa: E402
from flwd.adapters.fake_workers import FakeRunRequeue as FakeRunRequeue  # noqa: E402
from flwd.adapters.fake_runtime import FakeContainer as FakeContainer  # noqa: E402
from flwd.adapters.fake_runtime import FakeRuntime as FakeRuntime  # noqa: E402
from flwd.adapters.fake_secret_input import FakeSecretInput as FakeSecretInput  # noqa: E402
from flwd.adapters.fake_sealer import FakeSecretSealer as FakeSecretSealer  # noqa: E402
from flwd.adapters.fake_addons import FakeAddonImages as FakeAddonImages  # noqa: E402
