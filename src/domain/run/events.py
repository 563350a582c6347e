"""Event types of a run and the recorder that stores them and tells listeners."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from flwd.ports.clock import Clock
from flwd.ports.events import EventListener
from flwd.ports.store import EventRecord, RunRecord, RunStore

RUN_CREATED = "run.created"
POLICY_DECISION = "policy.decision"
IMAGE_PULL = "image.pull"
RUN_STARTED = "run.started"
RUN_OUTPUT = "run.output"
RUN_CANCEL_REQUESTED = "run.cancel.requested"
RUN_CANCELED = "run.canceled"
RUN_TIMED_OUT = "run.timed_out"
RUN_FINISHED = "run.finished"
# cluster mode: the run's worker was lost before its container started; queued again once
RUN_REQUEUED = "run.requeued"
SOURCE_REPINNED = "source.repinned"  # an on-run add-on's tag moved: {source, ref, old_digest, new_digest}


class RunRecorder:
    """Appends a run's events (redacted) and its state changes in one store write each."""

    def __init__(
        self,
        *,
        store: RunStore,
        clock: Clock,
        record: RunRecord,
        redact: Callable[[Any], Any],
        listeners: Iterable[EventListener] = (),
    ) -> None:
        self._store = store
        self._clock = clock
        self._redact = redact
        self._listeners = tuple(listeners)
        self.record = record

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def now(self) -> str:
        return self._clock.now_iso()

    def emit(self, event_type: str, data: Mapping[str, Any], **changes: Any) -> EventRecord:
        """Store one event, with the run row's *changes* in the same transaction."""
        if changes:
            self.record = self.record.evolve(**changes)
        event = self._store.append(
            self.run_id,
            event_type,
            self._redact(dict(data)),
            self._clock.now_iso(),
            run=self.record if changes else None,
        )
        self.publish(event)
        return event

    def finish(self, status: str, *, exit_code: int | None = None, duration_ms: int = 0,
               code: str | None = None, detail: str | None = None) -> EventRecord:
        """Record run.finished, the run's last event: its status, exit code and duration, and
        ``code``/``detail`` when it ended on an error (SPEC section 6)."""
        data: dict[str, object] = {"status": status, "exit_code": exit_code,
                                   "duration_ms": duration_ms}
        if code:
            data.update(code=code, detail=detail)
        return self.emit(RUN_FINISHED, data, status=status, exit_code=exit_code,
                         finished_at=self.now(), code=code, detail=detail)

    def publish(self, event: EventRecord) -> None:
        for listener in self._listeners:
            listener(event)
