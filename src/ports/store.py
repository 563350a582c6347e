"""The run store port: durable runs and their ordered events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """A run as stored. Holds no secret value: ``args`` has secrets as ``<secret>``."""

    run_id: str
    job_id: str
    status: str
    profile: str
    created_at: str
    args: Mapping[str, Any] = field(default_factory=dict)
    decisions: tuple[Mapping[str, str], ...] = ()
    runtime: str = ""
    image: str = ""
    container_id: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    code: str | None = None
    detail: str | None = None
    idempotency_key: str | None = None
    request_digest: str | None = None
    owner: str = ""
    # where the job came from: an add-on's {source, kind, ref, digest, addon_version}; {} local
    origin: Mapping[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """``{seq, run_id, type, time, data}``; ``seq`` increases by one per run from 1."""

    run_id: str
    seq: int
    type: str
    time: str
    data: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "run_id": self.run_id,
            "type": self.type,
            "time": self.time,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    runs: tuple[RunRecord, ...]
    next_cursor: str | None


class RunStore(Protocol):
    """Stores runs and events; every write is one transaction."""

    def create(self, run: RunRecord, event_type: str, event_data: Mapping[str, Any]) -> EventRecord:
        """Insert *run* and its first event together. Duplicate run ids are an error."""
        ...

    def append(
        self,
        run_id: str,
        event_type: str,
        event_data: Mapping[str, Any],
        time: str,
        run: RunRecord | None = None,
    ) -> EventRecord:
        """Append the next event (seq assigned here) and, if given, replace the run row,
        atomically. Raises ``RunNotFoundError`` for an unknown run."""
        ...

    def get(self, run_id: str) -> RunRecord | None:
        ...

    def claim(self, run_id: str, owner: str, claimant: str) -> RunRecord | None:
        """Make *claimant* the owner of the run, atomically, if it is still active and still
        owned by *owner*; the run as claimed, or ``None`` when it ended or another process
        claimed it first (so that only one process adopts a run whose owner died)."""
        ...

    def find_by_idempotency_key(self, key: str) -> RunRecord | None:
        ...

    def list(
        self,
        job_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        """Newest first."""
        ...

    def active(self) -> Sequence[RunRecord]:
        """Runs still queued, pulling or running."""
        ...

    def count_by_status(self) -> Mapping[str, int]:
        """How many runs are in each status; statuses without runs are left out (``/metrics``
        asks on every scrape, so a store answers without walking every run)."""
        ...

    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> Sequence[EventRecord]:
        """The events with ``seq > after_seq`` in seq order; at most *limit* of them when given
        (a follower reads a long run a page at a time, never all of it at once)."""
        ...

    def events_before(self, run_id: str, before_seq: int, limit: int) -> Sequence[EventRecord]:
        """The last *limit* events with ``seq < before_seq``, in seq order (a long run's tail,
        or the page before it, without reading every event)."""
        ...


class RunEventWaiter(Protocol):
    """A store that can wake a reader when another process records events (PostgreSQL's
    LISTEN/NOTIFY), so a follower waits instead of polling. Stores of one process only
    (SQLite, the fake) do not offer it: their writers are in the process already."""

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> bool:
        """Block until *run_id* has an event after *after_seq* (True) or *timeout* seconds
        pass (False). Blocking: call it from a worker thread, never on an event loop."""
        ...


@runtime_checkable
class RunEventFeed(Protocol):
    """A store that tells one process when any process records an event (PostgreSQL's
    LISTEN/NOTIFY through one connection per process), so an API replica wakes the streams
    following a run executed elsewhere. Stores of one process only do not offer it."""

    def watch_events(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        """Call *listener* with a run id, from a background thread, whenever an event of that
        run may have been recorded; with None when notifications may have been lost (every
        follower should read again). Returns the function that stops the calls. Never blocks
        on the listener; the listener must not block either."""
        ...

