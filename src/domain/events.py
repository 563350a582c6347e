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

    def publish(self, event: EventRecord) -> None:
        for listener in self._listeners:
            listener(event)
