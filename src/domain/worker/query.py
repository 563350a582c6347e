"""Reading the worker registry: the live workers (``GET /workers``, ``flwd :workers``) and
every known one with its heartbeat's age (``/metrics``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from flwd.domain.worker.times import age_seconds, shifted
from flwd.ports.clock import Clock
from flwd.ports.workers import WorkerBeat, WorkerRegistry


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStatus:
    """A worker's last heartbeat, how old it is, and whether that is within worker_timeout."""

    beat: WorkerBeat
    age_seconds: float
    live: bool


class ListWorkers:
    """A worker is live while its last heartbeat is at most *timeout* seconds old."""

    def __init__(self, *, registry: WorkerRegistry, clock: Clock, timeout: float) -> None:
        self._registry = registry
        self._clock = clock
        self._timeout = timeout

    def live(self) -> Sequence[WorkerStatus]:
        """The live workers, by worker id."""
        now = self._clock.now_iso()
        return [self._status(w, now) for w in self._registry.workers(shifted(now, -self._timeout))]

    def known(self) -> Sequence[WorkerStatus]:
        """Every worker the registry still holds (recently silent ones too), by worker id."""
        now = self._clock.now_iso()
        return [self._status(w, now) for w in self._registry.workers()]

    def _status(self, beat: WorkerBeat, now: str) -> WorkerStatus:
        age = age_seconds(beat.last_heartbeat, now)
        return WorkerStatus(beat=beat, age_seconds=age, live=age <= self._timeout)
